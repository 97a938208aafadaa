/* SPDX-License-Identifier: Apache-2.0 */
/* exec: run a new process in a running container, from --process FILE or from ARGS and the
 * container's own process settings with the flags' changes. */
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
#include "cli.h"
#include "commands.h"
#include "exec.h"
#include "process.h"

enum {
	OPT_PROCESS,
	OPT_DETACH,
	OPT_PID_FILE,
	OPT_CONSOLE,
	OPT_TTY,
	OPT_CWD,
	OPT_ENV,
	OPT_USER,
	OPT_GIDS,
	OPT_CAP,
	OPT_NNP,
	OPT_APPARMOR,
	OPT_LABEL,
	OPT_PRESERVE,
	OPT_IGNORE_PAUSED,
	OPT_CGROUP,
};

static const struct cli_option exec_options[] = {
    {"process", 'p', true, OPT_PROCESS, "FILE a runtime-spec process (JSON); ARGS are ignored"},
    {"detach", 'd', false, OPT_DETACH, "return once the process has started"},
    {"pid-file", 0, true, OPT_PID_FILE, "FILE write the process's pid to it"},
    {"console-socket", 0, true, OPT_CONSOLE, "PATH unix socket that receives the pty master"},
    {"tty", 't', false, OPT_TTY, "give the process a terminal"},
    {"cwd", 0, true, OPT_CWD, "DIR working directory in the container"},
    {"env", 'e', true, OPT_ENV, "NAME=VALUE add to the environment (repeatable)"},
    {"user", 'u', true, OPT_USER, "UID[:GID] run as this user"},
    {"additional-gids", 'g', true, OPT_GIDS, "GID an additional group (repeatable)"},
    {"cap", 'c', true, OPT_CAP, "CAP_NAME add a capability (repeatable)"},
    {"no-new-privs", 0, false, OPT_NNP, "set no_new_privs"},
    {"apparmor", 0, true, OPT_APPARMOR, "PROFILE AppArmor profile"},
    {"process-label", 0, true, OPT_LABEL, "LABEL SELinux label"},
    {"preserve-fds", 0, true, OPT_PRESERVE, "N pass fds 3..3+N-1 to the process"},
    {"ignore-paused", 0, false, OPT_IGNORE_PAUSED, "exec even if the container is paused"},
    {"cgroup", 0, true, OPT_CGROUP,
     "[CONTROLLER[,CONTROLLER...]:]PATH run in this existing sub-cgroup (repeatable)"},
    CLI_HELP_OPTION,
    {0},
};

struct exec_args {
	struct exec_opts o;
	const char *process_file, *cwd, *user, *apparmor, *label;
	const char *env[64], *gids[64], *caps[64], *cgroups[64];
	size_t n_env, n_gids, n_caps, n_cgroups;
	bool tty, nnp, help;
};

static int push(const char **v, size_t *n, const char *s, const char *opt)
{
	if (*n >= 64)
		return log_error_errno(-E2BIG, "exec: too many %s options", opt);
	v[(*n)++] = s;
	return 0;
}

static int handle(const struct cli_parsed *p, void *userdata)
{
	struct exec_args *a = userdata;

	switch (p->id) {
	case OPT_PROCESS:
		a->process_file = p->value;
		break;
	case OPT_DETACH:
		a->o.detach = cli_bool(p);
		break;
	case OPT_PID_FILE:
		a->o.pid_file = p->value;
		break;
	case OPT_CONSOLE:
		a->o.console_socket = p->value;
		break;
	case OPT_TTY:
		a->tty = cli_bool(p);
		break;
	case OPT_CWD:
		a->cwd = p->value;
		break;
	case OPT_ENV:
		return push(a->env, &a->n_env, p->value, "--env");
	case OPT_USER:
		a->user = p->value;
		break;
	case OPT_GIDS:
		return push(a->gids, &a->n_gids, p->value, "--additional-gids");
	case OPT_CAP:
		return push(a->caps, &a->n_caps, p->value, "--cap");
	case OPT_NNP:
		a->nnp = cli_bool(p);
		break;
	case OPT_APPARMOR:
		a->apparmor = p->value;
		break;
	case OPT_LABEL:
		a->label = p->value;
		break;
	case OPT_PRESERVE:
		if (parse_int(p->value, &a->o.preserve_fds) < 0 || a->o.preserve_fds < 0)
			return log_error_errno(-EINVAL, "--preserve-fds: '%s' is not a count",
					       p->value);
		return process_check_preserve_fds(a->o.preserve_fds);
	case OPT_IGNORE_PAUSED:
		a->o.ignore_paused = cli_bool(p);
		break;
	case OPT_CGROUP:
		if (push(a->cgroups, &a->n_cgroups, p->value, "--cgroup") < 0)
			return -E2BIG;
		a->o.cgroups = a->cgroups;
		a->o.n_cgroups = a->n_cgroups;
		break;
	case CLI_HELP:
		a->help = true;
		break;
	}
	return 0;
}

static struct json_object *sub_object(struct json_object *o, const char *key)
{
	struct json_object *s;

	if (json_get_object(o, key, &s) == 0)
		return s;
	s = json_object_new_object();
	json_object_object_add(o, key, s);
	return s;
}

static struct json_object *sub_array(struct json_object *o, const char *key)
{
	struct json_object *s;

	if (json_get_array(o, key, &s) == 0)
		return s;
	s = json_object_new_array();
	json_object_object_add(o, key, s);
	return s;
}

static int parse_id(const char *s, const char *what, int64_t *ret)
{
	unsigned long long v;

	if (parse_uint64(s, &v) < 0 || v > 0xfffffffe)
		return log_error_errno(-EINVAL, "exec: %s '%s' is not a numeric id", what, s);
	*ret = (int64_t)v;
	return 0;
}

static int apply_user(struct json_object *proc, const struct exec_args *a)
{
	struct json_object *user = sub_object(proc, "user");
	int64_t v = 0;
	int r;

	if (a->user) {
		_cleanup_free_ char *u = strdup(a->user);
		if (!u)
			return -ENOMEM;
		char *colon = strchr(u, ':');
		if (colon)
			*colon++ = '\0';
		if ((r = parse_id(u, "user", &v)) < 0)
			return r;
		json_object_object_add(user, "uid", json_object_new_int64(v));
		/* runc: without a group, gid 0 */
		if (colon && (r = parse_id(colon, "group", &v)) < 0)
			return r;
		json_object_object_add(user, "gid", json_object_new_int64(colon ? v : 0));
	}
	if (a->n_gids) {
		struct json_object *g = json_object_new_array();
		json_object_object_add(user, "additionalGids", g);
		for (size_t i = 0; i < a->n_gids; i++) {
			if ((r = parse_id(a->gids[i], "additional gid", &v)) < 0)
				return r;
			json_object_array_add(g, json_object_new_int64(v));
		}
	}
	return 0;
}

/* The container's process with ARGS and the flags' changes, as runc builds it. */
static int build_process(struct runtime_ctx *rt, struct exec_args *a, char **args, int n,
			 struct json_object **ret)
{
	_cleanup_json_ struct json_object *proc = NULL;
	int r;

	if ((r = exec_default_process(rt, a->o.id, &proc)) < 0)
		return r;
	struct json_object *argv = json_object_new_array();
	for (int i = 0; i < n; i++)
		json_object_array_add(argv, json_object_new_string(args[i]));
	json_object_object_add(proc, "args", argv);
	json_object_object_add(proc, "terminal", json_object_new_boolean(a->tty));
	json_object_object_del(proc, "consoleSize");
	struct json_object *env = sub_array(proc, "env");
	for (size_t i = 0; i < a->n_env; i++)
		json_object_array_add(env, json_object_new_string(a->env[i]));
	if (a->cwd)
		json_object_object_add(proc, "cwd", json_object_new_string(a->cwd));
	if ((r = apply_user(proc, a)) < 0)
		return r;
	if (a->n_caps) {
		/* Never inheritable nor ambient: a capability there survives the exec of an
		 * unprivileged program of the container (CVE-2022-29162). */
		static const char *const sets[] = {"bounding", "effective", "permitted"};
		struct json_object *caps = sub_object(proc, "capabilities");
		for (size_t s = 0; s < ELEMENTSOF(sets); s++) {
			struct json_object *set = sub_array(caps, sets[s]);
			for (size_t i = 0; i < a->n_caps; i++)
				json_object_array_add(set, json_object_new_string(a->caps[i]));
		}
	}
	if (a->nnp)
		json_object_object_add(proc, "noNewPrivileges", json_object_new_boolean(true));
	if (a->apparmor)
		json_object_object_add(proc, "apparmorProfile",
				       json_object_new_string(a->apparmor));
	if (a->label)
		json_object_object_add(proc, "selinuxLabel", json_object_new_string(a->label));
	*ret = TAKE_PTR(proc);
	return 0;
}

int cmd_exec(struct runtime_ctx *rt, int argc, char **argv)
{
	struct exec_args a = {0};
	_cleanup_json_ struct json_object *proc = NULL;
	int i, r;

	i = cli_parse("exec", argc, argv, exec_options, handle, &a);
	if (i < 0)
		return i;
	if (a.help) {
		cli_print_help("brisk exec [options] ID [--process FILE | COMMAND [ARG...]]",
			       "Run a new process in a running container; without --detach, wait "
			       "for it and exit with its status.",
			       exec_options);
		return 0;
	}
	if (argc - i < 1)
		return log_error_errno(-EINVAL, "exec: expects a container id");
	a.o.id = argv[i];
	command_log_context("exec", a.o.id);
	if (a.process_file) {
		r = json_parse_file_at(AT_FDCWD, a.process_file, &proc);
		if (r < 0)
			return log_error_errno(r, "read process file '%s': %m", a.process_file);
		if (!json_object_is_type(proc, json_type_object))
			return log_error_errno(-EINVAL, "process file '%s': not a JSON object",
					       a.process_file);
	} else {
		if (argc - i < 2)
			return log_error_errno(-EINVAL, "exec: expects a command, or --process");
		if ((r = build_process(rt, &a, argv + i + 1, argc - i - 1, &proc)) < 0)
			return r;
	}
	a.o.process = proc;
	return container_exec(rt, &a.o);
}
