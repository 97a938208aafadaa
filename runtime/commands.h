/* SPDX-License-Identifier: Apache-2.0 */
/* One function per subcommand (cmd-*.c); ARGV[0] is the first argument after the name. */
#pragma once

#include "container.h"

struct command {
	const char *name;
	int (*run)(struct runtime_ctx *rt, int argc, char **argv);
	const char *summary;
	bool needs_root_dir; /* opens --root before running */
};

int cmd_create(struct runtime_ctx *rt, int argc, char **argv);
int cmd_run(struct runtime_ctx *rt, int argc, char **argv);
int cmd_start(struct runtime_ctx *rt, int argc, char **argv);
int cmd_state(struct runtime_ctx *rt, int argc, char **argv);
int cmd_kill(struct runtime_ctx *rt, int argc, char **argv);
int cmd_delete(struct runtime_ctx *rt, int argc, char **argv);
int cmd_list(struct runtime_ctx *rt, int argc, char **argv);
int cmd_exec(struct runtime_ctx *rt, int argc, char **argv);
int cmd_pause(struct runtime_ctx *rt, int argc, char **argv);
int cmd_resume(struct runtime_ctx *rt, int argc, char **argv);
int cmd_update(struct runtime_ctx *rt, int argc, char **argv);
int cmd_events(struct runtime_ctx *rt, int argc, char **argv);
int cmd_ps(struct runtime_ctx *rt, int argc, char **argv);
int cmd_spec(struct runtime_ctx *rt, int argc, char **argv);
int cmd_features(struct runtime_ctx *rt, int argc, char **argv);
int cmd_checkpoint(struct runtime_ctx *rt, int argc, char **argv);
int cmd_restore(struct runtime_ctx *rt, int argc, char **argv);

/* Exactly one positional argument, the container id; "CMD --help" prints USAGE and exits 0. */
int parse_id_only(const char *cmd, const char *usage, int argc, char **argv, const char **ret_id);
struct cli_parsed;

/* The options of create, shared by run: ids, table entries and their handler. */
enum {
	CREATE_OPT_BUNDLE = 1000,
	CREATE_OPT_PID_FILE,
	CREATE_OPT_CONSOLE,
	CREATE_OPT_NO_PIVOT,
	CREATE_OPT_NO_KEYRING,
	CREATE_OPT_PRESERVE,
};
#define CREATE_CLI_OPTIONS                                                                   \
	{"bundle", 'b', true, CREATE_OPT_BUNDLE,                                             \
	 "path to the bundle (default: current directory)"},                                 \
	    {"pid-file", 0, true, CREATE_OPT_PID_FILE, "write the init's pid to this file"}, \
	    {"console-socket", 0, true, CREATE_OPT_CONSOLE,                                  \
	     "unix socket that receives the pty master"},                                    \
	    {"no-pivot", 0, false, CREATE_OPT_NO_PIVOT,                                      \
	     "use MS_MOVE + chroot instead of pivot_root"},                                  \
	    {"no-new-keyring", 0, false, CREATE_OPT_NO_KEYRING,                              \
	     "keep the caller's session keyring"},                                           \
	{                                                                                    \
		"preserve-fds", 0, true, CREATE_OPT_PRESERVE,                                \
		    "pass N more fds (3..3+N-1) to the process"                              \
	}
/* 1: P was one of CREATE_CLI_OPTIONS and is now in O; 0: not one of them; <0: bad value. */
int create_option(const struct cli_parsed *p, struct create_opts *o);

/* Every later message starts with "CMD 'ID': ". */
void command_log_context(const char *cmd, const char *id);
