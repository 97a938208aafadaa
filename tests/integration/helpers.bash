# Shared setup of the integration tests: a busybox-static bundle per test, brisk with its own
# state root, and a leak check that nothing (state, mounts, processes) survives a test.

BRISK=${BRISK:-$BUILD_ROOT/runtime/brisk}
BUSYBOX=${BUSYBOX:-/bin/busybox}

require_root() {
	if [ "$(id -u)" != 0 ]; then
		skip "needs root"
	fi
}

# make_rootfs DIR: busybox, its applets and /etc/passwd, /etc/group
make_rootfs() {
	local dir=$1
	mkdir -p "$dir/bin" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/etc" "$dir/tmp" "$dir/root"
	cp "$BUSYBOX" "$dir/bin/busybox"
	local applet
	for applet in $("$BUSYBOX" --list); do
		[ -e "$dir/bin/$applet" ] || ln -s busybox "$dir/bin/$applet"
	done
	echo "root:x:0:0:root:/root:/bin/sh" >"$dir/etc/passwd"
	echo "root:x:0:" >"$dir/etc/group"
}

# make_bundle DIR: rootfs with busybox and a config.json from `brisk spec`, terminal off. The
# rootfs is made once per bats run and copied (hundreds of applet links take seconds to make).
make_bundle() {
	local dir=$1 tmpl=${BATS_RUN_TMPDIR:-/tmp}/brisk-rootfs
	if [ ! -d "$tmpl" ]; then
		make_rootfs "$tmpl.$$"
		mv "$tmpl.$$" "$tmpl" 2>/dev/null || rm -rf "$tmpl.$$"
	fi
	mkdir -p "$dir"
	cp -a "$tmpl" "$dir/rootfs"
	(cd "$dir" && "$BRISK" spec)
	config '.process.terminal = false | .root.readonly = false'
}

# config JQ-FILTER: edit the test bundle's config.json in place
config() {
	local tmp
	# beside the file: what a failed jq leaves goes with the test's directory
	tmp=$(mktemp "$BUNDLE/.config.json.XXXXXX")
	jq "$1" "$BUNDLE/config.json" >"$tmp" && mv "$tmp" "$BUNDLE/config.json" ||
		{ rm -f "$tmp"; return 1; }
}

# args ARG...: set process.args
args() {
	local json
	json=$(printf '%s\n' "$@" | jq -R . | jq -s .)
	config ".process.args = $json"
}

# Containers of this test get cgroups under a parent of their own, so that tests of other
# checkouts running at the same time never share a cgroup with them.
brisk() {
	local cmd=$1 id=${!#}
	if [ "$cmd" = create ] || [ "$cmd" = run ]; then
		[ -f "$BUNDLE/config.json" ] && config ".linux.cgroupsPath = \"/$CGROUP_PARENT/$id\""
	fi
	"$BRISK" --root "$STATE_ROOT" "$@"
}

common_setup() {
	require_root
	TEST_DIR=$(mktemp -d /tmp/brisk-test.XXXXXX)
	chmod 755 "$TEST_DIR" # user namespace tests need to reach the rootfs
	CGROUP_PARENT=brisk-test-${TEST_DIR##*.}
	BUNDLE=$TEST_DIR/bundle
	STATE_ROOT=$TEST_DIR/state
	make_bundle "$BUNDLE"
	cd "$BUNDLE" || return 1
}

# Every container of the test is gone and nothing it made is left behind.
common_teardown() {
	local id
	if [ -d "$STATE_ROOT" ]; then
		for id in $(ls "$STATE_ROOT"); do
			"$BRISK" --root "$STATE_ROOT" delete --force "$id" >/dev/null 2>&1 || true
		done
	fi
	if [ -n "${CGROUP_PARENT:-}" ]; then
		find /sys/fs/cgroup -depth -type d -path "*/$CGROUP_PARENT*" -exec rmdir {} \; 2>/dev/null || true
	fi
	if [ -n "${TEST_DIR:-}" ]; then
		# mounts that reference the test dir (a leak fails the test that caused it)
		grep "$TEST_DIR" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do
			umount -l "$m" 2>/dev/null || true
		done
		rm -rf "$TEST_DIR"
	fi
}

# assert_no_leaks ID: no state dir, no mount under the test dir, no cgroup of ID
assert_no_leaks() {
	local id=$1
	[ ! -e "$STATE_ROOT/$id" ] || { echo "state dir of $id left behind"; return 1; }
	if grep -q "$TEST_DIR" /proc/self/mountinfo; then
		echo "mounts left behind:"; grep "$TEST_DIR" /proc/self/mountinfo; return 1
	fi
	local p
	for p in /proc/[0-9]*; do
		if readlink "$p/root" 2>/dev/null | grep -q "^$TEST_DIR"; then
			echo "process ${p#/proc/} left behind in the container's root"; return 1
		fi
	done
	if find /sys/fs/cgroup -maxdepth 5 -type d -path "*/$CGROUP_PARENT/$id" 2>/dev/null | grep -q .; then
		echo "cgroup of $id left behind:"; find /sys/fs/cgroup -maxdepth 5 -type d -path "*/$CGROUP_PARENT/$id"
		return 1
	fi
}

# cgroup_dirs: every cgroup directory named $PFX* (the ids of this test), in any hierarchy
cgroup_dirs() {
	# one find over every cgroup mount (this runs after each of hundreds of containers)
	# shellcheck disable=SC2046
	find $(awk '$9 == "cgroup" || $9 == "cgroup2" {print $5}' /proc/self/mountinfo) \
		-maxdepth 4 -type d -name "${PFX}*" 2>/dev/null
}

# Nothing of any container of this test survives (ids start with $PFX): state, mounts,
# cgroups, processes in a rootfs of the test, brisk processes on its state root.
assert_nothing_left() {
	local left
	left=$(ls -A "$STATE_ROOT" 2>/dev/null)
	[ -z "$left" ] || { echo "state dirs left: $left"; return 1; }
	if grep -q "$TEST_DIR" /proc/self/mountinfo; then
		echo "mounts left behind:"; grep "$TEST_DIR" /proc/self/mountinfo; return 1
	fi
	left=$(cgroup_dirs) || true
	[ -z "$left" ] || { echo "cgroups left behind:"; echo "$left"; return 1; }
	# processes whose root is in the test dir, and brisk processes (a container init not
	# yet in its root included) with the test's state root as an argument
	left=$(find /proc -mindepth 2 -maxdepth 2 -name root -lname "$TEST_DIR*" 2>/dev/null) || true
	left+=$(grep -lzx -- "$STATE_ROOT" /proc/[0-9]*/cmdline 2>/dev/null) || true
	if [ -n "$left" ]; then
		local p
		for p in $left; do
			p=${p#/proc/}
			p=${p%%/*}
			echo "process $p left behind: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
		done
		return 1
	fi
}

# state_field ID FIELD
state_field() {
	brisk state "$1" | jq -r ".$2"
}

wait_status() { # ID STATUS
	local i
	for i in $(seq 1 50); do
		[ "$(state_field "$1" status 2>/dev/null)" = "$2" ] && return 0
		sleep 0.1
	done
	echo "container $1 never reached status $2 (is $(state_field "$1" status))"
	return 1
}
