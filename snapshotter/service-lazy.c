/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prepare for a layer of a brisk image: instead of an empty directory for containerd to unpack
 * into, the image is mounted with brisk-imagefs on the snapshot's fs/ and the snapshot recorded
 * as committed under the name containerd's unpacker would commit it as; the answer is
 * AlreadyExists, on which containerd stats that name and fetches nothing.
 *
 * The mount fetches the image's index, which can take a while on a slow link: the call is
 * answered later (grpc_reply_defer()) and the daemon goes on serving others. A Prepare for the
 * same layer meanwhile waits for the same mount, and a layer of an image already mounted below it
 * is an empty one. The mount is made before the record is written:
 * a crash in between leaves a mounted leftover directory, which the next start unmounts and
 * removes (layout_cleanup()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "layout.h"
#include "lazy.h"
#include "common/log.h"
#include "service.h"

static void *mfree(void *p)
{
	free(p);
	return NULL;
}

/* a layer being mounted, and the calls waiting for it */
struct lazy_prepare {
	struct store *store;
	struct snap *snap; /* in the store once mounted */
	struct grpc_pending **waiters;
	size_t n_waiters;
	struct lazy_prepare *next;
};

static struct lazy_prepare *in_progress;

bool service_lazy_pending_child(const char *key)
{
	for (struct lazy_prepare *lp = in_progress; lp; lp = lp->next)
		if (lp->snap->parent && strcmp(lp->snap->parent, key) == 0)
			return true;
	return false;
}

static struct lazy_prepare *find(const char *name)
{
	for (struct lazy_prepare *lp = in_progress; lp; lp = lp->next)
		if (strcmp(lp->snap->key, name) == 0)
			return lp;
	return NULL;
}

/* Answer REPLY later, with LP's outcome; false (and an answer now) on out of memory. */
static bool wait_for(struct lazy_prepare *lp, struct grpc_reply *reply)
{
	struct grpc_pending **v = reallocarray(lp->waiters, lp->n_waiters + 1, sizeof(*v));

	if (!v) {
		grpc_reply_error(reply, GRPC_RESOURCE_EXHAUSTED, "out of memory");
		return false;
	}
	lp->waiters = v;
	lp->waiters[lp->n_waiters++] = grpc_reply_defer(reply);
	return true;
}

static struct snap *lazy_snap_new(struct store *store, const char *parent,
				  struct json_object *labels, const struct lazy_ref *ref)
{
	struct snap *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->key = strdup(ref->name);
	s->parent = parent && *parent ? strdup(parent) : NULL;
	s->lazy_store = strdup(ref->store);
	s->lazy_index = strdup(ref->index);
	if (!s->key || (parent && *parent && !s->parent) || !s->lazy_store || !s->lazy_index)
		return snap_free(s);
	s->id = store->next_id++;
	s->kind = SNAP_COMMITTED;
	s->labels = json_object_get(labels);
	clock_gettime(CLOCK_REALTIME, &s->created);
	s->updated = s->created;
	return s;
}

/*
 * Whether PARENT is a layer of the same brisk image (its manifest lists several layers): the
 * mount, or an empty layer above it, which keeps the image's labels.
 */
static bool parent_is_image(struct store *store, const char *parent, const struct lazy_ref *ref)
{
	const struct snap *p = store_find(store, parent);
	_cleanup_free_ char *err = NULL;
	struct lazy_ref pr;

	if (!p)
		return false;
	if (p->lazy_index)
		return strcmp(p->lazy_index, ref->index) == 0 &&
		       strcmp(p->lazy_store, ref->store) == 0;
	return lazy_from_labels(p->labels, &pr, &err) == 1 && strcmp(pr.index, ref->index) == 0 &&
	       strcmp(pr.store, ref->store) == 0;
}

int service_lazy_mark_empty(struct store *store)
{
	bool changed = false;
	int r;

	for (size_t i = 0; i < store->n_snaps; i++) {
		struct snap *s = store->snaps[i];
		_cleanup_free_ char *err = NULL;
		struct lazy_ref ref;

		if (s->kind != SNAP_COMMITTED || s->lazy_index || s->empty || !s->parent ||
		    lazy_from_labels(s->labels, &ref, &err) != 1 || strcmp(ref.name, s->key) != 0 ||
		    !parent_is_image(store, s->parent, &ref))
			continue;
		s->empty = true;
		changed = true;
	}
	if (changed && (r = store_save(store)) < 0)
		return log_error_errno(r, "record the empty layers of brisk images: %m");
	return 0;
}

/*
 * Another layer of an image already mounted below it: the whole tree is in that mount, so this
 * one is an empty committed layer, answered AlreadyExists like the first.
 */
static void commit_empty(struct grpc_reply *reply, struct store *store, const char *parent,
			 struct json_object *labels, const struct lazy_ref *ref)
{
	struct snap *s = lazy_snap_new(store, parent, labels, ref);
	int r;

	if (!s)
		return fail_io(reply, -ENOMEM, "snapshot '%s'", ref->name);
	s->lazy_store = mfree(s->lazy_store);
	s->lazy_index = mfree(s->lazy_index);
	s->empty = true;
	r = layout_create(store, s->id, SNAP_COMMITTED);
	if (r >= 0) {
		r = store_add(store, s);
		if (r < 0)
			(void)layout_remove(store, s->id);
	}
	if (r < 0) {
		fail_io(reply, r, "snapshot '%s': record it", ref->name);
		snap_free(s);
		return;
	}
	grpc_reply_error(reply, GRPC_ALREADY_EXISTS,
			 "snapshot '%s' already exists (a layer of the brisk image below it)",
			 ref->name);
}

/* The outcome of LP's mount (R, brisk-imagefs's ERR): record it, answer every waiter. */
static void mounted(int r, char *err, void *userdata)
{
	struct lazy_prepare *lp = userdata, **p;
	struct snap *s = lp->snap;
	struct grpc_reply reply = {};

	if (r < 0) {
		grpc_reply_error(&reply, r == -EIO ? GRPC_UNKNOWN : grpc_code_from_errno(r),
				 "snapshot '%s': mount brisk image '%s@%s': %s", s->key,
				 s->lazy_store, s->lazy_index, err ? err : strerror(-r));
		log_info("%s", reply.message ? reply.message : "mount failed");
	} else if ((r = store_add(lp->store, s)) < 0) {
		fail_io(&reply, r, "snapshot '%s': record it", s->key);
		(void)lazy_umount(lp->store, s->id);
	} else {
		log_info("snapshot '%s': brisk image '%s@%s' mounted lazily", s->key, s->lazy_store,
			 s->lazy_index);
		grpc_reply_error(&reply, GRPC_ALREADY_EXISTS,
				 "snapshot '%s' already exists (brisk image mounted lazily)",
				 s->key);
	}
	free(err);
	if (r < 0) {
		(void)layout_remove(lp->store, s->id);
		snap_free(s);
	}
	for (p = &in_progress; *p != lp; p = &(*p)->next)
		;
	*p = lp->next;
	for (size_t i = 0; i < lp->n_waiters; i++) {
		struct grpc_reply each = {.code = reply.code};

		each.message = reply.message ? strdup(reply.message) : NULL;
		grpc_pending_finish(lp->waiters[i], &each);
	}
	free(reply.message);
	free(lp->waiters);
	free(lp);
}

void service_prepare_lazy(struct grpc_reply *reply, struct store *store, const char *parent,
			  struct json_object *labels, const struct lazy_ref *ref)
{
	struct lazy_prepare *lp;
	struct snap *s;
	int r;

	if (store_find(store, ref->name)) {
		grpc_reply_error(reply, GRPC_ALREADY_EXISTS, "snapshot '%s' already exists",
				 ref->name);
		return;
	}
	lp = find(ref->name);
	if (lp) {
		(void)wait_for(lp, reply);
		return;
	}
	if (parent && *parent && parent_is_image(store, parent, ref))
		return commit_empty(reply, store, parent, labels, ref);
	lp = calloc(1, sizeof(*lp));
	s = lp ? lazy_snap_new(store, parent, labels, ref) : NULL;
	if (!s) {
		free(lp);
		return fail_io(reply, -ENOMEM, "snapshot '%s'", ref->name);
	}
	lp->store = store;
	lp->snap = s;
	r = layout_create(store, s->id, SNAP_COMMITTED);
	if (r < 0) {
		fail_io(reply, r, "snapshot '%s': create its directory", s->key);
		goto out_free;
	}
	r = lazy_mount_start(store, s->id, s->lazy_store, s->lazy_index, mounted, lp);
	if (r < 0) {
		fail_io(reply, r, "snapshot '%s': run brisk-imagefs", s->key);
		(void)layout_remove(store, s->id);
		goto out_free;
	}
	lp->next = in_progress;
	in_progress = lp;
	/* out of memory here: the mount goes on, and is recorded for whoever asks again */
	(void)wait_for(lp, reply);
	return;
out_free:
	snap_free(s);
	free(lp);
}
