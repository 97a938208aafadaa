/* SPDX-License-Identifier: Apache-2.0 */
/* The index writer and reader: a tree built through the converter's internals, written, read
 * back through the public reader API; path normalisation; whiteout semantics; crafted indexes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "imagefs/imagefs-internal.h"

static void test_normalize(void **state)
{
	static const struct {
		const char *in, *out;
	} ok[] = {{"./a/b/", "a/b"}, {"a//b/./c", "a/b/c"},
		  {"./", ""},	     {".", ""},
		  {"a", "a"},	     {"a/.wh..wh..opq", "a/.wh..wh..opq"},
		  {"/", ""},	     {"//", ""}};
	static const char *const bad[] = {"/etc", "//etc/", "/./", "../x", "a/../b", "a/..", ".."};
	(void)state;

	for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
		_cleanup_free_ char *p = NULL;
		assert_int_equal(ifs_path_normalize(ok[i].in, &p), 0);
		assert_string_equal(p, ok[i].out);
	}
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		char *p = NULL;
		assert_int_equal(ifs_path_normalize(bad[i], &p), -EINVAL);
		assert_null(p);
	}
}

static struct ifs_bnode *add(struct ifs_tree *t, const char *path, uint32_t mode)
{
	struct ifs_bnode *dir, *n = ifs_bnode_new(mode);
	const char *base;

	assert_non_null(n);
	assert_int_equal(ifs_tree_walk_parent(t, path, &dir, &base), 0);
	assert_int_equal(ifs_tree_link(t, dir, base, n), 0);
	return n;
}

static struct {
	struct ifs_tree t;
	struct ifs_chunker *c;
	char dir[64];
	int dfd;
	void *buf;
	size_t len;
} w;

static void build(uint32_t chunk_size)
{
	struct ifs_bnode *n;
	uint32_t chunk;
	static uint8_t data[3 * 4096 + 100];

	strcpy(w.dir, "/tmp/brisk-test-index-XXXXXX");
	assert_non_null(mkdtemp(w.dir));
	w.dfd = open(w.dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	assert_true(w.dfd >= 0);
	assert_int_equal(ifs_chunker_new(w.dfd, chunk_size, 3, &w.c), 0);
	assert_int_equal(ifs_tree_init(&w.t), 0);
	w.t.layer = 1;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + i / 4096);
	add(&w.t, "etc", S_IFDIR | 0755);
	n = add(&w.t, "etc/passwd", S_IFREG | 0644);
	n->size = 5;
	n->inline_data = strdup("root\n");
	n = add(&w.t, "bin/sh", S_IFLNK | 0777); /* bin/ made implicitly */
	n->symlink = strdup("busybox");
	n = add(&w.t, "bin/busybox", S_IFREG | 0755);
	n->size = sizeof(data) + 4096; /* a trailing hole */
	for (uint64_t off = 0; off < sizeof(data); off += chunk_size) {
		size_t len = sizeof(data) - off < chunk_size ? sizeof(data) - off : chunk_size;
		assert_int_equal(ifs_chunker_add(w.c, data + off, len, &chunk), 0);
		n->refs = realloc(n->refs, (n->n_refs + 1) * sizeof(*n->refs));
		n->refs[n->n_refs++] = (struct ifs_bref){off, chunk};
	}
	n->xattrs = calloc(2, sizeof(*n->xattrs));
	n->xattrs[0] = (struct ifs_bxattr){strdup("user.z"), strdup("last"), 4};
	n->xattrs[1] = (struct ifs_bxattr){strdup("security.capability"), strdup("cap"), 3};
	n->n_xattrs = 2;
	/* a hard link */
	struct ifs_bnode *dir;
	const char *base;
	assert_int_equal(ifs_tree_walk_parent(&w.t, "bin/bb", &dir, &base), 0);
	assert_int_equal(ifs_tree_link(&w.t, dir, base, n), 0);
	n = add(&w.t, "dev/null", S_IFCHR | 0666);
	n->rdev_major = 1;
	n->rdev_minor = 3;
	assert_int_equal(ifs_index_write(&w.t, w.c, chunk_size, &w.buf, &w.len), 0);
}

static void teardown_build(void)
{
	ifs_tree_done(&w.t);
	w.c = ifs_chunker_free(w.c);
	free(w.buf);
	w.buf = NULL;
	safe_close(w.dfd);
	assert_int_equal(rm_rf_at(AT_FDCWD, w.dir), 0);
}

static void test_roundtrip(void **state)
{
	_cleanup_(imagefs_index_freep) struct imagefs_index *idx = NULL;
	struct imagefs_stat st;
	struct imagefs_chunk c;
	uint32_t ino, bin, bb, pos, cnt;
	const char *name, *t;
	const void *v;
	size_t len, vlen;
	(void)state;

	build(4096);
	assert_int_equal(imagefs_index_open_buffer(w.buf, w.len, &idx), 0);
	assert_int_equal(imagefs_index_check(idx), 0);
	assert_int_equal(imagefs_index_inode_count(idx), 8);
	/* readdir is sorted */
	assert_int_equal(imagefs_index_readdir(idx, IMAGEFS_ROOT_INO, 0, &name, &len, &ino), 1);
	assert_memory_equal(name, "bin", 3);
	assert_int_equal(imagefs_index_readdir(idx, IMAGEFS_ROOT_INO, 3, &name, &len, &ino), 0);
	assert_int_equal(imagefs_index_lookup(idx, IMAGEFS_ROOT_INO, "bin", 3, &bin), 0);
	assert_int_equal(imagefs_index_lookup(idx, IMAGEFS_ROOT_INO, "nope", 4, &ino), -ENOENT);
	assert_int_equal(imagefs_index_lookup(idx, bin, "busybox", 7, &bb), 0);
	assert_int_equal(imagefs_index_lookup(idx, bin, "bb", 2, &ino), 0);
	assert_int_equal(ino, bb);
	assert_int_equal(imagefs_index_lookup(idx, bb, "x", 1, &ino), -ENOTDIR);
	assert_int_equal(imagefs_index_getattr(idx, bb, &st), 0);
	assert_int_equal(st.nlink, 2);
	assert_int_equal(st.size, 3 * 4096 + 100 + 4096);
	assert_int_equal(imagefs_index_getattr(idx, bin, &st), 0);
	assert_int_equal(st.nlink, 2);
	assert_int_equal(st.parent, IMAGEFS_ROOT_INO);
	/* xattrs sorted, binary search */
	assert_int_equal(imagefs_index_listxattr(idx, bb, 0, &name, &len, &v, &vlen), 1);
	assert_memory_equal(name, "security.capability", len);
	assert_int_equal(imagefs_index_getxattr(idx, bb, "user.z", &v, &vlen), 0);
	assert_memory_equal(v, "last", 4);
	assert_int_equal(imagefs_index_getxattr(idx, bb, "user.nope", &v, &vlen), -ENODATA);
	/* chunks: 4 of them, the hole at the end */
	assert_int_equal(imagefs_index_file_chunk_count(idx, bb, &cnt), 0);
	assert_int_equal(cnt, 4);
	assert_int_equal(imagefs_index_file_chunk_find(idx, bb, 8192 + 5, &pos), 0);
	assert_int_equal(pos, 2);
	assert_int_equal(imagefs_index_file_chunk(idx, bb, 3, &c), 0);
	assert_int_equal(c.file_offset, 3 * 4096);
	assert_int_equal(c.size, 100);
	assert_int_equal(imagefs_index_file_chunk_find(idx, bb, 3 * 4096 + 100, &pos), 0);
	assert_int_equal(pos, 4);
	/* symlink, inline data, device */
	assert_int_equal(imagefs_index_lookup(idx, bin, "sh", 2, &ino), 0);
	assert_int_equal(imagefs_index_readlink(idx, ino, &t, &len), 0);
	assert_memory_equal(t, "busybox", 7);
	assert_int_equal(imagefs_index_lookup(idx, IMAGEFS_ROOT_INO, "etc", 3, &ino), 0);
	assert_int_equal(imagefs_index_lookup(idx, ino, "passwd", 6, &ino), 0);
	assert_int_equal(imagefs_index_inline_data(idx, ino, &v, &len), 0);
	assert_memory_equal(v, "root\n", 5);
	assert_int_equal(imagefs_index_lookup(idx, IMAGEFS_ROOT_INO, "dev", 3, &ino), 0);
	assert_int_equal(imagefs_index_lookup(idx, ino, "null", 4, &ino), 0);
	assert_int_equal(imagefs_index_getattr(idx, ino, &st), 0);
	assert_true(S_ISCHR(st.mode));
	assert_int_equal(st.rdev_minor, 3);
	teardown_build();
}

static void test_whiteouts(void **state)
{
	struct ifs_tree t;
	struct ifs_bnode *n, *dir;
	(void)state;

	assert_int_equal(ifs_tree_init(&t), 0);
	t.layer = 1;
	add(&t, "d", S_IFDIR | 0755);
	add(&t, "d/old", S_IFREG | 0644);
	add(&t, "lnk", S_IFLNK | 0777)->symlink = strdup("/etc");
	t.layer = 2;
	add(&t, "d/new", S_IFREG | 0644);
	assert_int_equal(ifs_tree_resolve(&t, "d", &dir), 0);
	ifs_tree_make_opaque(&t, dir);
	assert_int_equal(ifs_tree_resolve(&t, "d/old", &n), -ENOENT);
	assert_int_equal(ifs_tree_resolve(&t, "d/new", &n), 0);
	const char *base;
	assert_int_equal(ifs_tree_walk_parent(&t, "lnk/x", &dir, &base), -ELOOP);
	assert_int_equal(ifs_tree_walk_parent(&t, "d/new/x", &dir, &base), -ENOTDIR);
	assert_int_equal(ifs_tree_unlink(&t, t.root, "d"), 0);
	assert_int_equal(ifs_tree_resolve(&t, "d/new", &n), -ENOENT);
	assert_int_equal(t.n_nodes, 2);
	ifs_tree_done(&t);
}

/* Every single-byte change of a valid index: open/check/accessors stay in bounds. */
static void test_crafted(void **state)
{
	struct imagefs_index *idx;
	(void)state;

	build(4096);
	uint8_t *copy = aligned_alloc(8, w.len + 8);
	for (size_t i = 0; i < w.len; i++) {
		memcpy(copy, w.buf, w.len);
		copy[i] ^= 0xff;
		if (imagefs_index_open_buffer(copy, w.len, &idx) < 0)
			continue;
		(void)imagefs_index_check(idx);
		for (uint32_t ino = 0; ino < imagefs_index_inode_count(idx); ino++) {
			struct imagefs_stat st;
			const char *name;
			size_t len;
			uint32_t child;
			for (uint64_t p = 0;
			     imagefs_index_readdir(idx, ino, p, &name, &len, &child) > 0; p++)
				(void)imagefs_index_lookup(idx, ino, name, len, &child);
			(void)imagefs_index_getattr(idx, ino, &st);
		}
		imagefs_index_free(idx);
	}
	/* truncation is always refused */
	for (size_t n = 0; n < w.len; n += 8)
		assert_int_not_equal(imagefs_index_open_buffer(w.buf, n, &idx), 0);
	free(copy);
	teardown_build();
}

/* A directory entry that names its own parent makes a cycle: check refuses it. */
static void test_cycle(void **state)
{
	_cleanup_(imagefs_index_freep) struct imagefs_index *idx = NULL;
	(void)state;

	build(4096);
	struct ifs_header *h = w.buf;
	struct ifs_dirent *d = (struct ifs_dirent *)((uint8_t *)w.buf + h->dirents.off);
	struct ifs_inode *in = (struct ifs_inode *)((uint8_t *)w.buf + h->inodes.off);
	/* make the first entry of the first subdirectory point back to it */
	for (uint32_t i = 1; i < h->inodes.count; i++)
		if (S_ISDIR(in[i].mode) && in[i].data_count) {
			d[in[i].data_first].ino = i;
			break;
		}
	assert_int_equal(imagefs_index_open_buffer(w.buf, w.len, &idx), 0);
	assert_int_equal(imagefs_index_check(idx), -EUCLEAN);
	assert_non_null(strstr(ifs_index_error(), "directory inode"));
	teardown_build();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_normalize), cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_whiteouts), cmocka_unit_test(test_crafted),
	    cmocka_unit_test(test_cycle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
