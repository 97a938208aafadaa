#!/usr/bin/env bats
# Rootless: an unprivileged user made for the test runs a container from `spec --rootless`
# (user namespace mapping only its own uid and gid, no cgroups), as with runc and crun.

load helpers

setup() {
	require_root
	command -v useradd >/dev/null || skip "useradd is not installed"
	command -v setpriv >/dev/null || skip "setpriv is not installed"
	[ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 0)" -gt 0 ] ||
		skip "user namespaces are disabled (user.max_user_namespaces = 0)"
	if [ -e /proc/sys/kernel/unprivileged_userns_clone ] &&
		[ "$(cat /proc/sys/kernel/unprivileged_userns_clone)" = 0 ]; then
		skip "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0)"
	fi
	TEST_DIR=$(mktemp -d /tmp/brisk-rootless.XXXXXX)
	chmod 755 "$TEST_DIR"
	RUSER=brisk-rl$$
	useradd --home-dir "$TEST_DIR/home" --create-home --shell /bin/sh --user-group "$RUSER"
	RUID=$(id -u "$RUSER")
	RGID=$(id -g "$RUSER")
	BUNDLE=$TEST_DIR/home/bundle
	STATE_ROOT=$TEST_DIR/home/state
	# the user's own copy of brisk: the build tree may not be reachable for it
	cp "$BRISK" "$TEST_DIR/brisk"
	chmod 755 "$TEST_DIR/brisk"
	BRISK=$TEST_DIR/brisk
	as_user mkdir -p "$BUNDLE"
	make_rootless_bundle
}

teardown() {
	local id
	if [ -d "${STATE_ROOT:-}" ]; then
		for id in $(ls "$STATE_ROOT" 2>/dev/null); do
			as_user "$BRISK" --root "$STATE_ROOT" delete --force "$id" >/dev/null 2>&1 || true
		done
	fi
	if [ -n "${RUSER:-}" ]; then
		pkill -KILL -U "$RUID" 2>/dev/null || true
		userdel "$RUSER" 2>/dev/null || true
	fi
	if [ -n "${TEST_DIR:-}" ]; then
		grep "$TEST_DIR" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do
			umount -l "$m" 2>/dev/null || true
		done
		rm -rf "$TEST_DIR"
	fi
}

# as_user CMD...: run CMD as the test's user, in the bundle, with a user's environment
as_user() {
	(cd "${BUNDLE:-/}" 2>/dev/null || cd /
		exec setpriv --reuid="$RUID" --regid="$RGID" --init-groups --reset-env \
			env HOME="$TEST_DIR/home" XDG_RUNTIME_DIR= "$@")
}

ubrisk() {
	as_user "$BRISK" --root "$STATE_ROOT" "$@"
}

make_rootless_bundle() {
	local r=$BUNDLE/rootfs
	as_user mkdir -p "$r/bin" "$r/proc" "$r/sys" "$r/dev" "$r/etc" "$r/tmp" "$r/root"
	cp "$BUSYBOX" "$r/bin/busybox"
	chown "$RUID:$RGID" "$r/bin/busybox"
	as_user sh -c "cd '$r/bin' && for a in \$(./busybox --list); do [ -e \$a ] || ln -s busybox \$a; done"
	as_user sh -c "echo root:x:0:0:root:/root:/bin/sh > '$r/etc/passwd'; echo root:x:0: > '$r/etc/group'"
	as_user "$BRISK" spec --rootless
	as_user sh -c 'jq ".process.terminal = false | .root.readonly = false" config.json > c.tmp && mv c.tmp config.json'
}

uconfig() {
	as_user sh -c "jq '$1' config.json > c.tmp && mv c.tmp config.json"
}

@test "rootless: spec --rootless maps the user's own ids" {
	run as_user jq -c '.linux.uidMappings, .linux.gidMappings, [.linux.namespaces[].type]' config.json
	echo "$output"
	[ "${lines[0]}" = "[{\"containerID\":0,\"hostID\":$RUID,\"size\":1}]" ]
	[ "${lines[1]}" = "[{\"containerID\":0,\"hostID\":$RGID,\"size\":1}]" ]
	[[ "${lines[2]}" == *'"user"'* ]]
}

@test "rootless: an unprivileged user runs a container" {
	uconfig '.process.args = ["sh", "-c", "id -u; cat /proc/self/uid_map; hostname; echo ok > /tmp/x && cat /tmp/x"]'
	run ubrisk run "rl$$"
	echo "status $status: $output"
	# user namespaces are there (setup checked): a failure is brisk's
	[ "$status" -eq 0 ]
	# without cgroup delegation brisk warns on stderr ("brisk: ...: create cgroup ...")
	local out
	out=$(echo "$output" | grep -v '^brisk: ')
	[ "$(echo "$out" | sed -n 1p)" = 0 ]
	[[ "$(echo "$out" | sed -n 2p)" =~ ^\ +0\ +$RUID\ +1$ ]]
	[ "$(echo "$out" | tail -n 1)" = ok ]
	[ -z "$(ls -A "$STATE_ROOT")" ]
}

@test "rootless: create, start, state, kill, delete; the state dir is the user's and 0700" {
	uconfig '.process.args = ["sleep", "100"]'
	# not under `run`: the created init keeps create's stdout, and `run` would wait for it
	if ! ubrisk create "rl$$" </dev/null >"$TEST_DIR/create.log" 2>&1; then
		cat "$TEST_DIR/create.log"
		return 1
	fi
	[ "$(stat -c '%u %a' "$STATE_ROOT/rl$$")" = "$RUID 700" ]
	ubrisk start "rl$$"
	[ "$(ubrisk state "rl$$" | jq -r .status)" = running ]
	pid=$(ubrisk state "rl$$" | jq -r .pid)
	[ "$(stat -c %u /proc/"$pid")" = "$RUID" ]
	ubrisk kill "rl$$" KILL
	for i in $(seq 1 50); do
		[ "$(ubrisk state "rl$$" | jq -r .status)" = stopped ] && break
		sleep 0.1
	done
	ubrisk delete "rl$$"
	[ -z "$(ls -A "$STATE_ROOT")" ]
	if grep -q "$TEST_DIR" /proc/self/mountinfo; then echo "unexpected: this matched"; return 1; fi
}
