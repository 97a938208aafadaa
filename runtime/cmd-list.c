/* SPDX-License-Identifier: Apache-2.0 */
/* list and ps. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "cgroup.h"
#include "cli.h"
#include "commands.h"

enum { OPT_FORMAT, OPT_QUIET };

struct list_args {
	const char *format;
	bool quiet, help;
};

static int handle(const struct cli_parsed *p, void *userdata)
{
	struct list_args *a = userdata;

	if (p->id == OPT_FORMAT)
		a->format = p->value;
	else if (p->id == OPT_QUIET)
		a->quiet = cli_bool(p);
	else if (p->id == CLI_HELP)
		a->help = true;
	return 0;
}

static int by_id(const void *a, const void *b)
{
	const char *x = "", *y = "";

	json_get_string(*(struct json_object *const *)a, "id", &x);
	json_get_string(*(struct json_object *const *)b, "id", &y);
	return strcmp(x, y);
}

static int check_format(const char *f)
{
	if (strcmp(f, "table") != 0 && strcmp(f, "json") != 0)
		return log_error_errno(-EINVAL, "invalid format '%s' (table or json)", f);
	return 0;
}

int cmd_list(struct runtime_ctx *rt, int argc, char **argv)
{
	static const struct cli_option opts[] = {
	    {"format", 'f', true, OPT_FORMAT, "table or json"},
	    {"quiet", 'q', false, OPT_QUIET, "print only the ids"},
	    CLI_HELP_OPTION,
	    {0},
	};
	struct list_args a = {.format = "table"};
	_cleanup_json_ struct json_object *arr = json_object_new_array();
	int i = cli_parse("list", argc, argv, opts, handle, &a);

	if (i < 0)
		return i;
	if (a.help) {
		cli_print_help("brisk list [options]", "List containers.", opts);
		return 0;
	}
	if (check_format(a.format) < 0)
		return -EINVAL;
	if (rt->rootfd >= 0) {
		int fd = fcntl(rt->rootfd, F_DUPFD_CLOEXEC, 3);
		_cleanup_closedir_ DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *de;

		while (d && (de = readdir(d))) {
			_cleanup_(state_freep) struct container_state *st = NULL;
			enum container_status status;
			struct json_object *o;

			if (de->d_name[0] == '.' ||
			    container_load(rt, de->d_name, &st, &status) < 0 ||
			    state_to_json(st, status, &o) < 0)
				continue;
			json_object_array_add(arr, o);
		}
	}
	/* sorted by id, as runc lists them */
	json_object_array_sort(arr, by_id);
	size_t n = json_object_array_length(arr);
	if (a.quiet) {
		for (size_t k = 0; k < n; k++) {
			const char *id;
			json_get_string(json_object_array_get_idx(arr, k), "id", &id);
			printf("%s\n", id);
		}
	} else if (strcmp(a.format, "json") == 0) {
		printf("%s\n", n ? json_to_string(arr) : "null");
	} else {
		printf("%-12s %-8s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE",
		       "CREATED", "OWNER");
		for (size_t k = 0; k < n; k++) {
			struct json_object *o = json_object_array_get_idx(arr, k);
			const char *id = "", *status = "", *bundle = "", *created = "";
			int pid = 0;
			json_get_string(o, "id", &id);
			json_get_int(o, "pid", &pid);
			json_get_string(o, "status", &status);
			json_get_string(o, "bundle", &bundle);
			json_get_string(o, "created", &created);
			printf("%-12s %-8d %-10s %-40s %-30s %s\n", id, pid, status, bundle,
			       created, "root");
		}
	}
	return 0;
}

int cmd_ps(struct runtime_ctx *rt, int argc, char **argv)
{
	static const struct cli_option opts[] = {
	    {"format", 'f', true, OPT_FORMAT, "table or json"},
	    CLI_HELP_OPTION,
	    {0},
	};
	struct list_args a = {.format = "table"};
	_cleanup_(state_freep) struct container_state *st = NULL;
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL;
	_cleanup_free_ pid_t *pids = NULL;
	enum container_status status;
	size_t n = 0;
	int i = cli_parse("ps", argc, argv, opts, handle, &a), r;

	if (i < 0)
		return i;
	if (a.help) {
		cli_print_help("brisk ps [--format table|json] ID [PS_ARGS...]",
			       "List the processes of a container.", opts);
		return 0;
	}
	if (argc - i < 1)
		return log_error_errno(-EINVAL, "ps: expects a container id");
	if (check_format(a.format) < 0)
		return -EINVAL;
	const char *id = argv[i];
	command_log_context("ps", id);
	r = container_load(rt, id, &st, &status);
	if (r == -ENOENT)
		return container_not_found(id);
	if (r < 0)
		return log_error_errno(r, "load state: %m");
	if (st->cgroup && (r = cgroup_deserialize(st->cgroup, &cg)) == 0)
		r = cgroup_get_pids(cg, &pids, &n);
	if (r < 0)
		return log_error_errno(r, "list the processes of the cgroup: %m");
	if (n == 0 && status != STATUS_STOPPED) {
		pids = calloc(1, sizeof(pid_t));
		if (!pids)
			return -ENOMEM;
		pids[0] = st->pid;
		n = 1;
	}
	if (strcmp(a.format, "json") == 0) {
		printf("[");
		for (size_t k = 0; k < n; k++)
			printf("%s%d", k ? "," : "", pids[k]);
		printf("]\n");
		return 0;
	}
	/* table: `ps -ef` (or the given ps arguments) filtered to the container's pids */
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid_t child = fork();
	if (child < 0) {
		r = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return log_error_errno(r, "fork ps: %m");
	}
	if (child == 0) {
		char *args[64] = {(char *)"ps"};
		int k = 1;
		if (argc - i > 1)
			for (int x = i + 1; x < argc && k < 63; x++)
				args[k++] = argv[x];
		else
			args[k++] = (char *)"-ef";
		dup2(pfd[1], STDOUT_FILENO);
		execvp("ps", args);
		_exit(127);
	}
	close(pfd[1]);
	_cleanup_free_ char *out = NULL;
	r = read_fd_all(pfd[0], 16 << 20, &out, NULL);
	close(pfd[0]);
	int wst;
	waitpid(child, &wst, 0);
	if (r < 0 || !WIFEXITED(wst) || WEXITSTATUS(wst) != 0)
		return log_error_errno(-EIO, "running ps failed");
	char *save = NULL, *line = strtok_r(out, "\n", &save);
	if (!line)
		return 0;
	/* find the PID column in the header */
	int col = -1, c = 0;
	_cleanup_free_ char *hdr = strdup(line);
	if (!hdr)
		return log_error_errno(-ENOMEM, "ps: %m");
	for (char *s2 = NULL, *t = strtok_r(hdr, " \t", &s2); t;
	     t = strtok_r(NULL, " \t", &s2), c++)
		if (strcmp(t, "PID") == 0)
			col = c;
	if (col < 0)
		return log_error_errno(-EINVAL, "ps output has no PID column");
	printf("%s\n", line);
	while ((line = strtok_r(NULL, "\n", &save))) {
		_cleanup_free_ char *copy = strdup(line);
		if (!copy)
			return log_error_errno(-ENOMEM, "ps: %m");
		char *s2 = NULL, *t = strtok_r(copy, " \t", &s2);
		for (int k = 0; t && k < col; k++)
			t = strtok_r(NULL, " \t", &s2);
		int pid;
		if (!t || parse_int(t, &pid) < 0)
			continue;
		for (size_t k = 0; k < n; k++)
			if (pids[k] == pid) {
				printf("%s\n", line);
				break;
			}
	}
	return 0;
}
