/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a restoring bundle grants its container's process (user, groups, capabilities,
 * no_new_privs, seccomp filter, rlimits, LSM, namespaces, mounts), held against the restored
 * tree by snapshot/'s check, and the checkpoint's own config compared with the bundle before
 * CRIU runs, to name a mismatch early.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>
#include <inttypes.h>
#include <sys/capability.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/json.h"
#include "caps.h"
#include "container-snapshot.h"
#include "process.h"
#include "seccomp-filter.h"

/* ID of the container's user namespace as the host sees it; -ERANGE where no mapping has it. */
static int map_id(const struct spec_id_map *maps, size_t n, uint32_t id, uint32_t *ret)
{
	if (n == 0) {
		*ret = id;
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		if (id >= maps[i].container_id && id - maps[i].container_id < maps[i].size) {
			*ret = maps[i].host_id + (id - maps[i].container_id);
			return 0;
		}
	return -ERANGE;
}

void restore_grant_done(struct restore_grant *g)
{
	free(g->groups);
	free(g->maps);
	free(g->mounts);
	free(g->rlimits);
	seccomp_prog_free(g->seccomp);
	*g = (struct restore_grant){0};
}

static int grant_ids(const struct spec *s, struct restore_grant *rg)
{
	struct snapshot_grant *g = &rg->g;
	const struct spec_namespace *user = spec_find_namespace(s, CLONE_NEWUSER);
	size_t nu = user && !user->path ? s->n_uid_maps : 0;
	size_t ng = user && !user->path ? s->n_gid_maps : 0;
	uint32_t id;

	if (user && user->path)
		return log_error_errno(-EOPNOTSUPP,
				       "restore into the user namespace '%s' of the bundle: its "
				       "ids cannot be checked",
				       user->path);
	if (map_id(s->uid_maps, nu, s->process.uid, &id) < 0)
		return log_error_errno(-ERANGE, "process.user.uid %u is not in linux.uidMappings",
				       (unsigned)s->process.uid);
	g->uid = id;
	if (map_id(s->gid_maps, ng, s->process.gid, &id) < 0)
		return log_error_errno(-ERANGE, "process.user.gid %u is not in linux.gidMappings",
				       (unsigned)s->process.gid);
	g->gid = id;
	rg->groups = calloc(s->process.n_additional_gids + 1, sizeof(gid_t));
	rg->maps = calloc(nu + ng + 1, sizeof(*rg->maps));
	if (!rg->groups || !rg->maps)
		return -ENOMEM;
	for (size_t i = 0; i < s->process.n_additional_gids; i++) {
		if (map_id(s->gid_maps, ng, s->process.additional_gids[i], &id) < 0)
			return log_error_errno(-ERANGE,
					       "process.user.additionalGids: %u is not in "
					       "linux.gidMappings",
					       (unsigned)s->process.additional_gids[i]);
		rg->groups[i] = id;
	}
	g->groups = rg->groups;
	g->n_groups = s->process.n_additional_gids;
	for (size_t i = 0; i < nu + ng; i++) {
		const struct spec_id_map *m = i < nu ? &s->uid_maps[i] : &s->gid_maps[i - nu];
		rg->maps[i] = (struct snapshot_id_map){m->container_id, m->host_id, m->size};
	}
	if (user && !user->path) {
		g->uid_map = rg->maps;
		g->n_uid_map = nu;
		g->gid_map = rg->maps + nu;
		g->n_gid_map = ng;
	}
	return 0;
}

#define GRANT_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)

/* mount_setattr's recursive attributes as MS_* flags */
static unsigned long attr_flags(uint64_t attr)
{
	return (attr & MOUNT_ATTR_RDONLY ? MS_RDONLY : 0) |
	       (attr & MOUNT_ATTR_NOSUID ? MS_NOSUID : 0) |
	       (attr & MOUNT_ATTR_NODEV ? MS_NODEV : 0) |
	       (attr & MOUNT_ATTR_NOEXEC ? MS_NOEXEC : 0);
}

/*
 * The mounts of S that a container has, as rootfs.c, init.c and the restore make them: the
 * spec's (a bind from its source; a recursive one, and the cgroup tmpfs of a v1 host, with
 * mounts below), the masked and read-only paths, /dev/console with a terminal, the devices
 * bound from the host in a user namespace, and the rootfs.
 */
static int grant_mounts(const struct spec *s, struct restore_grant *rg)
{
	size_t n = 0, max = s->n_mounts + s->n_devices + 2;
	struct snapshot_mount_grant *m;

	for (char **p = s->masked_paths; p && *p; p++)
		max++;
	for (char **p = s->readonly_paths; p && *p; p++)
		max++;
	if (!(m = rg->mounts = calloc(max, sizeof(*m))))
		return -ENOMEM;
	m[n++] = (struct snapshot_mount_grant){
	    .destination = "/", .what = "root", .flags = s->root_readonly ? MS_RDONLY : 0};
	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct spec_mount *sm = &s->mounts[i];
		struct snapshot_mount_grant *g = &m[n++];
		struct stat st;

		*g = (struct snapshot_mount_grant){
		    .destination = sm->destination,
		    .what = "mounts",
		    .flags = (sm->flags & GRANT_FLAGS) | attr_flags(sm->attr_set),
		    .below_flags = attr_flags(sm->attr_set),
		};
		if (sm->type && strcmp(sm->type, "cgroup") == 0) {
			g->below = true;
			g->below_flags = g->flags;
		}
		/* what the runtime mounts there (a cgroup mount is a tmpfs of cgroup v1 mounts, or
		 * cgroup2) */
		if (!(sm->kind & MOUNT_BIND) && sm->type && strcmp(sm->type, "cgroup") != 0 &&
		    strcmp(sm->type, "cgroup2") != 0 && strcmp(sm->type, "none") != 0)
			g->fstype = sm->type;
		if (!(sm->kind & MOUNT_BIND) || !sm->source)
			continue;
		g->required = true;
		g->below = sm->kind & MOUNT_RECURSIVE;
		if (stat(sm->source, &st) < 0)
			return log_error_errno(-errno, "bind mount source '%s': %m", sm->source);
		g->has_source = true;
		g->dev = st.st_dev;
		g->ino = st.st_ino;
	}
	for (char **p = s->masked_paths; p && *p; p++)
		m[n++] = (struct snapshot_mount_grant){.destination = *p,
						       .what = "linux.maskedPaths",
						       .if_exists = true,
						       .mask = true};
	for (char **p = s->readonly_paths; p && *p; p++)
		m[n++] = (struct snapshot_mount_grant){.destination = *p,
						       .what = "linux.readonlyPaths",
						       .flags = MS_RDONLY,
						       .if_exists = true};
	if (s->process.terminal)
		m[n++] = (struct snapshot_mount_grant){.destination = "/dev/console",
						       .what = "process.terminal"};
	for (size_t i = 0; spec_find_namespace(s, CLONE_NEWUSER) && i < s->n_devices; i++)
		m[n++] = (struct snapshot_mount_grant){.destination = s->devices[i].path,
						       .what = "linux.devices"};
	/* without a mount namespace of its own the container has the host's */
	if (spec_find_namespace(s, CLONE_NEWNS)) {
		rg->g.mounts = m;
		rg->g.n_mounts = n;
	}
	return 0;
}

int restore_grant_from_spec(const struct spec *s, struct restore_grant *ret)
{
	static const enum caps_set sets[_SNAPSHOT_CAP_MAX] = {
	    [SNAPSHOT_CAP_BOUNDING] = CAPS_BOUNDING,
	    [SNAPSHOT_CAP_EFFECTIVE] = CAPS_EFFECTIVE,
	    [SNAPSHOT_CAP_INHERITABLE] = CAPS_INHERITABLE,
	    [SNAPSHOT_CAP_PERMITTED] = CAPS_PERMITTED,
	    [SNAPSHOT_CAP_AMBIENT] = CAPS_AMBIENT,
	};
	_cleanup_(caps_freep) struct caps *caps = NULL;
	struct restore_grant rg = {0};
	struct snapshot_grant *g = &rg.g;
	int r;

	if ((r = caps_parse(s->process.capabilities, &caps)) < 0 || (r = grant_ids(s, &rg)) < 0 ||
	    (r = grant_mounts(s, &rg)) < 0) {
		restore_grant_done(&rg);
		return r;
	}
	for (int i = 0; i < _SNAPSHOT_CAP_MAX; i++)
		g->caps[i] = caps_get_mask(caps, sets[i]);
	/* what the process could have done itself with the capabilities it is given */
	g->any_uid = g->caps[SNAPSHOT_CAP_PERMITTED] & (UINT64_C(1) << CAP_SETUID);
	g->any_gid = g->caps[SNAPSHOT_CAP_PERMITTED] & (UINT64_C(1) << CAP_SETGID);
	g->any_ns = g->caps[SNAPSHOT_CAP_PERMITTED] & (UINT64_C(1) << CAP_SYS_ADMIN);
	g->any_mount = g->any_ns;
	g->no_new_privs = s->process.no_new_privileges;
	/* the runtime installs linux.seccomp as one filter: this one */
	g->seccomp_filters = s->seccomp ? 1 : 0;
	if (s->seccomp && (r = seccomp_prog_compile(s->seccomp, &rg.seccomp)) < 0) {
		restore_grant_done(&rg);
		return r;
	}
	g->seccomp_bpf = seccomp_prog_bpf(rg.seccomp);
	g->seccomp_len = seccomp_prog_size(rg.seccomp);
	/* an LSM the host lacks: refused, as create refuses it */
	if ((r = process_check_lsm(&s->process)) < 0) {
		restore_grant_done(&rg);
		return r;
	}
	if (s->process.apparmor_profile && *s->process.apparmor_profile)
		g->apparmor_profile = s->process.apparmor_profile;
	if (s->process.selinux_label && *s->process.selinux_label)
		g->selinux_label = s->process.selinux_label;
	/* CAP_SYS_RESOURCE: the process could have raised its hard limits itself */
	if (s->process.n_rlimits &&
	    !(g->caps[SNAPSHOT_CAP_PERMITTED] & (UINT64_C(1) << CAP_SYS_RESOURCE))) {
		if (!(rg.rlimits = calloc(s->process.n_rlimits, sizeof(*rg.rlimits)))) {
			restore_grant_done(&rg);
			return -ENOMEM;
		}
		for (size_t i = 0; i < s->process.n_rlimits; i++)
			rg.rlimits[i] = (struct snapshot_rlimit){
			    .resource = s->process.rlimits[i].resource,
			    .hard = s->process.rlimits[i].hard,
			    .name = spec_rlimit_name(s->process.rlimits[i].resource)};
		g->rlimits = rg.rlimits;
		g->n_rlimits = s->process.n_rlimits;
	}
	for (size_t i = 0; i < s->n_namespaces && g->n_ns < SNAPSHOT_NS_TYPES; i++) {
		const struct spec_namespace *ns = &s->namespaces[i];
		struct snapshot_ns_grant *ng = &g->ns[g->n_ns++];
		struct stat st;

		*ng = (struct snapshot_ns_grant){.type = ns->type, .want = SNAPSHOT_NS_NEW};
		if (!ns->path)
			continue;
		if (stat(ns->path, &st) < 0) {
			r = log_error_errno(-errno, "%s namespace '%s': %m",
					    spec_namespace_name(ns->type), ns->path);
			restore_grant_done(&rg);
			return r;
		}
		ng->want = SNAPSHOT_NS_JOIN;
		ng->dev = st.st_dev;
		ng->ino = st.st_ino;
	}
	*ret = rg;
	return 0;
}

static const char *const cap_set_keys[_SNAPSHOT_CAP_MAX] = {
    [SNAPSHOT_CAP_BOUNDING] = "bounding",	[SNAPSHOT_CAP_EFFECTIVE] = "effective",
    [SNAPSHOT_CAP_INHERITABLE] = "inheritable", [SNAPSHOT_CAP_PERMITTED] = "permitted",
    [SNAPSHOT_CAP_AMBIENT] = "ambient",
};

int restore_grant_check(const struct restore_grant *g, pid_t root)
{
	struct snapshot_violation v;
	char thread[32] = "", caps[512], detail[768];
	int r = snapshot_tree_check(root, &g->g, &v);

	if (r == -EPERM && v.tid != v.pid)
		snprintf(thread, sizeof(thread), ", thread %d", (int)v.tid);
	if (r == -EPERM && strcmp(v.field, "capabilities") == 0) {
		caps_mask_names(v.extra_caps, caps, sizeof(caps));
		snprintf(detail, sizeof(detail),
			 "%s in its %s set, beyond the bundle's process.capabilities.%s", caps,
			 cap_set_keys[v.set], cap_set_keys[v.set]);
	}
	if (r == -EPERM && strcmp(v.field, "mounts") == 0)
		return log_error_errno(r,
				       "refused: the checkpoint's mounts are not the bundle's: %s; "
				       "the restored tree is killed",
				       v.detail);
	if (r == -EPERM)
		return log_error_errno(r,
				       "refused: task %d (%s)%s of the checkpoint holds what the "
				       "bundle does not give: %s; the restored tree is killed",
				       (int)v.pid, v.comm, thread,
				       strcmp(v.field, "capabilities") == 0 ? detail : v.detail);
	if (r < 0)
		return log_error_errno(r, "check the restored tree of %d against the bundle: %m",
				       (int)root);
	return 0;
}

static bool maps_equal(const struct spec_id_map *a, size_t na, const struct spec_id_map *b,
		       size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].container_id != b[i].container_id || a[i].host_id != b[i].host_id ||
		    a[i].size != b[i].size)
			return false;
	return true;
}

/* "pid, network (joined), mount" */
static void ns_list(const struct spec *s, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->n_namespaces && len < size; i++) {
		int n = snprintf(buf + len, size - len, "%s%s%s", len ? ", " : "",
				 spec_namespace_name(s->namespaces[i].type),
				 s->namespaces[i].path ? " (joined)" : "");
		if (n < 0)
			return;
		len += (size_t)n;
	}
	if (!len)
		snprintf(buf, size, "none");
}

static bool ns_same(const struct spec *a, const struct spec *b)
{
	if (a->n_namespaces != b->n_namespaces)
		return false;
	for (size_t i = 0; i < a->n_namespaces; i++) {
		const struct spec_namespace *o = spec_find_namespace(b, a->namespaces[i].type);
		if (!o || !o->path != !a->namespaces[i].path)
			return false;
	}
	return true;
}

static bool gids_equal(const struct spec_process *a, const struct spec_process *b)
{
	if (a->n_additional_gids != b->n_additional_gids)
		return false;
	for (size_t i = 0; i < a->n_additional_gids; i++)
		if (a->additional_gids[i] != b->additional_gids[i])
			return false;
	return true;
}

int restore_compare_config(const struct spec *s, struct json_object *checkpoint)
{
	_cleanup_(spec_freep) struct spec *c = NULL;
	char a[256], b[256];
	int r;

	if ((r = spec_parse(checkpoint, &c)) < 0)
		return log_error_errno(r, "the checkpoint's config (in %s) is not valid",
				       SNAPSHOT_META_FILE);
	if (c->process.uid != s->process.uid || c->process.gid != s->process.gid)
		return log_error_errno(-EPERM,
				       "the bundle's process.user (uid %u, gid %u) is not the "
				       "checkpoint's (uid %u, gid %u): restore it with the user it "
				       "was checkpointed with",
				       (unsigned)s->process.uid, (unsigned)s->process.gid,
				       (unsigned)c->process.uid, (unsigned)c->process.gid);
	if (!gids_equal(&s->process, &c->process))
		return log_error_errno(-EPERM, "the bundle's process.user.additionalGids are not "
					       "the checkpoint's");
	if (!ns_same(s, c)) {
		ns_list(s, a, sizeof(a));
		ns_list(c, b, sizeof(b));
		return log_error_errno(-EPERM,
				       "the bundle's linux.namespaces (%s) are not the "
				       "checkpoint's (%s)",
				       a, b);
	}
	if (spec_find_namespace(s, CLONE_NEWUSER) &&
	    (!maps_equal(s->uid_maps, s->n_uid_maps, c->uid_maps, c->n_uid_maps) ||
	     !maps_equal(s->gid_maps, s->n_gid_maps, c->gid_maps, c->n_gid_maps)))
		return log_error_errno(-EPERM, "the bundle's user namespace mappings "
					       "(linux.uidMappings, linux.gidMappings) are not the "
					       "checkpoint's");
	return 0;
}
