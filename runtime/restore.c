/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Restore: bring a checkpoint back as a new container, from a bundle with the same
 * rootfs. The same images can be restored again and again, at the same time, under new ids:
 * each restore gets its own pid namespace (CRIU makes the namespaces the images describe),
 * its own cgroup, its own CRIU worker and work directory, a clone its own writable layer
 * over the rootfs, and the images are only read (no --auto-dedup, which would punch holes
 * in them). A bundle with a lazy image (run.brisk.image) gets it mounted as by create, with a
 * writable layer of the restored container's own. That layer starts empty: what the
 * checkpointed container wrote to its lazy rootfs is not in the snapshot (CRIU dumps tmpfs
 * mounts, so state a restore needs belongs in one, or in a bind-mounted volume).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mountinfo.h"
#include "cgroup.h"
#include "commands.h"
#include "checkpoint.h"
#include "container-snapshot.h"
#include "lazy-rootfs.h"
#include "restore-pull.h"
#include "rootfs.h"
#include "sync.h"
#include "terminal.h"

struct restore_job {
	struct runtime_ctx *rt;
	struct restore_args *a;
	struct snapshot_meta *meta;
	struct spec *spec;
	struct cgroup *cg;
	struct container_state st;
	struct ext_mounts em;
	struct restore_grant grant; /* what the restored tree may hold */
	struct snapshot_inherit_fd inherit[4];
	struct json_object *cg_json; /* holds the strings of cg_roots */
	struct snapshot_pair *cg_roots;
	size_t n_cg_roots;
	int images_fd, work_fd, dirfd, netns_fd, console_fd;
	char *root_mnt;	   /* the rootfs (a clone: its overlay) mounted in our state for CRIU */
	char *masked_mnt;  /* an empty read-only tmpfs, for the masked directories */
	char **tmpfs_mnts; /* NULL-terminated: a new tmpfs for each of the spec's */
	char *work_dir;
	const char *image_dir;	  /* the images: --image-path, or where a pull put them */
	struct restore_pull pull; /* --image-path named a snapshot in a store */
	pid_t pid, lazy_pid;
	struct snapshot_readahead *ra; /* the memory images, read ahead while we get ready */
	struct snapshot_prefetch *pf;  /* the mapped files of a lazy rootfs, fetched meanwhile */
	bool lazy_root;	     /* the rootfs is a lazy image's overlay, private to this container */
	bool cg_entered;     /* the cgroup is ours to kill and remove */
	bool worker_refused; /* move_worker failed, and said why */
	bool tree_refused;   /* check_tree failed, and said why */
};

static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static int move_worker(pid_t worker, void *userdata)
{
	struct restore_job *j = userdata;
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	int r;

	/* The restored tasks are born in the worker's cgroups. */
	j->cg_entered = j->worker_refused = true;
	if ((r = cgroup_enter(j->cg, worker)) < 0)
		return log_error_errno(r, "enter the container's cgroup: %m");
	if ((r = cgroup_get_pids(j->cg, &pids, &n)) < 0)
		return r;
	/* Clones from one bundle would share its cgroupsPath, and kill, pause or delete of
	 * one would act on all: the cgroup must hold no one else (it is not ours to remove). */
	for (size_t i = 0; i < n; i++)
		if (pids[i] != worker) {
			j->cg_entered = false;
			return log_error_errno(
			    -EBUSY,
			    "cgroup '%s' holds processes of another container: a "
			    "restore needs a cgroup of its own (linux.cgroupsPath)",
			    j->spec->cgroups_path ? j->spec->cgroups_path : j->a->id);
		}
	j->worker_refused = false;
	return 0;
}

static int open_images(struct restore_job *j)
{
	struct restore_args *a = j->a;
	int r;

	j->images_fd = open(j->image_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->images_fd < 0)
		return log_error_errno(-errno, "image path '%s': %m", a->image_path);
	_cleanup_free_ char *bad = NULL;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = snapshot_images_check(j->images_fd, &bad);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_debug("checked the image directory in %.3f ms", ms_between(&t0, &t1));
	if (r == -EPERM)
		return log_error_errno(r,
				       "refused: '%s/%s' is not a regular file or directory, or is "
				       "setuid or setgid: CRIU would open it as one of its images",
				       a->image_path, bad);
	if (r < 0)
		return log_error_errno(r, "image path '%s': %m", a->image_path);
	r = snapshot_meta_read(j->images_fd, &j->meta);
	if (r == -ENOENT)
		return log_error_errno(r, "'%s' holds no checkpoint (no %s)", a->image_path,
				       SNAPSHOT_META_FILE);
	if (r < 0)
		return log_error_errno(r, "'%s/%s' is not a valid brisk checkpoint description",
				       a->image_path, SNAPSHOT_META_FILE);
	if (faccessat(j->images_fd, "inventory.img", F_OK, 0) < 0)
		return log_error_errno(-errno, "'%s' holds no CRIU images (inventory.img): %m",
				       a->image_path);
	/* A lazy restore reads on fault, in the order of the faults: no reading ahead there. */
	if (!a->so.lazy_pages && (r = snapshot_readahead_start(j->images_fd, &j->ra)) < 0)
		log_debug("reading the memory images ahead: %s", strerror(-r));
	return 0;
}

/* Over a lazy image, what CRIU opens and the app runs next would be fetched one fault at a
 * time: ask for all of it at once. A hint: a restore goes on without it. */
static int start_prefetch(struct restore_job *j)
{
	int r;

	if (j->lazy_root && (r = snapshot_prefetch_start(j->st.rootfs, j->meta->mapped,
							 j->meta->n_mapped, &j->pf)) < 0)
		log_debug("reading the mapped files ahead: %s", strerror(-r));
	return 0;
}

/* A snapshot in a store: pulled while the state and the rootfs get ready (restore-pull.c). */
static int start_pull(struct restore_job *j)
{
	if (j->a->so.lazy_pages)
		return log_error_errno(
		    -EINVAL,
		    "--lazy-pages serves the pages from the image directory for "
		    "as long as the container runs: pull the snapshot '%s' first "
		    "(brisk-image pull-snapshot)",
		    j->a->image_path);
	return restore_pull_start(j->a->image_path, &j->pull);
}

static int finish_pull(struct restore_job *j)
{
	int r = restore_pull_wait(&j->pull, j->a->image_path);

	if (r < 0)
		return r;
	j->image_dir = j->pull.dir;
	return open_images(j);
}

/* The snapshot's description against the bundle, before anything of it is restored. */
static int check_snapshot(struct restore_job *j)
{
	struct spec *s = j->spec;
	int r;

	/* the checkpoint's word against the bundle's, then what the restored tree may hold */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((r = restore_compare_config(s, j->meta->config)) < 0 ||
	    (r = restore_grant_from_spec(s, &j->grant)) < 0)
		return r;
	/* the trees a restore makes (the container's /dev) make only what the bundle does */
	for (size_t t = 0; t < j->meta->n_trees; t++)
		if ((r = tmpfs_tree_check(s, &j->meta->trees[t])) < 0)
			return r;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_debug("checked the checkpoint's description against the bundle in %.3f ms",
		  ms_between(&t0, &t1));
	/* every bind mount the snapshot has must come from the bundle */
	if ((r = ext_mounts_from_spec(s, 0, &j->em)) < 0)
		return r;
	for (char **k = j->meta->ext_mounts; *k; k++) {
		bool found = false;
		for (size_t i = 0; i < j->em.n && !found; i++)
			found = strcmp(j->em.pairs[i].key, *k) == 0;
		if (!found)
			return log_error_errno(-EINVAL,
					       "the checkpoint has a bind mount on '%s' that the "
					       "bundle's config.json does not have",
					       *k);
	}
	return 0;
}

static int prepare_state(struct restore_job *j)
{
	char path[PATH_MAX];
	struct spec *s = j->spec;
	int r;

	if (!(j->st.id = strdup(j->a->id)) || !(j->st.created = now_rfc3339()))
		return -ENOMEM;
	if (!realpath(j->a->bundle, path))
		return log_error_errno(-errno, "bundle '%s': %m", j->a->bundle);
	if (!(j->st.bundle = strdup(path)))
		return -ENOMEM;
	j->st.owner = getuid();
	j->st.systemd_cgroup = j->rt->systemd_cgroup;
	j->st.annotations = s->annotations ? json_object_get(s->annotations) : NULL;
	if (s->process.terminal && !j->a->console_socket)
		return log_error_errno(-EINVAL, "the container has a terminal (process.terminal): "
						"restore needs --console-socket");
	if (!s->process.terminal && j->a->console_socket)
		return log_error_errno(-EINVAL, "--console-socket: the container has no terminal "
						"(process.terminal is false)");

	_cleanup_json_ struct json_object *res = NULL;
	if ((r = container_effective_resources(s, &res)) < 0)
		return log_error_errno(r, "linux.resources: %m");
	struct cgroup_opts co = {.root = "/sys/fs/cgroup",
				 .path = s->cgroups_path,
				 .id = j->a->id,
				 .resources = res,
				 .rootless = j->rt->rootless};
	if ((r = cgroup_new(&co, &j->cg)) < 0)
		return r;

	if (mkdirat(j->rt->rootfd, j->a->id, 0700) < 0) {
		if (errno == EEXIST)
			return log_error_errno(-EEXIST, "container '%s' already exists", j->a->id);
		return log_error_errno(-errno, "create state directory '%s/%s': %m", j->rt->root,
				       j->a->id);
	}
	j->dirfd = openat(j->rt->rootfd, j->a->id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0)
		return -errno;

	/* a lazy image named by the annotations (mounted or shared as by create, with a layer
	 * of this container's own, released by delete), else root.path, relative to the bundle.
	 * A new mount does not replay the image's access profile unless run.brisk.prefetch says
	 * so: that is what a start reads, and the restored app has started; what it reads next
	 * is what its snapshot mapped (start_prefetch), and the profile's fetches would share
	 * the link with those and with a pull of the snapshot. */
	if ((r = lazy_rootfs_resolve(j->rt->root, j->a->id, s->annotations, false, s->root_path,
				     j->a->bundle, &j->st.extra, &j->st.rootfs, &j->lazy_root)) < 0)
		return r;
	/* what a restore killed from here on leaves (the lazy image, mounts in the state
	 * directory, the cgroup about to be made), `delete --force` finds and undoes */
	if ((r = cgroup_serialize_planned(j->cg, &j->st.cgroup)) < 0 ||
	    (r = state_save(j->dirfd, &j->st)) < 0)
		return log_error_errno(r, "save state: %m");
	return 0;
}

/*
 * A clone (a restore under an id other than the checkpointed container's) writes to a
 * layer of its own, DIR/layer/{upper,work}, over the bundle's rootfs, so that the clones of
 * one snapshot never see each other's files and the rootfs stays as the snapshot expects
 * it. The layer is in the state directory: `delete` removes it. A restore under the
 * checkpointed id goes on in the bundle's rootfs, as with runc.
 */
static int find_overlay(const struct mountinfo_entry *e, void *userdata)
{
	const char *rootfs = userdata;

	return strcmp(e->mount_point, rootfs) == 0 && strcmp(e->fstype, "overlay") == 0;
}

/*
 * ROOTFS is an overlay mounted there, as containerd, podman and CRI-O make one for each
 * container (a snapshot's writable layer of its own): a restore under a new id writes into it,
 * as runc does, and needs no layer of brisk's. An overlay on that overlay would also be one
 * level of stacking too many for the kernel where the orchestrator's lower layer is itself
 * stacked (brisk-snapshotter's lazy mounts, with FUSE passthrough).
 */
static bool rootfs_is_overlay(const char *rootfs)
{
	return mountinfo_foreach("/proc/self/mountinfo", find_overlay, (void *)rootfs) > 0;
}

static int mount_clone_root(struct restore_job *j, const char *dir)
{
	_cleanup_free_ char *opts = NULL;
	struct stat st;

	if (stat(j->st.rootfs, &st) < 0)
		return log_error_errno(-errno, "rootfs '%s': %m", j->st.rootfs);
	/* the merged root is the upper directory: it has the rootfs's owner and mode, which CRIU
	 * checks for a process whose cwd or root it is */
	if (mkdirat(j->dirfd, "layer", 0700) < 0 || mkdirat(j->dirfd, "layer/upper", 0755) < 0 ||
	    fchownat(j->dirfd, "layer/upper", st.st_uid, st.st_gid, 0) < 0 ||
	    fchmodat(j->dirfd, "layer/upper", st.st_mode & 07777, 0) < 0 ||
	    mkdirat(j->dirfd, "layer/work", 0700) < 0)
		return log_error_errno(-errno, "create the writable layer in '%s': %m", dir);
	if (asprintf(&opts, "lowerdir=%s,upperdir=%s/layer/upper,workdir=%s/layer/work",
		     j->st.rootfs, dir, dir) < 0)
		return -ENOMEM;
	if (mount("overlay", j->root_mnt, "overlay", 0, opts) < 0)
		return log_error_errno(-errno, "mount the clone's writable layer (overlay %s): %m",
				       opts);
	return 0;
}

/*
 * The spec's tmpfs mounts that the dump left out as external (empty, as the spec made them:
 * ext_mounts_add_empty_tmpfs) come back as new ones, made here as the spec says, each bound
 * in its place by CRIU. One for every tmpfs of the spec: a key the images do not name is
 * not used.
 */
static int fill_cgroup_tmpfs(const struct spec_mount *m, const char *path)
{
	_cleanup_strv_free_ char **dirs = NULL, **links = NULL;
	_cleanup_close_ int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (dfd < 0 || (r = cgroup_tmpfs_entries(&dirs, &links)) < 0)
		return log_error_errno(dfd < 0 ? -errno : r, "the host's cgroup hierarchies: %m");
	for (char **d = dirs; *d; d++)
		if (mkdirat(dfd, *d, 0755) < 0)
			return log_error_errno(-errno, "mkdir '%s/%s': %m", path, *d);
	for (char **l = links; *l; l++) {
		char *slash = strchr(*l, '/');
		*slash = '\0';
		if (symlinkat(slash + 1, dfd, *l) < 0 && errno != EEXIST)
			return log_error_errno(-errno, "symlink '%s/%s': %m", path, *l);
	}
	if ((m->flags & MS_RDONLY) &&
	    mount(NULL, path, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=755") < 0)
		return log_error_errno(-errno, "remount '%s' read-only: %m", path);
	return 0;
}

static int mount_tmpfs(struct restore_job *j, const char *dir)
{
	size_t n = 0;

	j->tmpfs_mnts = calloc(j->spec->n_mounts + 1, sizeof(char *));
	if (!j->tmpfs_mnts)
		return -ENOMEM;
	for (size_t i = 0; i < j->spec->n_mounts; i++) {
		const struct spec_mount *m = &j->spec->mounts[i];
		const unsigned long keep = MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME |
					   MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME;
		char name[32];
		const char *key;
		int r;

		bool cg = spec_mount_is_cgroup_tmpfs(m);
		if (!spec_mount_is_tmpfs(m) && !cg)
			continue;
		snprintf(name, sizeof(name), "tmpfs-%zu", i);
		if (n == 0 && mkdirat(j->dirfd, "tmpfs", 0700) < 0)
			return log_error_errno(-errno, "create '%s/tmpfs': %m", dir);
		_cleanup_free_ char *path = NULL;
		if (asprintf(&path, "%s/tmpfs/%s", dir, name) < 0)
			return -ENOMEM;
		if (mkdir(path, 0700) < 0)
			return log_error_errno(-errno, "create '%s': %m", path);
		/* the cgroup tmpfs: as rootfs.c mounts it */
		if (mount(cg	      ? "tmpfs"
			  : m->source ? m->source
				      : "tmpfs",
			  path, "tmpfs", cg ? MS_NOSUID | MS_NODEV | MS_NOEXEC : m->flags & keep,
			  cg ? "mode=755" : m->data) < 0)
			return log_error_errno(-errno, "mount a tmpfs for '%s' on '%s': %m",
					       m->destination, path);
		j->tmpfs_mnts[n++] = TAKE_PTR(path);
		if (cg && (r = fill_cgroup_tmpfs(m, j->tmpfs_mnts[n - 1])) < 0)
			return r;
		/* a tree the dump listed (the container's /dev): made anew */
		for (size_t t = 0; t < j->meta->n_trees; t++)
			if (strcmp(j->meta->trees[t].destination, m->destination) == 0 &&
			    (r = tmpfs_tree_make(j->tmpfs_mnts[n - 1], &j->meta->trees[t])) < 0)
				return r;
		if (!(key = ext_mounts_tmpfs_key(&j->em, m)) ||
		    (r = ext_mounts_add(&j->em, key, j->tmpfs_mnts[n - 1])) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* CRIU wants the root to be a mount point: mount it on a directory of our state. */
/* Is DEST below the destination of another of S's mounts that is a tmpfs (its own tree)? */
static bool below_tmpfs(const struct spec *s, const char *dest)
{
	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct spec_mount *m = &s->mounts[i];
		size_t len = m->destination ? strlen(m->destination) : 0;

		if (!spec_mount_is_tmpfs(m) || len == 0 || strcmp(m->destination, dest) == 0)
			continue;
		if (strncmp(dest, m->destination, len) == 0 &&
		    (dest[len] == '/' || m->destination[len - 1] == '/'))
			return true;
	}
	return false;
}

/*
 * CRIU mounts on the targets its images name and creates none: a rootfs that is not the one
 * the container ran on (a restore under a new id over a fresh layer, a lazy image, another
 * node) lacks those that create made. Make each target of the bundle's mounts, as create does
 * (a file for a file's bind), resolved inside the rootfs; those in a tmpfs of the spec's come
 * with it.
 */
static int make_mount_targets(struct restore_job *j)
{
	_cleanup_close_ int rootfd = open(j->root_mnt, O_PATH | O_DIRECTORY | O_CLOEXEC);
	const struct spec *s = j->spec;
	int r;

	if (rootfd < 0)
		return log_error_errno(-errno, "open '%s': %m", j->root_mnt);
	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct spec_mount *m = &s->mounts[i];
		struct stat st;
		bool is_file = false;

		if (!m->destination || below_tmpfs(s, m->destination))
			continue;
		if ((m->kind & MOUNT_BIND) && m->source) {
			if (stat(m->source, &st) < 0)
				return log_error_errno(-errno,
						       "bind mount source '%s' for '%s': %m",
						       m->source, m->destination);
			is_file = !S_ISDIR(st.st_mode);
		}
		if ((r = mkdir_in_root(rootfd, m->destination, is_file)) < 0)
			return log_error_errno(r, "create the mount target '%s' in the rootfs: %m",
					       m->destination);
	}
	return 0;
}

static int prepare_root(struct restore_job *j)
{
	_cleanup_free_ char *dir = path_join(j->rt->root, j->a->id);
	int r;

	if (!dir)
		return -ENOMEM;
	j->root_mnt = path_join(dir, "criu-root");
	if (!j->root_mnt)
		return -ENOMEM;
	if (mkdirat(j->dirfd, "criu-root", 0700) < 0)
		return log_error_errno(-errno, "create '%s': %m", j->root_mnt);
	/* a lazy rootfs already has a writable layer of this container's own, and so has an
	 * overlay mounted for this container by an orchestrator */
	if (strcmp(j->a->id, j->meta->id) != 0 && !j->lazy_root && !rootfs_is_overlay(j->st.rootfs))
		r = mount_clone_root(j, dir);
	else if (mount(j->st.rootfs, j->root_mnt, NULL, MS_BIND | MS_REC, NULL) < 0)
		r = log_error_errno(-errno, "bind the rootfs on '%s': %m", dir);
	else
		r = 0;
	if (r < 0) {
		free(j->root_mnt);
		j->root_mnt = NULL;
		return r;
	}
	if ((r = make_mount_targets(j)) < 0)
		return r;
	/* CRIU restores the root as we give it to it, whatever flags its images hold */
	if (j->spec->root_readonly &&
	    mount(NULL, j->root_mnt, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		return log_error_errno(
		    -errno, "remount the rootfs on '%s' read-only (root.readonly): %m", dir);
	if (j->spec->masked_paths && j->spec->masked_paths[0]) {
		if (mkdirat(j->dirfd, "masked", 0700) < 0 ||
		    !(j->masked_mnt = path_join(dir, "masked")))
			return log_error_errno(-errno, "create '%s/masked': %m", dir);
		if (mount("tmpfs", j->masked_mnt, "tmpfs", MS_RDONLY, "size=0k") < 0) {
			r = log_error_errno(-errno, "mount a tmpfs on '%s': %m", j->masked_mnt);
			free(j->masked_mnt);
			j->masked_mnt = NULL;
			return r;
		}
		if ((r = ext_mounts_add(&j->em, SNAPSHOT_MASKED_KEY, j->masked_mnt)) < 0)
			return r;
	}
	if ((r = mount_tmpfs(j, dir)) < 0)
		return r;
	if (j->a->work_path) {
		r = mkdir_p_at(AT_FDCWD, j->a->work_path, 0700);
		if (r < 0 && r != -EEXIST)
			return log_error_errno(r, "work path '%s': %m", j->a->work_path);
		j->work_dir = strdup(j->a->work_path);
	} else {
		if (mkdirat(j->dirfd, "criu", 0700) < 0)
			return log_error_errno(-errno, "create the work directory: %m");
		j->work_dir = path_join(dir, "criu");
	}
	if (!j->work_dir)
		return -ENOMEM;
	j->work_fd = open(j->work_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->work_fd < 0)
		return log_error_errno(-errno, "work path '%s': %m", j->work_dir);
	return 0;
}

static void umount_root(struct restore_job *j)
{
	for (size_t i = 0; j->tmpfs_mnts && j->tmpfs_mnts[i]; i++) {
		if (umount2(j->tmpfs_mnts[i], MNT_DETACH) < 0)
			log_warning("restore: unmount '%s': %m, ignoring", j->tmpfs_mnts[i]);
		(void)rmdir(j->tmpfs_mnts[i]);
	}
	strv_free(j->tmpfs_mnts);
	j->tmpfs_mnts = NULL;
	(void)unlinkat(j->dirfd, "tmpfs", AT_REMOVEDIR);
	if (j->masked_mnt) {
		if (umount2(j->masked_mnt, MNT_DETACH) < 0)
			log_warning("restore: unmount '%s': %m, ignoring", j->masked_mnt);
		(void)unlinkat(j->dirfd, "masked", AT_REMOVEDIR);
		free(j->masked_mnt);
		j->masked_mnt = NULL;
	}
	if (!j->root_mnt)
		return;
	if (umount2(j->root_mnt, MNT_DETACH) < 0)
		log_warning("restore: unmount '%s': %m, ignoring", j->root_mnt);
	(void)unlinkat(j->dirfd, "criu-root", AT_REMOVEDIR);
	free(j->root_mnt);
	j->root_mnt = NULL;
}

/*
 * CRIU puts the restored tasks in the cgroups they were dumped in, relative to the root
 * cgroup it is told for each hierarchy: that is the new container's cgroup, or the clones
 * would all go back to the checkpointed container's path (made anew, and left behind).
 * One root for all when the hierarchies agree (as brisk lays them out), else one each.
 */
static int set_cg_roots(struct restore_job *j)
{
	struct json_object *hs;
	int r;

	if ((r = cgroup_serialize(j->cg, &j->cg_json)) < 0 ||
	    (r = json_get_array(j->cg_json, "hierarchies", &hs)) < 0)
		return r;
	size_t n = json_object_array_length(hs);
	j->cg_roots = calloc(n + 1, sizeof(*j->cg_roots));
	if (!j->cg_roots)
		return -ENOMEM;
	bool same = true;
	for (size_t i = 0; i < n; i++) {
		struct json_object *h = json_object_array_get_idx(hs, i);
		const char *ctrl, *mount, *path;
		size_t len;

		if (json_get_string(h, "controllers", &ctrl) < 0 ||
		    json_get_string(h, "mount", &mount) < 0 ||
		    json_get_string(h, "path", &path) < 0)
			return -EINVAL;
		len = strlen(mount);
		if (strncmp(path, mount, len) != 0 || (path[len] != '/' && path[len] != '\0'))
			return -EINVAL;
		const char *rel = path[len] ? path + len : "/";
		j->cg_roots[j->n_cg_roots++] = (struct snapshot_pair){.key = ctrl, .value = rel};
		same = same && strcmp(rel, j->cg_roots[0].value) == 0;
	}
	if (same && j->n_cg_roots > 0) {
		j->cg_roots[0].key = "";
		j->n_cg_roots = 1;
	}
	j->a->so.cg_roots = j->cg_roots;
	j->a->so.n_cg_roots = j->n_cg_roots;
	return 0;
}

/*
 * CRIU has restored the tree, credentials and seccomp included, and holds it stopped: before
 * any of it runs again, each task must hold no more than the bundle gives (the images are the
 * snapshot writer's word, not the bundle's). A failure kills the tree (snapshot/ does it).
 */
static int check_tree(pid_t root, void *userdata)
{
	struct restore_job *j = userdata;
	struct timespec t0, t1;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = restore_grant_check(&j->grant, root);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_debug("checked the restored tree against the bundle in %.3f ms", ms_between(&t0, &t1));
	j->tree_refused = r < 0;
	return r;
}

/* CRIU made a new pty for the restored terminal: its master goes to the console socket. */
static int send_pts_master(int master, void *userdata)
{
	struct restore_job *j = userdata;
	char name[32];
	int n, r;

	if (ioctl(master, TIOCGPTN, &n) < 0)
		return log_error_errno(-errno, "the restored terminal: %m");
	snprintf(name, sizeof(name), "/dev/pts/%d", n);
	if ((r = send_fd_with_name(j->console_fd, master, name)) < 0)
		return log_error_errno(r, "send the pty to the console socket: %m");
	return 0;
}

static int run_criu(struct restore_job *j)
{
	struct snapshot_opts *so = &j->a->so;
	size_t n_inherit = 0;
	int r;

	/* fds 0-2 of the snapshot's init become ours, as runc does for pipes */
	for (int fd = 0; fd < 3; fd++) {
		const char *key = j->meta->stdio[fd];
		bool dup = false;
		if (!key || fcntl(fd, F_GETFD) < 0)
			continue;
		for (size_t i = 0; i < n_inherit; i++)
			dup = dup || strcmp(j->inherit[i].key, key) == 0;
		if (!dup)
			j->inherit[n_inherit++] =
			    (struct snapshot_inherit_fd){.fd = fd, .key = key};
	}
	/* a network namespace left out of the dump: the one the bundle joins, or a new one as
	 * it was */
	if (j->meta->netns && strcmp(j->meta->netns, SNAPSHOT_NETNS_JOINED) == 0) {
		const struct spec_namespace *ns = spec_find_namespace(j->spec, CLONE_NEWNET);
		if (!ns || !ns->path)
			return log_error_errno(-EINVAL,
					       "the checkpoint joined a network namespace: the "
					       "bundle's linux.namespaces names none to join");
		if ((j->netns_fd = open(ns->path, O_RDONLY | O_CLOEXEC)) < 0)
			return log_error_errno(-errno, "network namespace '%s': %m", ns->path);
		j->inherit[n_inherit++] =
		    (struct snapshot_inherit_fd){.fd = j->netns_fd, .key = SNAPSHOT_NETNS_KEY};
		so->no_network_lock = !so->tcp_established;
	} else if (j->meta->netns) {
		r = netns_new_loopback(strcmp(j->meta->netns, SNAPSHOT_NETNS_LO_UP) == 0,
				       &j->netns_fd);
		if (r < 0)
			return log_error_errno(r, "create a network namespace: %m");
		j->inherit[n_inherit++] =
		    (struct snapshot_inherit_fd){.fd = j->netns_fd, .key = SNAPSHOT_NETNS_KEY};
		so->no_network_lock = true;
	}
	if (j->a->console_socket) {
		if ((r = terminal_connect_console(j->a->console_socket, &j->console_fd)) < 0)
			return log_error_errno(r, "connect to console socket '%s': %m",
					       j->a->console_socket);
		so->pts_master = send_pts_master;
	}
	if ((r = set_cg_roots(j)) < 0)
		return log_error_errno(r, "the container's cgroup paths: %m");
	if ((r = ext_mounts_add_cgroup_binds(j->spec, j->cg, &j->em)) < 0)
		return r;
	so->config_file = spec_criu_config(j->spec);
	so->images_fd = j->images_fd;
	so->images_dir = j->image_dir;
	so->work_fd = j->work_fd;
	so->work_dir = j->work_dir;
	so->root = j->root_mnt;
	so->ext_mounts = j->em.pairs;
	so->n_ext_mounts = j->em.n;
	so->inherit_fds = j->inherit;
	so->n_inherit_fds = n_inherit;
	so->auto_dedup = false;
	so->prepare_worker = move_worker;
	so->check_tree = check_tree;
	so->userdata = j;
	if (so->lazy_pages) {
		r = snapshot_lazy_start(so, &j->lazy_pid);
		if (r == -EOPNOTSUPP)
			return log_error_errno(r, "--lazy-pages: CRIU or the kernel has no "
						  "userfaultfd support for it");
		if (r < 0)
			return log_error_errno(r, "start CRIU's lazy-pages daemon: %m (log: %s/%s)",
					       j->work_dir, "lazy-pages.log");
	}
	r = snapshot_restore(so, &j->pid);
	if (r == -ENOENT)
		return log_error_errno(r,
				       "criu not found (brisk needs criu >= %s on PATH or --criu)",
				       SNAPSHOT_CRIU_MIN_VERSION_STRING);
	if (r < 0 && (j->worker_refused || j->tree_refused))
		return r;
	/* a CRIU that cannot restore at all: say which one brisk needs (asked only now, as
	 * the question costs a CRIU run) */
	int version = 0;
	if (r < 0 && (snapshot_criu_version(so->criu_path, &version) < 0 ||
		      version < SNAPSHOT_CRIU_MIN_VERSION))
		return log_error_errno(r, "criu restore failed: '%s' is not criu >= %s",
				       so->criu_path ? so->criu_path : "criu",
				       SNAPSHOT_CRIU_MIN_VERSION_STRING);
	if (r < 0) {
		_cleanup_free_ char *err = snapshot_criu_error(j->work_fd, "restore.log");
		return log_error_errno(r, "criu restore from '%s' failed: %s (log: %s/restore.log)",
				       j->a->image_path, err ? err : "no error in its log",
				       j->work_dir);
	}
	return 0;
}

/* A checkpoint of CUDA processes: brisk, not CRIU's plugin, brings them back on the GPU. */
static int restore_gpu(struct restore_job *j, bool criu_done)
{
	if (!j->meta->n_cuda_pids)
		return 0;
	if (!criu_done) {
		container_gpu_criu_env(j->work_dir);
		return 0;
	}
	unsetenv("CRIU_LIBS_DIR");
	return container_gpu_restore(j->pid, j->meta->cuda_pids, j->meta->n_cuda_pids);
}

static int finish(struct restore_job *j)
{
	unsigned long long t;
	int r;

	if ((r = proc_start_time(j->pid, &t, NULL)) < 0)
		return log_error_errno(r, "restored init %d is gone", j->pid);
	j->st.pid = j->pid;
	j->st.start_time = t;
	json_putp(&j->st.cgroup);
	if ((r = cgroup_serialize(j->cg, &j->st.cgroup)) < 0)
		return log_error_errno(r, "serialise cgroup: %m");
	if (!j->st.extra && !(j->st.extra = json_object_new_object()))
		return -ENOMEM;
	json_object_object_add(j->st.extra, "restoredFrom",
			       json_object_new_string(j->a->image_path));
	json_object_object_add(j->st.extra, "checkpointOf", json_object_new_string(j->meta->id));
	/* what the snapshot was pulled as (brisk-image pull-snapshot), for the orchestrator */
	_cleanup_free_ char *digest = NULL;
	if (snapshot_origin_digest(j->images_fd, &digest) == 0)
		json_object_object_add(j->st.extra, "snapshotDigest",
				       json_object_new_string(digest));
	return state_commit(j->dirfd, &j->st,
			    j->spec->hooks[HOOK_POSTSTOP].n ? j->spec->json : NULL, j->a->pid_file);
}

static void job_undo(struct restore_job *j)
{
	(void)snapshot_prefetch_stop(j->pf, true);
	j->pf = NULL;
	if (j->ra) {
		(void)snapshot_readahead_stop(j->ra, true);
		j->ra = NULL;
	}
	if (j->pid > 0) {
		kill(j->pid, SIGKILL);
		waitpid(j->pid, NULL, 0);
	}
	if (j->lazy_pid > 0) {
		kill(j->lazy_pid, SIGKILL);
		waitpid(j->lazy_pid, NULL, 0);
	}
	umount_root(j);
	(void)lazy_rootfs_release(j->st.extra);
	if (j->cg && j->cg_entered) {
		(void)cgroup_kill_all(j->cg, SIGKILL);
		(void)cgroup_destroy(j->cg);
	}
	if (j->dirfd >= 0)
		(void)rm_rf_at(j->rt->rootfd, j->a->id);
}

static void job_done(struct restore_job *j)
{
	/* the pulled images served CRIU, which is done with them */
	restore_pull_done(&j->pull);
	if (j->pf) {
		uint64_t bytes = snapshot_prefetch_stop(j->pf, true);
		log_debug("read ahead %" PRIu64 " bytes of %zu mapped files", bytes,
			  j->meta->n_mapped);
		j->pf = NULL;
	}
	if (j->ra) {
		uint64_t bytes = snapshot_readahead_stop(j->ra, false);
		log_debug("read ahead %" PRIu64 " bytes of memory images", bytes);
		j->ra = NULL;
	}
	umount_root(j);
	safe_close(j->images_fd);
	safe_close(j->work_fd);
	safe_close(j->dirfd);
	safe_close(j->netns_fd);
	safe_close(j->console_fd);
	free(j->cg_roots);
	json_putp(&j->cg_json);
	free(j->work_dir);
	ext_mounts_done(&j->em);
	restore_grant_done(&j->grant);
	snapshot_meta_free(j->meta);
	spec_free(j->spec);
	cgroup_free(j->cg);
	state_done(&j->st);
}

static int log_lazy_record_error(int r, const char *criu, const char *image_path)
{
	if (r == -EACCES)
		return log_error_errno(
		    r, "--lazy-pages-record: the image path '%s' is not writable", image_path);
	if (r == -ENOENT)
		return log_error_errno(r, "--lazy-pages-record: cannot read the criu binary '%s'",
				       criu ? criu : "criu");
	if (r == -EOPNOTSUPP)
		return log_error_errno(r,
				       "--lazy-pages-record: '%s' is a CRIU without the lazy-pages "
				       "record (tools/criu/lazy-pages-order.patch; tools/setup "
				       "builds it)",
				       criu ? criu : "criu");
	return log_error_errno(r, "--lazy-pages-record: %m");
}

int container_restore(struct runtime_ctx *rt, struct restore_args *a, pid_t *ret_pid)
{
	struct restore_job j = {.rt = rt,
				.a = a,
				.images_fd = -EBADF,
				.work_fd = -EBADF,
				.dirfd = -EBADF,
				.netns_fd = -EBADF,
				.console_fd = -EBADF,
				.image_dir = a->image_path,
				.pull = {.pid = -1}};
	int r;

	bool pull = restore_pull_wanted(a->image_path);
	if (!pull && a->so.lazy_record &&
	    (r = snapshot_lazy_record_check(rt->criu, a->image_path)) < 0)
		return log_lazy_record_error(r, rt->criu, a->image_path);
	if (state_check_id(a->id) < 0)
		return log_error_errno(-EINVAL, "invalid container id '%s'", a->id);
	/* a pull overlaps with making the state and mounting the rootfs, which only the bundle
	 * decides; nothing of the snapshot is used before check_snapshot() */
	if ((r = pull ? start_pull(&j) : open_images(&j)) < 0 ||
	    (r = spec_load(a->bundle, &j.spec)) < 0 || (!pull && (r = check_snapshot(&j)) < 0) ||
	    (r = prepare_state(&j)) < 0 ||
	    (pull && ((r = finish_pull(&j)) < 0 || (r = check_snapshot(&j)) < 0)) ||
	    (r = start_prefetch(&j)) < 0 || (r = prepare_root(&j)) < 0 ||
	    (r = restore_gpu(&j, false)) < 0 || (r = run_criu(&j)) < 0 ||
	    (r = restore_gpu(&j, true)) < 0 || (r = finish(&j)) < 0) {
		/* a container that was already there is not ours to remove */
		if (r == -EEXIST)
			j.dirfd = safe_close(j.dirfd);
		job_undo(&j);
		job_done(&j);
		return r;
	}
	*ret_pid = j.pid;
	job_done(&j);
	return 0;
}
