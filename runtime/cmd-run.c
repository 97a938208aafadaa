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
#include "relay.h"

enum {
	OPT_BUNDLE,
	OPT_PID_FILE,
	OPT_CONSOLE,
	OPT_NO_PIVOT,
	OPT_NO_KEYRING,
	OPT_PRESERVE,
	OPT_DETACH,
	OPT_KEEP
};

static const struct cli_option run_options[] = {
    {"bundle", 'b', true, OPT_BUNDLE, "path to the bundle (default: current directory)"},
    {"pid-file", 0, true, OPT_PID_FILE, "write the init's pid to this file"},
    {"console-socket", 0, true, OPT_CONSOLE, "unix socket that receives the pty master"},
    {"no-pivot", 0, false, OPT_NO_PIVOT, "use MS_MOVE + chroot instead of pivot_root"},
    {"no-new-keyring", 0, false, OPT_NO_KEYRING, "keep the caller's session keyring"},
    {"preserve-fds", 0, true, OPT_PRESERVE, "pass N more fds (3..3+N-1) to the process"},
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
	case OPT_BUNDLE:
		a->o.bundle = p->value;
		break;
	case OPT_PID_FILE:
		a->o.pid_file = p->value;
		break;
	case OPT_CONSOLE:
		a->o.console_socket = p->value;
		break;
	case OPT_NO_PIVOT:
		a->o.no_pivot = cli_bool(p);
		break;
	case OPT_NO_KEYRING:
		a->o.no_new_keyring = cli_bool(p);
		break;
	case OPT_PRESERVE:
		if (parse_int(p->value, &a->o.preserve_fds) < 0 || a->o.preserve_fds < 0)
			return log_error_errno(-EINVAL, "--preserve-fds: '%s' is not a count",
					       p->value);
		break;
	case OPT_DETACH:
		a->detach = cli_bool(p);
		break;
	case OPT_KEEP:
		a->keep = cli_bool(p);
		break;
	case CLI_HELP:
		a->help = true;
		break;
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
	_cleanup_close_ int pty = c.pty_master;
	sigset_t set;
	relay_signal_set(&set);
	if (!a.detach)
		sigprocmask(SIG_BLOCK, &set, NULL);
	if ((r = container_start(rt, a.o.id)) < 0) {
		(void)container_delete(rt, a.o.id, true);
		return r;
	}
	if (a.detach)
		return 0;
	int status = relay_wait(c.pid, pty);
	if (!a.keep)
		(void)container_delete(rt, a.o.id, true);
	return status < 0 ? status : status;
}
