/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The mapped files of a snapshot: what a dump records of a live process, how strictly the
 * description is read back, and that a restore's prefetch reads regular files inside the
 * rootfs only, whatever paths an untrusted snapshot names.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "snapshot/snapshot.h"

/* This process maps its own executable, and has run its code: its path is recorded, with the
 * pages present. */
static void test_collect_self(void **state)
{
	struct snapshot_mapped_file *f = NULL;
	size_t n = 0;
	char exe[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	bool found = false;

	(void)state;
	assert_true(len > 0);
	exe[len] = '\0';
	assert_int_equal(snapshot_mapped_files_collect(getpid(), &f, &n), 0);
	assert_true(n > 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(f[i].path[0], '/');
		assert_null(strstr(f[i].path, " (deleted)"));
		for (size_t k = 1; k < f[i].n_ext; k++) /* sorted, merged */
			assert_true(f[i].ext[k].off > f[i].ext[k - 1].off + f[i].ext[k - 1].len);
		if (strcmp(f[i].path, exe) == 0) {
			found = true;
			assert_true(f[i].n_ext > 0);
		}
	}
	assert_true(found);
	snapshot_mapped_files_free(f, n);
}

static int parse(const char *s, struct snapshot_mapped_file **f, size_t *n)
{
	_cleanup_json_ struct json_object *v = NULL;

	assert_int_equal(json_parse(s, strlen(s), &v), 0);
	*f = NULL;
	*n = 0;
	return snapshot_mapped_files_from_json(v, f, n);
}

static void test_json(void **state)
{
	struct snapshot_mapped_file *f;
	size_t n;

	(void)state;
	assert_int_equal(parse("[{\"path\": \"/usr/lib/a.so\", \"pages\": [[0, 4096], [65536, "
			       "8192]]}, {\"path\": \"/b\", \"pages\": []}]",
			       &f, &n),
			 0);
	assert_int_equal(n, 2);
	assert_string_equal(f[0].path, "/usr/lib/a.so");
	assert_int_equal(f[0].n_ext, 2);
	assert_int_equal(f[0].ext[1].off, 65536);
	assert_int_equal(f[0].ext[1].len, 8192);
	struct json_object *back = snapshot_mapped_files_to_json(f, n);
	assert_non_null(back);
	assert_string_equal(json_object_to_json_string_ext(
				back, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
			    "[{\"path\":\"/usr/lib/a.so\",\"pages\":[[0,4096],[65536,8192]]},{"
			    "\"path\":\"/b\",\"pages\":[]}]");
	json_object_put(back);
	snapshot_mapped_files_free(f, n);

	/* what a snapshot cannot say */
	static const char *const bad[] = {
	    "{}",
	    "[{\"path\": \"rel\", \"pages\": []}]",
	    "[{\"path\": \"/a\"}]",
	    "[{\"path\": \"/a\", \"pages\": [], \"x\": 1}]",
	    "[{\"path\": \"/a\", \"pages\": [[-1, 4096]]}]",
	    "[{\"path\": \"/a\", \"pages\": [[0, 0]]}]",
	    "[{\"path\": \"/a\", \"pages\": [[0]]}]",
	    "[{\"path\": \"/a\", \"pages\": [[0, \"1\"]]}]",
	    "[{\"path\": \"/a\", \"pages\": [[9223372036854775807, 9223372036854775807]]}]",
	    "[{\"path\": 1, \"pages\": []}]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = parse(bad[i], &f, &n);
		if (r != -EINVAL)
			fail_msg("accepted or wrong error %d: %s", r, bad[i]);
	}
}

static void write_bytes(int dfd, const char *name, size_t len)
{
	_cleanup_free_ char *buf = calloc(1, len);
	assert_non_null(buf);
	assert_int_equal(write_file_atomic_at(dfd, name, buf, len, 0644, false), 0);
}

/* Of all the paths below, only root/a is read: its head and its recorded pages. */
static void test_prefetch_stays_in_root(void **state)
{
	char top[] = "/var/tmp/brisk-test-mapped-XXXXXX";
	char root[PATH_MAX], link_target[PATH_MAX + 16];
	struct snapshot_file_extent ext_a[] = {{0, 4096}, {8192, 100000}};
	struct snapshot_mapped_file f[] = {
	    {.path = "/a", .ext = ext_a, .n_ext = 2},
	    {.path = "/esc"},	    /* a symlink to the host's secret, by absolute path */
	    {.path = "/../secret"}, /* up and out */
	    {.path = "/fifo"},	    /* would block an open for reading */
	    {.path = "/dir"},	    /* not a file */
	    {.path = "/missing"},
	    {.path = "/up"}, /* a relative symlink up and out */
	};
	struct snapshot_prefetch *p = NULL;
	_cleanup_close_ int tfd = -EBADF, rfd = -EBADF;

	(void)state;
	assert_non_null(mkdtemp(top));
	snprintf(root, sizeof(root), "%s/root", top);
	assert_int_equal(mkdir(root, 0755), 0);
	tfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(tfd >= 0 && rfd >= 0);
	write_bytes(rfd, "a", 10000);
	write_bytes(tfd, "secret", 5000);
	snprintf(link_target, sizeof(link_target), "%s/secret", top);
	assert_int_equal(symlinkat(link_target, rfd, "esc"), 0);
	assert_int_equal(symlinkat("../../secret", rfd, "up"), 0);
	assert_int_equal(mkfifoat(rfd, "fifo", 0600), 0);
	assert_int_equal(mkdirat(rfd, "dir", 0755), 0);

	assert_int_equal(snapshot_prefetch_start(root, f, sizeof(f) / sizeof(f[0]), &p), 0);
	assert_non_null(p);
	/* the head (the whole of a), then [0, 4096) again and [8192, EOF) */
	assert_int_equal(snapshot_prefetch_stop(p, false), 10000 + 4096 + (10000 - 8192));

	assert_int_equal(snapshot_prefetch_start(root, f, 0, &p), 0);
	assert_null(p);
	assert_int_equal(rm_rf_at(AT_FDCWD, top), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_collect_self),
	    cmocka_unit_test(test_json),
	    cmocka_unit_test(test_prefetch_stays_in_root),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
