#!/usr/bin/env bats
# Containers of an ordinary OCI image on brisk-snapshotter: containerd 1.6 imports the image
# (unpacking its layers into the daemon's directories) and runs it with brisk as its runc binary.
# The daemon is killed under a running container and restarted.

load snapshotter

BRISK=${BRISK:-$BUILD_ROOT/runtime/brisk}

setup_file() {
	snap_setup_file
	make_image "$SNAP_DIR/image" >/dev/null
	c images import --snapshotter brisk --base-name brisk/busybox "$SNAP_DIR/image/image.tar"
}

teardown_file() {
	snap_teardown_file
}

teardown() {
	[ -n "${SNAP_DIR:-}" ] || return 0
	local id
	for id in $(c containers ls -q 2>/dev/null); do
		cleanup_container "$id"
	done
}

# brun [ctr run options...] ID ARGS...: ctr run on the brisk snapshotter with brisk
brun() {
	c run --snapshotter brisk --runc-binary "$BRISK" --runc-root "$SNAP_DIR/brisk-root" "$@"
}

# the image's layers: the committed snapshots the import left
layer_keys() {
	snapc list | jq -r '.info[] | select(.kind == "COMMITTED") | .name' | sort
}

# wait_backend_without NAME: until containerd's garbage collector has removed NAME's snapshot
wait_backend_without() {
	local i
	for i in $(seq 1 100); do
		backend_keys | grep -q "/$1\$" || return 0
		sleep 0.1
	done
	echo "snapshot of $1 still held by the daemon:"
	backend_keys
	return 1
}

@test "snapshotter: ctr run of an imported OCI image, output, nothing left" {
	local layers
	layers=$(layer_keys)
	[ -n "$layers" ]
	run brun --rm brisk/busybox:bb run-1 sh -c 'echo hello from $(cat /etc/passwd); echo x >/tmp/w'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "hello from root:x:0:0:root:/root:/bin/sh" ]
	# the container wrote into its own upper dir, not into the layer
	run brun --rm brisk/busybox:bb run-2 sh -c 'cat /tmp/w 2>&1 || echo absent'
	[[ "$output" == *absent* ]]

	wait_backend_without run-1
	wait_backend_without run-2
	[ "$(layer_keys)" = "$layers" ]
	[ -z "$(c containers ls -q)" ]
	[ -z "$(snap_mounts)" ]
	[ ! -e "$SNAP_DIR/brisk-root/$NS/run-1" ]
}

@test "snapshotter: kill -9 under a running container: it keeps running, a new one starts" {
	brun -d brisk/busybox:bb crash-1 sh -c 'while :; do sleep 0.1; done'
	c tasks ls | grep -q 'crash-1.*RUNNING'
	local ls_before list_before
	ls_before=$(c snapshots --snapshotter brisk ls)
	list_before=$(backend_list)

	stop_snapshotter KILL
	# with the daemon down: the container runs on, a new one fails with a clear error
	c tasks ls | grep -q 'crash-1.*RUNNING'
	[ "$(c tasks exec --exec-id e1 crash-1 cat /etc/group)" = "root:x:0:" ]
	run brun --rm brisk/busybox:bb crash-down true
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"snapshotter.sock"* ]]
	c containers delete crash-down 2>/dev/null || true

	start_snapshotter
	wait_for_containerd_to_redial
	[ "$(c snapshots --snapshotter brisk ls)" = "$ls_before" ]
	[ "$(backend_list)" = "$list_before" ]
	c tasks ls | grep -q 'crash-1.*RUNNING'
	run brun --rm brisk/busybox:bb crash-2 echo after the restart
	echo "$output"
	[ "$output" = "after the restart" ]

	cleanup_container crash-1
	wait_backend_without crash-1
	wait_backend_without crash-2
	[ -z "$(snap_mounts)" ]
}

@test "snapshotter: bad input leaves nothing mounted" {
	local before
	before=$(backend_keys)
	run brun --rm brisk/busybox:nothing bad-1 true
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"brisk/busybox:nothing"*"not found"* ]]
	run snapc prepare bad-2 "$NS/nothing"
	[ "$output" = "NOT_FOUND: snapshot 'bad-2': parent '$NS/nothing' does not exist" ]
	run snapc mounts "$NS/nothing"
	[ "$output" = "NOT_FOUND: snapshot '$NS/nothing' does not exist" ]
	run snapc prepare bad-3 -l "=x"
	[ "$status" -ne 0 ]
	no_new_lines "$before" "$(backend_keys)"
	[ -z "$(snap_mounts)" ]
}
