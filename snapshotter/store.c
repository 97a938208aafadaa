/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Loading and saving the snapshotter's metadata (store.h). The file is read whole at start and
 * every record checked: a record that does not parse stops the daemon with the record's name
 * rather than letting containerd and us disagree silently.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "store.h"

#define METADATA "metadata.json"
#define METADATA_MAX (256u << 20)

static const char *const kind_names[] = {
    [SNAP_VIEW] = "view",
    [SNAP_ACTIVE] = "active",
    [SNAP_COMMITTED] = "committed",
};

const char *snap_kind_name(enum snap_kind kind)
{
	return kind >= SNAP_VIEW && kind <= SNAP_COMMITTED ? kind_names[kind] : "unknown";
}

struct snap *snap_free(struct snap *snap)
{
	if (snap) {
		free(snap->key);
		free(snap->parent);
		free(snap->lazy_store);
		free(snap->lazy_index);
		if (snap->labels)
			json_object_put(snap->labels);
		free(snap);
	}
	return NULL;
}

static void snap_freep(struct snap **s)
{
	*s = snap_free(*s);
}

struct store *store_free(struct store *store)
{
	if (store) {
		for (size_t i = 0; i < store->n_snaps; i++)
			snap_free(store->snaps[i]);
		free(store->snaps);
		safe_close(store->root_fd);
		safe_close(store->lock_fd);
		free(store->root);
		free(store);
	}
	return NULL;
}

static void store_freep(struct store **s)
{
	*s = store_free(*s);
}

struct snap *store_find(const struct store *store, const char *key)
{
	for (size_t i = 0; i < store->n_snaps; i++)
		if (strcmp(store->snaps[i]->key, key) == 0)
			return store->snaps[i];
	return NULL;
}

bool store_has_children(const struct store *store, const char *key)
{
	for (size_t i = 0; i < store->n_snaps; i++)
		if (store->snaps[i]->parent && strcmp(store->snaps[i]->parent, key) == 0)
			return true;
	return false;
}

bool store_has_id(const struct store *store, uint64_t id)
{
	for (size_t i = 0; i < store->n_snaps; i++)
		if (store->snaps[i]->id == id)
			return true;
	return false;
}

static struct json_object *time_to_json(const struct timespec *ts)
{
	struct json_object *a = json_object_new_array();

	if (!a)
		return NULL;
	json_object_array_add(a, json_object_new_int64(ts->tv_sec));
	json_object_array_add(a, json_object_new_int64(ts->tv_nsec));
	return a;
}

static struct json_object *snap_to_json(const struct snap *s)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "id", json_object_new_uint64(s->id));
	json_object_object_add(o, "key", json_object_new_string(s->key));
	if (s->parent)
		json_object_object_add(o, "parent", json_object_new_string(s->parent));
	json_object_object_add(o, "kind", json_object_new_string(snap_kind_name(s->kind)));
	json_object_object_add(o, "labels", json_object_get(s->labels));
	json_object_object_add(o, "created", time_to_json(&s->created));
	json_object_object_add(o, "updated", time_to_json(&s->updated));
	json_object_object_add(o, "size", json_object_new_int64(s->size));
	json_object_object_add(o, "inodes", json_object_new_int64(s->inodes));
	if (s->lazy_index) {
		struct json_object *l = json_object_new_object();

		if (!l) {
			json_object_put(o);
			return NULL;
		}
		json_object_object_add(l, "store", json_object_new_string(s->lazy_store));
		json_object_object_add(l, "index", json_object_new_string(s->lazy_index));
		json_object_object_add(o, "lazy", l);
	}
	if (s->empty)
		json_object_object_add(o, "empty", json_object_new_boolean(true));
	return o;
}

int store_save(struct store *store)
{
	_cleanup_json_ struct json_object *root = json_object_new_object();
	struct json_object *list = json_object_new_array();
	const char *text;
	int r;

	if (!root || !list) {
		if (list)
			json_object_put(list);
		return -ENOMEM;
	}
	json_object_object_add(root, "version", json_object_new_int(1));
	json_object_object_add(root, "next_id", json_object_new_uint64(store->next_id));
	json_object_object_add(root, "snapshots", list);
	for (size_t i = 0; i < store->n_snaps; i++) {
		struct json_object *o = snap_to_json(store->snaps[i]);

		if (!o || json_object_array_add(list, o) < 0)
			return -ENOMEM;
	}
	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	r = write_file_atomic_at(store->root_fd, METADATA, text, strlen(text), 0600, true);
	if (r < 0)
		return r;
	/* the rename is durable once the directory is */
	return RET_NERRNO(fsync(store->root_fd));
}

static int grow(struct store *store)
{
	struct snap **p = reallocarray(store->snaps, store->n_snaps + 1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	store->snaps = p;
	return 0;
}

int store_add(struct store *store, struct snap *snap)
{
	int r = grow(store);

	if (r < 0)
		return r;
	store->snaps[store->n_snaps++] = snap;
	r = store_save(store);
	if (r < 0)
		store->n_snaps--;
	return r;
}

int store_remove(struct store *store, struct snap *snap)
{
	size_t i;
	int r;

	for (i = 0; i < store->n_snaps && store->snaps[i] != snap; i++)
		;
	if (i == store->n_snaps)
		return -ENOENT;
	memmove(store->snaps + i, store->snaps + i + 1, (store->n_snaps - i - 1) * sizeof(snap));
	store->n_snaps--;
	r = store_save(store);
	if (r < 0) {
		memmove(store->snaps + i + 1, store->snaps + i,
			(store->n_snaps - i) * sizeof(snap));
		store->snaps[i] = snap;
		store->n_snaps++;
		return r;
	}
	snap_free(snap);
	return 0;
}

static int time_from_json(struct json_object *o, const char *key, struct timespec *ret)
{
	struct json_object *a;
	int r = json_get_array(o, key, &a);

	if (r < 0)
		return r;
	if (json_object_array_length(a) != 2)
		return -EINVAL;
	ret->tv_sec = json_object_get_int64(json_object_array_get_idx(a, 0));
	ret->tv_nsec = json_object_get_int64(json_object_array_get_idx(a, 1));
	return ret->tv_nsec >= 0 && ret->tv_nsec < 1000000000 ? 0 : -EINVAL;
}

static int kind_from_string(const char *s, enum snap_kind *ret)
{
	for (enum snap_kind k = SNAP_VIEW; k <= SNAP_COMMITTED; k++)
		if (strcmp(kind_names[k], s) == 0) {
			*ret = k;
			return 0;
		}
	return -EINVAL;
}

static int labels_from_json(struct json_object *o, struct json_object **ret)
{
	struct json_object *labels;
	int r = json_get_object(o, "labels", &labels);

	if (r < 0)
		return r;
	json_object_object_foreach(labels, k, v)
	{
		(void)k;
		if (!json_object_is_type(v, json_type_string))
			return -EINVAL;
	}
	*ret = json_object_get(labels);
	return 0;
}

/* "lazy": {"store": ..., "index": ...}, on committed snapshots only */
static int lazy_from_json(struct json_object *o, struct snap *s)
{
	struct json_object *l;
	const char *store, *index;
	int r = json_get_object(o, "lazy", &l);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (s->kind != SNAP_COMMITTED || json_get_string(l, "store", &store) < 0 ||
	    json_get_string(l, "index", &index) < 0)
		return -EINVAL;
	s->lazy_store = strdup(store);
	s->lazy_index = strdup(index);
	return s->lazy_store && s->lazy_index ? 0 : -ENOMEM;
}

/* "empty": true, on committed snapshots with a parent only */
static int empty_from_json(struct json_object *o, struct snap *s)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, "empty", &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean) || s->kind != SNAP_COMMITTED ||
	    s->lazy_index || !json_object_object_get_ex(o, "parent", NULL))
		return -EINVAL;
	s->empty = json_object_get_boolean(v);
	return 0;
}

static int snap_from_json(struct json_object *o, struct snap **ret)
{
	_cleanup_(snap_freep) struct snap *s = calloc(1, sizeof(*s));
	const char *key, *parent = NULL, *kind;
	int r;

	if (!s)
		return -ENOMEM;
	r = json_get_uint64(o, "id", &s->id);
	if (r >= 0)
		r = json_get_string(o, "key", &key);
	if (r >= 0)
		r = json_get_string(o, "kind", &kind);
	if (r >= 0)
		r = kind_from_string(kind, &s->kind);
	if (r >= 0 && json_get_string(o, "parent", &parent) == -EINVAL)
		r = -EINVAL;
	if (r >= 0)
		r = labels_from_json(o, &s->labels);
	if (r >= 0)
		r = time_from_json(o, "created", &s->created);
	if (r >= 0)
		r = time_from_json(o, "updated", &s->updated);
	if (r >= 0)
		r = json_get_int64(o, "size", &s->size);
	if (r >= 0)
		r = json_get_int64(o, "inodes", &s->inodes);
	if (r >= 0)
		r = lazy_from_json(o, s);
	if (r >= 0)
		r = empty_from_json(o, s);
	if (r < 0)
		return r;
	s->key = strdup(key);
	s->parent = parent ? strdup(parent) : NULL;
	if (!s->key || (parent && !s->parent))
		return -ENOMEM;
	*ret = TAKE_PTR(s);
	return 0;
}

/* every parent must be a committed snapshot of the store, every key and id unique */
static int check_links(const struct store *store)
{
	for (size_t i = 0; i < store->n_snaps; i++) {
		const struct snap *s = store->snaps[i], *p;

		for (size_t j = 0; j < i; j++)
			if (strcmp(store->snaps[j]->key, s->key) == 0 ||
			    store->snaps[j]->id == s->id)
				return log_error_errno(-EINVAL, "'%s/%s': snapshot '%s' twice",
						       store->root, METADATA, s->key);
		if (!s->parent)
			continue;
		p = store_find(store, s->parent);
		if (!p || p->kind != SNAP_COMMITTED)
			return log_error_errno(-EINVAL,
					       "'%s/%s': parent '%s' of '%s' is not a committed "
					       "snapshot",
					       store->root, METADATA, s->parent, s->key);
	}
	return 0;
}

/* temp files of a save that a crash cut short (write_file_atomic_at() names them ".#NAME.*") */
static void remove_temp_files(struct store *store)
{
	_cleanup_closedir_ DIR *d = fdopendir(fcntl(store->root_fd, F_DUPFD_CLOEXEC, 3));
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (strncmp(de->d_name, ".#" METADATA ".", strlen(".#" METADATA ".")) == 0 &&
		    unlinkat(store->root_fd, de->d_name, 0) < 0)
			log_warning_errno(-errno, "remove '%s/%s': %m, ignoring", store->root,
					  de->d_name);
}

static int load(struct store *store)
{
	_cleanup_json_ struct json_object *root = NULL;
	struct json_object *list;
	int r = json_parse_file_at(store->root_fd, METADATA, &root);

	if (r == -ENOENT)
		return store_save(store);
	if (r < 0)
		return log_error_errno(r, "read '%s/%s': %m", store->root, METADATA);
	if (json_get_uint64(root, "next_id", &store->next_id) < 0 ||
	    json_get_array(root, "snapshots", &list) < 0)
		return log_error_errno(-EINVAL, "'%s/%s': not snapshot metadata", store->root,
				       METADATA);
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct snap *s;

		r = grow(store);
		if (r < 0)
			return r;
		r = snap_from_json(json_object_array_get_idx(list, i), &s);
		if (r < 0)
			return log_error_errno(r, "'%s/%s': snapshot record %zu: %m", store->root,
					       METADATA, i);
		store->snaps[store->n_snaps++] = s;
		if (s->id >= store->next_id)
			store->next_id = s->id + 1;
	}
	return check_links(store);
}

int store_open(const char *root, struct store **ret)
{
	_cleanup_(store_freep) struct store *store = calloc(1, sizeof(*store));
	int r;

	if (!store)
		return -ENOMEM;
	store->root_fd = store->lock_fd = -EBADF;
	store->next_id = 1;
	store->root = strdup(root);
	if (!store->root)
		return -ENOMEM;
	r = mkdir_p_at(AT_FDCWD, root, 0700);
	if (r < 0)
		return log_error_errno(r, "create '%s': %m", root);
	store->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (store->root_fd < 0)
		return log_error_errno(-errno, "open '%s': %m", root);
	store->lock_fd = openat(store->root_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (store->lock_fd < 0)
		return log_error_errno(-errno, "open '%s/lock': %m", root);
	if (flock(store->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return log_error_errno(-errno, "'%s' is in use by another snapshotter: %m", root);
	r = mkdir_p_at(store->root_fd, "snapshots", 0700);
	if (r < 0)
		return log_error_errno(r, "create '%s/snapshots': %m", root);
	remove_temp_files(store);
	r = load(store);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(store);
	return 0;
}
