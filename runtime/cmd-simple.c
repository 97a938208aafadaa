/* SPDX-License-Identifier: Apache-2.0 */
/* start, state, kill, delete: the commands that take little more than an id. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/json.h"
#include "common/log.h"
#include "cli.h"
#include "commands.h"
#include "notify-socket.h"

void command_log_context(const char *cmd, const char *id)
{
	char buf[1200];

	snprintf(buf, sizeof(buf), "%s '%s'", cmd, id);
	log_set_prefix(buf);
}

static int set_help(const struct cli_parsed *p, void *userdata)
{
	if (p->id == CLI_HELP)
		*(bool *)userdata = true;
	return 0;
}

int parse_id_only(const char *cmd, const char *usage, int argc, char **argv, const char **ret_id)
{
	static const struct cli_option opts[] = {CLI_HELP_OPTION, {0}};
	bool help = false;
	int i = cli_parse(cmd, argc, argv, opts, set_help, &help);

	if (i < 0)
		return i;
	if (help) {
		cli_print_help(usage, "", opts);
		return 1;
	}
	if (argc - i != 1)
		return log_error_errno(-EINVAL, "%s: expects exactly one container id", cmd);
	*ret_id = argv[i];
	command_log_context(cmd, argv[i]);
	return 0;
}

int cmd_start(struct runtime_ctx *rt, int argc, char **argv)
{
	_cleanup_close_ int notify = -EBADF;
	const char *id;
	int r = parse_id_only("start", "brisk start ID", argc, argv, &id);

	if (r != 0)
		return r < 0 ? r : 0;
	/* with NOTIFY_SOCKET: listening before the program runs, its READY= passed on */
	if ((r = notify_socket_listen(rt, id, &notify)) < 0 || (r = container_start(rt, id)) < 0)
		return r;
	return notify_socket_forward(rt, id, notify, 0);
}

int cmd_state(struct runtime_ctx *rt, int argc, char **argv)
{
	_cleanup_(state_freep) struct container_state *st = NULL;
	_cleanup_json_ struct json_object *o = NULL;
	enum container_status status;
	const char *id;
	int r = parse_id_only("state", "brisk state ID", argc, argv, &id);

	if (r != 0)
		return r < 0 ? r : 0;
	r = container_load(rt, id, &st, &status);
	if (r == -ENOENT)
		return container_not_found(id);
	if (r < 0)
		return log_error_errno(r, "load state: %m");
	if ((r = state_to_json(st, status, &o)) < 0)
		return r;
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	return 0;
}

enum { OPT_ALL, OPT_FORCE };

struct kill_args {
	bool all, force, help;
};

static int kill_handle(const struct cli_parsed *p, void *userdata)
{
	struct kill_args *a = userdata;

	if (p->id == OPT_ALL)
		a->all = cli_bool(p);
	else if (p->id == OPT_FORCE)
		a->force = cli_bool(p);
	else if (p->id == CLI_HELP)
		a->help = true;
	return 0;
}

int cmd_kill(struct runtime_ctx *rt, int argc, char **argv)
{
	static const struct cli_option opts[] = {
	    {"all", 'a', false, OPT_ALL, "signal every process of the container"},
	    CLI_HELP_OPTION,
	    {0},
	};
	struct kill_args a = {0};
	int sig = SIGTERM;
	int i = cli_parse("kill", argc, argv, opts, kill_handle, &a);

	if (i < 0)
		return i;
	if (a.help) {
		cli_print_help("brisk kill [--all] ID [SIGNAL]", "Send a signal (default TERM).",
			       opts);
		return 0;
	}
	if (argc - i < 1 || argc - i > 2)
		return log_error_errno(-EINVAL,
				       "kill: expects a container id and an optional signal");
	command_log_context("kill", argv[i]);
	/* signal 0, as runc takes it: whether the init is still there */
	if (argc - i == 2 && strcmp(argv[i + 1], "0") == 0)
		sig = 0;
	else if (argc - i == 2 && (sig = signal_from_string(argv[i + 1])) < 0)
		return log_error_errno(-EINVAL, "unknown signal '%s'", argv[i + 1]);
	return container_kill(rt, argv[i], sig, a.all);
}

int cmd_delete(struct runtime_ctx *rt, int argc, char **argv)
{
	static const struct cli_option opts[] = {
	    {"force", 'f', false, OPT_FORCE, "kill a running container first"},
	    CLI_HELP_OPTION,
	    {0},
	};
	struct kill_args a = {0};
	int i = cli_parse("delete", argc, argv, opts, kill_handle, &a);

	if (i < 0)
		return i;
	if (a.help) {
		cli_print_help("brisk delete [--force] ID", "Delete a container.", opts);
		return 0;
	}
	if (argc - i != 1)
		return log_error_errno(-EINVAL, "delete: expects exactly one container id");
	command_log_context("delete", argv[i]);
	return container_delete(rt, argv[i], a.force);
}
