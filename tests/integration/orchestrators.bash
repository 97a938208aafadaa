# Shared by the containerd and podman suites: an OCI image built here from busybox-static (no
# network), and the two runtimes every scenario runs with, brisk and runc.

BRISK=${BRISK:-$BUILD_ROOT/runtime/brisk}
BUSYBOX=${BUSYBOX:-/bin/busybox}
RUNC=${RUNC:-$(command -v runc || true)}

# runtime_path NAME: brisk or runc
runtime_path() {
	case $1 in
	brisk) echo "$BRISK" ;;
	runc) echo "$RUNC" ;;
	esac
}

# make_image DIR: DIR/image.tar, an OCI archive (layout tarball) tagged "bb", and DIR/oci
make_image() {
	local dir=$1 rootfs
	mkdir -p "$dir"
	umoci init --layout "$dir/oci"
	umoci new --image "$dir/oci:bb"
	umoci unpack --image "$dir/oci:bb" "$dir/unpacked" >/dev/null
	rootfs=$dir/unpacked/rootfs
	mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/tmp" "$rootfs/root"
	cp "$BUSYBOX" "$rootfs/bin/busybox"
	local applet
	for applet in $("$BUSYBOX" --list); do
		[ -e "$rootfs/bin/$applet" ] || ln -s busybox "$rootfs/bin/$applet"
	done
	echo "root:x:0:0:root:/root:/bin/sh" >"$rootfs/etc/passwd"
	echo "root:x:0:" >"$rootfs/etc/group"
	umoci repack --image "$dir/oci:bb" "$dir/unpacked" >/dev/null
	umoci config --image "$dir/oci:bb" --config.cmd=/bin/sh --config.env=PATH=/bin
	rm -rf "$dir/unpacked"
	tar -C "$dir/oci" -cf "$dir/image.tar" .
}

# stop_pid PID: TERM, then KILL after 10 s; waits until it is gone
stop_pid() {
	local pid=$1 i
	kill "$pid" 2>/dev/null || return 0
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}

# umount_under DIR: lazily unmount whatever is still mounted below DIR
umount_under() {
	grep -F "$1" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done
}

# cgroups_named ID: every cgroup directory called ID (none should outlive its container)
cgroups_named() {
	find /sys/fs/cgroup -maxdepth 6 -type d -name "$1" 2>/dev/null
}
