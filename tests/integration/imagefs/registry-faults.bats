#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# A hostile or broken registry (hostile-registry.py, a registry of the test's own on 127.0.0.1):
# a slow token endpoint, a slow manifest, a slow index, a blob far larger than its descriptor
# says, a redirect loop, a token realm on HTTPS that sends the client to HTTP. Each request of
# brisk-imagefs and brisk-image is bounded in time and size: each fault ends in a clear error
# within its bound, the daemon stays up and unmounts at once, no temporary file is left, and a
# chunk reads correctly once the registry recovers.

bats_require_minimum_version 1.5.0

setup_file() {
	[ "$(id -u)" = 0 ] || skip "needs root (FUSE mounts)"
	[ -e /dev/fuse ] || skip "no /dev/fuse"
	export HERE="$BATS_TEST_DIRNAME"
	export T="$BATS_FILE_TMPDIR"
	python3 "$HERE/mkimage.py" busybox "$T/bb"
	"$BRISK_IMAGE" convert oci:"$T/bb" dir:"$T/store:bb" >/dev/null
	"$BRISK_IMAGE" export dir:"$T/store:bb" "$T/bb-out"
}

setup() {
	[ "$(id -u)" = 0 ] || skip "needs root (FUSE mounts)"
	B="$BRISK_IMAGE"
	I="$BRISK_IMAGEFS"
	M="$BATS_TEST_TMPDIR/mnt"
	C="$BATS_TEST_TMPDIR/cache"
	mkdir -p "$M" "$BATS_TEST_TMPDIR/tmp"
	# temporary files go here, and the tests check that none is left
	export TMPDIR="$BATS_TEST_TMPDIR/tmp"
	export HOME="$BATS_TEST_TMPDIR"
	unset DOCKER_CONFIG REGISTRY_AUTH_FILE XDG_RUNTIME_DIR BRISK_REGISTRY_AUTH
	HR_PID=
}

teardown() {
	local m
	for m in "$BATS_TEST_TMPDIR"/mnt*; do
		mountpoint -q "$m" && { umount "$m" 2>/dev/null || umount -l "$m"; }
	done
	if [ -n "$HR_PID" ]; then
		kill "$HR_PID" 2>/dev/null || true
		wait "$HR_PID" 2>/dev/null || true
	fi
	return 0
}

# The registry, with the busybox image pushed as brisk/bb:bb: sets PORT (and TLS_PORT with
# --tls CERT KEY) and HR_PID; REF is the image.
start_registry() {
	coproc HR { exec python3 "$HERE/hostile-registry.py" "$@"; }
	HR_PID=$HR_PID
	read -r PORT <&"${HR[0]}"
	[ -n "$PORT" ]
	if [ $# -gt 0 ]; then
		read -r TLS_PORT <&"${HR[0]}"
		[ -n "$TLS_PORT" ]
	fi
	REF=registry:127.0.0.1:$PORT/brisk/bb:bb
	"$B" push dir:"$T/store:bb" "$REF" >/dev/null
}

fault() { curl -sf "http://127.0.0.1:$PORT/fault?mode=$1" >/dev/null; }
counter() { curl -sf "http://127.0.0.1:$PORT/stats" | jq ".$1"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# PID has exited (a zombie until its new parent reaps it counts as gone)
gone() {
	local _ st
	for _ in $(seq 20); do
		st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
		[ -n "$st" ] && [ "$st" != Z ] || return 0
		sleep 0.1
	done
	return 1
}

# Nothing left in $TMPDIR, nor in the staging area of a dir: store.
no_temp_left() {
	[ -z "$(ls -A "$TMPDIR")" ] || { ls -la "$TMPDIR"; return 1; }
	local d
	for d in "$@"; do
		[ -z "$(find "$d" -name '.tmp-*' 2>/dev/null)" ] || { find "$d"; return 1; }
	done
}

@test "slow token endpoint: the reader gets EIO within its deadline, reads once the registry recovers; umount works" {
	start_registry
	"$I" mount --store "registry:127.0.0.1:$PORT/brisk/bb" --cache "$C" --timeout-ms 2000 \
		--retries 1 --pid-file "$BATS_TEST_TMPDIR/pid" bb "$M"
	daemon=$(cat "$BATS_TEST_TMPDIR/pid")
	for mode in slow-token redirect; do
		fault "$mode"
		start=$(now_ms)
		run ! timeout 120 cat "$M/bin/busybox"
		ms=$(($(now_ms) - start))
		echo "$mode: $ms ms: ${output:0:200}"
		[[ "$output" =~ "Input/output error" ]]
		# each read the kernel sends (the readahead, then the reader's own retry) gets
		# EIO after 2 attempts of at most 2 s each, the token's request included, and
		# 0.1 s of backoff: about 8 s in all
		[ "$ms" -lt 15000 ]
		# the daemon is up: metadata and stats still answer
		[ "$(cat "$M/etc/hostname")" = busybox ]
		"$I" stats "$M" >/dev/null
	done
	[ "$(counter unauthorized)" -ge 1 ]
	[ "$(counter redirects)" -le 40 ]
	# the chunks went back to absent: once the registry recovers, they are fetched
	fault ok
	cmp "$M/bin/busybox" "$T/bb-out/bin/busybox"
	run "$I" umount "$M"
	echo "$output"
	[ "$status" -eq 0 ] && [ -z "$output" ]
	gone "$daemon"
	no_temp_left
}

@test "umount while a fetch waits on a slow token endpoint: the daemon exits at once" {
	start_registry
	"$I" mount --store "registry:127.0.0.1:$PORT/brisk/bb" --cache "$C" --timeout-ms 60000 \
		--retries 0 --pid-file "$BATS_TEST_TMPDIR/pid" bb "$M"
	daemon=$(cat "$BATS_TEST_TMPDIR/pid")
	fault slow-token
	cat "$M/bin/busybox" >/dev/null 2>&1 &
	reader=$!
	for _ in $(seq 50); do
		[ "$(counter slow_bytes)" -ge 1 ] && break
		sleep 0.1
	done
	[ "$(counter slow_bytes)" -ge 1 ]
	# the reader goes away (its read was readahead: the page lock wait is killable)
	kill -9 "$reader"
	wait "$reader" || true
	start=$(now_ms)
	run "$I" umount "$M"
	ms=$(($(now_ms) - start))
	echo "$ms ms: $output"
	[ "$status" -eq 0 ]
	[[ ! "$output" =~ "still writing" ]]
	[ "$ms" -lt 5000 ]
	gone "$daemon"
}

@test "slow manifest: mount and brisk-image fail within their bound, naming the request" {
	start_registry
	fault slow-manifest
	start=$(now_ms)
	run timeout 120 "$I" mount --store "registry:127.0.0.1:$PORT/brisk/bb" --cache "$C" \
		--timeout-ms 3000 bb "$M"
	ms=$(($(now_ms) - start))
	echo "$ms ms: $output"
	[ "$status" -eq 1 ]
	[[ "$output" =~ "GET /v2/brisk/bb/manifests/bb: " ]]
	[ "$ms" -lt 8000 ]
	run ! mountpoint -q "$M"
	# brisk-image has the default bound, 30 s
	start=$(now_ms)
	run timeout 120 "$B" inspect "$REF"
	ms=$(($(now_ms) - start))
	echo "$ms ms: $output"
	[ "$status" -eq 1 ]
	[[ "$output" =~ "GET /v2/brisk/bb/manifests/bb: " ]]
	[ "$ms" -lt 40000 ]
	no_temp_left
}

@test "slow index: the mount fails within its bound, naming the request; no temp file left" {
	start_registry
	fault slow-index
	start=$(now_ms)
	run timeout 120 "$I" mount --store "registry:127.0.0.1:$PORT/brisk/bb" --cache "$C" \
		--timeout-ms 3000 bb "$M"
	ms=$(($(now_ms) - start))
	echo "$ms ms: $output"
	[ "$status" -eq 1 ]
	[[ "$output" =~ "GET /v2/brisk/bb/blobs/sha256:" ]]
	[ "$ms" -lt 8000 ]
	run ! mountpoint -q "$M"
	no_temp_left
	# once the registry recovers, the same mount works
	fault ok
	"$I" mount --store "registry:127.0.0.1:$PORT/brisk/bb" --cache "$C" --timeout-ms 3000 bb "$M"
	cmp "$M/bin/busybox" "$T/bb-out/bin/busybox"
	"$I" umount "$M"
}

@test "a blob answered with 2 GiB: reading stops at its declared size, at once, nothing left behind" {
	start_registry
	for length in 1 0; do
		fault "big-index&length=$length"
		start=$(now_ms)
		run timeout 120 "$I" mount --store "registry:127.0.0.1:$PORT/brisk/bb" --cache "$C" bb "$M"
		ms=$(($(now_ms) - start))
		echo "mount, length $length: $ms ms: $output"
		[ "$status" -eq 1 ]
		[[ "$output" =~ "GET /v2/brisk/bb/blobs/sha256:".*"bytes" ]]
		run ! mountpoint -q "$M"
		start=$(now_ms)
		run timeout 120 "$B" inspect "$REF"
		ms2=$(($(now_ms) - start))
		echo "inspect, length $length: $ms2 ms: $output"
		[ "$status" -eq 1 ]
		[[ "$output" =~ "GET /v2/brisk/bb/blobs/sha256:".*"bytes" ]]
		[ "$ms" -lt 5000 ] && [ "$ms2" -lt 5000 ]
		fault "big-pack&length=$length"
		start=$(now_ms)
		run timeout 120 "$B" pull "$REF" dir:"$BATS_TEST_TMPDIR/pulled:bb"
		ms=$(($(now_ms) - start))
		echo "pull, length $length: $ms ms: $output"
		[ "$status" -eq 1 ]
		[[ "$output" =~ "fetch blob sha256:".*"bytes" ]]
		[ "$ms" -lt 5000 ]
		no_temp_left "$BATS_TEST_TMPDIR/pulled"
	done
	# what the registry sent before the client hung up: socket buffers, not gigabytes
	sent=$(counter big_bytes)
	echo "sent: $sent"
	[ "$sent" -lt $((512 << 20)) ]
	# and once it recovers, the pull completes
	fault ok
	"$B" pull "$REF" dir:"$BATS_TEST_TMPDIR/pulled:bb"
	"$B" verify dir:"$BATS_TEST_TMPDIR/pulled:bb"
}

@test "a redirect loop: a clear error after a few redirects" {
	start_registry
	fault redirect
	start=$(now_ms)
	run timeout 120 "$B" inspect "$REF"
	ms=$(($(now_ms) - start))
	echo "$ms ms: $output"
	[ "$status" -eq 1 ]
	[[ "$output" =~ "GET /v2/brisk/bb/manifests/bb: " ]]
	[[ "$output" =~ "redirect" ]]
	n=$(counter redirects)
	echo "redirects: $n"
	[ "$n" -le 20 ]
	fault redirect
	run timeout 120 "$I" mount --store "registry:127.0.0.1:$PORT/brisk/bb" --cache "$C" bb "$M"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" =~ "redirect" ]]
	[ "$(counter redirects)" -le 20 ]
	no_temp_left
}

@test "a token realm on HTTPS that redirects to HTTP is not followed" {
	command -v openssl >/dev/null || skip "openssl not installed"
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$BATS_TEST_TMPDIR/key.pem" \
		-out "$BATS_TEST_TMPDIR/cert.pem" 2>/dev/null
	start_registry --tls "$BATS_TEST_TMPDIR/cert.pem" "$BATS_TEST_TMPDIR/key.pem"
	fault tls-realm
	run timeout 120 "$B" --insecure-tls inspect "$REF"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" =~ "token from 'https://127.0.0.1:$TLS_PORT/token'" ]]
	[[ "$output" =~ "not HTTPS" ]]
	[ "$(counter tls_requests)" -ge 1 ]
	[ "$(counter http_tokens)" = 0 ]
}

# pull-snapshot (and export) fetch a registry's packs ahead, in parallel pieces, and export while
# they come: the result is byte-identical, and a piece that comes back wrong or not at all fails
# the pull with a clear error and leaves nothing, not even the pieces fetched.
@test "pull-snapshot fetches the packs in parallel pieces: identical; a corrupt or failing piece leaves nothing" {
	start_registry
	S=$BATS_TEST_TMPDIR/snap
	mkdir -p "$S/sub"
	echo '{"version": 1}' >"$S/brisk-snapshot.json"
	# incompressible, several pieces of several packs
	head -c $((24 << 20)) /dev/urandom >"$S/pages-1.img"
	head -c $((3 << 20)) /dev/urandom >"$S/sub/pages-2.img"
	echo small >"$S/inventory.img"
	SREF=registry:127.0.0.1:$PORT/brisk/snap:s1
	"$B" push-snapshot "$S" "$SREF" >/dev/null
	ranges0=$(counter range)
	"$B" pull-snapshot "$SREF" "$BATS_TEST_TMPDIR/out"
	diff -r -x brisk-snapshot.origin.json "$S" "$BATS_TEST_TMPDIR/out"
	# a few pieces of up to 8 MiB, not a request per 1 MiB chunk
	ranges=$(($(counter range) - ranges0))
	echo "range requests: $ranges"
	[ "$ranges" -ge 4 ] && [ "$ranges" -lt 12 ]
	for mode in corrupt-range fail-range; do
		fault "$mode"
		run "$B" pull-snapshot "$SREF" "$BATS_TEST_TMPDIR/bad-$mode"
		echo "$mode: $output"
		[ "$status" -ne 0 ]
		case $mode in
		corrupt-range) [[ "$output" == *"export to '$BATS_TEST_TMPDIR/bad-$mode'"* ]] ;;
		fail-range) [[ "$output" == *"500"* ]] ;;
		esac
		[ ! -e "$BATS_TEST_TMPDIR/bad-$mode" ]
		[ -z "$(ls -A "$BATS_TEST_TMPDIR" | grep "bad-$mode")" ]
		no_temp_left
	done
}
