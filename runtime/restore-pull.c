/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A restore from a snapshot in a store: `restore --image-path registry:HOST[:PORT]/REPO:TAG`
 * (or dir:PATH:TAG, or @sha256:HEX for either). brisk-image pull-snapshot fetches it into a
 * directory of the restore's own while the restore gets the container ready (its state, its
 * lazy image mounted and the image's index fetched), and the directory goes when the restore
 * ends: on a node that has never seen the snapshot, one command, and the two fetches overlap.
 *
 * The pull is brisk-image's, so the snapshot is verified as `brisk-image pull-snapshot`
 * verifies it (the node's key, $BRISK_SNAPSHOT_PUBKEY), and then checked as any image
 * directory is.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/log.h"
#include "restore-pull.h"

bool restore_pull_wanted(const char *image_path)
{
	struct stat st;

	if (strncmp(image_path, "registry:", 9) != 0 && strncmp(image_path, "dir:", 4) != 0)
		return false;
	/* a directory of that name is what it always was: an image path */
	return lstat(image_path, &st) < 0 && errno == ENOENT;
}

int restore_pull_start(const char *ref, struct restore_pull *p)
{
	char bin[PATH_MAX];
	const char *tmp = getenv("TMPDIR");

	*p = (struct restore_pull){.pid = -1};
	(void)companion_binary("BRISK_IMAGE", "brisk-image", "tools", bin, sizeof(bin));
	if (asprintf(&p->dir, "%s/brisk-snapshot-XXXXXX", tmp && *tmp ? tmp : "/var/tmp") < 0) {
		p->dir = NULL;
		return -ENOMEM;
	}
	if (!mkdtemp(p->dir)) {
		int r = log_error_errno(-errno, "make a directory for the snapshot '%s': %m", ref);
		free(p->dir);
		p->dir = NULL;
		return r;
	}
	p->pid = fork();
	if (p->pid < 0)
		return log_error_errno(-errno, "fork: %m");
	if (p->pid == 0) {
		/* its summary (the digest) is for a person at a terminal; errors go on stderr */
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		execlp(bin, "brisk-image", "pull-snapshot", ref, p->dir, (char *)NULL);
		fprintf(stderr, "brisk: cannot run '%s': %s\n", bin, strerror(errno));
		_exit(127);
	}
	log_debug("pulling the snapshot %s into %s (pid %d)", ref, p->dir, p->pid);
	return 0;
}

int restore_pull_wait(struct restore_pull *p, const char *ref)
{
	int status;

	if (p->pid <= 0)
		return 0;
	while (waitpid(p->pid, &status, 0) < 0)
		if (errno != EINTR)
			return log_error_errno(-errno, "wait for the pull of '%s': %m", ref);
	p->pid = -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return log_error_errno(-ENOENT,
				       "pull the snapshot '%s': brisk-image not found "
				       "(beside brisk, $BRISK_IMAGE or on PATH)",
				       ref);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return log_error_errno(-EIO,
				       "pull the snapshot '%s' failed (brisk-image said why "
				       "above)",
				       ref);
	return 0;
}

void restore_pull_done(struct restore_pull *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	p->pid = -1;
	if (p->dir) {
		(void)rm_rf_at(AT_FDCWD, p->dir);
		free(p->dir);
		p->dir = NULL;
	}
}
