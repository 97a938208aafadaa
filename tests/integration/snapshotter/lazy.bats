#!/usr/bin/env bats
# Layers of brisk images on brisk-snapshotter: a Prepare whose labels name a brisk image (in a
# registry of the test's own on loopback) mounts it with brisk-imagefs and answers AlreadyExists,
# as containerd's unpacker expects of a snapshotter that has the layer already. Calls go straight
# to the daemon, and through containerd's CRI plugin (a PullImage as the kubelet sends it) of a
# brisk image as brisk-image pushed it: its manifest is one containerd reads as an image, with
# the image's labels as annotations on its layer descriptors.

load snapshotter

BRISK=${BRISK:-$BUILD_ROOT/runtime/brisk}

setup_file() {
	snap_requirements
	command -v docker-registry >/dev/null || skip "docker-registry is not installed"
	[ -x "$BRISK_IMAGE" ] && [ -x "$BRISK_IMAGEFS" ] || skip "brisk-image or brisk-imagefs is not built"
	SNAP_DIR=$(mktemp -d /tmp/brisk-snapshotter.XXXXXX)
	export SNAP_DIR
	start_registry
	start_snapshotter
	start_containerd cri
	make_image "$SNAP_DIR/image" >/dev/null
	# the pod sandbox's image: the same busybox, sleeping; an ordinary image, unpacked
	umoci tag --image "$SNAP_DIR/image/oci:bb" pause
	umoci config --image "$SNAP_DIR/image/oci:pause" --config.cmd=/bin/sleep --config.cmd=100000
	/usr/bin/python3 "$SOURCE_ROOT/tests/integration/snapshotter/push-oci.py" \
		"$SNAP_DIR/image/oci" pause "127.0.0.1:$REG_PORT" brisk/pause:v1
	"$BRISK_IMAGE" convert --no-progress oci:"$SNAP_DIR/image/oci:bb" dir:"$SNAP_DIR/store:bb" >/dev/null
	"$BRISK_IMAGE" push dir:"$SNAP_DIR/store:bb" "registry:127.0.0.1:$REG_PORT/brisk/bb:v1" >/dev/null
	INDEX=$("$BRISK_IMAGE" inspect dir:"$SNAP_DIR/store:bb" | awk '/^index:/ {print $2}')
	export INDEX
	[[ "$INDEX" == sha256:* ]]
}

teardown_file() {
	snap_teardown_file
}

teardown() {
	[ -n "${SNAP_DIR:-}" ] || return 0
	# what a failed test of containers in the CRI plugin's namespace left
	local id
	for id in $(kctr containers ls -q 2>/dev/null); do
		kcleanup "$id"
	done
	umount_under "$SNAP_DIR/mnt"
	return 0
}

# lazy_prepare KEY REF [STORE] [INDEX]: a Prepare as containerd's unpacker sends it for a layer
lazy_prepare() {
	snapc prepare "$1" \
		-l "containerd.io/snapshot/brisk.store=${3:-registry:127.0.0.1:$REG_PORT/brisk/bb}" \
		-l "containerd.io/snapshot/brisk.index=${4:-$INDEX}" \
		-l "containerd.io/snapshot.ref=$2"
}

imagefs_mounts() {
	grep -F "$SNAP_DIR/snaproot" /proc/self/mountinfo | grep -F ' - fuse.brisk ' || true
}

@test "snapshotter: a brisk image's layer is mounted lazily and answered AlreadyExists" {
	run lazy_prepare extract-1 lazy-layer
	echo "$output"
	[ "$output" = "ALREADY_EXISTS: snapshot 'lazy-layer' already exists (brisk image mounted lazily)" ]
	run snapc stat lazy-layer
	echo "$output"
	[ "$(echo "$output" | jq -r .info.kind)" = COMMITTED ]
	[ "$(echo "$output" | jq -r '.info.labels["containerd.io/snapshot/brisk.index"]')" = "$INDEX" ]
	[ "$(imagefs_mounts | wc -l)" = 1 ]
	# nothing of the image was unpacked: the layer's directory is the lazy mount
	[ "$(snapc usage lazy-layer | jq -c .)" = "{}" ]
	# the same layer again: the snapshot exists, nothing more is mounted
	run lazy_prepare extract-2 lazy-layer
	[ "$output" = "ALREADY_EXISTS: snapshot 'lazy-layer' already exists" ]
	[ "$(imagefs_mounts | wc -l)" = 1 ]
	# the image's next layer (a manifest listing several): an empty layer on the mount
	run snapc prepare extract-3 lazy-layer -l "containerd.io/snapshot.ref=lazy-layer2" \
		-l "containerd.io/snapshot/brisk.store=registry:127.0.0.1:$REG_PORT/brisk/bb" \
		-l "containerd.io/snapshot/brisk.index=$INDEX"
	[ "$output" = "ALREADY_EXISTS: snapshot 'lazy-layer2' already exists (a layer of the brisk image below it)" ]
	[ "$(snapc stat lazy-layer2 | jq -r .info.parent)" = lazy-layer ]
	[ "$(imagefs_mounts | wc -l)" = 1 ]
	# and the one after that, whose parent is such an empty layer
	run snapc prepare extract-3b lazy-layer2 -l "containerd.io/snapshot.ref=lazy-layer3" \
		-l "containerd.io/snapshot/brisk.store=registry:127.0.0.1:$REG_PORT/brisk/bb" \
		-l "containerd.io/snapshot/brisk.index=$INDEX"
	[ "$output" = "ALREADY_EXISTS: snapshot 'lazy-layer3' already exists (a layer of the brisk image below it)" ]
	[ "$(imagefs_mounts | wc -l)" = 1 ]

	# the empty layers are recorded as such, and have nothing of their own
	local mnt
	mnt=$(imagefs_mounts | awk '{print $5}')
	[ "$(jq -r '.snapshots[] | select(.key == "lazy-layer2" or .key == "lazy-layer3") | .empty' \
		"$SNAP_DIR/snaproot/metadata.json" | sort -u)" = true ]
	[ "$(jq -r '.snapshots[] | select(.key == "lazy-layer") | .empty' \
		"$SNAP_DIR/snaproot/metadata.json")" = null ]

	# a container's snapshot on them: an overlay whose one lower layer is the lazy mount, the
	# empty layers left out of lowerdir
	snapc prepare lazy-ctr lazy-layer3
	mkdir -p "$SNAP_DIR/mnt/ctr"
	local opts
	opts=$(snapc mounts lazy-ctr | jq -r '.mounts[0].options | join(",")')
	echo "$opts"
	[[ "$opts" == *",lowerdir=$mnt" ]]
	# a view on them: the lazy mount itself, read-only
	snapc view lazy-view lazy-layer3
	run snapc mounts lazy-view
	echo "$output"
	[ "$(echo "$output" | jq -c '.mounts[0] | [.type, .source, .options]')" = \
		"[\"bind\",\"$mnt\",[\"ro\",\"rbind\"]]" ]
	snapc remove lazy-view
	# a store a daemon wrote before it recorded empty layers: the next start marks them
	stop_snapshotter
	jq -c 'del(.snapshots[].empty)' "$SNAP_DIR/snaproot/metadata.json" >"$SNAP_DIR/metadata.old"
	mv "$SNAP_DIR/metadata.old" "$SNAP_DIR/snaproot/metadata.json"
	start_snapshotter
	[ "$(snapc mounts lazy-ctr | jq -r '.mounts[0].options | join(",")')" = "$opts" ]
	mount -t overlay overlay -o "$opts" "$SNAP_DIR/mnt/ctr"
	[ "$(cat "$SNAP_DIR/mnt/ctr/etc/passwd")" = "root:x:0:0:root:/root:/bin/sh" ]
	cmp "$SNAP_DIR/mnt/ctr/bin/busybox" "$BUSYBOX"
	echo written >"$SNAP_DIR/mnt/ctr/etc/new"
	umount "$SNAP_DIR/mnt/ctr"

	# the layer cannot go while a snapshot is on it; then both go, and the mount with them
	run snapc remove lazy-layer
	[[ "$output" == "FAILED_PRECONDITION: remove 'lazy-layer': it has children"* ]]
	snapc remove lazy-ctr
	snapc remove lazy-layer3
	snapc remove lazy-layer2
	[ "$(imagefs_mounts | wc -l)" = 1 ]
	snapc remove lazy-layer
	[ -z "$(imagefs_mounts)" ]
	[ -z "$(backend_keys | grep lazy-)" ]
}

@test "snapshotter: lazy mounts outlive a kill -9 of the daemon; leftovers are unmounted" {
	run lazy_prepare extract-3 lazy-crash
	[[ "$output" == ALREADY_EXISTS* ]]
	local list_before
	list_before=$(snapc list | jq -S .)
	stop_snapshotter KILL
	# a mount whose record a crash kept from being written: a leftover the start removes
	mkdir -p "$SNAP_DIR/snaproot/snapshots/99998/fs"
	"$BRISK_IMAGEFS" mount --store "registry:127.0.0.1:$REG_PORT/brisk/bb" \
		--cache "$SNAP_DIR/snaproot/cache" "$INDEX" "$SNAP_DIR/snaproot/snapshots/99998/fs"
	[ "$(imagefs_mounts | wc -l)" = 2 ]
	start_snapshotter
	[ "$(snapc list | jq -S .)" = "$list_before" ]
	[ "$(imagefs_mounts | wc -l)" = 1 ]
	[ ! -e "$SNAP_DIR/snaproot/snapshots/99998" ]
	snapc remove lazy-crash
	[ -z "$(imagefs_mounts)" ]
}

@test "snapshotter: a slow registry holds only the Prepares that wait for it; the same layer is mounted once" {
	local port proxy_pid i
	# a second converted image, so that the index is not in the node's cache yet
	"$BRISK_IMAGE" convert --no-progress oci:"$SNAP_DIR/image/oci:pause" dir:"$SNAP_DIR/store:slow" >/dev/null
	"$BRISK_IMAGE" push dir:"$SNAP_DIR/store:slow" "registry:127.0.0.1:$REG_PORT/brisk/slow:v1" >/dev/null
	local index
	index=$("$BRISK_IMAGE" inspect dir:"$SNAP_DIR/store:slow" | awk '/^index:/ {print $2}')
	coproc PROXY { exec /usr/bin/python3 "$SOURCE_ROOT/tests/integration/snapshotter/slow-proxy.py" "$REG_PORT" 3 3>&-; }
	proxy_pid=$PROXY_PID
	read -r port <&"${PROXY[0]}"

	# two Prepares for the same layer while the registry is slow, and other calls meanwhile
	lazy_prepare extract-s1 lazy-slow "registry:127.0.0.1:$port/brisk/slow" "$index" \
		>"$SNAP_DIR/slow-1.out" 2>&1 &
	local p1=$!
	lazy_prepare extract-s2 lazy-slow "registry:127.0.0.1:$port/brisk/slow" "$index" \
		>"$SNAP_DIR/slow-2.out" 2>&1 &
	local p2=$!
	sleep 1
	local t0=$EPOCHREALTIME
	snapc list >/dev/null
	snapc prepare slow-other >/dev/null
	snapc remove slow-other
	local took
	took=$(echo "$EPOCHREALTIME - $t0" | bc)
	echo "# other calls while a lazy mount waited on the registry: $took s" >&3
	[ "$(echo "$took < 1.5" | bc)" = 1 ]
	# the layer's snapshot does not exist until its mount is done
	run snapc stat lazy-slow
	[[ "$output" == NOT_FOUND* ]]

	wait "$p1" || true
	wait "$p2" || true
	kill "$proxy_pid"
	wait "$proxy_pid" 2>/dev/null || true
	cat "$SNAP_DIR/slow-1.out" "$SNAP_DIR/slow-2.out"
	[ "$(cat "$SNAP_DIR/slow-1.out")" = "ALREADY_EXISTS: snapshot 'lazy-slow' already exists (brisk image mounted lazily)" ]
	[ "$(cat "$SNAP_DIR/slow-2.out")" = "ALREADY_EXISTS: snapshot 'lazy-slow' already exists (brisk image mounted lazily)" ]
	[ "$(snapc stat lazy-slow | jq -r .info.kind)" = COMMITTED ]
	[ "$(grep -c "snapshot 'lazy-slow': brisk image .* mounted lazily" "$SNAP_DIR/snapshotter.log")" = 1 ]
	snapc remove lazy-slow
}

@test "snapshotter: a lazy layer whose mount went away (a reboot) is mounted again at start" {
	run lazy_prepare extract-4 lazy-reboot
	[[ "$output" == ALREADY_EXISTS* ]]
	stop_snapshotter
	local m
	m=$(imagefs_mounts | awk '{print $5}')
	"$BRISK_IMAGEFS" umount "$m"
	[ -z "$(imagefs_mounts)" ]
	start_snapshotter
	[ "$(imagefs_mounts | awk '{print $5}')" = "$m" ]
	[ -e "$m/bin/busybox" ]
	snapc remove lazy-reboot
}

@test "snapshotter: bad brisk image labels, an unknown image, an unreachable registry: clear errors, nothing mounted" {
	local before dirs
	before=$(backend_keys)
	dirs=$(ls "$SNAP_DIR/snaproot/snapshots")

	run lazy_prepare extract-5 lazy-bad registry:127.0.0.1:$REG_PORT/brisk/bb sha256:1234
	[ "$output" = "INVALID_ARGUMENT: snapshot 'extract-5': label 'containerd.io/snapshot/brisk.index' must be sha256:HEX (64 lowercase hex digits)" ]
	run lazy_prepare extract-5 lazy-bad dir:/etc
	[ "$output" = "INVALID_ARGUMENT: snapshot 'extract-5': label 'containerd.io/snapshot/brisk.store' must be registry:HOST[:PORT]/REPO" ]
	run snapc prepare extract-5 -l "containerd.io/snapshot/brisk.index=$INDEX" \
		-l "containerd.io/snapshot/brisk.store=registry:127.0.0.1:$REG_PORT/brisk/bb"
	[ "$output" = "INVALID_ARGUMENT: snapshot 'extract-5': label 'containerd.io/snapshot.ref' must name the snapshot to commit" ]

	# an index the registry does not have
	run lazy_prepare extract-6 lazy-unknown "" "sha256:$(printf '0%.0s' $(seq 64))"
	echo "$output"
	[[ "$output" == "UNKNOWN: snapshot 'lazy-unknown': mount brisk image 'registry:127.0.0.1:$REG_PORT/brisk/bb@sha256:000"*"': "?* ]]
	# a registry nobody listens on (for an index the node's cache does not hold: a cached one
	# mounts without the registry)
	local port
	port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	run lazy_prepare extract-7 lazy-unreachable "registry:127.0.0.1:$port/brisk/bb" \
		"sha256:$(printf '1%.0s' $(seq 64))"
	echo "$output"
	[[ "$output" == "UNKNOWN: snapshot 'lazy-unreachable': mount brisk image 'registry:127.0.0.1:$port/brisk/bb@sha256:111"*"': "*"127.0.0.1:$port"* ]]

	no_new_lines "$before" "$(backend_keys)"
	no_new_lines "$dirs" "$(ls "$SNAP_DIR/snaproot/snapshots")"
	[ -z "$(imagefs_mounts)" ]
	[ -z "$(snap_mounts)" ]
}

@test "snapshotter: a registry that wants credentials: refused without them, mounted with --registry-auth" {
	local port index auth=$SNAP_DIR/auth.json mounts_before
	mounts_before=$(imagefs_mounts | wc -l)
	# a registry with token auth (the imagefs tests' own), and an image of its own there
	# (another chunk size: an index the node's cache lacks)
	coproc TREG { exec /usr/bin/python3 "$SOURCE_ROOT/tests/integration/imagefs/test-registry.py" \
		"$SNAP_DIR/treg" --token brisk:s3cret 3>&-; }
	local treg_pid=$TREG_PID
	read -r port <&"${TREG[0]}"
	printf '{"auths":{"127.0.0.1:%s":{"auth":"%s"}}}' "$port" "$(printf brisk:s3cret | base64)" \
		>"$auth"
	"$BRISK_IMAGE" convert --no-progress --chunk-size 131072 oci:"$SNAP_DIR/image/oci:bb" \
		dir:"$SNAP_DIR/store:auth" >/dev/null
	REGISTRY_AUTH_FILE=$auth "$BRISK_IMAGE" push dir:"$SNAP_DIR/store:auth" \
		"registry:127.0.0.1:$port/brisk/auth:v1" >/dev/null
	index=$("$BRISK_IMAGE" inspect dir:"$SNAP_DIR/store:auth" | awk '/^index:/ {print $2}')

	# no credentials: containerd reads that the registry refused, nothing is mounted
	run lazy_prepare extract-a1 lazy-auth "registry:127.0.0.1:$port/brisk/auth" "$index"
	echo "$output"
	[[ "$output" == "UNKNOWN: snapshot 'lazy-auth': mount brisk image 'registry:127.0.0.1:$port/brisk/auth@$index': "*"401"* ]]
	[ "$(imagefs_mounts | wc -l)" = "$mounts_before" ]

	# with --registry-auth: mounted, and its files read lazily with the token
	run "$SNAPSHOTTER" --registry-auth auth.json --root "$SNAP_DIR/other"
	[ "$output" = "brisk-snapshotter: --registry-auth 'auth.json': must be an absolute path" ]
	stop_snapshotter
	start_snapshotter --registry-auth "$auth"
	run lazy_prepare extract-a2 lazy-auth "registry:127.0.0.1:$port/brisk/auth" "$index"
	echo "$output"
	[ "$output" = "ALREADY_EXISTS: snapshot 'lazy-auth' already exists (brisk image mounted lazily)" ]
	local m
	m=$(imagefs_mounts | grep -F "$SNAP_DIR/snaproot/snapshots/$(jq -r \
		'.snapshots[] | select(.key == "lazy-auth") | .id' "$SNAP_DIR/snaproot/metadata.json")/fs" |
		awk '{print $5}')
	[ -n "$m" ]
	cmp "$m/bin/busybox" "$BUSYBOX"
	snapc remove lazy-auth
	[ "$(curl -sf "http://127.0.0.1:$port/stats" | jq .tokens)" -ge 1 ]
	kill "$treg_pid"
	wait "$treg_pid" 2>/dev/null || true
	stop_snapshotter
	start_snapshotter
	wait_for_containerd_to_redial
	[ "$(imagefs_mounts | wc -l)" = "$mounts_before" ]
}

# manifest REPO:TAG: the manifest the test's registry serves for it
manifest() {
	curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		"http://127.0.0.1:$REG_PORT/v2/${1%%:*}/manifests/${1#*:}"
}

@test "snapshotter: brisk-image push writes a manifest containerd reads as an image, with the snapshotter's labels on its layers" {
	local m cfg arch
	m=$(manifest brisk/bb:v1)
	echo "$m" | jq .
	[ "$(echo "$m" | jq -r .config.mediaType)" = application/vnd.oci.image.config.v1+json ]
	cfg=$(curl -sf "http://127.0.0.1:$REG_PORT/v2/brisk/bb/blobs/$(echo "$m" | jq -r .config.digest)")
	echo "$cfg" | jq .
	case $(uname -m) in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) arch=$(uname -m) ;; esac
	[ "$(echo "$cfg" | jq -r .architecture)" = "$arch" ]
	[ "$(echo "$cfg" | jq -r .os)" = linux ]
	[ "$(echo "$cfg" | jq -r .rootfs.type)" = layers ]
	[ "$(echo "$cfg" | jq -r .index)" = "$INDEX" ]
	# one diff_id per layer; the index first, then its zstd copy and the packs, every one a
	# layer type for containerd, with the labels that name the image
	[ "$(echo "$cfg" | jq -c .rootfs.diff_ids)" = "$(echo "$m" | jq -c '[.layers[].digest]')" ]
	[ "$(echo "$m" | jq '.layers | length')" -ge 3 ]
	[ "$(echo "$m" | jq -r '.layers[0].digest')" = "$INDEX" ]
	[ "$(echo "$m" | jq -r '.layers[0].mediaType')" = application/vnd.oci.image.layer.brisk.index.v1 ]
	[ "$(echo "$m" | jq -r '.layers[1].mediaType')" = application/vnd.oci.image.layer.brisk.index.v1+zstd ]
	[ "$(echo "$m" | jq -r '.layers[2:][].mediaType' | sort -u)" = application/vnd.oci.image.layer.brisk.pack.v1 ]
	[ "$(echo "$m" | jq -c '[.layers[].annotations] | unique')" = \
		"[{\"containerd.io/snapshot/brisk.store\":\"registry:127.0.0.1:$REG_PORT/brisk/bb\",\"containerd.io/snapshot/brisk.index\":\"$INDEX\"}]" ]
	# an image in a directory store names no registry: the same manifest, without the labels
	local dm
	dm=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "bb") | .digest' \
		"$SNAP_DIR/store/index.json")
	dm=$(cat "$SNAP_DIR/store/blobs/sha256/${dm#sha256:}")
	[ "$(echo "$dm" | jq -r .config.mediaType)" = application/vnd.oci.image.config.v1+json ]
	[ "$(echo "$dm" | jq '[.layers[] | select(.annotations)] | length')" = 0 ]
}

# kctr ARGS...: ctr in the CRI plugin's namespace
kctr() {
	ctr --address "$SNAP_DIR/containerd.sock" -n k8s.io "$@"
}

# cri ARGS...: the tests' CRI client on the private containerd (cri.py)
cri() {
	/usr/bin/python3 "$SOURCE_ROOT/tests/integration/snapshotter/cri.py" "$SNAP_DIR/containerd.sock" "$@"
}

@test "snapshotter: CRI pull of an image whose layer is a brisk image fetches no layer; pods and containers run it, through a kill -9 of the daemon" {
	# the image as brisk-image pushed it (setup_file), nothing made by hand
	local ref=127.0.0.1:$REG_PORT/brisk/bb:v1 layers l mounts_before
	layers=$(manifest brisk/bb:v1 | jq -r '.layers[].digest')
	[ -n "$layers" ]
	mounts_before=$(imagefs_mounts | wc -l)

	local t0=$EPOCHREALTIME
	run cri pull "$ref"
	echo "# CRI PullImage: $(echo "$EPOCHREALTIME - $t0" | bc) s" >&3
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == sha256:* ]]
	[ "$(imagefs_mounts | wc -l)" = $((mounts_before + 1)) ]
	run snapc list "labels.\"containerd.io/snapshot/cri.image-ref\"==$ref"
	echo "$output"
	[ "$(echo "$output" | jq -r '.info[0].kind')" = COMMITTED ]
	[ "$(echo "$output" | jq -r '.info[0].labels["containerd.io/snapshot/brisk.index"]')" = "$INDEX" ]
	# one snapshot a layer, and containerd fetched none of them: its content store has the
	# manifest and the config only
	[ "$(echo "$output" | jq '.info | length')" = "$(echo "$layers" | wc -l)" ]
	run kctr content ls -q
	echo "$output"
	for l in $layers; do
		if echo "$output" | grep -qxF "$l"; then
			echo "containerd fetched layer $l"
			return 1
		fi
	done

	run ctr --address "$SNAP_DIR/containerd.sock" -n k8s.io run --rm --snapshotter brisk \
		--runc-binary "$BRISK" --runc-root "$SNAP_DIR/brisk-root" "$ref" cri-lazy-1 \
		sh -c 'echo lazy hello; cat /etc/passwd'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'lazy hello\nroot:x:0:0:root:/root:/bin/sh')" ]

	# a pod, as the kubelet runs one: its sandbox (brisk/pause, unpacked) and a container of
	# the lazy image, run by brisk (the CRI runtime handler), its log, its exit code
	mkdir -p "$SNAP_DIR/pods"
	t0=$EPOCHREALTIME
	run cri pod "$ref" brisk "$SNAP_DIR/pods" sh -c 'echo hello from the pod; cat /etc/passwd; exit 3'
	echo "# CRI pod sandbox, container, log, removal: $(echo "$EPOCHREALTIME - $t0" | bc) s" >&3
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$(echo "$output" | sed -n 1p)" == *" stdout F hello from the pod" ]]
	[[ "$(echo "$output" | sed -n 2p)" == *" stdout F root:x:0:0:root:/root:/bin/sh" ]]
	[ "$(echo "$output" | sed -n 3p)" = "exit 3" ]
	[ -z "$(ctr --address "$SNAP_DIR/containerd.sock" -n k8s.io containers ls -q)" ]
	[ -z "$(ctr --address "$SNAP_DIR/containerd.sock" -n k8s.io tasks ls -q)" ]
	[ -z "$(snap_mounts | grep -v ' - fuse.brisk ')" ]

	# kill -9 of the daemon under a running container of the lazy image: it runs on and reads
	# the image (the lazy mount has a daemon of its own); after a restart a new one starts
	kctr run -d --snapshotter brisk --runc-binary "$BRISK" --runc-root "$SNAP_DIR/brisk-root" \
		"$ref" lazy-long sh -c 'while :; do sleep 0.1; done'
	local ls_before
	ls_before=$(kctr snapshots --snapshotter brisk ls)
	[[ "$ls_before" == *lazy-long* ]]
	stop_snapshotter KILL
	[ "$(kctr tasks exec --exec-id e1 lazy-long md5sum /bin/busybox | cut -d' ' -f1)" = \
		"$(md5sum <"$BUSYBOX" | cut -d' ' -f1)" ]
	start_snapshotter
	wait_for_containerd_to_redial
	[ "$(kctr tasks ls | awk '$1 == "lazy-long" {print $3}')" = RUNNING ]
	[ "$(kctr snapshots --snapshotter brisk ls)" = "$ls_before" ]
	run kctr run --rm --snapshotter brisk --runc-binary "$BRISK" --runc-root "$SNAP_DIR/brisk-root" \
		"$ref" lazy-after echo after the restart
	[ "$output" = "after the restart" ]
	kctr tasks kill -s KILL lazy-long
	timeout 10 ctr --address "$SNAP_DIR/containerd.sock" -n k8s.io tasks wait lazy-long || true
	kctr tasks delete lazy-long
	kctr containers delete lazy-long

	# the image removed (the CRI plugin names it by tag, digest and id), containerd's garbage
	# collector removes the layer: the mount goes
	kctr images rm --sync $(kctr images ls -q) >/dev/null
	local i
	for i in $(seq 1 100); do
		[ "$(imagefs_mounts | wc -l)" = "$mounts_before" ] && break
		sleep 0.1
	done
	[ "$(imagefs_mounts | wc -l)" = "$mounts_before" ]
}

# kcleanup ID: the k8s.io namespace's container ID gone, its task first. containerd 1.6 keeps a
# task whose restore failed in CREATED, and `tasks delete -f` waits on it forever: then its
# shim (which containerd started for the test) is stopped, and the delete tried again.
kcleanup() {
	local kc=(ctr --address "$SNAP_DIR/containerd.sock" -n k8s.io) shim
	shim=$SNAP_DIR/state/io.containerd.runtime.v2.task/k8s.io/$1/shim.pid
	timeout 20 "${kc[@]}" tasks kill -s KILL "$1" >/dev/null 2>&1 || true
	timeout 10 "${kc[@]}" tasks wait "$1" >/dev/null 2>&1 || true
	if ! timeout 20 "${kc[@]}" tasks delete -f "$1" >/dev/null 2>&1 && [ -f "$shim" ]; then
		stop_pid "$(cat "$shim")"
		timeout 20 "${kc[@]}" tasks delete -f "$1" >/dev/null 2>&1 || true
	fi
	timeout 20 "${kc[@]}" containers delete "$1" >/dev/null 2>&1 || true
}

# root_lowerdir PID: the lowerdir= of the overlay that is PID's root (nothing: not an overlay)
root_lowerdir() {
	awk '$5 == "/" { for (i = 7; $i != "-"; i++); if ($(i + 1) == "overlay") o = $(i + 3) }
		END { print o }' "/proc/$1/mountinfo" | tr ',' '\n' | sed -n 's/^lowerdir=//p'
}

# ktask_pid ID: the host pid of the task's init
ktask_pid() {
	kctr tasks ls | awk -v id="$1" '$1 == id { print $2 }'
}

kernel_at_least() { # MAJOR MINOR
	local v maj rest min
	v=$(uname -r)
	maj=${v%%.*} rest=${v#*.}
	min=${rest%%[.-]*}
	[ "$maj" -gt "$1" ] || { [ "$maj" = "$1" ] && [ "$min" -ge "$2" ]; }
}

# kwait_running ID: until the task is RUNNING
kwait_running() {
	local i
	for i in $(seq 1 100); do
		[ "$(kctr tasks ls | awk -v id="$1" '$1 == id { print $3 }')" = RUNNING ] && return 0
		sleep 0.1
	done
	kctr tasks ls
	return 1
}

@test "snapshotter: brisk checkpoints a container of a lazily mounted image through containerd, its layer too; restore --live under a new name goes on from its memory, on the lazy mount" {
	# issue #24: snapshots of memory stay brisk's own, also on the snapshotter's lazy rootfs
	command -v criu >/dev/null || skip "criu is not installed"
	local ref=127.0.0.1:$REG_PORT/brisk/bb:v1 before m id=lazy-ck n0 n1 n2 pid
	before=$(imagefs_mounts | awk '{print $5}')
	run cri pull "$ref"
	echo "$output"
	[ "$status" -eq 0 ]
	m=$(comm -13 <(echo "$before" | sort) <(imagefs_mounts | awk '{print $5}' | sort))
	[ "$(echo "$m" | grep -c .)" = 1 ]
	# a warm cache: busybox read whole, and from then on opened with FUSE passthrough (Linux
	# 6.9), so that the app's mappings of it are on the passthrough's backing file (the case
	# of CRIU's overlay-lower-mapping patch)
	local i opens=0 passthrough=false
	kernel_at_least 6 9 && passthrough=true
	for i in $(seq 1 100); do
		cmp "$m/bin/busybox" "$BUSYBOX"
		[ "$passthrough" = true ] || break
		opens=$("$BRISK_IMAGEFS" stats "$m" | jq .passthrough_opens)
		[ "$opens" -gt 0 ] && break
		sleep 0.1
	done
	[ "$passthrough" = false ] || [ "$opens" -gt 0 ]

	# an app that counts in memory, and writes the count to a file of its rootfs
	kctr run -d --snapshotter brisk --runc-binary "$BRISK" --runc-root "$SNAP_DIR/brisk-root" \
		"$ref" "$id" \
		sh -c 'i=0; while :; do i=$((i + 1)); echo $i >/tmp/c.new; mv /tmp/c.new /tmp/c; sleep 0.1; done'
	kwait_running "$id"
	pid=$(ktask_pid "$id")
	# its rootfs: the snapshotter's overlay whose one lower layer is the lazy mount
	[ "$(root_lowerdir "$pid")" = "$m" ]
	# and busybox is mapped from the lazy mount's device (passed through), not the overlay's
	local dev
	dev=$(stat -c '%Hd:%Ld' "$m")
	[ "$passthrough" = false ] ||
		[ "$(awk '$6 == "/bin/busybox" {print $4}' "/proc/$pid/maps" | sort -u)" = \
			"$(printf '%02x:%02x' "${dev%:*}" "${dev#*:}")" ]
	sleep 2
	n0=$(kctr tasks exec --exec-id e1 "$id" cat /tmp/c)
	[ "$n0" -ge 5 ]

	# checkpointed by brisk (CRIU) into an image, with the container's writable layer (--rw:
	# containerd's own diff of it over the lazy mount, which reads every file's xattrs; the
	# snapshotter's mounts answer "no such attribute" as a file system with xattrs does), the
	# original removed
	run kctr containers checkpoint --rw --task "$id" brisk/ck-lazy:1
	echo "$output"
	[ "$status" -eq 0 ]
	kcleanup "$id"
	[ -z "$(kctr containers ls -q | grep -x "$id")" ]
	[ ! -e "$SNAP_DIR/brisk-root/k8s.io/$id" ]

	# restored under a new name, on a new snapshot of the image: the same lazy mount under a
	# new overlay, which is the restored container's own (brisk stacks no layer of its own on
	# it: a third level of stacking over FUSE passthrough, which the kernel refuses)
	id=$id-new
	run kctr containers restore --live --rw "$id" brisk/ck-lazy:1
	echo "$output"
	[ "$status" -eq 0 ]
	kwait_running "$id"
	pid=$(ktask_pid "$id")
	[ "$(root_lowerdir "$pid")" = "$m" ]
	sleep 0.5
	# the count goes on from the checkpointed one (a new start would count from 1 again)
	n1=$(kctr tasks exec --exec-id e2 "$id" cat /tmp/c)
	echo "# checkpointed at $n0 or more, restored: $n1" >&3
	[ "$n1" -ge "$n0" ]
	sleep 0.5
	n2=$(kctr tasks exec --exec-id e3 "$id" cat /tmp/c)
	[ "$n2" -gt "$n1" ]
	# and it reads the image through the lazy mount
	[ "$(kctr tasks exec --exec-id e4 "$id" md5sum /bin/busybox | cut -d' ' -f1)" = \
		"$(md5sum <"$BUSYBOX" | cut -d' ' -f1)" ]

	kcleanup "$id"
	[ -z "$(kctr containers ls -q)" ]
	[ -z "$(kctr tasks ls -q)" ]
	[ ! -e "$SNAP_DIR/brisk-root/k8s.io/$id" ]
	[ -z "$(snap_mounts | grep -v ' - fuse.brisk ')" ]
	# the images removed, the layer's snapshot goes and its mount with it
	kctr images rm --sync $(kctr images ls -q) >/dev/null
	for i in $(seq 1 100); do
		[ "$(imagefs_mounts | awk '{print $5}')" = "$before" ] && break
		sleep 0.1
	done
	[ "$(imagefs_mounts | awk '{print $5}')" = "$before" ]
}

@test "snapshotter: CRI pull of an image naming a brisk image the registry lacks: the daemon's error, nothing mounted" {
	local ref=127.0.0.1:$REG_PORT/brisk/bb-missing:v1 before mounts_before index h
	before=$(backend_keys)
	mounts_before=$(imagefs_mounts | wc -l)
	# an image of its own (another chunk size: an index no cache holds), pushed by
	# brisk-image, then its index taken away from the registry
	"$BRISK_IMAGE" convert --no-progress --chunk-size 65536 oci:"$SNAP_DIR/image/oci:bb" \
		dir:"$SNAP_DIR/store:missing" >/dev/null
	"$BRISK_IMAGE" push dir:"$SNAP_DIR/store:missing" "registry:$ref" >/dev/null
	index=$("$BRISK_IMAGE" inspect dir:"$SNAP_DIR/store:missing" | awk '/^index:/ {print $2}')
	h=${index#sha256:}
	rm "$SNAP_DIR/registry/data/docker/registry/v2/blobs/sha256/${h:0:2}/$h/data"
	run cri pull "$ref"
	echo "# $output" >&3
	[ "$status" -ne 0 ]
	[[ "$output" == *"mount brisk image 'registry:127.0.0.1:$REG_PORT/brisk/bb-missing@$index': "*"HTTP 404"* ]]
	no_new_lines "$before" "$(backend_keys)"
	[ -z "$(snap_mounts | grep -v ' - fuse.brisk ')" ]
	[ "$(imagefs_mounts | wc -l)" = "$mounts_before" ]
}

@test "snapshotter: CRI pull of an image whose brisk image names a registry nobody answers on: the daemon's error, naming it; nothing mounted" {
	local ref=127.0.0.1:$REG_PORT/brisk/bb-gone:v1 before mounts_before index pport gone_pid
	before=$(backend_keys)
	mounts_before=$(imagefs_mounts | wc -l)
	# an image of its own (an index no cache holds), pushed through a proxy that then goes
	# away: the labels on its layers name the proxy's port, where nobody listens any more
	"$BRISK_IMAGE" convert --no-progress --chunk-size 262144 oci:"$SNAP_DIR/image/oci:bb" \
		dir:"$SNAP_DIR/store:gone" >/dev/null
	index=$("$BRISK_IMAGE" inspect dir:"$SNAP_DIR/store:gone" | awk '/^index:/ {print $2}')
	coproc GONE { exec /usr/bin/python3 "$SOURCE_ROOT/tests/integration/snapshotter/slow-proxy.py" "$REG_PORT" 0 3>&-; }
	gone_pid=$GONE_PID
	read -r pport <&"${GONE[0]}"
	"$BRISK_IMAGE" push dir:"$SNAP_DIR/store:gone" "registry:127.0.0.1:$pport/brisk/bb-gone:v1" >/dev/null
	kill "$gone_pid"
	wait "$gone_pid" 2>/dev/null || true
	[ "$(manifest brisk/bb-gone:v1 | jq -r '.layers[0].annotations["containerd.io/snapshot/brisk.store"]')" = \
		"registry:127.0.0.1:$pport/brisk/bb-gone" ]

	run cri pull "$ref"
	echo "# $output" >&3
	[ "$status" -ne 0 ]
	[[ "$output" == *"mount brisk image 'registry:127.0.0.1:$pport/brisk/bb-gone@$index': "*"127.0.0.1:$pport"* ]]
	no_new_lines "$before" "$(backend_keys)"
	[ -z "$(snap_mounts | grep -v ' - fuse.brisk ')" ]
	[ "$(imagefs_mounts | wc -l)" = "$mounts_before" ]
}
