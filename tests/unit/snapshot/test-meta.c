/* SPDX-License-Identifier: Apache-2.0 */
/* brisk-snapshot.json: what is written is read back, and the parser is strict. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "snapshot/snapshot.h"

#define BASE                                                                                  \
	"\"version\": 1, \"id\": \"c1\", \"created\": \"2026-01-01T00:00:00Z\", \"rootfs\": " \
	"\"/r\", \"criuVersion\": 40101, \"stdio\": [null, \"pipe:[1]\", null], "             \
	"\"config\": {}"

static int parse(const char *s, struct snapshot_meta **ret)
{
	*ret = NULL;
	return snapshot_meta_parse(s, strlen(s), ret);
}

static void test_netns(void **state)
{
	struct snapshot_meta *m;

	(void)state;
	assert_int_equal(parse("{" BASE "}", &m), 0);
	assert_null(m->netns);
	snapshot_meta_free(m);
	assert_int_equal(parse("{" BASE ", \"netns\": \"loopback-up\"}", &m), 0);
	assert_string_equal(m->netns, SNAPSHOT_NETNS_LO_UP);
	snapshot_meta_free(m);
	assert_int_equal(parse("{" BASE ", \"netns\": \"loopback-down\"}", &m), 0);
	assert_string_equal(m->netns, SNAPSHOT_NETNS_LO_DOWN);
	snapshot_meta_free(m);
	/* anything else is not a brisk checkpoint */
	assert_int_equal(parse("{" BASE ", \"netns\": \"host\"}", &m), -EINVAL);
	assert_int_equal(parse("{" BASE ", \"netns\": true}", &m), -EINVAL);
}

static void test_round_trip(void **state)
{
	char dir[] = "/tmp/test-meta.XXXXXX";
	struct snapshot_meta *m = NULL;
	char *ext[] = {"/data", NULL};
	struct json_object *config = json_object_new_object();

	(void)state;
	assert_non_null(mkdtemp(dir));
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	struct snapshot_meta w = {
	    .version = SNAPSHOT_META_VERSION,
	    .id = (char *)"app",
	    .created = (char *)"2026-01-01T00:00:00Z",
	    .rootfs = (char *)"/bundle/rootfs",
	    .criu_version = 40101,
	    .leave_running = true,
	    .stdio = {NULL, (char *)"pipe:[7]", (char *)"file[1a:2b]"},
	    .ext_mounts = ext,
	    .netns = (char *)SNAPSHOT_NETNS_LO_DOWN,
	    .config = config,
	};
	assert_int_equal(snapshot_meta_write(fd, &w), 0);
	assert_int_equal(snapshot_meta_read(fd, &m), 0);
	assert_string_equal(m->id, "app");
	assert_string_equal(m->rootfs, "/bundle/rootfs");
	assert_int_equal(m->criu_version, 40101);
	assert_true(m->leave_running);
	assert_null(m->stdio[0]);
	assert_string_equal(m->stdio[1], "pipe:[7]");
	assert_string_equal(m->stdio[2], "file[1a:2b]");
	assert_string_equal(m->ext_mounts[0], "/data");
	assert_null(m->ext_mounts[1]);
	assert_string_equal(m->netns, SNAPSHOT_NETNS_LO_DOWN);
	snapshot_meta_free(m);
	json_object_put(config);
	assert_int_equal(rm_rf_at(AT_FDCWD, dir), 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_netns),
	    cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
