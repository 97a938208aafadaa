#!/usr/bin/env bats
# GPU snapshots against the fake CUDA driver (tests/gpu/fake-libcuda.c): brisk finds the
# CUDA processes of a container, locks and checkpoints them around the CRIU dump, brings
# them back on every failure, and restores them after a CRIU restore. The container runs
# two processes that the fake takes for CUDA processes (FAKE_CUDA=KEY in their
# environment); every driver call that changes a state lands in $FAKE_CUDA_LOG.

load helpers

setup() {
	common_setup
	export BRISK_LIBCUDA=$BUILD_ROOT/tests/gpu/fake-libcuda.so
	[ -f "$BRISK_LIBCUDA" ] || skip "brisk was built without GPU support (-Dgpu=disabled)"
	export FAKE_CUDA_DIR=$TEST_DIR/cuda FAKE_CUDA_LOG=$TEST_DIR/cuda.log
	mkdir -p "$FAKE_CUDA_DIR"
	IMG=$TEST_DIR/img
	# init (c1) and a child (c2), both CUDA processes for the fake; a third that is not
	config '.process.env += ["FAKE_CUDA=c1"]'
	args sh -c 'FAKE_CUDA=c2 sleep 1000 & FAKE_CUDA= sleep 1000 & exec sleep 1000'
}

teardown() {
	common_teardown
}

needs_criu() {
	command -v criu >/dev/null || skip "criu is not installed"
}

start() { # ID
	brisk run -d "$1" </dev/null >/dev/null 2>&1
	wait_status "$1" running
	# until sh has started both children and exec'd
	local i
	for i in $(seq 1 50); do
		[ "$(brisk ps "$1" 2>/dev/null | grep -c sleep)" = 3 ] && return 0
		sleep 0.1
	done
	brisk ps "$1"
	return 1
}

# restore_r1 [VAR=VALUE...]: restore the images as r1, its messages on stdout. The restored
# processes get fds 0-2 of the restore: files, never the pipe of bats' `run`, which would
# then wait for them to exit.
restore_r1() {
	local rc=0
	env "$@" timeout 60 "$BRISK" --root "$STATE_ROOT" restore -d --image-path "$IMG" r1 \
		</dev/null >"$TEST_DIR/r1.out" 2>"$TEST_DIR/r1.err" || rc=$?
	cat "$TEST_DIR/r1.err"
	return $rc
}

state_of() { # KEY: the fake's state, 0 running .. 3 failed
	cat "$FAKE_CUDA_DIR/$1" 2>/dev/null || echo 0
}

# calls_are LINE...: the fake's log, the two processes in either order (cgroup order):
# "%1" and "%2" stand for the process locked first and second.
calls_are() {
	local first second want got
	first=$(awk '$1 == "lock" { print $2; exit }' "$FAKE_CUDA_LOG")
	second=$([ "$first" = c1 ] && echo c2 || echo c1)
	want=$(printf '%s\n' "$@" | sed "s/%1/$first/; s/%2/$second/")
	got=$(cat "$FAKE_CUDA_LOG")
	if [ "$got" != "$want" ]; then
		echo "driver calls:"; echo "$got"; echo "expected:"; echo "$want"
		return 1
	fi
}

@test "features: GPU checkpoint and the driver version, or why not" {
	run brisk features
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.annotations["run.brisk.gpu.checkpoint.enabled"] == "true"'
	echo "$output" | jq -e '.annotations["run.brisk.gpu.driver.version"] == "12.8"'

	BRISK_LIBCUDA=$BUILD_ROOT/tests/gpu/fake-libcuda-old.so FAKE_CUDA_VERSION=12040 run brisk features
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.annotations["run.brisk.gpu.checkpoint.enabled"] == "false"'
	echo "$output" | jq -r '.annotations["run.brisk.gpu.checkpoint.reason"]' |
		grep -qx 'CUDA driver 12.4 has no checkpoint API (needs >= 12.8 / driver 570)'

	if [ ! -e /dev/nvidiactl ]; then
		BRISK_LIBCUDA= run brisk features
		[ "$status" -eq 0 ]
		echo "$output" | jq -r '.annotations["run.brisk.gpu.checkpoint.reason"]' |
			grep -qx 'no NVIDIA driver (no /dev/nvidiactl)'
	fi

	BRISK_LIBCUDA=$TEST_DIR/none/libcuda.so.1 run brisk features
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.annotations["run.brisk.gpu.checkpoint.enabled"] == "false"'
	echo "$output" | jq -r '.annotations["run.brisk.gpu.checkpoint.reason"]' | grep -q "^no CUDA driver: .*none/libcuda.so.1"
}

@test "checkpoint: a failed lock unlocks the processes already locked, the container runs on" {
	needs_criu
	start g1
	FAKE_CUDA_FAIL=lock:c2 run brisk checkpoint --image-path "$IMG" g1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"checkpoint the CUDA processes: cuCheckpointProcessLock("*"): CUDA_ERROR_UNKNOWN (999) (the container runs on)"* ]]
	if [ "$(head -1 "$FAKE_CUDA_LOG")" = "lock c1 timeout=10000" ]; then
		calls_are "lock c1 timeout=10000" "lock c2 timeout=10000" "unlock c1"
	else
		calls_are "lock c2 timeout=10000"
	fi
	[ "$(state_of c1)" = 0 ] && [ "$(state_of c2)" = 0 ]
	[ "$(state_field g1 status)" = running ]
	[ ! -e "$IMG/brisk-snapshot.json" ]
}

@test "checkpoint: a failed device checkpoint brings every process back, in reverse order" {
	needs_criu
	start g1
	# the checkpoint of the second process fails: the first one is restored, both unlocked
	FAKE_CUDA_FAIL=lock brisk checkpoint --image-path "$IMG" g1 2>/dev/null || true
	first=$(awk '{print $2; exit}' "$FAKE_CUDA_LOG")
	second=$([ "$first" = c1 ] && echo c2 || echo c1)
	rm -f "$FAKE_CUDA_LOG"
	FAKE_CUDA_FAIL=checkpoint:$second run brisk checkpoint --image-path "$IMG" g1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"cuCheckpointProcessCheckpoint("*"): CUDA_ERROR_UNKNOWN (999)"* ]]
	calls_are "lock %1 timeout=10000" "lock %2 timeout=10000" "checkpoint %1" "checkpoint %2" \
		init "restore %1" "unlock %2" "unlock %1"
	[ "$(state_of c1)" = 0 ] && [ "$(state_of c2)" = 0 ]
	[ "$(state_field g1 status)" = running ]
}

@test "checkpoint: a lock that times out (a CUDA call that never ends) fails in time, the container runs on" {
	needs_criu
	start g1
	SECONDS=0
	FAKE_CUDA_HANG=c1 run brisk checkpoint --cuda-lock-timeout 300 --image-path "$IMG" g1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"cuCheckpointProcessLock("*"): CUDA_ERROR_TIMEOUT (909)"* ]]
	grep -qx "lock c1 timeout=300" "$FAKE_CUDA_LOG"
	[ "$(state_of c1)" = 0 ] && [ "$(state_of c2)" = 0 ]
	[ "$(state_field g1 status)" = running ]
	run brisk checkpoint --cuda-lock-timeout -5 --image-path "$IMG" g1
	[ "$status" -ne 0 ]
	[[ "$output" == *"--cuda-lock-timeout: '-5' is not a positive number of milliseconds"* ]]
}

@test "checkpoint: a failed CRIU dump brings the CUDA processes back" {
	needs_criu
	start g1
	# nothing listens on port 1: CRIU fails after the devices were checkpointed
	run brisk checkpoint --page-server 127.0.0.1:1 --image-path "$IMG" g1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"criu dump failed"* ]]
	calls_are "lock %1 timeout=10000" "lock %2 timeout=10000" "checkpoint %1" "checkpoint %2" \
		init "restore %2" "restore %1" "unlock %2" "unlock %1"
	[ "$(state_of c1)" = 0 ] && [ "$(state_of c2)" = 0 ]
	[ "$(state_field g1 status)" = running ]
	[ ! -e "$IMG/brisk-snapshot.json" ]
}

@test "checkpoint: a paused container with CUDA processes is refused" {
	needs_criu
	start g1
	brisk pause g1
	run brisk checkpoint --image-path "$IMG" g1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"the container is paused, and its CUDA processes must run to be checkpointed: resume it first"* ]]
	[ ! -e "$FAKE_CUDA_LOG" ]
	brisk resume g1
	[ "$(state_field g1 status)" = running ]
}

@test "checkpoint --leave-running: devices checkpointed, dumped, restored and unlocked" {
	needs_criu
	start g1
	run brisk checkpoint --leave-running --image-path "$IMG" g1
	echo "$output"
	[ "$status" -eq 0 ]
	calls_are "lock %1 timeout=10000" "lock %2 timeout=10000" "checkpoint %1" "checkpoint %2" \
		init "restore %2" "restore %1" "unlock %2" "unlock %1"
	[ "$(state_of c1)" = 0 ] && [ "$(state_of c2)" = 0 ]
	[ "$(state_field g1 status)" = running ]
	# the CUDA processes, numbered as in the container (its init is 1)
	jq -e '.cudaPids | length == 2 and (index(1) != null)' "$IMG/brisk-snapshot.json"
}

@test "checkpoint, then restore under a new id: the CUDA processes come back and are unlocked" {
	needs_criu
	start g1
	# the default image path, relative to the working directory
	mkdir "$TEST_DIR/cwd"
	cd "$TEST_DIR/cwd"
	run brisk checkpoint g1
	cd "$BUNDLE"
	mv "$TEST_DIR/cwd/checkpoint" "$IMG"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(state_of c1)" = 2 ] && [ "$(state_of c2)" = 2 ]
	rm -f "$FAKE_CUDA_LOG"
	run restore_r1
	echo "$output"
	[ "$status" -eq 0 ]
	# the restore runs in reverse order of the pids recorded (init first)
	[ "$(grep -c . "$FAKE_CUDA_LOG")" = 5 ]
	[ "$(head -1 "$FAKE_CUDA_LOG")" = init ]
	[ "$(sed -n '2,3p' "$FAKE_CUDA_LOG" | sort | tr '\n' ' ')" = "restore c1 restore c2 " ]
	[ "$(sed -n '4,5p' "$FAKE_CUDA_LOG" | sort | tr '\n' ' ')" = "unlock c1 unlock c2 " ]
	[ "$(state_of c1)" = 0 ] && [ "$(state_of c2)" = 0 ]
	[ "$(state_field r1 status)" = running ]
	brisk delete --force r1
	assert_no_leaks r1
}

@test "restore: a CUDA restore failure fails the restore and leaves nothing behind" {
	needs_criu
	start g1
	run brisk checkpoint --image-path "$IMG" g1
	[ "$status" -eq 0 ]
	run restore_r1 FAKE_CUDA_FAIL=restore:c1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"restore the CUDA processes: cuCheckpointProcessRestore("*"): CUDA_ERROR_UNKNOWN (999)"* ]]
	assert_no_leaks r1
}

@test "restore: a checkpoint of CUDA processes needs a driver with the checkpoint API" {
	needs_criu
	start g1
	run brisk checkpoint --image-path "$IMG" g1
	[ "$status" -eq 0 ]
	BRISK_LIBCUDA=$BUILD_ROOT/tests/gpu/fake-libcuda-old.so FAKE_CUDA_VERSION=12040 \
		run restore_r1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"the checkpoint has CUDA processes and CUDA driver 12.4 has no checkpoint API (needs >= 12.8 / driver 570)"* ]]
	assert_no_leaks r1
}

@test "checkpoint: no CUDA driver on the host, a container that does not map one is dumped as before" {
	needs_criu
	start g1
	# no /dev/nvidiactl here: the driver is not even looked for
	[ -e /dev/nvidiactl ] && skip "this host has an NVIDIA driver"
	BRISK_LIBCUDA= run brisk checkpoint --leave-running --image-path "$IMG" g1
	echo "$output"
	[ "$status" -eq 0 ]
	[ ! -e "$FAKE_CUDA_LOG" ]
	jq -e 'has("cudaPids") | not' "$IMG/brisk-snapshot.json"
	# a driver library that is not there: the same
	rm -rf "$IMG"
	BRISK_LIBCUDA=$TEST_DIR/none/libcuda.so.1 run brisk checkpoint --leave-running --image-path "$IMG" g1
	echo "$output"
	[ "$status" -eq 0 ]
	jq -e 'has("cudaPids") | not' "$IMG/brisk-snapshot.json"
	[ "$(state_field g1 status)" = running ]
}

@test "checkpoint --leave-running: the dump is good but a process cannot be unlocked: images kept, error" {
	needs_criu
	start g1
	FAKE_CUDA_FAIL=unlock:c1 run brisk checkpoint --leave-running --image-path "$IMG" g1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"the checkpoint is complete, but bringing the CUDA processes back failed: cuCheckpointProcessUnlock("*"): CUDA_ERROR_UNKNOWN (999)"* ]]
	[ -f "$IMG/brisk-snapshot.json" ]
	[ "$(state_of c1)" = 1 ] && [ "$(state_of c2)" = 0 ]
	[ "$(state_field g1 status)" = running ]
}
