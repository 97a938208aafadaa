#!/usr/bin/env bats
# Drop-in conformance: what a workload or a tool can tell apart from runc, with runc's
# behaviour (checked against runc on the same bundle) as the expectation.

load helpers

setup() {
	common_setup
	PFX=cf$$x
}
teardown() { common_teardown; }

@test "HOME comes from the container's /etc/passwd when the env has none, else /" {
	config '.process.env = ["PATH=/bin", "HOME="]'
	args sh -c 'echo "home=$HOME"'
	run brisk run "${PFX}a"
	echo "$output"
	[ "$output" = "home=/root" ]
	# a user the image does not know
	config '.process.user = {"uid": 1000, "gid": 1000}'
	run brisk run "${PFX}b"
	[ "$output" = "home=/" ]
	# one the env sets is kept
	config '.process.user = {"uid": 0, "gid": 0} | .process.env = ["PATH=/bin", "HOME=/x"]'
	run brisk run "${PFX}c"
	[ "$output" = "home=/x" ]
	# exec, --user included
	config '.process.env = ["PATH=/bin"]'
	echo "u1:x:1001:1001::/home/u1:/bin/sh" >>"$BUNDLE/rootfs/etc/passwd"
	args sleep 100
	brisk run -d "${PFX}d" </dev/null >/dev/null 2>&1
	run brisk exec "${PFX}d" sh -c 'echo "home=$HOME"'
	[ "$output" = "home=/root" ]
	run brisk exec --user 1001 "${PFX}d" sh -c 'echo "home=$HOME"'
	[ "$output" = "home=/home/u1" ]
	brisk delete --force "${PFX}d"
}

@test "the loopback interface of a new network namespace is up" {
	args cat /sys/class/net/lo/flags
	run brisk run "${PFX}a"
	echo "$output"
	# IFF_UP | IFF_LOOPBACK (0x9), as runc gives it
	[ "$output" = 0x9 ]
}

@test "stdio is handed to the container's user, /dev/null is left alone" {
	config '.process.user = {"uid": 1000, "gid": 1000}'
	args sh -c 'stat -L -c %u /proc/self/fd/1; stat -L -c %u /proc/self/fd/0'
	run brisk run "${PFX}a" </dev/null
	echo "$output"
	[ "${lines[0]}" = 1000 ]
	[ "${lines[1]}" = 0 ]
}

@test "start returns once the exec fifo closes at the program's execve, not before" {
	command -v strace >/dev/null || skip "strace is not installed"
	args sleep 100
	brisk create "${PFX}a" </dev/null >/dev/null 2>&1
	local pid fifo fd i
	pid=$(state_field "${PFX}a" pid)
	for fd in /proc/$pid/fd/*; do
		[ "$(readlink "$fd")" = "$STATE_ROOT/${PFX}a/exec.fifo" ] && fifo=${fd##*/}
	done
	[ -n "$fifo" ]
	strace -qq -p "$pid" -e trace=close,close_range,execve,execveat -o "$TEST_DIR/trace" &
	local spid=$!
	for i in $(seq 100); do
		[ "$(awk '/^TracerPid/ {print $2}' /proc/$pid/status)" != 0 ] && break
		sleep 0.05
	done
	brisk start "${PFX}a"
	for i in $(seq 100); do
		[ "$(readlink /proc/$pid/exe)" = /bin/busybox ] && break
		sleep 0.05
	done
	kill "$spid"
	wait "$spid" || true
	cat "$TEST_DIR/trace"
	# before the exec: no close of the fifo, no close_range that closes it
	sed '/exec/,$d' "$TEST_DIR/trace" >"$TEST_DIR/before"
	if grep -E "^close\($fifo\)|^close_range\([0-9]+, [0-9]+, 0\)" "$TEST_DIR/before"; then
		echo "the exec fifo closed before the program's execve"
		return 1
	fi
	grep -q exec "$TEST_DIR/trace"
}

@test "a foreground run with a terminal gives the program's newlines as they are" {
	config '.process.terminal = true'
	args sh -c 'printf "a\nb\n"'
	brisk run "${PFX}a" </dev/null >"$TEST_DIR/out"
	od -c "$TEST_DIR/out"
	[ "$(od -An -c "$TEST_DIR/out" | tr -d ' \n')" = 'a\nb\n' ]
}

@test "exec: the runtime's own failure exits 255, as runc's" {
	args sleep 100
	brisk run -d "${PFX}a" </dev/null >/dev/null 2>&1
	run brisk exec "${PFX}a" /no/such/program
	[ "$status" -eq 255 ]
	run brisk exec --pid-file "$TEST_DIR/no/such/dir/pid" "${PFX}a" true
	[ "$status" -eq 255 ]
	# the program's own status is passed on
	run brisk exec "${PFX}a" sh -c 'exit 7'
	[ "$status" -eq 7 ]
	brisk pause "${PFX}a"
	run brisk exec "${PFX}a" true
	[ "$status" -eq 255 ]
	[[ "$output" == *paused* ]]
	brisk resume "${PFX}a"
	brisk delete --force "${PFX}a"
}

@test "kill ID 0 tells whether the init is there; list is sorted by id" {
	args sleep 100
	local id
	for id in c b a; do
		brisk run -d "${PFX}$id" </dev/null >/dev/null 2>&1
	done
	brisk kill "${PFX}b" 0
	run brisk list -q
	echo "$output"
	[ "$output" = "$(printf '%s\n' "${PFX}a" "${PFX}b" "${PFX}c")" ]
	run brisk list --format json
	[ "$(echo "$output" | jq -r '.[].id' | tr '\n' ' ')" = "${PFX}a ${PFX}b ${PFX}c " ]
	brisk kill "${PFX}b" KILL
	for id in $(seq 50); do
		[ "$(state_field "${PFX}b" status)" = stopped ] && break
		sleep 0.1
	done
	run brisk kill "${PFX}b" 0
	[ "$status" -ne 0 ]
	for id in a b c; do brisk delete --force "${PFX}$id"; done
}

@test "sysctl: kernel.hostname is refused, kernel.domainname must agree with domainname" {
	args true
	config '.hostname = "h1" | .linux.sysctl = {"kernel.hostname": "h2"}'
	run brisk run "${PFX}a"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"sysctl 'kernel.hostname' is not allowed"* ]]
	config 'del(.hostname) | .linux.sysctl = {"kernel.hostname": "h2"}'
	run brisk run "${PFX}b"
	[ "$status" -ne 0 ]
	config '.domainname = "a.b" | .linux.sysctl = {"kernel.domainname": "c.d"}'
	run brisk run "${PFX}c"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"conflicts with the domainname field 'a.b'"* ]]
	config '.domainname = "a.b" | .linux.sysctl = {"kernel.domainname": "a.b"}'
	args cat /proc/sys/kernel/domainname
	run brisk run "${PFX}d"
	[ "$status" -eq 0 ]
	[ "$output" = a.b ]
	assert_no_leaks "${PFX}a"
}

@test "--version lists the libraries and the optional features built in" {
	run "$BRISK" --version
	echo "$output"
	[[ "${lines[0]}" == "brisk version "* ]]
	[[ "$output" == *"spec: 1."* ]]
	[[ "$output" =~ libseccomp:\ [0-9]+\.[0-9]+\.[0-9]+ ]]
	[[ "$output" =~ [+-]GPU ]]
	[[ "$output" == *"+SECCOMP"* ]]
}

@test "update takes its flags after the id too" {
	args sleep 100
	brisk run -d "${PFX}a" </dev/null >/dev/null 2>&1
	brisk update "${PFX}a" --pids-limit 55
	local pids
	pids=$(grep -E ':pids:' "/proc/$(state_field "${PFX}a" pid)/cgroup" | cut -d: -f3)
	[ "$(cat "/sys/fs/cgroup/pids$pids/pids.max")" = 55 ]
	run brisk update "${PFX}a" "${PFX}b"
	[ "$status" -ne 0 ]
	brisk delete --force "${PFX}a"
}

# hooks_bundle OUT: every kind of hook writes its cwd and env to OUT/KIND (startContainer's
# into the rootfs); one prestart hook gives an env of its own
hooks_bundle() {
	local out=$1 h=$BUNDLE/rootfs/hook.sh
	printf '#!/bin/sh\n{ echo "cwd=$(pwd)"; env; } >"$1"\n' >"$h"
	chmod 755 "$h"
	config ".process.cwd = \"/tmp\" | .process.env = [\"PATH=/bin\", \"FOO=bar\"] | .hooks = {
		prestart: [{path: \"$h\", args: [\"h\", \"$out/prestart\"]},
			   {path: \"$h\", args: [\"h\", \"$out/own\"], env: [\"A=1\"]}],
		createRuntime: [{path: \"$h\", args: [\"h\", \"$out/createRuntime\"]}],
		createContainer: [{path: \"$h\", args: [\"h\", \"$out/createContainer\"]}],
		startContainer: [{path: \"/hook.sh\", args: [\"h\", \"/startContainer\"]}],
		poststart: [{path: \"$h\", args: [\"h\", \"$out/poststart\"]}],
		poststop: [{path: \"$h\", args: [\"h\", \"$out/poststop\"]}]}"
}

# check_hooks OUT: where each hook ran and what env it got, as runc gives them
check_hooks() {
	local out=$1 k
	for k in prestart createRuntime poststart poststop; do
		echo "$k:"; cat "$out/$k"
		# the runtime's hooks: in the bundle, with the runtime's environment
		grep -qx "cwd=$BUNDLE" "$out/$k"
		grep -qx "HOOKS_TEST=runtime-env" "$out/$k"
	done
	grep -qx "A=1" "$out/own"
	if grep -q HOOKS_TEST "$out/own"; then
		echo "a hook with an env of its own got the runtime's"
		return 1
	fi
	# createContainer: in the rootfs, before pivot_root
	cat "$out/createContainer"
	grep -qx "cwd=$BUNDLE/rootfs" "$out/createContainer"
	# startContainer: in the process's cwd, with its env
	cat "$BUNDLE/rootfs/startContainer"
	grep -qx "cwd=/tmp" "$BUNDLE/rootfs/startContainer"
	grep -qx "FOO=bar" "$BUNDLE/rootfs/startContainer"
	grep -qx "HOME=/root" "$BUNDLE/rootfs/startContainer"
	if grep -q HOOKS_TEST "$BUNDLE/rootfs/startContainer"; then
		echo "startContainer hook got the runtime's environment"
		return 1
	fi
}

@test "hooks: the runtime's environment when they give none, startContainer the process's, each in runc's cwd" {
	mkdir "$TEST_DIR/out" "$TEST_DIR/elsewhere"
	hooks_bundle "$TEST_DIR/out"
	args true
	cd "$TEST_DIR/elsewhere"
	HOOKS_TEST=runtime-env brisk run -b "$BUNDLE" "${PFX}a"
	check_hooks "$TEST_DIR/out"
	if command -v runc >/dev/null; then
		rm -rf "$TEST_DIR/out" "$BUNDLE/rootfs/startContainer"
		mkdir "$TEST_DIR/out"
		HOOKS_TEST=runtime-env runc --root "$TEST_DIR/runc" run -b "$BUNDLE" "${PFX}r"
		check_hooks "$TEST_DIR/out"
	fi
}

@test "linux.mountLabel is ignored without SELinux; process.selinuxLabel is refused, as runc" {
	[ ! -e /sys/fs/selinux/enforce ] || skip "SELinux is enabled here"
	args true
	config '.linux.mountLabel = "system_u:object_r:container_file_t:s0:c1,c2"'
	run brisk run "${PFX}a"
	echo "$output"
	[ "$status" -eq 0 ]
	config 'del(.linux.mountLabel) | .process.selinuxLabel = "system_u:system_r:container_t:s0"'
	run brisk run "${PFX}b"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"SELinux is not enabled"* ]]
	if command -v runc >/dev/null; then
		run runc --root "$TEST_DIR/runc" run "${PFX}r"
		echo "runc: $output"
		[ "$status" -ne 0 ]
		[[ "$output" == *"selinux is disabled"* ]]
	fi
	assert_nothing_left
}

# keys_run RUNTIME...: run the keys test's container, print what it saw
keys_run() {
	"$@" run "${PFX}k" 2>&1
}

@test "config keys match case-insensitively, as Go's decoder in runc; device access as runc takes it" {
	[ -c /dev/loop-control ] || skip "no /dev/loop-control"
	local cpu='cat /sys/fs/cgroup/cpu/cpu.shares 2>/dev/null || cat /sys/fs/cgroup/cpu.weight'
	args sh -c "$cpu; (exec 3</lc) && echo opened-r; (exec 3>/lc) && echo opened-w; echo \$FOO"
	config '.Process = (.process | .Args = .args | .Env = (.env + ["FOO=folded"])
			    | del(.args, .env)) | del(.process)
		| .mounts += [{"Destination": "/lc", "Type": "bind", "source": "/dev/loop-control",
			       "Options": ["bind"]}]
		| .Linux.Resources = {"CPU": {"Shares": 512},
			"Devices": [{"allow": false, "access": "rwm"},
				    {"Allow": true, "type": "c", "Major": 10, "minor": 237,
				     "Access": "rwa"}]}'
	local want
	# cpu.shares 512 on a v1 hierarchy, its cpu.weight on v2
	run keys_run brisk
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == 512 || "${lines[0]}" == 20 ]]
	[ "${lines[1]}" = opened-r ]
	[ "${lines[2]}" = opened-w ]
	[ "${lines[3]}" = folded ]
	want=$output
	if command -v runc >/dev/null; then
		run keys_run runc --root "$TEST_DIR/runc"
		echo "runc: $output"
		[ "$output" = "$want" ]
	fi
	# access naming none of r, w, m: refused, naming the rule
	config '.Linux.Resources.Devices[1].Access = "x"'
	run brisk run "${PFX}x"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"linux.resources.devices[1].access: 'x'"* ]]
	# exec --process: the same folding
	config '.Linux.Resources.Devices[1].Access = "rw" | .Process.Args = ["sleep", "100"]'
	brisk run -d "${PFX}e" </dev/null >/dev/null 2>&1
	echo '{"Args": ["sh", "-c", "echo $BAR"], "Env": ["BAR=exec-folded"], "CWD": "/"}' \
		>"$TEST_DIR/proc.json"
	run brisk exec -p "$TEST_DIR/proc.json" "${PFX}e"
	echo "$output"
	[ "$output" = exec-folded ]
	brisk delete --force "${PFX}e"
	assert_nothing_left
}

@test "socket activation: LISTEN_FDS fds go to the container's process at 3.., LISTEN_PID=1, as runc" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	args sh -c 'echo "$LISTEN_FDS $LISTEN_PID"; for f in 3 4 5; do readlink /proc/self/fd/$f; done'
	cat >"$TEST_DIR/activate.py" <<'PY'
import os, socket, sys
# two listening sockets at 3 and 4, /dev/null at 5 (for --preserve-fds 1), then the runtime,
# with LISTEN_PID its pid, as systemd starts a socket-activated service
for i in range(2):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(os.path.join(sys.argv[1], "act%d.sock" % i))
    s.listen()
    os.dup2(s.fileno(), 3 + i)
os.dup2(os.open("/dev/null", os.O_RDONLY), 5)
for fd in (3, 4, 5):
    os.set_inheritable(fd, True)
os.environ["LISTEN_FDS"] = "2"
os.environ["LISTEN_PID"] = str(os.getpid())
os.execvp(sys.argv[2], sys.argv[2:])
PY
	config ".linux.cgroupsPath = \"/$CGROUP_PARENT/${PFX}a\" | .process.env += [\"LISTEN_PID=7\"]"
	run python3 "$TEST_DIR/activate.py" "$TEST_DIR" "$BRISK" --root "$STATE_ROOT" run --preserve-fds 1 "${PFX}a"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "2 1" ]
	[[ "${lines[1]}" == socket:* ]]
	[[ "${lines[2]}" == socket:* ]]
	[ "${lines[3]}" = /dev/null ]
	if command -v runc >/dev/null; then
		rm -f "$TEST_DIR"/act*.sock
		run python3 "$TEST_DIR/activate.py" "$TEST_DIR" runc --root "$TEST_DIR/runc" run \
			--preserve-fds 1 "${PFX}r"
		echo "runc: $output"
		[ "${lines[0]}" = "2 1" ]
		[[ "${lines[1]}" == socket:* ]]
		[[ "${lines[2]}" == socket:* ]]
	fi
	# LISTEN_PID of another process: the fds are not ours to pass
	rm -f "$TEST_DIR"/act*.sock
	config '.process.env -= ["LISTEN_PID=7"]'
	run env LISTEN_FDS=2 LISTEN_PID=1 "$BRISK" --root "$STATE_ROOT" run "${PFX}b"
	echo "$output"
	[ "${lines[0]}" = " " ]
	assert_nothing_left
}

# notify_listen SOCK OUT: a receiver of sd_notify on the host, as systemd: each datagram a
# line of OUT ("+fd" when it came with one); it closes the fd of BARRIER=1 and stops there
notify_listen() {
	cat >"$TEST_DIR/listen.py" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
with open(sys.argv[2], "w") as out:
    while True:
        msg, fds, _, _ = socket.recv_fds(s, 4096, 4)
        for fd in fds:
            os.close(fd)
        out.write(msg.decode().rstrip("\n") + (" +fd" if fds else "") + "\n")
        out.flush()
        if msg.startswith(b"BARRIER"):
            break
PY
	python3 "$TEST_DIR/listen.py" "$1" "$2" </dev/null >/dev/null 2>&1 &
	LISTENER=$!
	local i
	for i in $(seq 50); do
		[ -S "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

@test "NOTIFY_SOCKET: the container's READY=1 reaches the caller's socket with MAINPID, as runc" {
	command -v python3 >/dev/null || skip "python3 is not installed"
	[ -L /lib ] && [ -x /usr/bin/python3 ] || skip "needs a merged /usr with python3"
	# the host's python in the container, to send as sd_notify does
	ln -s usr/lib "$BUNDLE/rootfs/lib"
	ln -s usr/lib64 "$BUNDLE/rootfs/lib64"
	cat >"$BUNDLE/rootfs/notify.sh" <<'EOF2'
echo "$NOTIFY_SOCKET"
sleep 0.5
/usr/bin/python3 -c 'import os, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect(os.environ["NOTIFY_SOCKET"])
s.send(b"READY=1\nSTATUS=up")'
sleep 2
EOF2
	args sh /notify.sh
	config '.mounts += [{"destination": "/usr", "type": "bind", "source": "/usr",
			     "options": ["rbind", "ro"]}]'
	local sock=$TEST_DIR/host.sock pid
	# run -d returns once the container is ready
	notify_listen "$sock" "$TEST_DIR/out"
	NOTIFY_SOCKET=$sock brisk run -d "${PFX}a" </dev/null >"$TEST_DIR/a.out"
	pid=$(state_field "${PFX}a" pid)
	wait "$LISTENER"
	cat "$TEST_DIR/a.out" "$TEST_DIR/out"
	[ "$(cat "$TEST_DIR/out")" = "$(printf 'READY=1\nMAINPID=%s\nBARRIER=1 +fd' "$pid")" ]
	brisk delete --force "${PFX}a"
	# create, then start, each with NOTIFY_SOCKET: the container's socket is at
	# /run/notify/notify.sock
	rm -f "$sock"
	notify_listen "$sock" "$TEST_DIR/out"
	NOTIFY_SOCKET=$sock brisk create "${PFX}b" </dev/null >"$TEST_DIR/b.out"
	NOTIFY_SOCKET=$sock brisk start "${PFX}b"
	pid=$(state_field "${PFX}b" pid)
	wait "$LISTENER"
	cat "$TEST_DIR/b.out" "$TEST_DIR/out"
	[ "$(head -1 "$TEST_DIR/b.out")" = /run/notify/notify.sock ]
	[ "$(cat "$TEST_DIR/out")" = "$(printf 'READY=1\nMAINPID=%s\nBARRIER=1 +fd' "$pid")" ]
	brisk delete --force "${PFX}b"
	# a foreground run stays the main process
	rm -f "$sock"
	notify_listen "$sock" "$TEST_DIR/out"
	config ".linux.cgroupsPath = \"/$CGROUP_PARENT/${PFX}c\""
	NOTIFY_SOCKET=$sock "$BRISK" --root "$STATE_ROOT" run "${PFX}c" </dev/null >/dev/null 2>&1 &
	pid=$!
	wait "$LISTENER"
	wait "$pid"
	cat "$TEST_DIR/out"
	[ "$(cat "$TEST_DIR/out")" = "$(printf 'READY=1\nMAINPID=%s\nBARRIER=1 +fd' "$pid")" ]
	if command -v runc >/dev/null; then
		rm -f "$sock"
		notify_listen "$sock" "$TEST_DIR/out"
		# (runc waits for READY=1 at the start of a datagram, its init alive or a zombie)
		NOTIFY_SOCKET=$sock timeout 20 runc --root "$TEST_DIR/runc" run -d "${PFX}r" \
			</dev/null >/dev/null
		pid=$(runc --root "$TEST_DIR/runc" state "${PFX}r" | jq -r .pid)
		sleep 0.5
		kill "$LISTENER" 2>/dev/null || true
		runc --root "$TEST_DIR/runc" delete --force "${PFX}r"
		cat "$TEST_DIR/out"
		# runc 1.1 sends no BARRIER=1 (1.2 and later do)
		[ "$(head -2 "$TEST_DIR/out")" = "$(printf 'READY=1\nMAINPID=%s' "$pid")" ]
	fi
	assert_nothing_left
}

@test "delete --force: cgroup directories already gone is quiet; host pid namespace, init gone: its cgroup's processes are killed" {
	config 'del(.linux.namespaces[] | select(.type == "pid"))'
	args sh -c 'sleep 1000 & exec sleep 1001'
	brisk run -d "${PFX}a" </dev/null >/dev/null 2>&1
	local init left
	init=$(state_field "${PFX}a" pid)
	kill -9 "$init"
	wait_status "${PFX}a" stopped
	left=$(pgrep -f '^sleep 1000$' | while read -r p; do grep -l "$CGROUP_PARENT/${PFX}a" "/proc/$p/cgroup"; done) || true
	[ -n "$left" ]
	run brisk delete --force "${PFX}a"
	echo "$output"
	[ "$status" -eq 0 ]
	sleep 0.2
	left=$(pgrep -f '^sleep 1000$' | while read -r p; do grep -l "$CGROUP_PARENT/${PFX}a" "/proc/$p/cgroup" 2>/dev/null; done) || true
	if [ -n "$left" ]; then echo "left: $left"; return 1; fi
	assert_no_leaks "${PFX}a"
	# the cgroups removed under it: delete --force says nothing at error level
	args sleep 1000
	brisk run -d "${PFX}b" </dev/null >/dev/null 2>&1
	kill -9 "$(state_field "${PFX}b" pid)"
	wait_status "${PFX}b" stopped
	find /sys/fs/cgroup -depth -type d -path "*/$CGROUP_PARENT/${PFX}b*" -exec rmdir {} \;
	run brisk delete --force "${PFX}b"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	assert_no_leaks "${PFX}b"
}

@test "exec --cgroup [CONTROLLER:]PATH runs in an existing sub-cgroup of the container's, as runc" {
	config 'del(.linux.namespaces[] | select(.type == "cgroup"))'
	args sleep 1000
	brisk run -d "${PFX}a" </dev/null >/dev/null 2>&1
	local d
	for d in $(find /sys/fs/cgroup -maxdepth 4 -type d -path "*/$CGROUP_PARENT/${PFX}a"); do
		mkdir "$d/sub"
		# a new v1 cpuset takes no task until given cpus and mems (runc's too)
		if [ -f "$d/cpuset.cpus" ]; then
			cat "$d/cpuset.cpus" >"$d/sub/cpuset.cpus"
			cat "$d/cpuset.mems" >"$d/sub/cpuset.mems"
		fi
	done
	run brisk exec --cgroup sub "${PFX}a" cat /proc/self/cgroup
	echo "$output"
	[ "$status" -eq 0 ]
	if echo "$output" | grep "/$CGROUP_PARENT/${PFX}a\$"; then echo "not in sub"; return 1; fi
	echo "$output" | grep -q "/$CGROUP_PARENT/${PFX}a/sub\$"
	if [ -d "/sys/fs/cgroup/memory/$CGROUP_PARENT/${PFX}a" ]; then
		mkdir "/sys/fs/cgroup/memory/$CGROUP_PARENT/${PFX}a/m"
		run brisk exec --cgroup memory:m "${PFX}a" cat /proc/self/cgroup
		echo "$output"
		[ "$status" -eq 0 ]
		echo "$output" | grep -q ":memory:/$CGROUP_PARENT/${PFX}a/m\$"
		echo "$output" | grep -q ":pids:/$CGROUP_PARENT/${PFX}a\$"
		run brisk exec --cgroup nosuch:m "${PFX}a" true
		[ "$status" -ne 0 ]
		[[ "$output" == *"unknown controller 'nosuch'"* ]]
	fi
	run brisk exec --cgroup ../x "${PFX}a" true
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"not a sub-cgroup path"* ]]
	run brisk exec --cgroup missing "${PFX}a" true
	[ "$status" -ne 0 ]
	brisk delete --force "${PFX}a"
	assert_no_leaks "${PFX}a"
}

@test "process.scheduler SCHED_FIFO/SCHED_RR on a v1 host: the cpu cgroup gets realtime time from its parent" {
	[ -f /sys/fs/cgroup/cpu/cpu.rt_runtime_us ] || skip "no v1 cpu controller with realtime groups"
	local root
	root=$(cat /sys/fs/cgroup/cpu/cpu.rt_runtime_us)
	[ "$root" -gt 0 ] || skip "the root cpu cgroup has no realtime time"
	config '.process.scheduler = {"policy": "SCHED_FIFO", "priority": 10}'
	# field 41 of stat: the policy (1 SCHED_FIFO, 2 SCHED_RR)
	args sh -c 'cut -d" " -f41 /proc/self/stat'
	run brisk run "${PFX}a"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = 1 ]
	config '.process.scheduler = {"policy": "SCHED_RR", "priority": 5}'
	args sh -c 'cut -d" " -f41 /proc/self/stat; cat /sys/fs/cgroup/cpu/cpu.rt_runtime_us 2>/dev/null || true'
	run brisk run "${PFX}b"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 2 ]
	assert_no_leaks "${PFX}b"
	# a parent with no realtime time to give: an error that names the field
	local top=/sys/fs/cgroup/cpu/$CGROUP_PARENT
	mkdir "$top" "$top/hog"
	echo 1000 >"$top/cpu.rt_runtime_us"
	echo 1000 >"$top/hog/cpu.rt_runtime_us"
	run brisk run "${PFX}c"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"process.scheduler"*"realtimeRuntime"* ]]
	assert_no_leaks "${PFX}c"
}

@test "a read-only /dev is mounted read-write to fill it, then made read-only, as runc" {
	config '(.mounts[] | select(.destination == "/dev") | .options) += ["ro"]'
	args sh -c 'echo x >/dev/null && ls /dev/pts >/dev/null && grep " /dev " /proc/self/mountinfo | grep -c " ro,"; touch /dev/x 2>/dev/null && echo writable || true'
	run brisk run "${PFX}a"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = 1 ]
}

@test "a failed poststart or poststop hook is a warning, and the hooks after it still run" {
	config ".hooks = {\"poststart\": [{\"path\": \"/bin/false\"}, {\"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"touch $TEST_DIR/poststart2\"]}], \"poststop\": [{\"path\": \"/bin/false\"}, {\"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"touch $TEST_DIR/poststop2\"]}]}"
	args sleep 100
	brisk create "${PFX}a" </dev/null >/dev/null 2>&1
	run brisk start "${PFX}a"
	echo "start: $status $output"
	[ "$status" -eq 0 ]
	[ -e "$TEST_DIR/poststart2" ] || { echo "the poststart hook after the failed one did not run"; return 1; }
	[[ "$output" == *"poststart hook '/bin/false'"*"ignoring"* ]]
	run brisk delete --force "${PFX}a"
	echo "delete: $status $output"
	[ "$status" -eq 0 ]
	[ -e "$TEST_DIR/poststop2" ] || { echo "the poststop hook after the failed one did not run"; return 1; }
	assert_no_leaks "${PFX}a"
}

@test "idmapped mounts: in a container with its own user namespace, shared propagation included" {
	# A mount's uidMappings/gidMappings read as runc 1.2+ and crun read them, the same way as
	# linux.uidMappings: an id on disk equal to containerID shows as hostID, which the
	# container's own user namespace then shows as its id. With the container's mapping
	# (0..65535 on 100000..) repeated on the mount, as podman and the kubelet write it, the
	# files show in the container with their owners on disk.
	mkdir -p "$TEST_DIR/idsrc"
	echo x >"$TEST_DIR/idsrc/root"
	echo x >"$TEST_DIR/idsrc/user"
	chown 1000:1000 "$TEST_DIR/idsrc/user"
	chown -R 100000:100000 "$BUNDLE/rootfs"
	maps='[{"containerID": 0, "hostID": 100000, "size": 65536}]'
	config ".linux.namespaces += [{\"type\": \"user\"}] | .linux.uidMappings = $maps | .linux.gidMappings = $maps"
	config ".mounts += [{\"destination\": \"/idm\", \"type\": \"bind\", \"source\": \"$TEST_DIR/idsrc\", \"options\": [\"bind\", \"idmap\", \"shared\"], \"uidMappings\": $maps, \"gidMappings\": $maps}]"
	args sh -c 'stat -c "%u:%g" /idm/root /idm/user; grep " /idm " /proc/self/mountinfo; touch /idm/new'
	run brisk run "${PFX}a"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "0:0" ]
	[ "${lines[1]}" = "1000:1000" ]
	[[ "${lines[2]}" == *" shared:"* ]]
	# what the container's root made is root's on disk
	[ "$(stat -c %u:%g "$TEST_DIR/idsrc/new")" = "0:0" ]
	[ "$(stat -c %u "$TEST_DIR/idsrc/user")" = 1000 ]
}

@test "idmapped mounts: containerID is the id on disk, hostID the id it shows as (runc 1.2+, crun)" {
	# {containerID 1000, hostID 100000, size 1}: the file owned by 1000 on disk shows as host
	# 100000 (0 in a container whose user namespace maps 0 on 100000); ids the mount does not
	# map show as the overflow id. Reversed, 100000 on disk would show as 1000 and neither
	# file here would be mapped.
	mkdir -p "$TEST_DIR/idsrc"
	echo x >"$TEST_DIR/idsrc/user"
	echo x >"$TEST_DIR/idsrc/root"
	chown 1000:1000 "$TEST_DIR/idsrc/user"
	idm='[{"containerID": 1000, "hostID": 100000, "size": 1}]'
	config ".mounts += [{\"destination\": \"/idm\", \"type\": \"bind\", \"source\": \"$TEST_DIR/idsrc\", \"options\": [\"bind\", \"idmap\"], \"uidMappings\": $idm, \"gidMappings\": $idm}]"
	args stat -c "%u:%g" /idm/user /idm/root
	run brisk run "${PFX}a"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "100000:100000" ]
	[ "${lines[1]}" = "65534:65534" ]
	# in a container with its own user namespace
	chown -R 100000:100000 "$BUNDLE/rootfs"
	maps='[{"containerID": 0, "hostID": 100000, "size": 65536}]'
	config ".linux.namespaces += [{\"type\": \"user\"}] | .linux.uidMappings = $maps | .linux.gidMappings = $maps"
	run brisk run "${PFX}b"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "0:0" ]
	[ "${lines[1]}" = "65534:65534" ]
}

@test "bind mount sources are opened with the runtime's credentials: under a mode-000 directory, with a user namespace, as runc" {
	# The sources sit in a directory only the host's root can pass through: the container's
	# root (host uid 100000) could not resolve their paths itself.
	mkdir -p "$TEST_DIR/locked/dir"
	echo in-dir >"$TEST_DIR/locked/dir/f"
	echo a-file >"$TEST_DIR/locked/file"
	chmod 000 "$TEST_DIR/locked"
	chown -R 100000:100000 "$BUNDLE/rootfs"
	maps='[{"containerID": 0, "hostID": 100000, "size": 65536}]'
	config ".linux.namespaces += [{\"type\": \"user\"}] | .linux.uidMappings = $maps | .linux.gidMappings = $maps
		| .mounts += [{\"destination\": \"/d\", \"type\": \"bind\", \"source\": \"$TEST_DIR/locked/dir\", \"options\": [\"rbind\", \"ro\"]},
			      {\"destination\": \"/f\", \"type\": \"bind\", \"source\": \"$TEST_DIR/locked/file\", \"options\": [\"bind\"]}]"
	args sh -c 'cat /d/f /f; touch /d/x 2>/tmp/err || echo read-only'
	run brisk run "${PFX}a"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'in-dir\na-file\nread-only')" ]
	if command -v runc >/dev/null; then
		# runc reopens /dev/null in the container, which its root may not do where the
		# host's /dev/null is not world-writable: give it one that is, in a mount
		# namespace of its own
		mknod -m 666 "$TEST_DIR/null" c 1 3
		run unshare -m --propagation private sh -c 'mount --bind "$1" /dev/null && shift && exec "$@"' \
			sh "$TEST_DIR/null" runc --root "$TEST_DIR/runc" run "${PFX}r" </dev/null
		echo "runc: $output"
		[ "$output" = "$(printf 'in-dir\na-file\nread-only')" ]
	fi
	# a source that is not there: an error that names it, and nothing left
	config ".mounts[-1].source = \"$TEST_DIR/locked/nothing\""
	run brisk run "${PFX}b"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"$TEST_DIR/locked/nothing"* ]]
	assert_nothing_left
}

# cwd_run RUNTIME...: run the cwd test's container, print what it saw
cwd_run() {
	"$@" run "${PFX}c" </dev/null 2>&1
}

@test "process.cwd: made when missing; entered before the user changes; exec --cwd fails as runc's" {
	mkdir "$BUNDLE/rootfs/priv"
	chmod 700 "$BUNDLE/rootfs/priv"
	# a user who may not enter its cwd starts there all the same, as with runc
	config '.process.user = {"uid": 1000, "gid": 1000} | .process.cwd = "/priv"'
	args sh -c 'pwd; ls >/dev/null 2>&1 || echo denied'
	run cwd_run brisk
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '/priv\ndenied')" ]
	if command -v runc >/dev/null; then
		run cwd_run runc --root "$TEST_DIR/runc"
		echo "runc: $output"
		[ "$output" = "$(printf '/priv\ndenied')" ]
	fi
	# a missing cwd is made, root's and 0755, before the rootfs goes read-only
	config '.process.cwd = "/new/cwd" | .root.readonly = true'
	args sh -c 'pwd; stat -c "%u %a" /new /new/cwd'
	local want
	want=$(printf '/new/cwd\n0 755\n0 755')
	run cwd_run brisk
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "$want" ]
	if command -v runc >/dev/null; then
		rm -rf "$BUNDLE/rootfs/new"
		run cwd_run runc --root "$TEST_DIR/runc"
		echo "runc: $output"
		[ "$output" = "$want" ]
	fi
	# exec: --cwd entered as the runtime, then as the user; a missing one fails with 255
	config '.process.user = {"uid": 0, "gid": 0} | .process.cwd = "/" | .root.readonly = false'
	args sleep 100
	brisk run -d "${PFX}e" </dev/null >/dev/null 2>&1
	run brisk exec --user 1000 --cwd /priv "${PFX}e" pwd
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = /priv ]
	run brisk exec --cwd /missing "${PFX}e" pwd
	echo "$output"
	[ "$status" -eq 255 ]
	[[ "$output" == *"chdir to cwd '/missing' set in config.json: No such file or directory"* ]]
	if [ -d "$BUNDLE/rootfs/missing" ]; then echo "exec made its cwd"; return 1; fi
	brisk delete --force "${PFX}e"
	if command -v runc >/dev/null; then
		runc --root "$TEST_DIR/runc" run -d "${PFX}r" </dev/null >/dev/null 2>&1
		run runc --root "$TEST_DIR/runc" exec --user 1000 --cwd /priv "${PFX}r" pwd
		echo "runc: $output"
		[ "$output" = /priv ]
		run runc --root "$TEST_DIR/runc" exec --cwd /missing "${PFX}r" pwd
		echo "runc: $output"
		[ "$status" -eq 255 ]
		[[ "$output" == *'chdir to cwd (\"/missing\") set in config.json failed: no such file or directory'* ]]
		runc --root "$TEST_DIR/runc" delete --force "${PFX}r"
	fi
	assert_nothing_left
}

@test "exec --cwd where neither the runtime nor the user may enter: refused as runc refuses it" {
	# A host directory only the host's root may enter, in a container with a user namespace:
	# the container's root is denied too (its owner is not mapped).
	mkdir -p "$TEST_DIR/hostdir/closed"
	chmod 700 "$TEST_DIR/hostdir/closed"
	chown -R 100000:100000 "$BUNDLE/rootfs"
	maps='[{"containerID": 0, "hostID": 100000, "size": 65536}]'
	config ".linux.namespaces += [{\"type\": \"user\"}] | .linux.uidMappings = $maps | .linux.gidMappings = $maps
		| .mounts += [{\"destination\": \"/h\", \"type\": \"bind\", \"source\": \"$TEST_DIR/hostdir\", \"options\": [\"rbind\"]}]"
	args sleep 100
	brisk run -d "${PFX}a" </dev/null >/dev/null 2>&1
	run brisk exec --cwd /h/closed "${PFX}a" pwd
	echo "$output"
	[ "$status" -eq 255 ]
	[[ "$output" == *"chdir to cwd '/h/closed' set in config.json: Permission denied"* ]]
	run brisk exec --user 1000 --cwd /h/closed "${PFX}a" pwd
	[ "$status" -eq 255 ]
	[[ "$output" == *"chdir to cwd '/h/closed' set in config.json: Permission denied"* ]]
	brisk delete --force "${PFX}a"
	if command -v runc >/dev/null; then
		mknod -m 666 "$TEST_DIR/null" c 1 3
		unshare -m --propagation private sh -c 'mount --bind "$1" /dev/null && shift && exec "$@"' \
			sh "$TEST_DIR/null" runc --root "$TEST_DIR/runc" run -d "${PFX}r" </dev/null >/dev/null 2>&1
		run runc --root "$TEST_DIR/runc" exec --cwd /h/closed "${PFX}r" pwd
		echo "runc: $output"
		runc --root "$TEST_DIR/runc" delete --force "${PFX}r"
		[ "$status" -eq 255 ]
		[[ "$output" == *'chdir to cwd (\"/h/closed\") set in config.json failed: permission denied'* ]]
	fi
	assert_nothing_left
}

# tty_stat ID [exec ARGS...]: with the runtime "${TTY_RT[@]}", create and start ID (or exec
# ARGS into a container) with a console socket; print what the container said on its terminal
tty_stat() {
	local id=$1 sock=$TEST_DIR/console.sock rpid i
	shift
	rm -f "$sock"
	timeout 30 "$BUILD_ROOT/tests/integration/recvtty" "$sock" >"$TEST_DIR/tty.out" &
	rpid=$!
	for i in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
	if [ "${1:-}" = exec ]; then
		shift
		"${TTY_RT[@]}" exec -d -t --console-socket "$sock" "$@" </dev/null
	else
		config ".linux.cgroupsPath = \"/$CGROUP_PARENT/$id\""
		"${TTY_RT[@]}" create --console-socket "$sock" "$id" </dev/null &&
			"${TTY_RT[@]}" start "$id"
	fi
	wait "$rpid"
	grep -v '^name=' "$TEST_DIR/tty.out" | tr -d '\r'
}

# tty_cases: what the terminal test checks, with "${TTY_RT[@]}"; ids start with $1
tty_cases() {
	local p=$1 stat='stat -c "%u %g %a" $(tty)'
	config '.process.terminal = true | .process.user = {"uid": 1000, "gid": 1000}'
	args sh -c "$stat"
	# the owner is the user's, the group the devpts mount's gid=5 of the spec
	run tty_stat "${p}a"
	echo "$output"
	[ "$output" = "1000 5 620" ]
	# exec -t as another user
	config '.process.terminal = false | .process.user = {"uid": 0, "gid": 0}'
	args sleep 100
	config ".linux.cgroupsPath = \"/$CGROUP_PARENT/${p}b\""
	"${TTY_RT[@]}" run -d "${p}b" </dev/null >/dev/null 2>&1
	run tty_stat "" exec --user 1001:1002 "${p}b" sh -c "$stat"
	echo "$output"
	[ "$output" = "1001 5 620" ]
	# a devpts mount without gid=: the group the pty was made with, the runtime's
	config '.process.terminal = true | .process.user = {"uid": 1000, "gid": 1000}
		| (.mounts[] | select(.destination == "/dev/pts") | .options) -= ["gid=5"]'
	args sh -c "$stat"
	run tty_stat "${p}c"
	echo "$output"
	[ "$output" = "1000 0 620" ]
	local id
	for id in a b c; do "${TTY_RT[@]}" delete --force "${p}$id"; done
	config '(.mounts[] | select(.destination == "/dev/pts") | .options) += ["gid=5"]'
}

@test "terminal: the pty is the process's user's, in the devpts mount's group, mode 620, as runc" {
	TTY_RT=(brisk)
	tty_cases "${PFX}"
	if command -v runc >/dev/null; then
		TTY_RT=(runc --root "$TEST_DIR/runc")
		tty_cases "${PFX}r"
	fi
	assert_nothing_left
}

@test "spec: the namespaces of runc's spec on this host (a cgroup namespace on cgroup v2 alone)" {
	local v2=false d
	[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ] && v2=true
	for d in brisk brisk-rootless runc runc-rootless; do mkdir "$TEST_DIR/$d"; done
	"$BRISK" spec -b "$TEST_DIR/brisk"
	"$BRISK" spec --rootless -b "$TEST_DIR/brisk-rootless"
	run jq -c '[.linux.namespaces[].type]' "$TEST_DIR/brisk/config.json"
	echo "$output"
	if $v2; then
		[ "$output" = '["pid","network","ipc","uts","mount","cgroup"]' ]
	else
		[ "$output" = '["pid","network","ipc","uts","mount"]' ]
	fi
	if command -v runc >/dev/null; then
		runc spec -b "$TEST_DIR/runc"
		runc spec --rootless -b "$TEST_DIR/runc-rootless"
		for d in "" -rootless; do
			diff <(jq -c '.linux.namespaces' "$TEST_DIR/runc$d/config.json") \
				<(jq -c '.linux.namespaces' "$TEST_DIR/brisk$d/config.json")
		done
	fi
	# a script that adds a cgroup namespace where runc's spec has none gets one
	$v2 || config '.linux.namespaces += [{"type": "cgroup"}]'
	args sh -c 'readlink /proc/self/ns/cgroup; grep -c ":/$" /proc/self/cgroup'
	run brisk run "${PFX}a"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" != "$(readlink /proc/self/ns/cgroup)" ]
	# its own cgroups show as the root of every hierarchy
	[ "${lines[1]}" = "$(grep -c . /proc/self/cgroup)" ]
	assert_nothing_left
}

@test "delete --force of a container frozen in the v1 freezer (by pause or by hand) thaws and kills it" {
	[ -d /sys/fs/cgroup/freezer ] || skip "no v1 freezer hierarchy"
	args sh -c 'sleep 1000 & exec sleep 1001'
	local id init f
	for id in a b; do
		brisk run -d "${PFX}$id" </dev/null >/dev/null 2>&1
	done
	brisk pause "${PFX}a"
	# b frozen behind the runtime's back, as a tool or a user of the freezer would
	f=$(awk -F: '$2 == "freezer" {print $3}' "/proc/$(state_field "${PFX}b" pid)/cgroup")
	echo FROZEN >"/sys/fs/cgroup/freezer$f/freezer.state"
	for id in a b; do
		wait_status "${PFX}$id" paused
		init=$(state_field "${PFX}$id" pid)
		SECONDS=0
		run brisk delete --force "${PFX}$id"
		echo "$output"
		[ "$status" -eq 0 ]
		[ -z "$output" ]
		# thawed first: a frozen process does not die of SIGKILL, and delete would wait
		[ "$SECONDS" -lt 5 ]
		# (a zombie until whoever it was reparented to reaps it)
		if [ "$(awk '/^State:/ {print $2}' "/proc/$init/status" 2>/dev/null || echo Z)" != Z ]; then
			echo "init $init of $id is alive"
			return 1
		fi
		assert_no_leaks "${PFX}$id"
	done
	local p
	for p in $(pgrep -f '^sleep 100[01]$'); do
		if grep -q "$CGROUP_PARENT" "/proc/$p/cgroup" 2>/dev/null &&
			[ "$(awk '/^State:/ {print $2}' "/proc/$p/status")" != Z ]; then
			echo "process $p of the containers is left"
			return 1
		fi
	done
}

@test "-h and --help on every command print its help on stdout and exit 0, as runc" {
	local cmds c
	cmds=$("$BRISK" -h | awk '/^Commands:/ {on = 1; next} on && NF {print $1}')
	echo "$cmds"
	# every command of runc's is there
	for c in checkpoint create delete events exec kill list pause ps restore resume run spec \
		start state update features; do
		echo "$cmds" | grep -qx "$c"
	done
	for c in $cmds; do
		for h in -h --help; do
			run "$BRISK" --root "$TEST_DIR/no-state" "$c" "$h"
			[ "$status" -eq 0 ] || { echo "$c $h: $status $output"; return 1; }
			[[ "${lines[0]}" == "Usage: brisk $c"* ]]
		done
		# stdout, nothing on stderr
		"$BRISK" --root "$TEST_DIR/no-state" "$c" -h 2>"$TEST_DIR/err" >/dev/null
		[ ! -s "$TEST_DIR/err" ]
	done
	if [ -n "$(ls -A "$TEST_DIR/no-state" 2>/dev/null)" ]; then echo "-h made state"; return 1; fi
}

@test "exec -t of a missing program: the runtime's error naming it, status 255, as runc" {
	command -v script >/dev/null || skip "script (util-linux) is not installed"
	args sleep 100
	brisk run -d "${PFX}a" </dev/null >/dev/null 2>&1
	local p
	for p in /no/such nosuch; do
		# -t wants a terminal: script gives one
		run script -qec "$BRISK --root $STATE_ROOT exec -t ${PFX}a $p" /dev/null </dev/null
		echo "$output"
		[ "$status" -eq 255 ]
		[[ "$output" == *"exec: '$p': "* ]]
	done
	[[ "$output" == *"executable file not found in \$PATH"* ]]
	brisk delete --force "${PFX}a"
	if command -v runc >/dev/null; then
		config ".linux.cgroupsPath = \"/$CGROUP_PARENT/${PFX}r\""
		runc --root "$TEST_DIR/runc" run -d "${PFX}r" </dev/null >/dev/null 2>&1
		run script -qec "runc --root $TEST_DIR/runc exec -t ${PFX}r nosuch" /dev/null </dev/null
		echo "runc: $output"
		runc --root "$TEST_DIR/runc" delete --force "${PFX}r"
		[ "$status" -eq 255 ]
		[[ "$output" == *'exec: "nosuch": executable file not found in $PATH'* ]]
	fi
	assert_nothing_left
}
