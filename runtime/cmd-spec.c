/* SPDX-License-Identifier: Apache-2.0 */
/* spec: write a default config.json, as runc does (with --rootless, a user namespace). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "cli.h"
#include "commands.h"

static const char default_spec[] =
    "{\"ociVersion\":\"1.2.0\","
    "\"process\":{\"terminal\":true,\"user\":{\"uid\":0,\"gid\":0},\"args\":[\"sh\"],"
    "\"env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\","
    "\"TERM=xterm\"],\"cwd\":\"/\","
    "\"capabilities\":{\"bounding\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
    "\"effective\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
    "\"permitted\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
    "\"ambient\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"]},"
    "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}],"
    "\"noNewPrivileges\":true},"
    "\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
    "\"hostname\":\"brisk\","
    "\"mounts\":["
    "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
    "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\","
    "\"strictatime\",\"mode=755\",\"size=65536k\"]},"
    "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\",\"options\":["
    "\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\",\"gid=5\"]},"
    "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\",\"options\":[\"nosuid\","
    "\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},"
    "{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\",\"options\":["
    "\"nosuid\",\"noexec\",\"nodev\"]},"
    "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\",\"options\":[\"nosuid\","
    "\"noexec\",\"nodev\",\"ro\"]},"
    "{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\",\"options\":["
    "\"nosuid\",\"noexec\",\"nodev\",\"relatime\",\"ro\"]}],"
    "\"linux\":{\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]},"
    "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"ipc\"},"
    "{\"type\":\"uts\"},{\"type\":\"mount\"}],"
    "\"maskedPaths\":[\"/proc/acpi\",\"/proc/asound\",\"/proc/kcore\",\"/proc/keys\","
    "\"/proc/latency_stats\",\"/proc/timer_list\",\"/proc/timer_stats\",\"/proc/sched_debug\","
    "\"/sys/firmware\",\"/proc/scsi\"],"
    "\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\","
    "\"/proc/sysrq-trigger\"]}}";

static struct json_object *namespace(const char *type)
{
	struct json_object *n = json_object_new_object();

	json_object_object_add(n, "type", json_object_new_string(type));
	return n;
}

/* A cgroup namespace only where runc's spec has one: on a host with cgroup v2 alone (its
 * check: /sys/fs/cgroup is a cgroup2 mount). Elsewhere a script that adds one itself would
 * give it twice. */
static void add_cgroup_namespace(struct json_object *spec)
{
	struct json_object *lx, *ns;
	struct statfs sf;

	if (statfs("/sys/fs/cgroup", &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC)
		return;
	if (json_get_object(spec, "linux", &lx) == 0 && json_get_array(lx, "namespaces", &ns) == 0)
		json_object_array_add(ns, namespace("cgroup"));
}

static struct json_object *id_map(unsigned host)
{
	struct json_object *a = json_object_new_array(), *m = json_object_new_object();

	json_object_object_add(m, "containerID", json_object_new_int(0));
	json_object_object_add(m, "hostID", json_object_new_int64(host));
	json_object_object_add(m, "size", json_object_new_int(1));
	json_object_array_add(a, m);
	return a;
}

/* Rootless: a user namespace mapping the caller to root, no network namespace or cgroup
 * limits, /sys bound from the host, devpts without gid=5 (unmapped). The other namespaces
 * stay, the user namespace last, as runc orders them. */
static void make_rootless(struct json_object *spec)
{
	struct json_object *lx, *old, *ns, *mounts;

	json_get_object(spec, "linux", &lx);
	json_object_object_del(lx, "resources");
	json_get_array(lx, "namespaces", &old);
	ns = json_object_new_array();
	for (size_t i = 0; i < json_object_array_length(old); i++) {
		struct json_object *n = json_object_array_get_idx(old, i);
		const char *type = "";
		json_get_string(n, "type", &type);
		if (strcmp(type, "network") != 0 && strcmp(type, "user") != 0)
			json_object_array_add(ns, json_object_get(n));
	}
	json_object_array_add(ns, namespace("user"));
	json_object_object_add(lx, "namespaces", ns);
	json_object_object_add(lx, "uidMappings", id_map(geteuid()));
	json_object_object_add(lx, "gidMappings", id_map(getegid()));
	json_get_array(spec, "mounts", &mounts);
	for (size_t i = 0; i < json_object_array_length(mounts); i++) {
		struct json_object *m = json_object_array_get_idx(mounts, i), *opts;
		const char *dest;
		json_get_string(m, "destination", &dest);
		if (strcmp(dest, "/sys") == 0) {
			json_object_object_add(m, "type", json_object_new_string("none"));
			json_object_object_add(m, "source", json_object_new_string("/sys"));
			opts = json_object_new_array();
			static const char *const o[] = {"rbind", "nosuid", "noexec", "nodev", "ro"};
			for (size_t k = 0; k < ELEMENTSOF(o); k++)
				json_object_array_add(opts, json_object_new_string(o[k]));
			json_object_object_add(m, "options", opts);
		} else if (strcmp(dest, "/dev/pts") == 0 &&
			   json_get_array(m, "options", &opts) == 0) {
			size_t n = json_object_array_length(opts);
			json_object_array_del_idx(opts, n - 1, 1); /* "gid=5" */
		}
	}
}

enum { OPT_BUNDLE, OPT_ROOTLESS };

struct spec_args {
	const char *bundle;
	bool rootless, help;
};

static int handle(const struct cli_parsed *p, void *userdata)
{
	struct spec_args *a = userdata;

	if (p->id == OPT_BUNDLE)
		a->bundle = p->value;
	else if (p->id == OPT_ROOTLESS)
		a->rootless = cli_bool(p);
	else if (p->id == CLI_HELP)
		a->help = true;
	return 0;
}

int cmd_spec(struct runtime_ctx *rt, int argc, char **argv)
{
	static const struct cli_option opts[] = {
	    {"bundle", 'b', true, OPT_BUNDLE, "directory to write config.json into"},
	    {"rootless", 0, false, OPT_ROOTLESS, "a spec for running without root"},
	    CLI_HELP_OPTION,
	    {0},
	};
	struct spec_args a = {.bundle = "."};
	_cleanup_json_ struct json_object *spec = NULL;
	_cleanup_free_ char *path = NULL;
	int i = cli_parse("spec", argc, argv, opts, handle, &a), r;

	(void)rt;
	if (i < 0)
		return i;
	if (a.help) {
		cli_print_help("brisk spec [--bundle DIR] [--rootless]",
			       "Write a default config.json.", opts);
		return 0;
	}
	if ((r = json_parse(default_spec, strlen(default_spec), &spec)) < 0)
		return r;
	add_cgroup_namespace(spec);
	if (a.rootless)
		make_rootless(spec);
	if (!(path = path_join(a.bundle, "config.json")))
		return -ENOMEM;
	if (access(path, F_OK) == 0)
		return log_error_errno(-EEXIST, "spec: '%s' exists, remove it first", path);
	const char *s = json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PRETTY |
								 JSON_C_TO_STRING_NOSLASHESCAPE);
	if ((r = write_file_atomic_at(AT_FDCWD, path, s, strlen(s), 0644, false)) < 0)
		return log_error_errno(r, "spec: write '%s': %m", path);
	return 0;
}
