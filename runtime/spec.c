/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <linux/mount.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "idmap.h"
#include "spec.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* A string with a NUL in it (-EILSEQ) is refused for that, whatever else FIELD must be. */
#define FIELD_ERR(r, field, what)                        \
	log_error_errno(r, "config.json: %s: %s", field, \
			(r) == -EILSEQ ? "must not contain a NUL byte" : (what))

#define UINT32_RANGE "must be an integer in 0..4294967295"
#define UINT64_RANGE "must be an integer in 0..18446744073709551615"
#define INT64_RANGE "must be an integer in -9223372036854775808..9223372036854775807"

/* The error for a required FIELD: absent (R is -ENOENT), or not WHAT. */
static int required_err(int r, const char *field, const char *what)
{
	if (r == -ENOENT)
		return FIELD_ERR(-EINVAL, field, "is required");
	return FIELD_ERR(r, field, what);
}

/* FIELD_ERR with a field name made by printf (an index in it, "process.rlimits[2].hard"). */
_printf_(3, 4) static int field_errf(int r, const char *what, const char *fmt, ...)
{
	char field[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(field, sizeof(field), fmt, ap);
	va_end(ap);
	return required_err(r, field, what);
}

static const struct {
	const char *name;
	int type;
} namespace_names[] = {
    {"pid", CLONE_NEWPID},	 {"network", CLONE_NEWNET}, {"mount", CLONE_NEWNS},
    {"ipc", CLONE_NEWIPC},	 {"uts", CLONE_NEWUTS},	    {"user", CLONE_NEWUSER},
    {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME},
};

int spec_namespace_from_name(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(namespace_names); i++)
		if (strcmp(name, namespace_names[i].name) == 0)
			return namespace_names[i].type;
	return -EINVAL;
}

const char *spec_namespace_name(int type)
{
	for (size_t i = 0; i < ELEMENTSOF(namespace_names); i++)
		if (namespace_names[i].type == type)
			return namespace_names[i].name;
	return "?";
}

const struct spec_namespace *spec_find_namespace(const struct spec *s, int type)
{
	for (size_t i = 0; i < s->n_namespaces; i++)
		if (s->namespaces[i].type == type)
			return &s->namespaces[i];
	return NULL;
}

static const char *const hook_names[_HOOK_MAX] = {
    [HOOK_PRESTART] = "prestart",
    [HOOK_CREATE_RUNTIME] = "createRuntime",
    [HOOK_CREATE_CONTAINER] = "createContainer",
    [HOOK_START_CONTAINER] = "startContainer",
    [HOOK_POSTSTART] = "poststart",
    [HOOK_POSTSTOP] = "poststop",
};

const char *spec_hook_name(enum spec_hook_kind k)
{
	return hook_names[k];
}

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

int spec_rlimit_from_name(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(rlimit_names); i++)
		if (strcmp(name, rlimit_names[i].name) == 0)
			return rlimit_names[i].resource;
	return -EINVAL;
}

bool spec_mount_is_tmpfs(const struct spec_mount *m)
{
	return !(m->kind & MOUNT_BIND) && m->type && strcmp(m->type, "tmpfs") == 0 &&
	       m->destination && m->destination[0] == '/' && !(m->flags & MS_RDONLY);
}

bool spec_mount_is_cgroup_tmpfs(const struct spec_mount *m)
{
	return !(m->kind & MOUNT_BIND) && m->type && strcmp(m->type, "cgroup") == 0 &&
	       m->destination && m->destination[0] == '/' &&
	       access("/sys/fs/cgroup/cgroup.controllers", F_OK) < 0;
}

const char *spec_criu_config(const struct spec *s)
{
	const char *path;

	if (!s->annotations || json_get_string(s->annotations, "org.criu.config", &path) < 0 ||
	    !*path)
		return NULL;
	return path;
}

const char *spec_rlimit_name(int resource)
{
	for (size_t i = 0; i < ELEMENTSOF(rlimit_names); i++)
		if (rlimit_names[i].resource == resource)
			return rlimit_names[i].name;
	return NULL;
}

/* Mount options: flags to set or clear, propagation, recursive attributes. */
enum { OPT_FLAG, OPT_CLEAR, OPT_PROPAGATION, OPT_ATTR_SET, OPT_ATTR_CLR, OPT_KIND };

static const struct {
	const char *name;
	int op;
	unsigned long value;
} mount_options[] = {
    {"defaults", OPT_FLAG, 0},
    {"ro", OPT_FLAG, MS_RDONLY},
    {"rw", OPT_CLEAR, MS_RDONLY},
    {"nosuid", OPT_FLAG, MS_NOSUID},
    {"suid", OPT_CLEAR, MS_NOSUID},
    {"nodev", OPT_FLAG, MS_NODEV},
    {"dev", OPT_CLEAR, MS_NODEV},
    {"noexec", OPT_FLAG, MS_NOEXEC},
    {"exec", OPT_CLEAR, MS_NOEXEC},
    {"sync", OPT_FLAG, MS_SYNCHRONOUS},
    {"async", OPT_CLEAR, MS_SYNCHRONOUS},
    {"dirsync", OPT_FLAG, MS_DIRSYNC},
    {"remount", OPT_FLAG, MS_REMOUNT},
    {"mand", OPT_FLAG, MS_MANDLOCK},
    {"nomand", OPT_CLEAR, MS_MANDLOCK},
    {"atime", OPT_CLEAR, MS_NOATIME},
    {"noatime", OPT_FLAG, MS_NOATIME},
    {"diratime", OPT_CLEAR, MS_NODIRATIME},
    {"nodiratime", OPT_FLAG, MS_NODIRATIME},
    {"relatime", OPT_FLAG, MS_RELATIME},
    {"norelatime", OPT_CLEAR, MS_RELATIME},
    {"strictatime", OPT_FLAG, MS_STRICTATIME},
    {"nostrictatime", OPT_CLEAR, MS_STRICTATIME},
    {"lazytime", OPT_FLAG, MS_LAZYTIME},
    {"nolazytime", OPT_CLEAR, MS_LAZYTIME},
    {"iversion", OPT_FLAG, MS_I_VERSION},
    {"noiversion", OPT_CLEAR, MS_I_VERSION},
    {"silent", OPT_FLAG, MS_SILENT},
    {"loud", OPT_CLEAR, MS_SILENT},
    {"nosymfollow", OPT_FLAG, 256 /* MS_NOSYMFOLLOW */},
    {"symfollow", OPT_CLEAR, 256},
    {"bind", OPT_KIND, MOUNT_BIND},
    {"rbind", OPT_KIND, MOUNT_BIND | MOUNT_RECURSIVE},
    {"idmap", OPT_KIND, MOUNT_IDMAP},
    {"ridmap", OPT_KIND, MOUNT_IDMAP | MOUNT_RECURSIVE},
    {"private", OPT_PROPAGATION, MS_PRIVATE},
    {"rprivate", OPT_PROPAGATION, MS_PRIVATE | MS_REC},
    {"shared", OPT_PROPAGATION, MS_SHARED},
    {"rshared", OPT_PROPAGATION, MS_SHARED | MS_REC},
    {"slave", OPT_PROPAGATION, MS_SLAVE},
    {"rslave", OPT_PROPAGATION, MS_SLAVE | MS_REC},
    {"unbindable", OPT_PROPAGATION, MS_UNBINDABLE},
    {"runbindable", OPT_PROPAGATION, MS_UNBINDABLE | MS_REC},
    {"rro", OPT_ATTR_SET, MOUNT_ATTR_RDONLY},
    {"rrw", OPT_ATTR_CLR, MOUNT_ATTR_RDONLY},
    {"rnosuid", OPT_ATTR_SET, MOUNT_ATTR_NOSUID},
    {"rsuid", OPT_ATTR_CLR, MOUNT_ATTR_NOSUID},
    {"rnodev", OPT_ATTR_SET, MOUNT_ATTR_NODEV},
    {"rdev", OPT_ATTR_CLR, MOUNT_ATTR_NODEV},
    {"rnoexec", OPT_ATTR_SET, MOUNT_ATTR_NOEXEC},
    {"rexec", OPT_ATTR_CLR, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", OPT_ATTR_SET, MOUNT_ATTR_NODIRATIME},
    {"rdiratime", OPT_ATTR_CLR, MOUNT_ATTR_NODIRATIME},
    {"rrelatime", OPT_ATTR_SET, MOUNT_ATTR_RELATIME},
    {"rnorelatime", OPT_ATTR_CLR, MOUNT_ATTR_RELATIME},
    {"rnoatime", OPT_ATTR_SET, MOUNT_ATTR_NOATIME},
    {"ratime", OPT_ATTR_CLR, MOUNT_ATTR_NOATIME},
    {"rstrictatime", OPT_ATTR_SET, MOUNT_ATTR_STRICTATIME},
    {"rnostrictatime", OPT_ATTR_CLR, MOUNT_ATTR_STRICTATIME},
    {"rnosymfollow", OPT_ATTR_SET, 0x00200000 /* MOUNT_ATTR_NOSYMFOLLOW */},
    {"rsymfollow", OPT_ATTR_CLR, 0x00200000},
};

const char *const spec_mount_option_names[] = {
    "defaults",	   "ro",       "rw",	     "nosuid",	     "suid",	       "nodev",
    "dev",	   "noexec",   "exec",	     "sync",	     "async",	       "dirsync",
    "remount",	   "mand",     "nomand",     "atime",	     "noatime",	       "diratime",
    "nodiratime",  "relatime", "norelatime", "strictatime",  "nostrictatime",  "lazytime",
    "nolazytime",  "iversion", "noiversion", "silent",	     "loud",	       "nosymfollow",
    "symfollow",   "bind",     "rbind",	     "idmap",	     "ridmap",	       "private",
    "rprivate",	   "shared",   "rshared",    "slave",	     "rslave",	       "unbindable",
    "runbindable", "rro",      "rrw",	     "rnosuid",	     "rsuid",	       "rnodev",
    "rdev",	   "rnoexec",  "rexec",	     "rnodiratime",  "rdiratime",      "rrelatime",
    "rnorelatime", "rnoatime", "ratime",     "rstrictatime", "rnostrictatime", "rnosymfollow",
    "rsymfollow",  NULL,
};

int spec_mount_option(struct spec_mount *m, const char *opt)
{
	for (size_t i = 0; i < ELEMENTSOF(mount_options); i++) {
		if (strcmp(opt, mount_options[i].name) != 0)
			continue;
		unsigned long v = mount_options[i].value;
		switch (mount_options[i].op) {
		case OPT_FLAG:
			m->flags |= v;
			break;
		case OPT_CLEAR:
			m->flags &= ~v;
			break;
		case OPT_PROPAGATION:
			m->propagation = v;
			break;
		case OPT_ATTR_SET:
			m->attr_set |= v;
			m->attr_clr &= ~v;
			break;
		case OPT_ATTR_CLR:
			m->attr_clr |= v;
			m->attr_set &= ~v;
			break;
		case OPT_KIND:
			m->kind |= (int)v;
			break;
		}
		return 1;
	}
	/* Anything else is filesystem data ("mode=755", "size=64k", "newinstance"). */
	char *nd;
	if (asprintf(&nd, "%s%s%s", m->data ? m->data : "", m->data ? "," : "", opt) < 0)
		return -ENOMEM;
	free(m->data);
	m->data = nd;
	return 0;
}

static int dup_string(struct json_object *o, const char *key, const char *field, char **ret)
{
	const char *s;
	int r = json_get_string(o, key, &s);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return FIELD_ERR(r, field, "must be a string");
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

static int get_strv(struct json_object *o, const char *key, const char *field, char ***ret)
{
	struct json_object *a;
	int r = json_get_array(o, key, &a);

	if (r == -ENOENT)
		return 0;
	if (r < 0 || (r = json_to_strv(a, ret)) < 0)
		return FIELD_ERR(r, field, "must be an array of strings");
	return 0;
}

/* Every value of the object O (annotations, sysctl) is a string, and holds no NUL. */
static int check_string_map(struct json_object *o, const char *field)
{
	json_object_object_foreach(o, key, v)
	{
		const char *s;
		int r = json_as_string(v, &s);

		if (r < 0)
			return field_errf(r, "must be a string", "%s['%s']", field, key);
	}
	return 0;
}

static int parse_id_maps(struct json_object *o, const char *key, const char *field,
			 struct spec_id_map **ret, size_t *ret_n)
{
	struct json_object *a;
	int r = json_get_array(o, key, &a);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return FIELD_ERR(r, field, "must be an array");
	size_t n = json_object_array_length(a);
	struct spec_id_map *v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		static const char *const keys[] = {"containerID", "hostID", "size"};
		uint32_t *dst[] = {&v[i].container_id, &v[i].host_id, &v[i].size};

		for (size_t k = 0; k < ELEMENTSOF(keys); k++) {
			r = json_get_uint32(e, keys[k], dst[k]);
			if (r < 0) {
				free(v);
				return field_errf(r, UINT32_RANGE, "%s[%zu].%s", field, i, keys[k]);
			}
		}
	}
	r = idmap_check(v, n, field);
	if (r < 0) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static int parse_rlimits(struct json_object *o, struct spec_process *p)
{
	struct json_object *a;
	int r = json_get_array(o, "rlimits", &a);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return FIELD_ERR(r, "process.rlimits", "must be an array");
	size_t n = json_object_array_length(a);
	p->rlimits = calloc(n ? n : 1, sizeof(*p->rlimits));
	if (!p->rlimits)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		const char *type;
		struct spec_rlimit *l = &p->rlimits[i];

		r = json_get_string(e, "type", &type);
		if (r < 0)
			return field_errf(r, "must be a string", "process.rlimits[%zu].type", i);
		l->resource = spec_rlimit_from_name(type);
		if (l->resource < 0)
			return log_error_errno(
			    -EINVAL, "config.json: process.rlimits: unknown type '%s'", type);
		for (size_t j = 0; j < i; j++)
			if (p->rlimits[j].resource == l->resource)
				return log_error_errno(
				    -EINVAL, "config.json: process.rlimits: '%s' given twice",
				    type);
		if ((r = json_get_uint64(e, "soft", &l->soft)) < 0)
			return field_errf(r, UINT64_RANGE, "process.rlimits[%zu] ('%s').soft", i,
					  type);
		if ((r = json_get_uint64(e, "hard", &l->hard)) < 0)
			return field_errf(r, UINT64_RANGE, "process.rlimits[%zu] ('%s').hard", i,
					  type);
		p->n_rlimits++;
	}
	return 0;
}

static int parse_user(struct json_object *o, struct spec_process *p)
{
	struct json_object *u, *a;
	uint32_t v;
	int r = json_get_object(o, "user", &u);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return FIELD_ERR(r, "process.user", "must be an object");
	if (json_get_uint32(u, "uid", &v) == 0)
		p->uid = v;
	else if (json_object_object_get_ex(u, "uid", NULL))
		return FIELD_ERR(-EINVAL, "process.user.uid", UINT32_RANGE);
	if (json_get_uint32(u, "gid", &v) == 0)
		p->gid = v;
	else if (json_object_object_get_ex(u, "gid", NULL))
		return FIELD_ERR(-EINVAL, "process.user.gid", UINT32_RANGE);
	r = json_get_uint32(u, "umask", &v);
	if (r == 0) {
		p->has_umask = true;
		p->umask = v & 0777;
	} else if (r != -ENOENT)
		return FIELD_ERR(r, "process.user.umask", UINT32_RANGE);
	r = json_get_array(u, "additionalGids", &a);
	if (r == 0) {
		size_t n = json_object_array_length(a);
		p->additional_gids = calloc(n ? n : 1, sizeof(gid_t));
		if (!p->additional_gids)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++) {
			struct json_object *e = json_object_array_get_idx(a, i);
			int64_t g = json_object_get_int64(e);
			if (!json_object_is_type(e, json_type_int) || g < 0 || g > UINT32_MAX)
				return field_errf(-EINVAL, UINT32_RANGE,
						  "process.user.additionalGids[%zu]", i);
			p->additional_gids[i] = (gid_t)g;
		}
		p->n_additional_gids = n;
	} else if (r != -ENOENT)
		return FIELD_ERR(r, "process.user.additionalGids", "must be an array");
	return 0;
}

int spec_parse_process(struct json_object *o, struct spec_process *p)
{
	struct json_object *sub;
	int r;

	memset(p, 0, sizeof(*p));
	if ((r = spec_fold_process_keys(o)) < 0)
		return r;
	r = json_get_bool(o, "terminal", &p->terminal);
	if (r < 0 && r != -ENOENT)
		return FIELD_ERR(r, "process.terminal", "must be a boolean");
	r = json_get_object(o, "consoleSize", &sub);
	if (r < 0 && r != -ENOENT)
		return FIELD_ERR(r, "process.consoleSize", "must be an object");
	if (r == 0) {
		uint32_t h = 0, w = 0;

		if ((r = json_get_uint32(sub, "height", &h)) < 0)
			return required_err(r, "process.consoleSize.height", UINT32_RANGE);
		if ((r = json_get_uint32(sub, "width", &w)) < 0)
			return required_err(r, "process.consoleSize.width", UINT32_RANGE);
		p->console_height = h;
		p->console_width = w;
	}
	if ((r = parse_user(o, p)) < 0)
		return r;
	if ((r = get_strv(o, "args", "process.args", &p->args)) < 0)
		return r;
	if (!p->args || !p->args[0])
		return FIELD_ERR(-EINVAL, "process.args", "must name the program to run");
	if ((r = get_strv(o, "env", "process.env", &p->env)) < 0)
		return r;
	if ((r = dup_string(o, "cwd", "process.cwd", &p->cwd)) < 0)
		return r;
	if (!p->cwd && !(p->cwd = strdup("/")))
		return -ENOMEM;
	if (p->cwd[0] != '/')
		return log_error_errno(
		    -EINVAL, "config.json: process.cwd: '%s' is not an absolute path", p->cwd);
	r = json_get_object(o, "capabilities", &p->capabilities);
	if (r < 0 && r != -ENOENT)
		return FIELD_ERR(r, "process.capabilities", "must be an object");
	if ((r = parse_rlimits(o, p)) < 0)
		return r;
	r = json_get_bool(o, "noNewPrivileges", &p->no_new_privileges);
	if (r < 0 && r != -ENOENT)
		return FIELD_ERR(r, "process.noNewPrivileges", "must be a boolean");
	r = json_get_int(o, "oomScoreAdj", &p->oom_score_adj);
	if (r == 0)
		p->has_oom_score_adj = true;
	else if (r != -ENOENT)
		return FIELD_ERR(r, "process.oomScoreAdj", "must be an integer");
	if (p->has_oom_score_adj && (p->oom_score_adj < -1000 || p->oom_score_adj > 1000))
		return log_error_errno(
		    -EINVAL, "config.json: process.oomScoreAdj: %d is outside -1000..1000",
		    p->oom_score_adj);
	if ((r = dup_string(o, "apparmorProfile", "process.apparmorProfile",
			    &p->apparmor_profile)) < 0)
		return r;
	if ((r = dup_string(o, "selinuxLabel", "process.selinuxLabel", &p->selinux_label)) < 0)
		return r;
	r = json_get_object(o, "ioPriority", &sub);
	if (r < 0 && r != -ENOENT)
		return FIELD_ERR(r, "process.ioPriority", "must be an object");
	if (r == 0) {
		const char *cls;
		static const char *const classes[] = {"", "IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE",
						      "IOPRIO_CLASS_IDLE"};
		if ((r = json_get_string(sub, "class", &cls)) < 0)
			return required_err(r, "process.ioPriority.class", "must be a string");
		for (int i = 1; i < 4; i++)
			if (strcmp(cls, classes[i]) == 0)
				p->io_priority_class = i;
		if (!p->io_priority_class)
			return log_error_errno(
			    -EINVAL, "config.json: process.ioPriority.class: unknown class '%s'",
			    cls);
		r = json_get_int(sub, "priority", &p->io_priority);
		if (r < 0 && r != -ENOENT)
			return FIELD_ERR(r, "process.ioPriority.priority", "must be an integer");
		if (p->io_priority < 0 || p->io_priority > 7)
			return FIELD_ERR(-EINVAL, "process.ioPriority.priority", "must be 0..7");
		p->has_io_priority = true;
	}
	r = json_get_object(o, "scheduler", &p->scheduler);
	if (r < 0 && r != -ENOENT)
		return FIELD_ERR(r, "process.scheduler", "must be an object");
	r = json_get_object(o, "execCPUAffinity", &sub);
	if (r < 0 && r != -ENOENT)
		return FIELD_ERR(r, "process.execCPUAffinity", "must be an object");
	if (r == 0) {
		if ((r = dup_string(sub, "initial", "process.execCPUAffinity.initial",
				    &p->exec_cpu_affinity_initial)) < 0)
			return r;
		if ((r = dup_string(sub, "final", "process.execCPUAffinity.final",
				    &p->exec_cpu_affinity_final)) < 0)
			return r;
	}
	return 0;
}

void spec_process_done(struct spec_process *p)
{
	free(p->additional_gids);
	strv_free(p->args);
	strv_free(p->env);
	free(p->cwd);
	free(p->rlimits);
	free(p->apparmor_profile);
	free(p->selinux_label);
	free(p->exec_cpu_affinity_initial);
	free(p->exec_cpu_affinity_final);
	memset(p, 0, sizeof(*p));
}

static int parse_mounts(struct json_object *doc, struct spec *s)
{
	struct json_object *a;
	int r = json_get_array(doc, "mounts", &a);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return FIELD_ERR(r, "mounts", "must be an array");
	size_t n = json_object_array_length(a);
	s->mounts = calloc(n ? n : 1, sizeof(*s->mounts));
	if (!s->mounts)
		return -ENOMEM;
	s->n_mounts = n;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		struct spec_mount *m = &s->mounts[i];
		_cleanup_strv_free_ char **opts = NULL;

		m->idmap_fd = -1;

		if ((r = dup_string(e, "destination", "mounts[].destination", &m->destination)) < 0)
			return r;
		if (!m->destination || m->destination[0] != '/')
			return log_error_errno(
			    -EINVAL,
			    "config.json: mounts[%zu].destination: '%s' is not an absolute path", i,
			    m->destination ? m->destination : "");
		if ((r = dup_string(e, "type", "mounts[].type", &m->type)) < 0 ||
		    (r = dup_string(e, "source", "mounts[].source", &m->source)) < 0 ||
		    (r = get_strv(e, "options", "mounts[].options", &opts)) < 0)
			return r;
		for (char **o = opts; o && *o; o++)
			if ((r = spec_mount_option(m, *o)) < 0)
				return r;
		if (m->type && strcmp(m->type, "bind") == 0)
			m->kind |= MOUNT_BIND;
		if (!m->type && !(m->kind & MOUNT_BIND))
			return log_error_errno(
			    -EINVAL,
			    "config.json: mounts[%zu] ('%s'): no type and not a bind mount", i,
			    m->destination);
		if ((r = parse_id_maps(e, "uidMappings", "mounts[].uidMappings", &m->uid_maps,
				       &m->n_uid_maps)) < 0 ||
		    (r = parse_id_maps(e, "gidMappings", "mounts[].gidMappings", &m->gid_maps,
				       &m->n_gid_maps)) < 0)
			return r;
		if ((m->n_uid_maps || m->n_gid_maps) && !(m->kind & MOUNT_BIND))
			return log_error_errno(
			    -EINVAL,
			    "config.json: mounts[%zu] ('%s'): uidMappings need a bind mount", i,
			    m->destination);
		if (m->n_uid_maps || m->n_gid_maps)
			m->kind |= MOUNT_IDMAP;
	}
	return 0;
}

static int parse_hooks(struct json_object *doc, struct spec *s)
{
	struct json_object *h;
	int r = json_get_object(doc, "hooks", &h);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return FIELD_ERR(r, "hooks", "must be an object");
	for (int k = 0; k < _HOOK_MAX; k++) {
		struct json_object *a;

		r = json_get_array(h, hook_names[k], &a);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return log_error_errno(r, "config.json: hooks.%s: must be an array",
					       hook_names[k]);
		size_t n = json_object_array_length(a);
		s->hooks[k].v = calloc(n ? n : 1, sizeof(struct spec_hook));
		if (!s->hooks[k].v)
			return -ENOMEM;
		s->hooks[k].n = n;
		for (size_t i = 0; i < n; i++) {
			struct json_object *e = json_object_array_get_idx(a, i);
			struct spec_hook *hk = &s->hooks[k].v[i];

			if ((r = dup_string(e, "path", "hooks[].path", &hk->path)) < 0 ||
			    (r = get_strv(e, "args", "hooks[].args", &hk->args)) < 0 ||
			    (r = get_strv(e, "env", "hooks[].env", &hk->env)) < 0)
				return r;
			if (!hk->path || hk->path[0] != '/')
				return log_error_errno(
				    -EINVAL,
				    "config.json: hooks.%s[%zu].path: must be an absolute path",
				    hook_names[k], i);
			r = json_get_int(e, "timeout", &hk->timeout);
			if (r < 0 && r != -ENOENT)
				return FIELD_ERR(r, "hooks[].timeout", "must be an integer");
			if (hk->timeout < 0 || (r == 0 && hk->timeout == 0))
				return log_error_errno(
				    -EINVAL,
				    "config.json: hooks.%s[%zu].timeout: must be greater than zero",
				    hook_names[k], i);
		}
	}
	return 0;
}

static int parse_namespaces(struct json_object *lx, struct spec *s)
{
	struct json_object *a;
	int r = json_get_array(lx, "namespaces", &a);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return FIELD_ERR(r, "linux.namespaces", "must be an array");
	size_t n = json_object_array_length(a);
	s->namespaces = calloc(n ? n : 1, sizeof(*s->namespaces));
	if (!s->namespaces)
		return -ENOMEM;
	s->n_namespaces = n;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		const char *type;

		if ((r = json_get_string(e, "type", &type)) < 0)
			return field_errf(r, "must be a string", "linux.namespaces[%zu].type", i);
		int t = spec_namespace_from_name(type);
		if (t < 0)
			return log_error_errno(
			    -EINVAL, "config.json: linux.namespaces: unknown type '%s'", type);
		if (spec_find_namespace(s, t))
			return log_error_errno(
			    -EINVAL, "config.json: linux.namespaces: '%s' given twice", type);
		s->namespaces[i].type = t;
		if ((r = dup_string(e, "path", "linux.namespaces[].path", &s->namespaces[i].path)) <
		    0)
			return r;
	}
	return 0;
}

static int parse_devices(struct json_object *lx, struct spec *s)
{
	struct json_object *a;
	int r = json_get_array(lx, "devices", &a);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return FIELD_ERR(r, "linux.devices", "must be an array");
	size_t n = json_object_array_length(a);
	s->devices = calloc(n ? n : 1, sizeof(*s->devices));
	if (!s->devices)
		return -ENOMEM;
	s->n_devices = n;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		struct spec_device *d = &s->devices[i];
		const char *type;
		uint32_t v;

		if ((r = dup_string(e, "path", "linux.devices[].path", &d->path)) < 0)
			return r;
		if (!d->path || d->path[0] != '/')
			return FIELD_ERR(-EINVAL, "linux.devices[].path",
					 "must be an absolute path");
		r = json_get_string(e, "type", &type);
		if (r < 0 && r != -EILSEQ)
			r = -EINVAL;
		if (r < 0 || strlen(type) != 1 || !strchr("cbup", type[0]))
			return field_errf(r < 0 ? r : -EINVAL, "must be c, b, u or p",
					  "linux.devices[%zu] ('%s').type", i, d->path);
		d->type = type[0];
		if (d->type != 'p') {
			if ((r = json_get_int64(e, "major", &d->major)) < 0)
				return field_errf(r, INT64_RANGE, "linux.devices[%zu] ('%s').major",
						  i, d->path);
			if ((r = json_get_int64(e, "minor", &d->minor)) < 0)
				return field_errf(r, INT64_RANGE, "linux.devices[%zu] ('%s').minor",
						  i, d->path);
		}
		static const char *const ids[] = {"fileMode", "uid", "gid"};
		for (size_t k = 0; k < ELEMENTSOF(ids); k++) {
			r = json_get_uint32(e, ids[k], &v);
			if (r == -ENOENT)
				continue;
			if (r < 0)
				return field_errf(r, UINT32_RANGE, "linux.devices[%zu] ('%s').%s",
						  i, d->path, ids[k]);
			if (k == 0) {
				d->has_mode = true;
				d->mode = v & 07777;
			} else if (k == 1) {
				d->has_uid = true;
				d->uid = v;
			} else {
				d->has_gid = true;
				d->gid = v;
			}
		}
	}
	return 0;
}

static int parse_propagation(const char *s, unsigned long *ret)
{
	struct spec_mount m = {0};
	int r = spec_mount_option(&m, s);

	/* an unknown name is kept as filesystem data: not a propagation, and not to leak */
	free(m.data);
	if (r != 1 || !m.propagation)
		return -EINVAL;
	*ret = m.propagation;
	return 0;
}

static int parse_linux(struct json_object *doc, struct spec *s)
{
	struct json_object *lx, *sub;
	const char *str;
	int r = json_get_object(doc, "linux", &lx);

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return FIELD_ERR(r, "linux", "must be an object");
	if ((r = parse_namespaces(lx, s)) < 0 ||
	    (r = parse_id_maps(lx, "uidMappings", "linux.uidMappings", &s->uid_maps,
			       &s->n_uid_maps)) < 0 ||
	    (r = parse_id_maps(lx, "gidMappings", "linux.gidMappings", &s->gid_maps,
			       &s->n_gid_maps)) < 0 ||
	    (r = parse_devices(lx, s)) < 0 ||
	    (r = dup_string(lx, "cgroupsPath", "linux.cgroupsPath", &s->cgroups_path)) < 0 ||
	    (r = get_strv(lx, "maskedPaths", "linux.maskedPaths", &s->masked_paths)) < 0 ||
	    (r = get_strv(lx, "readonlyPaths", "linux.readonlyPaths", &s->readonly_paths)) < 0 ||
	    (r = dup_string(lx, "mountLabel", "linux.mountLabel", &s->mount_label)) < 0)
		return r;
	r = json_get_object(lx, "timeOffsets", &sub);
	if (r < 0 && r != -ENOENT)
		return FIELD_ERR(r, "linux.timeOffsets", "must be an object");
	if (r == 0) {
		static const char *const clocks[] = {"monotonic", "boottime"};
		for (int c = 0; c < 2; c++) {
			struct json_object *off;
			int64_t ns = 0;

			r = json_get_object(sub, clocks[c], &off);
			if (r == -ENOENT)
				continue;
			if (r < 0)
				return field_errf(r, "must be an object", "linux.timeOffsets.%s",
						  clocks[c]);
			r = json_get_int64(off, "secs", &s->time_offsets[c][0]);
			if (r < 0 && r != -ENOENT)
				return field_errf(r, INT64_RANGE, "linux.timeOffsets.%s.secs",
						  clocks[c]);
			r = json_get_int64(off, "nanosecs", &ns);
			if ((r < 0 && r != -ENOENT) || ns < 0 || ns >= 1000000000)
				return field_errf(r < 0 ? r : -EINVAL,
						  "must be an integer in 0..999999999",
						  "linux.timeOffsets.%s.nanosecs", clocks[c]);
			s->time_offsets[c][1] = ns;
		}
		s->has_time_offsets = true;
	}
	r = json_get_object(lx, "resources", &s->resources);
	if (r < 0 && r != -ENOENT)
		return FIELD_ERR(r, "linux.resources", "must be an object");
	r = json_get_object(lx, "sysctl", &s->sysctl);
	if (r < 0 && r != -ENOENT)
		return FIELD_ERR(r, "linux.sysctl", "must be an object");
	if (r == 0 && (r = check_string_map(s->sysctl, "linux.sysctl")) < 0)
		return r;
	r = json_get_object(lx, "seccomp", &s->seccomp);
	if (r < 0 && r != -ENOENT)
		return FIELD_ERR(r, "linux.seccomp", "must be an object");
	r = json_get_string(lx, "rootfsPropagation", &str);
	if (r < 0 && r != -ENOENT)
		return FIELD_ERR(r, "linux.rootfsPropagation", "must be a string");
	if (r == 0 && parse_propagation(str, &s->rootfs_propagation) < 0)
		return log_error_errno(
		    -EINVAL, "config.json: linux.rootfsPropagation: unknown value '%s'", str);
	r = json_get_object(lx, "personality", &sub);
	if (r < 0 && r != -ENOENT)
		return FIELD_ERR(r, "linux.personality", "must be an object");
	if (r == 0) {
		const char *domain;
		if ((r = json_get_string(sub, "domain", &domain)) < 0)
			return required_err(r, "linux.personality.domain", "must be a string");
		if (strcmp(domain, "LINUX") == 0)
			s->personality = PER_LINUX;
		else if (strcmp(domain, "LINUX32") == 0)
			s->personality = PER_LINUX32;
		else
			return log_error_errno(
			    -EINVAL, "config.json: linux.personality.domain: unknown '%s'", domain);
		s->has_personality = true;
	}
	s->has_intel_rdt = json_object_object_get_ex(lx, "intelRdt", NULL);
	return 0;
}

int spec_parse(struct json_object *doc, struct spec **ret)
{
	_cleanup_(spec_freep) struct spec *s = calloc(1, sizeof(*s));
	struct json_object *sub;
	int r;

	if (!s)
		return -ENOMEM;
	if (!json_object_is_type(doc, json_type_object))
		return log_error_errno(-EINVAL, "config.json: not a JSON object");
	if ((r = spec_fold_keys(doc)) < 0)
		return r;
	s->json = json_object_get(doc);
	if ((r = dup_string(doc, "ociVersion", "ociVersion", &s->oci_version)) < 0)
		return r;
	if (!s->oci_version)
		return FIELD_ERR(-EINVAL, "ociVersion", "is required");
	if (strncmp(s->oci_version, "1.", 2) != 0)
		return log_error_errno(
		    -EINVAL, "config.json: ociVersion '%s' is not supported (1.x)", s->oci_version);
	r = json_get_object(doc, "process", &sub);
	if (r == 0) {
		if ((r = spec_parse_process(sub, &s->process)) < 0)
			return r;
		s->has_process = true;
	} else if (r != -ENOENT)
		return FIELD_ERR(r, "process", "must be an object");
	r = json_get_object(doc, "root", &sub);
	if (r < 0)
		return FIELD_ERR(r, "root", r == -ENOENT ? "is required" : "must be an object");
	if ((r = dup_string(sub, "path", "root.path", &s->root_path)) < 0)
		return r;
	if (!s->root_path || !*s->root_path)
		return FIELD_ERR(-EINVAL, "root.path", "is required");
	r = json_get_bool(sub, "readonly", &s->root_readonly);
	if (r < 0 && r != -ENOENT)
		return FIELD_ERR(r, "root.readonly", "must be a boolean");
	if ((r = dup_string(doc, "hostname", "hostname", &s->hostname)) < 0 ||
	    (r = dup_string(doc, "domainname", "domainname", &s->domainname)) < 0 ||
	    (r = parse_mounts(doc, s)) < 0 || (r = parse_hooks(doc, s)) < 0 ||
	    (r = parse_linux(doc, s)) < 0)
		return r;
	r = json_get_object(doc, "annotations", &s->annotations);
	if (r < 0 && r != -ENOENT)
		return FIELD_ERR(r, "annotations", "must be an object");
	if (r == 0 && (r = check_string_map(s->annotations, "annotations")) < 0)
		return r;
	*ret = TAKE_PTR(s);
	return 0;
}

int spec_load(const char *bundle, struct spec **ret)
{
	_cleanup_json_ struct json_object *doc = NULL;
	_cleanup_free_ char *path = path_join(bundle, "config.json");
	int r;

	if (!path)
		return -ENOMEM;
	r = json_parse_file_at(AT_FDCWD, path, &doc);
	if (r == -EINVAL)
		return log_error_errno(r, "'%s' is not valid JSON", path);
	if (r < 0)
		return log_error_errno(r, "read '%s': %m", path);
	return spec_parse(doc, ret);
}

static void free_maps(struct spec_mount *m)
{
	free(m->uid_maps);
	free(m->gid_maps);
}

struct spec *spec_free(struct spec *s)
{
	if (!s)
		return NULL;
	json_putp(&s->json);
	free(s->oci_version);
	spec_process_done(&s->process);
	free(s->root_path);
	free(s->hostname);
	free(s->domainname);
	for (size_t i = 0; i < s->n_mounts; i++) {
		free(s->mounts[i].destination);
		free(s->mounts[i].type);
		free(s->mounts[i].source);
		free(s->mounts[i].data);
		free_maps(&s->mounts[i]);
		if (s->mounts[i].idmap_fd >= 0)
			close(s->mounts[i].idmap_fd);
	}
	free(s->mounts);
	for (int k = 0; k < _HOOK_MAX; k++) {
		for (size_t i = 0; i < s->hooks[k].n; i++) {
			free(s->hooks[k].v[i].path);
			strv_free(s->hooks[k].v[i].args);
			strv_free(s->hooks[k].v[i].env);
		}
		free(s->hooks[k].v);
	}
	for (size_t i = 0; i < s->n_namespaces; i++)
		free(s->namespaces[i].path);
	free(s->namespaces);
	free(s->uid_maps);
	free(s->gid_maps);
	for (size_t i = 0; i < s->n_devices; i++)
		free(s->devices[i].path);
	free(s->devices);
	free(s->cgroups_path);
	strv_free(s->masked_paths);
	strv_free(s->readonly_paths);
	free(s->mount_label);
	free(s);
	return NULL;
}

void spec_freep(struct spec **s)
{
	*s = spec_free(*s);
}
