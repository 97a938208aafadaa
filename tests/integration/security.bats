#!/usr/bin/env bats
# The classes of container runtime CVEs: each test fails on a runtime that has the hole.

load helpers

setup() {
	common_setup
	PFX=sec$$x
}
teardown() { common_teardown; }

# in_container SCRIPT: run SCRIPT with busybox sh in a fresh container; output in $output
in_container() {
	config ".process.args = [\"sh\", \"-c\", $(printf %s "$1" | jq -Rs .)]"
	run brisk run "${PFX}c"
}

# CVE-2019-5736: until its execve, the container's init runs the host's brisk binary, so
# /proc/self/exe in the container is a way to that file. Executing it must not run the host's
# binary (runc clones itself into a sealed memfd first).
@test "CVE-2019-5736: the container cannot execute the host's brisk through /proc/self/exe" {
	cp "$BRISK" "$TEST_DIR/brisk-copy"
	BRISK=$TEST_DIR/brisk-copy
	args /proc/self/exe --version
	run brisk run "${PFX}c"
	echo "status $status: $output"
	if [[ "$output" == *"brisk version"* ]]; then
		echo "VULNERABLE: execve(/proc/self/exe) in the container runs the host's brisk binary (no memfd clone of the runtime)"
		return 1
	fi
	[[ "$output" != *"brisk version"* ]]
}

# The whole attack: container A shares its pid namespace with container B, whose entry point
# is /proc/self/exe, held in open() of a fifo. A opens B's /proc/PID/exe, lets B exit and
# reopens the file for writing through /proc/self/fd. The host's binary (a copy here) must be
# unchanged.
@test "CVE-2019-5736: the host's brisk binary cannot be overwritten through /proc/PID/exe" {
	cp "$BRISK" "$TEST_DIR/brisk-copy"
	BRISK=$TEST_DIR/brisk-copy
	local sum
	sum=$(sha256sum <"$BRISK")
	mkdir -p "$TEST_DIR/shared" "$BUNDLE/rootfs/shared"
	mkfifo "$TEST_DIR/shared/fifo"
	config ".mounts += [{\"destination\": \"/shared\", \"type\": \"bind\", \"source\": \"$TEST_DIR/shared\", \"options\": [\"rbind\"]}]"
	cat >"$TEST_DIR/shared/attack.sh" <<'EOF'
while [ ! -e /shared/go ]; do sleep 0.05; done
for p in /proc/[0-9]*; do
	p=${p#/proc/}
	[ "$p" = $$ ] && continue
	t=$(readlink /proc/$p/exe) || { echo "pid $p: exe not readable"; continue; }
	echo "pid $p: exe $t"
	case $t in *busybox*) continue ;; esac
	exec 3</proc/$p/exe || { echo "pid $p: open refused"; continue; }
	cat /shared/fifo >/dev/null &
	while [ -d /proc/$p ]; do sleep 0.05; done
	echo '#!/bin/sh' 2>/dev/null >/proc/self/fd/3 && echo OVERWRITTEN
done
echo scanned
EOF
	args sh /shared/attack.sh
	brisk create "${PFX}a"
	brisk start "${PFX}a"
	local apid
	apid=$(state_field "${PFX}a" pid)
	cp -a "$BUNDLE" "$TEST_DIR/b2"
	BUNDLE=$TEST_DIR/b2
	config ".linux.namespaces = [.linux.namespaces[] | if .type == \"pid\" then .path = \"/proc/$apid/ns/pid\" else . end]"
	config '.process.args = ["/proc/self/exe", "--log", "/shared/fifo", "--version"]'
	(cd "$BUNDLE" && "$BRISK" --root "$STATE_ROOT" run -d "${PFX}b") || true
	touch "$TEST_DIR/shared/go"
	# A sees "scanned" on its stdout, which is ours after run -d of a; wait for it to exit
	local i
	for i in $(seq 1 100); do
		[ "$(state_field "${PFX}a" status)" = stopped ] && break
		sleep 0.1
	done
	# unblock a B that nobody opened the fifo for
	timeout 2 cat "$TEST_DIR/shared/fifo" >/dev/null 2>&1 || true
	if [ "$(sha256sum <"$BRISK")" != "$sum" ]; then
		echo "VULNERABLE: a container overwrote the host's brisk binary through /proc/PID/exe"
		return 1
	fi
	[ "$(sha256sum <"$BRISK")" = "$sum" ]
}

# The init is not dumpable until execve: another process of the container (here: of a
# container sharing its pid namespace) cannot open its /proc/PID/exe during create.
@test "CVE-2019-5736: a created container's init is not dumpable" {
	mkdir -p "$TEST_DIR/shared" "$BUNDLE/rootfs/shared"
	config ".mounts += [{\"destination\": \"/shared\", \"type\": \"bind\", \"source\": \"$TEST_DIR/shared\", \"options\": [\"rbind\"]}]"
	args sh -c 'while [ ! -e /shared/go ]; do sleep 0.05; done; for p in /proc/[0-9]*; do p=${p#/proc/}; [ $p = $$ ] && continue; if head -c 4 /proc/$p/exe >/dev/null 2>&1; then echo "$p exe readable"; else echo "$p exe refused"; fi; done > /shared/out; sleep 100'
	brisk run -d "${PFX}a"
	local apid
	apid=$(state_field "${PFX}a" pid)
	cp -a "$BUNDLE" "$TEST_DIR/b2"
	BUNDLE=$TEST_DIR/b2
	config ".linux.namespaces = [.linux.namespaces[] | if .type == \"pid\" then .path = \"/proc/$apid/ns/pid\" else . end]"
	args true
	(cd "$BUNDLE" && brisk create "${PFX}b")
	[ "$(state_field "${PFX}b" status)" = created ]
	touch "$TEST_DIR/shared/go"
	for i in $(seq 1 50); do
		[ -s "$TEST_DIR/shared/out" ] && break
		sleep 0.1
	done
	cat "$TEST_DIR/shared/out"
	grep -q "exe refused" "$TEST_DIR/shared/out"
	if grep -q "exe readable" "$TEST_DIR/shared/out"; then echo "unexpected: this matched"; return 1; fi
}

# CVE-2024-21626: a directory fd of the host leaked into the init becomes a way out through
# process.cwd = /proc/self/fd/N.
@test "CVE-2024-21626: no host directory fd reaches the container, as cwd or otherwise" {
	in_container 'ls -l /proc/self/fd/ | grep -- "->"; readlink /proc/self/cwd'
	echo "$output"
	[ "$status" -eq 0 ]
	# only 0-2 (and ls's own directory fd), none to a directory of the host
	[ "$(echo "$output" | grep -c -- '->')" -le 4 ]
	if echo "$output" | grep -- '->' | grep -v -e ' [0-3] -> ' | grep -q .; then echo "unexpected: this matched"; return 1; fi
	if echo "$output" | grep -q "$TEST_DIR"; then echo "unexpected: this matched"; return 1; fi
	[ "$(echo "$output" | tail -n 1)" = / ]
	# The init holds 0-2 only. Looked at from the host while it sleeps: a shell in the
	# container that lists its own fds holds the pipe of that very pipeline for a moment.
	args sleep 100
	brisk run -d "${PFX}i"
	local fds
	fds=$(ls "/proc/$(state_field "${PFX}i" pid)/fd" | sort -n | tr '\n' ' ')
	echo "init fds: $fds"
	[ "$fds" = "0 1 2 " ]
	brisk delete --force "${PFX}i"
	local n
	for n in 3 4 5 6 7 8 9 10; do
		config ".process.cwd = \"/proc/self/fd/$n\""
		args sh -c 'cd ../../../../../../../..; [ "$(stat -c %d:%i .)" = "$(stat -c %d:%i /)" ] && echo inside || { echo ESCAPED; ls; }'
		run brisk run "${PFX}c$n"
		echo "cwd fd $n: status $status: $output"
		[[ "$output" != *ESCAPED* ]]
		assert_no_leaks "${PFX}c$n"
	done
}

# a tmpfs the container can find by its source name in its mountinfo
probe_mount='{"destination": "/mnt", "type": "tmpfs", "source": "brisk-probe", "options": ["size=64k"]}'

@test "mount destinations that are symlinks out of the rootfs stay inside" {
	mkdir -p "$TEST_DIR/outside"
	local target
	for target in "$TEST_DIR/outside" ../../outside ../../../../../../../../"$TEST_DIR/outside"; do
		rm -rf "$BUNDLE/rootfs/mnt"
		ln -s "$target" "$BUNDLE/rootfs/mnt"
		config ".mounts = [.mounts[] | select(.source != \"brisk-probe\")] + [$probe_mount]"
		in_container 'grep brisk-probe /proc/self/mountinfo | cut -d" " -f5; stat -f -c %T /mnt/'
		echo "-> $target: $output"
		[ "$status" -eq 0 ]
		[ "$(echo "$output" | tail -n 1)" = tmpfs ]
		# nothing appeared on the host side
		[ -z "$(ls -A "$TEST_DIR/outside")" ]
		if grep -q " $TEST_DIR/outside " /proc/self/mountinfo; then echo "unexpected: this matched"; return 1; fi
		assert_no_leaks "${PFX}c"
	done
}

@test "a mount destination swapped for a symlink during create stays inside" {
	mkdir -p "$TEST_DIR/outside"
	config ".mounts += [$probe_mount]"
	args sh -c 'grep -c brisk-probe /proc/self/mountinfo'
	# swap /mnt between a directory and a symlink out of the rootfs while containers start
	(
		while [ ! -e "$TEST_DIR/stop" ]; do
			rm -rf "$BUNDLE/rootfs/mnt"
			ln -s ../../outside "$BUNDLE/rootfs/mnt" 2>/dev/null
			rm -f "$BUNDLE/rootfs/mnt"
			mkdir "$BUNDLE/rootfs/mnt" 2>/dev/null
		done
	) &
	local swapper=$! i ok=0
	for i in $(seq 1 30); do
		run brisk run "${PFX}r$i"
		# a failed create is fine; a started container sees the mount inside its root
		if [ "$status" -eq 0 ]; then
			[ "$output" = 1 ] || { echo "run $i: probe mount not inside: $output"; touch "$TEST_DIR/stop"; return 1; }
			ok=$((ok + 1))
		fi
		brisk delete --force "${PFX}r$i" >/dev/null 2>&1 || true
	done
	touch "$TEST_DIR/stop"
	wait "$swapper" || true
	echo "$ok of 30 runs started"
	[ -z "$(ls -A "$TEST_DIR/outside")" ]
	if grep -q " $TEST_DIR/outside " /proc/self/mountinfo; then echo "unexpected: this matched"; return 1; fi
}

@test "maskedPaths and readonlyPaths cannot be undone from inside" {
	in_container '
		umount /proc/kcore 2>/dev/null && echo unmasked-kcore
		umount -l /proc/timer_list 2>/dev/null && echo unmasked-timer_list
		umount /sys/firmware 2>/dev/null && echo unmasked-firmware
		mount -o remount,rw /proc/sys 2>/dev/null && echo remounted-sys-rw
		mount -o remount,rw,bind /proc/sysrq-trigger 2>/dev/null && echo remounted-sysrq-rw
		mount -t proc proc /mnt 2>/dev/null && echo mounted-new-proc
		mount --bind / /mnt 2>/dev/null && echo bind-mounted
		[ -s /proc/kcore ] && echo kcore-readable
		head -c 1 /proc/timer_list 2>/dev/null | grep -q . && echo timer_list-readable
		[ -n "$(ls -A /sys/firmware 2>/dev/null)" ] && echo firmware-listed
		echo x 2>/dev/null >/proc/sysrq-trigger && echo sysrq-written
		echo done'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = done ]
}

@test "/proc/sys and /sys are read-only by default" {
	in_container '
		echo brisk-evil 2>/dev/null >/proc/sys/kernel/domainname && echo proc-sys-written
		echo 1 2>/dev/null >/proc/sys/vm/drop_caches && echo drop-caches-written
		touch /sys/brisk-x 2>/dev/null && echo sys-written
		echo change 2>/dev/null >/sys/kernel/uevent_helper && echo uevent-helper-written
		awk "\$5 == \"/sys\" || \$5 == \"/proc/sys\" {print \$5, \$6}" /proc/self/mountinfo
		echo done'
	echo "$output"
	[ "$status" -eq 0 ]
	if echo "$output" | grep -q written; then echo "unexpected: this matched"; return 1; fi
	echo "$output" | grep -q '^/sys ro'
	echo "$output" | grep -q '^/proc/sys ro'
	[ "$(cat /proc/sys/kernel/domainname)" != brisk-evil ]
}

@test "the state dir is not readable by other users (0700)" {
	args sleep 100
	brisk create "${PFX}c"
	[ "$(stat -c %a "$STATE_ROOT/${PFX}c")" = 700 ]
	[ "$(stat -c %u "$STATE_ROOT/${PFX}c")" = 0 ]
	run setpriv --reuid=65534 --regid=65534 --clear-groups ls "$STATE_ROOT/${PFX}c"
	[ "$status" -ne 0 ]
	run setpriv --reuid=65534 --regid=65534 --clear-groups cat "$STATE_ROOT/${PFX}c/state.json"
	[ "$status" -ne 0 ]
	brisk delete --force "${PFX}c"
	assert_no_leaks "${PFX}c"
}

# crafted_image KIND LAYOUT: an image whose layers try to write outside the export target
crafted_image() {
	python3 - "$1" "$2" "$TEST_DIR/outside" <<'EOF'
import os, sys, tarfile
sys.path.insert(0, os.path.join(os.environ["SOURCE_ROOT"], "tests/integration/imagefs"))
import mkimage
kind, layout, outside = sys.argv[1:4]
l1, l2 = mkimage.Layer(), mkimage.Layer()
if kind == "symlink-abs-then-file":
    l1.add("esc", tarfile.SYMTYPE, link=outside)
    l2.add("esc/pwned", data=b"x")
elif kind == "symlink-rel-then-file":
    l1.add("esc", tarfile.SYMTYPE, link="../../../../../../../.." + outside)
    l2.add("esc/pwned", data=b"x")
elif kind == "symlink-then-replace":
    l1.add("f", tarfile.SYMTYPE, link=outside + "/victim")
    l2.add("f", data=b"pwned")
elif kind == "hardlink-to-symlink":
    l1.add("s", tarfile.SYMTYPE, link=outside + "/victim")
    l1.add("h", tarfile.LNKTYPE, link="s")
    l2.add("h", data=b"pwned")
elif kind == "dir-symlink-whiteout":
    l1.add("esc", tarfile.SYMTYPE, link=outside)
    l2.add("esc/.wh.victim")
os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
m, tag = mkimage.write_layout(layout, [(l1.raw(), mkimage.MT_GZIP), (l2.raw(), mkimage.MT_GZIP)])
mkimage.finish(layout, m, tag)
EOF
}

@test "a crafted tar cannot write outside the conversion target" {
	local image=${BRISK_IMAGE:-$BUILD_ROOT/tools/brisk-image} k
	[ -x "$image" ] || skip "brisk-image not built"
	mkdir -p "$TEST_DIR/outside"
	echo original >"$TEST_DIR/outside/victim"
	for k in symlink-abs-then-file symlink-rel-then-file symlink-then-replace hardlink-to-symlink dir-symlink-whiteout; do
		crafted_image "$k" "$TEST_DIR/img-$k"
		run "$image" convert oci:"$TEST_DIR/img-$k" dir:"$TEST_DIR/store:$k"
		echo "$k convert: $status $output"
		[ "$status" -lt 128 ]
		if [ "$status" -eq 0 ]; then
			run "$image" export dir:"$TEST_DIR/store:$k" "$TEST_DIR/out-$k"
			echo "$k export: $status $output"
			[ "$status" -lt 128 ]
		fi
		[ "$(cat "$TEST_DIR/outside/victim")" = original ]
		[ "$(ls -A "$TEST_DIR/outside")" = victim ]
	done
}

@test "a crafted image index cannot make brisk-image crash, read out of bounds or loop" {
	local image=${BRISK_IMAGE:-$BUILD_ROOT/tools/brisk-image} f
	[ -x "$image" ] || skip "brisk-image not built"
	python3 "$SOURCE_ROOT/tests/integration/imagefs/mkimage.py" busybox "$TEST_DIR/bb"
	"$image" convert oci:"$TEST_DIR/bb" dir:"$TEST_DIR/store:bb" >/dev/null
	for f in "$SOURCE_ROOT"/tests/fuzz/corpus/index/*; do
		# the store names the crafted index with its digest, as if it had made it
		python3 - "$TEST_DIR/store" "$f" <<'EOF'
import hashlib, json, os, sys
store, path = sys.argv[1:3]
blobs = os.path.join(store, "blobs", "sha256")
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data)
    return "sha256:" + d
idx = json.load(open(os.path.join(store, "index.json")))
ref = next(m for m in idx["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == "bb")
man = json.load(open(os.path.join(blobs, ref["digest"][7:])))
data = open(path, "rb").read()
man["layers"][0]["digest"], man["layers"][0]["size"] = put(data), len(data)
mb = json.dumps(man).encode()
idx["manifests"].append(dict(ref, digest=put(mb), size=len(mb),
                             annotations={"org.opencontainers.image.ref.name": "crafted"}))
idx["manifests"] = [m for m in idx["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] != "crafted" or m["digest"] == idx["manifests"][-1]["digest"]]
json.dump(idx, open(os.path.join(store, "index.json"), "w"))
EOF
		rm -rf "$TEST_DIR/out"
		local cmd
		for cmd in "inspect --tree" verify export; do
			if [ "$cmd" = export ]; then
				run timeout 20 "$image" export dir:"$TEST_DIR/store:crafted" "$TEST_DIR/out"
			else
				run timeout 20 "$image" $cmd dir:"$TEST_DIR/store:crafted"
			fi
			echo "${f##*/} $cmd: $status ${output:0:200}"
			# refused or fine; never a signal (124: the timeout, a loop)
			[ "$status" -lt 124 ]
			[[ "$output" != *Sanitizer* ]]
		done
	done
}

@test "snapshot images are not readable by other users, even in a directory that was" {
	command -v criu >/dev/null || skip "criu is not installed"
	args sleep 100
	brisk run -d "${PFX}c" </dev/null >/dev/null 2>&1
	mkdir -m 0755 "$TEST_DIR/img"
	brisk checkpoint --image-path "$TEST_DIR/img" "${PFX}c"
	[ "$(stat -c %a "$TEST_DIR/img")" = 700 ]
	ls "$TEST_DIR/img" | grep -q '^pages-.*\.img$'
	run setpriv --reuid=65534 --regid=65534 --clear-groups ls "$TEST_DIR/img"
	[ "$status" -ne 0 ]
	# and each image on its own, should the directory be opened up
	local f
	for f in "$TEST_DIR"/img/*; do
		[ $(($(stat -c 0%a "$f") & 077)) = 0 ] || { ls -l "$f"; return 1; }
	done
	brisk delete --force "${PFX}c"
	assert_no_leaks "${PFX}c"
}

# The CVE-2019-5736 attack through an interpreter: a script whose first line is
# `#!/proc/self/exe ...` makes the kernel execute, as the script's interpreter, whatever binary
# the process that execs the script is running: the runtime's. Container A waits for a
# process whose exe is not busybox, holds it open, lets it exit and reopens it for writing
# through /proc/self/fd. run_interpreter_attack HOW: HOW is "exec" (brisk exec -d of the
# script into A) or "init" (the script is the init of a container B in A's pid namespace).
run_interpreter_attack() {
	local how=$1
	cp "$BRISK" "$TEST_DIR/brisk-copy"
	BRISK=$TEST_DIR/brisk-copy
	local sum
	sum=$(sha256sum <"$BRISK")
	mkdir -p "$TEST_DIR/shared" "$BUNDLE/rootfs/shared"
	mkfifo "$TEST_DIR/shared/fifo"
	config ".mounts += [{\"destination\": \"/shared\", \"type\": \"bind\", \"source\": \"$TEST_DIR/shared\", \"options\": [\"rbind\"]}]"
	# A dynamically linked brisk (a sanitizer build) runs in the container only with its
	# loader and libraries: an attacker ships them in the image.
	local lib
	for lib in $(ldd "$BRISK" 2>/dev/null | grep -o '/[^ ]*'); do
		mkdir -p "$BUNDLE/rootfs${lib%/*}"
		cp -L "$lib" "$BUNDLE/rootfs$lib"
	done
	# the runtime as the interpreter, held in open() of the fifo by its --log
	printf '#!/proc/self/exe --log=/shared/fifo\n' >"$TEST_DIR/shared/evil.sh"
	chmod 755 "$TEST_DIR/shared/evil.sh"
	cat >"$TEST_DIR/shared/attack.sh" <<'SH'
i=0
while [ $i -lt 400 ]; do
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = $$ ] && continue
		t=$(readlink /proc/$p/exe 2>/dev/null) || continue
		case $t in *busybox*) continue ;; esac
		( : </proc/$p/exe ) 2>/dev/null || { echo "pid $p ($t): open refused"; continue; }
		exec 3</proc/$p/exe
		echo "pid $p: holds $t"
		cat /shared/fifo >/dev/null &
		j=0
		while [ -d /proc/$p ] && [ $j -lt 200 ]; do sleep 0.05; j=$((j + 1)); done
		if (echo '#!/bin/sh' >/proc/self/fd/3) 2>/dev/null; then
			echo OVERWRITTEN
		else
			echo "write refused"
		fi
		exit 0
	done
	sleep 0.05
	i=$((i + 1))
done
echo "nothing found"
SH
	args sh -c 'sh /shared/attack.sh >/shared/out 2>&1'
	brisk run -d "${PFX}a" </dev/null >/dev/null 2>&1
	if [ "$how" = exec ]; then
		"$BRISK" --root "$STATE_ROOT" exec -d "${PFX}a" /shared/evil.sh || true
	else
		local apid
		apid=$(state_field "${PFX}a" pid)
		cp -a "$BUNDLE" "$TEST_DIR/b2"
		BUNDLE=$TEST_DIR/b2
		config ".linux.namespaces = [.linux.namespaces[] | if .type == \"pid\" then .path = \"/proc/$apid/ns/pid\" else . end]"
		args /shared/evil.sh
		(cd "$BUNDLE" && brisk run -d "${PFX}b" </dev/null >/dev/null 2>&1) || true
	fi
	local i
	for i in $(seq 1 150); do
		[ "$(state_field "${PFX}a" status)" = stopped ] && break
		sleep 0.1
	done
	timeout 2 cat "$TEST_DIR/shared/fifo" >/dev/null 2>&1 || true
	echo "attacker: $(cat "$TEST_DIR/shared/out")"
	if [ "$(sha256sum <"$BRISK")" != "$sum" ]; then
		echo "VULNERABLE: a container overwrote the host's brisk binary through an interpreter"
		return 1
	fi
	# the attack reached the runtime's binary (else this test proves nothing)
	grep -q "holds" "$TEST_DIR/shared/out"
	grep -q "write refused" "$TEST_DIR/shared/out"
}

@test "CVE-2019-5736: a #!/proc/self/exe script run by exec cannot overwrite the host's brisk" {
	run_interpreter_attack exec
}

@test "CVE-2019-5736: a #!/proc/self/exe script as the init cannot overwrite the host's brisk" {
	run_interpreter_attack init
}

@test "CVE-2019-5736: where brisk may not mount, the interpreter finds a sealed copy" {
	BRISK_FAULT_TRACE=$TEST_DIR/trace "$BRISK" --root "$STATE_ROOT" list >/dev/null
	BRISK_FAULT_TRACE=$TEST_DIR/trace brisk create --bundle "$BUNDLE" "${PFX}p" >/dev/null 2>&1 || true
	brisk delete --force "${PFX}p" >/dev/null 2>&1 || true
	[ -s "$TEST_DIR/trace" ] || skip "brisk is a release build: no fault injection"
	rm -f "$TEST_DIR/trace"
	# the read-only clone fails (as for a rootless brisk): the memfd copy, sealed
	export BRISK_FAULT=sealed-exe
	run_interpreter_attack exec
}

# --preserve-fds N larger than what the caller passed: fds 3.. would be brisk's own (its
# state root, a container's state dir), and /proc/self/fd/N/../.. a way to the host.
@test "--preserve-fds never hands an fd of brisk's own to the container (run, create, exec)" {
	args sh -c 'ls -l /proc/self/fd/; ls /proc/self/fd/3/../../../bin/busybox && echo ESCAPED'
	run brisk run --preserve-fds 6 "${PFX}r"
	echo "run: $status: $output"
	[[ "$output" != *ESCAPED* ]] || { echo "VULNERABLE: a preserved fd was brisk's own"; return 1; }
	! echo "$output" | grep -q -- "-> $TEST_DIR" || { echo "VULNERABLE: a preserved fd was brisk's own"; return 1; }
	[ "$status" -ne 0 ]
	[[ "$output" =~ "--preserve-fds 6: fd "[0-9]+" was not passed to brisk" ]]
	assert_no_leaks "${PFX}r"
	# what the caller did pass still goes through
	run brisk run --preserve-fds 1 "${PFX}r" 3<"$BUNDLE/config.json"
	echo "run with fd 3: $status"
	[[ "$output" == *"3 -> $BUNDLE/config.json"* ]]
	args sleep 100
	brisk run -d "${PFX}e" </dev/null >/dev/null 2>&1
	run brisk exec --preserve-fds 4 "${PFX}e" sh -c 'ls -l /proc/self/fd/'
	echo "exec: $status: $output"
	! echo "$output" | grep -q -- "-> $TEST_DIR" || { echo "VULNERABLE: a preserved fd was brisk's own"; return 1; }
	[ "$status" -ne 0 ]
	[[ "$output" =~ "fd "[0-9]+" was not passed to brisk" ]]
}

# A created container's init runs the container's hooks and waits for start: it holds no fd
# of brisk's (state root, state dir, /dev/null) nor an fd its caller did not preserve.
@test "a created init holds stdio and the exec fifo only" {
	args true
	brisk create "${PFX}c" 4<"$BUNDLE/config.json" </dev/null >/dev/null 2>&1
	local pid fd t bad=
	pid=$(state_field "${PFX}c" pid)
	for fd in /proc/$pid/fd/*; do
		[ "${fd##*/}" -le 2 ] && continue
		t=$(readlink "$fd")
		echo "fd ${fd##*/} -> $t"
		[ "$t" = "$STATE_ROOT/${PFX}c/exec.fifo" ] || bad=1
	done
	[ -z "$bad" ] || { echo "VULNERABLE: the created init holds fds of brisk's or its caller's"; return 1; }
	brisk delete --force "${PFX}c"
}

# Without a mount namespace the init is chrooted into the rootfs; exec must enter that root,
# not the host's.
@test "exec into a container without a mount namespace runs in the container's root" {
	config '.linux.namespaces = [.linux.namespaces[] | select(.type != "mount")] | .linux.maskedPaths = [] | .linux.readonlyPaths = [] | .mounts = []'
	touch "$BUNDLE/rootfs/inside-marker"
	args sleep 100
	brisk run -d "${PFX}n" </dev/null >/dev/null 2>&1
	run brisk exec "${PFX}n" ls /inside-marker
	echo "exec: $status: $output"
	[ "$status" -eq 0 ] || { echo "VULNERABLE: exec ran outside the container's root"; return 1; }
	run brisk exec "${PFX}n" sh -c 'cd /; cd ..; ls /'
	[[ "$output" == *inside-marker* ]]
	brisk delete --force "${PFX}n"
	assert_no_leaks "${PFX}n"
}

# A hook that times out is killed with all it started: its process group, and what left the
# group (setsid) too. A copy of sleep under the test dir tells its processes apart.
@test "hooks: a timed-out hook's whole tree is killed, a grandchild and a setsid one included" {
	sl=$TEST_DIR/hook-sleep
	cp "$(command -v sleep)" "$sl"
	config ".hooks = {\"createRuntime\": [{\"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"$sl 37 & sh -c '$sl 39 & wait' & setsid $sl 40 & $sl 38\"], \"timeout\": 1}]}"
	args true
	start=$(date +%s)
	# the hook's processes hold our stderr: were any left, the capture would wait for them
	run brisk create "${PFX}h"
	elapsed=$(($(date +%s) - start))
	[ "$status" -ne 0 ]
	[[ "$output" == *"timed out after 1 s"* ]]
	left=$(pgrep -f "^$sl" || true)
	if [ -n "$left" ]; then
		ps -o pid,ppid,pgid,sid,args -p "$(echo $left | tr ' ' ,)" || true
		kill -9 $left
		false
	fi
	[ "$elapsed" -lt 10 ]
	assert_no_leaks "${PFX}h"
}

# As with runc, only the hook itself is waited for: a child it leaves in the background
# (its output closed) is its business, and keeps running.
@test "hooks: a hook that leaves a background child returns when the hook exits" {
	sl=$TEST_DIR/hook-sleep
	cp "$(command -v sleep)" "$sl"
	config ".hooks = {\"createRuntime\": [{\"path\": \"/bin/sh\", \"args\": [\"sh\", \"-c\", \"$sl 41 >/dev/null 2>&1 &\"], \"timeout\": 20}]}"
	args true
	start=$(date +%s)
	brisk create "${PFX}b" </dev/null >/dev/null 2>&1
	[ $(($(date +%s) - start)) -lt 10 ]
	left=$(pgrep -f "^$sl 41")
	[ -n "$left" ]
	kill -9 $left
	brisk delete --force "${PFX}b"
	assert_no_leaks "${PFX}b"
}

# Without a cgroup namespace, /sys/fs/cgroup of a v1 or hybrid host must show the container's
# own cgroup in each hierarchy, bound there as runc does, never the root of the host's
# hierarchy: that root holds release_agent (CVE-2022-0492) and the cgroups of every container.
@test "cgroup v1 without a cgroup namespace: /sys/fs/cgroup shows only the container's own cgroups" {
	[ -d /sys/fs/cgroup/pids ] && [ ! -e /sys/fs/cgroup/cgroup.controllers ] ||
		skip "needs a cgroup v1 or hybrid host with a pids hierarchy"
	local h
	# a sibling of the container's cgroup in every hierarchy: it must stay out of sight
	for h in $(awk '($9 == "cgroup" || $9 == "cgroup2") && $5 ~ "^/sys/fs/cgroup/" {print $5}' /proc/self/mountinfo); do
		mkdir -p "$h/$CGROUP_PARENT/${PFX}sibling"
	done
	config '.linux.namespaces |= map(select(.type != "cgroup")) | .linux.resources.pids = {"limit": 77}'
	in_container '
		echo "max $(cat /sys/fs/cgroup/pids/pids.max)"
		for f in /sys/fs/cgroup/*/release_agent; do [ -e "$f" ] && echo "host root: $f"; done
		find /sys/fs/cgroup -maxdepth 3 -name "*sibling*" | sed "s/^/sibling: /"
		echo 1 2>/dev/null >/sys/fs/cgroup/pids/pids.max && echo "written: pids.max"
		echo done'
	echo "status $status: $output"
	[ "$status" -eq 0 ]
	if echo "$output" | grep -Eq '^(host root|sibling|written):'; then
		echo "VULNERABLE: the container sees (or writes) the host's cgroup tree at /sys/fs/cgroup"
		return 1
	fi
	echo "$output" | grep -qx 'max 77'
	[ "$(echo "$output" | tail -n 1)" = done ]
	assert_no_leaks "${PFX}c"
}

# In a user namespace without a network namespace of its own, sysfs cannot be mounted and the
# host's /sys is bound instead: the bind, and what it carries below it, keeps the spec's
# ro,nosuid,nodev,noexec.
@test "the sysfs bind of a user namespace without a network namespace keeps ro,nosuid,nodev,noexec" {
	config '.linux.namespaces = [.linux.namespaces[] | select(.type != "network")] + [{"type": "user"}] | .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}] | .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
	chown -R 100000:100000 "$BUNDLE/rootfs"
	in_container 'awk "\$5 == \"/sys\" || \$5 ~ \"^/sys/\" {print \$5, \$6}" /proc/self/mountinfo'
	echo "status $status: $output"
	[ "$status" -eq 0 ]
	local sys
	sys=$(echo "$output" | awk '$1 == "/sys" {print $2}')
	[ -n "$sys" ]
	if echo "$output" | awk '$2 !~ /^ro(,|$)/' | grep -q . ||
		! echo ",$sys," | grep -q ',nosuid,' || ! echo ",$sys," | grep -q ',nodev,' ||
		! echo ",$sys," | grep -q ',noexec,'; then
		echo "VULNERABLE: the host's /sys is bound without the mount's ro,nosuid,nodev,noexec"
		return 1
	fi
	assert_no_leaks "${PFX}c"
}

# CVE-2019-16884 / CVE-2019-19921 class: a rootfs whose /proc (or /sys) is a symlink must not get
# proc (or sysfs) mounted wherever the link points, where a later mount could fake
# /proc/self/attr or hide maskedPaths. Refused, as runc does, naming the destination; nothing
# of the container is left.
@test "a proc or sysfs mount whose destination is a symlink is refused" {
	local dest
	mkdir -p "$BUNDLE/rootfs/elsewhere"
	for dest in /proc /sys; do
		rm -rf "${BUNDLE:?}/rootfs$dest"
		ln -s /elsewhere "$BUNDLE/rootfs$dest"
		args true
		run brisk run "${PFX}c"
		echo "$dest: status $status: $output"
		if [ "$status" -eq 0 ]; then
			echo "VULNERABLE: $dest, a symlink in the rootfs, was followed and mounted over"
			return 1
		fi
		[[ "$output" == *"'$dest'"* ]]
		[[ "$output" == *symlink* ]]
		assert_no_leaks "${PFX}c"
		rm "$BUNDLE/rootfs$dest"
		mkdir "$BUNDLE/rootfs$dest"
	done
}

# CVE-2019-19921: a mount whose destination leads, through a symlink of the rootfs, into the
# container's /proc could shadow /proc/self/attr (the LSM label) or undo maskedPaths. Refused,
# as runc does; a bind over one of the files lxcfs emulates (/proc/uptime) stays allowed.
@test "a mount that lands inside /proc through a symlink of the rootfs is refused" {
	ln -s /proc/self/attr "$BUNDLE/rootfs/attr"
	config ".mounts += [{\"destination\": \"/attr\", \"type\": \"tmpfs\", \"source\": \"brisk-probe\", \"options\": [\"size=64k\"]}]"
	in_container 'grep -c brisk-probe /proc/self/mountinfo'
	echo "status $status: $output"
	if [ "$status" -eq 0 ]; then
		echo "VULNERABLE: a tmpfs went over /proc/self/attr through the rootfs symlink /attr"
		return 1
	fi
	[[ "$output" == *"'/attr'"* ]]
	[[ "$output" == *"/proc"* ]]
	assert_no_leaks "${PFX}c"
	echo 4242.00 4242.00 >"$TEST_DIR/uptime"
	config "del(.mounts[] | select(.destination == \"/attr\")) | .mounts += [{\"destination\": \"/proc/uptime\", \"type\": \"bind\", \"source\": \"$TEST_DIR/uptime\", \"options\": [\"bind\", \"ro\"]}]"
	in_container 'cat /proc/uptime'
	echo "lxcfs-style bind: status $status: $output"
	[ "$status" -eq 0 ]
	[ "$output" = "4242.00 4242.00" ]
}

# linux.devices makes the node; linux.resources.devices alone decides whether it may be used
# (as runc). A denied device must stay denied.
@test "a device of linux.devices that linux.resources.devices denies stays unusable" {
	[ -c /dev/fuse ] || skip "no /dev/fuse on this host"
	local fuse='{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438}'
	local rules
	# allowed by all but this device; denied by all; no rule at all (runc: only its defaults)
	for rules in '[{"allow": true, "access": "rwm"}, {"allow": false, "type": "c", "major": 10, "minor": 229, "access": "rwm"}]' \
		'[{"allow": false, "access": "rwm"}]' null; do
		config ".linux.devices = [$fuse] | .linux.resources.devices = $rules | if .linux.resources.devices == null then del(.linux.resources.devices) else . end"
		in_container '[ -c /dev/fuse ] && echo node; (exec 3<>/dev/fuse) 2>/dev/null && echo opened; echo done'
		echo "$rules -> status $status: $output"
		[ "$status" -eq 0 ]
		if echo "$output" | grep -qx opened; then
			echo "VULNERABLE: /dev/fuse of linux.devices opens although linux.resources.devices denies it"
			return 1
		fi
		echo "$output" | grep -qx node
		assert_no_leaks "${PFX}c"
	done
	# allowed by a rule: usable
	config ".linux.resources.devices += [{\"allow\": true, \"type\": \"c\", \"major\": 10, \"minor\": 229, \"access\": \"rw\"}]"
	in_container '(exec 3<>/dev/fuse) && echo opened'
	echo "allowed -> status $status: $output"
	[ "$output" = opened ]
}

# A pre-existing cgroup named by linux.cgroupsPath that is frozen (v1 freezer.state FROZEN, or
# cgroup.freeze 1 on cgroup2) would hold the container's init frozen forever: refused at
# create, as runc does, and nothing is left behind.
@test "a frozen cgroup named by cgroupsPath is refused, not joined" {
	local kind dir frozen=0
	for kind in v1 v2; do
		if [ "$kind" = v1 ]; then
			dir=/sys/fs/cgroup/freezer
			[ -d "$dir" ] && [ ! -e /sys/fs/cgroup/cgroup.controllers ] || continue
		else
			dir=$(awk '$9 == "cgroup2" && $5 ~ "^/sys/fs/cgroup" {print $5; exit}' /proc/self/mountinfo)
			[ -n "$dir" ] && [ -e "$dir/cgroup.procs" ] || continue
		fi
		dir=$dir/$CGROUP_PARENT/${PFX}frozen
		mkdir -p "$dir"
		if [ "$kind" = v1 ]; then echo FROZEN >"$dir/freezer.state"; else echo 1 >"$dir/cgroup.freeze"; fi
		frozen=$((frozen + 1))
		config ".linux.cgroupsPath = \"/$CGROUP_PARENT/${PFX}frozen\" | .process.args = [\"true\"]"
		# a file, not a pipe, takes the output: a frozen init would hold a pipe open
		status=0
		timeout -s KILL 20 "$BRISK" --root "$STATE_ROOT" run "${PFX}f$kind" \
			</dev/null >"$TEST_DIR/frozen.out" 2>&1 || status=$?
		output=$(cat "$TEST_DIR/frozen.out")
		echo "$kind: status $status: $output"
		# let whatever hangs go, so that the teardown can remove it
		if [ "$kind" = v1 ]; then echo THAWED >"$dir/freezer.state"; else echo 0 >"$dir/cgroup.freeze"; fi
		if [ "$status" -eq 137 ] || [ "$status" -eq 0 ]; then
			echo "VULNERABLE: the container joined the frozen $kind cgroup $dir"
			return 1
		fi
		[[ "$output" == *frozen* ]]
		[ -z "$(cat "$dir/cgroup.procs")" ]
		assert_no_leaks "${PFX}f$kind"
		# the cgroup that was there is left as it was
		rmdir "$dir"
	done
	[ "$frozen" -gt 0 ] || skip "no freezer on this host"
}

# delete --force of a container whose cgroup was frozen from outside before it started must
# not hang: on a hybrid host the kill goes through cgroup2's cgroup.kill, and a task frozen by
# the v1 freezer dies only once thawed.
@test "delete --force of a created container frozen by the v1 freezer leaves nothing" {
	[ -d /sys/fs/cgroup/freezer ] && [ ! -e /sys/fs/cgroup/cgroup.controllers ] ||
		skip "needs a cgroup v1 freezer"
	local state=/sys/fs/cgroup/freezer/$CGROUP_PARENT/${PFX}z/freezer.state start
	args sleep 100
	brisk create "${PFX}z" </dev/null >/dev/null 2>&1
	echo FROZEN >"$state"
	start=$SECONDS
	run brisk delete --force "${PFX}z"
	echo "status $status after $((SECONDS - start)) s: $output"
	# whatever is left can go now
	echo THAWED 2>/dev/null >"$state" || true
	[ "$status" -eq 0 ]
	[ $((SECONDS - start)) -lt 5 ]
	[[ "$output" != *"did not exit"* ]]
	assert_no_leaks "${PFX}z"
}

# The same for a cgroup2 mount (a cgroup2 host's /sys/fs/cgroup, or a "cgroup2" mount on a
# hybrid one): without a cgroup namespace, the container's own cgroup is bound there, read-only.
@test "cgroup2 without a cgroup namespace: /sys/fs/cgroup shows only the container's own cgroup" {
	local h
	h=$(awk '$9 == "cgroup2" && ($5 == "/sys/fs/cgroup" || $5 == "/sys/fs/cgroup/unified") {print $5; exit}' /proc/self/mountinfo)
	[ -n "$h" ] || skip "no cgroup2 hierarchy at /sys/fs/cgroup or /sys/fs/cgroup/unified"
	mkdir -p "$h/$CGROUP_PARENT/${PFX}sibling"
	config '.linux.namespaces |= map(select(.type != "cgroup")) | .mounts |= map(if .destination == "/sys/fs/cgroup" then .type = "cgroup2" | .source = "cgroup2" else . end)'
	in_container '
		awk "\$5 == \"/sys/fs/cgroup\" {print \"options\", \$6}" /proc/self/mountinfo
		find /sys/fs/cgroup -maxdepth 2 -name "*sibling*" | sed "s/^/sibling: /"
		[ -n "$(cat /sys/fs/cgroup/cgroup.procs)" ] && [ -z "$(grep -vx "[1-9][0-9]*" /sys/fs/cgroup/cgroup.procs)" ] || echo "procs: not ours"
		echo 1 2>/dev/null >/sys/fs/cgroup/cgroup.freeze && echo "written: cgroup.freeze"
		echo done'
	echo "status $status: $output"
	[ "$status" -eq 0 ]
	if echo "$output" | grep -Eq '^(sibling|written|procs):'; then
		echo "VULNERABLE: the container sees (or writes) the host's cgroup2 tree at /sys/fs/cgroup"
		return 1
	fi
	echo "$output" | grep -q '^options ro,'
	[ "$(echo "$output" | tail -n 1)" = done ]
	assert_no_leaks "${PFX}c"
}

# A snapshot is untrusted input: a checkpoint whose CRIU images give the process every
# capability the restorer has is refused before the process runs again, and leaves nothing.
# Every other tampering (uid, seccomp, no_new_privs, namespaces, mounts, /dev, symlinked images,
# unsigned pulls) is in tests/integration/snapshot/trust.bats.
@test "snapshot: a checkpoint whose images raise capabilities is refused before it runs" {
	command -v criu >/dev/null || skip "criu is not installed"
	local edit=$SOURCE_ROOT/tests/integration/snapshot/criu-image.py rc=0
	args sleep 1000
	brisk run -d "${PFX}c" </dev/null >/dev/null 2>&1
	brisk checkpoint --image-path "$TEST_DIR/img" "${PFX}c"
	"$edit" edit "$TEST_DIR"/img/core-*.img 'c = e["thread_core"]["creds"]
b = int(open("/proc/self/status").read().split("CapBnd:")[1].split()[0], 16)
c["cap_eff"] = c["cap_prm"] = c["cap_bnd"] = [b & 0xffffffff, b >> 32]' || rc=$?
	[ "$rc" -ne 77 ] || skip "pycriu of CRIU 4 is not installed (tools/setup installs it)"
	[ "$rc" -eq 0 ]
	config ".linux.cgroupsPath = \"/$CGROUP_PARENT/${PFX}r\""
	rc=0
	"$BRISK" --root "$STATE_ROOT" restore -d --bundle "$BUNDLE" --image-path "$TEST_DIR/img" \
		"${PFX}r" </dev/null >/dev/null 2>"$TEST_DIR/err" || rc=$?
	grep -v 'cgroup: write' "$TEST_DIR/err" || true
	[ "$rc" -ne 0 ]
	grep -q "holds what the bundle does not give: CAP_" "$TEST_DIR/err"
	assert_nothing_left
}
