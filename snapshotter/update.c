/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Update: only labels change. With no mask, or the path "labels", the request's labels replace
 * all of them; "labels.NAME" sets NAME from the request, or deletes it when the request has no
 * such label (containerd's rule). Any other path is an error naming it.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "info.h"
#include "common/json.h"
#include "service.h"

/* LABELS updated by REQ as the mask says: a new object in *RET, or an error answered. */
static int apply_mask(struct grpc_reply *reply, const struct snap *s,
		      const Snap__UpdateSnapshotRequest *req, struct json_object *want,
		      struct json_object **ret)
{
	_cleanup_json_ struct json_object *out = NULL;
	size_t n = req->update_mask ? req->update_mask->n_paths : 0;

	if (n == 0) {
		*ret = json_object_get(want);
		return 0;
	}
	if (json_object_deep_copy(s->labels, &out, NULL) < 0) {
		grpc_reply_error(reply, GRPC_RESOURCE_EXHAUSTED, "update '%s': out of memory",
				 s->key);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const char *p = req->update_mask->paths[i];
		struct json_object *v;

		if (strcmp(p, "labels") == 0) {
			json_object_put(out);
			out = json_object_get(want);
		} else if (strncmp(p, "labels.", 7) == 0 && p[7]) {
			if (json_object_object_get_ex(want, p + 7, &v))
				json_object_object_add(out, p + 7, json_object_get(v));
			else
				json_object_object_del(out, p + 7);
		} else {
			grpc_reply_error(reply, GRPC_INVALID_ARGUMENT,
					 "update '%s': field '%s' cannot be updated", s->key, p);
			return -EINVAL;
		}
	}
	*ret = TAKE_PTR(out);
	return 0;
}

void service_update(const uint8_t *msg, size_t len, struct grpc_reply *reply, void *userdata)
{
	Snap__UpdateSnapshotRequest *req = snap__update_snapshot_request__unpack(NULL, len, msg);
	_cleanup_json_ struct json_object *want = NULL, *labels = NULL;
	_cleanup_free_ char *err = NULL;
	struct store *store = userdata;
	struct json_object *old;
	struct timespec old_time;
	struct snap *s;
	int r;

	if (!req)
		return bad_request(reply, "Update");
	if (!req->info) {
		grpc_reply_error(reply, GRPC_INVALID_ARGUMENT, "update: no snapshot named");
		goto out;
	}
	s = lookup(reply, store, req->info->name);
	if (!s)
		goto out;
	r = labels_from_entries((void *const *)req->info->labels, req->info->n_labels, &want, &err);
	if (r < 0) {
		grpc_reply_error(reply, GRPC_INVALID_ARGUMENT, "update '%s': %s", s->key,
				 err ? err : "out of memory");
		goto out;
	}
	if (apply_mask(reply, s, req, want, &labels) < 0)
		goto out;
	old = s->labels;
	old_time = s->updated;
	s->labels = labels;
	clock_gettime(CLOCK_REALTIME, &s->updated);
	r = store_save(store);
	if (r < 0) {
		s->labels = old;
		s->updated = old_time;
		fail_io(reply, r, "update '%s'", s->key);
		goto out;
	}
	labels = old;
	reply_info(reply, s);
out:
	snap__update_snapshot_request__free_unpacked(req, NULL);
}
