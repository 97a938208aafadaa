/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Lazy image rootfs: see lazy-rootfs.h. Layout under /run/brisk-lazy (BRISK_LAZY_DIR):
 *   images/KEY/{mnt,refs/,lock,log,pid}   one brisk-imagefs mount per (store, image, cache)
 *   containers/CKEY/{setup.json,upper,work,rootfs}   one overlay per container
 * KEY hashes the image's store, name and cache; CKEY is the container id and a hash of the
 * runtime root, so runtimes with different --root never share one. The image mount is taken
 * and dropped under an flock of images/KEY/lock; a refs/CKEY file is each container's hold.
 *
 * Crash safety: containers/CKEY/setup.json records the image and the hold before either is
 * taken, and is removed last, so whatever a create killed at any step left (the hold, the
 * image's mount and daemon, the overlay and its layers) is found from the container's id
 * alone: by `delete --force` of a container that has no state yet (lazy_rootfs_forget()) and
 * by the next create of that id, which owns CKEY (its caller made the state directory of the
 * id, so no live container has it) and clears it first. A brisk-imagefs mount started for a
 * create dies with it (PR_SET_PDEATHSIG) rather than mounting after the create is gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
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

#define FUSE_MAGIC 0x65735546
#define DEFAULT_CACHE "/var/cache/brisk"
#define SETUP_RECORD "setup.json"

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
	char buf[PATH_MAX];

	(void)companion_binary("BRISK_IMAGEFS", "brisk-imagefs", "imagefs", buf, sizeof(buf));
	return strdup(buf);
}

static int run_imagefs(const char *store, const char *image, const char *cache, bool prefetch,
		       const char *imgdir, const char *mnt)
{
	_cleanup_free_ char *bin = imagefs_binary(), *log = path_join(imgdir, "log"),
			    *pid = path_join(imgdir, "pid"), *stats = path_join(imgdir, "stats");
	pid_t parent = getpid(), p;
	int status;

	if (!bin || !log || !pid || !stats)
		return -ENOMEM;
	p = FAULT_OR("lazy-image", fork());
	if (p < 0)
		return log_error_errno(-errno, "lazy image '%s': fork: %m", image);
	if (p == 0) {
		/* a create killed meanwhile takes the mount with it: no mount appears after it is
		 * gone (the daemon the mount forks is not affected) */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(127);
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
	int fd = FAULT_OR("lazy-hold", openat(dfd, ref, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
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

/* Unmount the overlay of CDIR and remove its layers; the record stays (release() removes it
 * last). */
static void overlay_remove(const char *cdir)
{
	_cleanup_free_ char *rootfs = path_join(cdir, "rootfs");
	_cleanup_close_ int dfd = -EBADF;

	if (rootfs && umount2(rootfs, UMOUNT_NOFOLLOW) < 0 && errno == EBUSY)
		(void)umount2(rootfs, MNT_DETACH | UMOUNT_NOFOLLOW);
	dfd = open(cdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return;
	static const char *const subs[] = {"rootfs", "upper", "work"};
	for (size_t i = 0; i < ELEMENTSOF(subs); i++)
		(void)rm_rf_at(dfd, subs[i]);
}

/* Undo a container's lazy rootfs, in the reverse order of its setup: the overlay and its
 * layers, the hold on the image (and the image's mount with the last hold), then the record. A
 * release killed half-way is done again from what is left. */
static int release(const char *imgdir, const char *cdir, const char *hold)
{
	int r;

	overlay_remove(cdir);
	if ((r = image_release(imgdir, hold)) < 0)
		return r;
	(void)rm_rf_at(AT_FDCWD, cdir);
	return 0;
}

/* The directories of container ID under STATE_ROOT: CKEY and its overlay directory. */
static int container_keys(const char *state_root, const char *id, char ckey[PATH_MAX],
			  char **ret_cdir)
{
	char h[13];
	int r;

	if ((r = hash_key(state_root, "", "", 12, h)) < 0)
		return r;
	if (snprintf(ckey, PATH_MAX, "%s-%s", id, h) >= PATH_MAX)
		return -ENAMETOOLONG;
	if (asprintf(ret_cdir, "%s/containers/%s", base_dir(), ckey) < 0)
		return -ENOMEM;
	return 0;
}

/* The image directory a record names, if it is one of ours: images/ and 32 hex digits. */
static bool image_dir_ok(const char *imgdir)
{
	_cleanup_free_ char *prefix = NULL;
	size_t n;

	if (asprintf(&prefix, "%s/images/", base_dir()) < 0)
		return false;
	n = strlen(prefix);
	return strncmp(imgdir, prefix, n) == 0 && strlen(imgdir + n) == 32 &&
	       strspn(imgdir + n, "0123456789abcdef") == 32;
}

/* Remove what a create of CKEY left in CDIR (and the image hold its record names). */
static int forget(const char *cdir, const char *ckey)
{
	_cleanup_json_ struct json_object *rec = NULL;
	_cleanup_close_ int dfd = -EBADF;
	const char *imgdir, *hold;
	int r;

	dfd = open(cdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT ? 0 : -errno;
	r = json_parse_file_at(dfd, SETUP_RECORD, &rec);
	if (r == -ENOENT) {
		/* killed before its record: nothing was taken yet */
		overlay_remove(cdir);
		return rm_rf_at(AT_FDCWD, cdir);
	}
	if (r < 0)
		return r;
	if (json_get_string(rec, "image", &imgdir) < 0 || json_get_string(rec, "hold", &hold) < 0 ||
	    strcmp(hold, ckey) != 0 || !image_dir_ok(imgdir))
		return -EBADMSG;
	log_debug("lazy rootfs '%s': removing what a create left", cdir);
	return release(imgdir, cdir, hold);
}

int lazy_rootfs_forget(const char *state_root, const char *id)
{
	_cleanup_free_ char *cdir = NULL;
	char ckey[PATH_MAX];
	int r;

	if ((r = container_keys(state_root, id, ckey, &cdir)) < 0)
		return r;
	return forget(cdir, ckey);
}

/* Record what the create of CKEY is about to take, in its new directory CDIR. */
static int write_record(const char *cdir, const char *imgdir, const char *ckey)
{
	_cleanup_json_ struct json_object *rec = json_object_new_object();
	_cleanup_close_ int dfd = -EBADF;
	const char *text;

	if (!rec)
		return -ENOMEM;
	json_object_object_add(rec, "image", json_object_new_string(imgdir));
	json_object_object_add(rec, "hold", json_object_new_string(ckey));
	text = json_to_string(rec);
	dfd = open(cdir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (fault_hit("lazy-record"))
		return -EIO;
	return write_file_atomic_at(dfd, SETUP_RECORD, text, strlen(text), 0600, true);
}

int lazy_rootfs_setup(const char *state_root, const char *id, struct json_object *annotations,
		      bool prefetch_default, struct json_object **extra, char **ret_rootfs)
{
	const char *image, *store, *cache = DEFAULT_CACHE;
	const char *prefetch = prefetch_default ? "true" : "false";
	char key[33], ckey[PATH_MAX];
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
	    (r = container_keys(state_root, id, ckey, &cdir)) < 0)
		return r;
	if (asprintf(&imgdir, "%s/images/%s", base_dir(), key) < 0)
		return -ENOMEM;
	_cleanup_free_ char *containers = path_join(base_dir(), "containers");
	if (!containers)
		return -ENOMEM;
	if ((r = mkdir_p_at(AT_FDCWD, containers, 0700)) < 0)
		return log_error_errno(r, "create '%s': %m", containers);
	/* The caller made the state directory of ID: no live container has CKEY, and what is
	 * there is what a create (or delete) killed half-way left. */
	if ((r = forget(cdir, ckey)) < 0)
		return log_error_errno(r, "lazy rootfs '%s': remove what a killed create left: %m",
				       cdir);
	/* a hold of CKEY on this image without a record (left by an older brisk) goes too */
	_cleanup_free_ char *stale = NULL;
	if (asprintf(&stale, "%s/refs/%s", imgdir, ckey) < 0)
		return -ENOMEM;
	if (access(stale, F_OK) == 0)
		(void)image_release(imgdir, ckey);
	if (mkdir(cdir, 0700) < 0)
		return log_error_errno(-errno, "create '%s': %m", cdir);
	/* what is taken from here on, `delete --force` finds from the id alone */
	if ((r = write_record(cdir, imgdir, ckey)) < 0) {
		(void)rm_rf_at(AT_FDCWD, cdir);
		return log_error_errno(r, "lazy rootfs '%s': record its setup: %m", cdir);
	}
	if ((r = image_acquire(store, image, cache, strcmp(prefetch, "false") != 0, imgdir, ckey)) <
	    0) {
		(void)rm_rf_at(AT_FDCWD, cdir);
		return r;
	}
	if ((r = overlay_mount(imgdir, cdir, &rootfs)) < 0) {
		(void)release(imgdir, cdir, ckey);
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
	(void)release(imgdir, cdir, ckey);
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
	return release(imgdir, cdir, hold);
}

int lazy_rootfs_resolve(const char *state_root, const char *id, struct json_object *annotations,
			bool prefetch, const char *root_path, const char *bundle,
			struct json_object **extra, char **ret_rootfs, bool *ret_lazy)
{
	_cleanup_free_ char *root = NULL;
	char path[PATH_MAX];
	int r;

	if ((r = lazy_rootfs_setup(state_root, id, annotations, prefetch, extra, &root)) < 0)
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
