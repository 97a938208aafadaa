/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The restored tree against a grant (snapshot_tree_check), on this test's own process: a grant
 * made from what it holds passes, and each field taken away fails, naming it. And the image
 * directory check: only regular files and directories.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "snapshot/snapshot.h"

static const char *const cap_keys[_SNAPSHOT_CAP_MAX] = {
    [SNAPSHOT_CAP_BOUNDING] = "CapBnd",	   [SNAPSHOT_CAP_EFFECTIVE] = "CapEff",
    [SNAPSHOT_CAP_INHERITABLE] = "CapInh", [SNAPSHOT_CAP_PERMITTED] = "CapPrm",
    [SNAPSHOT_CAP_AMBIENT] = "CapAmb",
};

/* What this process holds, as a grant: every namespace the host's (ours). */
static void self_grant(struct snapshot_grant *g)
{
	_cleanup_free_ char *st = NULL;
	size_t len;

	*g = (struct snapshot_grant){.uid = getuid(), .gid = getgid()};
	assert_int_equal(read_file_at(AT_FDCWD, "/proc/self/status", 1 << 20, &st, &len), 0);
	for (int s = 0; s < _SNAPSHOT_CAP_MAX; s++) {
		char *p = strstr(st, cap_keys[s]);
		assert_non_null(p);
		g->caps[s] = strtoull(p + strlen(cap_keys[s]) + 1, NULL, 16);
	}
	/* the groups we hold: any, for this test */
	g->any_gid = true;
}

static void test_self_passes(void **state)
{
	struct snapshot_grant g;
	struct snapshot_violation v;

	(void)state;
	self_grant(&g);
	assert_int_equal(snapshot_tree_check(getpid(), &g, &v), 0);
}

static void test_capability_beyond(void **state)
{
	struct snapshot_grant g;
	struct snapshot_violation v;

	(void)state;
	self_grant(&g);
	if (!g.caps[SNAPSHOT_CAP_BOUNDING])
		skip();
	uint64_t bit = g.caps[SNAPSHOT_CAP_BOUNDING] & -g.caps[SNAPSHOT_CAP_BOUNDING];
	g.caps[SNAPSHOT_CAP_BOUNDING] &= ~bit;
	assert_int_equal(snapshot_tree_check(getpid(), &g, &v), -EPERM);
	assert_string_equal(v.field, "capabilities");
	assert_int_equal(v.set, SNAPSHOT_CAP_BOUNDING);
	assert_int_equal(v.extra_caps, bit);
	assert_int_equal(v.pid, getpid());
}

static void test_uid_and_nnp_and_seccomp(void **state)
{
	struct snapshot_grant g;
	struct snapshot_violation v;

	(void)state;
	self_grant(&g);
	g.uid = getuid() + 1;
	assert_int_equal(snapshot_tree_check(getpid(), &g, &v), -EPERM);
	assert_string_equal(v.field, "uid");
	assert_non_null(strstr(v.detail, "process.user.uid"));
	g.any_uid = true;
	assert_int_equal(snapshot_tree_check(getpid(), &g, &v), 0);

	self_grant(&g);
	g.seccomp_filters = 1;
	assert_int_equal(snapshot_tree_check(getpid(), &g, &v), -EPERM);
	assert_string_equal(v.field, "seccomp");

	self_grant(&g);
	g.no_new_privs = true;
	assert_int_equal(snapshot_tree_check(getpid(), &g, &v), -EPERM);
	assert_string_equal(v.field, "noNewPrivileges");
}

static void test_namespaces(void **state)
{
	struct snapshot_grant g;
	struct snapshot_violation v;

	(void)state;
	self_grant(&g);
	g.ns[g.n_ns++] = (struct snapshot_ns_grant){.type = CLONE_NEWNET, .want = SNAPSHOT_NS_NEW};
	assert_int_equal(snapshot_tree_check(getpid(), &g, &v), -EPERM);
	assert_string_equal(v.field, "namespaces");
	assert_non_null(strstr(v.detail, "the host's network namespace"));
}

static void test_mounts(void **state)
{
	struct snapshot_mount_grant root = {.destination = "/", .what = "root"};
	struct snapshot_grant g;
	struct snapshot_violation v;

	(void)state;
	self_grant(&g);
	g.mounts = &root;
	g.n_mounts = 1;
	/* the host has more mounts than "/" (/proc at least) */
	assert_int_equal(snapshot_tree_check(getpid(), &g, &v), -EPERM);
	assert_string_equal(v.field, "mounts");
	assert_non_null(strstr(v.detail, "which the bundle does not make"));
	g.any_mount = true;
	assert_int_equal(snapshot_tree_check(getpid(), &g, &v), 0);
}

static void test_kill(void **state)
{
	int status;
	pid_t pid = fork();

	(void)state;
	assert_true(pid >= 0);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	assert_int_equal(kill(pid, SIGSTOP), 0);
	assert_int_equal(snapshot_tree_continue(pid), 0);
	assert_int_equal(snapshot_tree_kill(pid), 0);
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	while (WIFSTOPPED(status))
		assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* a filter that allows everything, and one that differs from it in its answer only */
static const struct sock_filter allow_all[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
static const struct sock_filter allow_log[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_LOG)};

/* A child under FILTER (and a hard RLIMIT_NOFILE of 64), stopped, as CRIU leaves a tree. */
static pid_t stopped_child(const struct sock_filter *filter, size_t len)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct sock_fprog prog = {.len = (unsigned short)len,
					  .filter = (struct sock_filter *)filter};
		struct rlimit rl = {64, 64};
		/* gone with the test, whatever assertion fails first */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 ||
		    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    setrlimit(RLIMIT_NOFILE, &rl) < 0 ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
			_exit(1);
		raise(SIGSTOP);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	assert_true(WIFSTOPPED(status));
	return pid;
}

/* PID back in a group stop ("T") within 5 s */
static bool stopped_again(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	for (int i = 0; i < 500; i++) {
		_cleanup_free_ char *st = NULL;
		size_t len;

		if (read_file_at(AT_FDCWD, path, 1 << 20, &st, &len) == 0 &&
		    strstr(st, "State:\tT"))
			return true;
		usleep(10000);
	}
	return false;
}

static void reap(pid_t pid)
{
	int status;

	assert_int_equal(snapshot_tree_kill(pid), 0);
	while (waitpid(pid, &status, 0) == pid && WIFSTOPPED(status))
		;
}

static void test_seccomp_filter_and_rlimits(void **state)
{
	struct snapshot_rlimit nofile = {.resource = RLIMIT_NOFILE, .hard = 64, .name = "NOFILE"};
	struct snapshot_grant g;
	struct snapshot_violation v;
	pid_t pid;

	(void)state;
	/* reading a filter needs CAP_SYS_ADMIN */
	if (geteuid() != 0)
		skip();
	pid = stopped_child(allow_all, 1);
	self_grant(&g);
	g.no_new_privs = true;
	g.seccomp_filters = 1;
	g.seccomp_bpf = allow_all;
	g.seccomp_len = 1;
	g.rlimits = &nofile;
	g.n_rlimits = 1;
	assert_int_equal(snapshot_tree_check(pid, &g, &v), 0);
	g.seccomp_bpf = allow_log;
	assert_int_equal(snapshot_tree_check(pid, &g, &v), -EPERM);
	assert_string_equal(v.field, "seccomp");
	assert_non_null(strstr(v.detail, "differ at instruction 0 of 1"));
	g.seccomp_bpf = allow_all;
	nofile.hard = 63;
	assert_int_equal(snapshot_tree_check(pid, &g, &v), -EPERM);
	assert_string_equal(v.field, "rlimits");
	assert_non_null(
	    strstr(v.detail, "a hard NOFILE of 64, the bundle's process.rlimits give 63"));
	/* the tree stays stopped through every check: once detached, each thread goes back to
	 * its group stop (from the kernel, without running; on a loaded machine a moment later) */
	bool stopped = stopped_again(pid);
	reap(pid);
	assert_true(stopped);
}

static void test_images_check(void **state)
{
	char dir[] = "/tmp/test-confine-XXXXXX";
	_cleanup_free_ char *bad = NULL;
	_cleanup_close_ int fd = -EBADF;

	(void)state;
	assert_non_null(mkdtemp(dir));
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	int f = openat(fd, "inventory.img", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(f >= 0);
	close(f);
	assert_int_equal(mkdirat(fd, "sub", 0700), 0);
	assert_int_equal(symlinkat("sub", fd, "parent"), 0);
	assert_int_equal(snapshot_images_check(fd, &bad), 0);
	assert_int_equal(symlinkat("/etc/passwd", fd, "pages-1.img"), 0);
	assert_int_equal(snapshot_images_check(fd, &bad), -EPERM);
	assert_string_equal(bad, "pages-1.img");
	free(bad);
	bad = NULL;
	assert_int_equal(unlinkat(fd, "pages-1.img", 0), 0);
	assert_int_equal(mkfifoat(fd, "fifo", 0600), 0);
	assert_int_equal(snapshot_images_check(fd, &bad), -EPERM);
	assert_string_equal(bad, "fifo");
	for (const char *const *n = (const char *const[]){"inventory.img", "parent", "fifo", NULL};
	     *n; n++)
		assert_int_equal(unlinkat(fd, *n, 0), 0);
	assert_int_equal(unlinkat(fd, "sub", AT_REMOVEDIR), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_self_passes),
	    cmocka_unit_test(test_capability_beyond),
	    cmocka_unit_test(test_uid_and_nnp_and_seccomp),
	    cmocka_unit_test(test_namespaces),
	    cmocka_unit_test(test_mounts),
	    cmocka_unit_test(test_kill),
	    cmocka_unit_test(test_seccomp_filter_and_rlimits),
	    cmocka_unit_test(test_images_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
