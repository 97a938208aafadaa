/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/json.h"
#include "runtime/runtime-internal.h"

#define BIT(n) (1ULL << (n))

static int parse(const char *json, struct caps **ret)
{
	_cleanup_json_ struct json_object *o = NULL;

	assert_int_equal(json_parse(json, strlen(json), &o), 0);
	return caps_parse(o, ret);
}

static void test_parse_errors(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "[]",
	    "{\"bounding\":\"CAP_CHOWN\"}",
	    "{\"bounding\":[1]}",
	    "{\"effective\":[\"CAP_CHOWN\"],\"permitted\":[\"CAP_KILL\"]}",
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct caps *c = NULL;

		print_message("# %s\n", bad[i]);
		assert_int_equal(parse(bad[i], &c), -EINVAL);
		assert_null(c);
	}
}

static void test_parse(void **state)
{
	(void)state;
	_cleanup_(caps_freep) struct caps *c = NULL;

	/* As runc 1.1: unknown (and wrongly cased) names are ignored with a warning. */
	assert_int_equal(parse("{\"bounding\":[\"CAP_CHOWN\",\"CAP_FOO\",\"cap_kill\",\"CAP_BPF\"],"
			       "\"effective\":[\"CAP_CHOWN\"],"
			       "\"permitted\":[\"CAP_CHOWN\",\"CAP_KILL\",\"CAP_NET_RAW\"],"
			       "\"inheritable\":[\"CAP_KILL\"],"
			       "\"ambient\":[\"CAP_KILL\",\"CAP_NET_RAW\",\"CAP_SYS_ADMIN\"]}",
			       &c),
			 0);
	assert_int_equal(caps_get_mask(c, CAPS_BOUNDING), BIT(CAP_CHOWN) | BIT(CAP_BPF));
	assert_int_equal(caps_get_mask(c, CAPS_EFFECTIVE), BIT(CAP_CHOWN));
	assert_int_equal(caps_get_mask(c, CAPS_PERMITTED),
			 BIT(CAP_CHOWN) | BIT(CAP_KILL) | BIT(CAP_NET_RAW));
	assert_int_equal(caps_get_mask(c, CAPS_INHERITABLE), BIT(CAP_KILL));
	/* Ambient needs permitted and inheritable: the others are left out, as runc 1.1 does. */
	assert_int_equal(caps_get_mask(c, CAPS_AMBIENT), BIT(CAP_KILL));
}

static void test_parse_absent(void **state)
{
	(void)state;
	_cleanup_(caps_freep) struct caps *c = NULL, *e = NULL;

	/* runc: no process.capabilities means every set is empty. */
	assert_int_equal(caps_parse(NULL, &c), 0);
	assert_int_equal(parse("{}", &e), 0);
	for (int s = 0; s < _CAPS_SET_MAX; s++) {
		assert_int_equal(caps_get_mask(c, s), 0);
		assert_int_equal(caps_get_mask(e, s), 0);
	}
}

static void test_features(void **state)
{
	(void)state;
	_cleanup_json_ struct json_object *a = NULL;
	size_t n;

	assert_int_equal(caps_features(&a), 0);
	n = json_object_array_length(a);
	assert_true(n > CAP_CHECKPOINT_RESTORE);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(a, 0)), "CAP_CHOWN");
	assert_string_equal(
	    json_object_get_string(json_object_array_get_idx(a, CAP_CHECKPOINT_RESTORE)),
	    "CAP_CHECKPOINT_RESTORE");
}

/* The names a restore's refusal gives: libcap's, in order; cut short with "..." */
static void test_mask_names(void **state)
{
	char buf[64], small[16];

	(void)state;
	caps_mask_names((1ULL << CAP_CHOWN) | (1ULL << CAP_SYS_ADMIN), buf, sizeof(buf));
	assert_string_equal(buf, "CAP_CHOWN, CAP_SYS_ADMIN");
	caps_mask_names(0, buf, sizeof(buf));
	assert_string_equal(buf, "");
	caps_mask_names((1ULL << CAP_CHOWN) | (1ULL << CAP_SYS_ADMIN), small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_string_equal(small + sizeof(small) - 4, "...");
}

/* The Cap* lines of /proc/self/status, in the order CapInh, CapPrm, CapEff, CapBnd, CapAmb. */
static int read_status_caps(unsigned long long v[5])
{
	static const char *const keys[5] = {"CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"};
	_cleanup_fclose_ FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	int found = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		for (int i = 0; i < 5; i++)
			if (strncmp(line, keys[i], strlen(keys[i])) == 0 &&
			    sscanf(line + strlen(keys[i]), "%llx", &v[i]) == 1)
				found++;
	return found == 5 ? 0 : -1;
}

/* Fork; the child applies C (switching to UID between the steps if >= 0) and reports. */
static void apply_in_child(const struct caps *c, int uid, const unsigned long long want[5])
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		unsigned long long got[5];
		int bad = 0;

		if (caps_apply_bounding(c) < 0)
			_exit(100);
		if (uid >= 0 && (setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0))
			_exit(101);
		if (caps_apply_final(c) < 0)
			_exit(102);
		if (read_status_caps(got) < 0)
			_exit(103);
		for (int i = 0; i < 5; i++)
			if (got[i] != want[i]) {
				fprintf(stderr, "# set %d: got %llx want %llx\n", i, got[i],
					want[i]);
				bad |= 1 << i;
			}
		_exit(bad);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static bool need_root(void)
{
	if (geteuid() == 0)
		return true;
	print_message("# not root: cannot drop the bounding set or change uid\n");
	return false;
}

static void test_apply_with_setuid(void **state)
{
	(void)state;
	_cleanup_(caps_freep) struct caps *c = NULL;
	const unsigned long long want[5] = {
	    BIT(CAP_KILL),  BIT(CAP_CHOWN) | BIT(CAP_KILL),
	    BIT(CAP_CHOWN), BIT(CAP_CHOWN) | BIT(CAP_KILL) | BIT(CAP_SETUID) | BIT(CAP_SETGID),
	    BIT(CAP_KILL),
	};

	if (!need_root())
		skip();
	assert_int_equal(
	    parse("{\"bounding\":[\"CAP_CHOWN\",\"CAP_KILL\",\"CAP_SETUID\",\"CAP_SETGID\"],"
		  "\"effective\":[\"CAP_CHOWN\"],\"permitted\":[\"CAP_CHOWN\",\"CAP_KILL\"],"
		  "\"inheritable\":[\"CAP_KILL\"],\"ambient\":[\"CAP_KILL\"]}",
		  &c),
	    0);
	/* The permitted set survives the switch to uid 1000 (KEEPCAPS). */
	apply_in_child(c, 1000, want);
}

static void test_apply_drop_all(void **state)
{
	(void)state;
	_cleanup_(caps_freep) struct caps *c = NULL;
	const unsigned long long want[5] = {0, 0, 0, 0, 0};

	if (!need_root())
		skip();
	assert_int_equal(caps_parse(NULL, &c), 0);
	apply_in_child(c, -1, want);
}

static void test_apply_root_defaults(void **state)
{
	(void)state;
	_cleanup_(caps_freep) struct caps *c = NULL;
	/* runc spec's default set: CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE. */
	const unsigned long long set =
	    BIT(CAP_AUDIT_WRITE) | BIT(CAP_KILL) | BIT(CAP_NET_BIND_SERVICE);
	const unsigned long long want[5] = {0, set, set, set, 0};
	static const char caps3[] = "[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"]";
	char json[512];

	if (!need_root())
		skip();
	snprintf(json, sizeof(json), "{\"bounding\":%s,\"effective\":%s,\"permitted\":%s}", caps3,
		 caps3, caps3);
	assert_int_equal(parse(json, &c), 0);
	apply_in_child(c, -1, want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_errors),	cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_parse_absent),	cmocka_unit_test(test_features),
	    cmocka_unit_test(test_apply_with_setuid),	cmocka_unit_test(test_apply_drop_all),
	    cmocka_unit_test(test_apply_root_defaults), cmocka_unit_test(test_mask_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
