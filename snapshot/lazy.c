/* SPDX-License-Identifier: Apache-2.0 */
/* CRIU's lazy-pages daemon: serves a restored tree's memory on fault through userfaultfd. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "snapshot-internal.h"

/* The file CRIU runs from: CRIU itself if it names one, else the first of that name in PATH. */
static char *criu_file(const char *criu)
{
	if (strchr(criu, '/'))
		return strdup(criu);
	const char *path = getenv("PATH");
	_cleanup_free_ char *dirs = strdup(
	    path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	char *save = NULL;

	if (!dirs)
		return NULL;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char *f = path_join(d, criu);

		if (f && access(f, X_OK) == 0)
			return f;
		free(f);
	}
	return NULL;
}

int snapshot_lazy_record_check(const char *criu_path, const char *images_dir)
{
	const char *criu = criu_path ? criu_path : "criu";
	static const char needle[] = "CRIU_LAZY_PAGES_RECORD";
	_cleanup_free_ char *file = criu_file(criu);
	_cleanup_close_ int fd = -EBADF;
	struct stat st;
	bool found = false;

	/* the daemon writes the record beside the images */
	if (faccessat(AT_FDCWD, images_dir, W_OK, AT_EACCESS) < 0)
		return -EACCES;
	/* a CRIU without the patch would ignore the request: look for its variable's name */
	if (!file || (fd = open(file, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0)
		return -ENOENT;
	void *m = st.st_size > 0 ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)
				 : MAP_FAILED;
	if (m != MAP_FAILED) {
		found = memmem(m, (size_t)st.st_size, needle, sizeof(needle) - 1) != NULL;
		munmap(m, (size_t)st.st_size);
	}
	return found ? 0 : -EOPNOTSUPP;
}

int snapshot_lazy_start(const struct snapshot_opts *o, pid_t *ret_pid)
{
	const char *criu = o->criu_path ? o->criu_path : "criu";
	char status_fd[16], level[16];
	int sp[2], r;
	char c;

	if (!o->images_dir || !o->work_dir)
		return -EINVAL;
	if ((r = snapshot_kdat_cache(o->criu_path)) < 0)
		log_debug("CRIU's kernel feature cache: %s, ignoring", strerror(-r));
	/* absolute: CRIU changes to its work dir */
	_cleanup_free_ char *dir = realpath(o->images_dir, NULL);
	if (!dir)
		return -errno;
	_cleanup_free_ char *order = path_join(dir, SNAPSHOT_LAZY_ORDER_FILE);
	if (!order)
		return -ENOMEM;
	/* make a record, or follow the one there is */
	const char *order_env = o->lazy_record ? "CRIU_LAZY_PAGES_RECORD"
				: faccessat(AT_FDCWD, order, R_OK, AT_EACCESS) == 0
				    ? "CRIU_LAZY_PAGES_ORDER"
				    : NULL;
	if (order_env)
		log_debug("lazy-pages: %s=%s", order_env, order);
	/* The daemon writes one byte to the status fd once its socket is listening. */
	if (pipe2(sp, O_CLOEXEC) < 0)
		return -errno;
	snprintf(status_fd, sizeof(status_fd), "%d", sp[1]);
	snprintf(level, sizeof(level), "-v%d", o->log_level > 0 ? o->log_level : 2);
	char *argv[] = {(char *)criu,
			(char *)"--no-default-config",
			(char *)"lazy-pages",
			(char *)"--images-dir",
			(char *)o->images_dir,
			(char *)"--work-dir",
			(char *)o->work_dir,
			(char *)"--log-file",
			(char *)"lazy-pages.log",
			level,
			(char *)"--status-fd",
			status_fd,
			NULL};
	pid_t pid = fork();
	if (pid < 0) {
		r = -errno;
		safe_close(sp[0]);
		safe_close(sp[1]);
		return r;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		snapshot_criu_env();
		if (order_env && setenv(order_env, order, 1) < 0)
			_exit(127);
		/* Its own session and no fd of ours but the status pipe: the daemon
		 * outlives a `restore --detach` and must not hold our caller's pipes
		 * open (it logs to its file). */
		setsid();
		int null = open("/dev/null", O_RDWR); /* >= 3: made close-on-exec below */
		if (null < 0 || (sp[1] < 3 && (sp[1] = fcntl(sp[1], F_DUPFD_CLOEXEC, 3)) < 0))
			_exit(127);
		snprintf(status_fd, sizeof(status_fd), "%d", sp[1]);
		for (int fd = 0; fd < 3; fd++)
			if (dup2(null, fd) < 0)
				_exit(127);
		if (cloexec_fds_from(3) == 0 && fcntl(sp[1], F_SETFD, 0) == 0) {
			if (strchr(criu, '/'))
				execv(criu, argv);
			else
				execvp(criu, argv);
		}
		_exit(127);
	}
	safe_close(sp[1]);
	ssize_t n;
	do
		n = read(sp[0], &c, 1);
	while (n < 0 && errno == EINTR);
	safe_close(sp[0]);
	if (n != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		/* why, only now: asking first would cost every lazy restore a CRIU run */
		r = snapshot_lazy_supported(o);
		return r < 0 ? r : -EIO;
	}
	*ret_pid = pid;
	return 0;
}
