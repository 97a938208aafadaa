/* SPDX-License-Identifier: Apache-2.0 */
/*
 * events: JSON lines as runc writes them, {"type":"stats","id":ID,"data":{...}} every interval
 * (once with --stats) and {"type":"oom","id":ID} when the kernel's OOM killer acts in the
 * container's memory cgroup (v1: an eventfd on memory.oom_control; v2: memory.events). Ends
 * when the container stops.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "cgroup.h"
#include "cli.h"
#include "commands.h"

enum { OPT_STATS, OPT_INTERVAL };

struct events_args {
	bool stats, help;
	long long interval_ms;
};

/* A Go duration: "5s", "100ms", "1m30s", "1.5s"; a bare number is seconds. */
static int parse_duration(const char *s, long long *ret_ms)
{
	static const struct {
		const char *unit;
		double ms;
	} units[] = {{"ns", 1e-6}, {"us", 1e-3}, {"ms", 1}, {"s", 1e3}, {"m", 6e4}, {"h", 3.6e6}};
	double total = 0;

	if (!*s)
		return -EINVAL;
	while (*s) {
		char *end;
		double v = strtod(s, &end);
		size_t i, n;
		if (end == s || v < 0)
			return -EINVAL;
		s = end;
		if (!*s && total == 0) {
			total = v * 1e3;
			break;
		}
		for (n = 0; s[n] && !strchr("0123456789.", s[n]); n++)
			;
		for (i = 0; i < ELEMENTSOF(units); i++)
			if (strlen(units[i].unit) == n && strncmp(s, units[i].unit, n) == 0)
				break;
		if (i == ELEMENTSOF(units))
			return -EINVAL;
		total += v * units[i].ms;
		s += n;
	}
	if (total < 1)
		return -EINVAL;
	*ret_ms = (long long)total;
	return 0;
}

static int handle(const struct cli_parsed *p, void *userdata)
{
	struct events_args *a = userdata;

	switch (p->id) {
	case OPT_STATS:
		a->stats = cli_bool(p);
		break;
	case OPT_INTERVAL:
		if (parse_duration(p->value, &a->interval_ms) < 0)
			return log_error_errno(-EINVAL, "events: invalid --interval '%s'",
					       p->value);
		break;
	case CLI_HELP:
		a->help = true;
		break;
	}
	return 0;
}

static void emit(const char *type, const char *id, struct json_object *data)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();

	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "id", json_object_new_string(id));
	if (data)
		json_object_object_add(o, "data", json_object_get(data));
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
}

static int emit_stats(struct cgroup *cg, const char *id)
{
	_cleanup_json_ struct json_object *data = NULL;
	int r = cgroup_stats(cg, &data);

	if (r < 0)
		return log_error_errno(r, "read the container's cgroup statistics: %m");
	emit("stats", id, data);
	return 0;
}

struct oom_watch {
	int fd; /* eventfd (v1) or memory.events (v2); -1: none */
	bool v2;
	uint64_t kills; /* v2: the last oom_kill count */
	char *events;	/* v2: the path of memory.events */
};

static uint64_t v2_oom_kills(const char *path)
{
	_cleanup_free_ char *buf = NULL;
	const char *p;

	if (read_file_at(AT_FDCWD, path, 4096, &buf, NULL) < 0 || !(p = strstr(buf, "oom_kill ")))
		return 0;
	return strtoull(p + 9, NULL, 10);
}

/* Where the kernel cannot tell us (no memory controller), there are no oom events. */
static void oom_watch_open(struct cgroup *cg, struct oom_watch *w)
{
	const char *v1 =
	    cgroup_get_mode(cg) == CGROUP_MODE_V2 ? NULL : cgroup_get_path(cg, "memory");
	const char *v2 = cgroup_get_path(cg, "");

	w->fd = -1;
	if (v1) {
		_cleanup_close_ int efd = eventfd(0, EFD_CLOEXEC);
		_cleanup_free_ char *oc = path_join(v1, "memory.oom_control");
		_cleanup_free_ char *ec = path_join(v1, "cgroup.event_control");
		_cleanup_close_ int ofd = oc ? open(oc, O_RDONLY | O_CLOEXEC) : -1;
		char line[64];

		if (efd < 0 || ofd < 0 || !ec)
			return;
		snprintf(line, sizeof(line), "%d %d", efd, ofd);
		if (write_string_at(AT_FDCWD, ec, line) < 0)
			return;
		w->fd = TAKE_FD(efd);
		return;
	}
	if (v2 && (w->events = path_join(v2, "memory.events"))) {
		w->fd = open(w->events, O_RDONLY | O_CLOEXEC);
		w->v2 = true;
		w->kills = v2_oom_kills(w->events);
	}
}

/* Whether the watch fired since the last call. */
static bool oom_watch_fired(struct oom_watch *w)
{
	if (!w->v2) {
		uint64_t n;
		return read(w->fd, &n, sizeof(n)) == sizeof(n) && n > 0;
	}
	uint64_t k = v2_oom_kills(w->events);
	bool fired = k > w->kills;
	w->kills = k;
	return fired;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static bool running(struct runtime_ctx *rt, const char *id)
{
	_cleanup_(state_freep) struct container_state *st = NULL;
	enum container_status status;

	return container_load(rt, id, &st, &status) == 0 && status != STATUS_STOPPED;
}

static int stream(struct runtime_ctx *rt, struct cgroup *cg, const char *id, long long interval)
{
	struct oom_watch w = {.fd = -1};
	long long next = now_ms() + interval;

	oom_watch_open(cg, &w);
	for (;;) {
		struct pollfd p = {.fd = w.fd, .events = w.v2 ? POLLPRI : POLLIN};
		long long left = next - now_ms();
		int n = poll(&p, 1, left > 0 ? (int)(left > 1000 ? 1000 : left) : 0);

		if (n > 0 && oom_watch_fired(&w))
			emit("oom", id, NULL);
		if (!running(rt, id))
			break;
		if (now_ms() < next)
			continue;
		next += interval;
		if (emit_stats(cg, id) < 0)
			break;
	}
	safe_close(w.fd);
	free(w.events);
	return 0;
}

int cmd_events(struct runtime_ctx *rt, int argc, char **argv)
{
	static const struct cli_option opts[] = {
	    {"stats", 0, false, OPT_STATS, "print the statistics once and exit"},
	    {"interval", 0, true, OPT_INTERVAL, "DURATION between statistics (default 5s)"},
	    CLI_HELP_OPTION,
	    {0},
	};
	struct events_args a = {.interval_ms = 5000};
	_cleanup_(state_freep) struct container_state *st = NULL;
	_cleanup_(cgroup_freep) struct cgroup *cg = NULL;
	enum container_status status;
	int i, r;

	i = cli_parse("events", argc, argv, opts, handle, &a);
	if (i < 0)
		return i;
	if (a.help) {
		cli_print_help("brisk events [--stats] [--interval DURATION] ID",
			       "Print the container's statistics and OOM events as JSON lines.",
			       opts);
		return 0;
	}
	if (argc - i != 1)
		return log_error_errno(-EINVAL, "events: expects exactly one container id");
	const char *id = argv[i];
	command_log_context("events", id);
	r = container_load(rt, id, &st, &status);
	if (r == -ENOENT)
		return container_not_found(id);
	if (r < 0)
		return log_error_errno(r, "load state: %m");
	if (status == STATUS_STOPPED)
		return log_error_errno(-ESRCH, "container with id '%s' is not running", id);
	if (!st->cgroup)
		return log_error_errno(-EOPNOTSUPP, "the container has no cgroup");
	if ((r = cgroup_deserialize(st->cgroup, &cg)) < 0)
		return r;
	if (a.stats)
		return emit_stats(cg, id);
	return stream(rt, cg, id, a.interval_ms);
}
