/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lazy image rootfs: see lazy-rootfs.h. Layout under /run/brisk-lazy (BRISK_LAZY_DIR):
 *   images/KEY/{mnt,refs/,lock,log,pid}   one brisk-imagefs mount per (store, image, cache)
 *   containers/CKEY/{upper,work,rootfs}   one overlay per container
 * KEY hashes the image's store, name and cache; CKEY is the container id and a hash of the
 * runtime root, so runtimes with different --root never share one. The image mount is taken
 * and dropped under an flock of images/KEY/lock; a refs/CKEY file is each container's hold.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fault.h"
#include "common/cleanup.h"
#include "common/digest.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/pidfd.h"
#include "lazy-rootfs.h"
#include "sealed-exe.h"

#define FUSE_MAGIC 0x65735546
#define DEFAULT_CACHE "/var/cache/brisk"

static const char *base_dir(void)
{
	return getenv("BRISK_LAZY_DIR") ?: "/run/brisk-lazy";
}

static int hash_key(const char *a, const char *b, const char *c, size_t n, char *buf)
{
	_cleanup_free_ char *s = NULL;
	char hex[DIGEST_HEX_SIZE + 1];
	struct digest d;
	int r;

	if (asprintf(&s, "%s\n%s\n%s", a, b, c) < 0)
		return -ENOMEM;
	if ((r = digest_buffer(s, strlen(s), &d)) < 0)
		return r;
	digest_format_hex(&d, hex);
	memcpy(buf, hex, n);
	buf[n] = '\0';
	return 0;
}

/* brisk-imagefs: $BRISK_IMAGEFS, beside this binary, in the build tree, or on PATH. */
static char *imagefs_binary(void)
{
	/* the host's path: we may run from a sealed clone */
	const char *self = sealed_exe_host_path(), *p;

	if (getenv("BRISK_IMAGEFS"))
		return strdup(getenv("BRISK_IMAGEFS"));
	if (self) {
		if ((p = strrchr(self, '/'))) {
			static const char *const rel[] = {"brisk-imagefs",
							  "../imagefs/brisk-imagefs"};
			for (size_t i = 0; i < ELEMENTSOF(rel); i++) {
				char cand[PATH_MAX + 64];
				snprintf(cand, sizeof(cand), "%.*s/%s", (int)(p - self), self,
					 rel[i]);
				if (access(cand, X_OK) == 0)
					return strdup(cand);
			}
		}
	}
	return strdup("brisk-imagefs");
}

static int run_imagefs(const char *store, const char *image, const char *cache, bool prefetch,
		       const char *imgdir, const char *mnt)
{
	_cleanup_free_ char *bin = imagefs_binary(), *log = path_join(imgdir, "log"),
			    *pid = path_join(imgdir, "pid"), *stats = path_join(imgdir, "stats");
	int status;
	pid_t p;

	if (!bin || !log || !pid || !stats)
		return -ENOMEM;
	p = fork();
	if (p < 0)
		return -errno;
	if (p == 0) {
		const char *argv[] = {bin,     "mount", "--store",    store, "--cache", cache,
				      "--log", log,	"--pid-file", pid,   "--stats", stats,
				      image,   mnt,	NULL,	      NULL};
		if (!prefetch) {
			argv[12] = "--no-prefetch";
			argv[13] = image;
			argv[14] = mnt;
		}
		execvp(bin, (char **)argv);
		_exit(127);
	}
	while (waitpid(p, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return log_error_errno(-EIO, "lazy image '%s': '%s mount' failed (status %d)",
				       image, bin, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}

/* Mount the image on IMGDIR/mnt unless a live mount is there; add the hold CKEY. */
static int image_acquire(const char *store, const char *image, const char *cache, bool prefetch,
			 const char *imgdir, const char *ckey)
{
	_cleanup_free_ char *mnt = path_join(imgdir, "mnt"), *refs = path_join(imgdir, "refs");
	_cleanup_close_ int lockfd = -EBADF, dfd = -EBADF;
	struct statfs sf;
	int r;

	if (!mnt || !refs)
		return -ENOMEM;
	if ((r = mkdir_p_at(AT_FDCWD, refs, 0700)) < 0 || (r = mkdir_p_at(AT_FDCWD, mnt, 0755)) < 0)
		return log_error_errno(r, "create '%s': %m", imgdir);
	dfd = open(imgdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	lockfd = openat(dfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd < 0 || flock(lockfd, LOCK_EX) < 0)
		return log_error_errno(-errno, "lock '%s': %m", imgdir);
	_cleanup_free_ char *ref = path_join("refs", ckey);
	if (!ref)
		return -ENOMEM;
	int fd = openat(dfd, ref, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return log_error_errno(-errno, "hold on lazy image '%s': %m", image);
	safe_close(fd);
	if (statfs(mnt, &sf) < 0) {
		/* a dead daemon's mount: ENOTCONN */
		(void)umount2(mnt, MNT_DETACH);
	}
	if (statfs(mnt, &sf) < 0 || sf.f_type != FUSE_MAGIC) {
		if ((r = run_imagefs(store, image, cache, prefetch, imgdir, mnt)) < 0) {
			(void)unlinkat(dfd, ref, 0);
			return r;
		}
	}
	return 0;
}

/* Drop the hold CKEY; unmount the image when no container holds it. */
static int image_release(const char *imgdir, const char *ckey)
{
	_cleanup_free_ char *mnt = path_join(imgdir, "mnt"), *ref = path_join("refs", ckey);
	_cleanup_close_ int lockfd = -EBADF, dfd = -EBADF, rfd = -EBADF;
	struct dirent *de;
	bool held = false;

	if (!mnt || !ref)
		return -ENOMEM;
	dfd = open(imgdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -errno;
	lockfd = openat(dfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd < 0 || flock(lockfd, LOCK_EX) < 0)
		return -errno;
	(void)unlinkat(dfd, ref, 0);
	rfd = openat(dfd, "refs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rfd >= 0) {
		_cleanup_closedir_ DIR *d = fdopendir(rfd);
		if (!d)
			return -errno;
		rfd = -EBADF;
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				held = true;
	}
	if (held)
		return 0;
	/* the daemon, from its pid file: asking the mount could hang on a stuck daemon */
	_cleanup_close_ int pidfd = pidfd_from_file(dfd, "pid", "brisk-imagefs");
	if (umount2(mnt, UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT) {
		if (errno != EBUSY)
			return log_warning_errno(-errno, "unmount lazy image '%s': %m", mnt);
		(void)umount2(mnt, MNT_DETACH | UMOUNT_NOFOLLOW);
		return 0;
	}
	/* It writes the chunks it still holds in memory to the cache, then exits; under the
	 * image's lock, so that its next mount finds them there. Bounded: a slow disk costs a
	 * later start some fetches, never a hang. */
	if (pidfd >= 0 && pidfd_wait(pidfd, 10000) < 0)
		log_warning("lazy image daemon of '%s' still writing its cache after 10 s", mnt);
	return 0;
}

static int overlay_mount(const char *imgdir, const char *cdir, char **ret_rootfs)
{
	_cleanup_free_ char *opts = NULL, *rootfs = path_join(cdir, "rootfs");
	int r;

	if (!rootfs)
		return -ENOMEM;
	if (mkdir(cdir, 0700) < 0)
		return log_error_errno(-errno, "create '%s': %m", cdir);
	static const char *const subs[] = {"upper", "work", "rootfs"};
	for (size_t i = 0; i < ELEMENTSOF(subs); i++) {
		_cleanup_free_ char *p = path_join(cdir, subs[i]);
		if (!p)
			return -ENOMEM;
		if (mkdir(p, 0755) < 0)
			return log_error_errno(-errno, "create '%s': %m", p);
	}
	if (asprintf(&opts, "lowerdir=%s/mnt,upperdir=%s/upper,workdir=%s/work", imgdir, cdir,
		     cdir) < 0)
		return -ENOMEM;
	if (FAULT_OR("mount", mount("overlay", rootfs, "overlay", 0, opts)) < 0) {
		r = -errno;
		return log_error_errno(r, "mount overlay on '%s' (%s): %m", rootfs, opts);
	}
	*ret_rootfs = TAKE_PTR(rootfs);
	return 0;
}

static void overlay_remove(const char *cdir)
{
	_cleanup_free_ char *rootfs = path_join(cdir, "rootfs");

	if (rootfs && umount2(rootfs, UMOUNT_NOFOLLOW) < 0 && errno == EBUSY)
		(void)umount2(rootfs, MNT_DETACH | UMOUNT_NOFOLLOW);
	(void)rm_rf_at(AT_FDCWD, cdir);
}

int lazy_rootfs_setup(const char *state_root, const char *id, struct json_object *annotations,
		      struct json_object **extra, char **ret_rootfs)
{
	const char *image, *store, *cache = DEFAULT_CACHE, *prefetch = "true";
	char key[33], ckey[PATH_MAX], h[13];
	_cleanup_free_ char *imgdir = NULL, *cdir = NULL, *rootfs = NULL;
	struct json_object *rec;
	int r;

	*ret_rootfs = NULL;
	if (!annotations || json_get_string(annotations, "run.brisk.image", &image) < 0)
		return 0;
	if (json_get_string(annotations, "run.brisk.store", &store) < 0)
		return log_error_errno(-EINVAL, "annotation run.brisk.image needs run.brisk.store");
	(void)json_get_string(annotations, "run.brisk.cache", &cache);
	(void)json_get_string(annotations, "run.brisk.prefetch", &prefetch);
	if ((r = hash_key(store, image, cache, 32, key)) < 0 ||
	    (r = hash_key(state_root, "", "", 12, h)) < 0)
		return r;
	snprintf(ckey, sizeof(ckey), "%s-%s", id, h);
	if (asprintf(&imgdir, "%s/images/%s", base_dir(), key) < 0 ||
	    asprintf(&cdir, "%s/containers/%s", base_dir(), ckey) < 0)
		return -ENOMEM;
	if ((r = mkdir_p_at(AT_FDCWD, base_dir(), 0700)) < 0 ||
	    (r = mkdir_p_at(AT_FDCWD, cdir, 0700)) < 0)
		return log_error_errno(r, "create '%s': %m", base_dir());
	/* the per-container directory must be new: another container may own it */
	if (rmdir(cdir) < 0)
		return log_error_errno(-errno, "lazy rootfs '%s': %m", cdir);
	if ((r = image_acquire(store, image, cache, strcmp(prefetch, "false") != 0, imgdir, ckey)) <
	    0)
		return r;
	if ((r = overlay_mount(imgdir, cdir, &rootfs)) < 0) {
		if (r != -EEXIST)
			overlay_remove(cdir);
		(void)image_release(imgdir, ckey);
		return r;
	}
	if (!*extra && !(*extra = json_object_new_object()))
		goto fail;
	if (!(rec = json_object_new_object()))
		goto fail;
	json_object_object_add(rec, "image", json_object_new_string(imgdir));
	json_object_object_add(rec, "container", json_object_new_string(cdir));
	json_object_object_add(rec, "hold", json_object_new_string(ckey));
	json_object_object_add(*extra, "lazyImage", rec);
	*ret_rootfs = TAKE_PTR(rootfs);
	return 1;
fail:
	overlay_remove(cdir);
	(void)image_release(imgdir, ckey);
	return -ENOMEM;
}

int lazy_rootfs_release(struct json_object *extra)
{
	struct json_object *rec;
	const char *imgdir, *cdir, *hold;

	if (!extra || json_get_object(extra, "lazyImage", &rec) < 0)
		return 0;
	if (json_get_string(rec, "image", &imgdir) < 0 ||
	    json_get_string(rec, "container", &cdir) < 0 || json_get_string(rec, "hold", &hold) < 0)
		return -EINVAL;
	overlay_remove(cdir);
	return image_release(imgdir, hold);
}

int lazy_rootfs_resolve(const char *state_root, const char *id, struct json_object *annotations,
			const char *root_path, const char *bundle, struct json_object **extra,
			char **ret_rootfs, bool *ret_lazy)
{
	_cleanup_free_ char *root = NULL;
	char path[PATH_MAX];
	int r;

	if ((r = lazy_rootfs_setup(state_root, id, annotations, extra, &root)) < 0)
		return r;
	if (ret_lazy)
		*ret_lazy = root != NULL;
	if (!root)
		root = root_path[0] == '/' ? strdup(root_path) : path_join(bundle, root_path);
	if (!root)
		return -ENOMEM;
	if (!realpath(root, path))
		return log_error_errno(-errno, "rootfs '%s': %m", root);
	return (*ret_rootfs = strdup(path)) ? 0 : -ENOMEM;
}
