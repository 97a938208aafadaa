/* SPDX-License-Identifier: Apache-2.0 */
/* brisk-snapshot.json: the CUDA processes of a checkpoint survive a write and a read. */
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
#include "common/fs.h"
#include "common/json.h"
#include "snapshot/snapshot.h"

#define HEAD "{\"version\":1,\"id\":\"c\",\"created\":\"x\",\"rootfs\":\"/r\",\"criuVersion\":1,"
#define TAIL "\"stdio\":[null,null,null],\"config\":{}}"

static int parse(const char *s, struct snapshot_meta **ret)
{
	return snapshot_meta_parse(s, strlen(s), ret);
}

static void test_round_trip(void **state)
{
	char dir[] = "/tmp/brisk-meta-XXXXXX";
	int pids[] = {1, 42, 4194304};
	_cleanup_json_ struct json_object *config = json_object_new_object();
	struct snapshot_meta m = {.version = SNAPSHOT_META_VERSION,
				  .id = (char *)"c1",
				  .created = (char *)"2026-01-01T00:00:00Z",
				  .rootfs = (char *)"/r",
				  .config = config,
				  .cuda_pids = pids,
				  .n_cuda_pids = 3};
	_cleanup_(snapshot_meta_freep) struct snapshot_meta *got = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(snapshot_meta_write(fd, &m), 0);
	assert_int_equal(snapshot_meta_read(fd, &got), 0);
	assert_int_equal(got->n_cuda_pids, 3);
	assert_memory_equal(got->cuda_pids, pids, sizeof(pids));
	/* none: no key, and none read back */
	m.n_cuda_pids = 0;
	assert_int_equal(snapshot_meta_write(fd, &m), 0);
	_cleanup_free_ char *buf = NULL;
	assert_int_equal(read_file_at(fd, SNAPSHOT_META_FILE, 65536, &buf, NULL), 0);
	assert_null(strstr(buf, "cudaPids"));
	got = snapshot_meta_free(got);
	assert_int_equal(snapshot_meta_read(fd, &got), 0);
	assert_int_equal(got->n_cuda_pids, 0);
	assert_int_equal(rm_rf_at(AT_FDCWD, dir), 0);
}

static void test_bad_pids(void **state)
{
	static const char *const bad[] = {
	    HEAD "\"cudaPids\":[0]," TAIL,	 HEAD "\"cudaPids\":[-1]," TAIL,
	    HEAD "\"cudaPids\":[4194305]," TAIL, HEAD "\"cudaPids\":[\"1\"]," TAIL,
	    HEAD "\"cudaPids\":{}," TAIL,	 HEAD "\"cudaPids\":[1.5]," TAIL,

	};
	struct snapshot_meta *m = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("# %s\n", bad[i]);
		assert_int_equal(parse(bad[i], &m), -EINVAL);
		assert_null(m);
	}
	/* too many */
	_cleanup_free_ char *many = malloc(64 + 4097 * 2 + sizeof(HEAD TAIL));
	assert_non_null(many);
	char *p = stpcpy(many, HEAD "\"cudaPids\":[");
	for (int i = 0; i < 4097; i++)
		p = stpcpy(p, i ? ",1" : "1");
	strcpy(p, "]," TAIL);
	assert_int_equal(parse(many, &m), -E2BIG);
	assert_int_equal(parse(HEAD "\"cudaPids\":[7,1]," TAIL, &m), 0);
	assert_int_equal(m->n_cuda_pids, 2);
	assert_int_equal(m->cuda_pids[0], 7);
	m = snapshot_meta_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_bad_pids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
