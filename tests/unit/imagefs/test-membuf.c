/* SPDX-License-Identifier: Apache-2.0 */
/* Chunk buffers: distinct and intact however many are out, arenas unmapped once their buffers
 * are gone (not before), large buffers outside the arenas. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdint.h>
#include <string.h>

#include "imagefs/lazy-internal.h"

#define N 200

static void fill(struct ifs_membuf *m, unsigned seed)
{
	for (uint32_t i = 0; i < m->size; i++)
		m->data[i] = (char)(seed * 31 + i);
}

static void check(const struct ifs_membuf *m, unsigned seed)
{
	for (uint32_t i = 0; i < m->size; i++)
		if (m->data[i] != (char)(seed * 31 + i))
			fail_msg("buffer %u byte %u overwritten", seed, i);
}

static void test_many(void **state)
{
	struct ifs_membuf *m[N];
	(void)state;

	assert_int_equal(ifs_membuf_arenas(), 0);
	/* 1 B to 1 MiB, ~100 MiB in all: more than one arena */
	for (unsigned i = 0; i < N; i++) {
		size_t size = i % 3 == 0 ? 1 : i % 3 == 1 ? 4000 + i : (1u << 20);

		assert_non_null(m[i] = ifs_membuf_new(size));
		assert_int_equal(m[i]->size, size);
		assert_int_equal((uintptr_t)m[i]->data % 16, 0);
		fill(m[i], i);
	}
	assert_true(ifs_membuf_arenas() >= 2);
	for (unsigned i = 0; i < N; i++)
		check(m[i], i);

	/* a second reference keeps a buffer (and its arena) after the first is dropped */
	atomic_fetch_add(&m[N - 1]->refs, 1);
	for (unsigned i = 0; i < N; i++)
		ifs_membuf_unref(m[i]);
	ifs_membuf_trim();
	assert_int_equal(ifs_membuf_arenas(), 1);
	check(m[N - 1], N - 1);
	ifs_membuf_unref(m[N - 1]);
	assert_int_equal(ifs_membuf_arenas(), 0);
	ifs_membuf_unref(NULL);
}

static void test_big(void **state)
{
	struct ifs_membuf *m;
	(void)state;

	/* past a quarter of an arena: malloc'd, no arena mapped for it */
	assert_non_null(m = ifs_membuf_new(40u << 20));
	assert_null(m->arena);
	assert_int_equal(ifs_membuf_arenas(), 0);
	fill(m, 7);
	check(m, 7);
	ifs_membuf_unref(m);
	assert_null(ifs_membuf_new((size_t)UINT32_MAX + 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_many), cmocka_unit_test(test_big)};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
