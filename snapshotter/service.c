/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ten methods of containerd's snapshots service. Each decodes its request, checks it
 * against the store, changes the files and the metadata in an order a crash cannot turn into
 * a record without its directory (directory first on create, record first on remove), and
 * answers; errors carry the gRPC codes containerd maps onto its own (NotFound, AlreadyExists,
 * FailedPrecondition, InvalidArgument) and a message naming the snapshot.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "filter.h"
#include "info.h"
#include "common/json.h"
#include "layout.h"
#include "lazy.h"
#include "common/log.h"
#include "service.h"
#include "snapshots.pb-c.h"

#define METHOD(name) "/containerd.services.snapshots.v1.Snapshots/" name

/* messages per List answer: each stays far below gRPC's 4 MiB */
#define LIST_BATCH 64

/* Answer a failure R: the message names what was wrong; unexpected errors are logged too. */
static void fail(struct grpc_reply *reply, int r, const char *what)
{
	enum grpc_code code = grpc_code_from_errno(r);

	if (code == GRPC_UNKNOWN || code == GRPC_RESOURCE_EXHAUSTED)
		log_error_errno(r, "%s: %m", what);
	else
		log_debug("%s", what);
	grpc_reply_error(reply, code, "%s", what);
}

void fail_io(struct grpc_reply *reply, int r, const char *fmt, ...)
{
	_cleanup_free_ char *what = NULL, *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		what = NULL;
	va_end(ap);
	if (!what || asprintf(&msg, "%s: %s", what, strerror(-r)) < 0)
		msg = NULL;
	fail(reply, r, msg ? msg : "out of memory");
}

void bad_request(struct grpc_reply *reply, const char *method)
{
	grpc_reply_error(reply, GRPC_INVALID_ARGUMENT, "%s: cannot decode the request", method);
}

void reply_empty(struct grpc_reply *reply)
{
	Snap__Empty empty = SNAP__EMPTY__INIT;

	if (grpc_reply_add(reply, &empty.base) < 0)
		grpc_reply_error(reply, GRPC_RESOURCE_EXHAUSTED, "out of memory");
}

static int reply_mounts(struct grpc_reply *reply, struct store *store, const struct snap *snap)
{
	struct layout_mount m = {};
	Snap__MountsResponse resp = SNAP__MOUNTS_RESPONSE__INIT;
	Snap__Mount mount, *mounts[1] = {&mount};
	int r = layout_mount(store, snap, &m);

	if (r >= 0) {
		mount_message(&m, &mount);
		resp.n_mounts = 1;
		resp.mounts = mounts;
		r = grpc_reply_add(reply, &resp.base);
	}
	layout_mount_done(&m);
	return r;
}

/* Find KEY, or answer NotFound. */
struct snap *lookup(struct grpc_reply *reply, struct store *store, const char *key)
{
	struct snap *s = key && *key ? store_find(store, key) : NULL;

	if (!s)
		grpc_reply_error(reply, GRPC_NOT_FOUND, "snapshot '%s' does not exist",
				 key ? key : "");
	return s;
}

/* Check a new snapshot's key, parent and labels; answers the error and returns < 0. */
static int check_new(struct grpc_reply *reply, struct store *store,
		     const Snap__PrepareSnapshotRequest *req, struct json_object **ret_labels)
{
	_cleanup_free_ char *err = NULL;
	const struct snap *p;
	int r = check_key("snapshot key", req->key, &err);

	if (r >= 0)
		r = labels_from_entries((void *const *)req->labels, req->n_labels, ret_labels,
					&err);
	if (r < 0) {
		grpc_reply_error(reply, GRPC_INVALID_ARGUMENT, "snapshot '%s': %s", req->key,
				 err ? err : "out of memory");
		return r;
	}
	if (store_find(store, req->key)) {
		grpc_reply_error(reply, GRPC_ALREADY_EXISTS, "snapshot '%s' already exists",
				 req->key);
		return -EEXIST;
	}
	if (!req->parent || !*req->parent)
		return 0;
	p = store_find(store, req->parent);
	if (!p) {
		grpc_reply_error(reply, GRPC_NOT_FOUND, "snapshot '%s': parent '%s' does not exist",
				 req->key, req->parent);
		return -ENOENT;
	}
	if (p->kind != SNAP_COMMITTED) {
		grpc_reply_error(reply, GRPC_FAILED_PRECONDITION,
				 "snapshot '%s': parent '%s' is %s, not committed", req->key,
				 req->parent, snap_kind_name(p->kind));
		return -EINVAL;
	}
	return 0;
}

static void create(const uint8_t *msg, size_t len, struct grpc_reply *reply, struct store *store,
		   enum snap_kind kind)
{
	Snap__PrepareSnapshotRequest *req = snap__prepare_snapshot_request__unpack(NULL, len, msg);
	_cleanup_json_ struct json_object *labels = NULL;
	struct snap *s;
	int r;

	if (!req)
		return bad_request(reply, kind == SNAP_VIEW ? "View" : "Prepare");
	if (check_new(reply, store, req, &labels) < 0)
		goto out;
	if (kind == SNAP_ACTIVE) {
		_cleanup_free_ char *err = NULL;
		struct lazy_ref ref;

		r = lazy_from_labels(labels, &ref, &err);
		if (r < 0) {
			grpc_reply_error(reply, GRPC_INVALID_ARGUMENT, "snapshot '%s': %s",
					 req->key, err ? err : "out of memory");
			goto out;
		}
		if (r > 0) {
			service_prepare_lazy(reply, store, req->parent, labels, &ref);
			goto out;
		}
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->key = strdup(req->key)) ||
	    (*req->parent && !(s->parent = strdup(req->parent)))) {
		snap_free(s);
		fail(reply, -ENOMEM, "out of memory");
		goto out;
	}
	s->id = store->next_id++;
	s->kind = kind;
	s->labels = TAKE_PTR(labels);
	clock_gettime(CLOCK_REALTIME, &s->created);
	s->updated = s->created;
	r = layout_create(store, s->id, kind);
	if (r >= 0) {
		r = store_add(store, s);
		if (r < 0)
			(void)layout_remove(store, s->id);
	}
	if (r < 0) {
		fail_io(reply, r, "snapshot '%s': create its directories and record", s->key);
		snap_free(s);
		goto out;
	}
	r = reply_mounts(reply, store, s);
	if (r < 0)
		fail(reply, r, "out of memory");
out:
	snap__prepare_snapshot_request__free_unpacked(req, NULL);
}

static void prepare(const uint8_t *msg, size_t len, struct grpc_reply *reply, void *userdata)
{
	create(msg, len, reply, userdata, SNAP_ACTIVE);
}

static void view(const uint8_t *msg, size_t len, struct grpc_reply *reply, void *userdata)
{
	create(msg, len, reply, userdata, SNAP_VIEW);
}

static void mounts(const uint8_t *msg, size_t len, struct grpc_reply *reply, void *userdata)
{
	Snap__KeyRequest *req = snap__key_request__unpack(NULL, len, msg);
	struct store *store = userdata;
	const struct snap *s;

	if (!req)
		return bad_request(reply, "Mounts");
	s = lookup(reply, store, req->key);
	if (s && s->kind == SNAP_COMMITTED)
		grpc_reply_error(reply, GRPC_FAILED_PRECONDITION,
				 "snapshot '%s' is committed: only active snapshots and views "
				 "have mounts",
				 s->key);
	else if (s && reply_mounts(reply, store, s) < 0)
		fail(reply, -ENOMEM, "out of memory");
	snap__key_request__free_unpacked(req, NULL);
}

/* Turn active snapshot S into committed NAME; on failure S is as it was. */
static int commit_snap(struct store *store, struct snap *s, const char *name,
		       struct json_object *labels)
{
	struct snap old = *s;
	int r;

	r = layout_usage(store, s->id, &s->size, &s->inodes);
	if (r < 0)
		return r;
	s->key = strdup(name);
	if (!s->key) {
		*s = old;
		return -ENOMEM;
	}
	s->kind = SNAP_COMMITTED;
	s->labels = labels;
	clock_gettime(CLOCK_REALTIME, &s->created);
	s->updated = s->created;
	r = store_save(store);
	if (r < 0) {
		free(s->key);
		*s = old;
		return r;
	}
	free(old.key);
	json_object_put(old.labels);
	return 0;
}

static void commit(const uint8_t *msg, size_t len, struct grpc_reply *reply, void *userdata)
{
	Snap__CommitSnapshotRequest *req = snap__commit_snapshot_request__unpack(NULL, len, msg);
	_cleanup_json_ struct json_object *labels = NULL;
	_cleanup_free_ char *err = NULL;
	struct store *store = userdata;
	struct snap *s;
	int r;

	if (!req)
		return bad_request(reply, "Commit");
	s = lookup(reply, store, req->key);
	if (!s)
		goto out;
	r = check_key("committed name", req->name, &err);
	if (r >= 0)
		r = labels_from_entries((void *const *)req->labels, req->n_labels, &labels, &err);
	if (r < 0)
		grpc_reply_error(reply, GRPC_INVALID_ARGUMENT, "commit '%s': %s", req->key,
				 err ? err : "out of memory");
	else if (s->kind != SNAP_ACTIVE)
		grpc_reply_error(reply, GRPC_FAILED_PRECONDITION,
				 "commit '%s': it is %s, not active", s->key,
				 snap_kind_name(s->kind));
	else if (store_find(store, req->name))
		grpc_reply_error(reply, GRPC_ALREADY_EXISTS,
				 "commit '%s': snapshot '%s' already exists", s->key, req->name);
	else if ((r = commit_snap(store, s, req->name, labels)) < 0)
		fail_io(reply, r, "commit '%s'", req->key);
	else {
		labels = NULL;
		reply_empty(reply);
	}
out:
	snap__commit_snapshot_request__free_unpacked(req, NULL);
}

static void remove_snapshot(const uint8_t *msg, size_t len, struct grpc_reply *reply,
			    void *userdata)
{
	Snap__KeyRequest *req = snap__key_request__unpack(NULL, len, msg);
	struct store *store = userdata;
	struct snap *s;
	uint64_t id;
	int r;

	if (!req)
		return bad_request(reply, "Remove");
	s = lookup(reply, store, req->key);
	if (!s)
		goto out;
	if (store_has_children(store, s->key) || service_lazy_pending_child(s->key)) {
		grpc_reply_error(reply, GRPC_FAILED_PRECONDITION,
				 "remove '%s': it has children; remove them first", s->key);
		goto out;
	}
	id = s->id;
	if (s->lazy_index && (r = lazy_umount(store, id)) < 0) {
		fail_io(reply, r == -EBUSY ? -EBUSY : r, "remove '%s': unmount its brisk image",
			s->key);
		goto out;
	}
	r = store_remove(store, s);
	if (r < 0) {
		fail_io(reply, r, "remove '%s'", req->key);
		goto out;
	}
	/* the record is gone: a failure here leaves a leftover that Cleanup removes */
	r = layout_remove(store, id);
	if (r < 0)
		log_warning_errno(r, "remove '%s': its directory: %m, ignoring", req->key);
	reply_empty(reply);
out:
	snap__key_request__free_unpacked(req, NULL);
}

void reply_info(struct grpc_reply *reply, const struct snap *s)
{
	Snap__InfoResponse resp = SNAP__INFO_RESPONSE__INIT;
	Snap__Info info;

	if (info_build(s, &info) < 0)
		return fail(reply, -ENOMEM, "out of memory");
	resp.info = &info;
	if (grpc_reply_add(reply, &resp.base) < 0)
		fail(reply, -ENOMEM, "out of memory");
	info_done(&info);
}

static void stat_snapshot(const uint8_t *msg, size_t len, struct grpc_reply *reply, void *userdata)
{
	Snap__KeyRequest *req = snap__key_request__unpack(NULL, len, msg);
	const struct snap *s;

	if (!req)
		return bad_request(reply, "Stat");
	s = lookup(reply, userdata, req->key);
	if (s)
		reply_info(reply, s);
	snap__key_request__free_unpacked(req, NULL);
}

static void usage(const uint8_t *msg, size_t len, struct grpc_reply *reply, void *userdata)
{
	Snap__KeyRequest *req = snap__key_request__unpack(NULL, len, msg);
	Snap__UsageResponse resp = SNAP__USAGE_RESPONSE__INIT;
	const struct snap *s;
	int r = 0;

	if (!req)
		return bad_request(reply, "Usage");
	s = lookup(reply, userdata, req->key);
	if (!s)
		goto out;
	/* a committed layer does not change: measured once, at commit */
	if (s->kind == SNAP_ACTIVE)
		r = layout_usage(userdata, s->id, &resp.size, &resp.inodes);
	else if (s->kind == SNAP_COMMITTED) {
		resp.size = s->size;
		resp.inodes = s->inodes;
	}
	if (r < 0)
		fail_io(reply, r, "usage of '%s'", req->key);
	else if (grpc_reply_add(reply, &resp.base) < 0)
		fail(reply, -ENOMEM, "out of memory");
out:
	snap__key_request__free_unpacked(req, NULL);
}

/* Send the snapshots F matches, LIST_BATCH to a message. */
static int list_matching(struct grpc_reply *reply, struct store *store, const struct filter *f)
{
	Snap__Info infos[LIST_BATCH], *ptrs[LIST_BATCH];
	size_t i = 0;
	int r = 0;

	while (r >= 0 && i < store->n_snaps) {
		Snap__ListSnapshotsResponse resp = SNAP__LIST_SNAPSHOTS_RESPONSE__INIT;

		for (; r >= 0 && i < store->n_snaps && resp.n_info < LIST_BATCH; i++) {
			if (!filter_match(f, store->snaps[i]))
				continue;
			r = info_build(store->snaps[i], &infos[resp.n_info]);
			if (r >= 0) {
				ptrs[resp.n_info] = &infos[resp.n_info];
				resp.n_info++;
			}
		}
		resp.info = ptrs;
		if (r >= 0 && resp.n_info > 0)
			r = grpc_reply_add(reply, &resp.base);
		for (size_t j = 0; j < resp.n_info; j++)
			info_done(&infos[j]);
	}
	return r;
}

static void list(const uint8_t *msg, size_t len, struct grpc_reply *reply, void *userdata)
{
	Snap__ListSnapshotsRequest *req = snap__list_snapshots_request__unpack(NULL, len, msg);
	struct filter *f = NULL;
	_cleanup_free_ char *err = NULL;
	int r;

	if (!req)
		return bad_request(reply, "List");
	r = filter_parse(req->filters, req->n_filters, &f, &err);
	if (r < 0)
		grpc_reply_error(reply, GRPC_INVALID_ARGUMENT, "List: %s",
				 err ? err : "out of memory");
	else if ((r = list_matching(reply, userdata, f)) < 0)
		fail(reply, r, "out of memory");
	filter_free(f);
	snap__list_snapshots_request__free_unpacked(req, NULL);
}

static void cleanup(const uint8_t *msg, size_t len, struct grpc_reply *reply, void *userdata)
{
	Snap__CleanupRequest *req = snap__cleanup_request__unpack(NULL, len, msg);
	int r;

	if (!req)
		return bad_request(reply, "Cleanup");
	snap__cleanup_request__free_unpacked(req, NULL);
	r = layout_cleanup(userdata);
	if (r < 0)
		fail_io(reply, r, "cleanup of '%s'", ((struct store *)userdata)->root);
	else
		reply_empty(reply);
}

const struct grpc_method service_methods[] = {
    {METHOD("Prepare"), prepare},
    {METHOD("View"), view},
    {METHOD("Mounts"), mounts},
    {METHOD("Commit"), commit},
    {METHOD("Remove"), remove_snapshot},
    {METHOD("Stat"), stat_snapshot},
    {METHOD("Update"), service_update},
    {METHOD("List"), list},
    {METHOD("Usage"), usage},
    {METHOD("Cleanup"), cleanup},
};
const size_t service_n_methods = ELEMENTSOF(service_methods);
