/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"

static char logpath[] = "/tmp/brisk-log-XXXXXX";

static int setup(void **state)
{
	(void)state;
	int fd = mkostemp(logpath, O_CLOEXEC);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_close();
	unlink(logpath);
	return 0;
}

static __attribute__((noinline)) char *read_log(void)
{
	char *buf = NULL;
	assert_int_equal(read_file_at(AT_FDCWD, logpath, 1 << 20, &buf, NULL), 0);
	return buf;
}

static void test_json_line_decodes(void **state)
{
	(void)state;
	assert_int_equal(truncate(logpath, 0), 0);
	assert_int_equal(log_open(logpath, LOG_FORMAT_JSON), 0);
	log_set_level(LOG_LEVEL_INFO);
	int r = log_error_errno(-EPERM, "mount '%s': %m", "a \"quoted\"\nname");
	assert_int_equal(r, -EPERM);
	log_info("second");
	log_debug("not written");
	log_close();

	char *buf = read_log();
	char *nl = strchr(buf, '\n');
	assert_non_null(nl);
	*nl = '\0';
	/* The first record is one line and decodes on its own. */
	_cleanup_json_ struct json_object *o = NULL;
	assert_int_equal(json_parse(buf, strlen(buf), &o), 0);
	const char *s;
	assert_int_equal(json_get_string(o, "level", &s), 0);
	assert_string_equal(s, "error");
	assert_int_equal(json_get_string(o, "msg", &s), 0);
	assert_string_equal(s, "mount 'a \"quoted\"\nname': Operation not permitted");
	assert_int_equal(json_get_string(o, "time", &s), 0);
	struct tm tm;
	char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	assert_non_null(end);
	assert_int_equal(end[0], '.');
	assert_int_equal(s[strlen(s) - 1], 'Z');

	_cleanup_json_ struct json_object *o2 = NULL;
	char *second = nl + 1;
	assert_int_equal(json_parse(second, strlen(second), &o2), 0);
	assert_int_equal(json_get_string(o2, "msg", &s), 0);
	assert_string_equal(s, "second");
	assert_null(strstr(second, "not written"));
	free(buf);
}

static void test_appends(void **state)
{
	(void)state;
	assert_int_equal(truncate(logpath, 0), 0);
	assert_int_equal(log_open(logpath, LOG_FORMAT_TEXT), 0);
	log_set_level(LOG_LEVEL_WARNING);
	log_warning("one");
	log_close();
	assert_int_equal(log_open(logpath, LOG_FORMAT_TEXT), 0);
	log_warning("two");
	log_close();
	_cleanup_free_ char *buf = read_log();
	char *one = strstr(buf, "msg=\"one\""), *two = strstr(buf, "msg=\"two\"");
	assert_non_null(one);
	assert_non_null(two);
	assert_true(one < two);
	assert_non_null(strstr(buf, "level=warning"));
}

/* A quote or a newline in a text record is escaped: the record stays one logfmt line. */
static void test_text_escapes(void **state)
{
	(void)state;
	assert_int_equal(truncate(logpath, 0), 0);
	assert_int_equal(log_open(logpath, LOG_FORMAT_TEXT), 0);
	log_set_level(LOG_LEVEL_WARNING);
	log_warning("say \"hi\"\nnext");
	log_close();
	_cleanup_free_ char *buf = read_log();
	assert_non_null(strstr(buf, "msg=\"say \\\"hi\\\"\\nnext\"\n"));
	/* one line: its only newline ends it */
	assert_ptr_equal(strchr(buf, '\n'), buf + strlen(buf) - 1);
}

/* A forked child captures its errors for its parent; its warnings are logged as usual. */
static void test_capture_keeps_warnings(void **state)
{
	(void)state;
	char cap[128];

	assert_int_equal(truncate(logpath, 0), 0);
	assert_int_equal(log_open(logpath, LOG_FORMAT_TEXT), 0);
	log_set_level(LOG_LEVEL_WARNING);
	log_set_capture(cap, sizeof(cap));
	log_warning("step failed, ignoring");
	log_error("the real error");
	log_set_capture(NULL, 0);
	log_close();
	assert_string_equal(cap, "the real error");
	_cleanup_free_ char *buf = read_log();
	assert_non_null(strstr(buf, "step failed, ignoring"));
	assert_null(strstr(buf, "the real error"));
}

static void test_return_values(void **state)
{
	(void)state;
	log_set_level(LOG_LEVEL_ERROR);
	assert_int_equal(log_debug_errno(-ENOENT, "x"), -ENOENT);
	assert_int_equal(log_debug_errno(ENOENT, "x"), -ENOENT);
	assert_int_equal(log_debug("x"), 0);
	errno = EBUSY;
	assert_int_equal(log_warning_errno(-EINVAL, "y %m"), -EINVAL);
	assert_int_equal(errno, EBUSY);
}

static void test_parsers(void **state)
{
	(void)state;
	enum log_format f;
	enum log_level l;
	assert_int_equal(log_format_from_string("json", &f), 0);
	assert_int_equal(f, LOG_FORMAT_JSON);
	assert_int_equal(log_format_from_string("text", &f), 0);
	assert_int_equal(f, LOG_FORMAT_TEXT);
	assert_int_equal(log_format_from_string("xml", &f), -EINVAL);
	assert_int_equal(log_format_from_string(NULL, &f), -EINVAL);
	assert_int_equal(log_level_from_string("debug", &l), 0);
	assert_int_equal(l, LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_from_string("warn", &l), 0);
	assert_int_equal(l, LOG_LEVEL_WARNING);
	assert_int_equal(log_level_from_string("loud", &l), -EINVAL);
	assert_int_equal(log_open("/nonexistent-dir/x.log", LOG_FORMAT_JSON), -ENOENT);
}

static void test_format_record(void **state)
{
	(void)state;
	struct timespec ts = {.tv_sec = 1735787045, .tv_nsec = 123456789};
	_cleanup_free_ char *j = log_format_record(LOG_FORMAT_JSON, LOG_LEVEL_ERROR, "a\\b", &ts);
	assert_string_equal(
	    j, "{\"level\":\"error\",\"msg\":\"a\\\\b\",\"time\":\"2025-01-02T03:04:05.123456Z\"}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_line_decodes),	   cmocka_unit_test(test_appends),
	    cmocka_unit_test(test_return_values),	   cmocka_unit_test(test_parsers),
	    cmocka_unit_test(test_format_record),	   cmocka_unit_test(test_text_escapes),
	    cmocka_unit_test(test_capture_keeps_warnings),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
