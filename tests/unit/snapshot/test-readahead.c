/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading a snapshot's memory images ahead: the pages-N.img files of a directory come into
 * the page cache, and nothing else of it does.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "snapshot/snapshot.h"

#define MIB (1u << 20)

static char dir[] = "/var/tmp/brisk-test-readahead-XXXXXX";
static int dfd = -1;

/* A file of LEN bytes of a pattern, written out and dropped from the page cache. */
static void make_file(const char *name, size_t len)
{
	_cleanup_free_ char *buf = malloc(MIB);
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_non_null(buf);
	assert_true(fd >= 0);
	for (size_t i = 0; i < MIB; i++)
		buf[i] = (char)(i * 7 + 1);
	for (size_t off = 0; off < len; off += MIB)
		assert_int_equal(write(fd, buf, len - off < MIB ? len - off : MIB),
				 (ssize_t)(len - off < MIB ? len - off : MIB));
	assert_int_equal(fsync(fd), 0);
	assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	close(fd);
}

/* The share of NAME's pages in the page cache, 0..1. */
static double resident(const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	off_t size;
	size_t pages, in = 0;
	long psz = sysconf(_SC_PAGESIZE);

	assert_true(fd >= 0);
	size = lseek(fd, 0, SEEK_END);
	assert_true(size > 0);
	void *p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	pages = ((size_t)size + (size_t)psz - 1) / (size_t)psz;
	_cleanup_free_ unsigned char *vec = malloc(pages);
	assert_non_null(vec);
	assert_int_equal(mincore(p, (size_t)size, vec), 0);
	for (size_t i = 0; i < pages; i++)
		in += vec[i] & 1;
	munmap(p, (size_t)size);
	close(fd);
	return (double)in / (double)pages;
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return dfd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	if (dfd >= 0)
		close(dfd);
	return rm_rf_at(AT_FDCWD, dir) < 0 ? -1 : 0;
}

static void test_reads_the_page_images(void **state)
{
	static const char *const images[] = {"pages-1.img", "pages-2.img", "pages-10.img"};
	static const char *const others[] = {"pagemap-1.img", "pages-x.img", "pages-1.img.tmp"};
	struct snapshot_readahead *ra = NULL;
	struct timespec ts = {0, 10 * 1000 * 1000};

	(void)state;
	make_file("pages-1.img", 16 * MIB);
	make_file("pages-2.img", 3 * MIB + 100);
	make_file("pages-10.img", 1 * MIB);
	for (size_t i = 0; i < sizeof(others) / sizeof(*others); i++)
		make_file(others[i], 2 * MIB);
	/* not regular files: left out, and the fifo must not block the open */
	assert_int_equal(mkdirat(dfd, "pages-3.img", 0700), 0);
	assert_int_equal(mkfifoat(dfd, "pages-4.img", 0600), 0);
	assert_int_equal(symlinkat("pages-1.img", dfd, "pages-5.img"), 0);
	if (resident("pages-1.img") > 0.5) {
		print_message("%s keeps its files in memory: nothing to read ahead\n", dir);
		skip();
	}

	assert_int_equal(snapshot_readahead_start(dfd, &ra), 0);
	assert_non_null(ra);
	/* the kernel reads in the background: wait for it, for up to 20 s a file */
	for (size_t i = 0; i < sizeof(images) / sizeof(*images); i++) {
		for (int k = 0; k < 2000 && resident(images[i]) < 1.0; k++)
			nanosleep(&ts, NULL);
		assert_true(resident(images[i]) == 1.0);
	}
	assert_int_equal(snapshot_readahead_stop(ra, false), 16 * MIB + 3 * MIB + 100 + 1 * MIB);
	for (size_t i = 0; i < sizeof(others) / sizeof(*others); i++)
		assert_true(resident(others[i]) < 0.5);
}

static void test_nothing_to_read(void **state)
{
	struct snapshot_readahead *ra = (void *)1;
	char empty[] = "/var/tmp/brisk-test-readahead-empty-XXXXXX";
	int fd;

	(void)state;
	assert_non_null(mkdtemp(empty));
	fd = open(empty, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(snapshot_readahead_start(fd, &ra), 0);
	assert_null(ra);
	assert_int_equal(snapshot_readahead_stop(NULL, true), 0);
	close(fd);
	assert_int_equal(rmdir(empty), 0);
	/* a directory that is not one */
	assert_int_equal(snapshot_readahead_start(-EBADF, &ra), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reads_the_page_images),
	    cmocka_unit_test(test_nothing_to_read),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
