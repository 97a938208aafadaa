/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lazy layers (lazy.h): the labels that name a brisk image, and its mount by the brisk-imagefs
 * binary. The binary, not the library: its mount leaves a supervisor process behind, which must
 * hold none of this daemon's fds (the socket, containerd's connections); every fd here is
 * close-on-exec, so an exec is what drops them. What it prints on failure is what containerd
 * gets to read.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "lazy.h"
#include "common/log.h"
#include "common/mountinfo.h"
#include "server.h"

/* what brisk-imagefs's mounts are (imagefs/mount.c: subtype=brisk) */
#define IMAGEFS_FSTYPE "fuse.brisk"
#define STORE_PREFIX "registry:"
#define STORE_MAX 1024

static const char *imagefs_bin = "brisk-imagefs";

void lazy_set_imagefs(const char *path)
{
	imagefs_bin = path;
}

_printf_(2, 3) static int bad(char **ret_err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(ret_err, fmt, ap) < 0)
		*ret_err = NULL;
	va_end(ap);
	return -EINVAL;
}

static bool is_digest(const char *s)
{
	if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64)
		return false;
	return strspn(s + 7, "0123456789abcdef") == 64;
}

static bool is_store(const char *s)
{
	size_t n = strlen(s);

	if (strncmp(s, STORE_PREFIX, strlen(STORE_PREFIX)) != 0 || n == strlen(STORE_PREFIX) ||
	    n > STORE_MAX)
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '@')
			return false;
	return true;
}

static const char *label(struct json_object *labels, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(labels, key, &v) ? json_object_get_string(v) : NULL;
}

int lazy_from_labels(struct json_object *labels, struct lazy_ref *ret, char **ret_err)
{
	struct lazy_ref ref = {
	    .store = label(labels, LAZY_LABEL_STORE),
	    .index = label(labels, LAZY_LABEL_INDEX),
	    .name = label(labels, LAZY_LABEL_REF),
	};

	if (!ref.index && !ref.store)
		return 0;
	if (!ref.index || !is_digest(ref.index))
		return bad(ret_err, "label '%s' must be sha256:HEX (64 lowercase hex digits)",
			   LAZY_LABEL_INDEX);
	if (!ref.store || !is_store(ref.store))
		return bad(ret_err, "label '%s' must be registry:HOST[:PORT]/REPO",
			   LAZY_LABEL_STORE);
	if (!ref.name || !*ref.name)
		return bad(ret_err, "label '%s' must name the snapshot to commit", LAZY_LABEL_REF);
	*ret = ref;
	return 1;
}

/* the last line of what the program wrote, for containerd's error message */
static char *last_line(char *out)
{
	char *end = out + strlen(out), *start;

	while (end > out && (end[-1] == '\n' || end[-1] == ' '))
		*--end = '\0';
	start = strrchr(out, '\n');
	return strdup(start ? start + 1 : out);
}

/* Start brisk-imagefs with ARGV, its stderr on *RET_FD (the read end of a pipe). */
static int spawn_imagefs(char **argv, pid_t *ret_pid, int *ret_fd)
{
	int fds[2], r;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(fds[0]);
		close(fds[1]);
		return r;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(fds[1], 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		dprintf(2, "cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	*ret_pid = pid;
	*ret_fd = fds[0];
	return 0;
}

/* Reap PID; 0 if it succeeded, else -EIO and *RET_ERR from what it wrote (OUT, LEN). */
static int reap_imagefs(pid_t pid, const char *what, char *out, size_t len, char **ret_err)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	*ret_err = len > 0 ? last_line(out) : NULL;
	if (!*ret_err && asprintf(ret_err, "'%s' failed (status %d)", what, status) < 0)
		*ret_err = NULL;
	return -EIO;
}

/* Run brisk-imagefs with ARGV; its stderr is kept, the last line of it in *RET_ERR on failure. */
static int run_imagefs(char **argv, char **ret_err)
{
	_cleanup_free_ char *out = NULL;
	_cleanup_close_ int fd = -EBADF;
	size_t len = 0;
	pid_t pid;
	int r;

	r = spawn_imagefs(argv, &pid, &fd);
	if (r < 0)
		return r;
	/* EOF comes when the program exits: its mount's supervisor has /dev/null as stderr */
	if (read_fd_all(fd, 64 << 10, &out, &len) < 0)
		len = 0;
	return reap_imagefs(pid, argv[0], out, len, ret_err);
}

static char *snap_path(struct store *store, uint64_t id, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/snapshots/%" PRIu64 "/%s", store->root, id, name) < 0)
		return NULL;
	return p;
}

static int find_mount(const struct mountinfo_entry *e, void *userdata)
{
	return strcmp(e->mount_point, userdata) == 0 && strcmp(e->fstype, IMAGEFS_FSTYPE) == 0;
}

static int is_mounted(const char *path)
{
	return mountinfo_foreach("/proc/self/mountinfo", find_mount, (void *)path);
}

/* A mount in progress, its output read as the server loop says it comes. */
struct lazy_job {
	uint64_t id;
	pid_t pid;
	int fd;
	struct source *source;
	char out[4096];
	size_t len;
	lazy_done_fn done;
	void *userdata;
	struct lazy_job *next;
};

static struct lazy_job *jobs;

bool lazy_pending_id(uint64_t id)
{
	for (struct lazy_job *j = jobs; j; j = j->next)
		if (j->id == id)
			return true;
	return false;
}

/* the last 4 KiB of what it says: its error is on the last line; N is at most OUTPUT_READ */
#define OUTPUT_READ 1024
static void keep_tail(struct lazy_job *job, const char *buf, size_t n)
{
	size_t cap = sizeof(job->out) - 1;

	_Static_assert(OUTPUT_READ < sizeof(job->out) - 1, "a read fits the tail");
	if (job->len + n > cap) {
		size_t drop = job->len + n - cap;

		memmove(job->out, job->out + drop, job->len - drop);
		job->len -= drop;
	}
	memcpy(job->out + job->len, buf, n);
	job->len += n;
	job->out[job->len] = '\0';
}

static void job_output(int fd, void *userdata)
{
	struct lazy_job *job = userdata, **p;
	char *err = NULL;
	ssize_t n;
	int r;

	for (;;) {
		char buf[OUTPUT_READ];

		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			break;
		keep_tail(job, buf, (size_t)n);
	}
	for (p = &jobs; *p != job; p = &(*p)->next)
		;
	*p = job->next;
	server_unwatch_fd(job->source);
	close(job->fd);
	r = reap_imagefs(job->pid, imagefs_bin, job->out, job->len, &err);
	job->done(r, err, job->userdata);
	free(job);
}

/* brisk-imagefs mount's command line for snapshot ID; NULL on OOM */
static char **mount_argv(struct store *store, uint64_t id, const char *store_spec,
			 const char *index)
{
	_cleanup_free_ char *fs = snap_path(store, id, "fs"),
			    *log = snap_path(store, id, "imagefs.log");
	_cleanup_free_ char *cache = path_join(store->root, "cache");
	char **argv;

	if (!fs || !log || !cache || mkdir_p_at(AT_FDCWD, cache, 0700) < 0)
		return NULL;
	argv = calloc(12, sizeof(char *));
	if (!argv)
		return NULL;
	argv[0] = strdup(imagefs_bin);
	argv[1] = strdup("mount");
	argv[2] = strdup("--store");
	argv[3] = strdup(store_spec);
	argv[4] = strdup("--cache");
	argv[5] = TAKE_PTR(cache);
	argv[6] = strdup("--log");
	argv[7] = TAKE_PTR(log);
	/* containerd's diff of a layer (commit, checkpoint --rw) takes EOPNOTSUPP from getxattr as
	 * an error, where "no such attribute" is what it knows */
	argv[8] = strdup("--exact-xattrs");
	argv[9] = strdup(index);
	argv[10] = TAKE_PTR(fs);
	for (int i = 0; i < 11; i++)
		if (!argv[i])
			return strv_free(argv);
	return argv;
}

int lazy_mount_start(struct store *store, uint64_t id, const char *store_spec, const char *index,
		     lazy_done_fn done, void *userdata)
{
	_cleanup_strv_free_ char **argv = mount_argv(store, id, store_spec, index);
	struct lazy_job *job;
	int r;

	if (!argv)
		return -ENOMEM;
	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	*job = (struct lazy_job){.id = id, .fd = -EBADF, .done = done, .userdata = userdata};
	r = spawn_imagefs(argv, &job->pid, &job->fd);
	if (r >= 0 && fcntl(job->fd, F_SETFL, O_NONBLOCK) < 0)
		r = -errno;
	if (r >= 0)
		r = server_watch_fd(job->fd, job_output, job, &job->source);
	if (r < 0) {
		if (job->fd >= 0) {
			/* it runs already: let it finish, the leftover is removed at the next start
			 */
			close(job->fd);
			(void)waitpid(job->pid, NULL, 0);
		}
		free(job);
		return r;
	}
	job->next = jobs;
	jobs = job;
	return 0;
}

int lazy_mount(struct store *store, uint64_t id, const char *store_spec, const char *index,
	       char **ret_err)
{
	_cleanup_strv_free_ char **argv = mount_argv(store, id, store_spec, index);

	return argv ? run_imagefs(argv, ret_err) : -ENOMEM;
}

int lazy_umount(struct store *store, uint64_t id)
{
	_cleanup_free_ char *fs = snap_path(store, id, "fs"), *err = NULL;
	int r;

	if (!fs)
		return -ENOMEM;
	r = is_mounted(fs);
	if (r <= 0)
		return r;
	char *argv[] = {(char *)imagefs_bin, "umount", fs, NULL};
	r = run_imagefs(argv, &err);
	if (r < 0) {
		log_debug("unmount '%s': %s", fs, err ? err : "failed");
		/* brisk-imagefs says why; what containerd needs to know is that it is in use */
		return err && strstr(err, "busy") ? -EBUSY : r;
	}
	return 0;
}

int lazy_restore_mounts(struct store *store)
{
	int ret = 0;

	for (size_t i = 0; i < store->n_snaps; i++) {
		const struct snap *s = store->snaps[i];
		_cleanup_free_ char *fs = NULL, *err = NULL;
		int r;

		if (!s->lazy_index)
			continue;
		fs = snap_path(store, s->id, "fs");
		if (!fs)
			return -ENOMEM;
		r = is_mounted(fs);
		if (r > 0)
			continue;
		if (r >= 0)
			r = lazy_mount(store, s->id, s->lazy_store, s->lazy_index, &err);
		if (r < 0)
			ret = log_error_errno(
			    r, "snapshot '%s': mount brisk image '%s@%s' again: %s", s->key,
			    s->lazy_store, s->lazy_index, err ? err : strerror(-r));
		else
			log_info("snapshot '%s': brisk image '%s@%s' mounted again", s->key,
				 s->lazy_store, s->lazy_index);
	}
	return ret;
}
