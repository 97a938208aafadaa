/* SPDX-License-Identifier: Apache-2.0 */
/* The state store: ids, the state.json round trip, the pid file, the OCI state document. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "state.h"

static void test_check_id(void **state)
{
	(void)state;
	char long_id[1100];

	assert_int_equal(state_check_id("abc"), 0);
	assert_int_equal(state_check_id("a1_b.c+d-e"), 0);
	assert_int_not_equal(state_check_id(""), 0);
	assert_int_not_equal(state_check_id(".."), 0);
	assert_int_not_equal(state_check_id("a/b"), 0);
	assert_int_not_equal(state_check_id("-a"), 0);
	assert_int_not_equal(state_check_id("a b"), 0);
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_int_not_equal(state_check_id(long_id), 0);
	long_id[1024] = '\0';
	assert_int_equal(state_check_id(long_id), 0);
}

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/test-state.XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	return strdup(d);
}

static void test_round_trip(void **state)
{
	(void)state;
	_cleanup_free_ char *root = tmpdir(), *sub = path_join(root, "r");
	_cleanup_close_ int rootfd = -EBADF, dfd = -EBADF;
	_cleanup_(state_freep) struct container_state *back = NULL;
	struct container_state st = {.id = (char *)"c1",
				     .pid = 4242,
				     .start_time = 123456789012ULL,
				     .bundle = (char *)"/b/u n",
				     .rootfs = (char *)"/b/u n/rootfs",
				     .created = (char *)"2026-01-02T03:04:05.000000006Z",
				     .owner = 1000,
				     .systemd_cgroup = true};
	struct stat s;

	assert_int_equal(state_open_root(sub, true, &rootfd), 0);
	assert_int_equal(fstat(rootfd, &s), 0);
	assert_int_equal(s.st_mode & 07777, 0700);
	assert_int_equal(state_open_dir(rootfd, "c1", &dfd), -ENOENT);
	assert_int_equal(mkdirat(rootfd, "c1", 0700), 0);
	assert_int_equal(state_open_dir(rootfd, "c1", &dfd), 0);
	st.annotations = json_object_new_object();
	json_object_object_add(st.annotations, "k", json_object_new_string("v\"q"));
	assert_int_equal(state_save(dfd, &st), 0);
	json_object_put(st.annotations);
	assert_int_equal(state_load(rootfd, "c1", &back), 0);
	assert_string_equal(back->id, "c1");
	assert_int_equal(back->pid, 4242);
	assert_true(back->start_time == 123456789012ULL);
	assert_string_equal(back->bundle, "/b/u n");
	assert_string_equal(back->rootfs, "/b/u n/rootfs");
	assert_string_equal(back->created, st.created);
	assert_int_equal(back->owner, 1000);
	assert_true(back->systemd_cgroup);
	const char *v = NULL;
	assert_int_equal(json_get_string(back->annotations, "k", &v), 0);
	assert_string_equal(v, "v\"q");

	/* the OCI state document */
	_cleanup_json_ struct json_object *doc = NULL;
	assert_int_equal(state_to_json(back, STATUS_STOPPED, &doc), 0);
	assert_int_equal(json_get_string(doc, "status", &v), 0);
	assert_string_equal(v, "stopped");
	assert_int_equal(json_get_string(doc, "id", &v), 0);
	assert_string_equal(v, "c1");
	assert_int_equal(json_get_string(doc, "bundle", &v), 0);
	assert_string_equal(v, "/b/u n");
	assert_string_equal(state_status_name(STATUS_PAUSED), "paused");

	/* a missing and a broken state */
	_cleanup_(state_freep) struct container_state *none = NULL;
	assert_int_equal(state_load(rootfd, "c2", &none), -ENOENT);
	assert_int_equal(write_file_atomic_at(dfd, STATE_FILE, "{\"id\": 3", 8, 0600, false), 0);
	assert_true(state_load(rootfd, "c1", &none) < 0);
	assert_null(none);
	assert_int_equal(rm_rf_at(AT_FDCWD, root), 0);
}

static void test_pid_file(void **state)
{
	(void)state;
	_cleanup_free_ char *root = tmpdir(), *p = path_join(root, "pid"), *buf = NULL,
			    *bad = path_join(root, "no/such/dir/pid");

	assert_int_equal(state_write_pid_file(p, 31337), 0);
	assert_int_equal(read_file_at(AT_FDCWD, p, 64, &buf, NULL), 0);
	/* digits only: containerd parses it with Atoi */
	assert_string_equal(buf, "31337");
	assert_true(state_write_pid_file(bad, 1) < 0);
	assert_int_equal(rm_rf_at(AT_FDCWD, root), 0);
}

static void test_proc_start_time(void **state)
{
	(void)state;
	unsigned long long t1 = 0, t2 = 0;
	bool zombie = true;

	assert_int_equal(proc_start_time(getpid(), &t1, &zombie), 0);
	assert_false(zombie);
	assert_int_equal(proc_start_time(getpid(), &t2, &zombie), 0);
	assert_true(t1 == t2 && t1 > 0);
	assert_int_equal(proc_start_time(0x3fffffff, &t1, &zombie), -ESRCH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check_id),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_pid_file),
	    cmocka_unit_test(test_proc_start_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
