/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What checkpoint and restore share, by concern: external mounts and the tmpfs mounts left out
 * of a dump (snapshot-mounts.c), small tmpfs trees such as /dev (snapshot-trees.c), CUDA
 * processes (snapshot-gpu.c), a loopback-only network namespace (snapshot-netns.c), and what
 * a restoring bundle grants (restore-grant.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "gpu/gpu.h"
#include "snapshot/snapshot.h"
#include "spec.h"

struct ext_mounts {
	struct snapshot_pair *pairs;
	size_t n;
	char **keys;  /* NULL-terminated, the destinations (for brisk-snapshot.json) */
	char **owned; /* NULL-terminated, strings of pairs that M owns */
	size_t n_owned;
};

/*
 * Bind mounts come from outside the container: CRIU dumps them as external, named by their
 * destination in the spec, and a restore maps each name to the source that the restoring
 * bundle names. PID (dump): the container's init, in whose root a destination that goes
 * through a symlink is resolved to where the bind really is -> the name; 0 (restore): the
 * name -> the bundle's source.
 */
int ext_mounts_from_spec(const struct spec *s, pid_t pid, struct ext_mounts *ret);
void ext_mounts_done(struct ext_mounts *m);

struct cgroup;
struct gpu;

/* The CUDA processes of a container (gpu/), found before a dump. */
struct container_gpu {
	struct gpu *gpu; /* NULL when there is none */
	pid_t *pids;	 /* host pids */
	int *ns_pids;	 /* the same, numbered in the container's pid namespace */
	size_t n;
};

/*
 * Find the CUDA processes among the processes of CG (or INIT alone when CG is NULL): those
 * whose checkpoint state the driver answers. None when brisk has no GPU support or the host
 * no CUDA driver, unless a process maps an NVIDIA device or libcuda: that is an error
 * (logged), since its device memory would be lost.
 */
int container_gpu_find(struct cgroup *cg, pid_t init, struct container_gpu *ret);
/*
 * Dump with DUMP, the CUDA processes checkpointed around it (gpu_checkpoint_around), CRIU's
 * own plugins kept out of it (they live in PLUGIN_FREE_DIR: a directory without any *.so).
 * Logs GPU failures; *RET_FAILED is GPU_STEP_DUMP when DUMP's error is the caller's to
 * report.
 */
int container_gpu_dump(struct container_gpu *cg, unsigned timeout_ms, bool leave_running,
		       const char *plugin_free_dir, int (*dump)(void *userdata), void *userdata,
		       enum gpu_step *ret_failed);
void container_gpu_done(struct container_gpu *g);
/* Before CRIU restores a checkpoint that had CUDA processes: keep CRIU's plugins out. */
void container_gpu_criu_env(const char *plugin_free_dir);
/*
 * After CRIU restored the tree of INIT: bring the CUDA processes NS_PIDS (numbered in the
 * container's pid namespace) back onto the GPU.
 */
int container_gpu_restore(pid_t init, const int *ns_pids, size_t n);
/* PATH is the root of a tmpfs mount, read-only or not as RO says; its mode in *RET_ST. */
bool is_tmpfs_mount(const char *path, bool ro, struct stat *ret_st);
/* Add KEY -> VALUE to the pairs (not to the keys kept in brisk-snapshot.json). */
int ext_mounts_add(struct ext_mounts *m, const char *key, const char *value);

/*
 * Masked directories (linux.maskedPaths) are empty read-only tmpfs mounts, which CRIU would
 * dump with tar and restore with tar, a run of each per mount. Dump: those of PID that are
 * still such mounts are added to M as external, under SNAPSHOT_MASKED_KEY. A restore maps
 * the key to an empty read-only tmpfs of its own, which CRIU binds in their place.
 */
int ext_mounts_add_masked(const struct spec *s, pid_t pid, struct ext_mounts *m);

/*
 * The same for the tmpfs mounts of the spec (/dev/shm, /tmp, /run) that are still empty
 * and as the spec made them: a tar run each saved on dump and on restore. Dump: they are
 * added to M as external, under SNAPSHOT_TMPFS_KEY_PREFIX and their destination. A restore
 * maps each key to a new tmpfs of the spec's options (ext_mounts_tmpfs_key).
 */
int ext_mounts_add_empty_tmpfs(const struct spec *s, pid_t pid, struct ext_mounts *m);
/*
 * The spec's tmpfs mounts not external yet that hold nothing but directories, symlinks and
 * device nodes (the container's /dev, as rootfs.c makes it): listed into *RET_TREES (the
 * caller frees them) and added to EM as the empty ones are. A restore mounts a new tmpfs
 * for each (ext_mounts_tmpfs_key) and makes the listed tree in it (tmpfs_tree_make).
 * A mount that cannot be listed is left to CRIU.
 */
int ext_mounts_add_tmpfs_trees(const struct spec *s, pid_t pid, struct ext_mounts *em,
			       struct snapshot_tree **ret_trees, size_t *ret_n);
/* Make tree T in the new tmpfs at PATH, its root's owner and mode included. Logs errors. */
int tmpfs_tree_make(const char *path, const struct snapshot_tree *t);
/* What that tmpfs holds: the directories, and the symlinks as "NAME/TARGET". */
int cgroup_tmpfs_entries(char ***ret_dirs, char ***ret_links);
/*
 * Without a cgroup namespace the container's cgroup mounts are binds of its own cgroup in each
 * hierarchy of the host (rootfs.c), which CRIU cannot dump as mounts of the container's: they
 * are external, keyed by their destination (DEST/NAME under the tmpfs of a v1 or hybrid host,
 * DEST itself on a v2 host), as runc does. CG NULL (dump): key -> key; else (restore) each key
 * -> the restored container's own cgroup in that hierarchy. Logs its errors.
 */
int ext_mounts_add_cgroup_binds(const struct spec *s, const struct cgroup *cg,
				struct ext_mounts *em);
/* The external key of M's tmpfs, owned by EM (NULL on out-of-memory). */
const char *ext_mounts_tmpfs_key(struct ext_mounts *em, const struct spec_mount *m);

/*
 * A network namespace that the runtime made (the spec names no path, and no user namespace)
 * and that holds only a loopback has nothing CRIU must save but the loopback's state, and
 * restoring it costs CRIU a dozen runs of ip and iptables: it is dumped as external instead
 * (net[INO]:SNAPSHOT_NETNS_KEY) and a restore gives CRIU a new one. Netfilter rules and net
 * sysctls set inside such a namespace are not kept.
 * A namespace the spec joins by path is not the container's: it is left out as well
 * (SNAPSHOT_NETNS_JOINED), and a restore joins the one its bundle names, as runc does.
 * *RET_STATE: SNAPSHOT_NETNS_LO_UP, _DOWN or _JOINED, and *RET_INO the namespace's inode;
 * *RET_STATE NULL (and 0) when the namespace of PID is none of those.
 */
int netns_external(const struct spec *s, pid_t pid, const char **ret_state,
		   unsigned long long *ret_ino);
/* A new network namespace with only its loopback, up when UP: its fd (close-on-exec). */
int netns_new_loopback(bool up, int *ret_fd);

/*
 * What the bundle S gives its container's process, which a restore holds the restored tree to
 * (snapshot_tree_check): the user and groups (as the host sees them, through the mappings of a
 * user namespace S makes), the capability sets, no_new_privs, a seccomp filter, the
 * namespaces, the mounts (flags, bind sources, masked and read-only paths). S must outlive it.
 * Logs its errors.
 */
struct restore_grant {
	struct snapshot_grant g;
	gid_t *groups;
	struct snapshot_id_map *maps;	     /* the uid mappings, then the gid mappings */
	struct snapshot_mount_grant *mounts; /* strings are the spec's */
	struct snapshot_rlimit *rlimits;
	struct seccomp_prog *seccomp; /* linux.seccomp compiled as the runtime installs it */
};
int restore_grant_from_spec(const struct spec *s, struct restore_grant *ret);
void restore_grant_done(struct restore_grant *g);
/* Check the tree of ROOT against G: 0, or -EPERM logged with what a task holds beyond it. */
int restore_grant_check(const struct restore_grant *g, pid_t root);
/*
 * Before CRIU runs: the user, the user namespace's mappings and the namespaces of the bundle S
 * against those of the checkpoint's config (CHECKPOINT, brisk-snapshot.json's copy): a
 * difference is refused (-EPERM), logged with both. The checkpoint's word is not trusted
 * (restore_grant_check holds the restored tree to S): this names the difference early.
 */
int restore_compare_config(const struct spec *s, struct json_object *checkpoint);
/*
 * A tree of brisk-snapshot.json (the checkpoint's word) against the bundle S, before it is
 * made: no setuid or setgid bit anywhere, and a device node only where the bundle makes one
 * (the default devices of a /dev tmpfs, linux.devices, the console of a terminal), of its
 * type and numbers, with no more permissions than the bundle gives (an owner or group other
 * than the bundle's no more than the bundle gives everyone). Logs what it refuses.
 */
int tmpfs_tree_check(const struct spec *s, const struct snapshot_tree *t);
