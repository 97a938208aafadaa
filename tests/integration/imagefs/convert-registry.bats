#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# brisk-image convert straight from a registry (Debian's docker-registry on 127.0.0.1, the
# source images pushed to it with skopeo): an OCI manifest, a docker v2 schema 2 manifest, an
# OCI index of two platforms, a manifest by digest. The converted image, in the same registry,
# mounts with the tree an oci: conversion of the same image has, and its config carries the
# source's. A missing tag, a closed port, a tampered blob, an index without our platform and a
# layer of an unknown media type each fail with a message naming it, leave no temporary file
# and no image in the destination.

bats_require_minimum_version 1.5.0

setup_file() {
	[ "$(id -u)" = 0 ] || skip "needs root (FUSE mounts)"
	[ -e /dev/fuse ] || skip "no /dev/fuse"
	command -v docker-registry >/dev/null || skip "no docker-registry"
	command -v skopeo >/dev/null || skip "no skopeo"
	export HERE="$BATS_TEST_DIRNAME"
	export T="$BATS_FILE_TMPDIR"
	export B="$BRISK_IMAGE"
	python3 "$HERE/mkimage.py" busybox "$T/bb"
	python3 "$HERE/mkimage.py" synthetic "$T/syn"
	python3 "$HERE/mkimage.py" bad media-type "$T/badmt"
	# a layer of its own, for the test that tampers with it in the registry's storage
	mkdir -p "$T/tree/t"
	echo "only in this image" >"$T/tree/t/file"
	python3 "$HERE/mkimage.py" tree "$T/tamper" "$T/tree/t"
	set_config "$T/bb"
	make_index "$T/bb" "$T/multi" multi linux/amd64 linux/arm64
	make_index "$T/bb" "$T/other" other linux/arm64 linux/s390x
	"$B" convert oci:"$T/syn" dir:"$T/store:syn" >"$T/syn.digest"
	"$B" export --keep-special dir:"$T/store:syn" "$T/syn-out"
	"$B" convert oci:"$T/bb" dir:"$T/store:bb" >"$T/bb.digest"

	export PORT
	PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	mkdir -p "$T/reg/data"
	printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
		"$T/reg/data" "$PORT" >"$T/reg/config.yml"
	docker-registry serve "$T/reg/config.yml" >"$T/reg/log" 2>&1 &
	echo $! >"$T/reg/pid"
	local _
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null && break
		sleep 0.1
	done
	curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null
	export R="127.0.0.1:$PORT"
	push oci:"$T/bb:latest" src/bb:oci
	push oci:"$T/syn:latest" src/syn:oci
	push --format v2s2 oci:"$T/bb:latest" src/bb:v2s2
	push --all oci:"$T/multi:multi" src/bb:multi
	push --all oci:"$T/other:other" src/bb:other
	push oci:"$T/badmt:latest" src/badmt:latest
	push oci:"$T/tamper:latest" src/tamper:latest
}

teardown_file() {
	if [ -f "$T/reg/pid" ]; then
		kill "$(cat "$T/reg/pid")" 2>/dev/null || true
	fi
}

setup() {
	[ "$(id -u)" = 0 ] || skip "needs root (FUSE mounts)"
	I="$BRISK_IMAGEFS"
	M="$BATS_TEST_TMPDIR/mnt"
	C="$BATS_TEST_TMPDIR/cache"
	mkdir -p "$M" "$BATS_TEST_TMPDIR/tmp"
	# temporary files go here, and the tests check that none is left
	export TMPDIR="$BATS_TEST_TMPDIR/tmp"
	export HOME="$BATS_TEST_TMPDIR"
	unset DOCKER_CONFIG REGISTRY_AUTH_FILE XDG_RUNTIME_DIR BRISK_REGISTRY_AUTH
}

teardown() {
	if mountpoint -q "$M"; then
		umount "$M" 2>/dev/null || umount -l "$M"
	fi
	return 0
}

push() {
	local dest=${*: -1}
	skopeo copy -q --dest-tls-verify=false "${@:1:$#-1}" "docker://127.0.0.1:$PORT/$dest"
}

# The image of the layout DIR gets a config a command can be run by.
set_config() {
	python3 - "$1" <<'EOF'
import hashlib, json, os, sys
d = sys.argv[1]
blob = lambda h: os.path.join(d, "blobs", "sha256", h.split(":")[1])
def put(data):
    h = "sha256:" + hashlib.sha256(data).hexdigest()
    open(blob(h), "wb").write(data)
    return h, len(data)
index = json.load(open(os.path.join(d, "index.json")))
desc = index["manifests"][0]
m = json.load(open(blob(desc["digest"])))
c = json.load(open(blob(m["config"]["digest"])))
c["config"] = {"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo hello from the source"],
               "Env": ["PATH=/bin", "GREETING=hello"], "WorkingDir": "/etc",
               "User": "65534:65534", "Labels": {"org.example.source": "bb"},
               "ExposedPorts": {"8080/tcp": {}}}
m["config"]["digest"], m["config"]["size"] = put(json.dumps(c).encode())
desc["digest"], desc["size"] = put(json.dumps(m).encode())
json.dump(index, open(os.path.join(d, "index.json"), "w"))
EOF
}

# make_index SRC DIR TAG PLATFORM...: the layout DIR tagged TAG is an OCI index with one image
# per PLATFORM, each SRC's image with a config for that platform (its Cmd names the platform).
make_index() {
	python3 - "$@" <<'EOF'
import hashlib, json, os, shutil, sys
src, d, tag, plats = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
shutil.copytree(src, d)
blob = lambda h: os.path.join(d, "blobs", "sha256", h.split(":")[1])
def put(data):
    h = "sha256:" + hashlib.sha256(data).hexdigest()
    open(blob(h), "wb").write(data)
    return {"digest": h, "size": len(data)}
base = json.load(open(os.path.join(d, "index.json")))["manifests"][0]
m = json.load(open(blob(base["digest"])))
c = json.load(open(blob(m["config"]["digest"])))
entries = []
for p in plats:
    os_, arch = p.split("/")
    c["architecture"] = arch
    c["config"]["Cmd"] = ["echo " + arch]
    m["config"].update(put(json.dumps(c).encode()))
    e = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
         "platform": {"os": os_, "architecture": arch}}
    e.update(put(json.dumps(m).encode()))
    entries.append(e)
idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
       "manifests": entries}
top = {"mediaType": "application/vnd.oci.image.index.v1+json",
       "annotations": {"org.opencontainers.image.ref.name": tag}}
top.update(put(json.dumps(idx).encode()))
json.dump({"schemaVersion": 2, "manifests": [top]}, open(os.path.join(d, "index.json"), "w"))
EOF
}

# The config blob of the image REPO:TAG in the registry.
config_of() {
	local m
	m=$(curl -sf -H "Accept: application/vnd.oci.image.manifest.v1+json" \
		"http://$R/v2/$1/manifests/$2")
	curl -sf "http://$R/v2/$1/blobs/$(echo "$m" | jq -r .config.digest)"
}

# No image tagged REPO:TAG in the registry.
no_image() {
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' \
		-H "Accept: application/vnd.oci.image.manifest.v1+json" \
		"http://$R/v2/$1/manifests/$2")
	[ "$code" = 404 ] || { echo "$1:$2 answers $code"; return 1; }
}

no_temp_left() {
	[ -z "$(ls -A "$TMPDIR")" ] || { ls -laR "$TMPDIR"; return 1; }
}

@test "OCI manifest, registry to registry: the same index as oci:, mounts with the same tree" {
	run "$B" convert --progress registry:"$R"/src/syn:oci registry:"$R"/conv/syn:v1
	echo "$output"
	[ "$status" -eq 0 ]
	# three layers (gzip, zstd, plain), each fetched with its bytes shown
	[[ "$output" =~ "fetch layer 1/3" ]]
	[[ "$output" =~ "fetch layer 3/3" ]]
	# stdout: the index digest, the same as the image's from its layout
	[[ "$output" =~ (^|$'\n')"$(cat "$T/syn.digest")"($'\n'|$) ]]
	"$I" mount --store registry:"$R"/conv/syn --cache "$C" v1 "$M"
	python3 "$HERE/treecmp.py" "$T/syn-out" "$M"
	umount "$M"
	no_temp_left
}

@test "the source's config carries over: Entrypoint, Cmd, Env, WorkingDir, User, Labels, ports" {
	"$B" convert registry:"$R"/src/bb:oci registry:"$R"/conv/bb:oci
	c=$(config_of conv/bb oci)
	echo "$c"
	[ "$(echo "$c" | jq -c .config.Entrypoint)" = '["/bin/sh","-c"]' ]
	[ "$(echo "$c" | jq -c .config.Cmd)" = '["echo hello from the source"]' ]
	[ "$(echo "$c" | jq -c .config.Env)" = '["PATH=/bin","GREETING=hello"]' ]
	[ "$(echo "$c" | jq -r .config.WorkingDir)" = /etc ]
	[ "$(echo "$c" | jq -r .config.User)" = 65534:65534 ]
	[ "$(echo "$c" | jq -r '.config.Labels["org.example.source"]')" = bb ]
	[ "$(echo "$c" | jq -c .config.ExposedPorts)" = '{"8080/tcp":{}}' ]
	[ "$(echo "$c" | jq -r .architecture)/$(echo "$c" | jq -r .os)" = amd64/linux ]
	# brisk's own fields are still there
	[ "$(echo "$c" | jq -r .index)" = "$(cat "$T/bb.digest")" ]
	# and an oci: source carries it the same way
	"$B" convert oci:"$T/bb" registry:"$R"/conv/bb:from-layout
	[ "$(config_of conv/bb from-layout | jq -c .config)" = "$(echo "$c" | jq -c .config)" ]
	no_temp_left
}

@test "docker v2 schema 2 manifest and a manifest by digest" {
	m=$(curl -sf -H "Accept: application/vnd.docker.distribution.manifest.v2+json" \
		"http://$R/v2/src/bb/manifests/v2s2")
	[ "$(echo "$m" | jq -r .mediaType)" = application/vnd.docker.distribution.manifest.v2+json ]
	[ "$(echo "$m" | jq -r '.layers[0].mediaType')" = application/vnd.docker.image.rootfs.diff.tar.gzip ]
	run "$B" convert registry:"$R"/src/bb:v2s2 registry:"$R"/conv/bb:v2s2
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$(cat "$T/bb.digest")" ]
	[ "$(config_of conv/bb v2s2 | jq -c .config.Cmd)" = '["echo hello from the source"]' ]
	d=sha256:$(printf '%s' "$m" | sha256sum | cut -d' ' -f1)
	run "$B" convert registry:"$R/src/bb@$d" registry:"$R"/conv/bb:bydigest
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "$(cat "$T/bb.digest")" ]
	"$I" mount --store registry:"$R"/conv/bb --cache "$C" bydigest "$M"
	cmp "$M/bin/busybox" /bin/busybox
	umount "$M"
	no_temp_left
}

@test "an index of two platforms: this host's image is converted" {
	[ "$(uname -m)" = x86_64 ] || skip "the index lists amd64 and arm64: needs an amd64 host"
	run "$B" convert registry:"$R"/src/bb:multi registry:"$R"/conv/bb:multi
	echo "$output"
	[ "$status" -eq 0 ]
	c=$(config_of conv/bb multi)
	[ "$(echo "$c" | jq -c .config.Cmd)" = '["echo amd64"]' ]
	[ "$(echo "$c" | jq -r .architecture)" = amd64 ]
	no_temp_left
}

@test "an index without this host's platform: an error naming the platforms it has" {
	[ "$(uname -m)" = x86_64 ] || skip "needs an amd64 host"
	run "$B" convert registry:"$R"/src/bb:other registry:"$R"/conv/bb:other
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" =~ "no image for this host's platform linux/amd64; it has: linux/arm64, linux/s390x" ]]
	no_image conv/bb other
	no_temp_left
}

@test "a missing tag: an error naming it, no image written" {
	run "$B" convert registry:"$R"/src/bb:nosuchtag registry:"$R"/conv/bb:missing
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" =~ "no manifest 'nosuchtag' in the registry" ]]
	[[ "$output" =~ "HTTP 404" ]]
	no_image conv/bb missing
	no_temp_left
}

@test "a closed port: an error naming the registry, no image written" {
	closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	run "$B" convert registry:127.0.0.1:"$closed"/src/bb:oci registry:"$R"/conv/bb:closed
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" =~ "registry 'http://127.0.0.1:$closed'" ]]
	[[ "$output" =~ "manifest 'oci'" ]]
	no_image conv/bb closed
	no_temp_left
}

@test "a layer of an unknown media type: an error naming it, no image written" {
	run "$B" convert registry:"$R"/src/badmt:latest registry:"$R"/conv/badmt:v1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" =~ "unknown media type 'application/vnd.example.unknown'" ]]
	no_image conv/badmt v1
	# nor in a directory store: no tag, no blob, nothing staged
	S="$BATS_TEST_TMPDIR/store"
	run "$B" convert registry:"$R"/src/badmt:latest dir:"$S:v1"
	[ "$status" -ne 0 ]
	[ ! -e "$S/index.json" ]
	left=$(find "$S" -mindepth 1 ! -name oci-layout ! -name index.json.lock \
		! -path "$S/blobs" ! -path "$S/blobs/sha256")
	[ -z "$left" ] || { find "$S"; return 1; }
	no_temp_left
}

@test "a tampered blob: an error naming the layer and its digest, no image written" {
	m=$(curl -sf -H "Accept: application/vnd.oci.image.manifest.v1+json" \
		"http://$R/v2/src/tamper/manifests/latest")
	d=$(echo "$m" | jq -r '.layers[0].digest')
	h=${d#sha256:}
	f="$T/reg/data/docker/registry/v2/blobs/sha256/${h:0:2}/$h/data"
	[ -f "$f" ]
	# one byte changed, the size kept
	python3 - "$f" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xFF
open(p, "wb").write(bytes(b))
EOF
	run "$B" convert registry:"$R"/src/tamper:latest registry:"$R"/conv/tamper:v1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" =~ "layer $d: content has digest sha256:" ]]
	[[ "$output" =~ "does not match its descriptor" ]]
	no_image conv/tamper v1
	no_temp_left
}
