#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Integrity of image stores, the chunk cache and lazy containers: concurrent writers keep every
# tag; a chunk is reused, pushed, pulled or served from the cache only as bytes that match its
# digest; convert never writes an index that fails its own check, and a bad index has its own
# message; brisk-imagefs umount touches only its own mounts; export of an untrusted image makes
# no device node or setuid file unless asked; a lazy create killed at any step leaves nothing
# that `delete --force` does not remove. Inputs come from integrity.py (no network).

bats_require_minimum_version 1.5.0

load ../helpers

setup_file() {
	[ "$(id -u)" = 0 ] || skip "needs root (device nodes, FUSE mounts)"
	export HERE="$BATS_TEST_DIRNAME"
	export T="$BATS_FILE_TMPDIR"
	python3 "$HERE/mkimage.py" busybox "$T/bb"
	python3 "$HERE/integrity.py" content "$T/a" 1
	python3 "$HERE/integrity.py" content "$T/b" 2
	python3 "$HERE/integrity.py" lazy "$T/lz"
	python3 "$HERE/integrity.py" longname "$T/long"
	python3 "$HERE/integrity.py" special "$T/special"
}

setup() {
	[ "$(id -u)" = 0 ] || skip "needs root (device nodes, FUSE mounts)"
	B="$BRISK_IMAGE"
	I="$BRISK_IMAGEFS"
	W="$BATS_TEST_TMPDIR"
	unset BRISK_FAULT BRISK_FAULT_TRACE
}

teardown() {
	local m
	grep " $W/" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	[ -z "${TEST_DIR:-}" ] || common_teardown
}

tags() { # STORE: its tags, sorted
	jq -r '.manifests[].annotations["org.opencontainers.image.ref.name"]' "$1/index.json" | sort
}

@test "16 converts and a profile into one dir: store at once: every tag is kept" {
	"$B" convert oci:"$T/bb" dir:"$W/s:t0" >/dev/null
	printf '0 100 /bin/busybox\n' >"$W/profile"
	local i pids=() rc=0
	for i in $(seq 1 16); do
		"$B" convert --no-progress oci:"$T/bb" dir:"$W/s:t$i" >/dev/null 2>"$W/err$i" &
		pids+=($!)
	done
	"$B" profile dir:"$W/s:t0" "$W/profile" >/dev/null 2>"$W/errp" &
	pids+=($!)
	for i in "${pids[@]}"; do
		wait "$i" || rc=1
	done
	cat "$W"/err*
	[ "$rc" = 0 ]
	tags "$W/s"
	for i in $(seq 0 16); do
		tags "$W/s" | grep -qx "t$i" || { echo "tag t$i lost"; return 1; }
	done
	tags "$W/s" | grep -q '^sha256-.*\.profile$'
	[ "$(tags "$W/s" | wc -l)" = 18 ]
	[ -z "$(find "$W/s" -maxdepth 1 -name '.tmp-*')" ]
}

@test "dedup: a chunk a poisoned index claims is not reused; the new image reads right" {
	"$B" convert oci:"$T/a" dir:"$W/s:a" >/dev/null
	# an index that says the chunk of a's bytes is the chunk of b's bytes
	python3 "$HERE/integrity.py" poison "$W/s" a evil 2 >/dev/null
	run "$B" convert --no-progress oci:"$T/b" dir:"$W/s:b"
	echo "$output"
	[ "$status" -eq 0 ]
	"$B" verify dir:"$W/s:b"
	"$B" export dir:"$W/s:b" "$W/out"
	python3 "$HERE/integrity.py" bytes 2 | cmp - "$W/out/f.bin"
	# and through a lazy mount
	mkdir "$W/m"
	"$I" mount --store dir:"$W/s" --cache "$W/c" b "$W/m"
	python3 "$HERE/integrity.py" bytes 2 | cmp - "$W/m/f.bin"
	"$I" umount "$W/m"
}

@test "push and pull refuse an index whose chunks do not match their digests" {
	"$B" convert oci:"$T/a" dir:"$W/s:a" >/dev/null
	python3 "$HERE/integrity.py" poison "$W/s" a evil 2 >/dev/null
	local cmd
	for cmd in push pull; do
		run "$B" "$cmd" dir:"$W/s:evil" dir:"$W/$cmd:evil"
		echo "$cmd: $output"
		[ "$status" -ne 0 ]
		[[ "$output" == *chunk*"does not match its digest"* ]]
		[ ! -e "$W/$cmd/index.json" ] || ! tags "$W/$cmd" | grep -qx evil
	done
	# a sound image goes through
	"$B" push dir:"$W/s:a" dir:"$W/push:a" >/dev/null
	"$B" export dir:"$W/push:a" "$W/out"
	python3 "$HERE/integrity.py" bytes 1 | cmp - "$W/out/f.bin"
}

# cache_entry CACHE SEED: the cache file of the chunk holding integrity.py's bytes of SEED
cache_entry() {
	local h
	h=$(python3 "$HERE/integrity.py" bytes "$2" | sha256sum | cut -c1-64)
	echo "$1/chunks/${h:0:2}/$h"
}

# spoil FILE: the same size, other bytes at its start
spoil() {
	printf 'AAAAAAAAAAEVIL' | dd of="$1" conv=notrunc status=none
}

@test "chunk cache: changed bytes are never served; the chunk is dropped and fetched again" {
	"$B" convert oci:"$T/lz" dir:"$W/s:lz" >/dev/null
	mkdir "$W/m"
	"$I" mount --store dir:"$W/s" --cache "$W/c" lz "$W/m"
	python3 "$HERE/integrity.py" bytes 5 | cmp - "$W/m/f.bin"
	# a file of several chunks read whole becomes one cache entry, passthrough's backing
	# file (on kernels with FUSE passthrough), once its chunks are in the cache
	local i whole=
	for i in $(seq 1 50); do
		python3 "$HERE/integrity.py" bytes 6 3145728 | cmp - "$W/m/big.bin"
		whole=$(find "$W/c/chunks" -type f -size 3072k | head -1)
		[ -z "$whole" ] || break
		sleep 0.1
	done
	echo "whole-file entry: ${whole:-none (no passthrough here)}"
	"$I" umount "$W/m"
	local small
	small=$(cache_entry "$W/c" 5)
	[ -f "$small" ]
	spoil "$small"
	[ -z "$whole" ] || spoil "$whole"
	# every chunk of big.bin too
	python3 - "$W/c" <<-'EOF'
		import hashlib, os, sys
		sys.path.insert(0, os.environ["HERE"])
		import integrity
		data = integrity.content(6, 3 << 20)
		for off in range(0, len(data), 1 << 20):
		    h = hashlib.sha256(data[off:off + (1 << 20)]).hexdigest()
		    with open(os.path.join(sys.argv[1], "chunks", h[:2], h), "r+b") as f:
		        f.write(b"AAAAAAAAAAEVIL")
	EOF
	"$I" mount --store dir:"$W/s" --cache "$W/c" lz "$W/m"
	if grep -q EVIL "$W/m/f.bin"; then echo "the changed cache entry was served"; return 1; fi
	python3 "$HERE/integrity.py" bytes 5 | cmp - "$W/m/f.bin"
	python3 "$HERE/integrity.py" bytes 6 3145728 | cmp - "$W/m/big.bin"
	sleep 1
	python3 "$HERE/integrity.py" bytes 6 3145728 | cmp - "$W/m/big.bin"
	# the daemon says what it found bad
	"$I" stats "$W/m" | jq -e '.cache_dropped >= 2'
	"$I" umount "$W/m"
	# the bad entry was replaced by the right bytes
	[ "$(sha256sum <"$small" | cut -c1-64)" = "$(basename "$small")" ]
}

@test "convert refuses a name longer than 255 bytes, naming the entry" {
	run "$B" convert --no-progress oci:"$T/long" dir:"$W/s:long"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"d/nnnnnnnnnn"* ]]
	[[ "$output" == *255* ]]
	[ ! -e "$W/s/index.json" ] || ! tags "$W/s" | grep -qx long
}

@test "a structurally bad index has its own message; the other images of its store go on" {
	"$B" convert oci:"$T/bb" dir:"$W/s:bb" >/dev/null
	python3 "$HERE/integrity.py" break-nlink "$W/s" bb bad >/dev/null
	local cmd
	for cmd in inspect verify; do
		run "$B" "$cmd" dir:"$W/s:bad"
		echo "$cmd: $output"
		[ "$status" -ne 0 ]
		[[ "$output" == *"not a valid index"*inode*link* ]]
		[[ "$output" != *"does not match its digest"* ]]
	done
	mkdir "$W/m"
	run "$I" mount --store dir:"$W/s" --cache "$W/c" bad "$W/m"
	echo "mount: $output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"not a valid index"* ]]
	# converts into the store, mounts and exports of its other images are not blocked
	run "$B" convert --no-progress oci:"$T/a" dir:"$W/s:a"
	echo "convert: $output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"does not match its digest"* ]]
	[[ "$output" != *"error"* ]]
	"$B" export dir:"$W/s:a" "$W/out"
	"$I" mount --store dir:"$W/s" --cache "$W/c" bb "$W/m"
	[ "$(cat "$W/m/etc/hostname")" = busybox ]
	"$I" umount "$W/m"
}

@test "brisk-imagefs umount refuses what is not a brisk-imagefs mount" {
	mkdir "$W/tm" "$W/plain" "$W/m"
	mount -t tmpfs tmpfs "$W/tm"
	run "$I" umount "$W/tm"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"not a brisk-imagefs mount"* ]]
	mountpoint -q "$W/tm"
	umount "$W/tm"
	run "$I" umount "$W/plain"
	[ "$status" -ne 0 ]
	[[ "$output" == *"not a brisk-imagefs mount"* ]]
	# its own mounts it unmounts, whatever the path looks like
	"$B" convert oci:"$T/bb" dir:"$W/s:bb" >/dev/null
	"$I" mount --store dir:"$W/s" --cache "$W/c" bb "$W/m"
	"$I" umount "$W/m/"
	! mountpoint -q "$W/m"
}

xattr() { # FILE NAME: its value, or fail
	python3 -c 'import os, sys; sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2]).decode("latin-1"))' "$1" "$2" 2>/dev/null
}

@test "export makes no device node, setuid/setgid bit or file capability unless --keep-special" {
	"$B" convert oci:"$T/special" dir:"$W/s:sp" >/dev/null
	run "$B" export dir:"$W/s:sp" "$W/out"
	echo "$output"
	[ "$status" -eq 0 ]
	[ ! -e "$W/out/dev/mem" ]
	[ ! -e "$W/out/dev/sda" ]
	[ -p "$W/out/dev/fifo" ]
	[ -f "$W/out/bin/suid" ] && [ ! -u "$W/out/bin/suid" ]
	[ -f "$W/out/bin/sgid" ] && [ ! -g "$W/out/bin/sgid" ]
	[ "$(stat -c %a "$W/out/bin/suid")" = 755 ]
	if xattr "$W/out/bin/cap" security.capability; then echo "a file capability was exported"; return 1; fi
	[ "$(xattr "$W/out/bin/cap" user.note)" = kept ]
	# pull-snapshot takes no option: it never makes them either
	"$B" export --keep-special dir:"$W/s:sp" "$W/keep"
	[ "$(stat -c %F:%t:%T:%a "$W/keep/dev/mem")" = "character special file:1:1:666" ]
	[ -b "$W/keep/dev/sda" ]
	[ -u "$W/keep/bin/suid" ]
	[ -g "$W/keep/bin/sgid" ]
	xattr "$W/keep/bin/cap" security.capability >/dev/null
	run "$B" --help
	[[ "$output" == *--keep-special* ]]
}

# ---- lazy containers ----------------------------------------------------------------------

lazy_setup() {
	common_setup
	PFX=lzk
	export BRISK_LAZY_DIR=$TEST_DIR/lazy
	export BRISK_IMAGEFS="$I"
	"$B" convert oci:"$T/bb" dir:"$TEST_DIR/img:bb" >/dev/null
	rm -rf "$BUNDLE/rootfs"
	config ".annotations[\"run.brisk.image\"] = \"bb\" |
		.annotations[\"run.brisk.store\"] = \"dir:$TEST_DIR/img\" |
		.annotations[\"run.brisk.cache\"] = \"$TEST_DIR/cache\""
	args sh -c 'cat /etc/hostname'
}

# Nothing of a lazy container is left: state, mounts, cgroups and processes (helpers.bash),
# its overlay directory, its hold on the image, the image's daemon.
lazy_nothing_left() {
	assert_nothing_left || return 1
	local left
	left=$(ls -A "$BRISK_LAZY_DIR/containers" 2>/dev/null) || true
	[ -z "$left" ] || { echo "overlay directories left: $left"; return 1; }
	left=$(find "$BRISK_LAZY_DIR/images" -path '*/refs/*' 2>/dev/null) || true
	[ -z "$left" ] || { echo "holds left: $left"; return 1; }
	if pgrep -f -- "$TEST_DIR/cache" >/dev/null; then
		echo "image daemons left:"
		pgrep -af -- "$TEST_DIR/cache"
		return 1
	fi
}

# The passes of a good lazy create, up to the first save of its state (what `delete` reads)
lazy_passes() {
	local trace=$TEST_DIR/trace
	rm -f "$trace"
	BRISK_FAULT_TRACE=$trace brisk create ${PFX}0 >/dev/null
	brisk delete --force ${PFX}0
	[ -s "$trace" ] || return 1
	awk '!seen[$0]++ {print} $1 == "state-write" {exit}' "$trace"
}

# kill_create ID N: a create of ID, killed with SIGKILL exactly at its pass N through a fault
# point, before that step runs: strace kills it as it opens its fault trace for the Nth time
kill_create() {
	local id=$1 n=$2
	rm -f "$TEST_DIR/trace"
	config ".linux.cgroupsPath = \"/$CGROUP_PARENT/$id\""
	BRISK_FAULT_TRACE=$TEST_DIR/trace strace -o /dev/null -P "$TEST_DIR/trace" \
		-e trace=openat -e inject=openat:signal=KILL:when="$n" \
		"$BRISK" --root "$STATE_ROOT" create --bundle "$BUNDLE" "$id" >/dev/null 2>&1 || true
	[ "$(cat "$TEST_DIR/trace" 2>/dev/null | wc -l)" = $((n - 1)) ] || {
		echo "create of $id was not killed at pass $n:"; cat "$TEST_DIR/trace"; return 1; }
}

# kill_create_after ID N MS: a create of ID, killed MS ms after its pass N, wherever it is
kill_create_after() {
	local id=$1 n=$2 ms=$3
	rm -f "$TEST_DIR/trace"
	config ".linux.cgroupsPath = \"/$CGROUP_PARENT/$id\""
	python3 "$HERE/killat.py" "$TEST_DIR/trace" "$n" "$ms" \
		"$BRISK" --root "$STATE_ROOT" create --bundle "$BUNDLE" "$id" || true
}

# again ID: the same id runs, and goes
again() {
	run brisk run "$1"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *busybox* ]]
	lazy_nothing_left
}

@test "lazy create killed at each step: delete --force leaves nothing, the same id runs" {
	command -v strace >/dev/null || skip "strace is not installed"
	lazy_setup
	local passes
	passes=$(lazy_passes) || skip "brisk is a release build: no fault injection"
	echo "passes: $passes"
	local n k
	n=$(echo "$passes" | wc -l)
	[ "$n" -ge 3 ]
	for k in $(seq 1 "$n"); do
		echo "--- killed before pass $k ($(echo "$passes" | sed -n "${k}p"))"
		kill_create ${PFX}1 "$k"
		brisk delete --force ${PFX}1
		lazy_nothing_left || { echo "after a kill before pass $k"; return 1; }
		again ${PFX}1 || { echo "after a kill before pass $k"; return 1; }
	done
}

@test "lazy create killed while the image mounts, or its state is left: the next create cleans up" {
	command -v strace >/dev/null || skip "strace is not installed"
	lazy_setup
	local passes
	passes=$(lazy_passes) || skip "brisk is a release build: no fault injection"
	local k ms
	# the pass that starts brisk-imagefs (or else the one before the overlay's mount), then
	# kills while the daemon mounts the image
	k=$(echo "$passes" | grep -n '^lazy-image ' | cut -d: -f1)
	[ -n "$k" ] || k=$(($(echo "$passes" | grep -n '^mount ' | head -1 | cut -d: -f1) - 1))
	[ "$k" -ge 1 ]
	for ms in 0 5 10 20 40 80; do
		echo "--- killed $ms ms after the mount started"
		kill_create_after ${PFX}2 "$k" "$ms"
		brisk delete --force ${PFX}2
		lazy_nothing_left || { echo "after a kill $ms ms into the mount"; return 1; }
	done
	# a create killed as it saves its first state, whose state directory was then removed
	# by hand: the same id cleans up
	n=$(echo "$passes" | wc -l)
	kill_create ${PFX}3 "$n"
	rm -rf "${STATE_ROOT:?}/${PFX}3"
	again ${PFX}3
}

@test "lazy create: each fault point fails cleanly and leaves nothing" {
	lazy_setup
	local passes
	passes=$(lazy_passes) || skip "brisk is a release build: no fault injection"
	local point count rc
	while read -r point count; do
		rc=0
		BRISK_FAULT=$point:$count brisk create ${PFX}4 2>"$TEST_DIR/err" || rc=$?
		cat "$TEST_DIR/err"
		[ "$rc" -ne 0 ] || grep -q "ignoring" "$TEST_DIR/err" || {
			echo "$point:$count: create succeeded although the step failed"; return 1; }
		brisk delete --force ${PFX}4
		lazy_nothing_left || { echo "after the fault $point:$count"; return 1; }
	done <<<"$passes"
}
