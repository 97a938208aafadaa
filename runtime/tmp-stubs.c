/* Temporary: replaced by the caps, seccomp and cgroup modules. */
#include <errno.h>
#include <stdlib.h>
#include "seccomp-filter.h"
#include "cgroup.h"
struct cgroup {
	int x;
};
int cgroup_new(const struct cgroup_opts *o, struct cgroup **ret)
{
	(void)o;
	*ret = calloc(1, sizeof(struct cgroup));
	return 0;
}
int cgroup_enter(struct cgroup *cg, pid_t pid)
{
	(void)cg;
	(void)pid;
	return 0;
}
int cgroup_update(struct cgroup *cg, struct json_object *r)
{
	(void)cg;
	(void)r;
	return -ENOSYS;
}
int cgroup_freeze(struct cgroup *cg, bool f)
{
	(void)cg;
	(void)f;
	return -ENOSYS;
}
int cgroup_is_frozen(struct cgroup *cg, bool *ret)
{
	(void)cg;
	*ret = false;
	return 0;
}
int cgroup_get_pids(struct cgroup *cg, pid_t **ret, size_t *n)
{
	(void)cg;
	*ret = NULL;
	*n = 0;
	return 0;
}
int cgroup_kill_all(struct cgroup *cg, int sig)
{
	(void)cg;
	(void)sig;
	return 0;
}
int cgroup_destroy(struct cgroup *cg)
{
	(void)cg;
	return 0;
}
int cgroup_serialize(struct cgroup *cg, struct json_object **ret)
{
	(void)cg;
	*ret = json_object_new_object();
	return 0;
}
int cgroup_deserialize(struct json_object *o, struct cgroup **ret)
{
	(void)o;
	*ret = calloc(1, sizeof(struct cgroup));
	return 0;
}
int cgroup_stats(struct cgroup *cg, struct json_object **ret)
{
	(void)cg;
	*ret = json_object_new_object();
	return 0;
}
struct cgroup *cgroup_free(struct cgroup *cg)
{
	free(cg);
	return NULL;
}
void cgroup_freep(struct cgroup **cg)
{
	*cg = cgroup_free(*cg);
}
