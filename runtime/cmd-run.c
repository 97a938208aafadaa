/* SPDX-License-Identifier: Apache-2.0 */
/* run: create + start, then wait for the container (unless --detach), forwarding signals and,
 * with a terminal and no console socket, relaying our stdio to its pty. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "cli.h"
#include "commands.h"
#include "notify-socket.h"
#include "relay.h"

enum { OPT_DETACH, OPT_KEEP };

static const struct cli_option run_options[] = {
    CREATE_CLI_OPTIONS,
    {"detach", 'd', false, OPT_DETACH, "return once the container has started"},
    {"keep", 0, false, OPT_KEEP, "do not delete the container after it exits"},
    CLI_HELP_OPTION,
    {0},
};

struct run_args {
	struct create_opts o;
	bool detach, keep, help;
};

static int handle(const struct cli_parsed *p, void *userdata)
{
	struct run_args *a = userdata;

	switch (p->id) {
	case OPT_DETACH:
		a->detach = cli_bool(p);
		break;
	case OPT_KEEP:
		a->keep = cli_bool(p);
		break;
	case CLI_HELP:
		a->help = true;
		break;
	default:
		return create_option(p, &a->o) < 0 ? -EINVAL : 0;
	}
	return 0;
}

int cmd_run(struct runtime_ctx *rt, int argc, char **argv)
{
	struct run_args a = {.o = {.bundle = "."}};
	struct created c = {.pty_master = -1};
	int i, r;

	i = cli_parse("run", argc, argv, run_options, handle, &a);
	if (i < 0)
		return i;
	if (a.help) {
		cli_print_help("brisk run [options] ID",
			       "Create and start a container, and wait for it unless --detach.",
			       run_options);
		return 0;
	}
	if (argc - i != 1)
		return log_error_errno(-EINVAL, "run: expects exactly one container id");
	a.o.id = argv[i];
	a.o.pty_to_parent = !a.o.console_socket && !a.detach;
	command_log_context("run", a.o.id);
	/* Processes the container leaves behind when its init exits are ours to reap. */
	if (!a.detach)
		(void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	if ((r = container_create(rt, &a.o, &c)) < 0)
		return r;
	_cleanup_close_ int pty = c.pty_master, notify = -EBADF;
	if ((r = notify_socket_listen(rt, a.o.id, &notify)) < 0) {
		(void)container_delete(rt, a.o.id, true);
		return r;
	}
	sigset_t set;
	relay_signal_set(&set);
	if (!a.detach)
		sigprocmask(SIG_BLOCK, &set, NULL);
	if ((r = container_start(rt, a.o.id)) < 0) {
		(void)container_delete(rt, a.o.id, true);
		return r;
	}
	/* READY= passed on: before we return with --detach (as runc, whatever came of it),
	 * else beside the relay, with MAINPID ours */
	if (a.detach) {
		(void)notify_socket_forward(rt, a.o.id, notify, 0);
		return 0;
	}
	(void)notify_socket_forward_child(rt, a.o.id, notify);
	notify = safe_close(notify);
	int status = relay_wait(c.pid, pty);
	if (!a.keep)
		(void)container_delete(rt, a.o.id, true);
	return status < 0 ? status : status;
}
