/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/log.h"
#include "cli.h"
#include "commands.h"
#include "process.h"

static const struct cli_option create_options[] = {
    CREATE_CLI_OPTIONS,
    CLI_HELP_OPTION,
    {0},
};

struct create_args {
	struct create_opts o;
	bool help;
};

int create_option(const struct cli_parsed *p, struct create_opts *o)
{
	switch (p->id) {
	case CREATE_OPT_BUNDLE:
		o->bundle = p->value;
		return 1;
	case CREATE_OPT_PID_FILE:
		o->pid_file = p->value;
		return 1;
	case CREATE_OPT_CONSOLE:
		o->console_socket = p->value;
		return 1;
	case CREATE_OPT_NO_PIVOT:
		o->no_pivot = cli_bool(p);
		return 1;
	case CREATE_OPT_NO_KEYRING:
		o->no_new_keyring = cli_bool(p);
		return 1;
	case CREATE_OPT_PRESERVE:
		if (parse_int(p->value, &o->preserve_fds) < 0 || o->preserve_fds < 0)
			return log_error_errno(-EINVAL, "--preserve-fds: '%s' is not a count",
					       p->value);
		return process_check_preserve_fds(o->preserve_fds) < 0 ? -EBADF : 1;
	}
	return 0;
}

static int handle(const struct cli_parsed *p, void *userdata)
{
	struct create_args *a = userdata;

	if (p->id == CLI_HELP) {
		a->help = true;
		return 0;
	}
	return create_option(p, &a->o) < 0 ? -EINVAL : 0;
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
