/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/log.h"
#include "cli.h"
#include "commands.h"

enum { OPT_BUNDLE, OPT_PID_FILE, OPT_CONSOLE, OPT_NO_PIVOT, OPT_NO_KEYRING, OPT_PRESERVE };

static const struct cli_option create_options[] = {
    {"bundle", 'b', true, OPT_BUNDLE, "path to the bundle (default: current directory)"},
    {"pid-file", 0, true, OPT_PID_FILE, "write the init's pid to this file"},
    {"console-socket", 0, true, OPT_CONSOLE, "unix socket that receives the pty master"},
    {"no-pivot", 0, false, OPT_NO_PIVOT, "use MS_MOVE + chroot instead of pivot_root"},
    {"no-new-keyring", 0, false, OPT_NO_KEYRING, "keep the caller's session keyring"},
    {"preserve-fds", 0, true, OPT_PRESERVE, "pass N more fds (3..3+N-1) to the process"},
    CLI_HELP_OPTION,
    {0},
};

struct create_args {
	struct create_opts o;
	bool help;
};

static int handle(const struct cli_parsed *p, void *userdata)
{
	struct create_args *a = userdata;

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
	case CLI_HELP:
		a->help = true;
		break;
	}
	return 0;
}

int cmd_create(struct runtime_ctx *rt, int argc, char **argv)
{
	struct create_args a = {.o = {.bundle = "."}};
	struct created c;
	int i, r;

	i = cli_parse("create", argc, argv, create_options, handle, &a);
	if (i < 0)
		return i;
	if (a.help) {
		cli_print_help("brisk create [options] ID", "Create a container from a bundle.",
			       create_options);
		return 0;
	}
	if (argc - i != 1)
		return log_error_errno(-EINVAL, "create: expects exactly one container id");
	a.o.id = argv[i];
	command_log_context("create", a.o.id);
	r = container_create(rt, &a.o, &c);
	return r < 0 ? r : 0;
}
