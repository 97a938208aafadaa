/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "cli.h"

static const struct cli_option *find_long(const struct cli_option *opts, const char *name,
					  size_t len)
{
	for (const struct cli_option *o = opts; o->name; o++)
		if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
			return o;
	return NULL;
}

static const struct cli_option *find_short(const struct cli_option *opts, char c)
{
	for (const struct cli_option *o = opts; o->name; o++)
		if (o->short_name == c)
			return o;
	return NULL;
}

int cli_parse(const char *cmd, int argc, char **argv, const struct cli_option *opts,
	      int (*handle)(const struct cli_parsed *p, void *userdata), void *userdata)
{
	int i;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		const struct cli_option *o;
		struct cli_parsed p = {0};

		if (strcmp(a, "--") == 0)
			return i + 1;
		if (a[0] != '-' || a[1] == '\0')
			return i;
		const char *name = a + 1 + (a[1] == '-');
		const char *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);

		o = find_long(opts, name, len);
		if (!o && len == 1)
			o = find_short(opts, name[0]);
		if (!o)
			return log_error_errno(-EINVAL, "%s: unknown option '%s'", cmd, a);
		p.id = o->id;
		if (o->has_arg) {
			if (eq)
				p.value = eq + 1;
			else if (i + 1 < argc)
				p.value = argv[++i];
			else
				return log_error_errno(-EINVAL, "%s: option '%s' needs a value",
						       cmd, a);
		} else if (eq) {
			if (strcmp(eq + 1, "true") != 0 && strcmp(eq + 1, "false") != 0)
				return log_error_errno(
				    -EINVAL, "%s: option '--%s' takes true or false, not '%s'", cmd,
				    o->name, eq + 1);
			p.value = eq + 1;
		}
		int r = handle(&p, userdata);
		if (r < 0)
			return r;
	}
	return i;
}

bool cli_bool(const struct cli_parsed *p)
{
	return !p->value || strcmp(p->value, "false") != 0;
}

void cli_print_help(const char *usage, const char *summary, const struct cli_option *opts)
{
	printf("Usage: %s\n\n%s\n", usage, summary);
	if (opts && opts->name)
		printf("\nOptions:\n");
	for (const struct cli_option *o = opts; o && o->name; o++) {
		char left[64];

		if (o->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s", o->short_name, o->name,
				 o->has_arg ? " VALUE" : "");
		else
			snprintf(left, sizeof(left), "    --%s%s", o->name,
				 o->has_arg ? " VALUE" : "");
		printf("  %-30s %s\n", left, o->help ? o->help : "");
	}
}
