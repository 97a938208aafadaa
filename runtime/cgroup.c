/* SPDX-License-Identifier: Apache-2.0 */
/* Container cgroups: layout and paths, validation, and dispatch to the v1 or v2 driver. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "cgroup-internal.h"
#include "cgroup-layout.h"

#define DEFAULT_ROOT "/sys/fs/cgroup"

bool cgroup_hier_has(const struct cgroup_hier *h, const char *controller)
{
	size_t n = strlen(controller);

	if (!*controller)
		return !*h->controllers;
	for (const char *p = h->controllers; p && *p;) {
		if (strncmp(p, controller, n) == 0 && (p[n] == ',' || !p[n]))
			return true;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return false;
}

struct cgroup_hier *cgroup_find_hier(struct cgroup *cg, const char *controller)
{
	for (size_t i = 0; i < cg->n_hiers; i++)
		if (cgroup_hier_has(&cg->hiers[i], controller))
			return &cg->hiers[i];
	return NULL;
}

enum cgroup_mode cgroup_get_mode(const struct cgroup *cg)
{
	return cg->mode;
}

const char *cgroup_get_path(const struct cgroup *cg, const char *controller)
{
	struct cgroup_hier *h = cgroup_find_hier((struct cgroup *)cg, controller);

	return h ? h->path : NULL;
}

/* As runc's CleanPath: "." and ".." resolved lexically, never above the start. */
static int clean_path(const char *in, char **ret)
{
	_cleanup_free_ char *out = malloc(strlen(in) + 2);
	size_t len = 0;

	if (!out)
		return -ENOMEM;
	if (in[0] == '/')
		out[len++] = '/';
	for (const char *p = in; *p;) {
		size_t n;

		p += strspn(p, "/");
		n = strcspn(p, "/");
		if (n == 0)
			break;
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 1 || (len == 1 && out[0] != '/'))
				len--;
		} else if (n != 1 || p[0] != '.') {
			if (len > 0 && out[len - 1] != '/')
				out[len++] = '/';
			memcpy(out + len, p, n);
			len += n;
		}
		p += n;
	}
	out[len] = '\0';
	*ret = TAKE_PTR(out);
	return 0;
}

static int hier_path(const struct cgroup_layout *l, const struct cgroup_layout_hier *lh,
		     const char *path, char **ret)
{
	_cleanup_free_ char *base = NULL;

	if (path[0] == '/')
		return (*ret = path_join(lh->mount, path)) ? 0 : -ENOMEM;
	if (!(base = path_join(lh->mount, lh->own)))
		return -ENOMEM;
	/* On cgroup v2 the caller's own cgroup likely has processes: use its parent. */
	if (l->mode == CGROUP_MODE_V2 && strcmp(lh->own, "/") != 0)
		*strrchr(base, '/') = '\0';
	*ret = path_join(base, path);
	return *ret ? 0 : -ENOMEM;
}

static void strip_slashes(char *s)
{
	size_t n = strlen(s);

	while (n > 1 && s[n - 1] == '/')
		s[--n] = '\0';
}

static int resolve(struct cgroup *cg)
{
	_cleanup_(cgroup_layout_done) struct cgroup_layout l = {0};
	int r;

	r = cgroup_layout_read(cg->root, &l);
	if (r == -ENOMEDIUM)
		return log_error_errno(-ENOENT, "no cgroup hierarchy found under '%s'", cg->root);
	if (r < 0)
		return log_error_errno(r, "read the cgroup layout of '%s': %m", cg->root);
	cg->mode = l.mode;
	if (!(cg->hiers = calloc(l.n, sizeof(*cg->hiers))))
		return -ENOMEM;
	for (size_t i = 0; i < l.n; i++) {
		struct cgroup_hier *h = &cg->hiers[cg->n_hiers];

		if (!(h->controllers = strdup(l.h[i].controllers)) ||
		    !(h->mount = strdup(l.h[i].mount)))
			return -ENOMEM;
		cg->n_hiers++;
		if ((r = hier_path(&l, &l.h[i], cg->path, &h->path)) < 0)
			return r;
		strip_slashes(h->path);
	}
	return 0;
}

static const char *v2_name(const char *v1)
{
	return strcmp(v1, "blkio") == 0 ? "io" : v1;
}

/* Whether CONTROLLER can be used: a v1 hierarchy, or enabled at the cgroup2 root. */
static bool have_controller(struct cgroup *cg, const char *controller)
{
	struct cgroup_hier *h;
	_cleanup_free_ char *list = NULL;

	if (cg->mode != CGROUP_MODE_V2 && cgroup_find_hier(cg, controller))
		return true;
	if (!(h = cgroup_find_hier(cg, "")) || cg_read(h->mount, "cgroup.controllers", &list) < 0)
		return false;
	for (char *t = strtok(list, " \n"); t; t = strtok(NULL, " \n"))
		if (strcmp(t, v2_name(controller)) == 0)
			return true;
	return false;
}

static int need(struct cgroup *cg, bool wanted, const char *controller, const char *what)
{
	if (!wanted || have_controller(cg, controller))
		return 0;
	return log_error_errno(-EOPNOTSUPP, "cannot set %s: no '%s' cgroup controller on this host",
			       what, controller);
}

/* What the host cannot do is an error now, not halfway through create. */
static int check_supported(struct cgroup *cg, const struct cgroup_resources *r)
{
	bool v2 = cg->mode == CGROUP_MODE_V2;
	int k;

	if ((k = need(cg,
		      r->mem_limit || r->mem_reservation || r->mem_swap || r->has_swappiness ||
			  r->has_disable_oom,
		      "memory", "memory limits")) < 0 ||
	    (k = need(cg,
		      r->cpu_shares || r->cpu_quota || r->cpu_period || r->has_cpu_burst ||
			  r->has_cpu_idle || r->cpu_rt_period || r->cpu_rt_runtime,
		      "cpu", "cpu limits")) < 0 ||
	    (k = need(cg, r->cpus || r->mems, "cpuset", "cpuset")) < 0 ||
	    (k = need(cg, r->pids_limit != 0, "pids", "pids.limit")) < 0 ||
	    (k = need(cg, r->n_hugepages > 0, "hugetlb", "hugepageLimits")) < 0 ||
	    (k = need(cg, r->n_rdma > 0, "rdma", "rdma limits")) < 0 ||
	    (k = need(cg,
		      r->blkio_weight || r->blkio_leaf_weight || r->n_weight_devices ||
			  r->n_throttle[0] || r->n_throttle[1] || r->n_throttle[2] ||
			  r->n_throttle[3],
		      "blkio", "blockIO limits")) < 0)
		return k;
	if (v2) {
		if (r->cpu_rt_period || r->cpu_rt_runtime)
			return log_error_errno(
			    -EOPNOTSUPP, "realtime cpu limits are not supported on cgroup v2");
		return 0;
	}
	if ((k = need(cg, r->has_class_id, "net_cls", "network.classID")) < 0 ||
	    (k = need(cg, r->n_net_prios > 0, "net_prio", "network.priorities")) < 0 ||
	    (k = need(cg, r->has_devices && !cg->rootless, "devices", "device rules")) < 0)
		return k;
	if (r->n_unified > 0 && cg->mode == CGROUP_MODE_V1)
		return log_error_errno(
		    -EOPNOTSUPP, "linux.resources.unified needs cgroup v2 (this host has v1)");
	return 0;
}

int cgroup_new(const struct cgroup_opts *opts, struct cgroup **ret)
{
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL;
	const char *path = opts->path;
	int r;

	if (!opts->id || !*opts->id || strchr(opts->id, '/'))
		return log_error_errno(-EINVAL, "invalid container id '%s'",
				       opts->id ? opts->id : "");
	if (path && *path && path[0] != '/') {
		const char *c = strchr(path, ':');

		/* "slice:prefix:name" is for the systemd driver. */
		if (c && strchr(c + 1, ':'))
			return log_error_errno(
			    -EOPNOTSUPP,
			    "cgroupsPath '%s': systemd cgroup paths are not supported (use a path)",
			    path);
	}
	if (!(cg = calloc(1, sizeof(*cg))))
		return -ENOMEM;
	cg->rootless = opts->rootless;
	if (opts->realtime_policy && !(cg->realtime_policy = strdup(opts->realtime_policy)))
		return -ENOMEM;
	if (!(cg->root = strdup(opts->root ? opts->root : DEFAULT_ROOT)) ||
	    !(cg->id = strdup(opts->id)))
		return -ENOMEM;
	strip_slashes(cg->root);
	/* runc's cgroupfs driver: no cgroupsPath means the id, relative to our own cgroup. */
	if ((r = clean_path(path && *path ? path : opts->id, &cg->path)) < 0)
		return r;
	if (strcmp(cg->path, "/") == 0 || !*cg->path)
		return log_error_errno(-EINVAL, "invalid cgroupsPath '%s'", path);
	if ((r = cgroup_resources_parse(opts->resources, &cg->resources)) < 0)
		return r;
	/* our own copy: update merges into it */
	if (opts->resources &&
	    json_object_deep_copy(opts->resources, &cg->resources_json, NULL) < 0)
		return -ENOMEM;
	if ((r = resolve(cg)) < 0)
		return r;
	cg->ops = cg->mode == CGROUP_MODE_V2 ? &cgroup_v2_ops : &cgroup_v1_ops;
	if ((r = check_supported(cg, cg->resources)) < 0)
		return r;
	*ret = TAKE_PTR(cg);
	return 0;
}

static int remove_created(struct cgroup *cg)
{
	int r = 0, k;

	for (size_t i = 0; i < cg->n_hiers; i++) {
		struct cgroup_hier *h = &cg->hiers[i];

		if (!h->active)
			continue;
		k = cg_rmdir(h->path, h->created);
		if (k < 0) {
			log_warning_errno(k, "remove cgroup '%s': %m", h->path);
			r = r < 0 ? r : k;
			continue;
		}
		h->active = false;
		h->created = (free(h->created), NULL);
	}
	return r;
}

/* Let go of the directories that were there before: they are not ours to remove. */
static void forget_joined(struct cgroup *cg)
{
	for (size_t i = 0; i < cg->n_hiers; i++)
		if (!cg->hiers[i].created)
			cg->hiers[i].active = false;
}

static int move_pid(struct cgroup *cg, pid_t pid)
{
	int r;

	for (size_t i = 0; i < cg->n_hiers; i++) {
		struct cgroup_hier *h = &cg->hiers[i];

		if (!h->active)
			continue;
		r = cg_writef(h->path, "cgroup.procs", "%d", (int)pid);
		if (r < 0 && cg->rootless) {
			log_warning_errno(r, "move %d into cgroup '%s': %m, ignoring", (int)pid,
					  h->path);
			continue;
		}
		if (r < 0)
			return log_error_errno(r, "move %d into cgroup '%s': %m", (int)pid,
					       h->path);
	}
	return 0;
}

/* H is frozen or freezing: v1 freezer.state, or cgroup2's cgroup.freeze and cgroup.events
 * (which also tells a cgroup frozen by a parent). */
static bool hier_frozen(const struct cgroup_hier *h)
{
	_cleanup_free_ char *s = NULL;
	const char *p;
	uint64_t v;

	if (cgroup_hier_has(h, "freezer"))
		return cg_read(h->path, "freezer.state", &s) >= 0 && strncmp(s, "THAWED", 6) != 0;
	if (*h->controllers)
		return false;
	if (cg_read_u64(h->path, "cgroup.freeze", &v) >= 0 && v == 1)
		return true;
	return cg_read(h->path, "cgroup.events", &s) >= 0 && (p = strstr(s, "frozen ")) &&
	       p[7] == '1';
}

/*
 * A process moved into a frozen cgroup stops there: a cgroupsPath naming one (or one below a
 * frozen parent) would hold the container's init frozen before it ran, and its runtime waiting
 * for it. Refused before anything joins, as runc does: whoever froze it is to thaw it.
 */
static int refuse_frozen(struct cgroup *cg)
{
	for (size_t i = 0; i < cg->n_hiers; i++) {
		const struct cgroup_hier *h = &cg->hiers[i];

		if (h->active && hier_frozen(h))
			return log_error_errno(-EBUSY,
					       "cgroup '%s' is frozen: thaw it, or name another "
					       "cgroupsPath",
					       h->path);
	}
	return 0;
}

int cgroup_enter(struct cgroup *cg, pid_t pid)
{
	int r;

	if ((r = cg->ops->create(cg)) < 0)
		goto out_remove;
	if ((r = refuse_frozen(cg)) < 0) {
		forget_joined(cg);
		goto out_remove;
	}
	if ((r = cg->ops->apply(cg, cg->resources, true)) < 0)
		goto out_remove;
	/* PID may be in some of them now: the caller kills it, then calls cgroup_destroy (an
	 * rmdir here would wait for a cgroup that is busy). */
	if (pid > 0 && (r = move_pid(cg, pid)) < 0)
		return r;
	return 0;
out_remove:
	remove_created(cg);
	return r;
}

int cgroup_add_pid(struct cgroup *cg, pid_t pid)
{
	return move_pid(cg, pid);
}

static int sub_path(const char *base, const char *sub, char **ret)
{
	for (const char *p = sub; *p;) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -EINVAL;
		p += n;
		p += strspn(p, "/");
	}
	*ret = path_join(base, sub);
	return *ret ? 0 : -ENOMEM;
}

/* Point H at SUB below the container's directory; ONLY_IF_THERE: keep it where SUB is missing. */
static int hier_use_sub(struct cgroup_hier *h, const char *sub, bool only_if_there)
{
	_cleanup_free_ char *p = NULL;
	int r;

	if ((r = sub_path(h->path, sub, &p)) < 0)
		return r;
	if (only_if_there && access(p, F_OK) < 0)
		return 0;
	free(h->path);
	h->path = TAKE_PTR(p);
	/* not ours: cgroup_destroy must never remove it */
	h->created = (free(h->created), NULL);
	return 0;
}

static int use_sub_in(struct cgroup *cg, const char *spec, const char *ctrls_end, const char *sub)
{
	_cleanup_free_ char *ctrls = strndup(spec, ctrls_end - spec);
	char *save = NULL;
	int r;

	if (!ctrls)
		return -ENOMEM;
	for (char *c = strtok_r(ctrls, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
		struct cgroup_hier *h = cg->mode == CGROUP_MODE_V2 ? NULL : cgroup_find_hier(cg, c);

		if (!h || !h->active)
			return log_error_errno(-EINVAL, "--cgroup '%s': unknown controller '%s'",
					       spec, c);
		if ((r = hier_use_sub(h, sub, false)) < 0)
			return r;
	}
	return 0;
}

int cgroup_use_sub(struct cgroup *cg, const char *spec)
{
	const char *colon = strchr(spec, ':');
	const char *sub = colon ? colon + 1 : spec;
	int r = 0;

	if (!*sub || strspn(sub, "/") == strlen(sub))
		return log_error_errno(-EINVAL, "--cgroup '%s': no path", spec);
	if (colon && colon != spec)
		r = use_sub_in(cg, spec, colon, sub);
	for (size_t i = 0; (!colon || colon == spec) && i < cg->n_hiers && r >= 0; i++) {
		struct cgroup_hier *h = &cg->hiers[i];
		/* a hybrid host's cgroup2 holds no controller: there if made, else as it is */
		bool hybrid_v2 = cg->mode != CGROUP_MODE_V2 && !*h->controllers;

		if (h->active)
			r = hier_use_sub(h, sub, hybrid_v2);
	}
	if (r == -EINVAL)
		return log_error_errno(r, "--cgroup '%s': '%s' is not a sub-cgroup path", spec,
				       sub);
	return r;
}

/* What `update` changed, kept for the state file: sections merged key by key, arrays replaced. */
static int merge_resources(struct cgroup *cg, struct json_object *update)
{
	struct json_object *cur;

	if (!cg->resources_json && !(cg->resources_json = json_object_new_object()))
		return -ENOMEM;
	json_object_object_foreach(update, key, val)
	{
		if (json_object_is_type(val, json_type_object) &&
		    json_object_object_get_ex(cg->resources_json, key, &cur) &&
		    json_object_is_type(cur, json_type_object)) {
			json_object_object_foreach(val, k2, v2)
			{
				if (json_object_object_add(cur, k2, json_object_get(v2)) < 0)
					return -ENOMEM;
			}
			continue;
		}
		if (json_object_object_add(cg->resources_json, key, json_object_get(val)) < 0)
			return -ENOMEM;
	}
	return 0;
}

int cgroup_update(struct cgroup *cg, struct json_object *resources)
{
	_cleanup_(cgroup_resources_freep) struct cgroup_resources *res = NULL;
	int r;

	if ((r = cgroup_resources_parse(resources, &res)) < 0 || (r = check_supported(cg, res)) < 0)
		return r;
	if ((r = cg->ops->apply(cg, res, false)) < 0)
		return r;
	return resources ? merge_resources(cg, resources) : 0;
}

int cgroup_freeze(struct cgroup *cg, bool frozen)
{
	return cg->ops->freeze(cg, frozen);
}

int cgroup_is_frozen(struct cgroup *cg, bool *ret)
{
	return cg->ops->is_frozen(cg, ret);
}

/* The hierarchy to list processes from: cgroup2 where there is one, else pids, freezer... */
static struct cgroup_hier *primary(struct cgroup *cg)
{
	static const char *const order[] = {"", "pids", "freezer", "memory", "cpu", "devices"};

	for (size_t i = 0; i < ELEMENTSOF(order); i++) {
		struct cgroup_hier *h = cgroup_find_hier(cg, order[i]);

		if (h && h->active)
			return h;
	}
	for (size_t i = 0; i < cg->n_hiers; i++)
		if (cg->hiers[i].active)
			return &cg->hiers[i];
	return NULL;
}

int cgroup_get_pids(struct cgroup *cg, pid_t **ret, size_t *ret_n)
{
	struct cgroup_hier *h = primary(cg);
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	int r;

	if (h && (r = cg_read_pids(h->path, &pids, &n)) < 0 && r != -ENOENT)
		return log_error_errno(r, "read the processes of cgroup '%s': %m", h->path);
	*ret = TAKE_PTR(pids);
	*ret_n = n;
	return 0;
}

/* Some directory of CG is still there (something outside may have removed them all). */
static bool any_left(const struct cgroup *cg)
{
	for (size_t i = 0; i < cg->n_hiers; i++)
		if (cg->hiers[i].active && access(cg->hiers[i].path, F_OK) == 0)
			return true;
	return false;
}

int cgroup_kill_all(struct cgroup *cg, int sig)
{
	_cleanup_free_ pid_t *pids = NULL;
	bool thaw = false;
	size_t n = 0;
	int r;

	/* Gone already: no process can be in it, and no file of it can be written. */
	if (!any_left(cg))
		return 0;
	if (sig == SIGKILL && (r = cg->ops->kill(cg, sig)) != -EOPNOTSUPP) {
		bool frozen = false;

		/* A task frozen by a v1 freezer (a hybrid host's cgroup.kill goes through
		 * cgroup2) dies only once thawed. */
		if (r >= 0 && cg->mode != CGROUP_MODE_V2 && cgroup_is_frozen(cg, &frozen) >= 0 &&
		    frozen)
			(void)cgroup_freeze(cg, false);
		return r;
	}
	/* Frozen, nobody can fork a child we would miss. */
	if (cgroup_freeze(cg, true) >= 0)
		thaw = true;
	r = cgroup_get_pids(cg, &pids, &n);
	for (size_t i = 0; r >= 0 && i < n; i++)
		if (kill(pids[i], sig) < 0 && errno != ESRCH)
			r = log_error_errno(-errno, "kill %d: %m", (int)pids[i]);
	if (thaw)
		(void)cgroup_freeze(cg, false);
	return r;
}

int cgroup_destroy(struct cgroup *cg)
{
	int r = remove_created(cg);

	if (r < 0 && cg->rootless)
		return 0;
	return r;
}

static const char *mode_name(enum cgroup_mode m)
{
	return m == CGROUP_MODE_V2 ? "v2" : m == CGROUP_MODE_HYBRID ? "hybrid" : "v1";
}

static int add_string(struct json_object *o, const char *key, const char *value)
{
	struct json_object *v;

	if (!value)
		return 0;
	if (!(v = json_object_new_string(value)))
		return -ENOMEM;
	if (json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

int cgroup_serialize(struct cgroup *cg, struct json_object **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	struct json_object *a = json_object_new_array();
	int r;

	if (!o || !a || json_object_object_add(o, "hierarchies", a) < 0) {
		json_object_put(a);
		return -ENOMEM;
	}
	if ((r = add_string(o, "mode", mode_name(cg->mode))) < 0 ||
	    (r = add_string(o, "root", cg->root)) < 0 ||
	    (r = add_string(o, "path", cg->path)) < 0 || (r = add_string(o, "id", cg->id)) < 0)
		return r;
	json_object_object_add(o, "rootless", json_object_new_boolean(cg->rootless));
	if (cg->resources_json)
		json_object_object_add(o, "resources", json_object_get(cg->resources_json));
	for (size_t i = 0; i < cg->n_hiers; i++) {
		struct cgroup_hier *h = &cg->hiers[i];
		struct json_object *e = json_object_new_object();

		if (!e || json_object_array_add(a, e) < 0) {
			json_object_put(e);
			return -ENOMEM;
		}
		if ((r = add_string(e, "controllers", h->controllers)) < 0 ||
		    (r = add_string(e, "mount", h->mount)) < 0 ||
		    (r = add_string(e, "path", h->path)) < 0 ||
		    (r = add_string(e, "created", h->created)) < 0)
			return r;
		json_object_object_add(e, "active", json_object_new_boolean(h->active));
	}
	*ret = TAKE_PTR(o);
	return 0;
}

int cgroup_serialize_planned(struct cgroup *cg, struct json_object **ret)
{
	_cleanup_json_ struct json_object *o = NULL;
	struct json_object *a;
	int r;

	if ((r = cgroup_serialize(cg, &o)) < 0)
		return r;
	if (!json_object_object_get_ex(o, "hierarchies", &a))
		return -EINVAL;
	for (size_t i = 0; i < cg->n_hiers && i < json_object_array_length(a); i++) {
		struct cgroup_hier *h = &cg->hiers[i];
		struct json_object *e = json_object_array_get_idx(a, i);
		_cleanup_free_ char *created = NULL;

		if (h->active)
			continue;
		/* A directory that is there already is not ours (not under its mount: refused
		 * by cgroup_enter): should we be killed, nothing in it may be killed or removed. */
		if (cg_first_missing(h->mount, h->path, &created) < 0 || !created)
			continue;
		json_object_object_add(e, "active", json_object_new_boolean(true));
		if ((r = add_string(e, "created", created)) < 0)
			return r;
	}
	*ret = TAKE_PTR(o);
	return 0;
}

static int dup_string(struct json_object *o, const char *key, bool required, char **ret)
{
	const char *s;
	int r = json_get_string(o, key, &s);

	if (r == -ENOENT && !required)
		return 0;
	if (r < 0)
		return r;
	return (*ret = strdup(s)) ? 0 : -ENOMEM;
}

static int deserialize_hiers(struct json_object *a, struct cgroup *cg)
{
	size_t n = json_object_array_length(a);
	int r;

	if (!(cg->hiers = calloc(n ? n : 1, sizeof(*cg->hiers))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		struct cgroup_hier *h = &cg->hiers[i];

		cg->n_hiers++;
		if ((r = dup_string(e, "controllers", true, &h->controllers)) < 0 ||
		    (r = dup_string(e, "mount", true, &h->mount)) < 0 ||
		    (r = dup_string(e, "path", true, &h->path)) < 0 ||
		    (r = dup_string(e, "created", false, &h->created)) < 0)
			return r;
		(void)json_get_bool(e, "active", &h->active);
	}
	return 0;
}

static int deserialize_into(struct json_object *o, struct cgroup *cg)
{
	struct json_object *a, *res = NULL;
	const char *mode;
	int r;

	if ((r = json_get_string(o, "mode", &mode)) < 0 ||
	    (r = json_get_array(o, "hierarchies", &a)) < 0 ||
	    (r = dup_string(o, "root", true, &cg->root)) < 0 ||
	    (r = dup_string(o, "path", true, &cg->path)) < 0 ||
	    (r = dup_string(o, "id", true, &cg->id)) < 0)
		return r;
	cg->mode = strcmp(mode, "v2") == 0	 ? CGROUP_MODE_V2
		   : strcmp(mode, "hybrid") == 0 ? CGROUP_MODE_HYBRID
		   : strcmp(mode, "v1") == 0	 ? CGROUP_MODE_V1
						 : 0;
	if (!cg->mode)
		return -EINVAL;
	(void)json_get_bool(o, "rootless", &cg->rootless);
	if (json_get_object(o, "resources", &res) == 0 &&
	    json_object_deep_copy(res, &cg->resources_json, NULL) < 0)
		return -ENOMEM;
	if ((r = cgroup_resources_parse(res, &cg->resources)) < 0)
		return r;
	return deserialize_hiers(a, cg);
}

int cgroup_deserialize(struct json_object *o, struct cgroup **ret)
{
	_cleanup_(cgroup_freep) struct cgroup *cg = calloc(1, sizeof(*cg));
	int r;

	if (!cg)
		return -ENOMEM;
	if ((r = deserialize_into(o, cg)) < 0) {
		if (r == -ENOMEM)
			return r;
		return log_error_errno(-EINVAL, "invalid cgroup state");
	}
	cg->ops = cg->mode == CGROUP_MODE_V2 ? &cgroup_v2_ops : &cgroup_v1_ops;
	*ret = TAKE_PTR(cg);
	return 0;
}

int cgroup_stats(struct cgroup *cg, struct json_object **ret)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	int r;

	if (!o)
		return -ENOMEM;
	if ((r = cg->ops->stats(cg, o)) < 0)
		return r;
	*ret = TAKE_PTR(o);
	return 0;
}

struct cgroup *cgroup_free(struct cgroup *cg)
{
	if (!cg)
		return NULL;
	for (size_t i = 0; i < cg->n_hiers; i++) {
		free(cg->hiers[i].controllers);
		free(cg->hiers[i].mount);
		free(cg->hiers[i].path);
		free(cg->hiers[i].created);
	}
	free(cg->hiers);
	free(cg->root);
	free(cg->path);
	free(cg->id);
	free(cg->realtime_policy);
	if (cg->resources_json)
		json_object_put(cg->resources_json);
	cgroup_resources_free(cg->resources);
	free(cg);
	return NULL;
}

void cgroup_freep(struct cgroup **cg)
{
	*cg = cgroup_free(*cg);
}
