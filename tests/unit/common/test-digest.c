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
#include "common/digest.h"

/* sha256("abc") from FIPS 180-2, appendix B.1 */
#define ABC_HEX "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static void test_buffer_known_vector(void **state)
{
	(void)state;
	struct digest d;
	char buf[DIGEST_STRING_SIZE];

	assert_int_equal(digest_buffer("abc", 3, &d), 0);
	assert_string_equal(digest_format(&d, buf), "sha256:" ABC_HEX);
	char hex[DIGEST_HEX_SIZE + 1];
	assert_string_equal(digest_format_hex(&d, hex), ABC_HEX);
}

static void test_parse_roundtrip(void **state)
{
	(void)state;
	struct digest a, b;
	char buf[DIGEST_STRING_SIZE];

	assert_int_equal(digest_parse("sha256:" ABC_HEX, &a), 0);
	assert_string_equal(digest_format(&a, buf), "sha256:" ABC_HEX);
	assert_int_equal(digest_parse_hex(ABC_HEX, &b), 0);
	assert_true(digest_equal(&a, &b));
	b.bytes[31] ^= 1;
	assert_false(digest_equal(&a, &b));
}

static void test_parse_rejects_malformed(void **state)
{
	(void)state;
	struct digest d;
	memset(&d, 0x5a, sizeof(d));
	static const char *const bad[] = {
	    NULL,
	    "",
	    ABC_HEX,	       /* no algorithm */
	    "sha512:" ABC_HEX, /* other algorithm */
	    "SHA256:" ABC_HEX, /* case of the algorithm */
	    "sha256:"
	    "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
	    "sha256:ba7816bf",	   /* short */
	    "sha256:" ABC_HEX "0", /* long */
	    "sha256:" ABC_HEX " ", /* trailing space */
	    "sha256:"
	    "zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	    "sha256: a7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		assert_int_equal(digest_parse(bad[i], &d), -EINVAL);
	/* untouched on error */
	for (size_t i = 0; i < DIGEST_SIZE; i++)
		assert_int_equal(d.bytes[i], 0x5a);
	assert_int_equal(digest_parse_hex("sha256:" ABC_HEX, &d), -EINVAL);
}

static void test_ctx_streaming_equals_buffer(void **state)
{
	(void)state;
	_cleanup_(digest_ctx_freep) struct digest_ctx *c = NULL;
	struct digest a, b;
	char data[10000];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7);
	assert_int_equal(digest_ctx_new(&c), 0);
	for (size_t off = 0; off < sizeof(data); off += 333)
		assert_int_equal(
		    digest_ctx_update(c, data + off,
				      off + 333 > sizeof(data) ? sizeof(data) - off : 333),
		    0);
	assert_int_equal(digest_ctx_final(c, &a), 0);
	assert_int_equal(digest_buffer(data, sizeof(data), &b), 0);
	assert_true(digest_equal(&a, &b));
	assert_int_equal(digest_ctx_reset(c), 0);
	assert_int_equal(digest_ctx_update(c, "abc", 3), 0);
	assert_int_equal(digest_ctx_final(c, &a), 0);
	assert_int_equal(digest_parse("sha256:" ABC_HEX, &b), 0);
	assert_true(digest_equal(&a, &b));
	assert_null(digest_ctx_free(NULL));
}

static void test_fd(void **state)
{
	(void)state;
	char path[] = "/tmp/brisk-digest-XXXXXX";
	_cleanup_close_ int fd = mkostemp(path, O_CLOEXEC);
	struct digest a, b;

	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, "abc", 3), 3);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(digest_fd(fd, &a), 0);
	assert_int_equal(digest_parse("sha256:" ABC_HEX, &b), 0);
	assert_true(digest_equal(&a, &b));
	assert_int_equal(digest_fd(-1, &a), -EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buffer_known_vector),
	    cmocka_unit_test(test_parse_roundtrip),
	    cmocka_unit_test(test_parse_rejects_malformed),
	    cmocka_unit_test(test_ctx_streaming_equals_buffer),
	    cmocka_unit_test(test_fd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
