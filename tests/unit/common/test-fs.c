/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"

static char tmpdir[] = "/tmp/brisk-fs-XXXXXX";
static int dfd = -EBADF;

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	dfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return dfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	int r = rm_rf_at(AT_FDCWD, tmpdir);
	safe_close(dfd);
	return r;
}

static void test_read_write(void **state)
{
	(void)state;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;

	assert_int_equal(write_file_atomic_at(dfd, "f", "hello", 5, 0600, true), 0);
	assert_int_equal(read_file_at(dfd, "f", 100, &buf, &len), 0);
	assert_int_equal(len, 5);
	assert_string_equal(buf, "hello");
	struct stat st;
	assert_int_equal(fstatat(dfd, "f", &st, 0), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* too big */
	char *b2 = NULL;
	assert_int_equal(read_file_at(dfd, "f", 3, &b2, NULL), -EFBIG);
	assert_null(b2);
	assert_int_equal(read_file_at(dfd, "missing", 3, &b2, NULL), -ENOENT);
	/* write_string_at does not create */
	assert_int_equal(write_string_at(dfd, "nope", "x"), -ENOENT);
	assert_int_equal(write_string_at(dfd, "f", "J"), 0);
	free(buf);
	buf = NULL;
	assert_int_equal(read_file_at(dfd, "f", 100, &buf, NULL), 0);
	assert_string_equal(buf, "Jello");
	/* empty file */
	assert_int_equal(write_file_atomic_at(dfd, "empty", "", 0, 0644, false), 0);
	free(buf);
	buf = NULL;
	assert_int_equal(read_file_at(dfd, "empty", 100, &buf, &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal(buf, "");
	assert_int_equal(write_all(-1, "x", 1), -EBADF);
}

static void test_atomic_failure_leaves_nothing(void **state)
{
	(void)state;
	/* rename over a non-empty directory fails: no temp file may remain */
	assert_int_equal(mkdir_p_at(dfd, "atomic/target/x", 0755), 0);
	int fd = openat(dfd, "atomic", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	int r = write_file_atomic_at(fd, "target", "data", 4, 0644, false);
	assert_true(r == -EISDIR || r == -ENOTEMPTY || r == -EEXIST);
	_cleanup_closedir_ DIR *d = fdopendir(fd);
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' || strlen(de->d_name) > 2)
			n++;
	assert_int_equal(n, 1);
	assert_int_equal(write_file_atomic_at(dfd, "no/such/dir/f", "x", 1, 0644, false), -ENOENT);
}

static void test_mkdir_p_and_rm_rf(void **state)
{
	(void)state;
	struct stat st;
	assert_int_equal(mkdir_p_at(dfd, "a/b//c/", 0755), 0);
	assert_int_equal(mkdir_p_at(dfd, "a/b/c", 0755), 0);
	assert_int_equal(fstatat(dfd, "a/b/c", &st, 0), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(write_file_atomic_at(dfd, "a/b/file", "x", 1, 0644, false), 0);
	assert_int_equal(mkdir_p_at(dfd, "a/b/file/d", 0755), -ENOTDIR);
	assert_int_equal(symlinkat("/etc", dfd, "a/b/link"), 0);
	assert_int_equal(rm_rf_at(dfd, "a"), 0);
	assert_int_equal(fstatat(dfd, "a", &st, 0), -1);
	assert_int_equal(errno, ENOENT);
	/* the symlink's target survived */
	assert_int_equal(stat("/etc/passwd", &st), 0);
	assert_int_equal(rm_rf_at(dfd, "a"), 0);
	assert_int_equal(write_file_atomic_at(dfd, "single", "x", 1, 0644, false), 0);
	assert_int_equal(rm_rf_at(dfd, "single"), 0);
}

static void test_paths(void **state)
{
	(void)state;
	_cleanup_free_ char *a = path_join("/run/brisk/", "/id");
	_cleanup_free_ char *b = path_join("x", "y/z");
	assert_string_equal(a, "/run/brisk/id");
	assert_string_equal(b, "x/y/z");
	assert_true(path_is_safe_relative("a/b/c"));
	assert_true(path_is_safe_relative("a/..b/c"));
	assert_false(path_is_safe_relative("a/../c"));
	assert_false(path_is_safe_relative(".."));
	assert_false(path_is_safe_relative("/abs"));
	assert_false(path_is_safe_relative(""));
	assert_false(path_is_safe_relative(NULL));
}

/* A root with escapes: abs symlink to /etc, relative ../../.. chains, a loop. */
static int make_root(void)
{
	assert_int_equal(mkdir_p_at(dfd, "root/etc", 0755), 0);
	assert_int_equal(mkdir_p_at(dfd, "root/dir/sub", 0755), 0);
	assert_int_equal(write_file_atomic_at(dfd, "root/etc/passwd", "inside", 6, 0644, false), 0);
	assert_int_equal(symlinkat("/etc/passwd", dfd, "root/abs"), 0);
	assert_int_equal(symlinkat("../../../../../../etc/passwd", dfd, "root/dir/sub/rel"), 0);
	assert_int_equal(symlinkat("/", dfd, "root/dir/up"), 0);
	assert_int_equal(symlinkat("loop2", dfd, "root/loop1"), 0);
	assert_int_equal(symlinkat("loop1", dfd, "root/loop2"), 0);
	assert_int_equal(write_file_atomic_at(dfd, "root/file", "f", 1, 0644, false), 0);
	int root = openat(dfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(root >= 0);
	return root;
}

static void check_inside(int (*fn)(int, const char *, int, mode_t), int root, const char *path)
{
	char buf[16] = {0};
	int fd = fn(root, path, O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), 6);
	assert_string_equal(buf, "inside");
	close(fd);
}

static void run_in_root(int (*fn)(int, const char *, int, mode_t))
{
	_cleanup_close_ int root = make_root();

	check_inside(fn, root, "etc/passwd");
	check_inside(fn, root, "/abs");
	check_inside(fn, root, "dir/sub/rel");
	check_inside(fn, root, "../../../etc/passwd");
	check_inside(fn, root, "dir/up/dir/up/etc/passwd");
	assert_int_equal(fn(root, "loop1", O_RDONLY, 0), -ELOOP);
	assert_int_equal(fn(root, "missing/x", O_RDONLY, 0), -ENOENT);
	assert_int_equal(fn(root, "file/x", O_RDONLY, 0), -ENOTDIR);
	/* create through a symlinked parent lands inside */
	int fd = fn(root, "dir/up/etc/new", O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	struct stat st;
	assert_int_equal(fstatat(dfd, "root/etc/new", &st, 0), 0);
	/* O_NOFOLLOW on the last component opens nothing through it */
	assert_int_equal(fn(root, "abs", O_RDONLY | O_NOFOLLOW, 0), -ELOOP);
	fd = fn(root, "..", O_RDONLY | O_DIRECTORY, 0);
	assert_true(fd >= 0);
	assert_int_equal(fstatat(fd, "etc/passwd", &st, 0), 0);
	close(fd);
	assert_int_equal(rm_rf_at(dfd, "root"), 0);
}

static void test_open_in_root(void **state)
{
	(void)state;
	run_in_root(open_in_root);
}

static void test_open_in_root_fallback(void **state)
{
	(void)state;
	run_in_root(open_in_root_fallback);
}

static void test_close_fds_and_parse(void **state)
{
	(void)state;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int hi = fcntl(fd, F_DUPFD_CLOEXEC, 200);
	assert_true(hi >= 200);
	close(fd);
	int lo = fcntl(hi, F_DUPFD, 150); /* inherited: no close-on-exec */
	assert_true(lo >= 150 && lo < 200);
	assert_int_equal(fcntl(lo, F_GETFD) & FD_CLOEXEC, 0);
	assert_int_equal(cloexec_fds_from(150), 0);
	assert_int_equal(fcntl(lo, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	close(lo);
	assert_int_equal(close_fds_from(200), 0);
	assert_int_equal(fcntl(hi, F_GETFD), -1);
	assert_int_equal(errno, EBADF);

	unsigned long long u;
	int i;
	assert_int_equal(parse_uint64("18446744073709551615", &u), 0);
	assert_true(u == 18446744073709551615ULL);
	assert_int_equal(parse_uint64("18446744073709551616", &u), -ERANGE);
	assert_int_equal(parse_uint64("-1", &u), -EINVAL);
	assert_int_equal(parse_uint64("12x", &u), -EINVAL);
	assert_int_equal(parse_uint64("", &u), -EINVAL);
	assert_int_equal(parse_int("-12", &i), 0);
	assert_int_equal(i, -12);
	assert_int_equal(parse_int("2147483648", &i), -ERANGE);
	assert_int_equal(parse_int(" 1", &i), -EINVAL);
	assert_int_equal(parse_int("1 ", &i), -EINVAL);
	assert_int_equal(parse_int(NULL, &i), -EINVAL);
}

/* MemAvailable: a count of KiB, between 0 and MemTotal */
static bool fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void test_close_fds_except(void **state)
{
	(void)state;
	int keep[] = {301, 305, -1, 303};
	unsigned long bits[512 / (8 * sizeof(long))];

	for (int fd = 300; fd < 307; fd++)
		assert_int_equal(dup2(0, fd), fd);
	assert_int_equal(fds_open_bitmap(bits, 512), 0);
	for (int fd = 300; fd < 307; fd++)
		assert_true(bits[fd / (8 * sizeof(long))] & (1UL << (fd % (8 * sizeof(long)))));
	assert_false(bits[307 / (8 * sizeof(long))] & (1UL << (307 % (8 * sizeof(long)))));
	assert_int_equal(close_fds_except(300, keep, ELEMENTSOF(keep)), 0);
	assert_false(fd_open(300));
	assert_true(fd_open(301));
	assert_false(fd_open(302));
	assert_true(fd_open(303));
	assert_false(fd_open(304));
	assert_true(fd_open(305));
	assert_false(fd_open(306));
	assert_int_equal(fds_open_bitmap(bits, 512), 0);
	assert_false(bits[300 / (8 * sizeof(long))] & (1UL << (300 % (8 * sizeof(long)))));
	/* below LOWEST nothing is touched */
	assert_true(fd_open(0));
	close(301);
	close(303);
	close(305);
	int many[17] = {0};
	assert_int_equal(close_fds_except(300, many, ELEMENTSOF(many)), -E2BIG);
}

static void test_mem_available(void **state)
{
	unsigned long long kib = 0;

	(void)state;
	assert_int_equal(mem_available_kib(&kib), 0);
	assert_true(kib > 0);
	assert_true(kib * 1024 <= (unsigned long long)sysconf(_SC_PHYS_PAGES) *
				      (unsigned long long)sysconf(_SC_PAGESIZE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_read_write),
	    cmocka_unit_test(test_atomic_failure_leaves_nothing),
	    cmocka_unit_test(test_mkdir_p_and_rm_rf),
	    cmocka_unit_test(test_paths),
	    cmocka_unit_test(test_open_in_root),
	    cmocka_unit_test(test_open_in_root_fallback),
	    cmocka_unit_test(test_close_fds_and_parse),
	    cmocka_unit_test(test_close_fds_except),
	    cmocka_unit_test(test_mem_available),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
