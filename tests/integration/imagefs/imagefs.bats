#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# brisk-image end to end: convert locally built OCI images (synthetic, busybox, and a Debian
# minbase + python3 rootfs made by debootstrap), export, and compare with `umoci unpack` of the
# same images; push to and pull from Debian's docker-registry on 127.0.0.1, and from a registry
# of our own (test-registry.py) for token auth and uploads that fail; bad inputs fail with a
# clear message and leave no blob behind.

bats_require_minimum_version 1.5.0

setup_file() {
	[ "$(id -u)" = 0 ] || skip "needs root (owners, device nodes, security xattrs)"
	export HERE="$BATS_TEST_DIRNAME"
	export T="$BATS_FILE_TMPDIR"
	python3 "$HERE/mkimage.py" synthetic "$T/syn"
	python3 "$HERE/mkimage.py" synthetic-gzip "$T/syng"
	python3 "$HERE/mkimage.py" busybox "$T/bb"
}

setup() {
	[ "$(id -u)" = 0 ] || skip "needs root (owners, device nodes, security xattrs)"
	B="$BRISK_IMAGE"
	# credentials only from what a test sets, never from this machine's user
	export HOME="$T/home"
	unset DOCKER_CONFIG REGISTRY_AUTH_FILE XDG_RUNTIME_DIR BRISK_REGISTRY_AUTH
}

# The Debian image (tools/mkimage-debian: debootstrap once, cached under /var/cache/brisk-test
# or $BRISK_TEST_CACHE): its OCI layout in $DEB, or a skip when Debian's archive cannot be
# reached and nothing is cached.
debian_image() {
	run --separate-stderr "$HERE/../../../tools/mkimage-debian" "$@"
	[ "$status" -ne 77 ] || skip "no Debian image: $stderr"
	[ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
	DEB=$output
}

# Our own registry: $1 data dir, then test-registry.py options. Sets $port and $TR_PID.
start_test_registry() {
	local data=$1
	shift
	coproc TR { exec python3 "$HERE/test-registry.py" "$data" "$@"; }
	read -r port <&"${TR[0]}"
	[ -n "$port" ]
}

stop_test_registry() {
	kill "$TR_PID" 2>/dev/null || true
	wait "$TR_PID" 2>/dev/null || true
}

teardown() {
	# a failed test leaves no registry of ours running
	[ -z "${TR_PID:-}" ] || stop_test_registry
}

umoci_unpack() { # LAYOUT DEST
	umoci unpack --image "$1:latest" "$2" >/dev/null
}

@test "busybox: export equals umoci unpack" {
	run "$B" convert oci:"$T/bb" dir:"$T/store:bb"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^sha256:[0-9a-f]{64}$ ]]
	"$B" export dir:"$T/store:bb" "$T/bb-out"
	umoci_unpack "$T/bb" "$T/bb-umoci"
	python3 "$HERE/treecmp.py" "$T/bb-umoci/rootfs" "$T/bb-out"
	"$B" verify dir:"$T/store:bb"
}

# exports compared with umoci keep what an untrusted image's export leaves out by default
@test "synthetic layers (whiteouts, opaque, hard links, xattrs, devices, sparse): export equals umoci" {
	"$B" convert oci:"$T/syn" dir:"$T/store:syn"
	"$B" export --keep-special dir:"$T/store:syn" "$T/syn-out"
	umoci_unpack "$T/syng" "$T/syn-umoci"
	python3 "$HERE/treecmp.py" "$T/syn-umoci/rootfs" "$T/syn-out"
	[ ! -e "$T/syn-out/gone" ]
	[ ! -e "$T/syn-out/opq/old1" ]
	[ -e "$T/syn-out/opq/new" ]
	[ "$(stat -c %h "$T/syn-out/a/hard1")" = 3 ]
	[ "$(stat -c %t:%T "$T/syn-out/dev/null")" = 1:3 ]
	getfattr -n security.capability "$T/syn-out/a/cap" >/dev/null 2>&1 || python3 -c \
		"import os,sys; os.getxattr(sys.argv[1], 'security.capability')" "$T/syn-out/a/cap"
	# holes stay holes
	[ "$(du -k "$T/syn-out/data/sparse.bin" | cut -f1)" -lt 8192 ]
}

@test "the index digest is stable and names the image" {
	d1=$("$B" convert oci:"$T/syn" dir:"$T/store2")
	d2=$("$B" convert --no-dedup oci:"$T/syn" dir:"$T/store3")
	[ "$d1" = "$d2" ]
	"$B" inspect dir:"$T/store2@$d1" | grep -q "^index: *$d1"
}

@test "oci-archive source" {
	tar -C "$T/bb" -cf "$T/bb.tar" .
	d1=$("$B" convert oci:"$T/bb" dir:"$T/store4")
	d2=$("$B" convert oci-archive:"$T/bb.tar" dir:"$T/store5")
	[ "$d1" = "$d2" ]
}

@test "dedup across images: a second image reuses the chunks of the first" {
	"$B" convert oci:"$T/syn" dir:"$T/dd:one"
	run "$B" convert oci:"$T/syng" dir:"$T/dd:two"
	[ "$status" -eq 0 ]
	[[ "$output" =~ "0.0 MiB packed in 0 new blobs" ]]
	"$B" export --keep-special dir:"$T/dd:two" "$T/dd-out"
	python3 "$HERE/treecmp.py" "$T/syn-out" "$T/dd-out"
}

@test "bad inputs: clear error, nothing written" {
	for k in dotdot absolute symlink-parent hardlink-missing hardlink-escape truncated-gzip \
		corrupt-zstd digest-mismatch media-type; do
		python3 "$HERE/mkimage.py" bad "$k" "$T/bad-$k"
		run "$B" convert oci:"$T/bad-$k" dir:"$T/badstore:$k"
		echo "$k: $output"
		[ "$status" -ne 0 ]
		[[ "$output" =~ "brisk-image: " ]]
		[ -z "$(ls -A "$T/badstore/blobs/sha256")" ]
		[ ! -e "$T/badstore/index.json" ]
		[ -z "$(find "$T/badstore" -name '.tmp-*')" ]
	done
}

@test "export refuses a non-empty directory" {
	"$B" convert oci:"$T/bb" dir:"$T/store6:bb"
	mkdir -p "$T/full" && touch "$T/full/x"
	run "$B" export dir:"$T/store6:bb" "$T/full"
	[ "$status" -ne 0 ]
	[[ "$output" =~ "not empty" ]]
}

@test "verify detects a corrupt pack" {
	"$B" convert oci:"$T/bb" dir:"$T/store7:bb"
	pack=$(ls -S "$T/store7/blobs/sha256" | head -1)
	printf 'XXXX' | dd of="$T/store7/blobs/sha256/$pack" bs=1 seek=100 conv=notrunc 2>/dev/null
	run "$B" verify dir:"$T/store7:bb"
	[ "$status" -ne 0 ]
	[[ "$output" =~ "does not match" ]]
}

start_registry() {
	command -v docker-registry >/dev/null || skip "docker-registry not installed"
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	mkdir -p "$T/reg"
	cat >"$T/reg/config.yml" <<-EOC
	version: 0.1
	log:
	  level: error
	storage:
	  filesystem:
	    rootdirectory: $T/reg/data
	http:
	  addr: 127.0.0.1:$port
	EOC
	docker-registry serve "$T/reg/config.yml" >"$T/reg/log" 2>&1 &
	REG_PID=$!
	for _ in $(seq 50); do
		curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && return 0
		sleep 0.1
	done
	kill "$REG_PID"
	false
}

@test "registry: push, pull back byte-identical, lazy Range reads" {
	start_registry
	"$B" convert oci:"$T/syn" dir:"$T/rs:syn"
	d=$("$B" push dir:"$T/rs:syn" registry:127.0.0.1:$port/brisk/syn:v1)
	# a second push skips every blob
	"$B" push dir:"$T/rs:syn" registry:127.0.0.1:$port/brisk/syn:v1
	d2=$("$B" pull registry:127.0.0.1:$port/brisk/syn:v1 dir:"$T/rp:syn")
	[ "$d" = "$d2" ]
	for f in "$T"/rp/blobs/sha256/*; do
		cmp "$f" "$T/rs/blobs/sha256/$(basename "$f")"
	done
	# export straight from the registry: every chunk is a Range GET
	"$B" export --keep-special registry:127.0.0.1:$port/brisk/syn:v1 "$T/reg-out"
	"$B" verify "registry:127.0.0.1:$port/brisk/syn@$d"
	kill "$REG_PID"
	python3 "$HERE/treecmp.py" "$T/syn-out" "$T/reg-out"
}

@test "registry that ignores Range: clear error" {
	"$B" convert oci:"$T/bb" dir:"$T/nr:latest"
	coproc NR { exec python3 "$HERE/norange-registry.py" "$T/nr"; }
	read -r port <&"${NR[0]}"
	run "$B" export registry:127.0.0.1:$port/brisk/bb:latest "$T/nr-out"
	kill "$NR_PID"
	[ "$status" -ne 0 ]
	[[ "$output" =~ "ignores Range requests" ]]
}

@test "a 5 GiB sparse file round-trips" {
	python3 "$HERE/mkimage.py" big-sparse "$T/bigs"
	"$B" convert oci:"$T/bigs" dir:"$T/bigstore"
	"$B" export dir:"$T/bigstore@$("$B" convert oci:"$T/bigs" dir:"$T/bigstore")" "$T/bigs-out"
	[ "$(stat -c %s "$T/bigs-out/data/sparse.bin")" = $((5 << 30)) ]
	python3 - "$T/bigs-out/data/sparse.bin" <<-'EOP'
	import random, sys
	f = open(sys.argv[1], "rb")
	assert f.read(4096) == random.Random(10).randbytes(4096)
	f.seek((4 << 30) + 12345)
	assert f.read(1 << 20) == random.Random(11).randbytes(1 << 20)
	EOP
	rm -rf "$T/bigs-out"
}

@test "debian minbase + python3 (debootstrap): export equals umoci unpack, python3 runs" {
	debian_image
	"$B" convert --no-progress oci:"$DEB" dir:"$T/deb:py"
	"$B" export --keep-special dir:"$T/deb:py" "$T/deb-out"
	umoci_unpack "$DEB" "$T/deb-umoci"
	python3 "$HERE/treecmp.py" "$T/deb-umoci/rootfs" "$T/deb-out"
	"$B" verify dir:"$T/deb:py"
	[ "$(chroot "$T/deb-out" /usr/bin/python3 -c 'import json, sqlite3; print(json.dumps([1]))')" = "[1]" ]
	rm -rf "$T/deb-out" "$T/deb-umoci"
}

@test "a convert killed half-way leaves no partial blob, and the next one completes" {
	debian_image
	# zstd level 19 makes it take long enough to be killed in the middle
	"$B" convert --no-progress --zstd-level 19 oci:"$DEB" dir:"$T/killed:py" 2>/dev/null &
	pid=$!
	for _ in $(seq 100); do
		[ -z "$(find "$T/killed" -maxdepth 1 -name '.tmp-*' 2>/dev/null)" ] || break
		sleep 0.1
	done
	staging=$(find "$T/killed" -maxdepth 1 -name '.tmp-*')
	[ -n "$staging" ]
	# another writer meanwhile: it completes, and leaves the live writer's staging alone
	"$B" convert oci:"$T/syn" dir:"$T/killed:syn"
	[ -d "$staging" ]
	kill -9 "$pid" # fails (and so does the test) if it had already finished
	wait "$pid" || true
	# no tag names the killed image
	run "$B" inspect dir:"$T/killed:py"
	[ "$status" -ne 0 ]
	[[ "$output" =~ "no image tagged 'py'" ]]
	for f in "$T"/killed/blobs/sha256/*; do
		[ -e "$f" ] || continue
		[ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$(basename "$f")" ]
	done
	"$B" convert --no-progress oci:"$DEB" dir:"$T/killed:py"
	# the dead writer's staging directory was swept
	[ -z "$(find "$T/killed" -maxdepth 1 -name '.tmp-*')" ]
	"$B" verify dir:"$T/killed:py"
}

@test "registry with Bearer token auth: push and pull with the user's credentials" {
	start_test_registry "$T/treg-auth" --token brisk:s3cret
	"$B" convert oci:"$T/syn" dir:"$T/ta:syn"
	ref=registry:127.0.0.1:$port/brisk/syn:v1
	# no credentials anywhere: a clear refusal that says what to do
	run "$B" push dir:"$T/ta:syn" "$ref"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" =~ "HTTP 401 (UNAUTHORIZED" ]]
	[[ "$output" =~ "no credentials for this registry" ]]
	# wrong password
	run env BRISK_REGISTRY_AUTH=brisk:wrong "$B" push dir:"$T/ta:syn" "$ref"
	[ "$status" -ne 0 ]
	[[ "$output" =~ "bad credentials for the token" ]]
	# podman/skopeo's auth file
	printf '{"auths":{"127.0.0.1:%s":{"auth":"%s"}}}' "$port" "$(printf brisk:s3cret | base64)" \
		>"$T/auth.json"
	d=$(REGISTRY_AUTH_FILE="$T/auth.json" "$B" push dir:"$T/ta:syn" "$ref")
	# docker's config.json under $HOME, with a scheme in the key
	mkdir -p "$HOME/.docker"
	printf '{"auths":{"http://127.0.0.1:%s":{"auth":"%s"}}}' "$port" \
		"$(printf brisk:s3cret | base64)" >"$HOME/.docker/config.json"
	d2=$("$B" pull "$ref" dir:"$T/tp:syn")
	[ "$d" = "$d2" ]
	for f in "$T"/tp/blobs/sha256/*; do
		cmp "$f" "$T/ta/blobs/sha256/$(basename "$f")"
	done
	# lazy Range reads carry the token too
	"$B" export --keep-special "$ref" "$T/ta-out"
	python3 "$HERE/treecmp.py" "$T/syn-out" "$T/ta-out"
	stats=$(curl -sf "http://127.0.0.1:$port/stats")
	stop_test_registry
	echo "$stats"
	[ "$(jq .tokens <<<"$stats")" -ge 2 ]
	[ "$(jq .uploads <<<"$stats")" -ge 2 ]
}

@test "registry failing mid-upload (HTTP 500, then a crash): clear error, a re-run completes" {
	"$B" convert oci:"$T/syn" dir:"$T/tf:syn"
	nblobs=$(ls "$T/tf/blobs/sha256" | wc -l)
	[ "$nblobs" -ge 3 ] # packs, index, config: the failure is in the middle
	# the second blob upload gets a 500 with the distribution spec's error body
	start_test_registry "$T/treg-fail" --fail-put 2
	run "$B" push dir:"$T/tf:syn" registry:127.0.0.1:$port/brisk/syn:v1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" =~ "store blob sha256:" ]]
	[[ "$output" =~ "HTTP 500 (UNKNOWN: storage backend failed (injected))" ]]
	# no tag names the incomplete image
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/brisk/syn/manifests/v1")" = 404 ]
	# the re-run asks (HEAD) and skips the blob that made it, uploads the rest
	"$B" push dir:"$T/tf:syn" registry:127.0.0.1:$port/brisk/syn:v1
	stats=$(curl -sf "http://127.0.0.1:$port/stats")
	echo "$stats"
	[ "$(jq .head_hits <<<"$stats")" -ge 1 ]
	# the manifest is no blob upload; the zstd copy of the index, made for a registry, is one
	[ "$(jq .uploads <<<"$stats")" = "$nblobs" ]
	stop_test_registry

	# the registry dies in the middle of the second upload
	start_test_registry "$T/treg-die" --die-put 2
	run "$B" push dir:"$T/tf:syn" registry:127.0.0.1:$port/brisk/syn:v1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" =~ "store blob sha256:".*"registry 'http://127.0.0.1:$port': PUT /v2/brisk/syn/blobs/uploads/" ]]
	wait "$TR_PID" || true
	# started again on the same storage: the push completes, pull back is byte-identical
	start_test_registry "$T/treg-die"
	"$B" push dir:"$T/tf:syn" registry:127.0.0.1:$port/brisk/syn:v1
	stats=$(curl -sf "http://127.0.0.1:$port/stats")
	"$B" pull registry:127.0.0.1:$port/brisk/syn:v1 dir:"$T/tfp:syn"
	stop_test_registry
	echo "$stats"
	[ "$(jq .head_hits <<<"$stats")" -ge 1 ]
	for f in "$T"/tfp/blobs/sha256/*; do
		cmp "$f" "$T/tf/blobs/sha256/$(basename "$f")"
	done
}
