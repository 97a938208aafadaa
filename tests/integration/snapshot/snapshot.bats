#!/usr/bin/env bats
# brisk checkpoint / restore with CRIU: a zdtm-style program (zdtm-state) builds state,
# prints READY, is checkpointed and restored, and on SIGUSR1 checks its state and prints PASS.

load ../helpers
load snapshot-helpers

setup() { snapshot_setup; }

teardown() { snapshot_teardown; }

@test "checkpoint --help and restore --help exit 0" {
	run brisk checkpoint --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--leave-running"* ]]
	run brisk restore --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--lazy-pages"* ]]
}

# masked_dirs PID: the masked directories (read-only tmpfs mounts, by maskedPaths) of PID
masked_dirs() {
	local p
	for p in $(jq -r '.linux.maskedPaths[]' "$BUNDLE/config.json"); do
		awk -v p="$p" '$5 == p && $9 == "tmpfs" && $6 ~ /^ro/ {print p}' "/proc/$1/mountinfo"
	done
}

@test "checkpoint and restore under a new id: memory, files, pipes, sockets, threads, timers, children" {
	start_zdtm c1
	masked=$(masked_dirs "$(state_field c1 pid)")
	run brisk checkpoint --image-path "$IMG" c1
	echo "$output"
	[ "$status" -eq 0 ]
	[ -f "$IMG/brisk-snapshot.json" ]
	jq -e '.id == "c1" and .version == 1' "$IMG/brisk-snapshot.json"
	# the dumped container is gone, as with runc
	run brisk state c1
	[ "$status" -ne 0 ]
	BRISK_OPTS=--debug run restore r1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(state_field r1 status)" = running ]
	# the memory images were read ahead, all of them
	pages=$(stat -c %s "$IMG"/pages-*.img | awk '{ n += $1 } END { print n }')
	[ "$pages" -gt 0 ]
	grep -q "read ahead $pages bytes of memory images" "$TEST_DIR/err.r1"
	pid=$(state_field r1 pid)
	[ "$pid" -gt 0 ]
	jq -e '.cgroup != null and .startTime > 0' "$STATE_ROOT/r1/state.json"
	run brisk ps r1
	[ "$status" -eq 0 ]
	[[ "$output" == *zdtm-state* ]]
	brisk list | grep -q '^r1 '
	# the masked directories are still empty read-only tmpfs mounts
	[ -n "$masked" ]
	[ "$(masked_dirs "$pid")" = "$masked" ]
	for p in $masked; do
		run brisk exec r1 touch "$p/x"
		[ "$status" -ne 0 ]
		[ -z "$(brisk exec r1 ls -A "$p")" ]
	done
	check_pass r1
	brisk delete --force r1
	assert_no_leaks r1
}

@test "the spec's tmpfs mounts: an empty one comes back new and writable, one with files keeps them" {
	start_zdtm c1
	cgroups=$(brisk exec c1 ls -A /sys/fs/cgroup)
	brisk checkpoint --image-path "$IMG" c1
	restore r1
	pid=$(state_field r1 pid)
	# /sys/fs/cgroup (a tmpfs of cgroup mounts on a v1 or hybrid host) as it was
	[ "$(brisk exec r1 ls -A /sys/fs/cgroup)" = "$cgroups" ]
	run brisk exec r1 touch /sys/fs/cgroup/x
	[ "$status" -ne 0 ]
	# a tmpfs mount (the type follows the "-" that ends the optional fields)
	awk '$5 == "/dev/shm" { for (i = 7; i < NF; i++) if ($i == "-") { f = $(i + 1) == "tmpfs"; break } }
		END {exit !f}' "/proc/$pid/mountinfo"
	[ "$(brisk exec r1 stat -c %a /dev/shm)" = 1777 ]
	[ -z "$(brisk exec r1 ls -A /dev/shm)" ]
	brisk exec r1 sh -c 'echo new >/dev/shm/x'
	[ "$(brisk exec r1 cat /dev/shm/x)" = new ]
	check_pass r1
	brisk delete --force r1
	assert_no_leaks r1
	# not empty: CRIU dumps and restores it with its files
	start_zdtm c2
	brisk exec c2 sh -c 'echo kept >/dev/shm/f'
	brisk checkpoint --image-path "$TEST_DIR/img2" c2
	IMG=$TEST_DIR/img2 restore r2
	[ "$(brisk exec r2 cat /dev/shm/f)" = kept ]
	check_pass r2
	brisk delete --force r2
	assert_no_leaks r2
}

# dev_listing ID: what the container's /dev holds (not what is mounted on it): type and
# mode, owner, device numbers, name and link target
dev_listing() {
	brisk exec "$1" sh -c 'cd /dev && find . -xdev | sort | while read -r f; do
		stat -c "%A %u %g %t %T %N" "$f"; done'
}

@test "the container's /dev comes back from a listing, not from CRIU's tar; a file in it keeps CRIU's way" {
	config '.linux.devices = [{"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200,
		"fileMode": 416, "uid": 0, "gid": 0}]'
	start_zdtm c1
	local dev
	dev=/proc/$(state_field c1 pid)/root/dev
	chown 5:6 "$dev/full" && chmod 640 "$dev/full" && mkfifo -m 600 "$dev/net/q"
	want=$(dev_listing c1)
	echo "$want"
	[[ "$want" == *"crw-r----- 5 6 1 7 ./full"* ]]
	[[ "$want" == *"crw-r----- 0 0 a c8 ./net/tun"* ]]
	brisk checkpoint --image-path "$IMG" c1
	# listed in brisk-snapshot.json, and no tar of /dev among CRIU's images
	jq -e '.tmpfsTrees | length == 1 and .[0].destination == "/dev" and
		any(.[0].entries[]; .path == "net/q")' "$IMG/brisk-snapshot.json"
	if ls "$IMG" | grep '^tmpfs-dev'; then echo "unexpected: this matched"; return 1; fi
	restore r1
	got=$(dev_listing r1)
	[ "$got" = "$want" ]
	# a device of the tree, and the masked files bound from its null
	[ -z "$(brisk exec r1 cat /proc/keys)" ]
	brisk exec r1 sh -c 'echo x >/dev/null && head -c 4 /dev/zero | wc -c' | grep -qx 4
	check_pass r1
	brisk delete --force r1
	assert_no_leaks r1

	# a regular file: CRIU tars /dev with it, as before
	start_zdtm c2
	brisk exec c2 sh -c 'echo kept >/dev/f'
	brisk checkpoint --image-path "$TEST_DIR/img2" c2
	jq -e '.tmpfsTrees == null' "$TEST_DIR/img2/brisk-snapshot.json"
	ls "$TEST_DIR/img2" | grep -q '^tmpfs-dev'
	IMG=$TEST_DIR/img2 restore r2
	[ "$(brisk exec r2 cat /dev/f)" = kept ]
	check_pass r2
	brisk delete --force r2
	assert_no_leaks r2

	# a listing whose symlink would lead a restore out of the new tmpfs: refused there
	mkdir "$TEST_DIR/outside"
	jq --arg out "$TEST_DIR/outside" '.tmpfsTrees[0].entries += [
		{"path": "esc", "mode": 41471, "uid": 0, "gid": 0, "target": $out},
		{"path": "esc/x", "mode": 4480, "uid": 0, "gid": 0}]' "$IMG/brisk-snapshot.json" \
		>"$TEST_DIR/meta" && cp "$TEST_DIR/meta" "$IMG/brisk-snapshot.json"
	run restore r3
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"tmpfs of '/dev'"* ]]
	[ ! -e "$TEST_DIR/outside/x" ]
	assert_no_leaks r3
}

# huge_kb PID: kB on huge pages in the areas of PID advised MADV_HUGEPAGE ("hg")
huge_kb() {
	awk '/^AnonHugePages:/ {a = $2} /^VmFlags:/ && / hg/ {s += a} END {print s + 0}' \
		"/proc/$1/smaps"
}

# CRIU (with tools/criu's patch) advises them before it reads them back: in small pages,
# the restore would take a fault per 4 KiB, and the app would run on small pages after.
@test "memory advised MADV_HUGEPAGE comes back on huge pages" {
	if grep -q '\[never\]' /sys/kernel/mm/transparent_hugepage/enabled; then
		skip "transparent huge pages are off on this host"
	fi
	start_zdtm c1
	before=$(huge_kb "$(state_field c1 pid)")
	[ "$before" -gt 0 ] || skip "the kernel gave the app no huge page before the checkpoint"
	brisk checkpoint --image-path "$IMG" c1
	restore r1
	after=$(huge_kb "$(state_field r1 pid)")
	echo "on huge pages: $before kB before the checkpoint, $after kB after the restore"
	[ "$after" -gt 0 ]
	check_pass r1
	brisk delete --force r1
	assert_no_leaks r1
}

# CRIU wants absolute paths: a relative --root is taken from the current directory, as runc
# takes it (once, a restore failed inside CRIU with it)
@test "checkpoint and restore with a relative --root" {
	start_zdtm c1
	local parent base
	parent=$(dirname "$STATE_ROOT") base=$(basename "$STATE_ROOT")
	(cd "$parent" && "$BRISK" --root "$base" checkpoint --image-path "$IMG" c1)
	mkdir -p "$TEST_DIR/bundle.r1"
	jq --arg root "$BUNDLE/rootfs" --arg cg "/$CGROUP_PARENT/r1" \
		'.root.path = $root | .linux.cgroupsPath = $cg' "$BUNDLE/config.json" \
		>"$TEST_DIR/bundle.r1/config.json"
	run bash -c 'cd "$1" && "$2" --root "$3" restore -d --bundle "$4" --image-path "$5" r1 \
		</dev/null >/dev/null' sh "$parent" "$BRISK" "$base" "$TEST_DIR/bundle.r1" "$IMG"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(state_field r1 status)" = running ]
	brisk delete --force r1
	assert_no_leaks r1
}

@test "restore under the checkpointed id goes on in the bundle's rootfs, as runc does" {
	start_zdtm c1
	brisk checkpoint --image-path "$IMG" c1
	restore c1
	[ "$(state_field c1 status)" = running ]
	brisk exec c1 sh -c 'echo kept >/same-id'
	[ "$(cat "$BUNDLE/rootfs/same-id")" = kept ]
	check_pass c1
	brisk delete --force c1
	assert_no_leaks c1
}

@test "a restored container can be checkpointed and restored again" {
	start_zdtm c1
	brisk checkpoint --image-path "$IMG" c1
	restore r1
	brisk checkpoint --image-path "$TEST_DIR/img2" r1
	IMG=$TEST_DIR/img2 restore r2
	grep -q ":/$CGROUP_PARENT/r2\$" "/proc/$(state_field r2 pid)/cgroup"
	check_pass r2
	brisk delete --force r2
	assert_no_leaks r2
}

@test "a network namespace with only a loopback is made anew on restore, lo as it was" {
	start_zdtm c1
	brisk exec --cap CAP_NET_ADMIN c1 ip link set lo up
	brisk exec c1 ip link show lo | grep -q ',UP'
	brisk checkpoint --image-path "$IMG" c1
	jq -e '.netns == "loopback-up"' "$IMG/brisk-snapshot.json"
	restore r1
	brisk exec r1 ip link show lo | grep -q ',UP'
	[ "$(readlink /proc/$(state_field r1 pid)/ns/net)" != "$(readlink /proc/self/ns/net)" ]
	check_pass r1
	# lo down stays down (brisk brings it up in a new network namespace, as runc)
	start_zdtm c2
	brisk exec --cap CAP_NET_ADMIN c2 ip link set lo down
	brisk checkpoint --image-path "$TEST_DIR/img2" c2
	jq -e '.netns == "loopback-down"' "$TEST_DIR/img2/brisk-snapshot.json"
	IMG=$TEST_DIR/img2 restore r2
	run brisk exec r2 ip link show lo
	[ "$status" -eq 0 ]
	[[ "$output" == *LOOPBACK* && "$output" != *,UP* ]]
	check_pass r2
	# a network namespace with more than lo is CRIU's to dump
	start_zdtm c3
	nsenter -t "$(state_field c3 pid)" -n ip link add snapv0 type veth peer name snapv1
	brisk checkpoint --image-path "$TEST_DIR/img3" c3
	jq -e 'has("netns") | not' "$TEST_DIR/img3/brisk-snapshot.json"
	IMG=$TEST_DIR/img3 restore r3
	brisk exec r3 ip link show snapv0
	check_pass r3
}

# recvtty SOCKET OUT: a console socket receiver, until the pty closes
recvtty() {
	"$BUILD_ROOT/tests/integration/recvtty" "$1" >"$2" 3>&- &
	local i
	for i in $(seq 50); do [ -S "$1" ] && return 0; sleep 0.1; done
	echo "no console socket $1"; return 1
}

@test "a container with a terminal: restore sends a new pty to --console-socket" {
	config '.process.terminal = true'
	recvtty "$TEST_DIR/c1.sock" "$TEST_DIR/out.c1"
	brisk run -d --console-socket "$TEST_DIR/c1.sock" c1
	wait_line "$TEST_DIR/out.c1" READY
	brisk checkpoint --image-path "$IMG" c1
	run restore r1
	[ "$status" -eq 1 ]
	[[ "$output" == *"restore needs --console-socket"* ]]
	[ ! -e "$STATE_ROOT/r1" ]
	recvtty "$TEST_DIR/r1.sock" "$TEST_DIR/tty.r1"
	restore r1 --console-socket "$TEST_DIR/r1.sock"
	grep -q '^name=/dev/pts/' "$TEST_DIR/tty.r1"
	[[ "$(readlink /proc/$(state_field r1 pid)/fd/1)" == /dev/pts/* ]]
	brisk kill r1 USR1
	wait_line "$TEST_DIR/tty.r1" PASS
}

@test "checkpoint --leave-running keeps the container; both go on" {
	start_zdtm c1
	brisk checkpoint --leave-running --image-path "$IMG" c1
	[ "$(state_field c1 status)" = running ]
	restore r1
	check_pass c1
	check_pass r1
}

@test "two restores of one snapshot at the same time, each in its own pid namespace" {
	start_zdtm c1
	brisk checkpoint --image-path "$IMG" c1
	sums=$(cd "$IMG" && sha256sum pages-*.img)
	restore r1 & p1=$!
	restore r2 & p2=$!
	wait $p1
	wait $p2
	[ "$(state_field r1 status)" = running ]
	[ "$(state_field r2 status)" = running ]
	[ "$(readlink /proc/$(state_field r1 pid)/ns/pid)" != "$(readlink /proc/$(state_field r2 pid)/ns/pid)" ]
	# each in the cgroup of its own container, none in the checkpointed one's
	grep -q ":/$CGROUP_PARENT/r1\$" "/proc/$(state_field r1 pid)/cgroup"
	grep -q ":/$CGROUP_PARENT/r2\$" "/proc/$(state_field r2 pid)/cgroup"
	run grep -q "/c1\$" "/proc/$(state_field r1 pid)/cgroup" "/proc/$(state_field r2 pid)/cgroup"
	[ "$status" -eq 1 ]
	[ -z "$(find /sys/fs/cgroup -maxdepth 4 -type d -path "*/$CGROUP_PARENT/c1")" ]
	# each clone writes to a layer of its own: neither sees the other's file, nor the bundle
	brisk exec r1 sh -c 'echo one >/clone-file'
	brisk exec r2 sh -c 'echo two >/clone-file'
	[ "$(brisk exec r1 cat /clone-file)" = one ]
	[ "$(brisk exec r2 cat /clone-file)" = two ]
	[ ! -e "$BUNDLE/rootfs/clone-file" ]
	check_pass r1
	check_pass r2
	# restoring never changes the images
	[ "$sums" = "$(cd "$IMG" && sha256sum pages-*.img)" ]
	restore r3
	run brisk exec r3 cat /clone-file
	[ "$status" -ne 0 ]
	check_pass r3
	for id in r1 r2 r3; do
		brisk delete --force $id
		assert_no_leaks $id
	done
}

@test "checkpoint of a paused (frozen) container" {
	start_zdtm c1
	# containerd's order: pause, checkpoint --leave-running, resume
	brisk pause c1
	[ "$(state_field c1 status)" = paused ]
	brisk checkpoint --leave-running --image-path "$IMG" c1
	[ "$(state_field c1 status)" = paused ]
	brisk resume c1
	[ "$(state_field c1 status)" = running ]
	restore r1
	check_pass r1
	check_pass c1
}

@test "lazy restore: pages come on fault from the lazy-pages daemon" {
	criu check --feature uffd-noncoop >/dev/null 2>&1 || skip "no non-cooperative userfaultfd"
	start_zdtm c1
	brisk checkpoint --image-path "$IMG" c1
	BRISK_OPTS=--debug run restore r1 --lazy-pages
	echo "$output"
	[ "$status" -eq 0 ]
	# pages come in the order of the faults: none read ahead
	[ "$(grep -c "read ahead" "$TEST_DIR/err.r1")" = 0 ]
	check_pass r1
}

@test "lazy restore: --lazy-pages-record records the pages touched first, later lazy restores transfer them first" {
	criu check --feature uffd-noncoop >/dev/null 2>&1 || skip "no non-cooperative userfaultfd"
	grep -q CRIU_LAZY_PAGES_RECORD "$(command -v criu)" ||
		skip "criu without tools/criu/lazy-pages-order.patch (tools/setup builds it)"
	start_zdtm c1
	brisk checkpoint --image-path "$IMG" c1
	# a lazy restore without the option records nothing
	BRISK_OPTS=--debug restore r0 --lazy-pages --work-path "$TEST_DIR/w0"
	check_pass r0
	[ "$(grep -c "CRIU_LAZY_PAGES" "$TEST_DIR/err.r0")" = 0 ]
	[ ! -e "$IMG/brisk-lazy-order" ]
	run brisk restore -d --image-path "$IMG" --lazy-pages-record r9
	[ "$status" -eq 1 ]
	[[ "$output" == *"--lazy-pages-record needs --lazy-pages"* ]]
	# a CRIU that would ignore the request (no patch: here a script) is refused up front
	printf '#!/bin/sh\nexec criu "$@"\n' >"$TEST_DIR/criu-wrapper"
	chmod +x "$TEST_DIR/criu-wrapper"
	run brisk --criu "$TEST_DIR/criu-wrapper" restore -d --image-path "$IMG" --lazy-pages \
		--lazy-pages-record r9
	[ "$status" -eq 1 ]
	[[ "$output" == *"without the lazy-pages record"* ]]
	[ ! -e "$STATE_ROOT/r9" ]
	BRISK_OPTS=--debug restore r1 --lazy-pages --lazy-pages-record --work-path "$TEST_DIR/w1"
	grep -q "CRIU_LAZY_PAGES_RECORD=$IMG/brisk-lazy-order" "$TEST_DIR/err.r1"
	check_pass r1
	# the daemon writes the record once every page is in
	for _ in $(seq 1 200); do
		[ -e "$IMG/brisk-lazy-order" ] && break
		sleep 0.1
	done
	n=$(wc -l <"$IMG/brisk-lazy-order")
	echo "# first lazy restore: $n page faults recorded" >&3
	[ "$n" -gt 0 ]
	# "PID ADDRESS" lines, in the order of the faults, and nothing half-written left
	[ "$(grep -cvE '^[0-9]+ [0-9a-f]+$' "$IMG/brisk-lazy-order")" = 0 ]
	[ -z "$(find "$IMG" -name 'brisk-lazy-order.*')" ]
	grep -q "Recorded $n page faults in $IMG/brisk-lazy-order" "$TEST_DIR/w1/lazy-pages.log"
	grep -q "Background transfer starts after" "$TEST_DIR/w1/lazy-pages.log"
	sum=$(sha256sum <"$IMG/brisk-lazy-order")
	# the next restore follows the record (named by a relative --image-path), and its memory
	# is whole
	(cd "$TEST_DIR" && IMG=img BRISK_OPTS=--debug restore r2 --lazy-pages --work-path "$TEST_DIR/w2")
	grep -q "CRIU_LAZY_PAGES_ORDER=$(realpath "$IMG")/brisk-lazy-order" "$TEST_DIR/err.r2"
	check_pass r2
	runs=$(sed -n 's/.* \([0-9]*\) runs of recorded pages to transfer first.*/\1/p' "$TEST_DIR/w2/lazy-pages.log" | sort -n | tail -1)
	echo "# next lazy restore: $runs runs of recorded pages first" >&3
	[ "$runs" -gt 0 ]
	[ "$(grep -c "Recorded" "$TEST_DIR/w2/lazy-pages.log")" = 0 ]
	[ "$sum" = "$(sha256sum <"$IMG/brisk-lazy-order")" ]
	# a record that is not one: ignored, and the restore is whole all the same
	printf 'not a record\n1 zz\n' >"$IMG/brisk-lazy-order"
	BRISK_OPTS=--debug restore r3 --lazy-pages --work-path "$TEST_DIR/w3"
	check_pass r3
	grep -q " 0 runs of recorded pages to transfer first" "$TEST_DIR/w3/lazy-pages.log"
}

@test "errors: missing or corrupt image dir, id in use, criu missing or too old, pre-dump" {
	run restore r1
	[ "$status" -ne 0 ]
	[[ "$output" == *"image path"* ]]
	start_zdtm c1
	brisk checkpoint --leave-running --image-path "$IMG" c1
	# an id in use
	run brisk restore -d --image-path "$IMG" c1
	[ "$status" -ne 0 ]
	[[ "$output" == *"already exists"* ]]
	[ "$(state_field c1 status)" = running ]
	# a restore into the cgroup of a running container (the bundle's cgroupsPath is c1's)
	run brisk restore -d --image-path "$IMG" r2
	[ "$status" -eq 1 ]
	[[ "$output" == *"needs a cgroup of its own"* ]]
	[ ! -e "$STATE_ROOT/r2" ]
	[ "$(state_field c1 status)" = running ]
	# pre-dump on a kernel without dirty-page tracking: a clear message, no crash
	run brisk checkpoint --pre-dump --leave-running --image-path "$TEST_DIR/pre" c1
	echo "$output"
	if [ "$status" -ne 0 ]; then
		[[ "$output" == *"pre-dump"* ]]
		[ "$status" -eq 1 ]
	fi
	# criu missing / too old (a binary that does not speak criu's RPC)
	run brisk --criu /nonexistent/criu checkpoint --leave-running --image-path "$TEST_DIR/x" c1
	[ "$status" -eq 1 ]
	[[ "$output" == *"criu >= 4.1"* ]]
	printf '#!/bin/sh\necho "Version: 3.17"\nexit 1\n' >"$TEST_DIR/old-criu"
	chmod +x "$TEST_DIR/old-criu"
	run brisk --criu "$TEST_DIR/old-criu" checkpoint --leave-running --image-path "$TEST_DIR/x" c1
	[ "$status" -eq 1 ]
	[[ "$output" == *"criu >= 4.1"* ]]
	run brisk --criu "$TEST_DIR/old-criu" restore -d --image-path "$IMG" -b "$TEST_DIR/bundle.r1" r1
	[ "$status" -eq 1 ]
	[[ "$output" == *"criu >= 4.1"* ]]
	[ ! -e "$STATE_ROOT/r1" ]
	run brisk --criu /nonexistent/criu restore -d --image-path "$IMG" -b "$TEST_DIR/bundle.r1" r1
	[ "$status" -eq 1 ]
	[[ "$output" == *"criu >= 4.1"* ]]
	[ ! -e "$STATE_ROOT/r1" ]
	# corrupt metadata
	cp -a "$IMG" "$TEST_DIR/bad"
	echo '{"version": 1, "id": 5}' >"$TEST_DIR/bad/brisk-snapshot.json"
	run brisk restore -d --image-path "$TEST_DIR/bad" r2
	[ "$status" -eq 1 ]
	[[ "$output" == *"not a valid brisk checkpoint"* ]]
	# images without metadata
	rm "$TEST_DIR/bad/brisk-snapshot.json"
	run brisk restore -d --image-path "$TEST_DIR/bad" r2
	[ "$status" -eq 1 ]
	[[ "$output" == *"holds no checkpoint"* ]]
	[ ! -e "$STATE_ROOT/r2" ]
	check_pass c1
}

# ---- snapshots as content: brisk-image push-snapshot / pull-snapshot ----

# figure NAME OUTPUT: the MiB before NAME in push-snapshot's summary ("2.0 MiB unique chunks")
figure() { sed -n "s/.*, \([0-9.]*\) MiB $1.*/\1/p" <<<"$2"; }

@test "snapshot as content: pushed to a dir: store and a registry, pulled byte-identical, restored" {
	start_zdtm c1
	brisk checkpoint --leave-running --image-path "$TEST_DIR/first" c1
	brisk checkpoint --image-path "$IMG" c1
	S=$TEST_DIR/store
	run "$BI" push-snapshot "$TEST_DIR/first" dir:"$S:first"
	echo "$output"
	[ "$status" -eq 0 ]
	run "$BI" push-snapshot "$IMG" dir:"$S:snap"
	echo "$output"
	[ "$status" -eq 0 ]
	# the second snapshot of the same process reuses the chunks of the first
	unique=$(figure "unique chunks" "$output")
	reused=$(sed -n 's/.*(\([0-9.]*\) MiB reused.*/\1/p' <<<"$output")
	echo "# dedup: second snapshot $unique MiB of unique chunks, $reused MiB already in the store" >&3
	awk -v r="$reused" 'BEGIN { exit !(r > 0) }'
	jq -e '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "snap") |
		.artifactType == "application/vnd.brisk.snapshot.v1"' "$S/index.json"
	# pulled on "another node": a fresh directory, byte-identical files
	"$BI" pull-snapshot dir:"$S:snap" "$TEST_DIR/pulled"
	# ...and the companion that says what it was pulled as
	diff -r -x brisk-snapshot.origin.json "$IMG" "$TEST_DIR/pulled"
	[ "$(($(ls "$IMG" | wc -l) + 1))" = "$(ls "$TEST_DIR/pulled" | wc -l)" ]
	jq -e --arg d "$(jq -r .digest "$TEST_DIR/pulled/brisk-snapshot.origin.json")" \
		'.ref == "dir:'"$S"':snap" and ($d | startswith("sha256:"))' \
		"$TEST_DIR/pulled/brisk-snapshot.origin.json"
	IMG=$TEST_DIR/pulled restore r1
	check_pass r1
	# through a registry: pushed from the dir: store, pulled straight from the registry
	start_registry
	"$BI" push dir:"$S:snap" registry:127.0.0.1:$PORT/brisk/snap:v1 >/dev/null
	"$BI" pull-snapshot registry:127.0.0.1:$PORT/brisk/snap:v1 "$TEST_DIR/from-reg"
	diff -r -x brisk-snapshot.origin.json "$IMG" "$TEST_DIR/from-reg"
	IMG=$TEST_DIR/from-reg restore r2
	check_pass r2
	# and pushed to the registry directly
	d=$("$BI" push-snapshot "$TEST_DIR/first" registry:127.0.0.1:$PORT/brisk/snap:first)
	"$BI" pull-snapshot "registry:127.0.0.1:$PORT/brisk/snap@$d" "$TEST_DIR/first-reg"
	diff -r -x brisk-snapshot.origin.json "$TEST_DIR/first" "$TEST_DIR/first-reg"
	jq -e --arg d "$d" '.digest == $d' "$TEST_DIR/first-reg/brisk-snapshot.origin.json"
	brisk delete --force r1
	brisk delete --force r2
	assert_no_leaks r1
	assert_no_leaks r2
}

@test "snapshot as content: a missing, corrupt or wrong ref is a clear error and leaves nothing" {
	start_zdtm c1
	brisk checkpoint --leave-running --image-path "$IMG" c1
	check_pass c1
	S=$TEST_DIR/store
	"$BI" push-snapshot "$IMG" dir:"$S:snap" >/dev/null
	run "$BI" pull-snapshot dir:"$S:nope" "$TEST_DIR/out"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"'nope'"* ]]
	[ ! -e "$TEST_DIR/out" ]
	# not a checkpoint directory: refused, nothing tagged
	mkdir "$TEST_DIR/plain"
	echo x >"$TEST_DIR/plain/inventory.img"
	run "$BI" push-snapshot "$TEST_DIR/plain" dir:"$S:plain"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not a checkpoint directory"* ]]
	if jq -e '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "plain")' "$S/index.json"; then echo "unexpected: this matched"; return 1; fi
	run "$BI" push-snapshot "$TEST_DIR/missing" dir:"$TEST_DIR/new-store:x"
	[ "$status" -eq 1 ]
	[[ "$output" == *"'$TEST_DIR/missing'"* ]]
	[ ! -e "$TEST_DIR/new-store" ]
	# an image is not a snapshot
	python3 "$SOURCE_ROOT/tests/integration/imagefs/mkimage.py" busybox "$TEST_DIR/oci"
	"$BI" convert oci:"$TEST_DIR/oci" dir:"$S:bb" >/dev/null
	run "$BI" pull-snapshot dir:"$S:bb" "$TEST_DIR/out"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not a snapshot"* ]]
	[ ! -e "$TEST_DIR/out" ]
	# a corrupt pack: the pull fails on its digest, no partial directory anywhere
	for b in $(jq -r '.layers[] | select(.mediaType == "application/vnd.brisk.image.pack.v1") | .digest' \
		"$S/blobs/sha256/$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "snap") | .digest' "$S/index.json" | cut -d: -f2)"); do
		f=$S/blobs/sha256/${b#sha256:}
		chmod u+w "$f"
		printf 'XXXXXXXX' | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null
	done
	run "$BI" pull-snapshot dir:"$S:snap" "$TEST_DIR/out"
	echo "$output"
	[ "$status" -eq 1 ]
	[ ! -e "$TEST_DIR/out" ]
	[ -z "$(ls -A "$TEST_DIR" | grep export)" ]
	# an existing non-empty target is refused and kept
	mkdir "$TEST_DIR/full" && echo keep >"$TEST_DIR/full/f"
	run "$BI" pull-snapshot dir:"$S:snap" "$TEST_DIR/full"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not empty"* ]]
	[ "$(cat "$TEST_DIR/full/f")" = keep ]
}

# ---- restore of a container started from a lazy image ----

lazy_mounts() { # image mounts (fuse) or overlays under the test's lazy dir
	grep "$TEST_DIR/lazy" /proc/self/mountinfo | grep -c " - $1 " || true
}

# lazy_zdtm_bundle: the bundle's rootfs is a lazy image (busybox with zdtm-state, converted
# into a dir: store) with its chunk cache in $TEST_DIR/cache
lazy_zdtm_bundle() {
	[ -e /dev/fuse ] || skip "no /dev/fuse"
	export BRISK_LAZY_DIR=$TEST_DIR/lazy
	export BRISK_IMAGEFS=$BUILD_ROOT/imagefs/brisk-imagefs
	python3 "$SOURCE_ROOT/tests/integration/imagefs/mkimage.py" busybox "$TEST_DIR/oci"
	umoci unpack --image "$TEST_DIR/oci:latest" "$TEST_DIR/unpacked" >/dev/null
	cp "$BUILD_ROOT/tests/integration/zdtm-state" "$TEST_DIR/unpacked/rootfs/bin/zdtm-state"
	umoci repack --image "$TEST_DIR/oci:zdtm" "$TEST_DIR/unpacked" >/dev/null
	"$BI" convert oci:"$TEST_DIR/oci:zdtm" dir:"$TEST_DIR/lstore:zdtm" >/dev/null
	rm -rf "$BUNDLE/rootfs" # the lazy image is the rootfs
	# zdtm-state's files live in /tmp: a tmpfs, which CRIU dumps with the container
	config ".annotations[\"run.brisk.image\"] = \"zdtm\" |
		.annotations[\"run.brisk.store\"] = \"dir:$TEST_DIR/lstore\" |
		.annotations[\"run.brisk.cache\"] = \"$TEST_DIR/cache\" |
		.mounts += [{\"destination\": \"/tmp\", \"type\": \"tmpfs\", \"source\": \"tmpfs\",
			\"options\": [\"nosuid\", \"nodev\"]}]"
}

@test "restore from a lazy image: the image mounted again, a layer of the restore's own, released on delete" {
	lazy_zdtm_bundle
	start_zdtm c1
	[[ "$(state_field c1 rootfs)" == "$TEST_DIR/lazy/"* ]]
	brisk checkpoint --image-path "$IMG" c1
	[ "$(lazy_mounts fuse.brisk)" = 0 ]
	# the description names the files the tree mapped, with the pages it had touched
	jq -e '.mappedFiles[] | select(.path == "/bin/zdtm-state") | .pages | length > 0' \
		"$IMG/brisk-snapshot.json"
	# a restore that fails after mounting the image (CRIU finds no process tree) unmounts it
	cp -a "$IMG" "$TEST_DIR/bad"
	rm "$TEST_DIR/bad/pstree.img"
	IMG=$TEST_DIR/bad run restore rbad
	[ "$status" -ne 0 ]
	[ ! -e "$STATE_ROOT/rbad" ]
	[ "$(lazy_mounts fuse.brisk)" = 0 ]
	[ "$(lazy_mounts overlay)" = 0 ]
	BRISK_OPTS=--debug run restore r1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$(state_field r1 rootfs)" == "$TEST_DIR/lazy/containers/r1-"* ]]
	# over the lazy image, the mapped files were read ahead while CRIU got ready
	grep -E "read ahead [1-9][0-9]* bytes of [1-9][0-9]* mapped files" "$TEST_DIR/err.r1"
	# and the image's access profile, what a start reads, is not replayed for a restore
	pid=$(pgrep -f "brisk-imagefs mount .*$TEST_DIR/lazy/images/" | head -1)
	[ -n "$pid" ]
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- ' --no-prefetch '
	[ "$(lazy_mounts fuse.brisk)" = 1 ]
	[ "$(lazy_mounts overlay)" = 1 ]
	# a second restore shares the image mount, each writes to its own layer
	restore r2
	[ "$(lazy_mounts fuse.brisk)" = 1 ]
	[ "$(lazy_mounts overlay)" = 2 ]
	brisk exec r1 sh -c 'echo mine >/written'
	[ "$(cat "$(state_field r1 rootfs)/written")" = mine ]
	[ ! -e "$(state_field r2 rootfs)/written" ]
	check_pass r1
	check_pass r2
	brisk delete --force r1
	[ "$(lazy_mounts overlay)" = 1 ]
	brisk delete --force r2
	[ "$(lazy_mounts fuse.brisk)" = 0 ]
	[ "$(lazy_mounts overlay)" = 0 ]
	[ -z "$(ls -A "$TEST_DIR/lazy/containers")" ]
	assert_no_leaks r1
	assert_no_leaks r2
}

# On a warm chunk cache brisk-imagefs opens a file with FUSE passthrough, and a mapping of it
# through the overlay ends up on the passthrough's backing file, whose path is on overlayfs's
# private clone of the image mount: /proc/PID/maps shows the image mount's device, and
# map_files a mount that is in no mount namespace. CRIU found no mount for it and the dump
# failed ("Can't lookup mount=N for fd=-3"); it now finds the file on the overlay.
@test "restore from a lazy image on a warm cache: a mapping of a passed-through file is dumped as the overlay's file" {
	lazy_zdtm_bundle
	# a first container fills the cache with all of zdtm-state
	start_zdtm c0
	cat "$(state_field c0 rootfs)/bin/zdtm-state" >/dev/null
	brisk delete --force c0
	[ "$(lazy_mounts fuse.brisk)" = 0 ]
	start_zdtm c1
	mnt=$(echo "$TEST_DIR"/lazy/images/*/mnt)
	"$BRISK_IMAGEFS" stats "$mnt" | jq -e '.passthrough_opens > 0'
	# zdtm-state's text is mapped from the image mount's device, not the overlay's
	pid=$(state_field c1 pid)
	rootdev=$(stat -c '%Hd:%Ld' "$(state_field c1 rootfs)")
	imgdev=$(stat -c '%Hd:%Ld' "$mnt")
	grep /bin/zdtm-state "/proc/$pid/maps"
	awk '$6 == "/bin/zdtm-state" {print $4}' "/proc/$pid/maps" | sort -u >"$TEST_DIR/devs"
	[ "$(cat "$TEST_DIR/devs")" = "$(printf '%02x:%02x' "${imgdev%:*}" "${imgdev#*:}")" ]
	[ "$rootdev" != "$imgdev" ]
	run brisk checkpoint --image-path "$IMG" c1
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(lazy_mounts fuse.brisk)" = 0 ]
	restore r1
	check_pass r1
	brisk delete --force r1
	[ "$(lazy_mounts fuse.brisk)" = 0 ]
	[ "$(lazy_mounts overlay)" = 0 ]
	assert_no_leaks r1
}

# A foreground restore relays signals as run does, and one that comes while CRIU is still
# restoring waits for the relay instead of killing brisk and orphaning the container.
@test "foreground restore: a signal sent during the restore and after reaches the app" {
	start_zdtm c1
	brisk checkpoint --image-path "$IMG" c1
	b=$TEST_DIR/bundle.r1
	mkdir -p "$b"
	jq --arg root "$BUNDLE/rootfs" --arg cg "/$CGROUP_PARENT/r1" \
		'.root.path = $root | .linux.cgroupsPath = $cg' "$BUNDLE/config.json" >"$b/config.json"
	"$BRISK" --root "$STATE_ROOT" restore --bundle "$b" --image-path "$IMG" r1 \
		</dev/null > >(out_pipe "$TEST_DIR/out.r1") 2>"$TEST_DIR/err.r1" &
	fg=$!
	# the state directory is made before CRIU runs: the restore is under way
	for _ in $(seq 200); do [ -d "$STATE_ROOT/r1" ] && break; sleep 0.01; done
	[ -d "$STATE_ROOT/r1" ]
	kill -USR1 "$fg"
	# the app checks its state, says PASS and exits 0: so does the foreground restore
	wait_line "$TEST_DIR/out.r1" PASS
	rc=0
	wait "$fg" || rc=$?
	cat "$TEST_DIR/err.r1"
	[ "$rc" -eq 0 ]
	assert_no_leaks r1
}

# CRIU creates no mount target: a rootfs that lacks those create made (another node, a fresh
# layer) must get them from the restore, as runc makes them before it calls CRIU.
@test "restore into a rootfs without the mount targets: the bundle's targets are made first" {
	mkdir -p "$TEST_DIR/vol"
	echo host >"$TEST_DIR/vol/f"
	echo file >"$TEST_DIR/one"
	config ".mounts += [
		{\"destination\": \"/w/deep\", \"type\": \"bind\", \"source\": \"$TEST_DIR/vol\", \"options\": [\"rbind\"]},
		{\"destination\": \"/etc/one\", \"type\": \"bind\", \"source\": \"$TEST_DIR/one\", \"options\": [\"bind\"]},
		{\"destination\": \"/scratch\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"}]"
	start_zdtm c1
	brisk checkpoint --image-path "$IMG" c1
	# the node that restores has the image's rootfs as it was before create touched it
	rm -rf "$BUNDLE/rootfs/w" "$BUNDLE/rootfs/scratch"
	rm -f "$BUNDLE/rootfs/etc/one"
	restore r1
	[ "$(brisk exec r1 cat /w/deep/f)" = host ]
	[ "$(brisk exec r1 cat /etc/one)" = file ]
	check_pass r1
	brisk delete --force r1
	assert_no_leaks r1
}

# A bind whose destination goes through a symlink of the rootfs is mounted where the link
# leads; CRIU sees it there, and a restore finds it there, as the bundle says. Nested binds
# come back nested.
@test "checkpoint and restore: a bind on a symlinked destination, and binds nested in binds" {
	mkdir -p "$TEST_DIR/vol/inner" "$TEST_DIR/vol2" "$BUNDLE/rootfs/target"
	echo outer >"$TEST_DIR/vol/f"
	echo inner >"$TEST_DIR/vol2/g"
	ln -s /target "$BUNDLE/rootfs/link"
	config ".mounts += [
		{\"destination\": \"/link\", \"type\": \"bind\", \"source\": \"$TEST_DIR/vol\", \"options\": [\"rbind\"]},
		{\"destination\": \"/link/inner\", \"type\": \"bind\", \"source\": \"$TEST_DIR/vol2\", \"options\": [\"bind\"]}]"
	start_zdtm c1
	brisk checkpoint --image-path "$IMG" c1
	restore r1
	[ "$(brisk exec r1 cat /target/f)" = outer ]
	[ "$(brisk exec r1 cat /link/inner/g)" = inner ]
	check_pass r1
	brisk delete --force r1
	assert_no_leaks r1
}

# A network namespace the bundle joins by path is not the container's: runc leaves it out of
# the dump and rejoins it at restore, and so does brisk (CRIU would make a copy).
@test "checkpoint and restore of a container that joined a network namespace: it rejoins it" {
	command -v unshare >/dev/null || skip "no unshare"
	touch "$TEST_DIR/netns"
	unshare --net="$TEST_DIR/netns" true
	ino=$(stat -L -c %i "$TEST_DIR/netns")
	config "(.linux.namespaces[] | select(.type == \"network\")) |= . + {path: \"$TEST_DIR/netns\"}"
	start_zdtm c1
	[ "$(stat -L -c %i "/proc/$(state_field c1 pid)/ns/net")" = "$ino" ]
	brisk checkpoint --image-path "$IMG" c1
	jq -e '.netns == "joined"' "$IMG/brisk-snapshot.json"
	restore r1
	[ "$(stat -L -c %i "/proc/$(state_field r1 pid)/ns/net")" = "$ino" ]
	check_pass r1
	brisk delete --force r1
	umount "$TEST_DIR/netns"
	assert_no_leaks r1
}

# org.criu.config names a CRIU configuration file for the container, as with runc: CRIU reads
# it (an option it does not know fails the dump, naming the file), and a good one is used.
@test "checkpoint and restore with the org.criu.config annotation" {
	printf 'no-such-option\n' >"$TEST_DIR/bad.conf"
	printf 'ghost-limit 2M\n' >"$TEST_DIR/good.conf"
	config ".annotations[\"org.criu.config\"] = \"$TEST_DIR/bad.conf\""
	start_zdtm c1
	run brisk checkpoint --image-path "$IMG" c1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"no-such-option"* && "$output" == *"org.criu.config: '$TEST_DIR/bad.conf'"* ]]
	[ "$(state_field c1 status)" = running ]
	config ".annotations[\"org.criu.config\"] = \"$TEST_DIR/good.conf\""
	brisk checkpoint --image-path "$IMG" c1
	restore r1
	check_pass r1
}
