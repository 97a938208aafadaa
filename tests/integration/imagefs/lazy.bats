#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# brisk-imagefs end to end: lazy mounts from a dir: store and from Debian's docker-registry
# equal `umoci unpack`; concurrent readers, single flight, cache eviction, faults injected by a
# registry of the test's own, access profiles, and a server killed while a reader reads.
# Every test mounts on its own mountpoint and teardown unmounts whatever is left.

bats_require_minimum_version 1.5.0

setup_file() {
	[ "$(id -u)" = 0 ] || skip "needs root (FUSE mounts)"
	[ -e /dev/fuse ] || skip "no /dev/fuse"
	export HERE="$BATS_TEST_DIRNAME"
	export T="$BATS_FILE_TMPDIR"
	python3 "$HERE/mkimage.py" busybox "$T/bb"
	python3 "$HERE/mkimage.py" synthetic-gzip "$T/syn"
	python3 "$HERE/mkimage.py" lazy-data "$T/ld"
	"$BRISK_IMAGE" convert oci:"$T/bb" dir:"$T/store:bb" >/dev/null
	"$BRISK_IMAGE" convert oci:"$T/syn" dir:"$T/store:syn" >/dev/null
	"$BRISK_IMAGE" convert oci:"$T/ld" dir:"$T/store:ld" >/dev/null
	umoci unpack --image "$T/bb:latest" "$T/bb-umoci" >/dev/null
	umoci unpack --image "$T/syn:latest" "$T/syn-umoci" >/dev/null
	umoci unpack --image "$T/ld:latest" "$T/ld-umoci" >/dev/null
}

setup() {
	[ "$(id -u)" = 0 ] || skip "needs root (FUSE mounts)"
	I="$BRISK_IMAGEFS"
	M="$BATS_TEST_TMPDIR/mnt"
	C="$BATS_TEST_TMPDIR/cache"
	mkdir -p "$M"
	PIDS=()
}

teardown() {
	local m
	for m in "$BATS_TEST_TMPDIR"/mnt*; do
		mountpoint -q "$m" && { umount "$m" 2>/dev/null || umount -l "$m"; }
	done
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	return 0
}

stats() { # MOUNTPOINT KEY: a figure of the daemon's stats
	"$I" stats "$1" | python3 -c 'import json, sys
s = json.load(sys.stdin)
print(eval("s" + "".join("[%r]" % k for k in sys.argv[1].split("."))))' "$2"
}

start_faulty() { # STORE: sets FPORT
	coproc FR { exec python3 "$HERE/faulty-registry.py" "$1"; }
	read -r FPORT <&"${FR[0]}"
	PIDS+=("$FR_PID")
}

fault() { curl -sf "http://127.0.0.1:$FPORT/fault?$1" >/dev/null; }

kernel_at_least() { # MAJOR MINOR
	local v
	v=$(uname -r)
	local maj=${v%%.*} rest=${v#*.}
	local min=${rest%%[.-]*}
	[ "$maj" -gt "$1" ] || { [ "$maj" = "$1" ] && [ "$min" -ge "$2" ]; }
}

@test "dir store: busybox and synthetic trees equal umoci unpack through the mount" {
	"$I" mount --store dir:"$T/store" --cache "$C" bb "$M"
	python3 "$HERE/treecmp.py" "$T/bb-umoci/rootfs" "$M"
	[ "$("$M/bin/busybox" echo lazy)" = lazy ]
	"$I" umount "$M"
	if mountpoint -q "$M"; then echo "unexpected: this matched"; return 1; fi
	mkdir -p "$M"2
	"$I" mount --store dir:"$T/store" --cache "$C" syn "$M"2
	python3 "$HERE/treecmp.py" "$T/syn-umoci/rootfs" "$M"2
	[ "$(stat -c %h "$M"2/a/hard1)" = 3 ]
	# read-only
	run ! touch "$M"2/newfile
	"$I" umount "$M"2
}

@test "mounting by digest fetches only the index; reads fetch what they touch" {
	d=$("$BRISK_IMAGE" convert oci:"$T/ld" dir:"$T/store")
	"$I" mount --store dir:"$T/store" --cache "$C" "$d" "$M"
	ls -R "$M" >/dev/null
	[ "$(stats "$M" fetched_bytes)" = 0 ]
	head -c 100 "$M/data/big.bin" >/dev/null
	fetched=$(stats "$M" fetched_bytes)
	[ "$fetched" -gt 0 ] && [ "$fetched" -le $((4 << 20)) ]
	"$I" umount "$M"
}

@test "a page fault of an mmap()ed file reads 512 KiB around it, not megabytes" {
	d=$("$BRISK_IMAGE" convert oci:"$T/ld" dir:"$T/store")
	"$I" mount --store dir:"$T/store" --cache "$C" "$d" "$M"
	[ "$(cat "/sys/class/bdi/$(mountpoint -d "$M")/read_ahead_kb")" = 512 ]
	# one page in the middle of a chunk of the 24 MiB random file: that chunk and its
	# neighbour (2 MiB); a 4 MiB window would have fetched 8 MiB
	python3 -c 'import mmap, sys
with open(sys.argv[1], "rb") as f:
    mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)[(12 << 20) + (512 << 10)]' "$M/data/big.bin"
	fetched=$(stats "$M" fetched_bytes)
	[ "$fetched" -gt 0 ] && [ "$fetched" -le $((3 << 20)) ]
	"$I" umount "$M"
}

@test "registry: tree equals umoci, warm cache fetches nothing, a second image shares the cache" {
	command -v docker-registry >/dev/null || skip "docker-registry not installed"
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	mkdir -p "$T/reg"
	printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
		"$T/reg/data" "$port" >"$T/reg/config.yml"
	docker-registry serve "$T/reg/config.yml" >"$T/reg/log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
	"$BRISK_IMAGE" push dir:"$T/store:ld" registry:127.0.0.1:$port/brisk/ld:v1 >/dev/null
	"$I" mount --store registry:127.0.0.1:$port/brisk/ld --cache "$C" v1 "$M"
	python3 "$HERE/treecmp.py" "$T/ld-umoci/rootfs" "$M"
	[ "$(stats "$M" range_reads)" -gt 0 ]
	[ "$(stats "$M" index_cached)" = False ]
	"$I" umount "$M"
	# the second mount reads the index, as well as the chunks, from the cache
	mkdir -p "$M"2
	"$I" mount --store registry:127.0.0.1:$port/brisk/ld --cache "$C" v1 "$M"2
	python3 "$HERE/treecmp.py" "$T/ld-umoci/rootfs" "$M"2
	[ "$(stats "$M"2 fetched_bytes)" = 0 ]
	[ "$(stats "$M"2 cache_hits)" -gt 0 ]
	[ "$(stats "$M"2 index_cached)" = True ]
	"$I" umount "$M"2
	# a cached index that does not match its digest is dropped and fetched again
	digest=$("$BRISK_IMAGE" inspect dir:"$T/store:ld" | awk '/^index:/ {print $2}')
	hex=${digest#sha256:}
	entry="$C/chunks/${hex:0:2}/$hex"
	[ -f "$entry" ]
	size=$(stat -c %s "$entry")
	head -c "$size" /dev/zero >"$entry"
	mkdir -p "$M"3
	"$I" mount --store registry:127.0.0.1:$port/brisk/ld --cache "$C" v1 "$M"3
	python3 "$HERE/treecmp.py" "$T/ld-umoci/rootfs" "$M"3
	[ "$(stats "$M"3 index_cached)" = False ]
	"$I" umount "$M"3
	cmp "$entry" <(curl -sf "http://127.0.0.1:$port/v2/brisk/ld/blobs/$digest")
	# a mount fetches the zstd copy of the index that the manifest names beside it: with
	# the index itself gone from the registry, a mount with an empty cache still works
	zd=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://127.0.0.1:$port/v2/brisk/ld/manifests/v1" |
		jq -r '.layers[] | select(.mediaType | endswith("brisk.index.v1+zstd")) | .digest')
	[ -n "$zd" ]
	rm "$T/reg/data/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"
	run ! curl -sf -o /dev/null "http://127.0.0.1:$port/v2/brisk/ld/blobs/$digest"
	mkdir -p "$M"4
	"$I" mount --store registry:127.0.0.1:$port/brisk/ld --cache "$C"4 v1 "$M"4
	python3 "$HERE/treecmp.py" "$T/ld-umoci/rootfs" "$M"4
	"$I" umount "$M"4
}

@test "registry: an image whose manifest predates containerd's (brisk's own media types) is still read" {
	command -v docker-registry >/dev/null || skip "docker-registry not installed"
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	mkdir -p "$T/oreg"
	printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
		"$T/oreg/data" "$port" >"$T/oreg/config.yml"
	docker-registry serve "$T/oreg/config.yml" >"$T/oreg/log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
	local R=registry:127.0.0.1:$port/brisk/old digest m
	"$BRISK_IMAGE" push dir:"$T/store:bb" "$R:new" >/dev/null
	python3 "$HERE/old-manifest.py" "127.0.0.1:$port" brisk/old new old
	m=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://127.0.0.1:$port/v2/brisk/old/manifests/old")
	[ "$(echo "$m" | jq -r .config.mediaType)" = application/vnd.brisk.image.config.v1+json ]
	[ "$(echo "$m" | jq -r '.layers[1].mediaType')" = application/vnd.brisk.image.index.v1+zstd ]
	digest=$("$BRISK_IMAGE" inspect dir:"$T/store:bb" | awk '/^index:/ {print $2}')
	[ "$("$BRISK_IMAGE" inspect "$R:old" | awk '/^index:/ {print $2}')" = "$digest" ]
	"$BRISK_IMAGE" verify "$R:old"
	"$BRISK_IMAGE" export "$R:old" "$T/old-export"
	python3 "$HERE/treecmp.py" "$T/bb-umoci/rootfs" "$T/old-export"
	# a mount by tag reads the zstd copy that the old manifest names
	"$I" mount --store "$R" --cache "$C" old "$M"
	python3 "$HERE/treecmp.py" "$T/bb-umoci/rootfs" "$M"
	"$I" umount "$M"
	# pulled, it is written as an image is now
	"$BRISK_IMAGE" pull "$R:old" dir:"$T/old-pulled:bb" >/dev/null
	[ "$("$BRISK_IMAGE" inspect dir:"$T/old-pulled:bb" | awk '/^index:/ {print $2}')" = "$digest" ]
	m=$(jq -r '.manifests[0].digest' "$T/old-pulled/index.json")
	[ "$(jq -r .config.mediaType "$T/old-pulled/blobs/sha256/${m#sha256:}")" = application/vnd.oci.image.config.v1+json ]
}

@test "umount returns once the daemon has put what it fetched in the cache and exited" {
	# The daemon writes fetched chunks to the cache once reads quiet down: right after
	# the reads, most are still in its memory. Its stats file is written as it exits.
	S="$BATS_TEST_TMPDIR/stats.json"
	"$I" mount --store dir:"$T/store" --cache "$C" --no-prefetch --stats "$S" ld "$M"
	pid=$(python3 -c 'import array, fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
a = array.array("i", [0])
fcntl.ioctl(fd, 0x80046202, a)  # IFS_IOC_PID: _IOR("b", 2, int32_t)
print(a[0])' "$M")
	[ "$pid" -gt 1 ]
	cat "$M"/data/small/* "$M/data/big.bin" >/dev/null && "$I" umount "$M"
	[ -f "$S" ]
	# gone, or a zombie its new parent has not reaped yet
	state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo gone)
	[ "$state" = gone ] || [ "$state" = Z ]
	fetched=$(jq .fetched_chunks "$S")
	cached=$(find "$C/chunks" -type f | wc -l)
	echo "fetched $fetched chunks, $cached in the cache"
	[ "$fetched" -gt 10 ]
	[ "$cached" -ge "$fetched" ]
	# and a new mount reads all of it from there
	mkdir -p "$M"2
	"$I" mount --store dir:"$T/store" --cache "$C" --no-prefetch ld "$M"2
	cat "$M"2/data/small/* "$M"2/data/big.bin >/dev/null
	[ "$(stats "$M"2 fetched_bytes)" = 0 ]
	"$I" umount "$M"2
}

@test "concurrent readers: same bytes, each chunk fetched once" {
	"$I" mount --store dir:"$T/store" --cache "$C" --threads 4 ld "$M"
	want=$(sha256sum <"$T/ld-umoci/rootfs/data/big.bin")
	for i in 1 2 3 4 5 6; do
		(sha256sum <"$M/data/big.bin" >"$BATS_TEST_TMPDIR/sum.$i") &
	done
	(cat "$M"/data/small/* >/dev/null) &
	wait
	for i in 1 2 3 4 5 6; do
		[ "$(cat "$BATS_TEST_TMPDIR/sum.$i")" = "$want" ]
	done
	chunks=$("$BRISK_IMAGE" inspect dir:"$T/store:ld" | awk '/^chunks:/ {print $2}')
	fetched=$(stats "$M" fetched_chunks)
	echo "fetched $fetched of $chunks chunks"
	[ "$fetched" -le "$chunks" ]
	"$I" umount "$M"
}

@test "cache eviction under a small cap keeps reads correct" {
	S="$BATS_TEST_TMPDIR/stats.json"
	"$I" mount --store dir:"$T/store" --cache "$C" --cache-size $((4 << 20)) --stats "$S" ld "$M"
	python3 "$HERE/treecmp.py" "$T/ld-umoci/rootfs" "$M"
	# cache writes wait for a quiet mount; the unmount waits for them
	"$I" umount "$M"
	[ "$(jq .evicted "$S")" -gt 0 ]
	size=$(du -sb "$C/chunks" | cut -f1)
	echo "cache holds $size bytes"
	[ "$size" -le $((6 << 20)) ]
	# evicted chunks come back on demand
	"$I" mount --store dir:"$T/store" --cache "$C" --cache-size $((4 << 20)) ld "$M"
	cmp "$M/data/big.bin" "$T/ld-umoci/rootfs/data/big.bin"
	[ "$(stats "$M" fetched_chunks)" -gt 0 ]
	"$I" umount "$M"
}

@test "faults: retries then EIO on that read only, bounded in time, never a wrong byte" {
	start_faulty "$T/store"
	"$I" mount --store registry:127.0.0.1:$FPORT/brisk/ld --cache "$C" --timeout-ms 1000 \
		--retries 2 ld "$M"
	# dropped connections, twice: the retries hide them
	fault "mode=drop&count=2"
	cmp "$M/data/small/f001" "$T/ld-umoci/rootfs/data/small/f001"
	[ "$(stats "$M" retries)" -ge 1 ]
	for mode in "corrupt" "full" "short" "drop" "delay&delay=5"; do
		fault "mode=$mode"
		start=$(date +%s%N)
		run ! cat "$M/data/mid.bin"
		ms=$((($(date +%s%N) - start) / 1000000))
		echo "$mode: ${ms} ms: $output"
		[[ "$output" =~ "Input/output error" ]]
		# 3 attempts of at most 1 s each, 0.3 s of backoff, for each read the kernel sends
		[ "$ms" -lt 15000 ]
		# metadata and other files still work
		[ "$(cat "$M/etc/hostname")" = busybox ]
	done
	fault "mode=ok"
	cmp "$M/data/mid.bin" "$T/ld-umoci/rootfs/data/mid.bin"
	"$I" umount "$M"
}

@test "fault point chunk-fetch (BRISK_FAULT): each traced fetch fails in turn, retried or EIO" {
	# debug builds only: a trace of one read shows whether the points are compiled in
	BRISK_FAULT_TRACE="$BATS_TEST_TMPDIR/trace" "$I" mount --store dir:"$T/store" --cache "$C" ld "$M"
	cat "$M/data/mid.bin" >/dev/null
	"$I" umount "$M"
	grep -q '^chunk-fetch ' "$BATS_TEST_TMPDIR/trace" 2>/dev/null || skip "a release build: no fault points"
	n=$(grep -c '^chunk-fetch ' "$BATS_TEST_TMPDIR/trace")
	for k in $(seq 1 "$n"); do
		# with a retry the read succeeds, byte for byte
		rm -rf "$C"
		BRISK_FAULT=chunk-fetch:$k "$I" mount --store dir:"$T/store" --cache "$C" --retries 1 ld "$M"
		cmp "$M/data/mid.bin" "$T/ld-umoci/rootfs/data/mid.bin"
		[ "$(stats "$M" retries)" = 1 ]
		"$I" umount "$M"
		# without, the fetch fails: the read that needed it gets EIO (one the kernel made
		# ahead of the reader is tried again by the reader), never a wrong byte, and nothing
		# wrong is cached: a clean mount reads the file
		rm -rf "$C"
		BRISK_FAULT=chunk-fetch:$k "$I" mount --store dir:"$T/store" --cache "$C" --retries 0 ld "$M"
		if cat "$M/data/mid.bin" >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err"; then
			cmp "$BATS_TEST_TMPDIR/out" "$T/ld-umoci/rootfs/data/mid.bin"
		else
			grep -q "Input/output error" "$BATS_TEST_TMPDIR/err"
		fi
		[ "$(stats "$M" failures)" = 1 ]
		"$I" umount "$M"
		"$I" mount --store dir:"$T/store" --cache "$C" ld "$M"
		cmp "$M/data/mid.bin" "$T/ld-umoci/rootfs/data/mid.bin"
		"$I" umount "$M"
	done
}

@test "access profile: recorded, stored beside the image, prefetched by later mounts" {
	"$I" mount --store dir:"$T/store" --cache "$C" --record-profile "$T/profile" ld "$M"
	cat "$M/data/small/f00"* "$M/data/mid.bin" >/dev/null
	"$I" umount "$M"
	grep -q ' /data/mid.bin$' "$T/profile"
	grep -q ' /data/small/f005$' "$T/profile"
	"$BRISK_IMAGE" profile dir:"$T/store:ld" "$T/profile"
	mkdir -p "$M"2
	"$I" mount --store dir:"$T/store" --cache "$C.2" ld "$M"2
	for _ in $(seq 50); do
		[ "$(stats "$M"2 prefetched_chunks)" -ge 3 ] && break
		sleep 0.1
	done
	[ "$(stats "$M"2 prefetched_chunks)" -ge 3 ]
	cmp "$M"2/data/mid.bin "$T/ld-umoci/rootfs/data/mid.bin"
	"$I" umount "$M"2
}

@test "access profile: later mounts list its directories, so the start's lookups are cached" {
	"$I" mount --store dir:"$T/store" --cache "$C" --record-profile "$T/profile-dirs" ld "$M"
	cat "$M/data/small/f1"* >/dev/null
	"$I" umount "$M"
	"$BRISK_IMAGE" profile dir:"$T/store:ld" "$T/profile-dirs"
	# a mount that does not list them: each file costs a lookup
	"$I" mount --store dir:"$T/store" --cache "$C.2" --no-prefetch ld "$M"
	# named one by one: a glob would list the directory
	files=$(cd "$T/ld-umoci/rootfs/data/small" && echo f1*)
	before=$(stats "$M" requests.lookup)
	(cd "$M/data/small" && cat $files >/dev/null)
	cold=$(($(stats "$M" requests.lookup) - before))
	[ "$(stats "$M" listed_dirs)" = 0 ]
	"$I" umount "$M"
	"$I" mount --store dir:"$T/store" --cache "$C.2" ld "$M"
	for _ in $(seq 50); do
		[ "$(stats "$M" listed_dirs)" -ge 1 ] && break
		sleep 0.1
	done
	[ "$(stats "$M" listed_dirs)" = 1 ]
	[ "$(stats "$M" requests.readdirplus)" -ge 1 ]
	before=$(stats "$M" requests.lookup)
	(cd "$M/data/small" && cat $files >/dev/null)
	warm=$(($(stats "$M" requests.lookup) - before))
	echo "lookups of 100 files: $cold without the listing, $warm with it"
	[ "$cold" -ge 100 ]
	[ "$warm" = 0 ]
	cmp "$M"/data/small/f150 "$T/ld-umoci/rootfs/data/small/f150"
	"$I" umount "$M"
}

@test "an image without xattrs costs one getxattr, however many files overlayfs looks up" {
	"$I" mount --store dir:"$T/store" --cache "$C" --no-prefetch ld "$M"
	mkdir -p "$BATS_TEST_TMPDIR"/{up,work,mnt-ovl}
	mount -t overlay overlay -o lowerdir="$M",upperdir="$BATS_TEST_TMPDIR/up",workdir="$BATS_TEST_TMPDIR/work" \
		"$BATS_TEST_TMPDIR/mnt-ovl"
	# named one by one: a glob would list the directory, and its entries come with it
	(cd "$BATS_TEST_TMPDIR/mnt-ovl/data/small" &&
		cat $(cd "$T/ld-umoci/rootfs/data/small" && echo f*) >/dev/null)
	umount "$BATS_TEST_TMPDIR/mnt-ovl"
	echo "lookups $(stats "$M" requests.lookup), getxattrs $(stats "$M" requests.getxattr)"
	[ "$(stats "$M" requests.lookup)" -ge 200 ]
	[ "$(stats "$M" requests.getxattr)" -le 1 ]
	run python3 -c 'import os, sys; os.getxattr(sys.argv[1], "user.x")' "$M/data/small/f000"
	[ "$status" -ne 0 ]
	[[ "$output" == *"Operation not supported"* ]]
	[ "$(python3 -c 'import os, sys; print(os.listxattr(sys.argv[1]))' "$M/data/small/f000")" = "[]" ]
	"$I" umount "$M"
	# --exact-xattrs (brisk-snapshotter's mounts): "no such attribute", as a file system with
	# xattrs answers, every time (containerd's diff of a layer takes EOPNOTSUPP as an error)
	"$I" mount --store dir:"$T/store" --cache "$C" --no-prefetch --exact-xattrs ld "$M"
	for _ in 1 2; do
		run python3 -c 'import os, sys; os.getxattr(sys.argv[1], "security.capability")' "$M/data/small/f000"
		[ "$status" -ne 0 ]
		[[ "$output" == *"No data available"* ]]
	done
	[ "$(stats "$M" requests.getxattr)" -ge 2 ]
	"$I" umount "$M"
	# an image with xattrs still serves them, each a request
	mkdir -p "$M"2
	"$I" mount --store dir:"$T/store" --cache "$C" syn "$M"2
	python3 -c 'import os, sys; assert os.getxattr(sys.argv[1], "security.capability")' "$M"2/a/cap
	[ "$(stats "$M"2 requests.getxattr)" -ge 1 ]
	"$I" umount "$M"2
}

@test "stats: the daemon's counters; a directory that is no lazy mount is refused" {
	"$I" mount --store dir:"$T/store" --cache "$C" --no-prefetch ld "$M"
	cat "$M/data/small/f000" >/dev/null
	[ "$(stats "$M" requests.read)" -ge 1 ]
	[ "$(stats "$M" index_cached)" = False ]
	"$I" umount "$M"
	run "$I" stats "$M"
	[ "$status" = 1 ]
	[[ "$output" == *"'$M' is not a lazy mount"* ]]
}

@test "passthrough: cached files are read by the kernel from the cache, same bytes" {
	kernel_at_least 6 9 || skip "FUSE passthrough needs Linux 6.9 (this is $(uname -r))"
	"$I" mount --store dir:"$T/store" --cache "$C" ld "$M"
	# a one-chunk file: the first open fetches it, a later one is passed through
	cmp "$M/data/small/f100" "$T/ld-umoci/rootfs/data/small/f100"
	for _ in $(seq 50); do
		before=$(stats "$M" passthrough_opens)
		cmp "$M/data/small/f100" "$T/ld-umoci/rootfs/data/small/f100"
		[ "$(stats "$M" passthrough_opens)" -gt "$before" ] && break
		sleep 0.1
	done
	[ "$(stats "$M" passthrough_opens)" -gt "$before" ]
	# a file of several chunks, once all are cached, is copied whole into the cache and
	# passed through from then on: its reads no longer reach the server
	cmp "$M/data/big.bin" "$T/ld-umoci/rootfs/data/big.bin"
	for _ in $(seq 100); do
		before=$(stats "$M" passthrough_opens)
		reads=$(stats "$M" requests.read)
		echo 3 >/proc/sys/vm/drop_caches
		cmp "$M/data/big.bin" "$T/ld-umoci/rootfs/data/big.bin"
		[ "$(stats "$M" passthrough_opens)" -gt "$before" ] && break
		sleep 0.1
	done
	[ "$(stats "$M" passthrough_opens)" -gt "$before" ]
	[ "$(stats "$M" requests.read)" = "$reads" ]
	# a partly cached file of several chunks is served by us, correctly, and never
	# fetched whole because it was opened (a fresh cache; no prefetch of the profile an
	# earlier test stored for this image)
	mkdir -p "$M"2
	"$I" mount --store dir:"$T/store" --cache "$C"2 --no-prefetch ld "$M"2
	head -c 100 "$M"2/data/mid.bin >/dev/null
	head -c 100 "$M"2/data/mid.bin | cmp - <(head -c 100 "$T/ld-umoci/rootfs/data/mid.bin")
	sleep 0.5
	echo "fetched $(stats "$M"2 fetched_bytes) of mid.bin's 3 MiB"
	[ "$(stats "$M"2 fetched_bytes)" -lt $((3 << 20)) ]
	[ "$(stats "$M"2 passthrough_opens)" = 0 ]
	cmp "$M"2/data/mid.bin "$T/ld-umoci/rootfs/data/mid.bin"
	"$I" umount "$M"2
	# a container's overlay stacks on the mount (the mount takes one level of stacking)
	mkdir -p "$BATS_TEST_TMPDIR"/{up,work,mnt-ovl}
	mount -t overlay overlay -o lowerdir="$M",upperdir="$BATS_TEST_TMPDIR/up",workdir="$BATS_TEST_TMPDIR/work" \
		"$BATS_TEST_TMPDIR/mnt-ovl"
	cmp "$BATS_TEST_TMPDIR/mnt-ovl/data/big.bin" "$T/ld-umoci/rootfs/data/big.bin"
	umount "$BATS_TEST_TMPDIR/mnt-ovl"
	"$I" umount "$M"
}

@test "the server killed while a reader reads: the supervisor restarts it, the reader goes on" {
	start_faulty "$T/store"
	"$I" mount --store registry:127.0.0.1:$FPORT/brisk/ld --cache "$C" \
		--pid-file "$BATS_TEST_TMPDIR/pid" ld "$M"
	sup=$(cat "$BATS_TEST_TMPDIR/pid")
	server=$(pgrep -P "$sup")
	[ -n "$server" ]
	fault "mode=delay&delay=0.3"
	(sha256sum <"$M/data/big.bin" >"$BATS_TEST_TMPDIR/sum") &
	reader=$!
	sleep 0.5
	kill -9 "$server"
	wait "$reader"
	[ "$(cat "$BATS_TEST_TMPDIR/sum")" = "$(sha256sum <"$T/ld-umoci/rootfs/data/big.bin")" ]
	new=$(pgrep -P "$sup")
	[ -n "$new" ] && [ "$new" != "$server" ]
	[ "$(cat "$M/etc/hostname")" = busybox ]
	"$I" umount "$M"
}

@test "memory stays bounded: 200k files, 8 readers walking the tree" {
	python3 "$HERE/mkimage.py" many-files "$T/many" 200000
	d=$("$BRISK_IMAGE" convert --no-progress oci:"$T/many" dir:"$T/store:many")
	"$I" mount --store dir:"$T/store" --cache "$C" --pid-file "$BATS_TEST_TMPDIR/pid" many "$M"
	local sup daemon
	sup=$(cat "$BATS_TEST_TMPDIR/pid")
	daemon=$(pgrep -P "$sup" | head -1)
	[ -n "$daemon" ]
	# the daemon's peak memory while 8 readers walk: each lists every file and reads an
	# eighth of them (the directories whose number modulo 8 is its own)
	(while kill -0 "$daemon" 2>/dev/null; do
		awk '/^(RssAnon|RssFile):/ {printf "%s %s ", $1, $2} END {print ""}' "/proc/$daemon/status"
		sleep 0.2
	done >"$BATS_TEST_TMPDIR/rss") &
	PIDS+=($!)
	for r in 0 1 2 3 4 5 6 7; do
		(find "$M/m" -type f | awk -F/ -v r=$r '{d = $(NF-1); sub("d", "", d); if (d % 8 == r) print}' |
			xargs cat | wc -c >"$BATS_TEST_TMPDIR/bytes.$r") &
	done
	wait $(jobs -p | tail -8)
	total=0
	for r in 0 1 2 3 4 5 6 7; do total=$((total + $(cat "$BATS_TEST_TMPDIR/bytes.$r"))); done
	# every byte of the image was read once: sum over i of len("i\n") * (i % 37)
	want=$(python3 -c 'print(sum(len(b"%d\n" % i) * (i % 37) for i in range(200000)))')
	[ "$total" = "$want" ]
	anon=$(awk '{print $2}' "$BATS_TEST_TMPDIR/rss" | sort -n | tail -1)
	file=$(awk '{print $4}' "$BATS_TEST_TMPDIR/rss" | sort -n | tail -1)
	index=$(stat -c %s "$T/store/blobs/sha256/${d#sha256:}")
	echo "brisk-imagefs peak: anonymous $((anon / 1024)) MiB, file-backed $((file / 1024)) MiB (index $((index >> 20)) MiB)"
	# bounded: the daemon's own memory for 200k inodes stays far from the image's size (not
	# in a sanitized build, whose shadow memory and quarantine are ASan's)
	grep -q __asan_init "$I" || [ "$anon" -lt $((128 * 1024)) ]
	"$I" umount "$M"
}

spec_image() { # converts the speculation image once, as dir:$T/store:spec
	[ -e "$T/spec.done" ] && return 0
	python3 "$HERE/mkimage.py" spec-data "$T/spec"
	"$BRISK_IMAGE" convert oci:"$T/spec" dir:"$T/store:spec" >/dev/null
	touch "$T/spec.done"
}

wait_stat() { # MOUNTPOINT KEY MIN: waits up to 10 s for a counter to reach MIN
	local i
	for i in $(seq 100); do
		[ "$(stats "$1" "$2")" -ge "$3" ] && return 0
		sleep 0.1
	done
	echo "$2 is $(stats "$1" "$2"), not >= $3" >&2
	return 1
}

read_pkg() { # MOUNTPOINT: the first module, then (once speculation queued) the rest
	cat "$1/pkg/m00.py" >/dev/null
	[ "${BRISK_IMAGEFS_SPECULATE:-}" = 0 ] || wait_stat "$1" spec_dirs 1
	cat "$1"/pkg/m*.py >/dev/null
}

@test "speculation: a file's first read brings its directory's small files in a few range reads" {
	spec_image
	"$I" mount --store dir:"$T/store" --cache "$C" --no-prefetch spec "$M"
	read_pkg "$M"
	# 80 files of 40 KiB: a demand read with its neighbours brings 512 KiB, the batch 3.2 MiB
	reads=$(stats "$M" range_reads)
	echo "range reads: $reads" >&2
	[ "$reads" -le 3 ]
	[ "$(stats "$M" spec_used_bytes)" -ge $((50 * (40 << 10))) ]
	# the shared object and the data file beside them were not fetched
	[ "$(stats "$M" fetched_bytes)" -le $((4 << 20)) ]
	"$I" umount "$M"

	# the same reads without speculation take a range read per 512 KiB
	BRISK_IMAGEFS_SPECULATE=0 "$I" mount --store dir:"$T/store" --cache "$C.off" \
		--no-prefetch spec "$M"
	BRISK_IMAGEFS_SPECULATE=0 read_pkg "$M"
	reads=$(stats "$M" range_reads)
	echo "range reads without speculation: $reads" >&2
	[ "$reads" -ge 6 ]
	[ "$(stats "$M" spec_bytes)" = 0 ]
	"$I" umount "$M"
}

@test "speculation: a shared object comes whole, a large file does not, the budget holds" {
	spec_image
	"$I" mount --store dir:"$T/store" --cache "$C" --no-prefetch spec "$M"
	# 4 KiB at the start of the 40 MiB file: that chunk and a neighbour, not the file
	head -c 4096 "$M/data/weights.bin" >/dev/null
	sleep 0.5
	[ "$(stats "$M" fetched_bytes)" -le $((3 << 20)) ]
	# the ELF header of the shared object: the rest follows in parallel ranges
	head -c 64 "$M/pkg/lib.so" >/dev/null
	wait_stat "$M" spec_files 1
	wait_stat "$M" fetched_bytes $(((6 + 1) << 20))
	want=$(python3 -c 'import hashlib, sys
sys.path.insert(0, sys.argv[1])
import mkimage
print(hashlib.sha256(mkimage.rnd(6 << 20, 31)).hexdigest())' "$HERE")
	[ "$(sha256sum <"$M/pkg/lib.so" | cut -c1-64)" = "$want" ]
	"$I" umount "$M"

	# a base budget of 1 MiB: the directory's 3.2 MiB batch is left out, the rest holds
	BRISK_IMAGEFS_SPECULATE=1 "$I" mount --store dir:"$T/store" --cache "$C.small" \
		--no-prefetch spec "$M"
	cat "$M/pkg/m00.py" >/dev/null
	wait_stat "$M" spec_refused 1
	spec=$(stats "$M" spec_bytes)
	read=$(stats "$M" read_bytes)
	echo "speculative bytes $spec, read $read" >&2
	[ "$spec" -le $(((1 << 20) + read)) ]
	[ "$(stats "$M" fetched_bytes)" -le $((2 << 20)) ]
	"$I" umount "$M"
}
