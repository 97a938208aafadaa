/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A request to brisk-snapshotter comes from whoever can reach its socket: the first byte picks
 * the method (in service_methods order), the rest is the message. Each input gets a fresh store
 * holding a committed layer "base" and an active "a" on it, so that every method has something
 * to act on; the verdict is the call's gRPC status. A Prepare for a brisk image runs /bin/false
 * in place of brisk-imagefs: a fuzzer reaches no registry.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fs.h"
#include "common/log.h"
#include "snapshotter/snapshotter-internal.h"
#include "fuzz.h"

FUZZ_TARGET

static int add(struct store *store, const char *key, const char *parent, enum snap_kind kind)
{
	struct snap *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->id = store->next_id++;
	s->key = strdup(key);
	s->parent = parent ? strdup(parent) : NULL;
	s->kind = kind;
	s->labels = json_object_new_object();
	clock_gettime(CLOCK_REALTIME, &s->created);
	s->updated = s->created;
	r = layout_create(store, s->id, kind);
	if (r >= 0)
		r = store_add(store, s);
	if (r < 0)
		snap_free(s);
	return r;
}

int fuzz_parse(const uint8_t *data, size_t size)
{
	char root[] = "/tmp/fuzz-snapshotter.XXXXXX";
	struct grpc_reply reply = {};
	struct store *store = NULL;
	int r;

	if (size < 1)
		return -EINVAL;
	log_set_level(LOG_LEVEL_ERROR);
	lazy_set_imagefs("/bin/false");
	if (!mkdtemp(root))
		return -errno;
	r = store_open(root, &store);
	if (r >= 0)
		r = add(store, "base", NULL, SNAP_COMMITTED);
	if (r >= 0)
		r = add(store, "a", "base", SNAP_ACTIVE);
	if (r >= 0) {
		service_methods[data[0] % service_n_methods].handler(data + 1, size - 1, &reply,
								     store);
		r = reply.code == GRPC_OK ? 0 : -EINVAL;
	}
	free(reply.data);
	free(reply.message);
	store_free(store);
	(void)rm_rf_at(AT_FDCWD, root);
	return r;
}
