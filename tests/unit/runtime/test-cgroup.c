/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroups against cgroupfs trees laid out in a temp dir (v1, v2, hybrid). write_string_at and
 * rmdir are wrapped (-Wl,--wrap): every write is recorded and creates its file, as the kernel's
 * interface files always exist; rmdir removes a directory's files first, as cgroupfs does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include <linux/bpf.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "cgroup.h"
#include "cgroup-internal.h"

static char root[64];
static char writes[256][2][256];
static size_t n_writes;
static char fail_file[64]; /* a write to a file of this name fails with EIO */

int __real_write_string_at(int dirfd, const char *path, const char *str);
int __wrap_write_string_at(int dirfd, const char *path, const char *str);
int __real_rmdir(const char *path);
int __wrap_rmdir(const char *path);

static void put_file(const char *path, const char *content)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, content, strlen(content)), 0);
}

int __wrap_write_string_at(int dirfd, const char *path, const char *str)
{
	size_t n = strlen(root);
	const char *base = strrchr(path, '/');
	_cleanup_free_ char *dir = strndup(path, (size_t)(base - path));
	struct stat st;

	if (dirfd != AT_FDCWD || strncmp(path, root, n) != 0)
		return __real_write_string_at(dirfd, path, str);
	if (n_writes < ELEMENTSOF(writes)) {
		snprintf(writes[n_writes][0], sizeof(writes[0][0]), "%s", path + n);
		snprintf(writes[n_writes][1], sizeof(writes[0][1]), "%s", str);
		n_writes++;
	}
	if (*fail_file && strcmp(base + 1, fail_file) == 0)
		return -EIO;
	if (stat(dir, &st) < 0)
		return -ENOENT;
	put_file(path, str);
	/* The kernel's answer to cgroup.freeze. */
	if (strcmp(base + 1, "cgroup.freeze") == 0) {
		_cleanup_free_ char *ev = path_join(dir, "cgroup.events");

		put_file(ev, str[0] == '1' ? "populated 1\nfrozen 1\n" : "populated 1\nfrozen 0\n");
	}
	return 0;
}

int __wrap_rmdir(const char *path)
{
	_cleanup_closedir_ DIR *d = opendir(path);
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (de->d_type == DT_REG) {
			_cleanup_free_ char *f = path_join(path, de->d_name);

			unlink(f);
		}
	return __real_rmdir(path);
}

/* Everything written to FILE (relative to the root), joined with '|'. */
static const char *written(const char *file)
{
	static char out[2048];

	out[0] = '\0';
	for (size_t i = 0; i < n_writes; i++)
		if (strcmp(writes[i][0], file) == 0) {
			if (out[0])
				strcat(out, "|");
			strcat(out, writes[i][1]);
		}
	return out;
}

static bool exists(const char *rel)
{
	_cleanup_free_ char *p = path_join(root, rel);

	return access(p, F_OK) == 0;
}

static void mk(const char *rel)
{
	_cleanup_free_ char *p = path_join(root, rel);

	assert_int_equal(mkdir_p_at(AT_FDCWD, p, 0755), 0);
}

static void put(const char *rel, const char *content)
{
	_cleanup_free_ char *p = path_join(root, rel);

	put_file(p, content);
}

static void link_to(const char *target, const char *rel)
{
	_cleanup_free_ char *p = path_join(root, rel);

	assert_int_equal(symlink(target, p), 0);
}

static void layout_v1(bool with_hugetlb)
{
	static const char *const dirs[] = {"cpuset", "memory", "devices", "freezer",
					   "blkio",  "pids",   "systemd", "rdma"};

	for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
		mk(dirs[i]);
	if (with_hugetlb)
		mk("hugetlb");
	mk("cpu,cpuacct");
	link_to("cpu,cpuacct", "cpu");
	link_to("cpu,cpuacct", "cpuacct");
	mk("net_cls,net_prio");
	link_to("net_cls,net_prio", "net_cls");
	link_to("net_cls,net_prio", "net_prio");
	put("cpuset/cpuset.cpus", "0-3\n");
	put("cpuset/cpuset.mems", "0\n");
}

static void layout_v2(void)
{
	put("cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
	put("cgroup.subtree_control", "");
}

static void layout_hybrid(void)
{
	layout_v1(false);
	mk("unified");
	put("unified/cgroup.controllers", "hugetlb\n");
	put("unified/cgroup.subtree_control", "");
}

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/brisk-cgroup-XXXXXX");
	if (!mkdtemp(root))
		return -1;
	n_writes = 0;
	fail_file[0] = '\0';
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return rm_rf_at(AT_FDCWD, root);
}

static struct json_object *parse(const char *s)
{
	struct json_object *o = NULL;

	assert_int_equal(json_parse(s, strlen(s), &o), 0);
	return o;
}

static int new_cg(const char *path, const char *resources, struct cgroup **ret)
{
	_cleanup_json_ struct json_object *res = resources ? parse(resources) : NULL;
	struct cgroup_opts opts = {.root = root, .path = path, .id = "c1", .resources = res};

	return cgroup_new(&opts, ret);
}

static void test_detect(void **state)
{
	enum cgroup_mode m;

	(void)state;
	assert_int_equal(cgroup_detect_mode(root, &m), -ENOMEDIUM);
	layout_hybrid();
	assert_int_equal(cgroup_detect_mode(root, &m), 0);
	assert_int_equal(m, CGROUP_MODE_HYBRID);
	assert_int_equal(rm_rf_at(AT_FDCWD, root), 0);
	assert_int_equal(mkdir(root, 0755), 0);
	layout_v1(true);
	assert_int_equal(cgroup_detect_mode(root, &m), 0);
	assert_int_equal(m, CGROUP_MODE_V1);
	assert_int_equal(rm_rf_at(AT_FDCWD, root), 0);
	assert_int_equal(mkdir(root, 0755), 0);
	layout_v2();
	assert_int_equal(cgroup_detect_mode(root, &m), 0);
	assert_int_equal(m, CGROUP_MODE_V2);
}

static const char all_v1[] =
    "{\"memory\":{\"limit\":104857600,\"reservation\":52428800,\"swap\":209715200,"
    "\"kernel\":1,\"kernelTCP\":2,\"swappiness\":10,\"disableOOMKiller\":true,"
    "\"useHierarchy\":true},"
    "\"cpu\":{\"shares\":512,\"quota\":50000,\"burst\":1000,\"period\":100000,"
    "\"realtimeRuntime\":950,\"realtimePeriod\":1000,\"cpus\":\"0-1\",\"mems\":\"0\","
    "\"idle\":1},"
    "\"pids\":{\"limit\":99},"
    "\"blockIO\":{\"weight\":500,\"leafWeight\":300,"
    "\"weightDevice\":[{\"major\":8,\"minor\":0,\"weight\":600,\"leafWeight\":200}],"
    "\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0,\"rate\":1000}],"
    "\"throttleWriteBpsDevice\":[{\"major\":8,\"minor\":0,\"rate\":2000}],"
    "\"throttleReadIOPSDevice\":[{\"major\":8,\"minor\":16,\"rate\":30}],"
    "\"throttleWriteIOPSDevice\":[{\"major\":8,\"minor\":16,\"rate\":40}]},"
    "\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":4194304}],"
    "\"network\":{\"classID\":1048577,\"priorities\":[{\"name\":\"eth0\",\"priority\":5},"
    "{\"name\":\"lo\",\"priority\":2}]},"
    "\"rdma\":{\"mlx5_1\":{\"hcaHandles\":3,\"hcaObjects\":10000}}}";

static void test_v1_resources(void **state)
{
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL;

	(void)state;
	layout_v1(true);
	/* the memory cgroup exists already, with the kernel's unlimited default */
	mk("memory/brisk/c1");
	put("memory/brisk/c1/memory.limit_in_bytes", "9223372036854771712\n");
	assert_int_equal(new_cg("/brisk/c1", all_v1, &cg), 0);
	assert_int_equal(cgroup_get_mode(cg), CGROUP_MODE_V1);
	assert_int_equal(cgroup_enter(cg, 1234), 0);

	/* swap grows past the old limit: memsw first */
	assert_string_equal(written("/memory/brisk/c1/memory.memsw.limit_in_bytes"), "209715200");
	assert_string_equal(writes[0][0], "/cpuset/brisk/cpuset.cpus"); /* copied down */
	assert_string_equal(written("/cpuset/brisk/cpuset.cpus"), "0-3");
	assert_string_equal(written("/cpuset/brisk/c1/cpuset.cpus"), "0-3|0-1");
	assert_string_equal(written("/cpuset/brisk/c1/cpuset.mems"), "0|0");
	assert_string_equal(written("/memory/brisk/c1/memory.limit_in_bytes"), "104857600");
	assert_string_equal(written("/memory/brisk/c1/memory.soft_limit_in_bytes"), "52428800");
	assert_string_equal(written("/memory/brisk/c1/memory.oom_control"), "1");
	assert_string_equal(written("/memory/brisk/c1/memory.swappiness"), "10");
	assert_string_equal(written("/memory/brisk/c1/memory.use_hierarchy"), "1");
	assert_false(exists("memory/brisk/c1/memory.kmem.limit_in_bytes"));
	assert_string_equal(written("/cpu,cpuacct/brisk/c1/cpu.shares"), "512");
	assert_string_equal(written("/cpu,cpuacct/brisk/c1/cpu.cfs_period_us"), "100000");
	assert_string_equal(written("/cpu,cpuacct/brisk/c1/cpu.cfs_quota_us"), "50000");
	assert_string_equal(written("/cpu,cpuacct/brisk/c1/cpu.cfs_burst_us"), "1000");
	assert_string_equal(written("/cpu,cpuacct/brisk/c1/cpu.idle"), "1");
	assert_string_equal(written("/cpu,cpuacct/brisk/c1/cpu.rt_period_us"), "1000");
	assert_string_equal(written("/cpu,cpuacct/brisk/c1/cpu.rt_runtime_us"), "950");
	assert_string_equal(written("/pids/brisk/c1/pids.max"), "99");
	assert_string_equal(written("/blkio/brisk/c1/blkio.weight"), "500");
	assert_string_equal(written("/blkio/brisk/c1/blkio.leaf_weight"), "300");
	assert_string_equal(written("/blkio/brisk/c1/blkio.weight_device"), "8:0 600");
	assert_string_equal(written("/blkio/brisk/c1/blkio.leaf_weight_device"), "8:0 200");
	assert_string_equal(written("/blkio/brisk/c1/blkio.throttle.read_bps_device"), "8:0 1000");
	assert_string_equal(written("/blkio/brisk/c1/blkio.throttle.write_bps_device"), "8:0 2000");
	assert_string_equal(written("/blkio/brisk/c1/blkio.throttle.read_iops_device"), "8:16 30");
	assert_string_equal(written("/blkio/brisk/c1/blkio.throttle.write_iops_device"), "8:16 40");
	assert_string_equal(written("/hugetlb/brisk/c1/hugetlb.2MB.limit_in_bytes"), "4194304");
	assert_string_equal(written("/net_cls,net_prio/brisk/c1/net_cls.classid"), "1048577");
	assert_string_equal(written("/net_cls,net_prio/brisk/c1/net_prio.ifpriomap"),
			    "eth0 5|lo 2");
	assert_string_equal(written("/rdma/brisk/c1/rdma.max"),
			    "mlx5_1 hca_handle=3 hca_object=10000");
	/* the pid joins every hierarchy, name=systemd included, after the limits */
	assert_string_equal(written("/systemd/brisk/c1/cgroup.procs"), "1234");
	assert_string_equal(written("/freezer/brisk/c1/cgroup.procs"), "1234");
	assert_string_equal(written("/cpu,cpuacct/brisk/c1/cgroup.procs"), "1234");
	assert_string_equal(writes[n_writes - 1][0] + strlen(writes[n_writes - 1][0]) -
				strlen("cgroup.procs"),
			    "cgroup.procs");
	assert_string_equal(cgroup_get_path(cg, "cpuacct"),
			    cgroup_get_path(cg, "cpu")); /* co-mounted */

	assert_int_equal(cgroup_destroy(cg), 0);
	assert_false(exists("memory/brisk/c1"));
	assert_true(exists("memory/brisk")); /* not ours */
	assert_false(exists("cpu,cpuacct/brisk"));
	assert_false(exists("pids/brisk"));
	assert_false(exists("systemd/brisk"));
}

static void test_v1_memory_order(void **state)
{
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL;

	(void)state;
	layout_v1(true);
	mk("memory/c1");
	put("memory/c1/memory.limit_in_bytes", "1073741824\n");
	/* lowering both: memory first, then memory+swap */
	assert_int_equal(new_cg("/c1", "{\"memory\":{\"limit\":1000,\"swap\":2000}}", &cg), 0);
	assert_int_equal(cgroup_enter(cg, 0), 0);
	assert_string_equal(writes[n_writes - 2][0], "/memory/c1/memory.limit_in_bytes");
	assert_string_equal(writes[n_writes - 1][0], "/memory/c1/memory.memsw.limit_in_bytes");
	/* unlimited memory means unlimited swap where the kernel accounts swap */
	n_writes = 0;
	{
		_cleanup_json_ struct json_object *u = parse("{\"memory\":{\"limit\":-1}}");

		assert_int_equal(cgroup_update(cg, u), 0);
	}
	assert_string_equal(written("/memory/c1/memory.memsw.limit_in_bytes"), "-1");
	assert_string_equal(written("/memory/c1/memory.limit_in_bytes"), "-1");
	/* an update writes nothing else */
	assert_int_equal(n_writes, 2);
	assert_int_equal(cgroup_destroy(cg), 0);
	assert_false(exists("memory/c1"));
}

static void test_v1_devices(void **state)
{
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL;

	(void)state;
	layout_v1(true);
	assert_int_equal(
	    new_cg("/c1",
		   "{\"devices\":[{\"allow\":true,\"type\":\"c\",\"major\":9,\"minor\":9},"
		   "{\"allow\":false,\"access\":\"rwm\"},"
		   "{\"allow\":true,\"type\":\"c\",\"major\":5,\"minor\":1,\"access\":\"rw\"},"
		   "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"rwm\"},"
		   "{\"allow\":true,\"type\":\"b\",\"major\":8,\"minor\":0,\"access\":\"r\"},"
		   "{\"allow\":true,\"type\":\"c\",\"access\":\"m\"},"
		   "{\"allow\":true,\"type\":\"b\",\"access\":\"m\"},"
		   "{\"allow\":false,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"w\"},"
		   "{\"allow\":true,\"type\":\"c\",\"major\":5,\"minor\":1,\"access\":\"m\"}]}",
		   &cg),
	    0);
	assert_int_equal(cgroup_enter(cg, 0), 0);
	/* deny everything first, then the exceptions sorted by (major, minor, type) */
	assert_string_equal(written("/devices/c1/devices.deny"), "a *:* rwm");
	assert_string_equal(written("/devices/c1/devices.allow"),
			    "b *:* m|c *:* m|c 1:3 rm|c 5:1 rwm|b 8:0 r");
	size_t deny = 0, allow = 0;

	for (size_t i = 0; i < n_writes; i++) {
		if (!deny && strcmp(writes[i][0], "/devices/c1/devices.deny") == 0)
			deny = i + 1;
		if (!allow && strcmp(writes[i][0], "/devices/c1/devices.allow") == 0)
			allow = i + 1;
	}
	assert_true(deny && allow && deny < allow);

	/* an update of an allow-list: only the difference, never "deny all" */
	put("devices/c1/devices.list", "c 1:3 rm\nc 5:1 rwm\nb 8:0 r\n");
	n_writes = 0;
	_cleanup_json_ struct json_object *u =
	    parse("{\"devices\":[{\"allow\":false},"
		  "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"rwm\"},"
		  "{\"allow\":true,\"type\":\"c\",\"major\":5,\"minor\":1,\"access\":\"r\"}]}");

	assert_int_equal(cgroup_update(cg, u), 0);
	assert_string_equal(written("/devices/c1/devices.deny"), "c 5:1 wm|b 8:0 r");
	assert_string_equal(written("/devices/c1/devices.allow"), "c 1:3 w");
	assert_int_equal(cgroup_destroy(cg), 0);

	/* allow rules alone are an allow-list too (runc), not the kernel's allow-all */
	_cleanup_(cgroup_freep) struct cgroup *cg2 = NULL;

	n_writes = 0;
	assert_int_equal(
	    new_cg("/c2",
		   "{\"devices\":[{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,"
		   "\"access\":\"rwm\"}]}",
		   &cg2),
	    0);
	assert_int_equal(cgroup_enter(cg2, 0), 0);
	assert_string_equal(written("/devices/c2/devices.deny"), "a *:* rwm");
	assert_string_equal(written("/devices/c2/devices.allow"), "c 1:3 rwm");
	assert_int_equal(cgroup_destroy(cg2), 0);
}

static void test_v2_resources(void **state)
{
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL;

	(void)state;
	layout_v2();
	assert_int_equal(
	    new_cg("/brisk/c1",
		   "{\"memory\":{\"limit\":104857600,\"reservation\":52428800,"
		   "\"swap\":209715200,\"swappiness\":10},"
		   "\"cpu\":{\"shares\":1024,\"quota\":50000,\"period\":200000,\"burst\":700,"
		   "\"cpus\":\"0-1\",\"mems\":\"0\",\"idle\":0},"
		   "\"pids\":{\"limit\":-1},"
		   "\"blockIO\":{\"weight\":500,\"leafWeight\":300,"
		   "\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0,\"rate\":1000}],"
		   "\"throttleWriteIOPSDevice\":[{\"major\":8,\"minor\":16,\"rate\":40}]},"
		   "\"hugepageLimits\":[{\"pageSize\":\"1GB\",\"limit\":1073741824}],"
		   "\"rdma\":{\"mlx5_1\":{\"hcaHandles\":3}},"
		   "\"unified\":{\"memory.high\":\"90000000\",\"cgroup.max.depth\":\"3\"}}",
		   &cg),
	    0);
	assert_int_equal(cgroup_get_mode(cg), CGROUP_MODE_V2);
	assert_int_equal(cgroup_enter(cg, 42), 0);
	const char *all = "+cpuset +cpu +io +memory +hugetlb +pids +rdma +misc";

	assert_string_equal(written("/cgroup.subtree_control"), all);
	assert_string_equal(written("/brisk/cgroup.subtree_control"), all);
	assert_string_equal(written("/brisk/c1/cgroup.subtree_control"), "");
	assert_string_equal(written("/brisk/c1/memory.max"), "104857600");
	assert_string_equal(written("/brisk/c1/memory.swap.max"), "104857600");
	assert_string_equal(written("/brisk/c1/memory.low"), "52428800");
	assert_string_equal(written("/brisk/c1/cpu.weight"), "39");
	assert_string_equal(written("/brisk/c1/cpu.max"), "50000 200000");
	assert_string_equal(written("/brisk/c1/cpu.max.burst"), "700");
	assert_string_equal(written("/brisk/c1/cpu.idle"), "0");
	assert_string_equal(written("/brisk/c1/cpuset.cpus"), "0-1");
	assert_string_equal(written("/brisk/c1/cpuset.mems"), "0");
	assert_string_equal(written("/brisk/c1/pids.max"), "max");
	assert_string_equal(written("/brisk/c1/io.weight"), "4950");
	assert_string_equal(written("/brisk/c1/io.max"), "8:0 rbps=1000|8:16 wiops=40");
	assert_string_equal(written("/brisk/c1/hugetlb.1GB.max"), "1073741824");
	assert_string_equal(written("/brisk/c1/rdma.max"), "mlx5_1 hca_handle=3");
	assert_string_equal(written("/brisk/c1/memory.high"), "90000000");
	assert_string_equal(written("/brisk/c1/cgroup.max.depth"), "3");
	assert_string_equal(written("/brisk/c1/cgroup.procs"), "42");
	assert_string_equal(writes[n_writes - 1][0], "/brisk/c1/cgroup.procs");

	/* freeze waits for cgroup.events */
	assert_int_equal(cgroup_freeze(cg, true), 0);
	bool frozen = false;

	assert_int_equal(cgroup_is_frozen(cg, &frozen), 0);
	assert_true(frozen);
	assert_int_equal(cgroup_freeze(cg, false), 0);
	assert_int_equal(cgroup_is_frozen(cg, &frozen), 0);
	assert_false(frozen);

	/* SIGKILL goes through cgroup.kill */
	assert_int_equal(cgroup_kill_all(cg, SIGKILL), 0);
	assert_string_equal(written("/brisk/c1/cgroup.kill"), "1");

	pid_t *pids = NULL;
	size_t n = 0;

	mk("brisk/c1/sub");
	put("brisk/c1/sub/cgroup.procs", "77\n78\n");
	assert_int_equal(cgroup_get_pids(cg, &pids, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(pids[0], 42);
	assert_int_equal(pids[1] + pids[2], 77 + 78);
	free(pids);

	assert_int_equal(cgroup_destroy(cg), 0);
	assert_false(exists("brisk"));
	assert_true(exists("cgroup.controllers"));
}

static void test_v2_conversions(void **state)
{
	int64_t v;

	(void)state;
	assert_int_equal(cgroup_shares_to_weight(2), 1);
	assert_int_equal(cgroup_shares_to_weight(262144), 10000);
	assert_int_equal(cgroup_shares_to_weight(1024), 39);
	assert_int_equal(cgroup_blkio_to_io_weight(10), 1);
	assert_int_equal(cgroup_blkio_to_io_weight(1000), 10000);
	assert_int_equal(cgroup_swap_to_v2(0, -1, &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(cgroup_swap_to_v2(-1, 100, &v), 0);
	assert_int_equal(v, -1);
	assert_int_equal(cgroup_swap_to_v2(300, 100, &v), 0);
	assert_int_equal(v, 200);
	assert_int_equal(cgroup_swap_to_v2(100, 100, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(cgroup_swap_to_v2(100, 0, &v), -EINVAL);
	assert_int_equal(cgroup_swap_to_v2(50, 100, &v), -EINVAL);
}

static void test_v2_swap_equal_and_defaults(void **state)
{
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL;

	(void)state;
	layout_v2();
	/* swap == limit: no swap at all; quota without period: the default period */
	assert_int_equal(new_cg("c1",
				"{\"memory\":{\"limit\":1000,\"swap\":1000},"
				"\"cpu\":{\"quota\":20000},\"pids\":{\"limit\":5}}",
				&cg),
			 0);
	assert_int_equal(cgroup_enter(cg, 0), 0);
	assert_string_equal(written("/c1/memory.swap.max"), "0");
	assert_string_equal(written("/c1/cpu.max"), "20000 100000");
	assert_string_equal(written("/c1/pids.max"), "5");
	/* checkBeforeUpdate refuses a limit below the usage */
	put("c1/memory.current", "5000\n");
	_cleanup_json_ struct json_object *u =
	    parse("{\"memory\":{\"limit\":4000,\"checkBeforeUpdate\":true}}");

	assert_int_equal(cgroup_update(cg, u), -EBUSY);
	assert_int_equal(cgroup_destroy(cg), 0);
	assert_false(exists("c1"));
}

static void test_hybrid(void **state)
{
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL;

	(void)state;
	layout_hybrid();
	assert_int_equal(new_cg("/brisk/c1",
				"{\"memory\":{\"limit\":1048576},\"pids\":{\"limit\":10},"
				"\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":2097152}],"
				"\"unified\":{\"hugetlb.2MB.rsvd.max\":\"0\"}}",
				&cg),
			 0);
	assert_int_equal(cgroup_get_mode(cg), CGROUP_MODE_HYBRID);
	assert_int_equal(cgroup_enter(cg, 7), 0);
	assert_string_equal(written("/memory/brisk/c1/memory.limit_in_bytes"), "1048576");
	assert_string_equal(written("/pids/brisk/c1/pids.max"), "10");
	/* hugetlb lives only in the cgroup2 side here: enabled there and driven the v2 way */
	assert_string_equal(written("/unified/cgroup.subtree_control"), "+hugetlb");
	assert_string_equal(written("/unified/brisk/cgroup.subtree_control"), "+hugetlb");
	assert_string_equal(written("/unified/brisk/c1/hugetlb.2MB.max"), "2097152");
	assert_string_equal(written("/unified/brisk/c1/hugetlb.2MB.rsvd.max"), "0");
	assert_string_equal(written("/unified/brisk/c1/cgroup.procs"), "7");
	assert_string_equal(written("/memory/brisk/c1/cgroup.procs"), "7");
	assert_non_null(cgroup_get_path(cg, ""));
	/* freezing uses the v1 freezer; killing the cgroup2 cgroup.kill */
	assert_int_equal(cgroup_freeze(cg, true), 0);
	assert_string_equal(written("/freezer/brisk/c1/freezer.state"), "FROZEN");
	assert_int_equal(cgroup_freeze(cg, false), 0);
	assert_int_equal(cgroup_kill_all(cg, SIGKILL), 0);
	assert_string_equal(written("/unified/brisk/c1/cgroup.kill"), "1");
	assert_int_equal(cgroup_destroy(cg), 0);
	assert_false(exists("unified/brisk"));
	assert_false(exists("memory/brisk"));
}

static void test_errors(void **state)
{
	static const struct {
		const char *res;
		int err;
	} cases[] = {
	    {"{\"memory\":{\"limit\":1,\"bogus\":2}}", -EINVAL},
	    {"{\"bogus\":{}}", -EINVAL},
	    {"{\"memory\":{\"limit\":-2}}", -EINVAL},
	    {"{\"memory\":{\"limit\":\"1\"}}", -EINVAL},
	    {"{\"memory\":{\"limit\":2000,\"swap\":1000}}", -EINVAL},
	    {"{\"memory\":{\"swappiness\":101}}", -EINVAL},
	    {"{\"cpu\":{\"cpus\":\"0-1;rm\"}}", -EINVAL},
	    {"{\"cpu\":{\"idle\":2}}", -EINVAL},
	    {"{\"pids\":{\"limit\":\"x\"}}", -EINVAL},
	    {"{\"blockIO\":{\"weight\":5}}", -EINVAL},
	    {"{\"blockIO\":{\"throttleReadBpsDevice\":[{\"major\":8,\"rate\":1}]}}", -EINVAL},
	    {"{\"hugepageLimits\":[{\"pageSize\":\"2M\",\"limit\":1}]}", -EINVAL},
	    {"{\"devices\":[{\"allow\":true,\"type\":\"x\"}]}", -EINVAL},
	    {"{\"devices\":[{\"allow\":true,\"access\":\"rwx\"}]}", -EINVAL},
	    {"{\"devices\":[{\"allow\":true,\"access\":\"rr\"}]}", -EINVAL},
	    {"{\"devices\":[{\"type\":\"c\"}]}", -EINVAL},
	    {"{\"network\":{\"classID\":-1}}", -EINVAL},
	    {"{\"unified\":{\"../memory.max\":\"1\"}}", -EINVAL},
	    {"{\"unified\":{\"memory.max\":1}}", -EINVAL},
	    {"{\"unified\":{\"memory.max\":\"1\"}}", -EOPNOTSUPP}, /* v1 only */
	    {"{\"rdma\":{\"mlx5\":{\"hcaHandles\":1,\"x\":2}}}", -EINVAL},
	    {"[]", -EINVAL},
	};
	struct cgroup *cg = NULL;

	(void)state;
	layout_v1(false);
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		int r = new_cg("/c1", cases[i].res, &cg);

		if (r != cases[i].err)
			fail_msg("case %zu '%s': %d", i, cases[i].res, r);
		assert_null(cg);
	}
	/* hugetlb is not mounted here */
	assert_int_equal(
	    new_cg("/c1", "{\"hugepageLimits\":[{\"pageSize\":\"2MB\",\"limit\":1}]}", &cg),
	    -EOPNOTSUPP);
	assert_int_equal(new_cg("system.slice:brisk:c1", NULL, &cg), -EOPNOTSUPP);
	struct cgroup_opts bad_id = {.root = root, .id = "a/b"};

	assert_int_equal(cgroup_new(&bad_id, &cg), -EINVAL);
	assert_int_equal(n_writes, 0);
	assert_false(exists("memory/c1"));
}

static void test_v2_errors(void **state)
{
	struct cgroup *cg = NULL;

	(void)state;
	layout_v2();
	assert_int_equal(new_cg("/c1", "{\"cpu\":{\"realtimeRuntime\":1}}", &cg), -EOPNOTSUPP);
	put("cgroup.controllers", "memory\n");
	assert_int_equal(new_cg("/c1", "{\"pids\":{\"limit\":1}}", &cg), -EOPNOTSUPP);
}

static void test_enter_failure_cleans_up(void **state)
{
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL;

	(void)state;
	layout_v1(true);
	mk("memory/keep");
	assert_int_equal(new_cg("/a/b/c", "{\"pids\":{\"limit\":3}}", &cg), 0);
	snprintf(fail_file, sizeof(fail_file), "pids.max");
	assert_int_equal(cgroup_enter(cg, 1), -EIO);
	/* every directory made is gone, in every hierarchy */
	static const char *const h[] = {"memory",  "pids",   "cpu,cpuacct",
					"systemd", "cpuset", "devices"};
	for (size_t i = 0; i < ELEMENTSOF(h); i++) {
		char p[64];

		snprintf(p, sizeof(p), "%s/a", h[i]);
		assert_false(exists(p));
	}
	assert_true(exists("memory/keep"));
}

static void test_rootless(void **state)
{
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL, *cg2 = NULL;
	_cleanup_json_ struct json_object *res = parse("{\"memory\":{\"limit\":4096}}");
	struct cgroup_opts opts = {.root = root, .path = "/x/c1", .id = "c1", .resources = res};

	(void)state;
	layout_v1(true);
	/* the pids hierarchy refuses the directory (as without delegation) */
	put("pids/x", "");
	assert_int_equal(cgroup_new(&opts, &cg), 0);
	assert_int_equal(cgroup_enter(cg, 5), -ENOTDIR);
	assert_false(exists("memory/x"));
	opts.rootless = true;
	assert_int_equal(cgroup_new(&opts, &cg2), 0);
	assert_int_equal(cgroup_enter(cg2, 5), 0);
	assert_string_equal(written("/memory/x/c1/memory.limit_in_bytes"), "4096");
	assert_string_equal(written("/memory/x/c1/cgroup.procs"), "5");
	assert_int_equal(cgroup_destroy(cg2), 0);
	assert_false(exists("memory/x"));
}

static void test_default_path_and_serialize(void **state)
{
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL, *back = NULL;
	_cleanup_json_ struct json_object *o = NULL;
	_cleanup_free_ char *expect = NULL;

	(void)state;
	layout_hybrid();
	/* no cgroupsPath: the id, below our own cgroup ("/" in a tree that is not mounted) */
	assert_int_equal(new_cg(NULL, "{\"pids\":{\"limit\":3}}", &cg), 0);
	assert_non_null(expect = path_join(root, "pids/c1"));
	assert_string_equal(cgroup_get_path(cg, "pids"), expect);
	assert_int_equal(cgroup_enter(cg, 0), 0);
	assert_true(exists("pids/c1"));
	assert_true(exists("unified/c1"));
	assert_int_equal(cgroup_serialize(cg, &o), 0);
	_cleanup_free_ char *text = strdup(json_to_string(o));

	assert_int_equal(cgroup_deserialize(o, &back), 0);
	assert_int_equal(cgroup_get_mode(back), CGROUP_MODE_HYBRID);
	assert_string_equal(cgroup_get_path(back, "pids"), expect);
	/* the deserialized one has everything: update, then destroy */
	n_writes = 0;
	_cleanup_json_ struct json_object *u = parse("{\"pids\":{\"limit\":9}}");

	assert_int_equal(cgroup_update(back, u), 0);
	assert_string_equal(written("/pids/c1/pids.max"), "9");
	/* the state file keeps what update changed */
	_cleanup_json_ struct json_object *o2 = NULL;

	assert_int_equal(cgroup_serialize(back, &o2), 0);
	assert_non_null(strstr(json_to_string(o2), "\"resources\":{\"pids\":{\"limit\":9}}"));
	assert_non_null(strstr(text, "\"resources\":{\"pids\":{\"limit\":3}}"));
	assert_int_equal(cgroup_destroy(back), 0);
	assert_false(exists("pids/c1"));
	assert_false(exists("unified/c1"));
	/* and a broken state is an error */
	_cleanup_json_ struct json_object *bad = parse("{\"mode\":\"v3\",\"hierarchies\":[]}");
	struct cgroup *x = NULL;

	assert_int_equal(cgroup_deserialize(bad, &x), -EINVAL);
	assert_non_null(strstr(text, "\"created\""));
}

static void test_relative_path_cleaning(void **state)
{
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL;
	_cleanup_free_ char *expect = NULL;

	(void)state;
	layout_v2();
	/* ".." never climbs out of the hierarchy */
	assert_int_equal(new_cg("/../../x/./y//", NULL, &cg), 0);
	assert_non_null(expect = path_join(root, "x/y"));
	assert_string_equal(cgroup_get_path(cg, ""), expect);
}

static void test_v1_freeze_and_stats(void **state)
{
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL;
	_cleanup_json_ struct json_object *st = NULL;
	bool frozen = true;

	(void)state;
	layout_v1(true);
	assert_int_equal(new_cg("/c1", NULL, &cg), 0);
	assert_int_equal(cgroup_enter(cg, 0), 0);
	assert_int_equal(cgroup_freeze(cg, true), 0);
	assert_int_equal(cgroup_is_frozen(cg, &frozen), 0);
	assert_true(frozen);
	assert_int_equal(cgroup_freeze(cg, false), 0);
	assert_string_equal(written("/freezer/c1/freezer.state"), "FROZEN|THAWED");
	assert_int_equal(cgroup_is_frozen(cg, &frozen), 0);
	assert_false(frozen);

	put("memory/c1/memory.usage_in_bytes", "4096\n");
	put("memory/c1/memory.limit_in_bytes", "8192\n");
	put("memory/c1/memory.stat", "cache 100\nrss 200\n");
	put("pids/c1/pids.current", "3\n");
	put("pids/c1/pids.max", "max\n");
	put("cpu,cpuacct/c1/cpuacct.usage", "123456\n");
	put("cpu,cpuacct/c1/cpuacct.usage_percpu", "100000 23456 \n");
	put("cpu,cpuacct/c1/cpu.stat", "nr_periods 5\nnr_throttled 2\nthrottled_time 99\n");
	put("blkio/c1/blkio.throttle.io_service_bytes_recursive",
	    "8:0 Read 4096\n8:0 Write 0\nTotal 4096\n");
	put("hugetlb/c1/hugetlb.2MB.usage_in_bytes", "2097152\n");
	put("hugetlb/c1/hugetlb.2MB.failcnt", "1\n");
	assert_int_equal(cgroup_stats(cg, &st), 0);
	const char *s = json_to_string(st);

	assert_non_null(strstr(s, "\"usage\":{\"usage\":4096,\"limit\":8192}"));
	assert_non_null(strstr(s, "\"raw\":{\"cache\":100,\"rss\":200}"));
	assert_non_null(strstr(s, "\"cache\":100"));
	assert_non_null(strstr(s, "\"pids\":{\"current\":3,\"limit\":0}"));
	assert_non_null(strstr(s, "\"total\":123456,\"percpu\":[100000,23456]"));
	assert_non_null(strstr(s, "\"throttling\":{\"periods\":5,\"throttled_periods\":2,"
				  "\"throttled_time\":99}"));
	assert_non_null(strstr(s, "{\"major\":8,\"minor\":0,\"op\":\"Read\",\"value\":4096}"));
	assert_non_null(strstr(s, "\"hugetlb\":{\"2MB\":{\"usage\":2097152,\"failcnt\":1}}"));
	assert_int_equal(cgroup_destroy(cg), 0);
}

/* A frozen cgroup is refused before anything joins it, and what was there before stays. */
static void test_frozen_refused(void **state)
{
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL, *cg2 = NULL;

	(void)state;
	layout_hybrid();
	/* v1: freezer.state of a cgroup that was there */
	mk("freezer/pre/c1");
	put("freezer/pre/c1/freezer.state", "FROZEN\n");
	assert_int_equal(new_cg("/pre/c1", NULL, &cg), 0);
	assert_int_equal(cgroup_enter(cg, 0), -EBUSY);
	assert_true(exists("freezer/pre/c1"));
	assert_false(exists("memory/pre"));
	assert_false(exists("unified/pre"));
	assert_int_equal(cgroup_destroy(cg), 0);
	assert_true(exists("freezer/pre/c1"));

	/* cgroup2: frozen by a parent, as cgroup.events tells */
	mk("unified/pre/c2");
	put("unified/pre/c2/cgroup.events", "populated 0\nfrozen 1\n");
	assert_int_equal(new_cg("/pre/c2", NULL, &cg2), 0);
	assert_int_equal(cgroup_enter(cg2, 0), -EBUSY);
	assert_true(exists("unified/pre/c2"));
	assert_false(exists("freezer/pre/c2"));
	assert_int_equal(cgroup_destroy(cg2), 0);
	cg2 = cgroup_free(cg2);
	put("unified/pre/c2/cgroup.events", "populated 0\nfrozen 0\n");
	assert_int_equal(new_cg("/pre/c2", NULL, &cg2), 0);
	assert_int_equal(cgroup_enter(cg2, 0), 0);
	assert_int_equal(cgroup_destroy(cg2), 0);
}

static void test_v2_stats(void **state)
{
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL;
	_cleanup_json_ struct json_object *st = NULL;

	(void)state;
	layout_v2();
	assert_int_equal(new_cg("/c1", NULL, &cg), 0);
	assert_int_equal(cgroup_enter(cg, 0), 0);
	put("c1/cpu.stat", "usage_usec 10\nuser_usec 6\nsystem_usec 4\nnr_periods 3\n"
			   "nr_throttled 1\nthrottled_usec 2\n");
	put("c1/memory.current", "4096\n");
	put("c1/memory.max", "max\n");
	put("c1/memory.events", "low 0\nhigh 0\nmax 7\noom 0\n");
	put("c1/memory.stat", "anon 10\nfile 20\n");
	put("c1/pids.current", "2\n");
	put("c1/pids.max", "50\n");
	put("c1/io.stat", "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n");
	put("c1/hugetlb.2MB.current", "0\n");
	put("c1/hugetlb.2MB.events", "max 4\n");
	assert_int_equal(cgroup_stats(cg, &st), 0);
	const char *s = json_to_string(st);

	assert_non_null(strstr(s, "\"usage\":{\"total\":10000,\"kernel\":4000,\"user\":6000}"));
	assert_non_null(strstr(s, "\"throttled_time\":2000"));
	assert_non_null(
	    strstr(s, "\"usage\":{\"usage\":4096,\"limit\":18446744073709551615,\"failcnt\":7}"));
	assert_non_null(strstr(s, "\"cache\":20"));
	assert_non_null(strstr(s, "\"pids\":{\"current\":2,\"limit\":50}"));
	assert_non_null(strstr(s,
			       "\"ioServiceBytesRecursive\":[{\"major\":8,\"minor\":0,\"op\":"
			       "\"Read\",\"value\":100},{\"major\":8,\"minor\":0,\"op\":\"Write\","
			       "\"value\":200}]"));
	assert_non_null(strstr(s, "\"hugetlb\":{\"2MB\":{\"usage\":0,\"failcnt\":4}}"));
	assert_int_equal(cgroup_destroy(cg), 0);
}

/* A BPF interpreter for the instructions the device filter uses. */
static int run_prog(const struct bpf_insn *p, size_t n, char type, unsigned access, uint32_t major,
		    uint32_t minor)
{
	uint32_t ctx[3] = {(access << 16) |
			       (type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK),
			   major, minor};
	uint64_t reg[11] = {0};

	for (size_t pc = 0; pc < n; pc++) {
		const struct bpf_insn *i = &p[pc];
		uint64_t src =
		    BPF_SRC(i->code) == BPF_X ? reg[i->src_reg] : (uint64_t)(uint32_t)i->imm;

		switch (i->code) {
		case BPF_LDX | BPF_MEM | BPF_W:
			assert_int_equal(i->src_reg, BPF_REG_1);
			reg[i->dst_reg] = ctx[i->off / 4];
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			reg[i->dst_reg] = (uint32_t)(reg[i->dst_reg] & src);
			break;
		case BPF_ALU | BPF_RSH | BPF_K:
			reg[i->dst_reg] = (uint32_t)reg[i->dst_reg] >> src;
			break;
		case BPF_ALU | BPF_MOV | BPF_K:
		case BPF_ALU | BPF_MOV | BPF_X:
			reg[i->dst_reg] = (uint32_t)src;
			break;
		case BPF_JMP | BPF_JNE | BPF_K:
		case BPF_JMP | BPF_JNE | BPF_X:
			if (reg[i->dst_reg] != src)
				pc += (size_t)i->off;
			assert_true(pc < n);
			break;
		case BPF_JMP | BPF_EXIT:
			return (int)reg[0];
		default:
			fail_msg("unexpected insn %#x at %zu", i->code, pc);
		}
	}
	fail_msg("fell off the end");
	return -1;
}

static void test_bpf_program(void **state)
{
	_cleanup_json_ struct json_object *res =
	    parse("{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
		  "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"rwm\"},"
		  "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":5,\"access\":\"r\"},"
		  "{\"allow\":true,\"type\":\"c\",\"major\":136,\"access\":\"rw\"},"
		  "{\"allow\":true,\"type\":\"b\",\"access\":\"m\"}]}");
	_cleanup_(cgroup_resources_freep) struct cgroup_resources *r = NULL;
	_cleanup_free_ struct bpf_insn *p = NULL;
	size_t n = 0;
	const unsigned R = CGROUP_DEV_READ, W = CGROUP_DEV_WRITE, M = CGROUP_DEV_MKNOD;

	(void)state;
	assert_int_equal(cgroup_resources_parse(res, &r), 0);
	assert_int_equal(cgroup_devices_bpf_build(r->devices, r->n_devices, &p, &n), 0);
	assert_int_equal(run_prog(p, n, 'c', R | W, 1, 3), 1);
	assert_int_equal(run_prog(p, n, 'c', M, 1, 3), 1);
	assert_int_equal(run_prog(p, n, 'b', R, 1, 3), 0);
	assert_int_equal(run_prog(p, n, 'c', R, 1, 5), 1);
	assert_int_equal(run_prog(p, n, 'c', R | W, 1, 5), 0);
	assert_int_equal(run_prog(p, n, 'c', W, 136, 7), 1);
	assert_int_equal(run_prog(p, n, 'c', M, 136, 7), 0);
	assert_int_equal(run_prog(p, n, 'b', M, 8, 0), 1);
	assert_int_equal(run_prog(p, n, 'b', R, 8, 0), 0);
	assert_int_equal(run_prog(p, n, 'c', R, 4, 1), 0);
	free(p);
	p = NULL;

	/* allow-all with a hole: the default is allow, the rules deny */
	_cleanup_json_ struct json_object *res2 =
	    parse("{\"devices\":[{\"allow\":true},"
		  "{\"allow\":false,\"type\":\"c\",\"major\":1,\"minor\":3,\"access\":\"w\"}]}");
	_cleanup_(cgroup_resources_freep) struct cgroup_resources *r2 = NULL;

	assert_int_equal(cgroup_resources_parse(res2, &r2), 0);
	assert_int_equal(cgroup_devices_bpf_build(r2->devices, r2->n_devices, &p, &n), 0);
	assert_int_equal(run_prog(p, n, 'c', R, 1, 3), 1);
	assert_int_equal(run_prog(p, n, 'c', W, 1, 3), 0);
	assert_int_equal(run_prog(p, n, 'c', R | W, 1, 3),
			 1); /* w alone is denied; rw is not a subset */
	assert_int_equal(run_prog(p, n, 'b', W, 1, 3), 1);
	free(p);
	p = NULL;
	/* no rules at all: deny everything, as runc (not the kernel's allow-all) */
	assert_int_equal(cgroup_devices_bpf_build(NULL, 0, &p, &n), 0);
	assert_int_equal(n, 8);
	assert_int_equal(run_prog(p, n, 'c', R, 1, 1), 0);
	free(p);
	p = NULL;

	/* only allow rules: an allow-list, everything else denied */
	_cleanup_json_ struct json_object *res3 =
	    parse("{\"devices\":[{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":3,"
		  "\"access\":\"rwm\"}]}");
	_cleanup_(cgroup_resources_freep) struct cgroup_resources *r3 = NULL;

	assert_int_equal(cgroup_resources_parse(res3, &r3), 0);
	assert_int_equal(cgroup_devices_bpf_build(r3->devices, r3->n_devices, &p, &n), 0);
	assert_int_equal(run_prog(p, n, 'c', R | W, 1, 3), 1);
	assert_int_equal(run_prog(p, n, 'c', R, 10, 229), 0);
	assert_int_equal(run_prog(p, n, 'b', M, 8, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_detect, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_v1_resources, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_v1_memory_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_v1_devices, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_v2_resources, setup, teardown),
	    cmocka_unit_test(test_v2_conversions),
	    cmocka_unit_test_setup_teardown(test_v2_swap_equal_and_defaults, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hybrid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_v2_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_enter_failure_cleans_up, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_default_path_and_serialize, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_relative_path_cleaning, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_v1_freeze_and_stats, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_frozen_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_v2_stats, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rootless, setup, teardown),
	    cmocka_unit_test(test_bpf_program),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
