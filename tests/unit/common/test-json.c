/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/json.h"

static struct json_object *parse(const char *s)
{
	struct json_object *o = NULL;

	assert_int_equal(json_parse(s, strlen(s), &o), 0);
	return o;
}

static void test_parse_ok(void **state)
{
	(void)state;
	_cleanup_json_ struct json_object *o = parse(" {\"a\": 1, \"b\": [\"x\", \"y\"]}\n");
	_cleanup_json_ struct json_object *n = parse("42");
	assert_int_equal(json_object_get_int(n), 42);
	int a = 0;
	assert_int_equal(json_get_int(o, "a", &a), 0);
	assert_int_equal(a, 1);
}

static void test_parse_rejects_bad(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "{\"a\": 1",    /* unterminated object */
	    "[1, 2",	    /* unterminated array */
	    "\"abc",	    /* unterminated string */
	    "{\"a\": 1} x", /* trailing junk */
	    "{\"a\": 1}{}", /* two values */
	    "",		    /* nothing */
	    "{'a': 1}",	    /* not JSON */
	    "{\"a\": 1,}",  /* trailing comma (strict) */
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct json_object *o = (struct json_object *)0x1;
		assert_int_equal(json_parse(bad[i], strlen(bad[i]), &o), -EINVAL);
		assert_ptr_equal(o, (struct json_object *)0x1);
	}
}

static void test_getters(void **state)
{
	(void)state;
	_cleanup_json_ struct json_object *o =
	    parse("{\"s\":\"str\",\"b\":true,\"i\":-5,\"u\":4294967295,\"big\":9223372036854775807,"
		  "\"huge\":18446744073709551615,\"o\":{},\"a\":[1],\"n\":null,\"f\":1.5}");
	const char *s = NULL;
	bool b = false;
	int i = 0;
	uint32_t u = 0;
	int64_t i64 = 0;
	uint64_t u64 = 0;
	struct json_object *sub = NULL;

	assert_int_equal(json_get_string(o, "s", &s), 0);
	assert_string_equal(s, "str");
	assert_int_equal(json_get_bool(o, "b", &b), 0);
	assert_true(b);
	assert_int_equal(json_get_int(o, "i", &i), 0);
	assert_int_equal(i, -5);
	assert_int_equal(json_get_uint32(o, "u", &u), 0);
	assert_int_equal(u, 4294967295u);
	assert_int_equal(json_get_int64(o, "big", &i64), 0);
	assert_true(i64 == INT64_MAX);
	assert_int_equal(json_get_uint64(o, "huge", &u64), 0);
	assert_true(u64 == UINT64_MAX);
	assert_int_equal(json_get_object(o, "o", &sub), 0);
	assert_int_equal(json_get_array(o, "a", &sub), 0);

	/* absent, null, wrong type, out of range */
	assert_int_equal(json_get_string(o, "missing", &s), -ENOENT);
	assert_int_equal(json_get_string(o, "n", &s), -ENOENT);
	assert_int_equal(json_get_string(o, "b", &s), -EINVAL);
	assert_int_equal(json_get_bool(o, "s", &b), -EINVAL);
	assert_int_equal(json_get_int(o, "u", &i), -EINVAL);
	assert_int_equal(json_get_int(o, "f", &i), -EINVAL);
	assert_int_equal(json_get_uint32(o, "i", &u), -EINVAL);
	assert_int_equal(json_get_uint64(o, "i", &u64), -EINVAL);
	assert_int_equal(json_get_int64(o, "huge", &i64), -EINVAL);
	assert_int_equal(json_get_object(o, "a", &sub), -EINVAL);
	assert_int_equal(json_get_array(o, "o", &sub), -EINVAL);
	assert_int_equal(json_get_string(NULL, "s", &s), -EINVAL);
	_cleanup_json_ struct json_object *arr = parse("[1]");
	assert_int_equal(json_get_string(arr, "s", &s), -EINVAL);
}

static void test_strv(void **state)
{
	(void)state;
	_cleanup_json_ struct json_object *o = parse("[\"a\",\"b c\"]");
	_cleanup_json_ struct json_object *bad = parse("[\"a\",1]");
	_cleanup_strv_free_ char **v = NULL;

	assert_int_equal(json_to_strv(o, &v), 0);
	assert_string_equal(v[0], "a");
	assert_string_equal(v[1], "b c");
	assert_null(v[2]);
	char **w = NULL;
	assert_int_equal(json_to_strv(bad, &w), -EINVAL);
	assert_null(w);
	assert_int_equal(json_to_strv(NULL, &w), -EINVAL);
}

/* json-c clamps an integer beyond 64 bits to the nearest end: a getter must refuse it. */
static void test_out_of_range_integers(void **state)
{
	(void)state;
	_cleanup_json_ struct json_object *o =
	    parse("{\"big\":184467440737095516150,\"above\":18446744073709551616,"
		  "\"neg\":-92233720368547758080,\"below\":-9223372036854775809,"
		  "\"max\":18446744073709551615,\"min\":-9223372036854775808,"
		  "\"s\":\"184467440737095516150\",\"a\":[{\"x\":99999999999999999999999}]}");
	struct json_object *a = NULL;
	uint64_t u64 = 7;
	int64_t i64 = 7;
	uint32_t u32 = 7;
	const char *s = NULL;
	int i = 7;

	assert_int_equal(json_get_uint64(o, "big", &u64), -EINVAL);
	assert_int_equal(json_get_uint64(o, "above", &u64), -EINVAL);
	assert_int_equal(json_get_int64(o, "big", &i64), -EINVAL);
	assert_int_equal(json_get_int(o, "big", &i), -EINVAL);
	assert_int_equal(json_get_uint32(o, "big", &u32), -EINVAL);
	assert_int_equal(json_get_int64(o, "neg", &i64), -EINVAL);
	assert_int_equal(json_get_int64(o, "below", &i64), -EINVAL);
	assert_int_equal(json_get_uint64(o, "neg", &u64), -EINVAL);
	assert_true(u64 == 7 && i64 == 7 && u32 == 7 && i == 7);
	assert_int_equal(json_get_array(o, "a", &a), 0);
	assert_int_equal(json_get_uint64(json_object_array_get_idx(a, 0), "x", &u64), -EINVAL);
	/* the ends themselves are fine, and so is a number in a string */
	assert_int_equal(json_get_uint64(o, "max", &u64), 0);
	assert_true(u64 == UINT64_MAX);
	assert_int_equal(json_get_int64(o, "min", &i64), 0);
	assert_true(i64 == INT64_MIN);
	assert_int_equal(json_get_string(o, "s", &s), 0);
	assert_string_equal(s, "184467440737095516150");
}

/* A C string ends at a NUL: a string that holds one is refused, not cut short. */
static void test_nul_in_strings(void **state)
{
	(void)state;
	_cleanup_json_ struct json_object *o =
	    parse("{\"s\":\"tr\\u0000ue\",\"t\":\"\\u0000\",\"escaped\":\"a\\\\u0000b\","
		  "\"v\":[\"a\",\"b\\u0000c\"]}");
	_cleanup_strv_free_ char **v = NULL;
	struct json_object *a = NULL;
	const char *s = NULL;
	struct json_object *o2 = (struct json_object *)0x1;

	assert_int_equal(json_get_string(o, "s", &s), -EILSEQ);
	assert_int_equal(json_get_string(o, "t", &s), -EILSEQ);
	assert_null(s);
	/* a backslash, then "u0000": no NUL at all */
	assert_int_equal(json_get_string(o, "escaped", &s), 0);
	assert_string_equal(s, "a\\u0000b");
	assert_int_equal(json_get_array(o, "v", &a), 0);
	assert_int_equal(json_to_strv(a, &v), -EILSEQ);
	assert_null(v);
	assert_int_equal(json_as_string(json_object_array_get_idx(a, 0), &s), 0);
	assert_string_equal(s, "a");
	assert_int_equal(json_as_string(json_object_array_get_idx(a, 1), &s), -EILSEQ);
	assert_int_equal(json_as_string(o, &s), -EINVAL);
	/* json-c would cut a key at its NUL: such a document is refused whole */
	assert_int_equal(json_parse("{\"a\\u0000b\":1}", 14, &o2), -EINVAL);
	assert_ptr_equal(o2, (struct json_object *)0x1);
}

static void test_escape_roundtrip(void **state)
{
	(void)state;
	const char *in = "quote \" backslash \\ newline \n tab \t bell \a end";
	_cleanup_free_ char *esc = json_escape(in);
	assert_non_null(esc);
	assert_null(strchr(esc, '\n'));
	_cleanup_json_ struct json_object *o = parse(esc);
	assert_string_equal(json_object_get_string(o), in);
	assert_string_equal(json_to_string(o), esc);
}

static void test_parse_file(void **state)
{
	(void)state;
	char path[] = "/tmp/brisk-json-XXXXXX";
	_cleanup_close_ int fd = mkostemp(path, O_CLOEXEC);
	struct json_object *o = NULL;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"x\":[1,2,3]}", 13), 13);
	assert_int_equal(json_parse_file_at(AT_FDCWD, path, &o), 0);
	assert_string_equal(json_to_string(o), "{\"x\":[1,2,3]}");
	json_object_put(o);
	assert_int_equal(ftruncate(fd, 5), 0);
	assert_int_equal(json_parse_file_at(AT_FDCWD, path, &o), -EINVAL);
	unlink(path);
	assert_int_equal(json_parse_file_at(AT_FDCWD, path, &o), -ENOENT);
}

static void test_key_matches_field(void **state)
{
	(void)state;
	assert_true(json_key_matches_field("cpu", "cpu"));
	assert_true(json_key_matches_field("CPU", "cpu"));
	assert_true(json_key_matches_field("readOnlyPaths", "readonlyPaths"));
	/* what Unicode folds onto k and s */
	assert_true(json_key_matches_field("\u212Aernel", "kernel"));
	assert_true(json_key_matches_field("\u017Fhares", "shares"));
	assert_false(json_key_matches_field("\u212A", "s"));
	assert_false(json_key_matches_field("cp", "cpu"));
	assert_false(json_key_matches_field("cpus", "cpu"));
	assert_false(json_key_matches_field("", "cpu"));
	assert_false(json_key_matches_field("c_u", "cpu"));
	assert_false(json_key_matches_field("\xc3\xa9", "e"));
}

static void test_set_field(void **state)
{
	(void)state;
	_cleanup_json_ struct json_object *o =
	    parse("{\"CPU\": {\"shares\": 5}, \"cpu\": 1, \"\u212Aernel\": 2, \"pids\": 3}");
	struct json_object *cpu;
	int64_t v;

	/* every key that names the field goes; the value is under the field's own name */
	assert_int_equal(json_get_object(o, "CPU", &cpu), 0);
	assert_int_equal(json_object_set_field(o, "cpu", json_object_get(cpu)), 0);
	assert_int_equal(json_get_object(o, "cpu", &cpu), 0);
	assert_int_equal(json_get_int64(cpu, "shares", &v), 0);
	assert_int_equal(v, 5);
	assert_false(json_object_object_get_ex(o, "CPU", NULL));
	assert_int_equal(json_object_set_field(o, "kernel", json_object_new_int(7)), 0);
	assert_int_equal(json_get_int64(o, "kernel", &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(json_object_object_length(o), 3);
	/* a null value, as absent */
	assert_int_equal(json_object_set_field(o, "pids", NULL), 0);
	assert_true(json_object_object_get_ex(o, "pids", NULL));
	assert_int_equal(json_get_int64(o, "pids", &v), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_ok),
	    cmocka_unit_test(test_parse_rejects_bad),
	    cmocka_unit_test(test_getters),
	    cmocka_unit_test(test_strv),
	    cmocka_unit_test(test_escape_roundtrip),
	    cmocka_unit_test(test_parse_file),
	    cmocka_unit_test(test_out_of_range_integers),
	    cmocka_unit_test(test_nul_in_strings),
	    cmocka_unit_test(test_key_matches_field),
	    cmocka_unit_test(test_set_field),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
