/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroups on the host's real /sys/fs/cgroup (root only; exits 77 otherwise): limits read back,
 * a process moved in, freeze/thaw, kill_all, destroy leaving nothing. On a hybrid host also the
 * cgroup2 side (cgroup.freeze, cgroup.kill, hugetlb), and a private cgroup2 mount driven by the
 * v2 driver, with its eBPF device filter actually denying a device to a process.
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
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "cgroup.h"
#include "cgroup-internal.h"

static char cg_path[64];

/* What a failed test leaves: killed and removed in the teardown. */
static struct cgroup *live_cg;
static pid_t live_pids[4];

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < ELEMENTSOF(live_pids); i++)
		if (live_pids[i] > 0) {
			/* not yet reaped: ours still */
			if (waitpid(live_pids[i], NULL, WNOHANG) == 0) {
				kill(live_pids[i], SIGKILL);
				waitpid(live_pids[i], NULL, 0);
			}
			live_pids[i] = 0;
		}
	if (live_cg) {
		(void)cgroup_destroy(live_cg);
		live_cg = cgroup_free(live_cg);
	}
	return 0;
}

static struct json_object *parse(const char *s)
{
	struct json_object *o = NULL;

	assert_int_equal(json_parse(s, strlen(s), &o), 0);
	return o;
}

static pid_t spawn_sleeper(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		for (;;)
			pause();
	}
	for (size_t i = 0; i < ELEMENTSOF(live_pids); i++)
		if (live_pids[i] <= 0) {
			live_pids[i] = pid;
			break;
		}
	return pid;
}

static char *read_str(const char *dir, const char *file)
{
	char *s = NULL;

	assert_int_equal(cg_read(dir, file, &s), 0);
	s[strcspn(s, "\n")] = '\0';
	return s;
}

static bool has_hugepages_2mb(void)
{
	return access("/sys/kernel/mm/hugepages/hugepages-2048kB", F_OK) == 0;
}

static void test_host(void **state)
{
	struct cgroup *cg = NULL;
	_cleanup_json_ struct json_object *res = NULL;
	enum cgroup_mode mode;
	char paths[32][256];
	size_t n_paths = 0;
	int status;

	(void)state;
	assert_int_equal(cgroup_detect_mode(NULL, &mode), 0);
	bool hybrid = mode == CGROUP_MODE_HYBRID;

	res = parse("{\"memory\":{\"limit\":67108864},\"pids\":{\"limit\":32},"
		    "\"devices\":[{\"allow\":false},{\"allow\":true,\"type\":\"c\","
		    "\"major\":1,\"minor\":5,\"access\":\"rwm\"}]}");
	if (hybrid && has_hugepages_2mb()) {
		json_object_object_add(res, "hugepageLimits",
				       parse("[{\"pageSize\":\"2MB\",\"limit\":4194304}]"));
	}
	struct cgroup_opts opts = {.path = cg_path, .id = "real", .resources = res};

	assert_int_equal(cgroup_new(&opts, &cg), 0);
	live_cg = cg;
	pid_t child = spawn_sleeper();

	assert_int_equal(cgroup_enter(cg, child), 0);
	const char *mem = cgroup_get_path(cg, "memory");
	const char *pids = cgroup_get_path(cg, "pids");
	_cleanup_free_ char *limit = NULL, *pmax = NULL;

	assert_non_null(mem);
	assert_non_null(pids);
	limit = read_str(mem, mode == CGROUP_MODE_V2 ? "memory.max" : "memory.limit_in_bytes");
	assert_string_equal(limit, "67108864");
	pmax = read_str(pids, "pids.max");
	assert_string_equal(pmax, "32");
	if (cgroup_get_path(cg, "devices")) {
		_cleanup_free_ char *l = read_str(cgroup_get_path(cg, "devices"), "devices.list");
		_cleanup_json_ struct json_object *u =
		    parse("{\"devices\":[{\"allow\":false},{\"allow\":true,\"type\":\"c\","
			  "\"major\":1,\"minor\":3,\"access\":\"r\"}]}");
		_cleanup_free_ char *l2 = NULL;

		assert_string_equal(l, "c 1:5 rwm");
		/* an update goes by difference */
		assert_int_equal(cgroup_update(cg, u), 0);
		l2 = read_str(cgroup_get_path(cg, "devices"), "devices.list");
		assert_string_equal(l2, "c 1:3 r");
	}
	if (hybrid && has_hugepages_2mb()) {
		_cleanup_free_ char *h = read_str(cgroup_get_path(cg, ""), "hugetlb.2MB.max");

		assert_string_equal(h, "4194304");
	}

	_cleanup_json_ struct json_object *st = NULL;

	assert_int_equal(cgroup_stats(cg, &st), 0);
	assert_non_null(strstr(json_to_string(st), "\"limit\":67108864"));
	assert_non_null(strstr(json_to_string(st), "\"pids\":{\"current\":1,\"limit\":32}"));

	pid_t *list = NULL;
	size_t n = 0;

	assert_int_equal(cgroup_get_pids(cg, &list, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(list[0], child);
	free(list);

	bool frozen = false;

	assert_int_equal(cgroup_freeze(cg, true), 0);
	assert_int_equal(cgroup_is_frozen(cg, &frozen), 0);
	assert_true(frozen);
	assert_int_equal(cgroup_freeze(cg, false), 0);
	assert_int_equal(cgroup_is_frozen(cg, &frozen), 0);
	assert_false(frozen);

	if (hybrid) {
		/* the cgroup2 side: its own freezer */
		const char *u = cgroup_get_path(cg, "");

		assert_non_null(u);
		assert_int_equal(cg_v2_freeze(u, true), 0);
		assert_int_equal(cg_v2_freeze(u, false), 0);
	}

	/* kill_all: cgroup.kill on cgroup2 (hybrid and v2), signals on v1 */
	assert_int_equal(cgroup_kill_all(cg, SIGKILL), 0);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);

	for (size_t i = 0; i < 32; i++) {
		static const char *const ctrls[] = {"",	      "cpu",	      "cpuacct", "cpuset",
						    "memory", "devices",      "freezer", "blkio",
						    "pids",   "name=systemd", "hugetlb", "net_cls"};
		const char *p;

		if (i >= ELEMENTSOF(ctrls))
			break;
		if ((p = cgroup_get_path(cg, ctrls[i]))) {
			snprintf(paths[n_paths++], sizeof(paths[0]), "%s", p);
			assert_int_equal(access(p, F_OK), 0);
		}
	}
	assert_true(n_paths >= 2);
	assert_int_equal(cgroup_destroy(cg), 0);
	live_cg = cgroup_free(cg);
	for (size_t i = 0; i < n_paths; i++) {
		_cleanup_free_ char *parent = strdup(paths[i]);

		assert_int_equal(access(paths[i], F_OK), -1);
		*strrchr(parent, '/') = '\0';
		/* the parent "brisk-test-N" was ours too */
		assert_int_equal(access(parent, F_OK), -1);
	}
}

/* v1 without cgroup.kill: kill_all signals each pid of a frozen cgroup. */
static void test_host_signal_all(void **state)
{
	struct cgroup *cg = NULL;
	enum cgroup_mode mode;
	int status;

	(void)state;
	assert_int_equal(cgroup_detect_mode(NULL, &mode), 0);
	struct cgroup_opts opts = {.path = cg_path, .id = "real2"};

	assert_int_equal(cgroup_new(&opts, &cg), 0);
	live_cg = cg;
	pid_t a = spawn_sleeper(), b = spawn_sleeper();

	assert_int_equal(cgroup_enter(cg, a), 0);
	assert_int_equal(cg_writef(cgroup_get_path(cg, "pids") ?: cgroup_get_path(cg, ""),
				   "cgroup.procs", "%d", (int)b),
			 0);
	/* SIGTERM is never cgroup.kill: each pid gets it */
	assert_int_equal(cgroup_kill_all(cg, SIGTERM), 0);
	assert_int_equal(waitpid(a, &status, 0), a);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
	/* b is in one hierarchy only on v1; kill it anyway */
	kill(b, SIGKILL);
	waitpid(b, &status, 0);
	assert_int_equal(cgroup_destroy(cg), 0);
	live_cg = cgroup_free(cg);
}

/*
 * A private cgroup2 mount is the same hierarchy as the host's: here it runs the v2 driver
 * end to end with the controllers the host left to cgroup2, and the eBPF device filter.
 */
static void test_private_cgroup2(void **state)
{
	char mnt[] = "/tmp/brisk-cg2-XXXXXX";
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL;
	_cleanup_json_ struct json_object *res =
	    parse("{\"devices\":[{\"allow\":false,\"access\":\"rwm\"},"
		  "{\"allow\":true,\"type\":\"c\",\"major\":1,\"minor\":5,\"access\":\"rwm\"}]}");
	int pipefd[2], status;
	enum cgroup_mode mode;

	(void)state;
	assert_non_null(mkdtemp(mnt));
	if (mount("cgroup2", mnt, "cgroup2", 0, NULL) < 0) {
		rmdir(mnt);
		skip();
	}
	assert_int_equal(cgroup_detect_mode(mnt, &mode), 0);
	assert_int_equal(mode, CGROUP_MODE_V2);
	struct cgroup_opts opts = {.root = mnt, .path = cg_path, .id = "v2", .resources = res};
	int r = cgroup_new(&opts, &cg);

	assert_int_equal(r, 0);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	pid_t child = fork();

	assert_true(child >= 0);
	if (child == 0) {
		char c;
		int fd_null, fd_zero;

		if (read(pipefd[0], &c, 1) != 1)
			_exit(10);
		fd_null = open("/dev/null", O_RDONLY | O_CLOEXEC); /* 1:3: denied */
		fd_zero = open("/dev/zero", O_RDONLY | O_CLOEXEC); /* 1:5: allowed */
		_exit((fd_null < 0 && errno == EPERM ? 0 : 1) | (fd_zero >= 0 ? 0 : 2));
	}
	r = cgroup_enter(cg, child);
	if (r < 0) {
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		umount2(mnt, MNT_DETACH);
		rmdir(mnt);
		fail_msg("enter: %d", r);
	}
	assert_int_equal(write(pipefd[1], "x", 1), 1);
	assert_int_equal(waitpid(child, &status, 0), child);
	close(pipefd[0]);
	close(pipefd[1]);
	r = cgroup_destroy(cg);
	umount2(mnt, MNT_DETACH);
	rmdir(mnt);
	assert_int_equal(r, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * A runtime killed while entering: the state saved before cgroup_enter (the planned cgroup)
 * is all that `delete --force` has; destroying from it removes every directory entering made,
 * the parents it created included.
 */
static void test_planned(void **state)
{
	struct cgroup *cg = NULL, *back = NULL;
	_cleanup_json_ struct json_object *planned = NULL;
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s-planned/inner/c", cg_path);
	struct cgroup_opts opts = {.path = path, .id = "planned"};

	assert_int_equal(cgroup_new(&opts, &cg), 0);
	live_cg = cg;
	assert_int_equal(cgroup_serialize_planned(cg, &planned), 0);
	assert_non_null(strstr(json_to_string(planned), "\"created\""));
	assert_int_equal(cgroup_enter(cg, 0), 0);
	const char *mem = cgroup_get_path(cg, "memory") ?: cgroup_get_path(cg, "");
	assert_non_null(mem);
	assert_int_equal(access(mem, F_OK), 0);

	/* the runtime is killed here: a new process destroys from the planned state */
	assert_int_equal(cgroup_deserialize(planned, &back), 0);
	assert_int_equal(cgroup_destroy(back), 0);
	cgroup_free(back);
	assert_int_equal(access(mem, F_OK), -1);
	char top[256];
	snprintf(top, sizeof(top), "%s", mem);
	*strstr(top, "-planned") = '\0';
	strcat(top, "-planned");
	assert_int_equal(access(top, F_OK), -1);
	/* and nothing was entered: destroying again finds nothing and is no error */
	assert_int_equal(cgroup_deserialize(planned, &back), 0);
	assert_int_equal(cgroup_destroy(back), 0);
	cgroup_free(back);
	live_cg = cgroup_free(live_cg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_host, teardown),
	    cmocka_unit_test_teardown(test_host_signal_all, teardown),
	    cmocka_unit_test_teardown(test_private_cgroup2, teardown),
	    cmocka_unit_test_teardown(test_planned, teardown),
	};
	struct stat st;

	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 77;
	}
	if (stat("/sys/fs/cgroup", &st) < 0) {
		printf("1..0 # SKIP no /sys/fs/cgroup\n");
		return 77;
	}
	enum cgroup_mode mode;

	if (cgroup_detect_mode(NULL, &mode) < 0) {
		printf("1..0 # SKIP no cgroup hierarchy mounted\n");
		return 77;
	}
	snprintf(cg_path, sizeof(cg_path), "/brisk-test-%d/c", (int)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
