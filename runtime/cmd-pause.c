/* SPDX-License-Identifier: Apache-2.0 */
/* pause and resume: freeze and thaw every process of a container (the freezer, v1 or v2). */
#include <errno.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "cgroup.h"
#include "commands.h"

static int set_frozen(struct runtime_ctx *rt, const char *id, bool frozen)
{
	_cleanup_(state_freep) struct container_state *st = NULL;
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL;
	enum container_status status;
	int r;

	r = container_load(rt, id, &st, &status);
	if (r == -ENOENT)
		return container_not_found(id);
	if (r < 0)
		return log_error_errno(r, "load state: %m");
	if (frozen && status != STATUS_RUNNING && status != STATUS_CREATED)
		return log_error_errno(-ESRCH, "container not running");
	if (!frozen && status != STATUS_PAUSED)
		return log_error_errno(-EINVAL, "container not paused");
	if (!st->cgroup)
		return log_error_errno(-EOPNOTSUPP, "the container has no cgroup to freeze");
	if ((r = cgroup_deserialize(st->cgroup, &cg)) < 0)
		return r;
	r = cgroup_freeze(cg, frozen);
	if (r < 0)
		return log_error_errno(r, "%s the container's cgroup: %m",
				       frozen ? "freeze" : "thaw");
	return 0;
}

int cmd_pause(struct runtime_ctx *rt, int argc, char **argv)
{
	const char *id;
	int r = parse_id_only("pause", "brisk pause ID", argc, argv, &id);

	if (r != 0)
		return r < 0 ? r : 0;
	return set_frozen(rt, id, true);
}

int cmd_resume(struct runtime_ctx *rt, int argc, char **argv)
{
	const char *id;
	int r = parse_id_only("resume", "brisk resume ID", argc, argv, &id);

	if (r != 0)
		return r < 0 ? r : 0;
	return set_frozen(rt, id, false);
}
