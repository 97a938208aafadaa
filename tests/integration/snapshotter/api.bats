#!/usr/bin/env bats
# brisk-snapshotter's side of containerd's snapshots API: through `ctr snapshots --snapshotter
# brisk` on a private containerd (whose metadata layer sits in front of the daemon), and straight
# to the daemon with a gRPC client of the tests' own, for the errors containerd would answer
# first. Snapshots of each test have names of their own; the daemon and containerd are shared.

load snapshotter

setup_file() {
	snap_setup_file
}

teardown_file() {
	snap_teardown_file
}

teardown() {
	[ -n "${SNAP_DIR:-}" ] && umount_under "$SNAP_DIR/mnt"
	return 0
}

# mount_snapshot KEY DIR: mount what `ctr snapshots mounts` says for KEY on DIR
mount_snapshot() {
	mkdir -p "$2"
	eval "$(snaps mounts "$2" "$1")"
}

# backend_key NAME: the daemon's key of containerd's snapshot NAME ("NS/N/NAME")
backend_key() {
	backend_keys | grep -x "$NS/[0-9]*/$1"
}

@test "snapshotter: prepare, mounts, commit, view: the overlay chain containerd mounts" {
	snaps prepare api-base
	run snaps mounts /target api-base
	echo "$output"
	[[ "$output" == "mount -t bind $SNAP_DIR/snaproot/snapshots/"*"/fs /target -o rw,rbind" ]]
	mount_snapshot api-base "$SNAP_DIR/mnt/base"
	echo one >"$SNAP_DIR/mnt/base/one"
	umount "$SNAP_DIR/mnt/base"
	snaps commit api-l1 api-base

	snaps prepare api-child api-l1
	run snaps mounts /target api-child
	echo "$output"
	[[ "$output" == "mount -t overlay overlay /target -o "*"upperdir="*"lowerdir="* ]]
	mount_snapshot api-child "$SNAP_DIR/mnt/child"
	[ "$(cat "$SNAP_DIR/mnt/child/one")" = one ]
	echo two >"$SNAP_DIR/mnt/child/two"
	umount "$SNAP_DIR/mnt/child"
	snaps commit api-l2 api-child

	# a view of two layers: the overlay of both, nearest first, read-only (no upper dir)
	snaps view api-view api-l2
	run snaps mounts /target api-view
	echo "$output"
	[[ "$output" != *upperdir* ]]
	[[ "$output" == *"lowerdir="*":"* ]]
	mount_snapshot api-view "$SNAP_DIR/mnt/view"
	[ "$(cat "$SNAP_DIR/mnt/view/one" "$SNAP_DIR/mnt/view/two")" = "$(printf 'one\ntwo')" ]
	if touch "$SNAP_DIR/mnt/view/three" 2>/dev/null; then
		echo "a view is writable"
		return 1
	fi
	umount "$SNAP_DIR/mnt/view"

	run snaps ls
	echo "$output"
	[[ "$output" == *"api-l1 "*Committed* ]]
	[[ "$output" == *"api-l2 "*"api-l1 "*Committed* ]]
	[[ "$output" == *"api-view "*"api-l2 "*View* ]]
	snaps rm api-view
	snaps rm api-l2
	snaps rm api-l1
}

@test "snapshotter: info, label and usage reach the daemon" {
	snaps prepare info-base
	mount_snapshot info-base "$SNAP_DIR/mnt/info"
	head -c 100000 /dev/zero >"$SNAP_DIR/mnt/info/data"
	umount "$SNAP_DIR/mnt/info"
	snaps commit info-l1 info-base

	run snaps info info-l1
	echo "$output"
	[ "$(echo "$output" | jq -r .Kind)" = Committed ]
	[ "$(echo "$output" | jq -r .Name)" = info-l1 ]

	# labels containerd passes on (containerd.io/snapshot/...) are the daemon's too
	snaps label info-l1 containerd.io/snapshot/brisk.test=two plain=local
	run snapc stat "$(backend_key info-l1)"
	echo "$output"
	[ "$(echo "$output" | jq -r '.info.labels["containerd.io/snapshot/brisk.test"]')" = two ]
	[ "$(echo "$output" | jq -r '.info.kind')" = COMMITTED ]
	[ "$(snaps info info-l1 | jq -r .Labels.plain)" = local ]
	snaps label info-l1 containerd.io/snapshot/brisk.test=
	run snapc stat "$(backend_key info-l1)"
	echo "$output"
	[ "$(echo "$output" | jq -r '.info.labels["containerd.io/snapshot/brisk.test"]')" = null ]

	# usage: the layer's own directory, measured at commit: the dir and its one file
	run snaps usage info-l1
	echo "$output"
	local size inodes
	read -r size inodes < <(snapc usage "$(backend_key info-l1)" | jq -r '"\(.size) \(.inodes)"')
	[ "$size" -ge 100000 ]
	[ "$size" -lt 200000 ]
	[ "$inodes" = 2 ]
	[[ "$output" == *"info-l1 "*KiB*" 2"* ]]
	snaps rm info-l1
}

@test "snapshotter: errors through containerd: an existing key, a missing parent, a parent's removal" {
	snaps prepare err-base
	snaps commit err-l1 err-base
	snaps prepare err-child err-l1

	run snaps prepare err-child err-l1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"already exists"* ]]
	run snaps prepare err-orphan err-missing
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"err-missing"*"not found"* ]]
	run snaps rm err-l1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"child"* ]]
	# the daemon's own answer, passed on by containerd
	run snaps mounts /target err-l1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"'$NS/"*"/err-l1' is committed"*"failed precondition"* ]]
	snaps rm err-child
	snaps rm err-l1
}

@test "snapshotter: the daemon's own errors, each with its gRPC code and the snapshot named" {
	snapc prepare direct-base
	snapc commit direct-l1 direct-base
	snapc view direct-view direct-l1

	run snapc prepare direct-view direct-l1
	[ "$output" = "ALREADY_EXISTS: snapshot 'direct-view' already exists" ]
	run snapc prepare direct-x direct-missing
	[ "$output" = "NOT_FOUND: snapshot 'direct-x': parent 'direct-missing' does not exist" ]
	run snapc prepare direct-x direct-view
	[ "$output" = "FAILED_PRECONDITION: snapshot 'direct-x': parent 'direct-view' is view, not committed" ]
	run snapc remove direct-l1
	[ "$output" = "FAILED_PRECONDITION: remove 'direct-l1': it has children; remove them first" ]
	run snapc commit direct-l2 direct-view
	[ "$output" = "FAILED_PRECONDITION: commit 'direct-view': it is view, not active" ]
	run snapc stat direct-nothing
	[ "$output" = "NOT_FOUND: snapshot 'direct-nothing' does not exist" ]
	run snapc remove direct-nothing
	[ "$output" = "NOT_FOUND: snapshot 'direct-nothing' does not exist" ]
	run snapc update direct-l1 -m kind
	[ "$output" = "INVALID_ARGUMENT: update 'direct-l1': field 'kind' cannot be updated" ]
	run snapc prepare ""
	[ "$output" = "INVALID_ARGUMENT: snapshot '': snapshot key is empty" ]
	# List's filters, as containerd's metadata layer sends them for a remote snapshot
	[ "$(snapc list 'name==direct-l1' | jq -r '.info[].name')" = direct-l1 ]
	[ "$(snapc list 'parent==direct-l1,kind==view' | jq -r '.info[].name')" = direct-view ]
	[ "$(snapc list 'name~=^direct-(base|l1)$' 'name==direct-view' | jq -r '.info[].name' | sort | tr '\n' ' ')" = "direct-l1 direct-view " ]
	[ "$(snapc list 'labels."containerd.io/snapshot.ref"==x,parent==""' | jq -c .info)" = "[]" ]
	run snapc list 'labels'
	[ "$output" = "INVALID_ARGUMENT: List: filter 'labels': 'labels' needs a key (labels.KEY)" ]
	run snapc list 'size==1'
	[ "$output" = "INVALID_ARGUMENT: List: filter 'size==1': fields are name, parent, kind and labels.KEY" ]
	run snapc raw Prepare ffffffff
	echo "$output"
	[ "$output" = "INVALID_ARGUMENT: Prepare: cannot decode the request" ]
	run snapc raw Nothing 00
	[[ "$output" == "UNIMPLEMENTED: unknown method '/containerd.services.snapshots.v1.Snapshots/Nothing'" ]]

	# update: a mask of labels.NAME sets or deletes one label; no mask replaces them all
	snapc update direct-l1 -l a=1 -l b=2
	snapc update direct-l1 -m labels.a -m labels.c -l a=3 -l c=4
	[ "$(snapc stat direct-l1 | jq -S -c .info.labels)" = '{"a":"3","b":"2","c":"4"}' ]
	snapc update direct-l1 -m labels.b
	[ "$(snapc stat direct-l1 | jq -S -c .info.labels)" = '{"a":"3","c":"4"}' ]
	snapc remove direct-view
	snapc remove direct-l1
	[ -z "$(backend_keys | grep direct-)" ]
}

@test "snapshotter: bad labels and keys are refused and leave nothing behind" {
	local before dirs
	before=$(backend_keys)
	dirs=$(ls "$SNAP_DIR/snaproot/snapshots")

	run snapc prepare bad-1 -l =empty-name
	[ "$output" = "INVALID_ARGUMENT: snapshot 'bad-1': label '' has an empty name" ]
	run snapc prepare bad-2 -l "big=$(head -c 5000 /dev/zero | tr '\0' x)"
	[ "$output" = "INVALID_ARGUMENT: snapshot 'bad-2': label 'big' is longer than 4096 bytes, name and value together" ]
	run snapc bad-label-prepare bad-3 6e616d65 ff00fe
	echo "$output"
	[ "$output" = "INVALID_ARGUMENT: snapshot 'bad-3': label 'name' is not UTF-8" ]
	run snapc prepare "$(head -c 5000 /dev/zero | tr '\0' k)"
	[[ "$output" == "INVALID_ARGUMENT: "*"snapshot key is longer than 4096 bytes" ]]
	snapc prepare bad-base
	run snapc commit bad-l1 bad-base -l =x
	[ "$output" = "INVALID_ARGUMENT: commit 'bad-base': label '' has an empty name" ]
	run snapc update bad-base -l =x
	[ "$output" = "INVALID_ARGUMENT: update 'bad-base': label '' has an empty name" ]
	snapc remove bad-base

	no_new_lines "$before" "$(backend_keys)"
	no_new_lines "$dirs" "$(ls "$SNAP_DIR/snaproot/snapshots")"
	[ -z "$(snap_mounts)" ]

	# through containerd: a label too big for it is refused before the daemon sees it
	snaps prepare bad-4
	run snaps label bad-4 containerd.io/snapshot/big="$(head -c 5000 /dev/zero | tr '\0' x)"
	echo "$output"
	[ "$status" -ne 0 ]
	snaps rm bad-4
}

@test "snapshotter: kill -9 and restart: the daemon's view and containerd's agree" {
	snaps prepare crash-base
	snaps commit crash-l1 crash-base
	snaps prepare crash-active crash-l1
	snaps label crash-l1 containerd.io/snapshot/brisk.kept=yes
	local ls_before list_before
	ls_before=$(snaps ls)
	list_before=$(backend_list)

	stop_snapshotter KILL
	# leftovers of a crash: a directory with no record, a metadata temp file
	mkdir -p "$SNAP_DIR/snaproot/snapshots/99999/fs"
	touch "$SNAP_DIR/snaproot/.#metadata.json.dead"
	start_snapshotter
	# containerd redials a proxy plugin with a backoff of at most a few seconds
	wait_for_containerd_to_redial

	[ "$(snaps ls)" = "$ls_before" ]
	[ "$(backend_list)" = "$list_before" ]
	[ ! -e "$SNAP_DIR/snaproot/snapshots/99999" ]
	[ ! -e "$SNAP_DIR/snaproot/.#metadata.json.dead" ]
	# and it goes on: mounts of the old active one, a new one on the old parent
	snaps mounts /target crash-active | grep -q lowerdir=
	snaps prepare crash-new crash-l1
	snaps rm crash-new
	snaps rm crash-active
	snaps rm crash-l1
}

@test "snapshotter: a second daemon on the same root is refused" {
	run "$SNAPSHOTTER" --root "$SNAP_DIR/snaproot" --address "$SNAP_DIR/second.sock"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"is in use by another snapshotter"* ]]
	[ ! -e "$SNAP_DIR/second.sock" ]
	# nor a second daemon on the socket of the first
	run "$SNAPSHOTTER" --root "$SNAP_DIR/second-root" --address "$SNAP_DIR/snapshotter.sock"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"is served by another process"* ]]
	snapc list >/dev/null
}

@test "snapshotter: a stopped daemon removes its socket; containerd says the snapshotter is down" {
	stop_snapshotter
	[ ! -e "$SNAP_DIR/snapshotter.sock" ]
	# containerd waits for a missing socket until its dial timeout, then gives up
	local t0=$SECONDS
	run snaps prepare down-1
	echo "# $output (after $((SECONDS - t0)) s)" >&3
	[ "$status" -ne 0 ]
	[[ "$output" == *"$SNAP_DIR/snapshotter.sock: timeout"*unavailable* ]]
	start_snapshotter
	wait_for_containerd_to_redial
	snaps prepare down-2
	snaps rm down-2
}
