#!/usr/bin/env bats
# The container lifecycle and the behaviour orchestrators depend on.

load helpers

setup() { common_setup; }
teardown() { common_teardown; }

@test "run passes the exit status through" {
	args sh -c 'echo out; echo err >&2; exit 42'
	run brisk run c1
	[ "$status" -eq 42 ]
	[[ "$output" == *out* ]]
	[[ "$output" == *err* ]]
	assert_no_leaks c1
}

@test "create, start, state, kill, delete" {
	args sleep 100
	brisk create --pid-file "$TEST_DIR/pid" c1
	[ "$(state_field c1 status)" = created ]
	pid=$(cat "$TEST_DIR/pid")
	# digits only, no newline (containerd parses it with Atoi)
	[[ "$(cat "$TEST_DIR/pid"; echo x)" =~ ^[0-9]+x$ ]]
	[ "$(state_field c1 pid)" = "$pid" ]
	[ "$(state_field c1 bundle)" = "$BUNDLE" ]
	[ "$(state_field c1 rootfs)" = "$BUNDLE/rootfs" ]
	# the init is not running the program yet
	[[ "$(cat /proc/$pid/cmdline | tr '\0' ' ')" != sleep* ]]
	brisk start c1
	[ "$(state_field c1 status)" = running ]
	[[ "$(cat /proc/$pid/cmdline | tr '\0' ' ')" == "sleep 100 " ]]
	run brisk start c1
	[ "$status" -ne 0 ]
	run brisk delete c1
	[ "$status" -ne 0 ]
	[[ "$output" == *"not stopped"* ]]
	brisk kill c1 KILL
	wait_status c1 stopped
	run brisk kill c1 TERM
	[ "$status" -ne 0 ]
	[[ "$output" == *"container not running"* ]]
	brisk delete c1
	assert_no_leaks c1
}

@test "signals by name and number; kill --all" {
	args sh -c 'trap "exit 7" USR1; sleep 100 & wait'
	brisk create c1
	brisk start c1
	sleep 0.3
	brisk kill c1 SIGUSR1
	wait_status c1 stopped
	brisk delete c1
	args sleep 100
	brisk run -d c2
	brisk kill --all c2 9
	wait_status c2 stopped
	run brisk kill c2 NOSUCHSIG
	[ "$status" -ne 0 ]
	[[ "$output" == *"unknown signal 'NOSUCHSIG'"* ]]
	brisk delete c2
}

@test "delete of a created container, and delete --force of a running one" {
	args sleep 100
	brisk create c1
	brisk delete c1
	assert_no_leaks c1
	brisk run --detach c2
	pid=$(state_field c2 pid)
	brisk delete --force c2
	[ ! -d /proc/$pid ] || [ "$(awk '{print $3}' /proc/$pid/stat)" = Z ]
	assert_no_leaks c2
}

@test "missing containers: does not exist; delete --force exits 0" {
	run brisk state nope
	[ "$status" -ne 0 ]
	[[ "$output" == *"does not exist"* ]]
	run brisk kill nope
	[[ "$output" == *"does not exist"* ]]
	run brisk start nope
	[[ "$output" == *"does not exist"* ]]
	run brisk delete nope
	[ "$status" -ne 0 ]
	brisk delete --force nope
}

@test "a duplicate id is refused and leaves the first container alone" {
	args sleep 100
	brisk create c1
	run brisk create c1
	[ "$status" -ne 0 ]
	[[ "$output" == *"already exists"* ]]
	[ "$(state_field c1 status)" = created ]
}

@test "errors go to the JSON log as one decodable line, last error names the cause" {
	args /no/such/program
	run "$BRISK" --root "$STATE_ROOT" --log "$TEST_DIR/log.json" --log-format json create c1
	[ "$status" -ne 0 ]
	[[ "$output" == *"/no/such/program"* ]]
	# every line decodes; the last error is self-contained
	jq -e . "$TEST_DIR/log.json" >/dev/null
	msg=$(jq -r 'select(.level == "error") | .msg' "$TEST_DIR/log.json" | tail -1)
	[[ "$msg" == "create 'c1': exec: '/no/such/program'"* ]]
	jq -e '.time | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$")' "$TEST_DIR/log.json"
	assert_no_leaks c1
}

@test "a failed create leaves nothing behind" {
	config '.mounts += [{"destination": "/mnt", "type": "bind", "source": "/no/such/dir", "options": ["bind"]}]'
	run brisk create c1
	[ "$status" -ne 0 ]
	[[ "$output" == *"/no/such/dir"* ]]
	assert_no_leaks c1
}

@test "invalid config.json names the field" {
	config '.process.args = []'
	run brisk create c1
	[ "$status" -ne 0 ]
	[[ "$output" == *"process.args"* ]]
	echo '{"ociVersion": "1.0.0", ' >"$BUNDLE/config.json"
	run brisk create c1
	[[ "$output" == *"not valid JSON"* ]]
	assert_no_leaks c1
}

@test "invalid ids are refused" {
	run brisk create ../escape
	[ "$status" -ne 0 ]
	[[ "$output" == *"invalid container id"* ]]
	[ ! -e "$TEST_DIR/escape" ]
}

@test "list and ps" {
	args sleep 100
	brisk run -d c1
	brisk list | grep -q '^c1 .*running'
	[ "$(brisk list -q)" = c1 ]
	[ "$(brisk list --format json | jq -r '.[0].id')" = c1 ]
	pid=$(state_field c1 pid)
	[ "$(brisk ps --format json c1 | jq -r '.[0]')" = "$pid" ]
	brisk ps c1 | grep -q "sleep 100"
}

@test "every command answers --help with exit 0; --version" {
	for c in create start run state kill delete list ps spec features; do
		"$BRISK" $c --help >/dev/null
	done
	"$BRISK" --version | grep -q "brisk version"
	"$BRISK" --help | grep -q create
}

@test "flags: --flag=value, -flag value, --root=DIR" {
	args true
	"$BRISK" --root="$STATE_ROOT" run -bundle "$BUNDLE" c1
	"$BRISK" -root "$STATE_ROOT" run --bundle="$BUNDLE" c2
}

@test "spec writes a valid default config; --rootless adds a user namespace" {
	d=$TEST_DIR/spec
	mkdir -p "$d"
	"$BRISK" spec --bundle "$d"
	jq -e '.process.args == ["sh"] and .root.path == "rootfs"' "$d/config.json"
	run "$BRISK" spec --bundle "$d"
	[ "$status" -ne 0 ]
	rm "$d/config.json"
	"$BRISK" spec --rootless -b "$d"
	jq -e '[.linux.namespaces[].type] | index("user")' "$d/config.json"
	jq -e '.linux.uidMappings[0].size == 1' "$d/config.json"
}

@test "features is runc-shaped JSON" {
	"$BRISK" features | jq -e '.ociVersionMax and (.hooks | index("poststop")) and (.mountOptions | index("rro")) and (.linux.namespaces | index("time")) and (.linux.capabilities | index("CAP_SYS_ADMIN")) and (.linux.seccomp.actions | index("SCMP_ACT_NOTIFY"))'
}

@test "--systemd-cgroup without systemd is a clear error" {
	if [ -d /run/systemd/system ]; then
		skip "systemd is running here"
	fi
	args true
	run "$BRISK" --root "$STATE_ROOT" --systemd-cgroup run c1
	[ "$status" -ne 0 ]
	[[ "$output" == *"systemd is not running"* ]]
}
