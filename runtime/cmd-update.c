/* SPDX-License-Identifier: Apache-2.0 */
/* update: change the cgroup limits of a container, from --resources (a linux.resources object,
 * "-" for stdin) or from runc's flags; the state file keeps the result. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "cgroup.h"
#include "cli.h"
#include "commands.h"

enum value_kind { V_BYTES, V_INT, V_UINT, V_STRING };

/* Each flag and where its value goes in linux.resources. */
static const struct update_flag {
	const char *name;
	const char *section, *key;
	enum value_kind kind;
	const char *help;
} flags[] = {
    {"memory", "memory", "limit", V_BYTES, "BYTES memory limit (k, m, g suffixes; -1: none)"},
    {"memory-swap", "memory", "swap", V_BYTES, "BYTES memory plus swap limit"},
    {"memory-reservation", "memory", "reservation", V_BYTES, "BYTES memory soft limit"},
    {"kernel-memory", "memory", "kernel", V_BYTES, "BYTES deprecated, ignored"},
    {"kernel-memory-tcp", "memory", "kernelTCP", V_BYTES, "BYTES deprecated, ignored"},
    {"cpu-share", "cpu", "shares", V_UINT, "N CPU shares (relative weight)"},
    {"cpu-shares", "cpu", "shares", V_UINT, "N the same as --cpu-share"},
    {"cpu-quota", "cpu", "quota", V_INT, "US CFS quota per period"},
    {"cpu-period", "cpu", "period", V_UINT, "US CFS period"},
    {"cpu-rt-runtime", "cpu", "realtimeRuntime", V_INT, "US realtime runtime per period"},
    {"cpu-rt-period", "cpu", "realtimePeriod", V_UINT, "US realtime period"},
    {"cpuset-cpus", "cpu", "cpus", V_STRING, "LIST CPUs to run on (0-3,5)"},
    {"cpuset-mems", "cpu", "mems", V_STRING, "LIST memory nodes (0-1)"},
    {"pids-limit", "pids", "limit", V_INT, "N maximum number of processes (-1: none)"},
    {"blkio-weight", "blockIO", "weight", V_UINT, "N block I/O weight (10..1000)"},
};

enum { OPT_RESOURCES = 1000, OPT_L3, OPT_MEMBW };

struct update_args {
	const char *resources;
	struct json_object *from_flags;
	bool rdt, help;
};

/* runc's RAMInBytes: a number with an optional k/m/g/t/p suffix (binary, optional "b"). */
static int parse_bytes(const char *s, int64_t *ret)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	int shift = 0;

	if (end == s || errno)
		return -EINVAL;
	if (*end) {
		const char *units = "kmgtp";
		const char *u = strchr(units, tolower((unsigned char)*end));
		if (!u)
			return -EINVAL;
		shift = 10 * (int)(u - units + 1);
		end++;
		if (tolower((unsigned char)*end) == 'b')
			end++;
		if (*end)
			return -EINVAL;
	}
	if (v < 0) {
		if (v != -1 || shift)
			return -EINVAL;
		*ret = -1;
		return 0;
	}
	*ret = (int64_t)(v * (double)(1ULL << shift));
	return 0;
}

static int flag_value(const struct update_flag *f, const char *s, struct json_object **ret)
{
	int64_t v;
	unsigned long long u;

	switch (f->kind) {
	case V_BYTES:
		if (parse_bytes(s, &v) < 0)
			break;
		*ret = json_object_new_int64(v);
		return 0;
	case V_INT:
		errno = 0;
		char *end;
		v = strtoll(s, &end, 10);
		if (errno || end == s || *end)
			break;
		*ret = json_object_new_int64(v);
		return 0;
	case V_UINT:
		if (parse_uint64(s, &u) < 0)
			break;
		*ret = json_object_new_uint64(u);
		return 0;
	case V_STRING:
		*ret = json_object_new_string(s);
		return 0;
	}
	return log_error_errno(-EINVAL, "update: invalid value '%s' for --%s", s, f->name);
}

static int handle(const struct cli_parsed *p, void *userdata)
{
	struct update_args *a = userdata;
	struct json_object *section, *v = NULL;
	int r;

	if (p->id == CLI_HELP) {
		a->help = true;
		return 0;
	}
	if (p->id == OPT_RESOURCES) {
		a->resources = p->value;
		return 0;
	}
	if (p->id == OPT_L3 || p->id == OPT_MEMBW) {
		a->rdt = true;
		return 0;
	}
	const struct update_flag *f = &flags[p->id];
	if ((r = flag_value(f, p->value, &v)) < 0)
		return r;
	if (json_get_object(a->from_flags, f->section, &section) < 0) {
		section = json_object_new_object();
		json_object_object_add(a->from_flags, f->section, section);
	}
	json_object_object_add(section, f->key, v);
	return 0;
}

static int read_resources(const char *path, struct json_object **ret)
{
	int r;

	if (strcmp(path, "-") == 0) {
		_cleanup_free_ char *buf = NULL;
		size_t len;
		if ((r = read_fd_all(STDIN_FILENO, 16 << 20, &buf, &len)) < 0)
			return log_error_errno(r, "read resources from stdin: %m");
		r = json_parse(buf, len, ret);
	} else {
		r = json_parse_file_at(AT_FDCWD, path, ret);
	}
	if (r < 0)
		return log_error_errno(r, "read resources '%s': %m", path);
	if (!json_object_is_type(*ret, json_type_object))
		return log_error_errno(-EINVAL, "resources '%s': not a JSON object", path);
	return 0;
}

static int apply(struct runtime_ctx *rt, const char *id, struct json_object *res)
{
	_cleanup_(state_freep) struct container_state *st = NULL;
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL;
	_cleanup_close_ int dfd = -EBADF;
	enum container_status status;
	int r;

	r = container_load(rt, id, &st, &status);
	if (r == -ENOENT)
		return container_not_found(id);
	if (r < 0)
		return log_error_errno(r, "load state: %m");
	if (status == STATUS_STOPPED)
		return log_error_errno(-ESRCH, "container not running");
	if (!st->cgroup)
		return log_error_errno(-EOPNOTSUPP, "the container has no cgroup");
	if ((r = cgroup_deserialize(st->cgroup, &cg)) < 0)
		return r;
	if ((r = cgroup_update(cg, res)) < 0)
		return r;
	json_putp(&st->cgroup);
	if ((r = cgroup_serialize(cg, &st->cgroup)) < 0)
		return log_error_errno(r, "serialise cgroup: %m");
	if ((r = state_open_dir(rt->rootfd, id, &dfd)) < 0 || (r = state_save(dfd, st)) < 0)
		return log_error_errno(r, "save state: %m");
	return 0;
}

int cmd_update(struct runtime_ctx *rt, int argc, char **argv)
{
	struct cli_option opts[ELEMENTSOF(flags) + 5] = {
	    {"resources", 'r', true, OPT_RESOURCES,
	     "FILE a linux.resources object (JSON); '-' reads stdin"},
	    {"l3-cache-schema", 0, true, OPT_L3, "SCHEMA Intel RDT (not supported)"},
	    {"mem-bw-schema", 0, true, OPT_MEMBW, "SCHEMA Intel RDT (not supported)"},
	};
	_cleanup_json_ struct json_object *from_flags = json_object_new_object();
	_cleanup_json_ struct json_object *res = NULL;
	struct update_args a = {.from_flags = from_flags};
	size_t k = 3;
	int i;

	if (!from_flags)
		return -ENOMEM;
	for (size_t f = 0; f < ELEMENTSOF(flags); f++)
		opts[k++] = (struct cli_option){flags[f].name, 0, true, (int)f, flags[f].help};
	opts[k++] = (struct cli_option)CLI_HELP_OPTION;
	i = cli_parse("update", argc, argv, opts, handle, &a);
	if (i < 0)
		return i;
	if (a.help) {
		cli_print_help("brisk update [--resources FILE|-] [limit flags] ID",
			       "Change the cgroup limits of a running container.", opts);
		return 0;
	}
	/* flags after the id too, as runc takes them */
	if (argc - i > 1) {
		int j = cli_parse("update", argc - i - 1, argv + i + 1, opts, handle, &a);
		if (j < 0)
			return j;
		if (j != argc - i - 1)
			return log_error_errno(-EINVAL, "update: expects exactly one container id");
	}
	if (argc - i < 1)
		return log_error_errno(-EINVAL, "update: expects exactly one container id");
	command_log_context("update", argv[i]);
	if (a.rdt)
		return log_error_errno(-EOPNOTSUPP, "Intel RDT is not supported on this host");
	if (a.resources) {
		int r = read_resources(a.resources, &res);
		if (r < 0)
			return r;
		/* runc: the flags override the file */
		json_object_object_foreach(from_flags, section, val)
		{
			struct json_object *dst;
			if (json_get_object(res, section, &dst) < 0) {
				json_object_object_add(res, section, json_object_get(val));
				continue;
			}
			json_object_object_foreach(val, key, v)
			    json_object_object_add(dst, key, json_object_get(v));
		}
	} else {
		res = json_object_get(from_flags);
	}
	return apply(rt, argv[i], res);
}
