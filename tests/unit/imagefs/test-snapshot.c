/* SPDX-License-Identifier: Apache-2.0 */
/* Snapshots as content: a checkpoint directory converted into a dir: store and exported back
 * byte for byte (holes, all-zero and shared chunks, inline files, a subdirectory), dedup of a
 * second snapshot, and exports that fail leaving nothing (corrupt pack, image ref, bad dir). */
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

#include "common/cleanup.h"
#include "common/fs.h"
#include "imagefs/imagefs-internal.h"

static char tmp[64];

static char *at(const char *rel)
{
	char *p = path_join(tmp, rel);

	assert_non_null(p);
	return p;
}

static void write_at(const char *rel, const void *data, size_t len, off_t off)
{
	_cleanup_free_ char *p = at(rel);
	_cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, len, off), (ssize_t)len);
}

static void make_snapshot(const char *dir, unsigned char seed)
{
	_cleanup_free_ char *sub = NULL;
	char name[128];
	unsigned char *pages = malloc(3u << 20);

	assert_non_null(pages);
	_cleanup_free_ char *d = at(dir);
	assert_int_equal(mkdir(d, 0700), 0);
	assert_true(asprintf(&sub, "%s/sub", dir) > 0);
	_cleanup_free_ char *sd = at(sub);
	assert_int_equal(mkdir(sd, 0700), 0);
	for (size_t i = 0; i < (3u << 20); i++)
		pages[i] = (unsigned char)(i * 2654435761u >> 13);
	pages[(2u << 20) + 5] = seed; /* the third MiB differs between snapshots */
	snprintf(name, sizeof(name), "%s/pages-1.img", dir);
	write_at(name, pages, 3u << 20, 0);
	snprintf(name, sizeof(name), "%s/sparse.img", dir);
	write_at(name, pages, 4096, 7u << 20); /* a 7 MiB hole first */
	snprintf(name, sizeof(name), "%s/brisk-snapshot.json", dir);
	write_at(name, "{\"version\":1}", 13, 0);
	snprintf(name, sizeof(name), "%s/sub/inventory.img", dir);
	write_at(name, pages + 100, 200, 0);
	snprintf(name, sizeof(name), "%s/empty.img", dir);
	write_at(name, "", 0, 0);
	free(pages);
}

static void assert_same_file(const char *a, const char *b)
{
	_cleanup_free_ char *pa = at(a), *pb = at(b), *da = NULL, *db = NULL;
	size_t la, lb;

	assert_int_equal(read_file_at(AT_FDCWD, pa, 64u << 20, &da, &la), 0);
	assert_int_equal(read_file_at(AT_FDCWD, pb, 64u << 20, &db, &lb), 0);
	assert_int_equal(la, lb);
	assert_memory_equal(da, db, la);
}

static struct imagefs_store *store(const char *ref)
{
	_cleanup_free_ char *spec = NULL;
	struct imagefs_store *s;

	assert_true(asprintf(&spec, "dir:%s/%s", tmp, ref) > 0);
	assert_int_equal(imagefs_store_open(spec, NULL, &s), 0);
	return s;
}

static void convert(const char *dir, const char *ref, struct imagefs_convert_stats *st)
{
	_cleanup_(imagefs_store_freep) struct imagefs_store *s = store(ref);
	_cleanup_free_ char *src = NULL;
	struct digest d;

	assert_true(asprintf(&src, "snapshot:%s/%s", tmp, dir) > 0);
	assert_int_equal(imagefs_convert(src, s, NULL, &d, st), 0);
}

static int export_snapshot(const char *ref, const char *dir)
{
	_cleanup_(imagefs_store_freep) struct imagefs_store *s = store(ref);
	_cleanup_free_ char *p = at(dir);

	return imagefs_export_snapshot(s, p);
}

/* Nothing but the names listed is left in the test directory. */
static size_t entries(void)
{
	_cleanup_closedir_ DIR *d = opendir(tmp);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += de->d_name[0] != '.' || strstr(de->d_name, "export") != NULL;
	return n;
}

static void test_roundtrip_and_dedup(void **state)
{
	static const char *const files[] = {"pages-1.img", "sparse.img", "brisk-snapshot.json",
					    "sub/inventory.img", "empty.img"};
	struct imagefs_convert_stats st1, st2;
	char a[64], b[64];
	(void)state;

	make_snapshot("s1", 1);
	make_snapshot("s2", 2);
	convert("s1", "store:one", &st1);
	assert_int_equal(st1.reused_bytes, 0);
	convert("s2", "store:two", &st2);
	/* two of pages-1.img's three MiB, and inventory.img, are the first snapshot's */
	assert_true(st2.reused_bytes >= (2u << 20));
	assert_true(st2.unique_bytes - st2.reused_bytes <= (1u << 20) + 4096);
	assert_int_equal(export_snapshot("store:two", "out"), 0);
	for (size_t i = 0; i < ELEMENTSOF(files); i++) {
		snprintf(a, sizeof(a), "s2/%s", files[i]);
		snprintf(b, sizeof(b), "out/%s", files[i]);
		assert_same_file(a, b);
	}
	/* the hole stays a hole */
	_cleanup_free_ char *sp = at("out/sparse.img");
	struct stat sb;
	assert_int_equal(stat(sp, &sb), 0);
	assert_int_equal(sb.st_size, (7u << 20) + 4096);
	assert_true(sb.st_blocks * 512 < (1u << 20));
	/* a non-empty target is refused */
	assert_int_equal(export_snapshot("store:one", "out"), -ENOTEMPTY);
}

static void test_failures_leave_nothing(void **state)
{
	_cleanup_(imagefs_index_freep) struct imagefs_index *idx = NULL;
	char hex[DIGEST_HEX_SIZE + 1], name[128];
	struct digest d, bd;
	(void)state;

	size_t before = entries();
	/* the snapshot is one, a missing tag is an error */
	{
		_cleanup_(imagefs_store_freep) struct imagefs_store *s = store("store:one");
		assert_int_equal(imagefs_store_open_index(s, &d, &idx), 0);
	}
	assert_true(ifs_index_is_snapshot(idx));
	assert_int_equal(export_snapshot("store:missing", "x"), -ENOENT);
	assert_int_equal(entries(), before);
	/* a directory without brisk-snapshot.json */
	_cleanup_free_ char *plain = at("plain");
	assert_int_equal(mkdir(plain, 0700), 0);
	assert_int_equal(imagefs_snapshot_dir_check(plain), -EMEDIUMTYPE);
	/* a corrupt pack: the chunk digest check fails, no target, no staging directory */
	assert_int_equal(imagefs_index_blob(idx, 0, &bd, NULL), 0);
	snprintf(name, sizeof(name), "store/blobs/sha256/%s", digest_format_hex(&bd, hex));
	_cleanup_free_ char *bp = at(name);
	assert_int_equal(chmod(bp, 0644), 0);
	write_at(name, "corrupt!", 8, 64);
	before = entries();
	assert_true(export_snapshot("store:one", "bad") < 0);
	assert_int_equal(entries(), before);
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/test-snapshot.XXXXXX");
	return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rm_rf_at(AT_FDCWD, tmp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip_and_dedup),
	    cmocka_unit_test(test_failures_leave_nothing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
