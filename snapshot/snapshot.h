/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Memory snapshots of a process tree with CRIU (libcriu), and the metadata brisk keeps next
 * to the CRIU images (brisk-snapshot.json).
 *
 * Every call runs its own `criu swrk` worker (started here, with no default configuration
 * file), so concurrent dumps and restores share no state. Functions return 0 or a negative
 * errno and log at debug level at most; what CRIU said last is in the log file under the
 * work directory, and snapshot_criu_error() extracts its last error line for the caller.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>

/* The oldest CRIU brisk works with: 4.1.0 (criu_get_version's format). */
#define SNAPSHOT_CRIU_MIN_VERSION 40100
#define SNAPSHOT_CRIU_MIN_VERSION_STRING "4.1"
#define SNAPSHOT_META_FILE "brisk-snapshot.json"
/* Its companion, written by `brisk-image pull-snapshot`: {"ref", "digest", "verifiedWith"}. */
#define SNAPSHOT_ORIGIN_FILE "brisk-snapshot.origin.json"

enum snapshot_cg_mode {
	SNAPSHOT_CG_DEFAULT = 0, /* CRIU's own default (soft) */
	SNAPSHOT_CG_SOFT,
	SNAPSHOT_CG_FULL,
	SNAPSHOT_CG_STRICT,
	SNAPSHOT_CG_IGNORE,
};

/* "soft", "full", "strict", "ignore"; -EINVAL otherwise. */
int snapshot_cg_mode_from_string(const char *s, enum snapshot_cg_mode *ret);

/* Namespace names of --empty-ns ("network", "net", "ipc", "uts", "mount"...) to CLONE_NEW*. */
int snapshot_ns_from_string(const char *s, int *ret);

struct snapshot_pair {
	const char *key;
	const char *value;
};

struct snapshot_inherit_fd {
	int fd;		 /* in the caller */
	const char *key; /* "pipe:[123]", "file[12:34]", "extRootNetNS" */
};

struct snapshot_opts {
	const char *criu_path;	/* NULL: "criu" from PATH */
	int images_fd;		/* directory of the images (dump: written; restore: read) */
	const char *images_dir; /* its path, for the lazy-pages daemon and messages */
	int work_fd;		/* logs, the lazy-pages socket; may equal images_fd */
	const char *work_dir;
	const char *log_file; /* relative to the work directory */
	int log_level;	      /* 0..4; 0: 2 (warnings) */
	const char *root;     /* the container's root (a mount point on restore) */
	pid_t pid;	      /* dump: the root task */

	bool leave_running;
	bool tcp_established;
	bool ext_unix_sk;
	bool shell_job;
	bool file_locks;
	bool auto_dedup;  /* dump only: never on a restore, it punches holes in pages-*.img */
	bool lazy_pages;  /* restore: pages come from a lazy-pages daemon (snapshot_lazy_start) */
	bool lazy_record; /* ...which records the pages the tree touches first */
	bool orphan_pts_master;
	bool no_network_lock; /* no netns of the tree is dumped: nothing to lock and unlock */
	int empty_ns;	      /* CLONE_NEW* of namespaces not to dump (dump) */
	enum snapshot_cg_mode cg_mode;
	const char *freeze_cgroup; /* dump: freeze through this cgroup directory */
	const char *page_server;   /* dump: "HOST:PORT" */
	const char *parent_path;   /* dump: previous images, relative to the images directory */
	const char *config_file;   /* a CRIU configuration file (--config); NULL: none */

	const struct snapshot_pair *ext_mounts; /* key (dump) -> value (restore) */
	size_t n_ext_mounts;
	const char *const *externals; /* dump: "file[mnt:ino]", "net[ino]:KEY" */
	size_t n_externals;
	const struct snapshot_inherit_fd *inherit_fds; /* restore */
	size_t n_inherit_fds;
	const struct snapshot_pair *cg_roots; /* restore: controller ("" for all) -> path */
	size_t n_cg_roots;

	/*
	 * Restore: called with the pid of the CRIU worker before the request is sent; the
	 * restored tree is born where the worker is (its cgroups), so this is the place to
	 * move it into the new container's cgroup. Its error is returned as it is (the
	 * callback logs it).
	 */
	int (*prepare_worker)(pid_t worker, void *userdata);
	/*
	 * Restore of a tree whose terminal's master was outside (dumped with
	 * orphan_pts_master): CRIU makes a new pty and this gets its master, to hand on (a
	 * console socket). It returns 0 or -errno; it must not keep MASTER (dup it).
	 */
	int (*pts_master)(int master, void *userdata);
	/*
	 * Restore: called once CRIU has restored the tree of ROOT, every task's credentials,
	 * no_new_privs and seccomp filters included, with each task stopped before it ran
	 * anything (CRIU's --leave-stopped). 0 lets the tree go on (SIGCONT); a negative return
	 * kills it, and fails the restore with that error (the callback logs it).
	 */
	int (*check_tree)(pid_t root, void *userdata);
	void *userdata;
};

/* The version of the CRIU binary (major * 10000 + minor * 100 + sublevel), through RPC. */
int snapshot_criu_version(const char *criu_path, int *ret_version);

/* Dump the tree of O->pid into O->images_fd. --pre-dump is not offered: see snapshot_pre_dump. */
int snapshot_dump(const struct snapshot_opts *o);
/*
 * Iterative pre-dump. CRIU needs the kernel's soft-dirty page tracking for it; kernels
 * without it make CRIU hit an internal BUG. Returns -EOPNOTSUPP (without calling CRIU)
 * when /proc/self/pagemap has no soft-dirty bit, else runs it.
 */
int snapshot_pre_dump(const struct snapshot_opts *o);
/* Restore the images as a child of the caller; *RET_PID is the root task. */
int snapshot_restore(const struct snapshot_opts *o, pid_t *ret_pid);

/*
 * Start CRIU's lazy-pages daemon serving O->images_dir on a socket in O->work_dir, for a
 * restore with O->lazy_pages. It runs on (detached) until every page has been copied.
 * With O->lazy_record, it serves page faults only until the tree pauses, and records the pages
 * it faulted on, in their order, into SNAPSHOT_LAZY_ORDER_FILE beside the images (once every
 * page is in); a lazy restore of images with such a record transfers those pages first
 * (tools/criu/lazy-pages-order.patch).
 */
#define SNAPSHOT_LAZY_ORDER_FILE "brisk-lazy-order"
int snapshot_lazy_start(const struct snapshot_opts *o, pid_t *ret_pid);
/* For a lazy_record restore, before anything is made: IMAGES_DIR is writable (else -EACCES)
 * and the CRIU to run (CRIU_PATH, NULL: criu in PATH) can be read (-ENOENT) and has the patch
 * (-EOPNOTSUPP: it would ignore the request). */
int snapshot_lazy_record_check(const char *criu_path, const char *images_dir);

/* The last "Error" line of a CRIU log (WORK_FD/LOG_FILE), or NULL. */
char *snapshot_criu_error(int work_fd, const char *log_file);

/*
 * A tmpfs mount that holds nothing but directories, symlinks and device nodes (the
 * container's /dev), listed at dump: a restore makes it anew from the list instead of CRIU
 * tarring and untarring it. Entries come parents first; paths are relative to its root.
 */
struct snapshot_tree_entry {
	char *path;
	mode_t mode; /* type and permissions: S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK or S_IFIFO */
	uid_t uid;
	gid_t gid;
	unsigned major, minor; /* devices */
	char *target;	       /* symlinks */
};

struct snapshot_tree {
	char *destination; /* the mount's, in the container */
	mode_t mode;	   /* of its root */
	uid_t uid;
	gid_t gid;
	struct snapshot_tree_entry *entries;
	size_t n_entries;
};

#define SNAPSHOT_TREE_MAX_ENTRIES 4096

void snapshot_tree_done(struct snapshot_tree *t);
/* A tree as brisk-snapshot.json holds it, and back (strict, as the whole file is). */
struct json_object *snapshot_tree_to_json(const struct snapshot_tree *t);
int snapshot_tree_from_json(struct json_object *v, struct snapshot_tree *ret);

/* A file the tree had mapped, as the container sees it, and the byte ranges of it whose
 * pages were present at the dump (snapshot/mapped-files.c). */
struct snapshot_file_extent {
	uint64_t off, len;
};
struct snapshot_mapped_file {
	char *path;
	struct snapshot_file_extent *ext;
	size_t n_ext;
};
void snapshot_mapped_files_free(struct snapshot_mapped_file *f, size_t n);
/* Every process of the tree of ROOT: the files mapped and their present pages, bounded. */
int snapshot_mapped_files_collect(pid_t root, struct snapshot_mapped_file **ret, size_t *ret_n);
struct json_object *snapshot_mapped_files_to_json(const struct snapshot_mapped_file *f, size_t n);
/* Strict, bounded: -EINVAL, -E2BIG, -ENOMEM. */
int snapshot_mapped_files_from_json(struct json_object *v, struct snapshot_mapped_file **ret,
				    size_t *ret_n);
/*
 * Read the heads and recorded pages of F[0..N) through the rootfs ROOT (resolved in it,
 * regular files only) in threads, so that a restore over a lazy image finds them fetched.
 * F must outlive the prefetch. *RET is NULL when there is nothing to read. The threads
 * allocate nothing, so the caller may fork.
 */
struct snapshot_prefetch;
int snapshot_prefetch_start(const char *root, const struct snapshot_mapped_file *f, size_t n,
			    struct snapshot_prefetch **ret);
/* Join the threads (CANCEL: they stop before their next read) and free P: the bytes read. */
uint64_t snapshot_prefetch_stop(struct snapshot_prefetch *p, bool cancel);

/* What brisk keeps next to the images: enough to restore the tree under a new id. */
struct snapshot_meta {
	int version;		     /* SNAPSHOT_META_VERSION */
	char *id;		     /* the container that was dumped */
	char *created;		     /* RFC 3339 */
	char *rootfs;		     /* its rootfs at dump time */
	int criu_version;	     /* of the CRIU that dumped */
	bool leave_running;	     /* the container ran on after the dump */
	char *stdio[3];		     /* fd 0..2 of the init: "pipe:[N]", "file[M:I]", or NULL */
	char **ext_mounts;	     /* destinations of bind mounts dumped as external */
	char *netns;		     /* SNAPSHOT_NETNS_*, or NULL (dumped by CRIU) */
	struct json_object *config;  /* the container's config.json */
	struct snapshot_tree *trees; /* tmpfs mounts dumped as external, made anew on restore */
	size_t n_trees;

	/* the CUDA processes (gpu/), as the container's pid namespace numbers them */
	int *cuda_pids;
	size_t n_cuda_pids;

	/* the files the tree mapped, read ahead by a restore over a lazy image */
	struct snapshot_mapped_file *mapped;
	size_t n_mapped;
};

#define SNAPSHOT_META_VERSION 1
/*
 * The network namespace had only a loopback, up or down, and was left out of the dump
 * (external, under SNAPSHOT_NETNS_KEY): a restore gives CRIU a new one.
 */
#define SNAPSHOT_NETNS_KEY "brisk-netns"
#define SNAPSHOT_NETNS_LO_UP "loopback-up"
#define SNAPSHOT_NETNS_LO_DOWN "loopback-down"
/* The container joined a network namespace by path (linux.namespaces), which is not its own:
 * left out of the dump as well, and a restore joins the one its bundle names, as runc does. */
#define SNAPSHOT_NETNS_JOINED "joined"
/* The external mount key of masked directories (empty read-only tmpfs mounts). */
#define SNAPSHOT_MASKED_KEY "brisk-masked"
/* The external mount key of an empty tmpfs mount of the spec: this prefix, its destination. */
#define SNAPSHOT_TMPFS_KEY_PREFIX "brisk-tmpfs:"

/*
 * The image directory IMAGES_FD holds nothing but regular files and directories, none setuid
 * or setgid: CRIU opens its images by name and follows symlinks, so that a "pages-1.img" link
 * to a host file would feed that file into the restored memory. The one symlink allowed is
 * CRIU's "parent" of an incremental dump, to a directory. 0; -EPERM and *RET_NAME (to free)
 * the first entry that is not; -errno.
 */
int snapshot_images_check(int images_fd, char **ret_name);

/* Strict: unknown keys, wrong types, a missing required key or trailing bytes are -EINVAL. */
int snapshot_meta_parse(const char *buf, size_t len, struct snapshot_meta **ret);
/* The digest ("sha256:HEX") SNAPSHOT_ORIGIN_FILE of IMAGES_FD records: -ENOENT without one. */
int snapshot_origin_digest(int images_fd, char **ret);

/* brisk-snapshot.json of IMAGES_FD: a regular file there, not a symlink. */
int snapshot_meta_read(int images_fd, struct snapshot_meta **ret);
int snapshot_meta_write(int images_fd, const struct snapshot_meta *m);
struct snapshot_meta *snapshot_meta_free(struct snapshot_meta *m);
static inline void snapshot_meta_freep(struct snapshot_meta **m)
{
	*m = snapshot_meta_free(*m);
}

/*
 * Read the memory images of IMAGES_FD (pages-*.img) into the page cache in a thread of the
 * caller's, in the order CRIU reads them, while a restore gets ready: a restore from images
 * not in the page cache then waits less for the disk. *RET is NULL when there is nothing to
 * read. The thread keeps its own fds; it allocates nothing, so the caller may fork.
 */
struct snapshot_readahead;
int snapshot_readahead_start(int images_fd, struct snapshot_readahead **ret);
/*
 * Join the thread and free RA: the bytes it asked for. CANCEL stops it between two of its
 * requests (a restore that failed); else it reads to the end (after a restore, what is left
 * is in the page cache already, and costs little).
 */
uint64_t snapshot_readahead_stop(struct snapshot_readahead *ra, bool cancel);

/*
 * What a restored tree may hold: what its bundle gives the container's process. CRIU gives each
 * task what the images say, and the images are whoever wrote the snapshot's; a restore checks
 * the kernel's view of every task against this (snapshot_tree_check) before any of it runs
 * again. A task may hold less, never more.
 */
enum snapshot_cap_set {
	SNAPSHOT_CAP_BOUNDING,
	SNAPSHOT_CAP_EFFECTIVE,
	SNAPSHOT_CAP_INHERITABLE,
	SNAPSHOT_CAP_PERMITTED,
	SNAPSHOT_CAP_AMBIENT,
	_SNAPSHOT_CAP_MAX,
};

enum snapshot_ns_want {
	SNAPSHOT_NS_HOST, /* the bundle has none of this type: the restorer's own */
	SNAPSHOT_NS_NEW,  /* a new one: anything but the restorer's */
	SNAPSHOT_NS_JOIN, /* the one at a path: DEV and INO */
};

struct snapshot_ns_grant {
	int type; /* CLONE_NEW* */
	enum snapshot_ns_want want;
	dev_t dev;
	ino_t ino;
};

struct snapshot_id_map {
	uint32_t inside, outside, count;
};

#define SNAPSHOT_NS_TYPES 8

/*
 * A mount of the bundle (or one the runtime makes from it: a masked or read-only path, the
 * rootfs), in the container. Each mount of the restored tree must be one of these (or below
 * one whose BELOW is set), with at least its FLAGS.
 */
struct snapshot_mount_grant {
	const char *destination; /* absolute, in the container */
	const char *what;	 /* the bundle's field, for messages: "mounts", "maskedPaths" */
	const char *fstype;	 /* the file system type it must be; NULL: any (binds) */
	unsigned long flags;	 /* of MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC */
	bool required;		 /* a bind the bundle makes: it must be there */
	bool if_exists;		 /* masked or read-only path: a mount there when the path exists */
	bool mask;		 /* masked: an empty tmpfs or the null device */
	bool below; /* mounts below it are the bundle's too (a recursive bind, cgroups), */
	unsigned long below_flags; /* ...with these flags */
	bool has_source;	   /* a bind: its root is the file DEV:INO */
	dev_t dev;
	ino_t ino;
};

struct sock_filter; /* <linux/filter.h> */

/* A hard limit of the bundle's process.rlimits. */
struct snapshot_rlimit {
	int resource; /* RLIMIT_* */
	uint64_t hard;
	const char *name; /* "RLIMIT_NOFILE", for messages */
};

struct snapshot_grant {
	uid_t uid; /* every id of every task, as the restorer's user namespace sees them */
	gid_t gid;
	const gid_t *groups; /* supplementary groups a task may hold besides GID */
	size_t n_groups;
	bool any_uid; /* CAP_SETUID granted: a task may have taken any uid itself */
	bool any_gid; /* CAP_SETGID: any gid and groups */
	bool any_ns;  /* CAP_SYS_ADMIN: tasks may have made namespaces of their own */
	uint64_t caps[_SNAPSHOT_CAP_MAX];
	bool no_new_privs;
	unsigned seccomp_filters; /* filters the bundle installs; a task must hold as many */
	/* the bundle's filter, as the runtime installs it: a task's oldest filter must be it (it
	 * may have stacked more of its own above it) */
	const struct sock_filter *seccomp_bpf;
	size_t seccomp_len;
	const struct snapshot_rlimit *rlimits; /* no task's hard limit above these */
	size_t n_rlimits;
	const char *apparmor_profile; /* every task confined by it (or a hat of it) */
	const char *selinux_label;    /* every task's context */
	struct snapshot_ns_grant ns[SNAPSHOT_NS_TYPES];
	size_t n_ns;
	const struct snapshot_id_map *uid_map, *gid_map; /* a new user namespace's */
	size_t n_uid_map, n_gid_map;
	const struct snapshot_mount_grant *mounts; /* checked when N_MOUNTS > 0 */
	size_t n_mounts;
	bool any_mount; /* CAP_SYS_ADMIN: the tree may have mounted more itself */
	uint64_t reserved[4];
};

/* What a task of the tree holds beyond the grant, for the caller's message. */
struct snapshot_violation {
	pid_t pid, tid;		   /* as the restorer sees them */
	char comm[16];		   /* the task's name */
	const char *field;	   /* "uid", "gid", "groups", "capabilities", "noNewPrivileges",
				      "seccomp", "rlimits", "lsm", "namespaces", "uidMappings",
				      "gidMappings", "mounts" */
	enum snapshot_cap_set set; /* capabilities: the set */
	uint64_t extra_caps;	   /* ...and the capabilities beyond the grant */
	char detail[256];	   /* the difference in words */
};

/*
 * Check every task and thread of the tree of ROOT against G (their uids and gids, groups,
 * capability sets, no_new_privs, seccomp mode, filter count and the bundle's filter itself,
 * rlimits, AppArmor profile or SELinux label, namespaces, a new user namespace's mappings, and
 * the root task's mounts: flags, bind sources, masks): 0; -EPERM and *RET what the first
 * offending task holds; -errno.
 * The tree must be stopped: a filter is read through ptrace (PTRACE_SECCOMP_GET_FILTER, which
 * needs CAP_SYS_ADMIN and a caller under no seccomp filter of its own: -EACCES otherwise).
 */
int snapshot_tree_check(pid_t root, const struct snapshot_grant *g, struct snapshot_violation *ret);
/* SIGCONT every process of the tree of ROOT. */
int snapshot_tree_continue(pid_t root);
/* SIGKILL every process of the tree of ROOT (the tree is stopped, or it could fork on). */
int snapshot_tree_kill(pid_t root);
