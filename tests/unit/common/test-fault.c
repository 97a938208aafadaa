/* SPDX-License-Identifier: Apache-2.0 */
/* BRISK_FAULT and BRISK_FAULT_TRACE: which pass fails, counts per point, bad settings ignored. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fault.h"
#include "common/fs.h"

#if BRISK_FAULT_INJECTION
static void set(const char *fault, const char *trace)
{
	if (fault)
		setenv("BRISK_FAULT", fault, 1);
	else
		unsetenv("BRISK_FAULT");
	if (trace)
		setenv("BRISK_FAULT_TRACE", trace, 1);
	else
		unsetenv("BRISK_FAULT_TRACE");
	fault_reset();
}

static void test_off(void **state)
{
	(void)state;
	set(NULL, NULL);
	for (int i = 0; i < 3; i++)
		assert_false(fault_hit("mount"));
}

static void test_first(void **state)
{
	(void)state;
	set("mount", NULL);
	assert_false(fault_hit("cgroup-write"));
	assert_true(fault_hit("mount"));
	assert_false(fault_hit("mount"));
}

static void test_nth(void **state)
{
	(void)state;
	set("mount:3", NULL);
	assert_false(fault_hit("mount"));
	assert_false(fault_hit("hook"));
	assert_false(fault_hit("mount"));
	assert_true(fault_hit("mount"));
	assert_false(fault_hit("mount"));
	errno = 0;
	set("hook:2", NULL);
	assert_int_equal(FAULT_OR("hook", 7), 7);
	assert_int_equal(FAULT_OR("hook", 7), -1);
	assert_int_equal(errno, EIO);
}

static void test_bad(void **state)
{
	(void)state;
	/* a bad count is ignored (with a warning): nothing fails */
	const char *bad[] = {"mount:", "mount:0", "mount:x", "mount:-1", "mount:2x"};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		set(bad[i], NULL);
		for (int k = 0; k < 3; k++)
			assert_false(fault_hit("mount"));
	}
	/* a prefix of a point is another point */
	set("mou", NULL);
	assert_false(fault_hit("mount"));
}

static void test_trace(void **state)
{
	char path[] = "/tmp/brisk-fault-trace.XXXXXX";
	int fd = mkstemp(path);
	_cleanup_free_ char *buf = NULL;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	set("hook:2", path);
	assert_false(fault_hit("mount"));
	assert_false(fault_hit("hook"));
	assert_false(fault_hit("mount"));
	assert_true(fault_hit("hook"));
	assert_int_equal(read_file_at(AT_FDCWD, path, 4096, &buf, NULL), 0);
	unlink(path);
	assert_string_equal(buf, "mount 1\nhook 1\nmount 2\nhook 2\n");
}
#endif

int main(void)
{
#if BRISK_FAULT_INJECTION
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_off), cmocka_unit_test(test_first), cmocka_unit_test(test_nth),
	    cmocka_unit_test(test_bad), cmocka_unit_test(test_trace),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
#else
	printf("1..0 # SKIP fault injection is compiled out of release builds\n");
	return 77;
#endif
}
