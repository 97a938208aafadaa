/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "runtime/runtime-internal.h"

static char tmpdir[] = "/tmp/brisk-seccomp-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return rm_rf_at(AT_FDCWD, tmpdir);
}

static int compile(const char *json, struct seccomp_prog **ret)
{
	_cleanup_json_ struct json_object *o = NULL;

	assert_int_equal(json_parse(json, strlen(json), &o), 0);
	return seccomp_prog_compile(o, ret);
}

static struct seccomp_prog *compile_ok(const char *json)
{
	struct seccomp_prog *p = NULL;

	assert_int_equal(compile(json, &p), 0);
	assert_non_null(p);
	assert_true(seccomp_prog_size(p) > 0);
	return p;
}

/* Fork; the child sets no_new_privs, installs P and returns FN's result as exit status. */
static int run_filtered(const struct seccomp_prog *p, int (*fn)(void))
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		int fd;

		/* cmocka catches SIGSYS to report a failure; SCMP_ACT_TRAP must kill here. */
		signal(SIGSYS, SIG_DFL);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(100);
		if (seccomp_prog_install(p, &fd) < 0)
			_exit(101);
		/* Not _exit(): a sanitizer's exit hooks would make syscalls the filter refuses. */
		syscall(SYS_exit_group, fn());
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

/* Shaped like Docker's default profile: allow list, args with repeated indexes, errnoRet. */
static const char docker_like[] =
    "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":1,"
    "\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\"],"
    "\"syscalls\":["
    "{\"names\":[\"accept\",\"read\",\"write\",\"openat\",\"close\",\"exit_group\",\"mmap\","
    "\"socketcall\",\"_llseek\",\"no_such_syscall_at_all\"],\"action\":\"SCMP_ACT_ALLOW\"},"
    "{\"names\":[\"personality\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":["
    "{\"index\":0,\"value\":0,\"op\":\"SCMP_CMP_EQ\"},"
    "{\"index\":0,\"value\":8,\"op\":\"SCMP_CMP_EQ\"},"
    "{\"index\":0,\"value\":4294967295,\"op\":\"SCMP_CMP_EQ\"}]},"
    "{\"names\":[\"clone\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":["
    "{\"index\":0,\"value\":2114060288,\"valueTwo\":0,\"op\":\"SCMP_CMP_MASKED_EQ\"}]},"
    "{\"names\":[\"clone3\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38},"
    "{\"names\":[\"socket\"],\"action\":\"SCMP_ACT_ALLOW\",\"args\":["
    "{\"index\":0,\"value\":40,\"op\":\"SCMP_CMP_NE\"},"
    "{\"index\":1,\"value\":3,\"op\":\"SCMP_CMP_LE\"}]},"
    "{\"names\":[\"reboot\"],\"action\":\"SCMP_ACT_ERRNO\"}"
    "]}";

static void test_compile_docker_like(void **state)
{
	(void)state;
	_cleanup_(seccomp_prog_freep) struct seccomp_prog *p = compile_ok(docker_like);

	assert_false(seccomp_prog_needs_listener(p));
	assert_null(seccomp_prog_listener_path(p));
}

static void test_compile_null(void **state)
{
	(void)state;
	struct seccomp_prog *p = (void *)1;
	int fd = 5;

	assert_int_equal(seccomp_prog_compile(NULL, &p), 0);
	assert_null(p);
	assert_int_equal(seccomp_prog_install(NULL, &fd), 0);
	assert_int_equal(fd, -1);
	assert_false(seccomp_prog_needs_listener(NULL));
}

static void test_compile_errors(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "{}",
	    "[]",
	    "{\"defaultAction\":\"SCMP_ACT_FOO\"}",
	    "{\"defaultAction\":\"SCMP_ACT_NOTIFY\",\"listenerPath\":\"/x\"}",
	    "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":70000}",
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_VAX\"]}",
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_FOO\"]}",
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
	    "\"action\":\"SCMP_ACT_BAR\"}]}",
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
	    "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":1,"
	    "\"op\":\"SCMP_CMP_ALMOST\"}]}]}",
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
	    "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":6,\"value\":1,"
	    "\"op\":\"SCMP_CMP_EQ\"}]}]}",
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":\"mkdir\","
	    "\"action\":\"SCMP_ACT_ERRNO\"}]}",
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
	    "\"action\":\"SCMP_ACT_NOTIFY\"}]}",
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"/x\",\"syscalls\":"
	    "[{\"names\":[\"write\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct seccomp_prog *p = NULL;

		print_message("# %s\n", bad[i]);
		assert_int_equal(compile(bad[i], &p), -EINVAL);
		assert_null(p);
	}
}

/* "mkdir\u0000x" is no name for mkdir: a NUL in a name, arch or flag is refused. */
static void test_nul_in_names(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\\u0000x\"],"
	    "\"action\":\"SCMP_ACT_ERRNO\"}]}",
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":"
	    "[\"SCMP_ARCH_X86_64\\u0000\"]}",
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_LOG\\u0000\"]}",
	};

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct seccomp_prog *p = NULL;

		print_message("# %s\n", bad[i]);
		assert_int_equal(compile(bad[i], &p), -EILSEQ);
		assert_null(p);
	}
}

static void test_unknown_syscalls_skipped(void **state)
{
	(void)state;
	_cleanup_(seccomp_prog_freep) struct seccomp_prog *p = compile_ok(
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"/x\",\"syscalls\":["
	    "{\"names\":[\"frobnicate\",\"unfrobnicate\"],\"action\":\"SCMP_ACT_NOTIFY\"},"
	    "{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ALLOW\"}]}");

	/* Only rules that made it into the filter need a listener. */
	assert_false(seccomp_prog_needs_listener(p));
	assert_string_equal(seccomp_prog_listener_path(p), "/x");
}

static int child_errno_rules(void)
{
	char buf[256];
	int bad = 0;

	errno = 0;
	if (syscall(SYS_mkdir, "/nonexistent-dir/x", 0700) != -1 || errno != EADDRNOTAVAIL)
		bad |= 1;
	errno = 0;
	if (syscall(SYS_getcwd, buf, sizeof(buf)) != -1 || errno != EPERM)
		bad |= 2;
	/* Only getpriority(PRIO_PGRP, ...) is filtered. */
	errno = 0;
	if (syscall(SYS_getpriority, PRIO_PROCESS, 0) < 0)
		bad |= 4;
	errno = 0;
	if (syscall(SYS_getpriority, PRIO_PGRP, 0) != -1 || errno != ENOTTY)
		bad |= 8;
	/* MASKED_EQ: umask(x) fails when (x & 0700) == 0700. */
	if (syscall(SYS_umask, 0022) < 0)
		bad |= 16;
	errno = 0;
	if (syscall(SYS_umask, 0755) != -1 || errno != EACCES)
		bad |= 32;
	return bad;
}

static void test_errno_rules(void **state)
{
	(void)state;
	_cleanup_(seccomp_prog_freep) struct seccomp_prog *p = compile_ok(
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_TSYNC\"],"
	    "\"syscalls\":["
	    "{\"names\":[\"mkdir\",\"mkdirat\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":99},"
	    "{\"names\":[\"getcwd\"],\"action\":\"SCMP_ACT_ERRNO\"},"
	    "{\"names\":[\"getpriority\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":25,"
	    "\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]},"
	    "{\"names\":[\"umask\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13,"
	    "\"args\":[{\"index\":0,\"value\":448,\"valueTwo\":448,"
	    "\"op\":\"SCMP_CMP_MASKED_EQ\"}]}]}");
	int status = run_filtered(p, child_errno_rules);

	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static int child_getppid(void)
{
	errno = 0;
	if (syscall(SYS_getppid) != -1)
		return 1;
	return errno == ENOSYS ? 0 : 2;
}

static void test_default_errno(void **state)
{
	(void)state;
	/* Everything but exiting fails with defaultErrnoRet. */
	_cleanup_(seccomp_prog_freep) struct seccomp_prog *p =
	    compile_ok("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,"
		       "\"syscalls\":[{\"names\":[\"exit\",\"exit_group\"],"
		       "\"action\":\"SCMP_ACT_ALLOW\"}]}");
	int status = run_filtered(p, child_getppid);

	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_kill_and_trap(void **state)
{
	(void)state;
	static const char *const actions[] = {"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
					      "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP"};

	for (size_t i = 0; i < ELEMENTSOF(actions); i++) {
		char json[256];
		struct seccomp_prog *p;
		int status;

		snprintf(json, sizeof(json),
			 "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
			 "[\"getppid\"],\"action\":\"%s\"}]}",
			 actions[i]);
		p = compile_ok(json);
		status = run_filtered(p, child_getppid);
		seccomp_prog_free(p);
		print_message("# %s: status 0x%x\n", actions[i], status);
		assert_true(WIFSIGNALED(status));
		assert_int_equal(WTERMSIG(status), SIGSYS);
	}
}

static int child_nothing(void)
{
	return 0;
}

static void test_flags(void **state)
{
	(void)state;
	_cleanup_(seccomp_prog_freep) struct seccomp_prog *p =
	    compile_ok("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":["
		       "\"SECCOMP_FILTER_FLAG_LOG\",\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\","
		       "\"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\"],"
		       "\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_AARCH64\"],"
		       "\"syscalls\":[{\"names\":[\"acct\"],\"action\":\"SCMP_ACT_LOG\"}]}");
	int status = run_filtered(p, child_nothing);

	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static int listen_at(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	assert_true(strlen(path) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(s, 4), 0);
	return s;
}

/* Accept one agent connection: the state JSON (until EOF) and the fd sent with it. */
static void agent_receive(int ls, struct json_object **ret_state, int *ret_fd)
{
	_cleanup_close_ int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
	char buf[65536];
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
	struct msghdr mh = {.msg_iov = &iov,
			    .msg_iovlen = 1,
			    .msg_control = control.buf,
			    .msg_controllen = sizeof(control.buf)};
	struct cmsghdr *cm;
	size_t len;
	ssize_t n;

	assert_true(c >= 0);
	n = recvmsg(c, &mh, MSG_CMSG_CLOEXEC);
	assert_true(n > 0);
	cm = CMSG_FIRSTHDR(&mh);
	assert_non_null(cm);
	assert_int_equal(cm->cmsg_level, SOL_SOCKET);
	assert_int_equal(cm->cmsg_type, SCM_RIGHTS);
	memcpy(ret_fd, CMSG_DATA(cm), sizeof(int));
	len = (size_t)n;
	while ((n = read(c, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	assert_int_equal(json_parse(buf, len, ret_state), 0);
}

static void check_process_state(struct json_object *o, pid_t pid, const char *metadata)
{
	struct json_object *fds, *st;
	const char *s;
	int64_t p;

	assert_int_equal(json_get_string(o, "ociVersion", &s), 0);
	assert_string_equal(s, "1.2.0");
	assert_int_equal(json_get_array(o, "fds", &fds), 0);
	assert_int_equal(json_object_array_length(fds), 1);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(fds, 0)), "seccompFd");
	assert_int_equal(json_get_int64(o, "pid", &p), 0);
	assert_int_equal(p, pid);
	assert_int_equal(json_get_string(o, "metadata", &s), 0);
	assert_string_equal(s, metadata);
	assert_int_equal(json_get_object(o, "state", &st), 0);
	assert_int_equal(json_get_string(st, "id", &s), 0);
	assert_string_equal(s, "abc");
}

static struct json_object *container_state(void)
{
	static const char s[] = "{\"ociVersion\":\"1.2.0\",\"id\":\"abc\",\"status\":\"creating\","
				"\"pid\":1,\"bundle\":\"/b\"}";
	struct json_object *o = NULL;

	assert_int_equal(json_parse(s, strlen(s), &o), 0);
	return o;
}

static void test_send_listener(void **state)
{
	(void)state;
	_cleanup_free_ char *path = path_join(tmpdir, "plain.sock");
	_cleanup_json_ struct json_object *cs = container_state(), *got = NULL;
	_cleanup_(seccomp_prog_freep) struct seccomp_prog *p =
	    compile_ok("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"/a\","
		       "\"listenerMetadata\":\"MKNOD=/dev/null\",\"syscalls\":[{\"names\":"
		       "[\"mkdir\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}");
	_cleanup_free_ char *json = NULL;
	_cleanup_close_ int ls = -EBADF, fd = -EBADF;
	int pipefd[2];
	struct stat a, b;

	assert_true(seccomp_prog_needs_listener(p));
	assert_string_equal(seccomp_prog_listener_path(p), "/a");
	assert_int_equal(seccomp_listener_state(p, 1234, cs, &json), 0);
	ls = listen_at(path);
	assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
	/* The listen backlog takes the connection before accept(). */
	assert_int_equal(seccomp_send_listener(path, pipefd[0], json), 0);
	agent_receive(ls, &got, &fd);
	check_process_state(got, 1234, "MKNOD=/dev/null");
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(fstat(pipefd[0], &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	close(pipefd[0]);
	close(pipefd[1]);
	assert_int_equal(seccomp_send_listener("/nonexistent/agent.sock", 0, json), -ENOENT);
}

static bool array_has(struct json_object *o, const char *key, const char *value)
{
	struct json_object *a;

	if (json_get_array(o, key, &a) < 0)
		return false;
	for (size_t i = 0; i < json_object_array_length(a); i++)
		if (strcmp(json_object_get_string(json_object_array_get_idx(a, i)), value) == 0)
			return true;
	return false;
}

static void test_notify(void **state)
{
	(void)state;
	_cleanup_free_ char *path = path_join(tmpdir, "agent.sock");
	_cleanup_free_ char *profile = NULL;
	_cleanup_json_ struct json_object *cs = container_state(), *got = NULL, *features = NULL;
	_cleanup_(seccomp_prog_freep) struct seccomp_prog *p = NULL;
	_cleanup_close_ int ls = -EBADF, fd = -EBADF;
	bool killable;
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	int status;
	pid_t pid;

	assert_int_equal(seccomp_features(&features), 0);
	/* Linux >= 5.19 */
	killable = array_has(features, "supportedFlags", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV");
	assert_true(asprintf(&profile,
			     "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"%s\","
			     "\"flags\":[\"SECCOMP_FILTER_FLAG_TSYNC\"%s],\"syscalls\":[{\"names\":"
			     "[\"mkdir\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
			     path,
			     killable ? ",\"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV\"" : "") > 0);
	p = compile_ok(profile);
	assert_true(seccomp_prog_needs_listener(p));
	ls = listen_at(path);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		_cleanup_free_ char *json = NULL;
		int lfd = -1;

		if (seccomp_listener_state(p, getpid(), cs, &json) < 0)
			_exit(10);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(11);
		if (seccomp_prog_install(p, &lfd) < 0 || lfd < 0)
			_exit(12);
		if (seccomp_send_listener(seccomp_prog_listener_path(p), lfd, json) < 0)
			_exit(13);
		close(lfd);
		/* Blocks until the agent answers. */
		_exit(syscall(SYS_mkdir, "/nonexistent-dir/x", 0700) == 42 ? 0 : 14);
	}

	agent_receive(ls, &got, &fd);
	check_process_state(got, pid, "");
	memset(&req, 0, sizeof(req));
	assert_int_equal(ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req), 0);
	assert_int_equal(req.pid, pid);
	assert_int_equal(req.data.nr, SYS_mkdir);
	assert_int_equal(req.data.args[1], 0700);
	resp = (struct seccomp_notif_resp){.id = req.id, .val = 42, .error = 0, .flags = 0};
	assert_int_equal(ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* The highest of the syscalls the ENOSYS profiles below name, and one below it they do not. */
static long enosys_highest, enosys_below;

static int child_enosys(void)
{
	int bad = 0;

	/* The filter answers before the kernel runs anything: these numbers are safe to call. */
	errno = 0;
	if (syscall(enosys_highest + 1, 0, 0, 0) != -1 || errno != ENOSYS)
		bad |= 1;
	errno = 0;
	if (syscall(1000, 0, 0, 0) != -1 || errno != ENOSYS)
		bad |= 2;
	/* Below the highest, the default action still holds. */
	errno = 0;
	if (syscall(enosys_below, 0, 0, 0) != -1 || errno != EPERM)
		bad |= 4;
	return bad;
}

/* A syscall newer than the profile gets ENOSYS (so that libc falls back), not the default. */
static void test_enosys_above_highest(void **state)
{
	(void)state;
	static const char *const defaults[] = {
	    "\"SCMP_ACT_ERRNO\"",
	    "\"SCMP_ACT_KILL_PROCESS\"",
	};

	enosys_highest = SYS_exit > SYS_exit_group ? SYS_exit : SYS_exit_group;
	if (SYS_getppid > enosys_highest)
		enosys_highest = SYS_getppid;
	enosys_below = enosys_highest - 1;
	while (enosys_below == SYS_exit || enosys_below == SYS_exit_group ||
	       enosys_below == SYS_getppid)
		enosys_below--;
	for (size_t i = 0; i < ELEMENTSOF(defaults); i++) {
		char json[512];
		struct seccomp_prog *p;
		int status;

		/* under KILL_PROCESS the "below" call dies: leave it out there */
		snprintf(json, sizeof(json),
			 "{\"defaultAction\":%s,\"syscalls\":[{\"names\":[\"exit\",\"exit_group\","
			 "\"getppid\"],\"action\":\"SCMP_ACT_ALLOW\"}%s]}",
			 defaults[i],
			 i == 0 ? "" : ",{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\"}");
		print_message("# %s\n", json);
		p = compile_ok(json);
		if (i == 1) {
			long below = enosys_below;

			enosys_below = SYS_mkdir < enosys_highest ? SYS_mkdir : -1;
			if (enosys_below < 0) {
				seccomp_prog_free(p);
				enosys_below = below;
				continue;
			}
			status = run_filtered(p, child_enosys);
			enosys_below = below;
		} else {
			status = run_filtered(p, child_enosys);
		}
		seccomp_prog_free(p);
		print_message("# status 0x%x\n", status);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
}

/* A classic BPF interpreter for the instructions libseccomp and the ENOSYS stub use. */
static uint32_t bpf_run(const struct seccomp_prog *p, uint32_t arch, uint32_t nr)
{
	const struct sock_filter *f = seccomp_prog_bpf(p);
	struct seccomp_data d = {.nr = (int)nr, .arch = arch};
	uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {0};
	size_t n = seccomp_prog_size(p);

	for (size_t pc = 0; pc < n; pc++) {
		const struct sock_filter *i = &f[pc];
		uint32_t src = BPF_SRC(i->code) == BPF_X ? x : i->k;

		switch (BPF_CLASS(i->code)) {
		case BPF_LD:
			if (i->code == (BPF_LD | BPF_W | BPF_ABS)) {
				assert_true(i->k % 4 == 0 && i->k + 4 <= sizeof(d));
				memcpy(&a, (const char *)&d + i->k, 4);
			} else if (i->code == (BPF_LD | BPF_IMM)) {
				a = i->k;
			} else if (i->code == (BPF_LD | BPF_MEM)) {
				a = mem[i->k % BPF_MEMWORDS];
			} else {
				fail_msg("opcode 0x%x at %zu", i->code, pc);
			}
			break;
		case BPF_LDX:
			x = BPF_MODE(i->code) == BPF_MEM ? mem[i->k % BPF_MEMWORDS] : i->k;
			break;
		case BPF_ST:
			mem[i->k % BPF_MEMWORDS] = a;
			break;
		case BPF_STX:
			mem[i->k % BPF_MEMWORDS] = x;
			break;
		case BPF_ALU:
			switch (BPF_OP(i->code)) {
			case BPF_AND:
				a &= src;
				break;
			case BPF_OR:
				a |= src;
				break;
			default:
				fail_msg("opcode 0x%x at %zu", i->code, pc);
			}
			break;
		case BPF_JMP:
			switch (BPF_OP(i->code)) {
			case BPF_JA:
				pc += i->k;
				break;
			case BPF_JEQ:
				pc += a == src ? i->jt : i->jf;
				break;
			case BPF_JGT:
				pc += a > src ? i->jt : i->jf;
				break;
			case BPF_JGE:
				pc += a >= src ? i->jt : i->jf;
				break;
			case BPF_JSET:
				pc += (a & src) ? i->jt : i->jf;
				break;
			default:
				fail_msg("opcode 0x%x at %zu", i->code, pc);
			}
			break;
		case BPF_RET:
			return BPF_RVAL(i->code) == BPF_A ? a : i->k;
		case BPF_MISC:
			if (BPF_MISCOP(i->code) == BPF_TAX)
				x = a;
			else
				a = x;
			break;
		default:
			fail_msg("opcode 0x%x at %zu", i->code, pc);
		}
	}
	fail_msg("ran off the end of the program");
	return 0;
}

static uint32_t resolve(uint32_t arch, const char *name)
{
	int nr = seccomp_syscall_resolve_name_arch(arch, name);

	assert_true(nr >= 0);
	return (uint32_t)nr;
}

#define RET_ENOSYS (SECCOMP_RET_ERRNO | ENOSYS)
#define RET_EPERM (SECCOMP_RET_ERRNO | EPERM)

/* Per architecture, x86-64 and x32 told apart by bit 30. */
static void test_enosys_per_arch(void **state)
{
	(void)state;
	/* (libseccomp mixes no big-endian architecture with the little-endian native one) */
	static const uint32_t archs[] = {SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32,
					 SCMP_ARCH_AARCH64, SCMP_ARCH_ARM};
	/* rt_sigaction is 13 on x86-64 but 512 on x32: the two get highests of their own */
	static const char *const names[] = {"read", "exit_group", "rt_sigaction", "mkdirat"};
	_cleanup_(seccomp_prog_freep) struct seccomp_prog *p = compile_ok(
	    "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":[\"SCMP_ARCH_X86_64\","
	    "\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\",\"SCMP_ARCH_AARCH64\",\"SCMP_ARCH_ARM\"],"
	    "\"syscalls\":[{\"names\":[\"read\",\"exit_group\",\"rt_sigaction\","
	    "\"no_such_syscall\"],\"action\":\"SCMP_ACT_ALLOW\"},{\"names\":[\"mkdirat\"],"
	    "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":5}]}");

	for (size_t i = 0; i < ELEMENTSOF(archs); i++) {
		uint32_t audit = archs[i] == SCMP_ARCH_X32 ? AUDIT_ARCH_X86_64 : archs[i];
		uint32_t nrs[ELEMENTSOF(names)], highest = 0, below;
		bool named;

		for (size_t j = 0; j < ELEMENTSOF(names); j++) {
			nrs[j] = resolve(archs[i], names[j]);
			if (nrs[j] > highest)
				highest = nrs[j];
		}
		print_message("# arch 0x%x: highest 0x%x\n", archs[i], highest);
		assert_int_equal(bpf_run(p, audit, nrs[0]), SCMP_ACT_ALLOW);
		assert_int_equal(bpf_run(p, audit, nrs[3]), SECCOMP_RET_ERRNO | 5);
		assert_int_equal(bpf_run(p, audit, highest + 1), RET_ENOSYS);
		assert_int_equal(bpf_run(p, audit, highest + 1000), RET_ENOSYS);
		/* an unnamed syscall below the highest keeps the default */
		below = highest;
		do {
			below--;
			named = false;
			for (size_t j = 0; j < ELEMENTSOF(names); j++)
				named |= nrs[j] == below;
		} while (named);
		assert_int_equal(bpf_run(p, audit, below), RET_EPERM);
	}
	/* x86-64 numbers above its highest get ENOSYS, x32's below theirs do not */
	assert_int_equal(bpf_run(p, AUDIT_ARCH_X86_64, 300), RET_ENOSYS);
	assert_int_equal(bpf_run(p, AUDIT_ARCH_X86_64, 0x40000000u | 300), RET_EPERM);
	assert_int_equal(bpf_run(p, AUDIT_ARCH_X86_64, 0xffffffffu), RET_ENOSYS);
	/* an architecture the profile leaves out gets libseccomp's bad-arch action */
	assert_int_not_equal(bpf_run(p, SCMP_ARCH_RISCV64, 1000), RET_ENOSYS);
}

/* Only x86-64 in the profile: an x32 number goes to libseccomp, which refuses its ABI. */
static void test_enosys_x86_64_only(void **state)
{
	(void)state;
	_cleanup_(seccomp_prog_freep) struct seccomp_prog *p = compile_ok(
	    "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"architectures\":[\"SCMP_ARCH_X86_64\"],"
	    "\"syscalls\":[{\"names\":[\"read\",\"exit_group\"],\"action\":\"SCMP_ACT_ALLOW\"}]}");
	uint32_t x32_read = resolve(SCMP_ARCH_X32, "read");

	assert_int_equal(bpf_run(p, AUDIT_ARCH_X86_64, resolve(SCMP_ARCH_X86_64, "read")),
			 SCMP_ACT_ALLOW);
	assert_int_equal(bpf_run(p, AUDIT_ARCH_X86_64, 1000), RET_ENOSYS);
	assert_int_not_equal(bpf_run(p, AUDIT_ARCH_X86_64, x32_read), SCMP_ACT_ALLOW);
	assert_int_not_equal(bpf_run(p, AUDIT_ARCH_X86_64, x32_read + 1000), RET_ENOSYS);
}

/* A permissive default, or one that is ENOSYS already, needs no stub. */
static void test_enosys_not_when_permissive(void **state)
{
	(void)state;
	static const char *const profiles[] = {
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],"
	    "\"action\":\"SCMP_ACT_ERRNO\"}]}",
	    "{\"defaultAction\":\"SCMP_ACT_LOG\",\"syscalls\":[{\"names\":[\"read\"],"
	    "\"action\":\"SCMP_ACT_ERRNO\"}]}",
	    "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":38,\"syscalls\":"
	    "[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\"}]}",
	    /* names nothing this architecture knows: nothing to compare with */
	    "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"frobnicate\"],"
	    "\"action\":\"SCMP_ACT_ALLOW\"}]}",
	};
	static const uint32_t expect[] = {SCMP_ACT_ALLOW, SCMP_ACT_LOG, RET_ENOSYS, RET_EPERM};

	for (size_t i = 0; i < ELEMENTSOF(profiles); i++) {
		_cleanup_(seccomp_prog_freep) struct seccomp_prog *p = compile_ok(profiles[i]);

		print_message("# %s\n", profiles[i]);
		assert_int_equal(bpf_run(p, seccomp_arch_native(), 1000), expect[i]);
	}
}

static void test_features(void **state)
{
	(void)state;
	_cleanup_json_ struct json_object *o = NULL;
	bool enabled = false;

	assert_int_equal(seccomp_features(&o), 0);
	assert_int_equal(json_get_bool(o, "enabled", &enabled), 0);
	assert_true(enabled);
	assert_true(array_has(o, "actions", "SCMP_ACT_NOTIFY"));
	assert_true(array_has(o, "actions", "SCMP_ACT_KILL_PROCESS"));
	assert_true(array_has(o, "operators", "SCMP_CMP_MASKED_EQ"));
	assert_true(array_has(o, "archs", "SCMP_ARCH_X86_64"));
	assert_true(array_has(o, "knownFlags", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"));
	assert_true(array_has(o, "supportedFlags", "SECCOMP_FILTER_FLAG_LOG"));
	assert_false(array_has(o, "actions", "SCMP_ACT_FOO"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_compile_docker_like),
	    cmocka_unit_test(test_compile_null),
	    cmocka_unit_test(test_compile_errors),
	    cmocka_unit_test(test_unknown_syscalls_skipped),
	    cmocka_unit_test(test_nul_in_names),
	    cmocka_unit_test(test_errno_rules),
	    cmocka_unit_test(test_default_errno),
	    cmocka_unit_test(test_kill_and_trap),
	    cmocka_unit_test(test_flags),
	    cmocka_unit_test(test_send_listener),
	    cmocka_unit_test(test_notify),
	    cmocka_unit_test(test_features),
	    cmocka_unit_test(test_enosys_above_highest),
	    cmocka_unit_test(test_enosys_per_arch),
	    cmocka_unit_test(test_enosys_x86_64_only),
	    cmocka_unit_test(test_enosys_not_when_permissive),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
