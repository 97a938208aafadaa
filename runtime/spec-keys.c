/* SPDX-License-Identifier: Apache-2.0 */
/*
 * config.json's keys as runc reads them. runc decodes the document with Go's encoding/json,
 * which matches an object key to a struct field case-insensitively ("CPU" is "cpu",
 * "Process" is "process"); the keys of maps (annotations, sysctl, unified, rdma,
 * timeOffsets) are taken as written. Before anything reads the document, every key that
 * names a field of the runtime-spec's structs (as runc's specs-go has them) gets the
 * field's own spelling, so every reader of the tree, cgroups and seccomp included, sees
 * what runc sees.
 */
#include <errno.h>
#include <string.h>

#include "common/json.h"
#include "common/log.h"
#include "spec.h"

enum shape { OBJECT, ARRAY, MAP };

/* A field of one struct; FIELDS, when set, are those of its value (an object, or every
 * element of an array, or every value of a map). */
struct field {
	const char *name;
	const struct field *fields;
	enum shape shape;
};

static const struct field id_map_fields[] = {{"containerID"}, {"hostID"}, {"size"}, {0}};

static const struct field user_fields[] = {
    {"uid"}, {"gid"}, {"umask"}, {"additionalGids"}, {"username"}, {0},
};

static const struct field box_fields[] = {{"height"}, {"width"}, {0}};

static const struct field caps_fields[] = {
    {"bounding"}, {"effective"}, {"inheritable"}, {"permitted"}, {"ambient"}, {0},
};

static const struct field rlimit_fields[] = {{"type"}, {"hard"}, {"soft"}, {0}};

static const struct field scheduler_fields[] = {
    {"policy"}, {"nice"}, {"priority"}, {"flags"}, {"runtime"}, {"deadline"}, {"period"}, {0},
};

static const struct field io_priority_fields[] = {{"class"}, {"priority"}, {0}};

static const struct field cpu_affinity_fields[] = {{"initial"}, {"final"}, {0}};

static const struct field process_fields[] = {
    {"terminal"},
    {"consoleSize", box_fields, OBJECT},
    {"user", user_fields, OBJECT},
    {"args"},
    {"commandLine"},
    {"env"},
    {"cwd"},
    {"capabilities", caps_fields, OBJECT},
    {"rlimits", rlimit_fields, ARRAY},
    {"noNewPrivileges"},
    {"apparmorProfile"},
    {"oomScoreAdj"},
    {"scheduler", scheduler_fields, OBJECT},
    {"selinuxLabel"},
    {"ioPriority", io_priority_fields, OBJECT},
    {"execCPUAffinity", cpu_affinity_fields, OBJECT},
    {0},
};

static const struct field root_fields[] = {{"path"}, {"readonly"}, {0}};

static const struct field mount_fields[] = {
    {"destination"},
    {"type"},
    {"source"},
    {"options"},
    {"uidMappings", id_map_fields, ARRAY},
    {"gidMappings", id_map_fields, ARRAY},
    {0},
};

static const struct field hook_fields[] = {{"path"}, {"args"}, {"env"}, {"timeout"}, {0}};

static const struct field hooks_fields[] = {
    {"prestart", hook_fields, ARRAY},
    {"createRuntime", hook_fields, ARRAY},
    {"createContainer", hook_fields, ARRAY},
    {"startContainer", hook_fields, ARRAY},
    {"poststart", hook_fields, ARRAY},
    {"poststop", hook_fields, ARRAY},
    {0},
};

static const struct field namespace_fields[] = {{"type"}, {"path"}, {0}};

static const struct field device_fields[] = {
    {"path"}, {"type"}, {"major"}, {"minor"}, {"fileMode"}, {"uid"}, {"gid"}, {0},
};

static const struct field seccomp_arg_fields[] = {
    {"index"}, {"value"}, {"valueTwo"}, {"op"}, {0},
};

static const struct field syscall_fields[] = {
    {"names"}, {"action"}, {"errnoRet"}, {"args", seccomp_arg_fields, ARRAY}, {0},
};

static const struct field seccomp_fields[] = {
    {"defaultAction"},
    {"defaultErrnoRet"},
    {"architectures"},
    {"flags"},
    {"listenerPath"},
    {"listenerMetadata"},
    {"syscalls", syscall_fields, ARRAY},
    {0},
};

static const struct field intel_rdt_fields[] = {
    {"closID"}, {"l3CacheSchema"}, {"memBwSchema"}, {"enableCMT"}, {"enableMBM"}, {0},
};

static const struct field personality_fields[] = {{"domain"}, {"flags"}, {0}};

static const struct field time_offset_fields[] = {{"secs"}, {"nanosecs"}, {0}};

static const struct field device_rule_fields[] = {
    {"allow"}, {"type"}, {"major"}, {"minor"}, {"access"}, {0},
};

static const struct field memory_fields[] = {
    {"limit"},
    {"reservation"},
    {"swap"},
    {"kernel"},
    {"kernelTCP"},
    {"swappiness"},
    {"disableOOMKiller"},
    {"useHierarchy"},
    {"checkBeforeUpdate"},
    {0},
};

static const struct field cpu_fields[] = {
    {"shares"},		{"quota"}, {"burst"}, {"period"}, {"realtimeRuntime"},
    {"realtimePeriod"}, {"cpus"},  {"mems"},  {"idle"},	  {0},
};

static const struct field pids_fields[] = {{"limit"}, {0}};

static const struct field weight_device_fields[] = {
    {"major"}, {"minor"}, {"weight"}, {"leafWeight"}, {0},
};

static const struct field throttle_device_fields[] = {{"major"}, {"minor"}, {"rate"}, {0}};

static const struct field blkio_fields[] = {
    {"weight"},
    {"leafWeight"},
    {"weightDevice", weight_device_fields, ARRAY},
    {"throttleReadBpsDevice", throttle_device_fields, ARRAY},
    {"throttleWriteBpsDevice", throttle_device_fields, ARRAY},
    {"throttleReadIOPSDevice", throttle_device_fields, ARRAY},
    {"throttleWriteIOPSDevice", throttle_device_fields, ARRAY},
    {0},
};

static const struct field hugepage_fields[] = {{"pageSize"}, {"limit"}, {0}};

static const struct field priority_fields[] = {{"name"}, {"priority"}, {0}};

static const struct field network_fields[] = {
    {"classID"},
    {"priorities", priority_fields, ARRAY},
    {0},
};

static const struct field rdma_fields[] = {{"hcaHandles"}, {"hcaObjects"}, {0}};

static const struct field resources_fields[] = {
    {"devices", device_rule_fields, ARRAY},
    {"memory", memory_fields, OBJECT},
    {"cpu", cpu_fields, OBJECT},
    {"pids", pids_fields, OBJECT},
    {"blockIO", blkio_fields, OBJECT},
    {"hugepageLimits", hugepage_fields, ARRAY},
    {"network", network_fields, OBJECT},
    {"rdma", rdma_fields, MAP},
    {"unified"},
    {0},
};

static const struct field linux_fields[] = {
    {"uidMappings", id_map_fields, ARRAY},
    {"gidMappings", id_map_fields, ARRAY},
    {"sysctl"},
    {"resources", resources_fields, OBJECT},
    {"cgroupsPath"},
    {"namespaces", namespace_fields, ARRAY},
    {"devices", device_fields, ARRAY},
    {"seccomp", seccomp_fields, OBJECT},
    {"rootfsPropagation"},
    {"maskedPaths"},
    {"readonlyPaths"},
    {"mountLabel"},
    {"intelRdt", intel_rdt_fields, OBJECT},
    {"personality", personality_fields, OBJECT},
    {"timeOffsets", time_offset_fields, MAP},
    {0},
};

static const struct field spec_fields[] = {
    {"ociVersion"},
    {"process", process_fields, OBJECT},
    {"root", root_fields, OBJECT},
    {"hostname"},
    {"domainname"},
    {"mounts", mount_fields, ARRAY},
    {"hooks", hooks_fields, OBJECT},
    {"annotations"},
    {"linux", linux_fields, OBJECT},
    {"solaris"},
    {"windows"},
    {"vm"},
    {"zos"},
    {0},
};

static int fold(struct json_object *o, const struct field *fields);
static int fold_field(struct json_object *o, const struct field *f);

static const struct field *find_field(const struct field *fields, const char *key)
{
	for (const struct field *f = fields; f->name; f++)
		if (json_key_matches_field(key, f->name))
			return f;
	return NULL;
}

static struct json_object *decode_over(struct json_object *acc, struct json_object *v,
				       const struct field *f, int *r);

/* Decode VAL over what struct ACC holds for field SUB (a field of it). */
static int decode_field(struct json_object *acc, const struct field *sub, struct json_object *val)
{
	struct json_object *cur = NULL, *nv;
	int r = fold_field(acc, sub);

	if (r < 0)
		return r;
	if (json_object_object_get_ex(acc, sub->name, &cur) && cur)
		nv = decode_over(json_object_get(cur), val, sub, &r);
	else
		nv = json_object_get(val);
	return r < 0 ? r : json_object_set_field(acc, sub->name, nv);
}

/*
 * V decoded by Go over ACC, a value decoded earlier into the same field F (the same key in
 * another case): a struct field by field, a map key by key (each value whole), anything
 * else replaced. Takes over ACC's reference; returns one to the result, or NULL with *R set.
 */
static struct json_object *decode_over(struct json_object *acc, struct json_object *v,
				       const struct field *f, int *r)
{
	bool is_struct = f->fields && f->shape == OBJECT;

	if (!json_object_is_type(acc, json_type_object) ||
	    !json_object_is_type(v, json_type_object)) {
		json_object_put(acc);
		return json_object_get(v);
	}
	json_object_object_foreach(v, key, val)
	{
		const struct field *sub = is_struct ? find_field(f->fields, key) : NULL;

		if (sub) {
			*r = decode_field(acc, sub, val);
		} else {
			/* a map's key, or a key runc ignores: taken as written */
			*r = json_object_object_add(acc, key, json_object_get(val));
			if (*r < 0) {
				json_object_put(val);
				*r = -ENOMEM;
			}
		}
		if (*r < 0) {
			json_object_put(acc);
			return NULL;
		}
	}
	return acc;
}

/* The keys of O that name field F become one, F's own, with the value Go would decode
 * from them in document order. */
static int fold_field(struct json_object *o, const struct field *f)
{
	struct json_object *acc = NULL;
	bool found = false, exact_only = true;
	int r = 0;

	json_object_object_foreach(o, key, val)
	{
		if (!json_key_matches_field(key, f->name))
			continue;
		if (strcmp(key, f->name) != 0)
			exact_only = false;
		acc = found ? decode_over(acc, val, f, &r) : json_object_get(val);
		found = true;
		if (r < 0)
			return r;
	}
	/* json-c keeps one entry per exact key, so one exact match is all there is */
	if (!found || exact_only) {
		json_object_put(acc);
		return 0;
	}
	return json_object_set_field(o, f->name, acc);
}

/* The depth is the schema's, never the document's. Values of the wrong type are left to
 * the parser, which names the field. */
static int fold(struct json_object *o, const struct field *fields)
{
	if (!json_object_is_type(o, json_type_object))
		return 0;
	for (const struct field *f = fields; f->name; f++) {
		struct json_object *v;
		int r = fold_field(o, f);

		if (r < 0)
			return r;
		if (!f->fields || !json_object_object_get_ex(o, f->name, &v) || !v)
			continue;
		if (f->shape == OBJECT) {
			r = fold(v, f->fields);
		} else if (f->shape == ARRAY && json_object_is_type(v, json_type_array)) {
			for (size_t i = 0; r >= 0 && i < json_object_array_length(v); i++)
				r = fold(json_object_array_get_idx(v, i), f->fields);
		} else if (f->shape == MAP && json_object_is_type(v, json_type_object)) {
			json_object_object_foreach(v, key, val)
			{
				(void)key;
				if ((r = fold(val, f->fields)) < 0)
					break;
			}
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * linux.resources.devices[].access as runc's devices cgroup takes it on a v1 hierarchy:
 * the set of r, w and m it names, whatever else it holds ("rwa" is "rw", "wr" is "rw").
 * With none of them it gives no access at all, which runc fails on: refused here, naming
 * the rule. An empty access stays "rwm".
 */
static int normalise_access(struct json_object *doc)
{
	struct json_object *lx, *res, *devs;

	if (json_get_object(doc, "linux", &lx) < 0 || json_get_object(lx, "resources", &res) < 0 ||
	    json_get_array(res, "devices", &devs) < 0)
		return 0;
	for (size_t i = 0; i < json_object_array_length(devs); i++) {
		struct json_object *rule = json_object_array_get_idx(devs, i);
		char canon[4] = "";
		const char *s;
		size_t n = 0;

		if (json_get_string(rule, "access", &s) < 0 || !*s)
			continue;
		for (const char *c = "rwm"; *c; c++)
			if (strchr(s, *c))
				canon[n++] = *c;
		canon[n] = '\0';
		if (!n)
			return log_error_errno(-EINVAL,
					       "config.json: linux.resources.devices[%zu].access: "
					       "'%s' names none of r, w, m",
					       i, s);
		if (strcmp(s, canon) == 0)
			continue;
		struct json_object *v = json_object_new_string(canon);
		if (!v || json_object_object_add(rule, "access", v) < 0) {
			json_object_put(v);
			return -ENOMEM;
		}
	}
	return 0;
}

int spec_fold_keys(struct json_object *doc)
{
	int r = fold(doc, spec_fields);

	if (r < 0)
		return log_error_errno(r, "config.json: %m");
	return normalise_access(doc);
}

int spec_fold_process_keys(struct json_object *process)
{
	int r = fold(process, process_fields);

	if (r < 0)
		return log_error_errno(r, "process: %m");
	return 0;
}
