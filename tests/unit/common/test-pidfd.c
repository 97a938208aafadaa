/* SPDX-License-Identifier: Apache-2.0 */
/* pidfd_from_file: the named process, or -ESRCH for another program or a gone one; pidfd_wait. */
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
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/pidfd.h"

static char dir[] = "/tmp/brisk-test-pidfd-XXXXXX";

static void write_pid(pid_t pid)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d\n", (int)pid);
	assert_int_equal(write_file_atomic_at(AT_FDCWD, "pid", buf, strlen(buf), 0644, false), 0);
}

static void test_from_file(void **state)
{
	char comm[64] = "";
	_cleanup_free_ char *buf = NULL;
	(void)state;

	assert_int_equal(read_file_at(AT_FDCWD, "/proc/self/comm", 64, &buf, NULL), 0);
	buf[strcspn(buf, "\n")] = '\0';
	snprintf(comm, sizeof(comm), "%s", buf);

	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		pause();
		_exit(0);
	}
	write_pid(child);
	int fd = pidfd_from_file(AT_FDCWD, "pid", comm);
	assert_true(fd >= 0);
	/* alive: the wait times out; killed: it returns */
	assert_int_equal(pidfd_wait(fd, 50), -ETIMEDOUT);
	kill(child, SIGKILL);
	assert_int_equal(pidfd_wait(fd, 10000), 0);
	close(fd);
	waitpid(child, NULL, 0);

	/* another program's name, a gone process, garbage, no file */
	write_pid(getpid());
	assert_int_equal(pidfd_from_file(AT_FDCWD, "pid", "brisk-imagefs"), -ESRCH);
	write_pid(child);
	assert_int_equal(pidfd_from_file(AT_FDCWD, "pid", comm), -ESRCH);
	assert_int_equal(write_file_atomic_at(AT_FDCWD, "pid", "12x", 3, 0644, false), 0);
	assert_int_equal(pidfd_from_file(AT_FDCWD, "pid", comm), -EINVAL);
	assert_int_equal(pidfd_from_file(AT_FDCWD, "none", comm), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_from_file)};
	int r;

	if (!mkdtemp(dir) || chdir(dir) < 0)
		return 1;
	r = cmocka_run_group_tests(tests, NULL, NULL);
	(void)chdir("/");
	(void)rm_rf_at(AT_FDCWD, dir);
	return r;
}
