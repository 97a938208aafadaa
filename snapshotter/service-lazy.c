/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prepare for a layer of a brisk image: instead of an empty directory for containerd to unpack
 * into, the image is mounted with brisk-imagefs on the snapshot's fs/ and the snapshot recorded
 * as committed under the name containerd's unpacker would commit it as; the answer is
 * AlreadyExists, on which containerd stats that name and fetches nothing. The mount is made
 * before the record is written: a crash in between leaves a mounted leftover directory, which
 * the next start unmounts and removes (layout_cleanup()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "layout.h"
#include "lazy.h"
#include "log.h"
#include "service.h"

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

void service_prepare_lazy(struct grpc_reply *reply, struct store *store, const char *parent,
			  struct json_object *labels, const struct lazy_ref *ref)
{
	_cleanup_free_ char *err = NULL;
	struct snap *s;
	int r;

	if (store_find(store, ref->name)) {
		grpc_reply_error(reply, GRPC_ALREADY_EXISTS, "snapshot '%s' already exists",
				 ref->name);
		return;
	}
	s = lazy_snap_new(store, parent, labels, ref);
	if (!s)
		return fail_io(reply, -ENOMEM, "snapshot '%s'", ref->name);
	r = layout_create(store, s->id, SNAP_COMMITTED);
	if (r < 0) {
		fail_io(reply, r, "snapshot '%s': create its directory", s->key);
		goto out_free;
	}
	r = lazy_mount(store, s->id, s->lazy_store, s->lazy_index, &err);
	if (r < 0) {
		grpc_reply_error(reply, r == -EIO ? GRPC_UNKNOWN : grpc_code_from_errno(r),
				 "snapshot '%s': mount brisk image '%s@%s': %s", s->key,
				 s->lazy_store, s->lazy_index, err ? err : strerror(-r));
		log_info("%s", reply->message ? reply->message : "mount failed");
		goto out_remove;
	}
	r = store_add(store, s);
	if (r < 0) {
		fail_io(reply, r, "snapshot '%s': record it", ref->name);
		(void)lazy_umount(store, s->id);
		goto out_remove;
	}
	log_info("snapshot '%s': brisk image '%s@%s' mounted lazily", s->key, s->lazy_store,
		 s->lazy_index);
	grpc_reply_error(reply, GRPC_ALREADY_EXISTS,
			 "snapshot '%s' already exists (brisk image mounted lazily)", s->key);
	return;
out_remove:
	(void)layout_remove(store, s->id);
out_free:
	snap_free(s);
}
