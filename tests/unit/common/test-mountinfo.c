/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/mountinfo.h"

static void test_plain_line(void **state)
{
	(void)state;
	char line[] =
	    "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue";
	struct mountinfo_entry e;

	assert_int_equal(mountinfo_parse_line(line, &e), 0);
	assert_int_equal(e.mount_id, 36);
	assert_int_equal(e.parent_id, 35);
	assert_int_equal(e.major, 98);
	assert_int_equal(e.minor, 0);
	assert_string_equal(e.root, "/mnt1");
	assert_string_equal(e.mount_point, "/mnt2");
	assert_string_equal(e.mount_options, "rw,noatime");
	assert_string_equal(e.optional, "master:1");
	assert_string_equal(e.fstype, "ext3");
	assert_string_equal(e.source, "/dev/root");
	assert_string_equal(e.super_options, "rw,errors=continue");
	assert_true(mountinfo_has_option(e.mount_options, "noatime"));
	assert_false(mountinfo_has_option(e.mount_options, "ro"));
	assert_false(mountinfo_has_option(e.mount_options, "noat"));
}

static void test_optional_fields(void **state)
{
	(void)state;
	char none[] = "1 0 0:5 / / ro - tmpfs tmpfs rw";
	char two[] = "2 1 0:6 / /a rw shared:7 master:3 - proc proc rw";
	struct mountinfo_entry e;

	assert_int_equal(mountinfo_parse_line(none, &e), 0);
	assert_string_equal(e.optional, "");
	assert_string_equal(e.fstype, "tmpfs");
	assert_true(mountinfo_has_option(e.mount_options, "ro"));
	assert_int_equal(mountinfo_parse_line(two, &e), 0);
	assert_string_equal(e.optional, "shared:7 master:3");
	assert_string_equal(e.fstype, "proc");
	assert_string_equal(e.source, "proc");
}

static void test_escapes(void **state)
{
	(void)state;
	char line[] = "40 1 0:7 /a\\040b /mnt/my\\040dir\\011x\\134y rw - tmpfs my\\040src rw";
	struct mountinfo_entry e;

	assert_int_equal(mountinfo_parse_line(line, &e), 0);
	assert_string_equal(e.root, "/a b");
	assert_string_equal(e.mount_point, "/mnt/my dir\tx\\y");
	assert_string_equal(e.source, "my src");
	/* a backslash not followed by three octal digits stays */
	char odd[] = "41 1 0:7 / /x\\9 rw - tmpfs t rw";
	assert_int_equal(mountinfo_parse_line(odd, &e), 0);
	assert_string_equal(e.mount_point, "/x\\9");
}

static void test_bad_lines(void **state)
{
	(void)state;
	const char *bad[] = {"",
			     "1 0 0:5 / /",
			     "1 0 0:5 / / rw shared:1",
			     "x 0 0:5 / / rw - t s o",
			     "1 0 05 / / rw - t s o",
			     "1 0 0:5 / / rw -"};
	struct mountinfo_entry e;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		char *l = strdup(bad[i]);
		assert_non_null(l);
		assert_int_equal(mountinfo_parse_line(l, &e), -EBADMSG);
		free(l);
	}
}

struct collect {
	int n;
	bool saw_long;
};

static int count(const struct mountinfo_entry *e, void *userdata)
{
	struct collect *c = userdata;

	c->n++;
	if (strlen(e->mount_point) > 5000 && strcmp(e->mount_point + 5000, "/end") == 0)
		c->saw_long = true;
	return c->n == 3 ? 42 : 0;
}

static void test_foreach_long_lines(void **state)
{
	(void)state;
	char path[] = "/tmp/test-mountinfo.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	/* a mount point longer than any fixed buffer of the old parsers */
	fprintf(f, "1 0 0:1 / / rw - ext4 /dev/sda rw\n2 1 0:2 / /");
	for (int i = 0; i < 4999; i++)
		fputc('a', f);
	fprintf(
	    f,
	    "/end rw - tmpfs t rw\n3 1 0:3 / /x rw - proc proc rw\n4 1 0:3 / /y rw - proc p rw\n");
	fclose(f);
	struct collect c = {0};
	assert_int_equal(mountinfo_foreach(path, count, &c), 42);
	assert_int_equal(c.n, 3);
	assert_true(c.saw_long);
	unlink(path);
	assert_int_equal(mountinfo_foreach(path, count, &c), -ENOENT);
	/* the real file: / is there, and every line parses */
	c.n = 0;
	int r = mountinfo_foreach("/proc/self/mountinfo", count, &c);
	assert_true(r == 42 || (r == 0 && c.n > 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_line),
	    cmocka_unit_test(test_optional_fields),
	    cmocka_unit_test(test_escapes),
	    cmocka_unit_test(test_bad_lines),
	    cmocka_unit_test(test_foreach_long_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
