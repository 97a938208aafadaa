/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Mounting a lazy image, and the supervisor that keeps the mount alive across daemon crashes.
 *
 * imagefs_mount() fetches and checks the index, mounts it (the only remote access before the
 * mount is in place) and, in the background mode, forks a supervisor. The supervisor owns the
 * /dev/fuse fd and forks the process that serves it. If that process dies (a crash, a kill),
 * the kernel still holds the connection (the supervisor's fd keeps it open), so the supervisor
 * forks a new one: it replays an INIT into its own libfuse session (the kernel's INIT was
 * answered by the first one; the reply to this one is refused by the kernel as unknown, which
 * libfuse ignores), then asks the kernel to resend the requests the dead process had taken
 * (FUSE_NOTIFY_RESEND, Linux 6.9). Readers see a pause, not "transport endpoint is not
 * connected". When the mount goes away the serving process exits 0 and the supervisor too.
 */
/* 3.12: below it fuse_session_loop_mt() is the 3.2 entry point, which reads a
 * fuse_loop_cfg_create() config as the old struct (clone_fd on, max_idle_threads 0): one new
 * thread and one cloned /dev/fuse fd per request. */
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/mountinfo.h"
#include "common/pidfd.h"
#include "lazy-internal.h"

#define NOTIFY_RESEND 7 /* enum fuse_notify_code, Linux 6.9; newer than Debian 12's headers */
#define READAHEAD_KB 512
#define UMOUNT_WAIT_MS 10000  /* how long umount waits for the daemon to write its cache */
#define UMOUNT_BUSY_TRIES 100 /* of 10 ms each */

/* The mount's readahead, which is also the window a page fault of an mmap()ed file reads
 * around it. The kernel's default (128 KiB) makes a cold sequential read of a large file wait
 * for each chunk in turn (36.5 MB: 0.47-0.52 s, 0.36-0.43 s with 512 KiB). Larger windows pull in
 * what the start-up never touches: the shared libraries a Python start maps are faulted in 4 MiB at
 * a time with 4096 KiB, and its recorded profile grows from 23.8 to 29.3 MiB fetched
 * (docs/PERFORMANCE-LOG.md, "Page faults, libraries and readahead"). Found through mountinfo:
 * a stat() of the mount would wait for a daemon not yet serving. */
static int readahead_of(const struct mountinfo_entry *e, void *userdata)
{
	char path[128], kb[16];

	if (strcmp(e->mount_point, userdata) != 0)
		return 0;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", e->major, e->minor);
	snprintf(kb, sizeof(kb), "%u", READAHEAD_KB);
	(void)write_string_at(AT_FDCWD, path, kb);
	return 0;
}

static void set_readahead(const char *mountpoint)
{
	(void)mountinfo_foreach("/proc/self/mountinfo", readahead_of, (void *)mountpoint);
}

/* A restarted server: bring its libfuse session to the state after INIT, then have the kernel
 * resend what the dead server had read but not answered. */
static void resume_session(struct fuse_session *se)
{
	struct {
		struct fuse_in_header h;
		struct fuse_init_in i;
	} msg = {
	    .h = {.len = sizeof(msg), .opcode = FUSE_INIT, .unique = ~0ull},
	    .i = {.major = FUSE_KERNEL_VERSION,
		  .minor = FUSE_KERNEL_MINOR_VERSION,
		  .max_readahead = READAHEAD_KB << 10,
		  .flags = FUSE_ASYNC_READ | FUSE_DO_READDIRPLUS | FUSE_SPLICE_WRITE |
			   FUSE_SPLICE_MOVE | FUSE_PARALLEL_DIROPS | FUSE_CACHE_SYMLINKS |
			   FUSE_NO_OPEN_SUPPORT | FUSE_NO_OPENDIR_SUPPORT | FUSE_MAX_PAGES |
			   FUSE_BIG_WRITES | FUSE_ATOMIC_O_TRUNC | FUSE_EXPORT_SUPPORT},
	};
	struct fuse_out_header resend = {.len = sizeof(resend), .error = NOTIFY_RESEND};
	struct fuse_buf b = {.size = sizeof(msg), .mem = &msg};

	fuse_session_process_buf(se, &b);
	if (write(fuse_session_fd(se), &resend, sizeof(resend)) < 0)
		log_warning("resend of pending requests: %m, ignoring");
}

static int serve(struct fuse_session *se, struct ifs_fs *fs, const struct imagefs_mount_options *o,
		 bool restarted)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int r;

	if (!cfg)
		return -ENOMEM;
	if ((r = ifs_fs_start(fs)) < 0) {
		fuse_loop_cfg_destroy(cfg);
		return log_error_errno(r, "start fetch workers: %m");
	}
	if (!o->no_prefetch)
		(void)ifs_profile_prefetch_start(fs);
	if (restarted)
		resume_session(se);
	fuse_loop_cfg_set_clone_fd(cfg, 0);
	fuse_loop_cfg_set_max_threads(cfg, 32);
	/* no idle bound (the default): workers stay, none is made and ended per request */
	r = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	ifs_fs_stop(fs);
	if (o->stats_file) {
		_cleanup_free_ char *json = ifs_fs_stats_json(fs);
		if (json)
			(void)write_file_atomic_at(AT_FDCWD, o->stats_file, json, strlen(json),
						   0644, false);
	}
	return r < 0 ? r : 0;
}

struct profile_fetch {
	pthread_t thread;
	const char *spec;
	struct imagefs_store_options opts;
	struct digest index;
	char *text;
	size_t len;
	int r;
};

/* On a store handle of its own: the mount fetches the index meanwhile. */
static void *fetch_profile(void *arg)
{
	struct profile_fetch *pf = arg;
	_cleanup_(imagefs_store_freep) struct imagefs_store *s = NULL;

	pf->r = imagefs_store_open(pf->spec, &pf->opts, &s);
	if (pf->r >= 0)
		pf->r = imagefs_profile_get(s, &pf->index, &pf->text, &pf->len);
	return NULL;
}

static int write_pid_file(const char *path)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d\n", getpid());
	return write_file_atomic_at(AT_FDCWD, path, buf, strlen(buf), 0644, false);
}

/* The supervisor: holds the FUSE fd (in SE) and keeps a server running until the mount goes. */
static _noreturn_ void supervise(struct fuse_session *se, struct ifs_fs *fs,
				 const struct imagefs_mount_options *o)
{
	unsigned restarts = 0;

	if (o->pid_file && write_pid_file(o->pid_file) < 0)
		log_warning("write pid file '%s': %m, ignoring", o->pid_file);
	for (;;) {
		int status;
		pid_t pid = fork();

		if (pid < 0) {
			log_error_errno(-errno, "fork the server: %m");
			_exit(1);
		}
		if (pid == 0) {
			signal(SIGTERM, SIG_DFL);
			_exit(serve(se, fs, o, restarts > 0) < 0 ? 1 : 0);
		}
		while (waitpid(pid, &status, 0) < 0)
			if (errno != EINTR)
				_exit(1);
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			break; /* unmounted */
		restarts++;
		log_warning("server %d died (%s %d), starting another (restart %u)", pid,
			    WIFSIGNALED(status) ? "signal" : "status",
			    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), restarts);
		usleep(restarts > 5 ? 500000 : 10000);
	}
	if (o->pid_file)
		(void)unlink(o->pid_file);
	_exit(0);
}

static int daemonize(int *ret_ready_fd)
{
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		char c = 0;

		close(fds[1]);
		/* the child says when it is detached; EOF means it died */
		if (read(fds[0], &c, 1) != 1)
			c = 0;
		close(fds[0]);
		return c == 1 ? 1 : -EIO;
	}
	close(fds[0]);
	setsid();
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		safe_close(null);
	}
	*ret_ready_fd = fds[1];
	return 0;
}

/*
 * The index D. A remote store's index is read from the chunk cache when an earlier mount put it
 * there, checked against its digest like a fetch (a bad entry is dropped), else fetched.
 * *RET_CACHED: it came from the cache.
 */
static int open_index(struct imagefs_store *s, struct ifs_cache *c, const struct digest *d,
		      struct imagefs_index **ret, bool *ret_cached)
{
	_cleanup_close_ int fd = -EBADF;
	int r;

	*ret_cached = false;
	if (ifs_store_is_remote(s) && ifs_cache_get(c, d, IFS_CACHE_ANY_SIZE, &fd) == 0) {
		if ((r = ifs_index_from_fd(fd, d, ret)) == 0) {
			*ret_cached = true;
			return 0;
		}
		log_debug("cached index: %s, fetching it", strerror(-r));
		ifs_cache_remove(c, d);
	}
	return ifs_store_load_index(s, d, ret);
}

int imagefs_mount(const struct imagefs_mount_options *o, const char *mountpoint)
{
	_cleanup_(imagefs_store_freep) struct imagefs_store *s = NULL;
	_cleanup_(imagefs_index_freep) struct imagefs_index *idx = NULL;
	struct ifs_fs *fs = NULL;
	struct fuse_session *se = NULL;
	char mp[PATH_MAX], opts[256];
	struct digest d;
	int r, ready = -EBADF;

	if (!realpath(mountpoint, mp))
		return log_error_errno(-errno, "mountpoint '%s': %m", mountpoint);
	struct imagefs_store_options so = {.timeout_ms = o->timeout_ms ?: 30000};
	if ((r = imagefs_store_open(o->store_spec, &so, &s)) < 0)
		return r;
	if ((r = imagefs_store_resolve(s, &d)) < 0)
		return r;
	/* the access profile is fetched while the rest of the mount is made (the index too):
	 * the daemon then starts its prefetch at once */
	struct profile_fetch pf = {.spec = o->store_spec, .opts = so, .index = d};
	bool pf_started =
	    !o->no_prefetch && pthread_create(&pf.thread, NULL, fetch_profile, &pf) == 0;
	struct ifs_cache *cache = NULL;
	bool index_cached = false;
	if ((r = ifs_cache_open(o->cache_dir, o->cache_size ?: (10ull << 30), &cache)) < 0)
		log_error_errno(r, "cache '%s': %m", o->cache_dir);
	else if ((r = open_index(s, cache, &d, &idx, &index_cached)) < 0)
		cache = ifs_cache_free(cache);
	else
		r = ifs_fs_new(idx, &d, cache, index_cached, ifs_store_is_remote(s), o, &fs);
	if (r < 0) {
		if (pf_started)
			(void)pthread_join(pf.thread, NULL);
		free(pf.text);
		return r;
	}
	if (!(fs->mountpoint = strdup(mp))) {
		r = log_error_errno(-ENOMEM, "out of memory");
		goto out;
	}
	if (o->record_profile && (r = ifs_profile_record_open(fs, o->record_profile)) < 0) {
		log_error_errno(r, "profile '%s': %m", o->record_profile);
		goto out;
	}
	snprintf(opts, sizeof(opts),
		 "-oro,allow_other,default_permissions,fsname=brisk-imagefs,subtype=brisk%s",
		 o->debug ? ",debug" : "");
	char *argv[] = {"brisk-imagefs", opts, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(2, argv);
	se = fuse_session_new(&args, &ifs_fuse_ops, sizeof(ifs_fuse_ops), fs);
	fuse_opt_free_args(&args);
	if (!se) {
		r = log_error_errno(-EIO, "cannot create the FUSE session");
		goto out;
	}
	if (fuse_session_mount(se, mp) != 0) {
		r = log_error_errno(-EIO, "mount on '%s' failed (see above)", mp);
		goto out;
	}
	/* our I/O, to negotiate passthrough (passthrough.c); same fd, the mount stays libfuse's */
	ifs_pt_init(fs, se, o->record_profile != NULL);
	if ((r = fuse_session_custom_io(se, &ifs_fuse_io, fuse_session_fd(se))) < 0) {
		log_error_errno(r, "FUSE session I/O: %m");
		fuse_session_unmount(se);
		goto out;
	}
	if (pf_started) {
		(void)pthread_join(pf.thread, NULL);
		pf_started = false;
		fs->profile_fetched = pf.r >= 0 || pf.r == -ENOENT;
		fs->profile_text = TAKE_PTR(pf.text);
		fs->profile_len = pf.len;
	}
	fs->daemon_pid = getpid();
	if (o->foreground) {
		r = serve(se, fs, o, false);
		fuse_session_unmount(se);
		goto out;
	}
	r = daemonize(&ready);
	if (r > 0) {
		/* The mount belongs to the daemon now. Its INIT reply caps the readahead at the
		 * kernel's default, so raise it once a request has gone through. */
		struct stat st;
		if (stat(mp, &st) == 0)
			set_readahead(mp);
		r = 0;
		goto out;
	}
	if (r < 0) {
		fuse_session_unmount(se);
		goto out;
	}
	fs->daemon_pid = getpid(); /* the supervisor: it outlives each server */
	if (o->log_file)
		(void)log_open(o->log_file, LOG_FORMAT_TEXT);
	(void)write(ready, "\1", 1);
	safe_close(ready);
	supervise(se, fs, o);
out:
	if (pf_started)
		(void)pthread_join(pf.thread, NULL);
	free(pf.text);
	if (se)
		fuse_session_destroy(se);
	if (fs)
		ifs_pt_free(fs);
	ifs_fs_free(fs);
	return r;
}

int ifs_mount_root_open(const char *mountpoint)
{
	_cleanup_close_ int fd = open(mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct statfs sf;

	if (fd < 0 || fstatfs(fd, &sf) < 0)
		return -errno;
	if (sf.f_type != FUSE_SUPER_MAGIC)
		return -ENOTTY;
	return TAKE_FD(fd);
}

/* ioctl CMD on the root of the lazy mount MOUNTPOINT, closed again before this returns */
static int root_ioctl(const char *mountpoint, unsigned long cmd, void *arg)
{
	_cleanup_close_ int fd = ifs_mount_root_open(mountpoint);

	if (fd < 0)
		return fd;
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

int imagefs_mount_stats(const char *mountpoint, char **ret)
{
	_cleanup_free_ char *buf = calloc(1, IFS_STATS_MAX);
	int r;

	if (!buf)
		return -ENOMEM;
	if ((r = root_ioctl(mountpoint, IFS_IOC_STATS, buf)) < 0)
		return r;
	if (!memchr(buf, '\0', IFS_STATS_MAX))
		return -EBADMSG;
	*ret = TAKE_PTR(buf);
	return 0;
}

int imagefs_umount(const char *mountpoint)
{
	/* the daemon, named before the unmount while it surely lives */
	int32_t pid = 0;
	_cleanup_close_ int pidfd =
	    root_ioctl(mountpoint, IFS_IOC_PID, &pid) == 0 && pid > 0 ? pidfd_of(pid) : -EBADF;

	/* the daemon's prefetcher holds a directory of the mount open for a moment while it lists
	 * the profile's directories (profile.c): a busy mount is tried again for a while */
	int r = umount2(mountpoint, UMOUNT_NOFOLLOW);
	for (int i = 0; r < 0 && errno == EBUSY && i < UMOUNT_BUSY_TRIES; i++) {
		(void)usleep(10 * 1000);
		r = umount2(mountpoint, UMOUNT_NOFOLLOW);
	}
	if (r < 0) {
		if (errno == EBUSY)
			return log_error_errno(-EBUSY, "'%s' is busy", mountpoint);
		return log_error_errno(-errno, "unmount '%s': %m", mountpoint);
	}
	/* it puts what it holds in memory into the cache, then exits: a mount that follows
	 * finds all of it there */
	if (pidfd >= 0 && pidfd_wait(pidfd, UMOUNT_WAIT_MS) < 0)
		log_warning("'%s' is unmounted; its daemon is still writing its cache after %d s",
			    mountpoint, UMOUNT_WAIT_MS / 1000);
	return 0;
}
