# Shared by the snapshotter suites: a brisk-snapshotter and a private containerd 1.6 that uses it
# as its proxy snapshotter "brisk" (own root, state, sockets and config, CRI off), all under one
# temp dir, started and stopped by PID. Needs BUILD_ROOT and SOURCE_ROOT.

load ../orchestrators

SNAPSHOTTER=${SNAPSHOTTER:-$BUILD_ROOT/snapshotter/brisk-snapshotter}
SNAPCLIENT=$SOURCE_ROOT/tests/integration/snapshotter/snapclient.py
BRISK_IMAGEFS=${BRISK_IMAGEFS:-$BUILD_ROOT/imagefs/brisk-imagefs}
BRISK_IMAGE=${BRISK_IMAGE:-$BUILD_ROOT/tools/brisk-image}
NS=brisk-snap

# snap_requirements: skip the file unless everything it runs is here
snap_requirements() {
	[ "$(id -u)" = 0 ] || skip "needs root"
	[ -x "$SNAPSHOTTER" ] || skip "brisk-snapshotter is not built (libnghttp2-dev, protoc-c)"
	command -v containerd >/dev/null && command -v ctr >/dev/null ||
		skip "containerd is not installed"
	command -v umoci >/dev/null || skip "umoci is not installed"
	/usr/bin/python3 -c 'import grpc, google.protobuf' 2>/dev/null ||
		skip "python3-grpcio or python3-protobuf is not installed"
}

# start_snapshotter [ARGS...]: brisk-snapshotter on $SNAP_DIR/snapshotter.sock (ARGS added to
# its command line), answering once it returns
start_snapshotter() {
	# from a subshell, so that no shell of the test reports it when a test kills it
	(
		"$SNAPSHOTTER" --root "$SNAP_DIR/snaproot" --address "$SNAP_DIR/snapshotter.sock" \
			--imagefs "$BRISK_IMAGEFS" --debug "$@" >>"$SNAP_DIR/snapshotter.log" 2>&1 3>&- &
		echo $! >"$SNAP_DIR/snapshotter.pid"
	)
	local i
	for i in $(seq 1 100); do
		[ -S "$SNAP_DIR/snapshotter.sock" ] && snapc list >/dev/null 2>&1 && return 0
		kill -0 "$(cat "$SNAP_DIR/snapshotter.pid")" 2>/dev/null || break
		sleep 0.1
	done
	echo "brisk-snapshotter did not start:"
	cat "$SNAP_DIR/snapshotter.log"
	return 1
}

# stop_snapshotter [SIGNAL]: TERM (or SIGNAL, e.g. KILL) to the daemon the suite started
stop_snapshotter() {
	local pid
	pid=$(cat "$SNAP_DIR/snapshotter.pid" 2>/dev/null) || return 0
	if [ "${1:-TERM}" = KILL ]; then
		kill -9 "$pid" 2>/dev/null || true
		while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
	else
		stop_pid "$pid"
	fi
	rm -f "$SNAP_DIR/snapshotter.pid"
}

# start_containerd [cri]: with "cri", its CRI plugin on, pulling through brisk from the
# registry of start_registry ($REG_PORT) over plain http, with a runtime handler "brisk" and
# the sandbox image brisk/pause:v1 of that registry
start_containerd() {
	local plugins='disabled_plugins = ["io.containerd.grpc.v1.cri"]'
	if [ "${1:-}" = cri ]; then
		plugins=$(
			cat <<-EOF
				[plugins."io.containerd.grpc.v1.cri"]
				  disable_apparmor = true
				  # no test may need CAP_SYS_RESOURCE (a sandbox's oom_score_adj is -998)
				  restrict_oom_score_adj = true
				  sandbox_image = "127.0.0.1:$REG_PORT/brisk/pause:v1"
				  [plugins."io.containerd.grpc.v1.cri".containerd]
				    snapshotter = "brisk"
				    disable_snapshot_annotations = false
				    default_runtime_name = "brisk"
				  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.brisk]
				    runtime_type = "io.containerd.runc.v2"
				    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.brisk.options]
				      BinaryName = "$BUILD_ROOT/runtime/brisk"
				      Root = "$SNAP_DIR/brisk-cri-root"
				  [plugins."io.containerd.grpc.v1.cri".cni]
				    bin_dir = "$SNAP_DIR/cni/bin"
				    conf_dir = "$SNAP_DIR/cni/conf"
				  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."127.0.0.1:$REG_PORT"]
				    endpoint = ["http://127.0.0.1:$REG_PORT"]
			EOF
		)
	fi
	cat >"$SNAP_DIR/config.toml" <<-EOF
		version = 2
		root = "$SNAP_DIR/root"
		state = "$SNAP_DIR/state"
		$plugins
		[grpc]
		  address = "$SNAP_DIR/containerd.sock"
		[ttrpc]
		  address = "$SNAP_DIR/containerd.sock.ttrpc"
		[plugins."io.containerd.internal.v1.opt"]
		  path = "$SNAP_DIR/opt"
		[proxy_plugins.brisk]
		  type = "snapshot"
		  address = "$SNAP_DIR/snapshotter.sock"
	EOF
	containerd --config "$SNAP_DIR/config.toml" >"$SNAP_DIR/containerd.log" 2>&1 3>&- &
	echo $! >"$SNAP_DIR/containerd.pid"
	local i
	for i in $(seq 1 100); do
		ctr --address "$SNAP_DIR/containerd.sock" version >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "containerd did not start:"
	tail -20 "$SNAP_DIR/containerd.log"
	return 1
}

# snap_setup_file: the temp dir, the daemon, containerd
snap_setup_file() {
	snap_requirements
	SNAP_DIR=$(mktemp -d /tmp/brisk-snapshotter.XXXXXX)
	export SNAP_DIR
	start_snapshotter
	start_containerd
}

snap_teardown_file() {
	[ -n "${SNAP_DIR:-}" ] || return 0
	local id
	for id in $(c containers ls -q 2>/dev/null); do
		cleanup_container "$id"
	done
	[ -f "$SNAP_DIR/containerd.pid" ] && stop_pid "$(cat "$SNAP_DIR/containerd.pid")"
	stop_snapshotter
	stop_registry
	# overlays first, then the lazy mounts through brisk-imagefs (its daemons exit), then the rest
	grep -F "$SNAP_DIR" /proc/self/mountinfo | awk '$0 ~ / - overlay / {print $5}' |
		while read -r m; do umount "$m" 2>/dev/null || true; done
	grep -F "$SNAP_DIR" /proc/self/mountinfo | awk '$0 ~ / - fuse.brisk / {print $5}' |
		while read -r m; do "$BRISK_IMAGEFS" umount "$m" >/dev/null 2>&1 || true; done
	umount_under "$SNAP_DIR"
	find /sys/fs/cgroup -maxdepth 2 -type d -name $NS -exec rmdir {} + 2>/dev/null || true
	rm -rf "$SNAP_DIR"
}

# c ARGS...: ctr on the private containerd, in the suite's namespace
c() {
	ctr --address "$SNAP_DIR/containerd.sock" -n $NS "$@"
}

# snaps ARGS...: ctr snapshots through the brisk snapshotter
snaps() {
	c snapshots --snapshotter brisk "$@"
}

# snapc METHOD ARGS...: a call straight to the daemon (snapclient.py)
snapc() {
	/usr/bin/python3 "$SNAPCLIENT" "$SNAP_DIR/snapshotter.sock" "$@"
}

# backend_list: what the daemon's List says (sorted JSON), less the probes of
# wait_for_containerd_to_redial, which containerd's garbage collector removes when it runs
backend_list() {
	snapc list | jq -S '.info | map(select(.name | endswith("/redial-probe") | not))'
}

# backend_keys: every key the daemon holds, one a line, sorted
backend_keys() {
	snapc list | jq -r '.info[].name' | sort
}

# no_new_lines BEFORE NOW: nothing in NOW that BEFORE lacks (containerd's garbage collector
# may remove snapshots in between, never add one)
no_new_lines() {
	local added
	added=$(comm -13 <(echo "$1" | sort) <(echo "$2" | sort))
	[ -z "$added" ] && return 0
	echo "new: $added"
	return 1
}

cleanup_container() {
	c tasks kill -s KILL "$1" >/dev/null 2>&1 || true
	timeout 10 ctr --address "$SNAP_DIR/containerd.sock" -n $NS tasks wait "$1" >/dev/null 2>&1 ||
		true
	c tasks delete -f "$1" >/dev/null 2>&1 || true
	c containers delete "$1" >/dev/null 2>&1 || true
}

# snap_mounts: mounts of the snapshotter's directories (none should outlive their container)
snap_mounts() {
	grep -F "$SNAP_DIR/snaproot" /proc/self/mountinfo || true
}

# wait_for_containerd_to_redial: after a restart of the daemon, until containerd reaches it again
# (a prepare, which containerd cannot answer without the daemon; the probe is removed)
wait_for_containerd_to_redial() {
	local i t0=$SECONDS
	for i in $(seq 1 300); do
		if snaps prepare redial-probe >/dev/null 2>&1; then
			snaps rm redial-probe
			echo "# containerd redialled the snapshotter in $((SECONDS - t0)) s" >&3
			return 0
		fi
		sleep 0.1
	done
	echo "containerd did not reach the restarted snapshotter in 30 s"
	return 1
}

# start_registry: Debian's docker-registry on a free loopback port ($REG_PORT), data in $SNAP_DIR
start_registry() {
	REG_PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	export REG_PORT
	mkdir -p "$SNAP_DIR/registry"
	printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
		"$SNAP_DIR/registry/data" "$REG_PORT" >"$SNAP_DIR/registry/config.yml"
	docker-registry serve "$SNAP_DIR/registry/config.yml" >"$SNAP_DIR/registry/log" 2>&1 3>&- &
	echo $! >"$SNAP_DIR/registry.pid"
	local i
	for i in $(seq 1 100); do
		curl -sf "http://127.0.0.1:$REG_PORT/v2/" >/dev/null && return 0
		sleep 0.1
	done
	echo "docker-registry did not start:"
	cat "$SNAP_DIR/registry/log"
	return 1
}

stop_registry() {
	[ -f "$SNAP_DIR/registry.pid" ] && stop_pid "$(cat "$SNAP_DIR/registry.pid")"
	rm -f "$SNAP_DIR/registry.pid"
}
