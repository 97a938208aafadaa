#!/usr/bin/env bats
# One test per area of config.json, each checked from inside a real container.

load helpers

setup() { common_setup; }
teardown() { common_teardown; }

@test "process: env, cwd, uid/gid, additionalGids, umask" {
	config '.process.env = ["PATH=/bin", "FOO=bar baz"] | .process.cwd = "/tmp/work" | .process.user = {"uid": 1000, "gid": 1001, "additionalGids": [5, 6], "umask": 63}'
	mkdir -p "$BUNDLE/rootfs/tmp/work"
	args sh -c 'echo "$FOO"; pwd; id -u; id -g; id -G; umask'
	run brisk run c1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "bar baz" ]
	[ "${lines[1]}" = /tmp/work ]
	[ "${lines[2]}" = 1000 ]
	[ "${lines[3]}" = 1001 ]
	[[ "${lines[4]}" == "1001 5 6" ]]
	[ "${lines[5]}" = 0077 ]
}

@test "process: a cwd that cannot be made (a file on its path) is an error naming it" {
	# a missing one is made, as runc makes it (conformance.bats)
	config '.process.cwd = "/etc/passwd/dir"'
	args true
	run brisk run c1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"/etc/passwd/dir"* ]]
	assert_no_leaks c1
}

@test "process: executable found through PATH, missing one named" {
	config '.process.env = ["PATH=/nowhere:/bin"]'
	args true
	brisk run c1
	args nosuchprog
	run brisk run c2
	[ "$status" -ne 0 ]
	[[ "$output" == *"'nosuchprog': executable file not found in \$PATH"* ]]
}

@test "process: rlimits, noNewPrivileges, oomScoreAdj" {
	config '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 256, "hard": 512}] | .process.noNewPrivileges = true | .process.oomScoreAdj = 100'
	args sh -c 'ulimit -n; ulimit -Hn; grep NoNewPrivs /proc/self/status; cat /proc/self/oom_score_adj'
	run brisk run c1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 256 ]
	[ "${lines[1]}" = 512 ]
	[[ "${lines[2]}" == *"1" ]]
	[ "${lines[3]}" = 100 ]
}

@test "process: an rlimit above the hard limit fails clearly" {
	hard=$(ulimit -Hn)
	if [ "$hard" = unlimited ]; then skip "no hard limit"; fi
	if capsh --has-p=cap_sys_resource 2>/dev/null; then skip "we have CAP_SYS_RESOURCE"; fi
	config ".process.rlimits = [{\"type\": \"RLIMIT_NOFILE\", \"soft\": $((hard * 4)), \"hard\": $((hard * 4))}]"
	args true
	run brisk run c1
	[ "$status" -ne 0 ]
	[[ "$output" == *"rlimit"* ]]
	assert_no_leaks c1
}

@test "process: capabilities (bounding and effective sets)" {
	config '.process.capabilities = {"bounding": ["CAP_CHOWN", "CAP_KILL"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]}'
	args sh -c 'grep -E "^Cap(Bnd|Eff)" /proc/self/status'
	run brisk run c1
	[ "$status" -eq 0 ]
	# CAP_CHOWN = bit 0, CAP_KILL = bit 5
	[[ "$output" == *"CapBnd:	0000000000000021"* ]]
	[[ "$output" == *"CapEff:	0000000000000001"* ]]
}

@test "process: apparmor and selinux labels fail clearly where the LSM is off" {
	if [ -e /sys/kernel/security/apparmor ]; then skip "apparmor is enabled here"; fi
	config '.process.apparmorProfile = "docker-default"'
	args true
	run brisk run c1
	[ "$status" -ne 0 ]
	[[ "$output" == *"AppArmor is not enabled"* ]]
	assert_no_leaks c1
}

@test "config: an integer beyond 64 bits or a string with a NUL is an error naming the field" {
	args true
	cp "$BUNDLE/config.json" "$TEST_DIR/good.json"
	# jq would turn the literal into a float: it is put in as text
	config '.process.rlimits = [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 424242}]'
	sed -i 's/424242/184467440737095516150/' "$BUNDLE/config.json"
	grep -q 184467440737095516150 "$BUNDLE/config.json"
	run brisk run c1
	[ "$status" -ne 0 ]
	[[ "$output" == *"process.rlimits[0] ('RLIMIT_NOFILE').hard: must be an integer in 0..18446744073709551615"* ]]
	assert_no_leaks c1
	cp "$TEST_DIR/good.json" "$BUNDLE/config.json"
	config '.linux.uidMappings = [{"containerID": 0, "hostID": 424242, "size": 1}]'
	sed -i 's/424242/-92233720368547758080/' "$BUNDLE/config.json"
	run brisk run c1
	[ "$status" -ne 0 ]
	[[ "$output" == *"linux.uidMappings[0].hostID: must be an integer in 0..4294967295"* ]]

	for f in '.hostname' '.process.args[0]' '.process.env[0]' '.annotations.a' '.linux.sysctl["kernel.domainname"]'; do
		cp "$TEST_DIR/good.json" "$BUNDLE/config.json"
		config "$f = \"tr\\u0000ue\""
		grep -q 'tr\\u0000ue' "$BUNDLE/config.json"
		run brisk run c1
		[ "$status" -ne 0 ]
		[[ "$output" == *"must not contain a NUL byte"* ]]
		assert_no_leaks c1
	done
	[[ "$output" == *"linux.sysctl['kernel.domainname']: must not contain a NUL byte"* ]]
}

@test "hostname and domainname" {
	config '.hostname = "box1" | .domainname = "example.test"'
	args sh -c 'hostname; cat /proc/sys/kernel/domainname'
	run brisk run c1
	[ "${lines[0]}" = box1 ]
	[ "${lines[1]}" = example.test ]
}

@test "root: readonly root, writable tmpfs mount with size and mode" {
	config '.root.readonly = true | .mounts += [{"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=1777"]}]'
	args sh -c 'touch /x 2>/dev/null && echo rootrw || echo rootro; touch /scratch/y && echo tmpfsrw; stat -c %a /scratch; grep " /scratch " /proc/mounts'
	run brisk run c1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = rootro ]
	[ "${lines[1]}" = tmpfsrw ]
	[ "${lines[2]}" = 1777 ]
	[[ "${lines[3]}" == *"size=1024k"* ]]
}

@test "mounts: bind ro, rbind, rro, nosuid/noexec, file bind" {
	mkdir -p "$TEST_DIR/src/sub"
	echo data >"$TEST_DIR/src/file"
	mount -t tmpfs tmpfs "$TEST_DIR/src/sub"
	echo sub >"$TEST_DIR/src/sub/f"
	config ".mounts += [
		{\"destination\": \"/ro\", \"type\": \"bind\", \"source\": \"$TEST_DIR/src\", \"options\": [\"rbind\", \"ro\"]},
		{\"destination\": \"/rro\", \"type\": \"bind\", \"source\": \"$TEST_DIR/src\", \"options\": [\"rbind\", \"rro\"]},
		{\"destination\": \"/rw\", \"type\": \"bind\", \"source\": \"$TEST_DIR/src\", \"options\": [\"bind\", \"nosuid\", \"noexec\"]},
		{\"destination\": \"/etc/hostfile\", \"type\": \"bind\", \"source\": \"$TEST_DIR/src/file\", \"options\": [\"bind\", \"ro\"]}]"
	args sh -c 'cat /ro/file; touch /ro/x 2>/dev/null && echo ro-writable || echo ro-ok; cat /rro/sub/f; touch /rro/sub/x 2>/dev/null && echo rro-writable || echo rro-ok; touch /rw/w && echo rw-ok; grep " /rw " /proc/mounts; cat /etc/hostfile; ls /rw/sub | wc -l'
	run brisk run c1
	umount "$TEST_DIR/src/sub"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = data ]
	[ "${lines[1]}" = ro-ok ]
	[ "${lines[2]}" = sub ]
	[ "${lines[3]}" = rro-ok ]
	[ "${lines[4]}" = rw-ok ]
	[[ "${lines[5]}" == *nosuid* && "${lines[5]}" == *noexec* ]]
	[ "${lines[6]}" = data ]
	# plain bind: the submount is not carried
	[ "${lines[7]}" = 0 ]
	[ -e "$TEST_DIR/src/w" ]
}

@test "mounts: a destination that is a symlink out of the rootfs stays inside" {
	mkdir -p "$TEST_DIR/outside"
	ln -s "$TEST_DIR/outside" "$BUNDLE/rootfs/escape"
	config '.mounts += [{"destination": "/escape", "type": "tmpfs", "source": "tmpfs"}]'
	args sh -c 'touch /escape/marker'
	brisk run c1
	[ ! -e "$TEST_DIR/outside/marker" ]
	[ -d "$BUNDLE/rootfs$TEST_DIR/outside" ]
}

@test "mounts: unknown filesystem type is a clear error" {
	config '.mounts += [{"destination": "/x", "type": "nosuchfs", "source": "none"}]'
	args true
	run brisk run c1
	[ "$status" -ne 0 ]
	[[ "$output" == *"mount 'none' (nosuchfs) on '/x'"* ]]
	assert_no_leaks c1
}

@test "/dev: the default set and linux.devices" {
	config '.linux.devices = [{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 432, "uid": 0, "gid": 0}]'
	args sh -c 'for d in null zero full random urandom tty; do [ -c /dev/$d ] || echo missing $d; done; readlink /dev/ptmx; readlink /dev/fd; readlink /dev/stdin; stat -c "%t:%T %a" /dev/mynull; echo x > /dev/mynull && echo wrote; [ -d /dev/pts ] && [ -d /dev/shm ] && [ -d /dev/mqueue ] && echo dirs'
	run brisk run c1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = pts/ptmx ]
	[ "${lines[1]}" = /proc/self/fd ]
	[ "${lines[2]}" = /proc/self/fd/0 ]
	[ "${lines[3]}" = "1:3 660" ]
	[ "${lines[4]}" = wrote ]
	[ "${lines[5]}" = dirs ]
}

@test "maskedPaths and readonlyPaths; /proc/sys read-only" {
	args sh -c 'cat /proc/timer_list 2>/dev/null | wc -c; ls /sys/firmware | wc -l; (echo 1 > /proc/sys/kernel/domainname) 2>/dev/null && echo sys-writable || echo sys-ro; umount /proc/timer_list 2>/dev/null && echo unmasked || echo still-masked'
	run brisk run c1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 0 ]
	[ "${lines[1]}" = 0 ]
	[ "${lines[2]}" = sys-ro ]
	[ "${lines[3]}" = still-masked ]
}

@test "namespaces: pid, network, ipc, uts are new; joining a network namespace by path" {
	args sh -c 'echo $$; ls /sys/class/net | tr "\n" " "'
	run brisk run c1
	[ "${lines[0]}" = 1 ]
	[ "${lines[1]}" = "lo " ]
	args sleep 100
	brisk run -d holder
	hpid=$(state_field holder pid)
	config "del(.hostname) | .linux.namespaces = [{\"type\": \"pid\"}, {\"type\": \"mount\"}, {\"type\": \"network\", \"path\": \"/proc/$hpid/ns/net\"}]"
	args readlink /proc/self/ns/net
	run brisk run c2
	[ "$output" = "$(readlink /proc/$hpid/ns/net)" ]
}

@test "namespaces: a user namespace with mappings" {
	config '.linux.namespaces += [{"type": "user"}] | .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}] | .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
	chown -R 100000:100000 "$BUNDLE/rootfs"
	args sh -c 'cat /proc/self/uid_map; id -u'
	run brisk run c1
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^\ +0\ +100000\ +65536$ ]]
	[ "${lines[1]}" = 0 ]
}

@test "namespaces: every uid/gid mapping is written, in one write" {
	# 322 single-id mappings: 4076 bytes, which the kernel takes in its one write
	maps='[range(0; 322) | {"containerID": ., "hostID": (100000 + .), "size": 1}]'
	config ".linux.namespaces += [{\"type\": \"user\"}] | .linux.uidMappings = $maps | .linux.gidMappings = $maps"
	chown -R 100000:100000 "$BUNDLE/rootfs"
	args sh -c 'wc -l </proc/self/uid_map; wc -l </proc/self/gid_map; tail -n1 /proc/self/uid_map'
	run brisk run c1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 322 ]
	[ "${lines[1]}" = 322 ]
	[[ "${lines[2]}" =~ ^\ +321\ +100321\ +1$ ]]
}

@test "namespaces: mappings the kernel cannot take are an error naming the field" {
	maps='[range(0; 400) | {"containerID": ., "hostID": (100000 + .), "size": 1}]'
	config ".linux.namespaces += [{\"type\": \"user\"}] | .linux.uidMappings = $maps | .linux.gidMappings = [{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}]"
	chown -R 100000:100000 "$BUNDLE/rootfs"
	args true
	run brisk run c1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"linux.uidMappings: 400 entries"*"at most 340"* ]]
	assert_no_leaks c1
	# under 340 entries, but with long ids more bytes than the one write takes
	maps='[range(0; 330) | {"containerID": (1000000000 + .), "hostID": (1000000000 + .), "size": 1}]'
	config ".linux.gidMappings = $maps | .linux.uidMappings = [{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}]"
	run brisk run c1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"linux.gidMappings: 7920 bytes"* ]]
	assert_no_leaks c1
}

@test "namespaces: time namespace with offsets" {
	config '.linux.namespaces += [{"type": "time"}] | .linux.timeOffsets = {"boottime": {"secs": 86400, "nanosecs": 0}}'
	host_up=$(cut -d. -f1 /proc/uptime)
	args cut -d. -f1 /proc/uptime
	run brisk run c1
	[ "$status" -eq 0 ]
	[ "$output" -ge $((host_up + 86000)) ]
}

@test "namespaces: unknown type is refused" {
	config '.linux.namespaces += [{"type": "bogus"}]'
	args true
	run brisk run c1
	[ "$status" -ne 0 ]
	[[ "$output" == *"unknown type 'bogus'"* ]]
}

@test "sysctl in the container's network namespace" {
	config '.linux.sysctl = {"net.ipv4.ip_forward": "1"}'
	args cat /proc/sys/net/ipv4/ip_forward
	run brisk run c1
	[ "$output" = 1 ]
	[ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$(cat /proc/sys/net/ipv4/ip_forward)" ]
}

@test "hooks: all six run in order with the state on stdin" {
	log=$TEST_DIR/hooks.log
	cat >"$TEST_DIR/hook.sh" <<'HOOK'
#!/bin/sh
read -r s
echo "$1 $(echo "$s" | grep -o '"status":"[a-z]*"')" >> "$(dirname "$0")/hooks.log"
HOOK
	chmod +x "$TEST_DIR/hook.sh"
	h() { echo "[{\"path\": \"$TEST_DIR/hook.sh\", \"args\": [\"hook.sh\", \"$1\"]}]"; }
	config ".hooks = {\"prestart\": $(h prestart), \"createRuntime\": $(h createRuntime), \"createContainer\": $(h createContainer), \"startContainer\": $(h startContainer), \"poststart\": $(h poststart), \"poststop\": $(h poststop)}"
	# startContainer runs inside the container: give it the same path there
	mkdir -p "$BUNDLE/rootfs$TEST_DIR"
	config ".mounts += [{\"destination\": \"$TEST_DIR\", \"type\": \"bind\", \"source\": \"$TEST_DIR\", \"options\": [\"bind\"]}]"
	args true
	brisk run c1
	cat "$log"
	[ "$(cut -d' ' -f1 "$log" | tr '\n' ' ')" = "prestart createRuntime createContainer startContainer poststart poststop " ]
	grep -q 'poststop "status":"stopped"' "$log"
	grep -q 'prestart "status":"creating"' "$log"
}

@test "hooks: a failing prestart hook fails create and leaves nothing" {
	config '.hooks = {"prestart": [{"path": "/bin/false"}]}'
	args true
	run brisk create c1
	[ "$status" -ne 0 ]
	[[ "$output" == *"prestart hook '/bin/false' exited with status 1"* ]]
	assert_no_leaks c1
}

@test "hooks: a timeout kills the hook" {
	config '.hooks = {"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]}'
	args true
	run brisk create c1
	[ "$status" -ne 0 ]
	[[ "$output" == *"timed out after 1 s"* ]]
	assert_no_leaks c1
}

@test "seccomp: a rule returns the chosen errno" {
	config '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}'
	args sh -c 'mkdir /tmp/d 2>&1; echo rc=$?'
	run brisk run c1
	[[ "$output" == *"Operation not permitted"* ]]
	[[ "$output" == *"rc=1"* ]]
}

@test "seccomp: a syscall newer than the profile gets ENOSYS, not the default action" {
	unistd=/usr/include/x86_64-linux-gnu/asm/unistd_64.h
	[ "$(uname -m)" = x86_64 ] || skip "x86_64 syscall numbers"
	[ -r "$unistd" ] || skip "no $unistd"
	command -v perl >/dev/null || skip "no perl"
	# a profile that knows every syscall up to pidfd_open (434) but acct (163)
	names=$(awk '$1 == "#define" && $2 ~ /^__NR_/ && $3 <= 434 && $2 != "__NR_acct" {print substr($2, 6)}' "$unistd" | jq -R . | jq -sc .)
	config ".linux.seccomp = {\"defaultAction\": \"SCMP_ACT_ERRNO\", \"architectures\": [\"SCMP_ARCH_X86_64\"], \"syscalls\": [{\"names\": $names, \"action\": \"SCMP_ACT_ALLOW\"}]}"
	# the host's perl makes the syscalls
	ln -s usr/lib "$BUNDLE/rootfs/lib"
	ln -s usr/lib64 "$BUNDLE/rootfs/lib64"
	config '.mounts += [{"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind", "ro"]}]'
	args /usr/bin/perl -e 'for (435, 1000, 163) { syscall($_, 0, 0); print $! + 0, "\n" }'
	run brisk run c1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 38 ] # clone3: ENOSYS, so that libc falls back to clone
	[ "${lines[1]}" = 38 ] # no syscall at all
	[ "${lines[2]}" = 1 ]  # acct, older than the profile: its default, EPERM
}

@test "seccomp: an unknown action is a clear error" {
	config '.linux.seccomp = {"defaultAction": "SCMP_ACT_BOGUS"}'
	args true
	run brisk run c1
	[ "$status" -ne 0 ]
	[[ "$output" == *"SCMP_ACT_BOGUS"* ]]
	assert_no_leaks c1
}

@test "fds: only stdio reaches the process; --preserve-fds passes more" {
	args sh -c 'ls /proc/self/fd | tr "\n" " "'
	run brisk run c1 3>/dev/null 4>/dev/null
	[ "$output" = "0 1 2 3 " ] # 3 is ls's own directory fd
	args sh -c 'ls /proc/self/fd | tr "\n" " "'
	run brisk run --preserve-fds 1 c2 3>/dev/null 4>/dev/null
	[ "$output" = "0 1 2 3 4 " ]
}

@test "security: the cwd is inside the container (CVE-2024-21626 class)" {
	args sh -c 'readlink /proc/self/cwd; ls /proc/1/cwd/ >/dev/null && echo ok'
	run brisk run c1
	[ "${lines[0]}" = / ]
}

@test "security: container processes cannot reach the runtime binary through /proc/PID/exe" {
	# the init, before exec, is not dumpable: another process of the container cannot
	# open its /proc/PID/exe (CVE-2019-5736 class)
	args sleep 100
	brisk create c1
	pid=$(state_field c1 pid)
	# the init runs brisk (from a read-only clone of the binary: the same inode)
	[ "$(stat -Lc %d:%i /proc/$pid/exe)" = "$(stat -Lc %d:%i "$BRISK")" ]
	[ "$(awk '/^Uid/ {print $2}' /proc/$pid/status)" = 0 ]
	# a container-like process (no CAP_SYS_PTRACE) cannot open it
	run nsenter -t "$pid" -m -p sh -c "setpriv --bounding-set -all --inh-caps -all true 2>/dev/null; exec setpriv --bounding-set -sys_ptrace --inh-caps -all -- cat /proc/1/exe >/dev/null"
	[ "$status" -ne 0 ]
	cp "$BRISK" "$TEST_DIR/copy"
	cmp "$BRISK" "$TEST_DIR/copy"
}

@test "terminal: the pty master goes to the console socket" {
	sock=$TEST_DIR/console.sock
	"$BUILD_ROOT/tests/integration/recvtty" "$sock" >"$TEST_DIR/tty.out" &
	rpid=$!
	for i in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
	config '.process.terminal = true'
	args sh -c 'tty; echo term-ok'
	brisk create --console-socket "$sock" c1
	brisk start c1
	wait $rpid
	cat "$TEST_DIR/tty.out"
	grep -q '/dev/pts/0' "$TEST_DIR/tty.out"
	grep -q 'term-ok' "$TEST_DIR/tty.out"
	run brisk create c2
	[ "$status" -ne 0 ]
	[[ "$output" == *"--console-socket is required"* ]]
}

@test "annotations are in the state" {
	config '.annotations = {"org.example.key": "value"}'
	args sleep 100
	brisk create c1
	[ "$(state_field c1 'annotations["org.example.key"]')" = value ]
}

@test "intelRdt and personality" {
	config '.linux.personality = {"domain": "LINUX32"}'
	args uname -m
	run brisk run c1
	[ "$output" = i686 ]
	config 'del(.linux.personality) | .linux.intelRdt = {"closID": "x"}'
	run brisk run c2
	[ "$status" -ne 0 ]
	[[ "$output" == *"intelRdt"* ]]
}

@test "mounts: idmapped bind mount" {
	mkdir -p "$TEST_DIR/idsrc"
	echo x >"$TEST_DIR/idsrc/f"
	echo x >"$TEST_DIR/idsrc/g"
	chown 1000:1000 "$TEST_DIR/idsrc/g"
	config ".mounts += [{\"destination\": \"/idm\", \"type\": \"bind\", \"source\": \"$TEST_DIR/idsrc\", \"options\": [\"bind\", \"idmap\"], \"uidMappings\": [{\"containerID\": 0, \"hostID\": 1000, \"size\": 1}], \"gidMappings\": [{\"containerID\": 0, \"hostID\": 1000, \"size\": 1}]}]"
	args sh -c 'stat -c "%u:%g" /idm/f; stat -c "%u:%g" /idm/g'
	run brisk run c1
	[ "$status" -eq 0 ]
	# as runc 1.2+ and crun map it: the file owned by 0 (containerID) on disk shows as 1000
	# (hostID); the one owned by 1000 is not mapped
	[ "${lines[0]}" = "1000:1000" ]
	[ "${lines[1]}" = "65534:65534" ]
	[ "$(stat -c %u "$TEST_DIR/idsrc/f")" = 0 ]
}

@test "mounts: an idmapped mount takes every mapping" {
	mkdir -p "$TEST_DIR/idsrc"
	echo x >"$TEST_DIR/idsrc/f"
	chown 149:149 "$TEST_DIR/idsrc/f"
	# 150 mappings, over 1 KiB of text: the file's owner is mapped by the last one (149 on
	# disk, its containerID, shows as its hostID)
	maps='[range(0; 150) | {"containerID": ., "hostID": (1000 + .), "size": 1}]'
	config ".mounts += [{\"destination\": \"/idm\", \"type\": \"bind\", \"source\": \"$TEST_DIR/idsrc\", \"options\": [\"bind\", \"idmap\"], \"uidMappings\": $maps, \"gidMappings\": $maps}]"
	args stat -c "%u:%g" /idm/f
	run brisk run c1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "1149:1149" ]
}

@test "mounts: /sys/fs/cgroup shows the container's own cgroups (cgroup namespace)" {
	# (brisk spec, as runc's, has a cgroup namespace on cgroup v2 hosts only)
	config '.linux.namespaces |= map(select(.type != "cgroup")) + [{"type": "cgroup"}]
		| .linux.resources.pids = {"limit": 77}'
	args sh -c 'cat /proc/self/cgroup | head -3; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max'
	run brisk run c1
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *":/" ]]
	[ "${lines[3]}" = 77 ]
}

@test "rootfsPropagation shared; no mount namespace means chroot in the host's mounts" {
	config '.linux.rootfsPropagation = "shared"'
	args sh -c 'awk "\$5 == \"/\"" /proc/self/mountinfo'
	run brisk run c1
	[ "$status" -eq 0 ]
	[[ "$output" == *shared:* ]]
	# a hostname without a uts namespace of its own would rename the host: refused
	config '.linux.namespaces = [{"type": "pid"}] | .mounts = [] | .linux.rootfsPropagation = null'
	args ls /bin/busybox
	before=$(hostname)
	run brisk run c2
	[ "$status" -ne 0 ]
	[[ "$output" == *"need a uts namespace of the container"* ]]
	[ "$(hostname)" = "$before" ]
	config 'del(.hostname) | del(.linux.sysctl)'
	run brisk run c3
	[ "$status" -eq 0 ]
	[ "$output" = /bin/busybox ]
}

@test "start returns once the program runs, not before its exec" {
	args sleep 100
	for i in 1 2 3 4 5; do
		brisk create c$i
		pid=$(state_field c$i pid)
		# the init runs brisk (from a read-only clone of the binary: the same inode)
		[ "$(stat -Lc %d:%i /proc/$pid/exe)" = "$(stat -Lc %d:%i "$BRISK")" ]
		brisk start c$i
		# no sleep: the init has exec'd by the time start returns
		[ "$(readlink /proc/$pid/exe)" = /bin/busybox ]
		brisk delete --force c$i
	done
}

@test "process: ioPriority, scheduler, execCPUAffinity" {
	config '.process.ioPriority = {"class": "IOPRIO_CLASS_IDLE", "priority": 0} | .process.scheduler = {"policy": "SCHED_BATCH", "nice": 5} | .process.execCPUAffinity = {"initial": "0", "final": "0"}'
	args sh -c 'ionice -p $$; cat /proc/self/stat | cut -d" " -f19,41; taskset -p $$'
	run brisk run c1
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *idle* ]]
	# field 19 nice, field 41 policy (3 = SCHED_BATCH)
	[ "${lines[1]}" = "5 3" ]
	[[ "${lines[2]}" == *": 1" ]]
	config '.process.scheduler = {"policy": "SCHED_NOPE"}'
	run brisk run c2
	[ "$status" -ne 0 ]
	[[ "$output" == *"SCHED_NOPE"* ]]
}

@test "seccomp: SCMP_ACT_NOTIFY sends the listener to listenerPath" {
	sock=$TEST_DIR/agent.sock
	python3 - "$sock" >"$TEST_DIR/agent.out" <<'PY' &
import array, json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(1)
s.settimeout(60)
c, _ = s.accept()
fds = array.array("i")
msg, anc, flags, addr = c.recvmsg(65536, socket.CMSG_SPACE(4))
for level, typ, data in anc:
    fds.frombytes(data[:4])
st = json.loads(msg.decode())
print(st["ociVersion"] != "", st["fds"], len(fds), st["metadata"])
PY
	apid=$!
	for i in $(seq 300); do [ -S "$sock" ] && break; sleep 0.1; done
	config ".linux.seccomp = {\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"$sock\", \"listenerMetadata\": \"meta1\", \"syscalls\": [{\"names\": [\"getpgid\"], \"action\": \"SCMP_ACT_NOTIFY\"}]}"
	args true
	brisk run c1
	wait $apid
	cat "$TEST_DIR/agent.out"
	[ "$(cat "$TEST_DIR/agent.out")" = "True ['seccompFd'] 1 meta1" ]
}
