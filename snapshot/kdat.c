/* SPDX-License-Identifier: Apache-2.0 */
/*
 * CRIU's cache of kernel features (/run/criu.kdat) where /run is not a tmpfs.
 *
 * Each CRIU run first probes the kernel: it runs iptables, makes network namespaces and a
 * veth pair, forks test tasks (100-200 ms here, more under load, and a lazy restore pays it
 * twice: the restore and the lazy-pages daemon). CRIU keeps the result in /run/criu.kdat but
 * writes it only on a tmpfs, so that a reboot into another kernel cannot leave a stale one;
 * where /run is a plain directory every run probes again. CRIU reads the file wherever it
 * lives. So brisk keeps it where a reboot loses it too: it runs `criu check` once, in a mount
 * namespace of its own whose /run is a tmpfs, copies the file it writes into a tmpfs of
 * brisk's (KDAT_DIR), and links /run/criu.kdat to it. After a reboot the link dangles (the
 * tmpfs is gone) and CRIU probes as it would without it. A CRIU of another build finds the
 * file stale (its magic is the build time), removes the link and probes; brisk makes both
 * again on its next run.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "snapshot-internal.h"

#define KDAT_FILE "/run/criu.kdat"
#define KDAT_DIR "/run/brisk-criu-kdat"
#define KDAT_CACHED KDAT_DIR "/criu.kdat"

static bool is_tmpfs(const char *path)
{
	struct statfs sf;

	return statfs(path, &sf) == 0 && sf.f_type == TMPFS_MAGIC;
}

/* In a child: run `criu check` with a tmpfs on /run, copy what it cached into DIR_FD. */
_Noreturn static void generate(const char *criu, int dir_fd)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int status;

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0 ||
	    mount("tmpfs", "/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		_exit(1);
	pid_t pid = fork();
	if (pid < 0)
		_exit(1);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
			_exit(127);
		snapshot_criu_env();
		if (cloexec_fds_from(3) < 0)
			_exit(127);
		char *argv[] = {(char *)criu, (char *)"--no-default-config", (char *)"check", NULL};
		if (strchr(criu, '/'))
			execv(criu, argv);
		else
			execvp(criu, argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	/* `check` may find a feature missing: the cache is written before the checks */
	if (read_file_at(AT_FDCWD, KDAT_FILE, 1 << 20, &buf, &len) < 0 || len == 0 ||
	    write_file_atomic_at(dir_fd, "criu.kdat", buf, len, 0600, false) < 0)
		_exit(1);
	_exit(0);
}

int snapshot_kdat_cache(const char *criu_path)
{
	static bool done;
	struct stat st;
	int status, r;

	if (done || geteuid() != 0)
		return 0;
	done = true;
	/* CRIU caches it itself, or a cache (ours or CRIU's) is there */
	if (is_tmpfs("/run") || stat(KDAT_FILE, &st) == 0)
		return 0;
	if (mkdir(KDAT_DIR, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (!is_tmpfs(KDAT_DIR) && mount("tmpfs", KDAT_DIR, "tmpfs",
					 MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=1m,mode=0700") < 0)
		return -errno;
	_cleanup_close_ int dir_fd = open(KDAT_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return -errno;
	/* the link is gone: what the tmpfs holds may be of another CRIU, make it anew */
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		generate(criu_path ? criu_path : "criu", dir_fd);
	while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -EIO;
	/* a dangling link of ours (a reboot) goes; anything else is left alone */
	char target[sizeof(KDAT_CACHED) + 1];
	ssize_t n = readlink(KDAT_FILE, target, sizeof(target));
	if (n == (ssize_t)strlen(KDAT_CACHED) && memcmp(target, KDAT_CACHED, (size_t)n) == 0)
		(void)unlink(KDAT_FILE);
	if (symlink(KDAT_CACHED, KDAT_FILE) < 0 && errno != EEXIST)
		return -errno;
	log_debug("CRIU's kernel feature cache: %s -> %s", KDAT_FILE, KDAT_CACHED);
	return 0;
}
