/* SPDX-License-Identifier: Apache-2.0 */
/*
 * brisk-snapshotter's metadata store and snapshot directories (snapshotter/store.c, layout.c):
 * what is saved is what a restart loads, a root is one daemon's, crash leftovers go.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "snapshotter/snapshotter-internal.h"

static char root[] = "/tmp/test-snapshotter.XXXXXX";

static int setup(void **state)
{
	(void)state;
	strcpy(root, "/tmp/test-snapshotter.XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rm_rf_at(AT_FDCWD, root);
}

static struct snap *add(struct store *store, const char *key, const char *parent,
			enum snap_kind kind)
{
	struct snap *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->id = store->next_id++;
	s->key = strdup(key);
	s->parent = parent ? strdup(parent) : NULL;
	s->kind = kind;
	s->labels = json_object_new_object();
	s->created.tv_sec = 1000 + (time_t)s->id;
	s->created.tv_nsec = 123456789;
	s->updated = s->created;
	assert_int_equal(layout_create(store, s->id, kind), 0);
	assert_int_equal(store_add(store, s), 0);
	return s;
}

static void test_roundtrip(void **state)
{
	struct store *store = NULL, *again = NULL;
	struct snap *layer, *s;

	(void)state;
	assert_int_equal(store_open(root, &store), 0);
	layer = add(store, "ns/1/layer", NULL, SNAP_COMMITTED);
	layer->size = 8192;
	layer->inodes = 2;
	json_object_object_add(layer->labels, "a", json_object_new_string("b"));
	layer->lazy_store = strdup("registry:127.0.0.1:5000/brisk/bb");
	layer->lazy_index = strdup("sha256:0123");
	add(store, "ns/2/ctr", "ns/1/layer", SNAP_ACTIVE);
	add(store, "ns/3/view", "ns/1/layer", SNAP_VIEW);
	assert_int_equal(store_save(store), 0);
	/* a second daemon on the same root is refused while the first holds it */
	assert_int_equal(store_open(root, &again), -EWOULDBLOCK);
	store_free(store);

	assert_int_equal(store_open(root, &again), 0);
	assert_int_equal(again->n_snaps, 3);
	assert_int_equal(again->next_id, 4);
	s = store_find(again, "ns/1/layer");
	assert_non_null(s);
	assert_int_equal(s->kind, SNAP_COMMITTED);
	assert_null(s->parent);
	assert_int_equal(s->size, 8192);
	assert_int_equal(s->inodes, 2);
	assert_int_equal(s->created.tv_sec, 1001);
	assert_int_equal(s->created.tv_nsec, 123456789);
	assert_string_equal(json_object_get_string(json_object_object_get(s->labels, "a")), "b");
	assert_string_equal(s->lazy_store, "registry:127.0.0.1:5000/brisk/bb");
	assert_string_equal(s->lazy_index, "sha256:0123");
	assert_true(store_has_children(again, "ns/1/layer"));
	s = store_find(again, "ns/2/ctr");
	assert_non_null(s);
	assert_int_equal(s->kind, SNAP_ACTIVE);
	assert_string_equal(s->parent, "ns/1/layer");
	assert_null(s->lazy_index);
	assert_int_equal(store_find(again, "ns/3/view")->kind, SNAP_VIEW);

	/* a removal is saved too */
	assert_int_equal(store_remove(again, store_find(again, "ns/3/view")), 0);
	store_free(again);
	assert_int_equal(store_open(root, &again), 0);
	assert_int_equal(again->n_snaps, 2);
	assert_null(store_find(again, "ns/3/view"));
	store_free(again);
}

/* REL: a path below the root */
static void touch(const char *rel)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
}

static bool exists(const char *rel)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	return access(path, F_OK) == 0;
}

static void test_leftovers(void **state)
{
	struct store *store = NULL;
	char path[4096];

	(void)state;
	assert_int_equal(store_open(root, &store), 0);
	add(store, "kept", NULL, SNAP_ACTIVE);
	store_free(store);
	/* what crashes leave: a directory no record names, one set aside for removal, a temp file
	 */
	snprintf(path, sizeof(path), "%s/snapshots/77/fs", root);
	assert_int_equal(mkdir_p_at(AT_FDCWD, path, 0700), 0);
	snprintf(path, sizeof(path), "%s/snapshots/rm-5/fs", root);
	assert_int_equal(mkdir_p_at(AT_FDCWD, path, 0700), 0);
	touch(".#metadata.json.dead");

	assert_int_equal(store_open(root, &store), 0);
	assert_false(exists(".#metadata.json.dead"));
	assert_int_equal(layout_cleanup(store), 0);
	assert_false(exists("snapshots/77"));
	assert_false(exists("snapshots/rm-5"));
	assert_true(exists("snapshots/1/fs"));
	assert_true(exists("snapshots/1/work"));
	/* an id past next_id (its record never written) is taken again: the leftover is replaced */
	snprintf(path, sizeof(path), "%s/snapshots/2/fs/old", root);
	assert_int_equal(mkdir_p_at(AT_FDCWD, path, 0700), 0);
	add(store, "new", NULL, SNAP_VIEW);
	assert_false(exists("snapshots/2/fs/old"));
	assert_false(exists("snapshots/2/work"));
	store_free(store);
}

static void test_usage(void **state)
{
	struct store *store = NULL;
	struct snap *s;
	int64_t size = 0, inodes = 0;
	char a[4096], b[4096];

	(void)state;
	assert_int_equal(store_open(root, &store), 0);
	s = add(store, "u", NULL, SNAP_ACTIVE);
	assert_int_equal(layout_usage(store, s->id, &size, &inodes), 0);
	assert_int_equal(inodes, 1);
	snprintf(a, sizeof(a), "%s/snapshots/1/fs/a", root);
	snprintf(b, sizeof(b), "%s/snapshots/1/fs/dir", root);
	touch("snapshots/1/fs/a");
	assert_int_equal(mkdir(b, 0700), 0);
	strcat(b, "/hardlink");
	assert_int_equal(link(a, b), 0);
	/* fs/, a, dir/; the hard link is the inode of a */
	assert_int_equal(layout_usage(store, s->id, &size, &inodes), 0);
	assert_int_equal(inodes, 3);
	assert_true(size > 0);
	store_free(store);
}

static void test_mounts(void **state)
{
	struct store *store = NULL;
	struct layout_mount m = {};
	struct snap *l1, *l2, *ctr, *v1, *v2;
	char want[8192];

	(void)state;
	assert_int_equal(store_open(root, &store), 0);
	l1 = add(store, "l1", NULL, SNAP_COMMITTED);
	l2 = add(store, "l2", "l1", SNAP_COMMITTED);
	ctr = add(store, "ctr", "l2", SNAP_ACTIVE);
	v1 = add(store, "v1", "l1", SNAP_VIEW);
	v2 = add(store, "v2", "l2", SNAP_VIEW);

	/* no parent: a bind of its own fs/ */
	assert_int_equal(layout_mount(store, l1, &m), 0);
	assert_string_equal(m.type, "bind");
	layout_mount_done(&m);
	/* active on two layers: an overlay, the nearest layer first */
	assert_int_equal(layout_mount(store, ctr, &m), 0);
	assert_string_equal(m.type, "overlay");
	snprintf(want, sizeof(want), "lowerdir=%s/snapshots/%u/fs:%s/snapshots/%u/fs", root,
		 (unsigned)l2->id, root, (unsigned)l1->id);
	assert_string_equal(
	    m.options[m.options[0] && strcmp(m.options[0], "index=off") == 0 ? 3 : 2], want);
	layout_mount_done(&m);
	/* a view of one layer: a read-only bind of it; of two: an overlay with no upper */
	assert_int_equal(layout_mount(store, v1, &m), 0);
	assert_string_equal(m.type, "bind");
	assert_string_equal(m.options[0], "ro");
	layout_mount_done(&m);
	assert_int_equal(layout_mount(store, v2, &m), 0);
	assert_string_equal(m.type, "overlay");
	for (char **o = m.options; *o; o++)
		assert_null(strstr(*o, "upperdir"));
	layout_mount_done(&m);
	store_free(store);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_leftovers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_usage, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mounts, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
