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
/* Every later message starts with "CMD 'ID': ". */
void command_log_context(const char *cmd, const char *id);
