#!/usr/bin/env bats
# Faults: every fault point a good create or exec passes (BRISK_FAULT, debug builds) is made
# to fail in turn; each time the command must fail with the step's own message (or go on
# where the step is optional, saying so) and nothing may be left once `delete --force` ran.
# Then brisk is killed with SIGKILL at random moments of create, and `delete --force` must
# still leave nothing.

load helpers

bats_require_minimum_version 1.5.0

setup() {
	common_setup
	PFX=ft$$x
	# a hook of each create-time kind, a bind mount and a tmpfs, so that their steps are walked
	config '.hooks = {"prestart": [{"path": "/bin/true"}], "createRuntime": [{"path": "/bin/true"}]}'
	config ".mounts += [{\"destination\": \"/mnt\", \"type\": \"bind\", \"source\": \"$TEST_DIR\", \"options\": [\"rbind\", \"ro\"]}, {\"destination\": \"/run\", \"type\": \"tmpfs\", \"source\": \"tmpfs\"}]"
}
teardown() { common_teardown; }

# fault_enabled: this brisk was built with fault injection (a debug build)
fault_enabled() {
	local trace=$TEST_DIR/probe
	BRISK_FAULT_TRACE=$trace brisk create --bundle "$BUNDLE" ${PFX}probe >/dev/null 2>&1
	brisk delete --force ${PFX}probe >/dev/null 2>&1
	[ -s "$trace" ]
}

# passes FILE: the distinct "POINT N" lines of a trace, in order
passes() {
	awk '!seen[$0]++' "$1"
}

# expect_clean_failure ID RC ERRFILE POINT: the command failed with the step's message, or
# went on after an optional step that says it ignored the error
expect_clean_failure() {
	local id=$1 rc=$2 err=$3 point=$4
	if [ "$rc" = 0 ]; then
		grep -q "Input/output error, ignoring" "$err" || {
			echo "$point: the command succeeded although the step failed:"; cat "$err"; return 1
		}
	else
		grep -q "Input/output error" "$err" || {
			echo "$point: no message of the failed step:"; cat "$err"; return 1
		}
	fi
}

@test "create: each fault point fails cleanly and delete --force leaves nothing" {
	args /bin/true
	fault_enabled || skip "brisk is a release build: no fault injection"
	local trace=$TEST_DIR/trace
	BRISK_FAULT_TRACE=$trace brisk create --bundle "$BUNDLE" ${PFX}0
	brisk delete --force ${PFX}0
	assert_nothing_left

	local points
	points=$(awk '{print $1}' "$trace" | sort -u | tr '\n' ' ')
	echo "points passed: $points"
	local p
	for p in mount mknod namespace pivot-root cgroup-mkdir cgroup-write hook state-write; do
		[[ " $points " == *" $p "* ]] || { echo "create never passed fault point $p"; return 1; }
	done

	local n=0 point count rc
	while read -r point count; do
		n=$((n + 1))
		local id=${PFX}$n
		rc=0
		BRISK_FAULT=$point:$count brisk create --bundle "$BUNDLE" "$id" 2>"$TEST_DIR/err" || rc=$?
		expect_clean_failure "$id" "$rc" "$TEST_DIR/err" "$point:$count"
		if [ "$rc" != 0 ]; then
			# a failed create undoes itself: no state left to delete
			[ ! -e "$STATE_ROOT/$id" ] || { echo "$point:$count: state of $id left"; return 1; }
		fi
		brisk delete --force "$id"
		assert_nothing_left || { echo "after the fault $point:$count"; return 1; }
	done < <(passes "$trace")
	echo "walked $n fault passes"
	[ "$n" -ge 40 ]
}

@test "exec: each fault point fails cleanly and the container goes on" {
	args /bin/sleep 600
	fault_enabled || skip "brisk is a release build: no fault injection"
	brisk run -d --bundle "$BUNDLE" ${PFX}1 </dev/null >/dev/null 2>&1
	local trace=$TEST_DIR/trace
	BRISK_FAULT_TRACE=$trace brisk exec ${PFX}1 /bin/true
	[ -s "$trace" ]
	local point count rc n=0
	while read -r point count; do
		n=$((n + 1))
		rc=0
		BRISK_FAULT=$point:$count brisk exec ${PFX}1 /bin/true 2>"$TEST_DIR/err" || rc=$?
		expect_clean_failure ${PFX}1 "$rc" "$TEST_DIR/err" "$point:$count"
		# only the init is left in the container, and it still runs
		[ "$(brisk ps ${PFX}1 | grep -cv PID)" = 1 ] || { brisk ps ${PFX}1; return 1; }
		[ "$(state_field ${PFX}1 status)" = running ]
	done < <(passes "$trace")
	echo "walked $n fault passes"
	[ "$n" -ge 1 ]
	brisk delete --force ${PFX}1
	assert_nothing_left
}

@test "kill -9 of brisk at random moments of create, then delete --force: nothing left" {
	args /bin/sleep 600
	local i pid id
	for i in $(seq 1 60); do
		id=${PFX}k$i
		config ".linux.cgroupsPath = \"/$CGROUP_PARENT/$id\""
		"$BRISK" --root "$STATE_ROOT" create --bundle "$BUNDLE" "$id" >/dev/null 2>&1 &
		pid=$!
		# 0 to 40 ms: a create takes about 20-30 ms here
		sleep "0.0$((RANDOM % 40 / 10))$((RANDOM % 10))"
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		brisk delete --force "$id"
		assert_nothing_left || { echo "after create $i killed"; return 1; }
	done
}

# start_sleeper ID: a container CRIU can dump (its stdio is /dev/null), running
start_sleeper() {
	args /bin/sleep 600
	brisk run -d "$1" </dev/null >/dev/null 2>&1
	wait_status "$1" running
}

@test "criu: a failing CRIU call fails checkpoint and restore cleanly" {
	command -v criu >/dev/null || skip "criu is not installed"
	fault_enabled || skip "brisk is a release build: no fault injection"
	start_sleeper ${PFX}c
	run -1 env BRISK_FAULT=criu "$BRISK" --root "$STATE_ROOT" checkpoint --image-path "$TEST_DIR/img" ${PFX}c
	echo "$output"
	[[ "$output" == *criu* ]]
	# the container goes on as it was
	[ "$(state_field ${PFX}c status)" = running ]
	brisk checkpoint --image-path "$TEST_DIR/img" ${PFX}c
	brisk delete --force ${PFX}c
	assert_nothing_left
	# restore: the failed call leaves nothing of the new container
	config ".linux.cgroupsPath = \"/$CGROUP_PARENT/${PFX}r\""
	run -1 env BRISK_FAULT=criu "$BRISK" --root "$STATE_ROOT" restore -d --image-path "$TEST_DIR/img" ${PFX}r </dev/null
	echo "$output"
	[[ "$output" == *criu* ]]
	assert_nothing_left
}

@test "kill -9 of brisk at random moments of restore, then delete --force: nothing left" {
	command -v criu >/dev/null || skip "criu is not installed"
	start_sleeper ${PFX}c
	brisk checkpoint --image-path "$TEST_DIR/img" ${PFX}c
	brisk delete --force ${PFX}c
	local i pid id ms
	for i in $(seq 1 12); do
		id=${PFX}r$i
		config ".linux.cgroupsPath = \"/$CGROUP_PARENT/$id\""
		"$BRISK" --root "$STATE_ROOT" restore -d --image-path "$TEST_DIR/img" "$id" \
			</dev/null >/dev/null 2>&1 &
		pid=$!
		# a restore takes 0.3-0.6 s here: kill it anywhere in the first 0.5 s
		ms=$((RANDOM % 500))
		sleep "$((ms / 1000)).$(printf %03d $((ms % 1000)))"
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		brisk delete --force "$id"
		assert_nothing_left || { echo "after restore $i killed at $ms ms"; return 1; }
	done
}
