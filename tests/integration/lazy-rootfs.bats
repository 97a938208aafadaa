#!/usr/bin/env bats
# Containers started from a lazy image: brisk create mounts the image named by the bundle's
# annotations (once, shared), puts a private overlay on it, and removes both on delete or on a
# failed create. The same lazy mount also serves as a rootfs under runc.

load helpers

setup() {
	common_setup
	export BRISK_LAZY_DIR=$TEST_DIR/lazy
	export BRISK_IMAGEFS=$BUILD_ROOT/imagefs/brisk-imagefs
	IMG=$TEST_DIR/img
	python3 "$SOURCE_ROOT/tests/integration/imagefs/mkimage.py" busybox "$TEST_DIR/oci"
	"$BUILD_ROOT/tools/brisk-image" convert oci:"$TEST_DIR/oci" dir:"$IMG:bb" >/dev/null
	rm -rf "$BUNDLE/rootfs" # the lazy image is the rootfs
	config ".annotations[\"run.brisk.image\"] = \"bb\" |
		.annotations[\"run.brisk.store\"] = \"dir:$IMG\" |
		.annotations[\"run.brisk.cache\"] = \"$TEST_DIR/cache\""
}

teardown() { common_teardown; }

lazy_mounts() { # how many image mounts (FUSE) and overlays are under the test dir
	grep "$TEST_DIR/lazy" /proc/self/mountinfo | grep -c " - $1 " || true
}

@test "run from a lazy image: image files, private writes, everything removed after" {
	args sh -c 'cat /etc/hostname; echo written >/tmp/w; cat /tmp/w; ls /bin/busybox'
	run brisk run lz1
	# delete waited for the image's daemon to write its cache and exit: as it exits, it
	# writes its stats and removes its pid file
	local img=("$TEST_DIR"/lazy/images/*)
	[ -f "${img[0]}/stats" ]
	[ ! -e "${img[0]}/pid" ]
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *busybox*written*/bin/busybox* ]]
	assert_no_leaks lz1
	[ "$(lazy_mounts fuse.brisk)" = 0 ]
	[ -z "$(ls -A "$TEST_DIR/lazy/containers")" ]
	# the chunks stay cached
	[ -n "$(find "$TEST_DIR/cache/chunks" -type f)" ]
}

@test "two containers share one image mount; each has its own upper layer" {
	args sleep 100
	brisk create lz1
	brisk create lz2
	[ "$(lazy_mounts fuse.brisk)" = 1 ]
	[ "$(lazy_mounts overlay)" = 2 ]
	[ "$(state_field lz1 rootfs)" != "$(state_field lz2 rootfs)" ]
	echo one >"$(state_field lz1 rootfs)/tmp/mine"
	[ ! -e "$(state_field lz2 rootfs)/tmp/mine" ]
	brisk delete --force lz1
	[ "$(lazy_mounts fuse.brisk)" = 1 ]
	[ "$(lazy_mounts overlay)" = 1 ]
	[ "$(cat "$(state_field lz2 rootfs)/etc/hostname")" = busybox ]
	brisk delete --force lz2
	[ "$(lazy_mounts fuse.brisk)" = 0 ]
	[ "$(lazy_mounts overlay)" = 0 ]
	assert_no_leaks lz1
	assert_no_leaks lz2
}

@test "a failed create removes the overlay and the image mount" {
	config '.linux.intelRdt = {"closID": "x"}'
	run brisk create lz1
	[ "$status" -ne 0 ]
	[ "$(lazy_mounts fuse.brisk)" = 0 ]
	[ "$(lazy_mounts overlay)" = 0 ]
	assert_no_leaks lz1
	config 'del(.linux.intelRdt) | .annotations["run.brisk.store"] = "dir:/nonexistent"'
	run brisk create lz1
	[ "$status" -ne 0 ]
	assert_no_leaks lz1
}

@test "a plain directory rootfs is untouched by the lazy code" {
	make_bundle "$TEST_DIR/plain"
	BUNDLE=$TEST_DIR/plain
	cd "$BUNDLE"
	args cat /etc/passwd
	run brisk run lz1
	[ "$status" -eq 0 ]
	[ "$(state_field lz1 rootfs 2>/dev/null || true)" = "" ]
	[ ! -e "$TEST_DIR/lazy/containers" ] || [ -z "$(ls -A "$TEST_DIR/lazy/containers")" ]
}

@test "runc runs a container on the same lazy mount with an overlay" {
	command -v runc >/dev/null || skip "runc not installed"
	mkdir -p "$TEST_DIR/lazy/img" "$TEST_DIR/lazy/up" "$TEST_DIR/lazy/work" "$BUNDLE/rootfs"
	"$BRISK_IMAGEFS" mount --store dir:"$IMG" --cache "$TEST_DIR/cache" bb "$TEST_DIR/lazy/img"
	mount -t overlay overlay -o lowerdir="$TEST_DIR/lazy/img",upperdir="$TEST_DIR/lazy/up",workdir="$TEST_DIR/lazy/work" "$BUNDLE/rootfs"
	config 'del(.annotations)'
	args sh -c 'cat /etc/hostname; echo hi >/tmp/x; cat /tmp/x'
	run runc --root "$TEST_DIR/runc" run r1
	umount "$BUNDLE/rootfs"
	"$BRISK_IMAGEFS" umount "$TEST_DIR/lazy/img"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *busybox*hi* ]]
	[ "$(cat "$TEST_DIR/lazy/up/tmp/x")" = hi ]
}
