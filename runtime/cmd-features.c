/* SPDX-License-Identifier: Apache-2.0 */
/* features: what this runtime supports, in runc's JSON shape (containerd and Kubernetes read it).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "common/cleanup.h"
#include "common/json.h"
#include "common/log.h"
#include "gpu/gpu.h"
#include "caps.h"
#include "cli.h"
#include "commands.h"
#include "seccomp-filter.h"
#include "spec.h"

/*
 * GPU checkpoint: whether it is available here, the driver's version and, when it is not
 * available, why. Loading the driver takes a helper process: only `features` pays for it.
 */
static void gpu_features(struct json_object *ann)
{
	_cleanup_(gpu_closep) struct gpu *g = NULL;
	char v[16], why[400] = "";
	int r = BRISK_GPU && !gpu_host_has_driver() ? -ENODEV : gpu_open(&g);

	if (r == -ENODEV)
		snprintf(why, sizeof(why), "no NVIDIA driver (no /dev/nvidiactl)");
	else if (r == -EOPNOTSUPP)
		snprintf(why, sizeof(why), "brisk was built without GPU support");
	else if (r == -ENOENT)
		snprintf(why, sizeof(why), "no CUDA driver: %s", gpu_error(g));
	else if (r == -ENOSYS)
		snprintf(why, sizeof(why), "CUDA driver %s has no checkpoint API (needs >= %s)",
			 gpu_version_string(gpu_driver_version(g), v, sizeof(v)),
			 GPU_MIN_DRIVER_STRING);
	else if (r < 0)
		snprintf(why, sizeof(why), "the CUDA driver could not be loaded: %s", strerror(-r));
	json_object_object_add(ann, "run.brisk.gpu.checkpoint.enabled",
			       json_object_new_string(r == 0 ? "true" : "false"));
	if (gpu_driver_version(g) > 0)
		json_object_object_add(ann, "run.brisk.gpu.driver.version",
				       json_object_new_string(gpu_version_string(
					   gpu_driver_version(g), v, sizeof(v))));
	if (why[0])
		json_object_object_add(ann, "run.brisk.gpu.checkpoint.reason",
				       json_object_new_string(why));
}

static struct json_object *strings(const char *const *v)
{
	struct json_object *a = json_object_new_array();

	for (; *v; v++)
		json_object_array_add(a, json_object_new_string(*v));
	return a;
}

int cmd_features(struct runtime_ctx *rt, int argc, char **argv)
{
	static const char *const hooks[] = {"prestart",
					    "createRuntime",
					    "createContainer",
					    "startContainer",
					    "poststart",
					    "poststop",
					    NULL};
	static const char *const namespaces[] = {"cgroup", "ipc",  "mount", "network", "pid",
						 "time",   "user", "uts",   NULL};
	_cleanup_json_ struct json_object *o = json_object_new_object();
	_cleanup_json_ struct json_object *lx = json_object_new_object();
	struct json_object *x;
	const char *id;
	int r;

	(void)rt;
	(void)id;
	if (argc > 0 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
		printf(
		    "Usage: brisk features\n\nShow the features this runtime supports, as JSON.\n");
		return 0;
	}
	json_object_object_add(o, "ociVersionMin", json_object_new_string("1.0.0"));
	json_object_object_add(o, "ociVersionMax", json_object_new_string("1.2.0"));
	json_object_object_add(o, "hooks", strings(hooks));
	json_object_object_add(o, "mountOptions", strings(spec_mount_option_names));
	json_object_object_add(lx, "namespaces", strings(namespaces));
	if ((r = caps_features(&x)) < 0)
		return r;
	json_object_object_add(lx, "capabilities", x);
	x = json_object_new_object();
	json_object_object_add(x, "v1", json_object_new_boolean(true));
	json_object_object_add(x, "v2", json_object_new_boolean(true));
	json_object_object_add(x, "systemd", json_object_new_boolean(false));
	json_object_object_add(x, "systemdUser", json_object_new_boolean(false));
	json_object_object_add(x, "rdma", json_object_new_boolean(true));
	json_object_object_add(lx, "cgroup", x);
	if ((r = seccomp_features(&x)) < 0)
		return r;
	json_object_object_add(lx, "seccomp", x);
	x = json_object_new_object();
	json_object_object_add(
	    x, "enabled",
	    json_object_new_boolean(access("/sys/kernel/security/apparmor", F_OK) == 0));
	json_object_object_add(lx, "apparmor", x);
	x = json_object_new_object();
	json_object_object_add(
	    x, "enabled", json_object_new_boolean(access("/sys/fs/selinux/enforce", F_OK) == 0));
	json_object_object_add(lx, "selinux", x);
	x = json_object_new_object();
	json_object_object_add(x, "enabled", json_object_new_boolean(false));
	json_object_object_add(lx, "intelRdt", x);
	struct json_object *me = json_object_new_object(), *idmap = json_object_new_object();
	json_object_object_add(idmap, "enabled", json_object_new_boolean(true));
	json_object_object_add(me, "idmap", idmap);
	json_object_object_add(lx, "mountExtensions", me);
	json_object_object_add(o, "linux", json_object_get(lx));
	struct json_object *ann = json_object_new_object();
	json_object_object_add(ann, "org.opencontainers.runc.checkpoint.enabled",
			       json_object_new_string("true"));
	json_object_object_add(ann, "run.brisk.version", json_object_new_string(BRISK_VERSION));
	gpu_features(ann);
	json_object_object_add(o, "annotations", ann);
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	return 0;
}
