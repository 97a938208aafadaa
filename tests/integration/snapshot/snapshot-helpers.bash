# Shared by the snapshot suites: a zdtm-style program (zdtm-state) in the test's bundle, its
# checkpoint and restores, a registry on 127.0.0.1.

BI=$BUILD_ROOT/tools/brisk-image

snapshot_setup() {
	common_setup
	command -v criu >/dev/null || skip "criu is not installed"
	cp "$BUILD_ROOT/tests/integration/zdtm-state" "$BUNDLE/rootfs/bin/zdtm-state"
	args /bin/zdtm-state
	config '.process.env += ["ZDTM_ENV=kept"]'
	IMG=$TEST_DIR/img
}

snapshot_teardown() {
	[ -z "${REG_PID:-}" ] || kill "$REG_PID" 2>/dev/null || true
	# a network namespace a test bound on a file
	umount "$TEST_DIR/netns" 2>/dev/null || true
	common_teardown
}

# wait_line FILE LINE: until FILE has LINE (10 s)
wait_line() {
	local i
	for i in $(seq 1 100); do
		tr -d '\r' <"$1" 2>/dev/null | grep -qx "$2" && return 0
		sleep 0.1
	done
	echo "no '$2' in $1:"; cat "$1"
	return 1
}

# The container's stdout is a pipe (CRIU reconnects pipes to the restorer's fds; a regular
# file would be checked against its size at dump time). The reader lives as long as the
# container: it must hold neither bats's fd 3 nor, under `run`, the pipe that `run` reads
# the output from (its stderr), or bats waits for it.
out_pipe() { # FILE
	exec 3>&- 2>/dev/null
	exec cat >"$1"
}

start_zdtm() { # ID
	brisk run -d "$1" </dev/null > >(out_pipe "$TEST_DIR/out.$1") 2>&1
	wait_line "$TEST_DIR/out.$1" READY
}

check_pass() { # ID
	brisk kill "$1" USR1
	wait_line "$TEST_DIR/out.$1" PASS
}

# restore ID [options]: from $IMG, with a bundle of its own (the test's rootfs, a cgroup
# under the test's parent), so that restores can run at the same time; BRISK_OPTS: global
# options (its log is $TEST_DIR/err.ID)
restore() {
	local id=$1 b=$TEST_DIR/bundle.$1
	shift
	mkdir -p "$b"
	jq --arg root "$BUNDLE/rootfs" --arg cg "/$CGROUP_PARENT/$id" \
		'.root.path = $root | .linux.cgroupsPath = $cg' "$BUNDLE/config.json" >"$b/config.json"
	# shellcheck disable=SC2086 # BRISK_OPTS: global options, word-split on purpose
	"$BRISK" --root "$STATE_ROOT" ${BRISK_OPTS:-} restore -d --bundle "$b" --image-path "$IMG" "$@" "$id" \
		</dev/null > >(out_pipe "$TEST_DIR/out.$id") 2>"$TEST_DIR/err.$id" ||
		{ cat "$TEST_DIR/err.$id"; return 1; }
}

start_registry() { # sets PORT, REG_PID (stopped by teardown)
	command -v docker-registry >/dev/null || skip "docker-registry not installed"
	PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	mkdir -p "$TEST_DIR/reg"
	printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
		"$TEST_DIR/reg/data" "$PORT" >"$TEST_DIR/reg/config.yml"
	docker-registry serve "$TEST_DIR/reg/config.yml" >"$TEST_DIR/reg/log" 2>&1 &
	REG_PID=$!
	for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null && return 0; sleep 0.1; done
	cat "$TEST_DIR/reg/log"
	return 1
}

