#!/usr/bin/env bats
# containerd 1.6 drives brisk through its io.containerd.runc.v2 shim, exactly as it drives runc:
# a private containerd (its own root, state and socket; CRI off) and an image built here.
# Every scenario runs with brisk and with runc.

load orchestrators

NS=brisk-test

setup_file() {
	[ "$(id -u)" = 0 ] || skip "needs root"
	command -v containerd >/dev/null && command -v ctr >/dev/null || skip "containerd is not installed"
	command -v umoci >/dev/null || skip "umoci is not installed"
	CTD_DIR=$(mktemp -d /tmp/brisk-containerd.XXXXXX)
	export CTD_DIR
	make_image "$CTD_DIR/image"
	cat >"$CTD_DIR/config.toml" <<-EOF
		version = 2
		root = "$CTD_DIR/root"
		state = "$CTD_DIR/state"
		disabled_plugins = ["io.containerd.grpc.v1.cri"]
		[grpc]
		  address = "$CTD_DIR/containerd.sock"
		[ttrpc]
		  address = "$CTD_DIR/containerd.sock.ttrpc"
		[plugins."io.containerd.internal.v1.opt"]
		  path = "$CTD_DIR/opt"
	EOF
	containerd --config "$CTD_DIR/config.toml" >"$CTD_DIR/containerd.log" 2>&1 &
	echo $! >"$CTD_DIR/containerd.pid"
	local i
	for i in $(seq 1 100); do
		ctr --address "$CTD_DIR/containerd.sock" version >/dev/null 2>&1 && break
		sleep 0.1
	done
	ctr --address "$CTD_DIR/containerd.sock" -n $NS images import --base-name brisk/busybox \
		"$CTD_DIR/image/image.tar"
}

teardown_file() {
	[ -n "${CTD_DIR:-}" ] || return 0
	local id
	for id in $(ctr --address "$CTD_DIR/containerd.sock" -n $NS containers ls -q 2>/dev/null); do
		cleanup_container "$id"
	done
	[ -f "$CTD_DIR/containerd.pid" ] && stop_pid "$(cat "$CTD_DIR/containerd.pid")"
	umount_under "$CTD_DIR"
	find /sys/fs/cgroup -maxdepth 2 -type d -name $NS -exec rmdir {} + 2>/dev/null || true
	rm -rf "$CTD_DIR"
}

c() {
	ctr --address "$CTD_DIR/containerd.sock" -n $NS "$@"
}

# crun RUNTIME [ctr run options...] ID ARGS...: ctr run with RUNTIME as the runc binary
crun() {
	local rt=$1
	shift
	c run --runc-binary "$(runtime_path "$rt")" --runc-root "$CTD_DIR/$rt-root" "$@"
}

cleanup_container() {
	c tasks kill -s KILL "$1" >/dev/null 2>&1 || true
	timeout 10 ctr --address "$CTD_DIR/containerd.sock" -n $NS tasks wait "$1" >/dev/null 2>&1 || true
	c tasks delete -f "$1" >/dev/null 2>&1 || true
	c containers delete "$1" >/dev/null 2>&1 || true
}

# task_status ID: RUNNING, PAUSED, STOPPED...
task_status() {
	c tasks ls | awk -v id="$1" '$1 == id { print $3 }'
}

wait_task_status() { # ID STATUS
	local i
	for i in $(seq 1 100); do
		[ "$(task_status "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	echo "task $1 is $(task_status "$1"), not $2"
	return 1
}

teardown() {
	[ -n "${CTD_DIR:-}" ] || return 0
	local id
	for id in $(c containers ls -q 2>/dev/null); do
		cleanup_container "$id"
	done
}

# Nothing of ID is left: no container state of the runtime, no mount, no cgroup.
assert_gone() { # RUNTIME ID
	if [ -e "$CTD_DIR/$1-root/$NS/$2" ]; then
		echo "runtime state of $2 left behind"
		return 1
	fi
	if grep -F "/$2/" /proc/self/mountinfo | grep -F "$CTD_DIR"; then
		echo "mounts of $2 left behind"
		return 1
	fi
	if cgroups_named "$2" | grep .; then
		echo "cgroups of $2 left behind"
		return 1
	fi
}

scenario_run_to_completion() {
	run crun "$1" --rm brisk/busybox:bb "run-$1" sh -c 'echo hello from $0; echo err >&2; exit 3' "$1"
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *"hello from $1"* ]]
	[[ "$output" == *err* ]]
	assert_gone "$1" "run-$1"
}

@test "containerd: run to completion, output and exit code (brisk)" {
	scenario_run_to_completion brisk
}

@test "containerd: run to completion, output and exit code (runc)" {
	scenario_run_to_completion runc
}

scenario_detached_kill() {
	local id=det-$1
	crun "$1" -d brisk/busybox:bb "$id" sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done'
	wait_task_status "$id" RUNNING
	c tasks kill "$id"
	run timeout 20 ctr --address "$CTD_DIR/containerd.sock" -n $NS tasks wait "$id"
	echo "$output"
	wait_task_status "$id" STOPPED
	[[ "$(c tasks ls)" == *"$id"* ]]
	c tasks delete "$id" | grep -q "7" || c tasks ls
	c containers delete "$id"
	assert_gone "$1" "$id"
}

@test "containerd: run detached, task kill, wait (brisk)" {
	scenario_detached_kill brisk
}

@test "containerd: run detached, task kill, wait (runc)" {
	scenario_detached_kill runc
}

scenario_exec() {
	local id=exec-$1
	crun "$1" -d brisk/busybox:bb "$id" sleep 1000
	run c tasks exec --exec-id e1 "$id" sh -c 'echo in exec; cat /proc/1/cmdline; echo; exit 5'
	echo "$output"
	[ "$status" -eq 5 ]
	[[ "$output" == *"in exec"* ]]
	# same pid namespace as the container: its pid 1 is the sleep
	[[ "$output" == *sleep1000* ]]
	# with a terminal (ctr needs one of its own: script gives it a pty)
	run timeout 20 script -qec "ctr --address $CTD_DIR/containerd.sock -n $NS tasks exec -t --exec-id e2 $id sh -c 'tty; exit 4'" /dev/null
	echo "$output"
	[ "$status" -eq 4 ]
	[[ "$output" == */dev/pts/* ]]
	# a detached exec shows up in the task's processes
	c tasks exec -d --exec-id e3 "$id" sleep 1000 || true
	run c tasks ps "$id"
	echo "$output"
	[ "${#lines[@]}" -ge 3 ]
	cleanup_container "$id"
	assert_gone "$1" "$id"
}

@test "containerd: task exec with and without a tty (brisk)" {
	scenario_exec brisk
}

@test "containerd: task exec with and without a tty (runc)" {
	scenario_exec runc
}

scenario_pause_update() {
	local id=pause-$1
	crun "$1" -d brisk/busybox:bb "$id" sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/n.t; mv /tmp/n.t /tmp/n; sleep 0.05; done'
	wait_task_status "$id" RUNNING
	c tasks pause "$id"
	wait_task_status "$id" PAUSED
	[ "$("$(runtime_path "$1")" --root "$CTD_DIR/$1-root/$NS" state "$id" | jq -r .status)" = paused ]
	local a b
	c tasks resume "$id"
	wait_task_status "$id" RUNNING
	a=$(c tasks exec --exec-id r2 "$id" cat /tmp/n)
	sleep 0.3
	b=$(c tasks exec --exec-id r3 "$id" cat /tmp/n)
	[ "$b" -gt "$a" ]
	# update as the shim calls it (ctr 1.6 has no command for it): resources JSON on stdin
	echo '{"memory":{"limit":67108864},"pids":{"limit":99}}' |
		"$(runtime_path "$1")" --root "$CTD_DIR/$1-root/$NS" update --resources - "$id"
	local f
	f=$(cgroups_named "$id" | grep /memory/ | head -1)
	[ -n "$f" ]
	[ "$(cat "$f/memory.limit_in_bytes")" = 67108864 ]
	f=$(cgroups_named "$id" | grep /pids/ | head -1)
	[ "$(cat "$f/pids.max")" = 99 ]
	cleanup_container "$id"
	assert_gone "$1" "$id"
}

@test "containerd: pause, resume, update --resources - (brisk)" {
	scenario_pause_update brisk
}

@test "containerd: pause, resume, update --resources - (runc)" {
	scenario_pause_update runc
}

@test "containerd: a failing create shows brisk's error verbatim" {
	run crun brisk --rm brisk/busybox:bb fail-brisk /nonexistent
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"OCI runtime create failed: create 'fail-brisk': exec: '/nonexistent': no such executable"* ]]
	[[ "$output" != *"unable to retrieve OCI runtime error"* ]]
	assert_gone brisk fail-brisk
}

@test "containerd: a failing create shows runc's error (runc)" {
	run crun runc --rm brisk/busybox:bb fail-runc /nonexistent
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *'exec: "/nonexistent"'* ]]
	assert_gone runc fail-runc
}

scenario_parallel() {
	local rt=$1 n=20 i pids=()
	for i in $(seq 1 $n); do
		timeout 120 ctr --address "$CTD_DIR/containerd.sock" -n $NS run -d \
			--runc-binary "$(runtime_path "$rt")" --runc-root "$CTD_DIR/$rt-root" \
			brisk/busybox:bb "par-$rt-$i" sleep 1000 &
		pids+=($!)
	done
	local failed=0
	for i in "${pids[@]}"; do
		wait "$i" || failed=$((failed + 1))
	done
	[ "$failed" -eq 0 ]
	for i in $(seq 1 $n); do
		wait_task_status "par-$rt-$i" RUNNING
	done
	[ "$(ls "$CTD_DIR/$rt-root/$NS" | wc -l)" -eq $n ]
	pids=()
	for i in $(seq 1 $n); do
		cleanup_container "par-$rt-$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
	for i in $(seq 1 $n); do
		assert_gone "$rt" "par-$rt-$i"
	done
	[ "$(ls "$CTD_DIR/$rt-root/$NS" | wc -l)" -eq 0 ]
	[ -z "$(c tasks ls -q)" ]
}

@test "containerd: 20 containers in parallel, all cleaned up (brisk)" {
	scenario_parallel brisk
}

@test "containerd: 20 containers in parallel, all cleaned up (runc)" {
	scenario_parallel runc
}

# containerd's checkpoint and restore as a migration does it: the task checkpointed into an
# image with its rw layer, the original removed, a new container restored from the image. The
# app counts in memory: the restored one goes on from the checkpointed count. (A restore while
# the original still runs shares its cgroup under runc; brisk refuses that with a message, and
# containerd 1.6 then keeps a task in CREATED that `tasks delete -f` waits on forever, with runc
# as with brisk after any failed restore.)
scenario_checkpoint() {
	local rt=$1 id=ck-$1 n0 n1
	crun "$rt" -d brisk/busybox:bb "$id" \
		sh -c 'i=0; while :; do i=$((i + 1)); echo $i >/tmp/c.new; mv /tmp/c.new /tmp/c; sleep 0.1; done'
	wait_task_status "$id" RUNNING
	sleep 2
	n0=$(c tasks exec --exec-id e1 "$id" cat /tmp/c)
	[ "$n0" -ge 5 ]
	c containers checkpoint --task --rw "$id" "brisk/ck-$rt:1"
	cleanup_container "$id"
	assert_gone "$rt" "$id"
	c containers restore --live --rw "$id-new" "brisk/ck-$rt:1"
	wait_task_status "$id-new" RUNNING
	sleep 0.5
	n1=$(c tasks exec --exec-id e2 "$id-new" cat /tmp/c)
	echo "checkpointed at $n0 or more, restored: $n1"
	[ "$n1" -ge "$n0" ]
	cleanup_container "$id-new"
	c images rm "brisk/ck-$rt:1" >/dev/null
	assert_gone "$rt" "$id-new"
}

@test "containerd: checkpoint --task, then restore --live under a new name (brisk)" {
	scenario_checkpoint brisk
}

@test "containerd: checkpoint --task, then restore --live under a new name (runc)" {
	scenario_checkpoint runc
}
