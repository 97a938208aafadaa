/* SPDX-License-Identifier: Apache-2.0 */
/* containerd's List filters as brisk-snapshotter reads them (snapshotter/filter.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "snapshotter/snapshotter-internal.h"

static struct snap *snap_new(const char *key, const char *parent, enum snap_kind kind)
{
	struct snap *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->key = strdup(key);
	s->parent = parent ? strdup(parent) : NULL;
	s->kind = kind;
	s->labels = json_object_new_object();
	json_object_object_add(s->labels, "containerd.io/snapshot.ref",
			       json_object_new_string("sha256:1"));
	json_object_object_add(s->labels, "plain", json_object_new_string("x\"y"));
	return s;
}

/* Whether FILTERS (N strings) match S; they must parse. */
static bool matches(const struct snap *s, size_t n, ...)
{
	char *filters[8];
	struct filter *f = NULL;
	char *err = NULL;
	va_list ap;
	bool r;

	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		filters[i] = va_arg(ap, char *);
	va_end(ap);
	assert_int_equal(filter_parse(filters, n, &f, &err), 0);
	assert_null(err);
	r = filter_match(f, s);
	filter_free(f);
	return r;
}

static void test_match(void **state)
{
	struct snap *layer = snap_new("ns/1/layer", NULL, SNAP_COMMITTED);
	struct snap *active = snap_new("ns/2/ctr", "ns/1/layer", SNAP_ACTIVE);

	(void)state;
	assert_true(matches(layer, 0));
	assert_true(matches(layer, 1, ""));
	/* what containerd's metadata layer sends for a remote snapshot */
	assert_true(
	    matches(layer, 1, "labels.\"containerd.io/snapshot.ref\"==sha256:1,parent==\"\""));
	assert_false(
	    matches(active, 1, "labels.\"containerd.io/snapshot.ref\"==sha256:1,parent==\"\""));
	assert_false(matches(layer, 1, "labels.\"containerd.io/snapshot.ref\"==sha256:2"));
	assert_true(matches(active, 1, "parent==ns/1/layer,kind==active"));
	assert_true(matches(layer, 1, "kind!=active"));
	assert_true(matches(layer, 1, "name~=^ns/[0-9]+/lay"));
	assert_false(matches(layer, 1, "name~=^ctr"));
	assert_true(matches(layer, 1, "labels.plain==\"x\\\"y\""));
	assert_true(matches(layer, 1, "labels.plain"));
	assert_false(matches(layer, 1, "labels.absent"));
	assert_false(matches(layer, 1, "parent"));
	/* strings are or-ed, conditions of a string and-ed */
	assert_true(matches(layer, 2, "name==nothing", "kind==committed"));
	assert_false(matches(layer, 2, "name==nothing", "kind==committed,name==other"));
	snap_free(layer);
	snap_free(active);
}

static void test_parse_errors(void **state)
{
	static const char *const bad[] = {
	    "labels",  "labels.",   "size==1",	"name<x",   "name==\"x", "name==\"x\"y",
	    "name~=(", "name.x==1", ",name==x", "name==x,", "==x",	 "labels.\"a==1",
	};

	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		char *filters[] = {(char *)bad[i]};
		struct filter *f = NULL;
		char *err = NULL;

		assert_int_equal(filter_parse(filters, 1, &f, &err), -EINVAL);
		assert_null(f);
		assert_non_null(err);
		assert_non_null(strstr(err, bad[i]));
		free(err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_match),
	    cmocka_unit_test(test_parse_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
