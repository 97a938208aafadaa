#!/usr/bin/env bats
# podman 4.3 (through conmon) drives brisk as it drives runc: --runtime PATH, cgroupfs, the file
# events backend, no network, a private storage root and runroot, an image from an OCI archive.
# Every scenario runs with brisk and with runc.

load orchestrators
bats_require_minimum_version 1.5.0

# No CAP_SYS_RESOURCE on the test machines: podman's default nofile/nproc limits (raised to
# 1048576) would fail with either runtime, so stay within the hard limits.
ULIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

setup_file() {
	[ "$(id -u)" = 0 ] || skip "needs root"
	command -v podman >/dev/null || skip "podman is not installed"
	command -v umoci >/dev/null || skip "umoci is not installed"
	PM_DIR=$(mktemp -d /tmp/brisk-podman.XXXXXX)
	export PM_DIR
	make_image "$PM_DIR/image"
	PM_IMAGE=$(p pull -q "oci-archive:$PM_DIR/image/image.tar")
	export PM_IMAGE
}

teardown_file() {
	[ -n "${PM_DIR:-}" ] || return 0
	p rm -af -t 0 >/dev/null 2>&1 || true
	p rmi -af >/dev/null 2>&1 || true
	umount_under "$PM_DIR"
	rm -rf "$PM_DIR"
}

p() {
	podman --root "$PM_DIR/storage" --runroot "$PM_DIR/runroot" --tmpdir "$PM_DIR/tmp" \
		--cgroup-manager cgroupfs --events-backend file "$@"
}

# prun RUNTIME PODMAN-COMMAND [args...]
prun() {
	local rt=$1
	shift
	p --runtime "$(runtime_path "$rt")" "$@"
}

teardown() {
	[ -n "${PM_DIR:-}" ] || return 0
	p rm -af -t 0 >/dev/null 2>&1 || true
}

# Nothing of the container with full id ID is left: runtime state, mounts, cgroups.
assert_gone() { # RUNTIME ID
	local root=/run/$1
	if [ -e "$root/$2" ]; then
		echo "runtime state of $2 left behind"
		return 1
	fi
	if grep -F "$2" /proc/self/mountinfo; then
		echo "mounts of $2 left behind"
		return 1
	fi
	if find /sys/fs/cgroup -maxdepth 4 -type d -name "*$2*" 2>/dev/null | grep -v conmon | grep .; then
		echo "cgroups of $2 left behind"
		return 1
	fi
}

scenario_run() {
	run prun "$1" run --name "run-$1" --network none "${ULIMITS[@]}" "$PM_IMAGE" \
		sh -c 'echo hello from $0; echo err >&2; exit 3' "$1"
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"hello from $1"* ]]
	[[ "$output" == *err* ]]
	local id
	id=$(p inspect --format '{{.Id}}' "run-$1")
	prun "$1" rm "run-$1"
	assert_gone "$1" "$id"
}

@test "podman: run, output and exit code (brisk)" {
	scenario_run brisk
}

@test "podman: run, output and exit code (runc)" {
	scenario_run runc
}

scenario_exec_stop_rm() {
	local name=ex-$1 id
	id=$(prun "$1" run -d --name "$name" --network none "${ULIMITS[@]}" "$PM_IMAGE" sleep 1000)
	[ "$(p inspect --format '{{.State.Status}}' "$name")" = running ]
	run prun "$1" exec "$name" sh -c 'echo in exec; cat /proc/1/cmdline; echo; exit 5'
	echo "$output"
	[ "$status" -eq 5 ]
	[[ "$output" == *"in exec"* ]]
	[[ "$output" == *sleep1000* ]]
	run timeout 30 script -qec "podman --root $PM_DIR/storage --runroot $PM_DIR/runroot --tmpdir $PM_DIR/tmp --cgroup-manager cgroupfs --events-backend file --runtime $(runtime_path "$1") exec -t $name sh -c 'tty; exit 4'" /dev/null
	echo "$output"
	[ "$status" -eq 4 ]
	[[ "$output" == */dev/pts/* ]]
	prun "$1" pause "$name"
	[ "$(p inspect --format '{{.State.Status}}' "$name")" = paused ]
	prun "$1" unpause "$name"
	[ "$(p inspect --format '{{.State.Status}}' "$name")" = running ]
	# sleep as pid 1 ignores TERM: podman falls back to KILL after the timeout
	prun "$1" stop -t 1 "$name"
	[ "$(p inspect --format '{{.State.Status}}' "$name")" = exited ]
	prun "$1" rm "$name"
	run p ps -a --format '{{.Names}}'
	[[ "$output" != *"$name"* ]]
	assert_gone "$1" "$id"
}

@test "podman: run -d, exec with and without a tty, pause, stop, rm (brisk)" {
	scenario_exec_stop_rm brisk
}

@test "podman: run -d, exec with and without a tty, pause, stop, rm (runc)" {
	scenario_exec_stop_rm runc
}

@test "podman: brisk's error reaches podman's stderr" {
	run -127 prun brisk run --rm --network none "${ULIMITS[@]}" "$PM_IMAGE" /nonexistent
	echo "$output"
	[ "$status" -eq 127 ]
	[[ "$output" == *"exec: '/nonexistent': no such executable"* ]]
}

@test "podman: runc's error reaches podman's stderr (runc)" {
	run -127 prun runc run --rm --network none "${ULIMITS[@]}" "$PM_IMAGE" /nonexistent
	echo "$output"
	[ "$status" -eq 127 ]
	[[ "$output" == *'exec: "/nonexistent"'* ]]
}

@test "podman: a limit the host refuses is reported by brisk (no CAP_SYS_RESOURCE)" {
	local hard
	hard=$(ulimit -Hn)
	run prun brisk run --rm --network none --ulimit "nofile=$((hard + 1)):$((hard + 1))" \
		--ulimit nproc=1024:1024 "$PM_IMAGE" true
	echo "$output"
	if [ "$status" -eq 0 ]; then
		skip "this host lets the limit be raised"
	fi
	[[ "$output" == *"set rlimit"*"Operation not permitted"* ]]
}

# The app counts in memory, a tick every 0.1 s, and writes the count to /tmp/c (a rename, so a
# read never sees it half written): a restored app
# goes on from the checkpointed count, a new start would begin again at 1.
COUNTER='i=0; while :; do i=$((i + 1)); echo $i >/tmp/c.new; mv /tmp/c.new /tmp/c; sleep 0.1; done'

count_of() { # RUNTIME NAME
	prun "$1" exec "$2" cat /tmp/c
}

# A restore goes on from the count at the checkpoint: N was at least MIN half a second later.
assert_went_on() { # RUNTIME NAME MIN
	local n
	[ "$(p inspect --format '{{.State.Status}}' "$2")" = running ]
	sleep 0.5
	n=$(count_of "$1" "$2")
	echo "$2: $n, checkpointed at $3 or more"
	[ "$n" -ge "$3" ]
}

scenario_checkpoint() {
	local rt=$1 name=ck-$1 id n0
	id=$(prun "$rt" run -d --name "$name" --network none "${ULIMITS[@]}" "$PM_IMAGE" sh -c "$COUNTER")
	sleep 2
	n0=$(count_of "$rt" "$name")
	[ "$n0" -ge 5 ]
	# in place: the same container comes back
	prun "$rt" container checkpoint "$name"
	[ "$(p inspect --format '{{.State.Status}}' "$name")" = exited ]
	prun "$rt" container restore "$name"
	assert_went_on "$rt" "$name" "$n0"
	# exported, then imported twice under new names (podman's /run/.containerenv and
	# /etc/hostname binds have no target in the new containers' fresh rootfs)
	n0=$(count_of "$rt" "$name")
	prun "$rt" container checkpoint --export "$PM_DIR/ck-$rt.tar.gz" "$name"
	prun "$rt" container restore --import "$PM_DIR/ck-$rt.tar.gz" --name "$name-a"
	prun "$rt" container restore --import "$PM_DIR/ck-$rt.tar.gz" --name "$name-b"
	assert_went_on "$rt" "$name-a" "$n0"
	assert_went_on "$rt" "$name-b" "$n0"
	local a b
	a=$(p inspect --format '{{.Id}}' "$name-a")
	b=$(p inspect --format '{{.Id}}' "$name-b")
	prun "$rt" rm -f -t 0 "$name" "$name-a" "$name-b"
	for i in "$id" "$a" "$b"; do
		assert_gone "$rt" "$i"
	done
}

@test "podman: checkpoint and restore in place, export and import under two new names (brisk)" {
	scenario_checkpoint brisk
}

@test "podman: checkpoint and restore in place, export and import under two new names (runc)" {
	scenario_checkpoint runc
}
