#!/usr/bin/env bats
# Load: many containers one after the other and many at once, then nothing may be left:
# mounts, cgroups (every v1 controller and the unified tree), state dirs, processes, and no
# fd of brisk's own reaching its children or piling up in a long-lived `run`.

load helpers

setup() {
	common_setup
	# ids unique to this run: cgroups are host-global
	PFX=st$$x
}
teardown() { common_teardown; }

# status ID: the container's status without spawning jq (this runs thousands of times)
status_of() {
	local s
	s=$("$BRISK" --root "$STATE_ROOT" state "$1" 2>/dev/null) || return 1
	[[ $s =~ \"status\":\ *\"([a-z]+)\" ]] && echo "${BASH_REMATCH[1]}"
}

wait_stopped() {
	local i
	for i in $(seq 1 200); do
		[ "$(status_of "$1")" = stopped ] && return 0
		sleep 0.01
	done
	echo "$1 never stopped"
	return 1
}


@test "1000 sequential create/start/kill/delete cycles leave nothing" {
	args sleep 1000
	local i id
	for i in $(seq 1 "${STRESS_CYCLES:-1000}"); do
		id=$PFX$i
		"$BRISK" --root "$STATE_ROOT" create "$id" || { echo "create #$i failed"; return 1; }
		"$BRISK" --root "$STATE_ROOT" start "$id" || { echo "start #$i failed"; return 1; }
		"$BRISK" --root "$STATE_ROOT" kill "$id" KILL || { echo "kill #$i failed"; return 1; }
		wait_stopped "$id"
		"$BRISK" --root "$STATE_ROOT" delete "$id" || { echo "delete #$i failed"; return 1; }
	done
	assert_nothing_left
}

@test "50 containers in parallel: all run, all go, nothing left" {
	args sleep 1000
	local i pids=()
	for i in $(seq 1 50); do
		"$BRISK" --root "$STATE_ROOT" run -d "$PFX$i" >"$TEST_DIR/run$i.log" 2>&1 &
		pids+=($!)
	done
	local bad=0
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { bad=1; cat "$TEST_DIR/run$((i + 1)).log"; }
	done
	[ "$bad" = 0 ]
	[ "$(brisk list -q | grep -c "^$PFX")" = 50 ]
	for i in $(seq 1 50); do
		[ "$(status_of "$PFX$i")" = running ] || { echo "$PFX$i not running"; return 1; }
	done
	# their pid namespaces are distinct: each init is pid 1 of its own
	[ "$(for i in $(seq 1 50); do readlink /proc/"$(state_field "$PFX$i" pid)"/ns/pid; done | sort -u | wc -l)" = 50 ]
	pids=()
	for i in $(seq 1 25); do
		"$BRISK" --root "$STATE_ROOT" delete --force "$PFX$i" &
		pids+=($!)
	done
	for i in $(seq 26 50); do
		("$BRISK" --root "$STATE_ROOT" kill "$PFX$i" KILL && wait_stopped "$PFX$i" &&
			"$BRISK" --root "$STATE_ROOT" delete "$PFX$i") &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i" || bad=1
	done
	[ "$bad" = 0 ]
	assert_nothing_left
}

# closed_exec CMD...: exec CMD with only fds 0-2 open (bats keeps others open for itself)
closed_exec() {
	local fd
	for fd in $(ls /proc/$BASHPID/fd); do
		[ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null
	done
	exec "$@"
}

# fd_targets PID: "fd -> target" for every fd above 2 of PID
fd_targets() {
	local fd t
	for fd in /proc/"$1"/fd/*; do
		[ "${fd##*/}" -gt 2 ] || continue
		t=$(readlink "$fd") || continue
		echo "${fd##*/} -> $t"
	done
}

@test "brisk's fds: none reach hooks or the container; a long-lived run holds only its own" {
	# a hook is brisk's child on the host: it inherits every fd brisk forgot to mark
	# close-on-exec
	cat >"$TEST_DIR/hook.sh" <<'HOOK'
#!/bin/sh
exec ls -l /proc/self/fd/ > "$(dirname "$0")/hook-fds.$1"
HOOK
	chmod +x "$TEST_DIR/hook.sh"
	h() { echo "[{\"path\": \"$TEST_DIR/hook.sh\", \"args\": [\"hook.sh\", \"$1\"]}]"; }
	config ".hooks = {\"prestart\": $(h prestart), \"createRuntime\": $(h createRuntime), \"poststart\": $(h poststart), \"poststop\": $(h poststop)}"
	args sh -c 'ls /proc/self/fd; sleep 2'
	(closed_exec "$BRISK" --root "$STATE_ROOT" run "${PFX}r" </dev/null >"$TEST_DIR/out" 2>&1) &
	local bpid=$!
	sleep 1
	local extra
	extra=$(fd_targets "$bpid")
	echo "run's own fds: $extra"
	# the state root (its lock) and anonymous inodes (signalfd, pidfd) only
	if echo "$extra" | grep -v -e "-> $STATE_ROOT" -e '-> anon_inode:' | grep -q .; then echo "unexpected: this matched"; return 1; fi
	[ "$(echo "$extra" | grep -c .)" -le 4 ]
	wait "$bpid"
	cat "$TEST_DIR/out"
	# the container's process: 0, 1, 2 and the fd ls opened on /proc/self/fd
	[ "$(head -n 4 "$TEST_DIR/out" | tr '\n' ' ')" = "0 1 2 3 " ]
	local k
	for k in prestart createRuntime poststart poststop; do
		cat "$TEST_DIR/hook-fds.$k"
		# ls's own: 0-2 and 3, the directory it lists
		[ "$(awk 'NF > 3 {print $(NF - 2)}' "$TEST_DIR/hook-fds.$k" | sort -n | tr '\n' ' ')" = "0 1 2 3 " ]
	done
	assert_nothing_left
}
