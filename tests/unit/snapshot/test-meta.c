/* SPDX-License-Identifier: Apache-2.0 */
/* brisk-snapshot.json: what is written is read back, and the parser is strict: the base
 * fields, the CUDA processes, and the tmpfs trees (the container's /dev). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>
#include <stdio.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "snapshot/snapshot.h"
#include "common/json.h"

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

#define HEAD "{\"version\":1,\"id\":\"c\",\"created\":\"x\",\"rootfs\":\"/r\",\"criuVersion\":1,"
#define TAIL "\"stdio\":[null,null,null],\"config\":{}}"
#define TREE(entries)                                                                        \
	HEAD "\"tmpfsTrees\":[{\"destination\":\"/dev\",\"mode\":16877,\"uid\":0,\"gid\":0," \
	     "\"entries\":[" entries "]}]," TAIL

/* CUDA processes */

static void test_gpu_round_trip(void **state)
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

/* tmpfs trees */

static void test_trees_round_trip(void **state)
{
	char dir[] = "/tmp/brisk-meta-XXXXXX";
	_cleanup_json_ struct json_object *config = json_object_new_object();
	struct snapshot_tree_entry entries[] = {
	    {.path = (char *)"null", .mode = S_IFCHR | 0666, .major = 1, .minor = 3},
	    {.path = (char *)"ptmx", .mode = S_IFLNK | 0777, .target = (char *)"pts/ptmx"},
	    {.path = (char *)"dri", .mode = S_IFDIR | 0750, .uid = 7, .gid = 8},
	    {.path = (char *)"dri/card0", .mode = S_IFBLK | 0600, .major = 226, .minor = 1048575},
	    {.path = (char *)"dri/fifo", .mode = S_IFIFO | 0640, .uid = 65534, .gid = 5},
	};
	struct snapshot_tree tree = {.destination = (char *)"/dev",
				     .mode = S_IFDIR | 01777,
				     .uid = 1000,
				     .gid = 1001,
				     .entries = entries,
				     .n_entries = 5};
	struct snapshot_meta m = {.version = SNAPSHOT_META_VERSION,
				  .id = (char *)"c1",
				  .created = (char *)"2026-01-01T00:00:00Z",
				  .rootfs = (char *)"/r",
				  .config = config,
				  .trees = &tree,
				  .n_trees = 1};
	_cleanup_(snapshot_meta_freep) struct snapshot_meta *got = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(snapshot_meta_write(fd, &m), 0);
	assert_int_equal(snapshot_meta_read(fd, &got), 0);
	assert_int_equal(got->n_trees, 1);
	const struct snapshot_tree *t = &got->trees[0];
	assert_string_equal(t->destination, "/dev");
	assert_int_equal(t->mode, S_IFDIR | 01777);
	assert_int_equal(t->uid, 1000);
	assert_int_equal(t->gid, 1001);
	assert_int_equal(t->n_entries, 5);
	for (size_t i = 0; i < 5; i++) {
		assert_string_equal(t->entries[i].path, entries[i].path);
		assert_int_equal(t->entries[i].mode, entries[i].mode);
		assert_int_equal(t->entries[i].uid, entries[i].uid);
		assert_int_equal(t->entries[i].gid, entries[i].gid);
		assert_int_equal(t->entries[i].major, entries[i].major);
		assert_int_equal(t->entries[i].minor, entries[i].minor);
		if (entries[i].target)
			assert_string_equal(t->entries[i].target, entries[i].target);
		else
			assert_null(t->entries[i].target);
	}
	/* none: no key */
	m.n_trees = 0;
	assert_int_equal(snapshot_meta_write(fd, &m), 0);
	_cleanup_free_ char *buf = NULL;
	assert_int_equal(read_file_at(fd, SNAPSHOT_META_FILE, 65536, &buf, NULL), 0);
	assert_null(strstr(buf, "tmpfsTrees"));
	assert_int_equal(rm_rf_at(AT_FDCWD, dir), 0);
}

static void test_bad_trees(void **state)
{
	static const char *const bad[] = {
	    /* paths that leave the tree or are not plain */
	    TREE("{\"path\":\"../x\",\"mode\":4480,\"uid\":0,\"gid\":0}"),
	    TREE("{\"path\":\"a/../../x\",\"mode\":4480,\"uid\":0,\"gid\":0}"),
	    TREE("{\"path\":\"/etc/x\",\"mode\":4480,\"uid\":0,\"gid\":0}"),
	    TREE("{\"path\":\"a//x\",\"mode\":4480,\"uid\":0,\"gid\":0}"),
	    TREE("{\"path\":\"a/\",\"mode\":4480,\"uid\":0,\"gid\":0}"),
	    TREE("{\"path\":\".\",\"mode\":16877,\"uid\":0,\"gid\":0}"),
	    TREE("{\"path\":\"\",\"mode\":4480,\"uid\":0,\"gid\":0}"),
	    /* a regular file or a socket: never made by a restore */
	    TREE("{\"path\":\"f\",\"mode\":33188,\"uid\":0,\"gid\":0}"),
	    TREE("{\"path\":\"s\",\"mode\":49645,\"uid\":0,\"gid\":0}"),
	    /* a symlink without a target, a device without numbers, unknown or missing keys */
	    TREE("{\"path\":\"l\",\"mode\":41471,\"uid\":0,\"gid\":0}"),
	    TREE("{\"path\":\"l\",\"mode\":41471,\"uid\":0,\"gid\":0,\"target\":\"\"}"),
	    TREE("{\"path\":\"n\",\"mode\":8630,\"uid\":0,\"gid\":0,\"major\":1}"),
	    TREE("{\"path\":\"n\",\"mode\":8630,\"uid\":0,\"gid\":0,\"major\":1,\"minor\":-1}"),
	    TREE("{\"path\":\"d\",\"mode\":16877,\"uid\":0,\"gid\":0,\"target\":\"x\"}"),
	    TREE("{\"path\":\"d\",\"mode\":16877,\"uid\":0}"),
	    TREE("{\"path\":\"d\",\"mode\":16877,\"uid\":-1,\"gid\":0}"),
	    TREE("\"d\""),
	    /* the tree itself: a relative destination, a root that is no directory */
	    HEAD "\"tmpfsTrees\":[{\"destination\":\"dev\",\"mode\":16877,\"uid\":0,\"gid\":0,"
		 "\"entries\":[]}]," TAIL,
	    HEAD "\"tmpfsTrees\":[{\"destination\":\"/dev\",\"mode\":33188,\"uid\":0,\"gid\":0,"
		 "\"entries\":[]}]," TAIL,
	    HEAD "\"tmpfsTrees\":[{\"destination\":\"/dev\",\"mode\":16877,\"uid\":0,\"gid\":0,"
		 "\"entries\":[],\"x\":1}]," TAIL,
	    HEAD "\"tmpfsTrees\":{}," TAIL,
	};
	struct snapshot_meta *m = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("# %s\n", bad[i]);
		assert_int_equal(parse(bad[i], &m), -EINVAL);
		assert_null(m);
	}
	assert_int_equal(parse(TREE("{\"path\":\"a\",\"mode\":16877,\"uid\":0,\"gid\":0},"
				    "{\"path\":\"a/..b\",\"mode\":4480,\"uid\":0,\"gid\":0}"),
			       &m),
			 0);
	assert_int_equal(m->n_trees, 1);
	assert_int_equal(m->trees[0].n_entries, 2);
	assert_string_equal(m->trees[0].entries[1].path, "a/..b");
	m = snapshot_meta_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_netns),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_gpu_round_trip),
	    cmocka_unit_test(test_bad_pids),
	    cmocka_unit_test(test_trees_round_trip),
	    cmocka_unit_test(test_bad_trees),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
