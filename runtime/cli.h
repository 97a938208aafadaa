/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runc-compatible command-line parsing: "--flag value", "--flag=value", "-flag value"
 * (one dash, as containerd passes -no-subreaper), short letters ("-d"), booleans that also
 * take "=true/false". Options end at the first positional argument or at "--".
 */
#pragma once

#include <stdbool.h>

struct cli_option {
	const char *name; /* long name without dashes */
	char short_name;  /* 0 for none */
	bool has_arg;	  /* takes a value */
	int id;		  /* returned to the handler */
	const char
	    *help; /* one line, with the value's name first when has_arg ("DIR path of ...") */
};

struct cli_parsed {
	int id;
	const char *value; /* NULL for booleans set by presence; "true"/"false" for --flag=bool */
};

/*
 * Parse ARGV[0..ARGC) (ARGV[0] is not the program). Calls HANDLE for each option in order;
 * a negative return stops parsing. Returns the index of the first positional argument, or
 * a negative errno (the message is logged, naming the option, for the command CMD).
 */
int cli_parse(const char *cmd, int argc, char **argv, const struct cli_option *opts,
	      int (*handle)(const struct cli_parsed *p, void *userdata), void *userdata);

/* Whether "--flag=false" turned a boolean off. */
bool cli_bool(const struct cli_parsed *p);

void cli_print_help(const char *usage, const char *summary, const struct cli_option *opts);

/* The help option every command accepts; id CLI_HELP. */
#define CLI_HELP -1000
#define CLI_HELP_OPTION                                   \
	{                                                 \
		"help", 'h', false, CLI_HELP, "show help" \
	}
