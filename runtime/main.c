/* SPDX-License-Identifier: Apache-2.0 */
/* brisk: an OCI runtime, called exactly like runc. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <seccomp.h>

#include "config.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "cli.h"
#include "commands.h"
#include "process.h"
#include "sealed-exe.h"
#include "state.h"

static const struct command commands[] = {
    {"create", cmd_create, "create a container", true},
    {"start", cmd_start, "start a created container", true},
    {"run", cmd_run, "create and start a container", true},
    {"state", cmd_state, "print the state of a container", true},
    {"kill", cmd_kill, "send a signal to a container's init (or all its processes)", true},
    {"delete", cmd_delete, "delete a container", true},
    {"list", cmd_list, "list containers", true},
    {"exec", cmd_exec, "run a new process in a running container", true},
    {"pause", cmd_pause, "freeze every process of a container", true},
    {"resume", cmd_resume, "thaw a paused container", true},
    {"update", cmd_update, "change the cgroup limits of a container", true},
    {"events", cmd_events, "print statistics and OOM events as JSON lines", true},
    {"ps", cmd_ps, "list the processes of a container", true},
    {"spec", cmd_spec, "write a default config.json", false},
    {"features", cmd_features, "show the supported features as JSON", false},
    {"checkpoint", cmd_checkpoint, "checkpoint a running container with CRIU", true},
    {"restore", cmd_restore, "restore a container from a checkpoint", true},
    {0},
};

enum {
	OPT_ROOT,
	OPT_LOG,
	OPT_LOG_FORMAT,
	OPT_DEBUG,
	OPT_SYSTEMD,
	OPT_VERSION,
	OPT_ROOTLESS,
	OPT_CRIU
};

static const struct cli_option global_options[] = {
    {"root", 0, true, OPT_ROOT, "state directory (default /run/brisk)"},
    {"log", 0, true, OPT_LOG, "log file (default: stderr)"},
    {"log-format", 0, true, OPT_LOG_FORMAT, "text or json"},
    {"debug", 0, false, OPT_DEBUG, "log debug messages"},
    {"systemd-cgroup", 0, false, OPT_SYSTEMD, "manage cgroups through systemd"},
    {"rootless", 0, true, OPT_ROOTLESS, "true, false or auto"},
    {"criu", 0, true, OPT_CRIU, "path of the criu binary"},
    {"version", 'v', false, OPT_VERSION, "print the version"},
    CLI_HELP_OPTION,
    {0},
};

struct globals {
	const char *root, *log, *log_format, *rootless, *criu;
	bool debug, systemd, version, help;
};

static int handle(const struct cli_parsed *p, void *userdata)
{
	struct globals *g = userdata;

	switch (p->id) {
	case OPT_ROOT:
		g->root = p->value;
		break;
	case OPT_LOG:
		g->log = p->value;
		break;
	case OPT_LOG_FORMAT:
		g->log_format = p->value;
		break;
	case OPT_DEBUG:
		g->debug = cli_bool(p);
		break;
	case OPT_SYSTEMD:
		g->systemd = cli_bool(p);
		break;
	case OPT_ROOTLESS:
		g->rootless = p->value;
		break;
	case OPT_CRIU:
		g->criu = p->value;
		break;
	case OPT_VERSION:
		g->version = true;
		break;
	case CLI_HELP:
		g->help = true;
		break;
	}
	return 0;
}

/* As runc and crun print it: the version, the spec, the libraries, and what is built in. */
static void print_version(void)
{
	const struct scmp_version *sv = seccomp_version();

	printf("brisk version %s\nspec: 1.2.0\n", BRISK_VERSION);
	if (sv)
		printf("libseccomp: %u.%u.%u\n", sv->major, sv->minor, sv->micro);
	/* CUDA checkpoints load the driver at run time: built in means the code is there */
	printf(
	    "+SECCOMP +CAP +CRIU +APPARMOR +SELINUX +IDMAP +LAZY-IMAGES %cGPU %cFAULT-INJECTION\n",
	    BRISK_GPU ? '+' : '-', BRISK_FAULT_INJECTION ? '+' : '-');
}

static void usage(void)
{
	cli_print_help("brisk [global options] COMMAND [options] [arguments]",
		       "brisk is an OCI container runtime for fast cold starts.", global_options);
	printf("\nCommands:\n");
	for (const struct command *c = commands; c->name; c++)
		printf("  %-12s %s\n", c->name, c->summary);
}

/* The command being run, once known. */
static const struct command *current;

static int run(int argc, char **argv)
{
	struct globals g = {.root = "/run/brisk"};
	struct runtime_ctx rt = {.rootfd = -EBADF};
	enum log_format fmt = LOG_FORMAT_TEXT;
	int i, r;

	log_set_program("brisk");
	i = cli_parse("brisk", argc - 1, argv + 1, global_options, handle, &g);
	if (i < 0)
		return i;
	i++;
	const struct command *c;
	for (c = commands; i < argc && c->name; c++)
		if (strcmp(c->name, argv[i]) == 0)
			break;
	/* Before brisk opens anything: the fds its caller passed, which alone --preserve-fds
	 * may hand to a container. */
	if (i < argc && (c->run == cmd_create || c->run == cmd_run || c->run == cmd_exec))
		process_note_inherited_fds();
	if (g.log_format && log_format_from_string(g.log_format, &fmt) < 0)
		return log_error_errno(-EINVAL, "unknown --log-format '%s' (text or json)",
				       g.log_format);
	if (g.log && (r = log_open(g.log, fmt)) < 0)
		return log_error_errno(r, "open log file '%s': %m", g.log);
	if (g.debug)
		log_set_level(LOG_LEVEL_DEBUG);
	if (g.version) {
		print_version();
		return 0;
	}
	if (g.help || i >= argc) {
		usage();
		return g.help ? 0 : -EINVAL;
	}
	if (!c->name)
		return log_error_errno(-EINVAL, "unknown command '%s'", argv[i]);
	current = c;
	/* Commands that put a process into a container run from a sealed copy of brisk. */
	if ((c->run == cmd_create || c->run == cmd_run || c->run == cmd_exec ||
	     c->run == cmd_restore) &&
	    (r = sealed_exe_ensure(argv)) < 0)
		return r;
	if (g.systemd && access("/run/systemd/system", F_OK) < 0)
		return log_error_errno(-EOPNOTSUPP, "--systemd-cgroup: systemd is not running on "
						    "this host (no /run/systemd/system)");
	/* as runc: a relative --root is taken from the current directory (CRIU and the
	 * paths kept in the state need it absolute) */
	_cleanup_free_ char *abs_root = NULL;
	if (g.root[0] != '/') {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)) || !(abs_root = path_join(cwd, g.root)))
			return log_error_errno(-errno, "state directory '%s': %m", g.root);
		g.root = abs_root;
	}
	rt.root = g.root;
	rt.systemd_cgroup = g.systemd;
	rt.criu = g.criu;
	rt.rootless = geteuid() != 0;
	if (g.rootless && strcmp(g.rootless, "auto") != 0)
		rt.rootless = strcmp(g.rootless, "true") == 0;
	bool is_help = false;
	for (int k = i + 1; k < argc; k++)
		if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0)
			is_help = true;
	if (c->needs_root_dir && !is_help) {
		bool creates = c->run == cmd_create || c->run == cmd_run || c->run == cmd_restore;
		r = state_open_root(rt.root, creates, &rt.rootfd);
		if (r < 0 && !(r == -ENOENT && !creates))
			return log_error_errno(r, "open state directory '%s': %m", rt.root);
	}
	r = c->run(&rt, argc - i - 1, argv + i + 1);
	safe_close(rt.rootfd);
	return r;
}

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

int main(int argc, char **argv)
{
	int r = run(argc, argv);

	log_close();
#ifdef SANITIZED
	/* LeakSanitizer's check at exit ptraces us, and spins for ever on a process that is
	 * not dumpable (exec makes itself so): in sanitized builds only, become dumpable again. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
	/* as runc's exec: the runtime's own failure is 255, apart from any status of the
	 * program */
	if (r < 0)
		return current && current->run == cmd_exec ? 255 : 1;
	return r;
}
