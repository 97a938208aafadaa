#!/usr/bin/env bats
# A snapshot is untrusted input (it is pulled from a registry): whoever wrote it may have edited
# CRIU's images or brisk-snapshot.json. Each test tampers with a real checkpoint as such an
# attacker would, and checks that the restore (or the pull) refuses it with a clear error and
# leaves nothing behind: no state, mount, cgroup or process, and no restored code ever ran.

load ../helpers
load snapshot-helpers

setup() {
	snapshot_setup
	CRIU_IMAGE=$SOURCE_ROOT/tests/integration/snapshot/criu-image.py
}

teardown() { snapshot_teardown; }

# tamper FILE... CODE: run the Python CODE on each entry `e` of the CRIU images FILE...
# (pycriu of CRIU 4, which tools/setup installs; the test skips without it)
tamper() {
	local code=${!#} f rc
	for f in "${@:1:$#-1}"; do
		rc=0
		"$CRIU_IMAGE" edit "$f" "$code" || rc=$?
		[ "$rc" -ne 77 ] || skip "pycriu of CRIU 4 is not installed (tools/setup installs it)"
		[ "$rc" -eq 0 ] || return "$rc"
	done
}

# refused ID TEXT: a restore of $IMG as ID fails, saying TEXT, and leaves nothing
refused() {
	run restore "$1"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"$2"* ]] || { echo "expected: $2"; return 1; }
	assert_no_leaks "$1"
	[ -z "$(cgroup_dirs_of "$1")" ]
}

cgroup_dirs_of() { # ID
	find /sys/fs/cgroup -maxdepth 5 -type d -path "*/$CGROUP_PARENT/$1" 2>/dev/null
}

# The container counts, a directory a beat, on a bind mount of the host's (no file stays open:
# CRIU would check its size); a tampered tree that ran, even for a moment, would count on.
start_beat() { # ID
	mkdir -p "$TEST_DIR/beat" "$BUNDLE/rootfs/beat"
	config ".mounts += [{\"destination\": \"/beat\", \"type\": \"bind\",
		\"source\": \"$TEST_DIR/beat\", \"options\": [\"rbind\"]}]"
	args sh -c 'echo READY; while :; do n=$((n + 1)); mkdir /beat/$$.$n; usleep 5000; done'
	start_zdtm "$1"
}
beats() { ls "$TEST_DIR/beat" | wc -l; }

# the restorer's bounding set as CRIU's creds_entry holds it: [low 32 bits, high 32 bits]
RAISE_CAPS='b = int(open("/proc/self/status").read().split("CapBnd:")[1].split()[0], 16)
c = e["thread_core"]["creds"]
c["cap_eff"] = c["cap_prm"] = c["cap_bnd"] = c["cap_inh"] = [b & 0xffffffff, b >> 32]'

@test "trust: capabilities raised in the images: refused before the tree runs, nothing left" {
	start_beat c1
	brisk checkpoint --image-path "$IMG" c1
	# the same images restore as they are, and count on
	beat=$(beats)
	restore r0
	sleep 0.2
	brisk delete --force r0
	assert_no_leaks r0
	[ "$(beats)" -gt "$beat" ]
	beat=$(beats)
	tamper "$IMG"/core-*.img "$RAISE_CAPS"
	refused r1 "holds what the bundle does not give"
	[[ "$output" == *"CAP_SYS_ADMIN"* && "$output" == *"beyond the bundle's process.capabilities."* ]]
	[[ "$output" == *"the restored tree is killed"* ]]
	sleep 0.2
	[ "$(beats)" = "$beat" ]
}

@test "trust: no_new_privs cleared in the images: refused" {
	jq -e '.process.noNewPrivileges == true' "$BUNDLE/config.json"
	start_zdtm c1
	brisk checkpoint --image-path "$IMG" c1
	tamper "$IMG"/core-*.img 'e["thread_core"]["creds"]["no_new_privs"] = 0'
	refused r1 "no_new_privs unset, the bundle's process.noNewPrivileges is true"
}

@test "trust: seccomp cleared in the images: refused" {
	config '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
		{"names": ["mknod", "mknodat"], "action": "SCMP_ACT_ERRNO"}]}'
	start_zdtm c1
	grep -q '^Seccomp:.2' "/proc/$(state_field c1 pid)/status"
	brisk checkpoint --image-path "$IMG" c1
	restore r0
	grep -q '^Seccomp:.2' "/proc/$(state_field r0 pid)/status"
	check_pass r0
	brisk delete --force r0
	# one thread of the tree is enough
	t=$(ls "$IMG"/core-*.img | tail -1)
	tamper "$t" 'e["thread_core"]["seccomp_mode"] = "disabled"; e["thread_core"].pop("seccomp_filter", None)'
	refused r1 "no seccomp filter, the bundle's linux.seccomp installs 1"
}

# a filter of seccomp.img rewritten: each of the filter's instructions, as bytes
SECCOMP_FILTER='import base64, struct
f = e["seccomp_filters"][0]
b = base64.b64decode(f["filter"])'

@test "trust: the seccomp filter replaced in the images: refused, the filter compared whole" {
	config '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
		{"names": ["mknod", "mknodat"], "action": "SCMP_ACT_ERRNO"}]}'
	start_zdtm c1
	brisk checkpoint --image-path "$IMG" c1
	cp -a "$IMG" "$TEST_DIR/img.orig"
	# one instruction that allows everything, in the place of the bundle's filter
	tamper "$IMG/seccomp.img" "$SECCOMP_FILTER"'
f["filter"] = base64.b64encode(struct.pack("<HBBI", 0x06, 0, 0, 0x7fff0000)).decode()'
	refused r1 "a seccomp filter of 1 instructions in the place of the bundle's linux.seccomp"
	# the same length, the bundle's EPERM answer turned into "allow"
	rm -rf "$IMG" && cp -a "$TEST_DIR/img.orig" "$IMG"
	tamper "$IMG/seccomp.img" "$SECCOMP_FILTER"'
eperm, allow = struct.pack("<I", 0x00050001), struct.pack("<I", 0x7fff0000)
assert eperm in b, "no SCMP_ACT_ERRNO(EPERM) in the filter"
f["filter"] = base64.b64encode(b.replace(eperm, allow)).decode()'
	refused r2 "a seccomp filter that is not the bundle's linux.seccomp (they differ at instruction"
	# and the untouched images still restore
	rm -rf "$IMG" && cp -a "$TEST_DIR/img.orig" "$IMG"
	restore r0
	check_pass r0
}

@test "trust: a hard rlimit raised in the images: refused" {
	config '.process.rlimits = [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]'
	start_zdtm c1
	brisk checkpoint --image-path "$IMG" c1
	# RLIMIT_NOFILE is resource 7
	tamper "$IMG"/core-*.img 'if "tc" in e: e["tc"]["rlimits"]["rlimits"][7]["max"] = 4096'
	refused r1 "a hard RLIMIT_NOFILE of 4096, the bundle's process.rlimits give 1024"
}

@test "trust: an LSM the bundle asks for and the host lacks: refused, as create refuses it" {
	[ ! -e /sys/module/apparmor/parameters/enabled ] ||
		[ "$(cat /sys/module/apparmor/parameters/enabled)" != Y ] ||
		skip "AppArmor is enabled on this host"
	start_zdtm c1
	brisk checkpoint --image-path "$IMG" c1
	config '.process.apparmorProfile = "brisk-test"'
	refused r1 "apparmor profile 'brisk-test' requested but AppArmor is not enabled on this host"
}

@test "trust: a uid changed in the images: refused" {
	start_zdtm c1
	brisk checkpoint --image-path "$IMG" c1
	tamper "$IMG"/core-*.img 'c = e["thread_core"]["creds"]
for k in ("uid", "euid", "suid", "fsuid"): c[k] = 1000'
	refused r1 "uid 1000, the bundle's process.user.uid is 0"
}

# as_bundle: brisk-snapshot.json's copy of the config made the bundle's, as an attacker who
# wants the restore to reach CRIU would make it
as_bundle() {
	jq --slurpfile c "$BUNDLE/config.json" '.config = $c[0]' "$IMG/brisk-snapshot.json" \
		>"$TEST_DIR/meta" && cp "$TEST_DIR/meta" "$IMG/brisk-snapshot.json"
}

@test "trust: a bundle whose user is not the checkpoint's: refused, naming both" {
	start_zdtm c1
	brisk checkpoint --image-path "$IMG" c1
	config '.process.user.uid = 1000 | .process.user.gid = 1000'
	refused r1 "the bundle's process.user (uid 1000, gid 1000) is not the checkpoint's (uid 0, gid 0)"
	# the checkpoint's description says what the bundle says: CRIU's tree still is uid 0
	as_bundle
	refused r1 "uid 0, the bundle's process.user.uid is 1000"
}

@test "trust: a bundle that asks for a user namespace the checkpoint has not: refused" {
	start_zdtm c1
	brisk checkpoint --image-path "$IMG" c1
	config '.linux.namespaces += [{"type": "user"}] |
		.linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}] |
		.linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
	refused r1 "the bundle's linux.namespaces ("
	[[ "$output" == *"user"*") are not the checkpoint's ("* ]]
	as_bundle
	refused r1 "the host's user namespace, the bundle's linux.namespaces asks for a new one"
}

@test "trust: namespaces the bundle does not ask for: refused" {
	start_zdtm c1
	brisk checkpoint --image-path "$IMG" c1
	config '.linux.namespaces |= map(select(.type != "uts"))'
	refused r1 "the bundle's linux.namespaces ("
	as_bundle
	refused r1 "a uts namespace of its own, which the bundle's linux.namespaces does not ask for"
}

# mount_edit IMG MOUNTPOINT CODE: run CODE on the mount entry `e` of MOUNTPOINT in the images
mount_edit() {
	tamper "$1"/mountpoints-*.img "if e['mountpoint'] == '$2':
	$3"
}

@test "trust: a read-only bind made writable in the images: refused, the host's files untouched" {
	mkdir -p "$TEST_DIR/host-ro" "$BUNDLE/rootfs/ro"
	echo host >"$TEST_DIR/host-ro/f"
	config ".mounts += [{\"destination\": \"/ro\", \"type\": \"bind\",
		\"source\": \"$TEST_DIR/host-ro\", \"options\": [\"rbind\", \"ro\"]}]"
	start_zdtm c1
	run brisk exec c1 sh -c 'echo x >/ro/f'
	[ "$status" -ne 0 ]
	brisk checkpoint --image-path "$IMG" c1
	mount_edit "$IMG" /ro 'e["flags"] &= ~1'
	refused r1 "the mount on '/ro' is not read-only, as the bundle's mounts makes it"
	[ "$(cat "$TEST_DIR/host-ro/f")" = host ]
}

@test "trust: a bind of another source of the bundle in the images: refused" {
	mkdir -p "$TEST_DIR/a" "$TEST_DIR/b" "$BUNDLE/rootfs/a" "$BUNDLE/rootfs/b"
	config ".mounts += [{\"destination\": \"/a\", \"type\": \"bind\",
		\"source\": \"$TEST_DIR/a\", \"options\": [\"rbind\", \"ro\"]},
		{\"destination\": \"/b\", \"type\": \"bind\",
		\"source\": \"$TEST_DIR/b\", \"options\": [\"rbind\"]}]"
	start_zdtm c1
	brisk checkpoint --image-path "$IMG" c1
	# /a (read-only in the bundle) gets b's source, writable
	mount_edit "$IMG" /a 'e["ext_key"] = "/b"; e["flags"] &= ~1'
	refused r1 "the mount on '/a'"
}

@test "trust: a masked path unmasked, a read-only one made writable in the images: refused" {
	[ -e /proc/keys ] || skip "no /proc/keys on this kernel"
	jq -e '.linux.maskedPaths | index("/proc/keys")' "$BUNDLE/config.json"
	start_zdtm c1
	brisk checkpoint --image-path "$IMG" c1
	cp -a "$IMG" "$TEST_DIR/img.orig"
	mount_edit "$IMG" /proc/keys 'e["_drop"] = True'
	refused r1 "no mount on '/proc/keys', which the bundle's linux.maskedPaths masks"
	rm -rf "$IMG" && cp -a "$TEST_DIR/img.orig" "$IMG"
	mount_edit "$IMG" /proc/sys 'e["flags"] &= ~1'
	refused r1 "the mount on '/proc/sys' is not read-only, as the bundle's linux.readonlyPaths makes it"
}

# The attack of the issue: a writable device cgroup lets the container allow itself every
# device ("a *:* rwm").
@test "trust: the cgroup hierarchies made writable in the images: refused" {
	[ ! -e /sys/fs/cgroup/cgroup.controllers ] || skip "cgroup v2 only: no v1 hierarchies in the container"
	start_zdtm c1
	brisk exec c1 ls /sys/fs/cgroup/devices/devices.allow
	brisk checkpoint --image-path "$IMG" c1
	mount_edit "$IMG" /sys/fs/cgroup/devices 'e["flags"] &= ~1'
	refused r1 "the mount on '/sys/fs/cgroup/devices' is not read-only, as the bundle's mounts makes it"
}

# dev_tree JQ: edit the /dev tree of brisk-snapshot.json with JQ
dev_tree() {
	jq "(.tmpfsTrees[] | select(.destination == \"/dev\")) |= ($1)" "$IMG/brisk-snapshot.json" \
		>"$TEST_DIR/meta" && cp "$TEST_DIR/meta" "$IMG/brisk-snapshot.json"
}

@test "trust: the /dev tree of brisk-snapshot.json makes only the bundle's devices, never setuid" {
	config '.linux.devices = [{"path": "/dev/net/tun", "type": "c", "major": 10, "minor": 200,
		"fileMode": 416, "uid": 0, "gid": 0}]'
	start_zdtm c1
	brisk checkpoint --image-path "$IMG" c1
	jq -e '.tmpfsTrees[0].destination == "/dev"' "$IMG/brisk-snapshot.json"
	cp "$IMG/brisk-snapshot.json" "$TEST_DIR/meta.orig"
	# a disk (S_IFBLK | 0666)
	dev_tree '.entries += [{"path": "sda", "mode": 25014, "uid": 0, "gid": 0, "major": 8, "minor": 0}]'
	refused r1 "would make '/dev/sda' (block 8:0, mode 0666, owner 0:0), which the bundle does not"
	# the kernel's memory under the name of a device the bundle makes
	cp "$TEST_DIR/meta.orig" "$IMG/brisk-snapshot.json"
	dev_tree '(.entries[] | select(.path == "null")) |= (.minor = 1)'
	refused r1 "would make '/dev/null' (char 1:1"
	# a device of the bundle's for an owner the bundle does not give it to
	cp "$TEST_DIR/meta.orig" "$IMG/brisk-snapshot.json"
	dev_tree '(.entries[] | select(.path == "net/tun")) |= (.uid = 1000)'
	refused r1 "would make '/dev/net/tun' (char 10:200, mode 0640, owner 1000:0)"
	# a setuid bit
	cp "$TEST_DIR/meta.orig" "$IMG/brisk-snapshot.json"
	dev_tree '(.entries[] | select(.path == "null")) |= (.mode += 2048)'
	refused r1 "no setuid or setgid bit is made"
	# as it was: restored
	cp "$TEST_DIR/meta.orig" "$IMG/brisk-snapshot.json"
	restore r2
	check_pass r2
}

@test "trust: an image of the checkpoint that is a symlink: refused, the host file not read" {
	start_zdtm c1
	brisk checkpoint --image-path "$IMG" c1
	cp -a "$IMG" "$TEST_DIR/img.orig"
	# the same bytes outside: a restore that follows the link works, and must not
	p=$(cd "$IMG" && ls pages-*.img | head -1)
	mv "$IMG/$p" "$TEST_DIR/hostpages"
	ln -s ../hostpages "$IMG/$p"
	refused r1 "refused: '$IMG/$p' is not a regular file or directory"
	rm -rf "$IMG" && cp -a "$TEST_DIR/img.orig" "$IMG"
	mv "$IMG/brisk-snapshot.json" "$TEST_DIR/meta"
	ln -s ../meta "$IMG/brisk-snapshot.json"
	refused r1 "refused: '$IMG/brisk-snapshot.json' is not a regular file or directory"
	rm -rf "$IMG" && cp -a "$TEST_DIR/img.orig" "$IMG"
	mkfifo "$IMG/fifo.img"
	refused r1 "refused: '$IMG/fifo.img' is not a regular file or directory"
}

# evil_snapshot TAG KIND: a snapshot (brisk-snapshot.json at its root) holding one KIND of file
# pull-snapshot must not write, stored in the dir: store $S under TAG
evil_snapshot() {
	local d=$TEST_DIR/evil-$1
	mkdir -p "$d"
	cp "$IMG/brisk-snapshot.json" "$IMG/inventory.img" "$d/"
	case $2 in
	symlink) ln -s /etc/shadow "$d/pages-1.img" ;;
	device) mknod "$d/mem.img" c 1 1 ;;
	fifo) mkfifo "$d/fifo.img" ;;
	setuid) cp "$BUSYBOX" "$d/sh.img" && chmod 4755 "$d/sh.img" ;;
	esac
	(cd "$d" && python3 "$SOURCE_ROOT/tests/integration/imagefs/mkimage.py" tree "$TEST_DIR/oci-$1" .)
	"$BI" convert oci:"$TEST_DIR/oci-$1" dir:"$S:$1" >/dev/null
}

@test "trust: pull-snapshot writes only regular files and directories" {
	start_zdtm c1
	brisk checkpoint --image-path "$IMG" c1
	S=$TEST_DIR/store
	for kind in symlink device fifo setuid; do
		evil_snapshot "$kind" "$kind"
		run "$BI" pull-snapshot dir:"$S:$kind" "$TEST_DIR/out-$kind"
		echo "$kind: $output"
		[ "$status" -eq 1 ]
		[[ "$output" == *"a snapshot holds"* ]]
		[ ! -e "$TEST_DIR/out-$kind" ]
		[ -z "$(ls -A "$TEST_DIR" | grep export)" ]
	done
}

@test "trust: root.readonly: the restored rootfs is read-only, as the bundle's" {
	config '.root.readonly = true | .mounts += [{"destination": "/tmp", "type": "tmpfs",
		"source": "tmpfs", "options": ["nosuid", "nodev"]}]'
	start_zdtm c1
	run brisk exec c1 touch /x
	[ "$status" -ne 0 ]
	brisk checkpoint --image-path "$IMG" c1
	restore r1
	run brisk exec r1 touch /x
	echo "$output"
	[ "$status" -ne 0 ]
	check_pass r1
}

# keypair NAME: an ed25519 key NAME.pem and its public half NAME.pub in the test's directory
keypair() {
	command -v openssl >/dev/null || skip "openssl is not installed"
	openssl genpkey -algorithm ed25519 -out "$TEST_DIR/$1.pem" 2>/dev/null
	openssl pkey -in "$TEST_DIR/$1.pem" -pubout -out "$TEST_DIR/$1.pub"
}

@test "trust: signed snapshots: pull-snapshot --verify takes the key's, refuses unsigned and others'" {
	start_zdtm c1
	brisk checkpoint --leave-running --image-path "$TEST_DIR/first" c1
	brisk checkpoint --image-path "$IMG" c1
	keypair key
	keypair other
	S=$TEST_DIR/store
	d=$("$BI" push-snapshot --sign "$TEST_DIR/key.pem" "$IMG" dir:"$S:signed")
	"$BI" push-snapshot "$TEST_DIR/first" dir:"$S:unsigned" >/dev/null
	# the key's signature: pulled, by tag and by digest, and restored; its digest recorded
	"$BI" pull-snapshot --verify "$TEST_DIR/key.pub" dir:"$S:signed" "$TEST_DIR/out1"
	jq -e --arg d "$d" '.digest == $d' "$TEST_DIR/out1/brisk-snapshot.origin.json"
	"$BI" pull-snapshot --verify "$TEST_DIR/key.pub" dir:"$S@$d" "$TEST_DIR/out2"
	IMG=$TEST_DIR/out1 restore r1
	jq -e --arg d "$d" '.extra.snapshotDigest == $d' "$STATE_ROOT/r1/state.json"
	check_pass r1
	# unsigned: refused, also through the node-wide setting; nothing written
	run "$BI" pull-snapshot --verify "$TEST_DIR/key.pub" dir:"$S:unsigned" "$TEST_DIR/out3"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is not signed: refused"* ]]
	[ ! -e "$TEST_DIR/out3" ]
	BRISK_SNAPSHOT_PUBKEY=$TEST_DIR/key.pub run "$BI" pull-snapshot dir:"$S:unsigned" "$TEST_DIR/out3"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is not signed: refused"* ]]
	[ ! -e "$TEST_DIR/out3" ]
	# verified with another key, or signed by another key: refused
	run "$BI" pull-snapshot --verify "$TEST_DIR/other.pub" dir:"$S:signed" "$TEST_DIR/out3"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"does not verify with '$TEST_DIR/other.pub'"* ]]
	"$BI" push-snapshot --sign "$TEST_DIR/other.pem" "$TEST_DIR/first" dir:"$S:unsigned" >/dev/null
	run "$BI" pull-snapshot --verify "$TEST_DIR/key.pub" dir:"$S:unsigned" "$TEST_DIR/out3"
	[ "$status" -eq 1 ]
	[[ "$output" == *"does not verify"* ]]
	[ ! -e "$TEST_DIR/out3" ]
	# a signing key that is not one: nothing stored
	run "$BI" push-snapshot --sign "$TEST_DIR/key.pub" "$IMG" dir:"$TEST_DIR/store2:x"
	[ "$status" -eq 1 ]
	[ ! -e "$TEST_DIR/store2" ]
}

# Two checkpoints of one app ($TEST_DIR/first, then $IMG), a key pair (key.pem, key.pub), and a
# registry: R names a repository in it.
two_snapshots_and_a_registry() {
	start_zdtm c1
	brisk checkpoint --leave-running --image-path "$TEST_DIR/first" c1
	brisk checkpoint --image-path "$IMG" c1
	keypair key
	start_registry
	R=registry:127.0.0.1:$PORT/brisk/snap
}

@test "trust: signed snapshots through a registry: a tag moved to an unsigned snapshot is refused" {
	two_snapshots_and_a_registry
	d=$("$BI" push-snapshot --sign "$TEST_DIR/key.pem" "$IMG" "$R:v1")
	"$BI" pull-snapshot --verify "$TEST_DIR/key.pub" "$R:v1" "$TEST_DIR/out1"
	"$BI" pull-snapshot --verify "$TEST_DIR/key.pub" "$R@$d" "$TEST_DIR/out2"
	diff -r "$TEST_DIR/out1" "$TEST_DIR/out2" -x brisk-snapshot.origin.json
	# whoever can push to the registry moves the tag: the signature does not follow it
	"$BI" push-snapshot "$TEST_DIR/first" "$R:v1" >/dev/null
	run "$BI" pull-snapshot --verify "$TEST_DIR/key.pub" "$R:v1" "$TEST_DIR/out3"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"is not signed: refused"* ]]
	[ ! -e "$TEST_DIR/out3" ]
}

@test "trust: restore from a snapshot in a registry: pulled as pull-snapshot pulls, verified with the node's key, nothing left" {
	two_snapshots_and_a_registry
	"$BI" push-snapshot --sign "$TEST_DIR/key.pem" "$IMG" "$R:v1" >/dev/null
	"$BI" push-snapshot "$TEST_DIR/first" "$R:unsigned" >/dev/null
	export BRISK_SNAPSHOT_PUBKEY=$TEST_DIR/key.pub TMPDIR=$TEST_DIR/tmp
	mkdir "$TMPDIR"
	IMG=$R:v1 restore r1
	check_pass r1
	# the pulled images served the restore and are gone
	[ -z "$(ls -A "$TMPDIR")" ]
	# a tag moved to an unsigned snapshot, and a tag that is not there: refused, nothing left
	IMG=$R:unsigned run restore r2
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"is not signed: refused"* ]]
	[[ "$output" == *"pull the snapshot '$R:unsigned' failed"* ]]
	IMG=$R:nope run restore r3
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"pull the snapshot '$R:nope' failed"* ]]
	IMG=$R:v1 run restore r4 --lazy-pages
	[ "$status" -ne 0 ]
	[[ "$output" == *"pull the snapshot '$R:v1' first"* ]]
	for id in r2 r3 r4; do
		[ ! -e "$STATE_ROOT/$id" ]
		assert_no_leaks "$id"
	done
	[ -z "$(ls -A "$TMPDIR")" ]
}

@test "trust: another file system in the place of the bundle's in the images: refused" {
	start_zdtm c1
	brisk checkpoint --image-path "$IMG" c1
	# a sysfs (writable: the bundle's /dev/mqueue is not read-only) instead of the mqueue
	mount_edit "$IMG" /dev/mqueue 'e["fstype"] = 2; e["source"] = "sysfs"'
	refused r1 "a sysfs mount on '/dev/mqueue', where the bundle's mounts makes mqueue"
}
