#!/usr/bin/env bats
# exec, pause/resume, update and events, called as orchestrators call them.

load helpers

setup() {
	common_setup
	args sleep 1000
	brisk run -d c1
}
teardown() { common_teardown; }

@test "exec: exit status, namespaces and cgroup of the container" {
	run brisk exec c1 sh -c 'echo out; echo err >&2; exit 42'
	[ "$status" -eq 42 ]
	[[ "$output" == *out* && "$output" == *err* ]]
	pid=$(state_field c1 pid)
	# every namespace is the init's
	run brisk exec c1 sh -c 'cat /proc/1/cmdline; echo; ls /proc | grep -c "^[0-9]"'
	[ "${lines[0]}" = sleep1000 ]
	brisk exec -d --pid-file "$TEST_DIR/e.pid" c1 sleep 100 >/dev/null 2>&1
	epid=$(cat "$TEST_DIR/e.pid")
	[[ "$(cat "$TEST_DIR/e.pid"; echo x)" =~ ^[0-9]+x$ ]]
	for ns in mnt pid net ipc uts; do
		[ "$(readlink /proc/$epid/ns/$ns)" = "$(readlink /proc/$pid/ns/$ns)" ]
	done
	# and its cgroup, in every hierarchy
	diff <(cat /proc/$pid/cgroup) <(cat /proc/$epid/cgroup)
	run brisk ps --format json c1
	[ "$(echo "$output" | jq length)" -eq 2 ]
	[ "$(echo "$output" | jq "index($epid)")" != null ]
}

@test "exec: --process file as containerd writes it" {
	cat >"$TEST_DIR/process.json" <<-'EOF'
		{"terminal": false, "user": {"uid": 1000, "gid": 1001, "additionalGids": [7]},
		 "args": ["sh", "-c", "id -u; id -g; id -G; pwd; echo $FOO; grep CapEff /proc/self/status"],
		 "env": ["PATH=/bin", "FOO=bar"], "cwd": "/tmp",
		 "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
		                  "permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL"],
		                  "ambient": ["CAP_KILL"]},
		 "noNewPrivileges": true}
	EOF
	run brisk exec --process "$TEST_DIR/process.json" c1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1000 ]
	[ "${lines[1]}" = 1001 ]
	[ "${lines[2]}" = "1001 7" ]
	[ "${lines[3]}" = /tmp ]
	[ "${lines[4]}" = bar ]
	# CAP_KILL is bit 5 (ambient: a non-root user keeps it across execve)
	[[ "${lines[5]}" == *0000000000000020 ]]
	brisk exec -d --process "$TEST_DIR/process.json" --pid-file "$TEST_DIR/p" c1 >/dev/null
	[ -s "$TEST_DIR/p" ]
}

@test "exec: --user, --env, --cwd, --cap, --additional-gids, --no-new-privs" {
	run brisk exec --user 1000:1000 --env A=b --cwd /tmp --cap CAP_SYS_ADMIN \
		--additional-gids 5 --no-new-privs c1 \
		sh -c 'id -u; echo $A; pwd; grep -E "CapEff|NoNewPrivs" /proc/self/status; id -G'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1000 ]
	[ "${lines[1]}" = b ]
	[ "${lines[2]}" = /tmp ]
	# CAP_SYS_ADMIN (bit 21) is not in the inheritable nor the ambient set
	# (CVE-2022-29162): uid 1000 does not keep it across its exec
	[ $((0x$(echo "${lines[3]}" | awk '{print $2}') & (1 << 21))) -eq 0 ]
	[[ "${lines[4]}" == *1 ]]
	[ "${lines[5]}" = "1000 5" ]
}

@test "exec: --cap adds to bounding, effective and permitted only, never inheritable or ambient" {
	config '.process.capabilities = {"bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]}'
	args sleep 100
	brisk run -d c2 </dev/null >/dev/null 2>&1
	run brisk exec --cap CAP_NET_ADMIN c2 grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status
	echo "$output"
	[ "$status" -eq 0 ]
	local f bit=$((1 << 12))
	for f in CapPrm CapEff CapBnd; do
		[ $((0x$(echo "$output" | awk -v f="$f:" '$1 == f {print $2}') & bit)) -ne 0 ]
	done
	for f in CapInh CapAmb; do
		[ $((0x$(echo "$output" | awk -v f="$f:" '$1 == f {print $2}') & bit)) -eq 0 ] ||
			{ echo "VULNERABLE: exec --cap raised $f"; return 1; }
	done
	brisk delete --force c2
}

@test "exec: the container's seccomp filter applies" {
	brisk delete -f c1
	config '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}'
	brisk run -d c1
	run brisk exec c1 mkdir /tmp/x
	[ "$status" -ne 0 ]
	[[ "$output" == *"not permitted"* ]]
}

@test "exec: --tty relays stdio; with --console-socket the master goes there" {
	run brisk exec -t c1 sh -c 'tty; exit 3' </dev/null
	[ "$status" -eq 3 ]
	[[ "$output" == */dev/pts/* ]]
	sock=$TEST_DIR/console.sock
	"$BUILD_ROOT/tests/integration/recvtty" "$sock" >"$TEST_DIR/tty.out" &
	rpid=$!
	for i in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
	brisk exec -t -d --console-socket "$sock" c1 sh -c 'tty; echo term-ok'
	wait $rpid
	grep -q 'term-ok' "$TEST_DIR/tty.out"
	run brisk exec -t -d c1 true
	[ "$status" -ne 0 ]
	[[ "$output" == *console-socket* ]]
}

@test "exec: errors name the cause; a stopped container refuses" {
	run brisk exec c1 /nonexistent
	[ "$status" -ne 0 ]
	[[ "$output" == *"exec 'c1'"*"/nonexistent"* ]]
	run brisk exec nosuch true
	[[ "$output" == *"does not exist"* ]]
	brisk kill c1 KILL
	wait_status c1 stopped
	run brisk exec c1 true
	[ "$status" -ne 0 ]
	[[ "$output" == *stopped* ]]
}

@test "exec: --preserve-fds passes fds 3.. to the process" {
	run brisk exec --preserve-fds 1 c1 sh -c 'cat <&3' 3<<<"from-fd-3"
	[ "$status" -eq 0 ]
	[ "$output" = from-fd-3 ]
}

@test "pause and resume freeze the container; exec waits for --ignore-paused" {
	brisk pause c1
	[ "$(state_field c1 status)" = paused ]
	run brisk exec c1 true
	[ "$status" -ne 0 ]
	[[ "$output" == *paused* ]]
	run brisk pause c1
	[ "$status" -ne 0 ]
	brisk resume c1
	[ "$(state_field c1 status)" = running ]
	run brisk resume c1
	[ "$status" -ne 0 ]
	[[ "$output" == *"not paused"* ]]
	brisk delete -f c1
	assert_no_leaks c1
}

@test "update: flags and --resources -, kept in the state" {
	brisk update --memory 64m --pids-limit 77 --cpu-shares 512 c1
	mem=$(grep -E ':memory:' /proc/$(state_field c1 pid)/cgroup | cut -d: -f3)
	[ "$(cat /sys/fs/cgroup/memory$mem/memory.limit_in_bytes)" = 67108864 ]
	pids=$(grep -E ':pids:' /proc/$(state_field c1 pid)/cgroup | cut -d: -f3)
	[ "$(cat /sys/fs/cgroup/pids$pids/pids.max)" = 77 ]
	echo '{"memory": {"limit": 134217728}, "pids": {"limit": 88}}' | brisk update -r - c1
	[ "$(cat /sys/fs/cgroup/memory$mem/memory.limit_in_bytes)" = 134217728 ]
	jq -e '.cgroup' "$STATE_ROOT/c1/state.json" >/dev/null
	grep -q 134217728 "$STATE_ROOT/c1/state.json"
	run brisk update --memory lots c1
	[ "$status" -ne 0 ]
	[[ "$output" == *"--memory"* ]]
}

@test "events: --stats prints one stats event; the stream ends with the container" {
	run brisk events --stats c1
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq -r .type)" = stats ]
	[ "$(echo "$output" | jq -r .id)" = c1 ]
	echo "$output" | jq -e '.data.cpu.usage.total > 0 and .data.pids.current >= 1' >/dev/null
	brisk events --interval 100ms c1 >"$TEST_DIR/events" &
	epid=$!
	sleep 0.5
	brisk kill c1 KILL
	wait $epid
	[ "$(grep -c '"type":"stats"' "$TEST_DIR/events")" -ge 2 ]
}

@test "events: an OOM kill in the container is reported" {
	brisk delete -f c1
	config '.linux.resources.memory = {"limit": 16777216, "swap": 16777216}'
	args sh -c 'sleep 1; x=$(head -c 64000000 /dev/zero | tr "\0" a); sleep 100'
	brisk run -d c1
	timeout 20 "$BRISK" --root "$STATE_ROOT" events --interval 1s c1 >"$TEST_DIR/events" || true
	grep '"type":"oom"' "$TEST_DIR/events"
}

@test "exec: joins a user namespace and a time namespace" {
	brisk delete -f c1
	config '.linux.namespaces += [{"type": "user"}, {"type": "time"}] | .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}] | .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}] | .linux.timeOffsets = {"boottime": {"secs": 86400, "nanosecs": 0}}'
	chown -R 100000:100000 "$BUNDLE/rootfs"
	brisk run -d c1
	run brisk exec -u 1000 c1 sh -c 'cat /proc/self/uid_map; id -u; cut -d. -f1 /proc/uptime'
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^\ +0\ +100000\ +65536$ ]]
	[ "${lines[1]}" = 1000 ]
	[ "${lines[2]}" -ge 86400 ]
}

@test "exec: the seccomp listener goes to listenerPath on the host, with the exec's pid" {
	local sock=$TEST_DIR/agent.sock
	python3 - "$sock" >"$TEST_DIR/agent.out" <<'PY' &
import array, json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(2)
s.settimeout(60)
keep = []
for _ in range(2):
    c, _ = s.accept()
    msg, anc, flags, addr = c.recvmsg(65536, socket.CMSG_SPACE(4))
    fds = array.array("i")
    for level, typ, data in anc:
        fds.frombytes(data[:4])
    keep.append(c)
    print(len(fds), json.loads(msg.decode())["pid"], flush=True)
PY
	local apid=$! i
	for i in $(seq 300); do [ -S "$sock" ] && break; sleep 0.1; done
	config ".linux.seccomp = {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"$sock\", \"syscalls\": [{\"names\": [\"getpgid\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}"
	args sleep 100
	brisk run -d c2 </dev/null >/dev/null 2>&1
	run brisk exec --pid-file "$TEST_DIR/exec.pid" c2 true
	echo "exec: $status $output"
	[ "$status" -eq 0 ]
	wait $apid
	cat "$TEST_DIR/agent.out"
	[ "$(sed -n 2p "$TEST_DIR/agent.out")" = "1 $(cat "$TEST_DIR/exec.pid")" ]
	brisk delete --force c2
}
