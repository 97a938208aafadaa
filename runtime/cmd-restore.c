/* SPDX-License-Identifier: Apache-2.0 */
/* `brisk restore`: its options; the work is container_restore() (restore.c). */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>

#include "common/log.h"
#include "checkpoint.h"
#include "cli.h"
#include "commands.h"
#include "relay.h"

enum {
	OPT_IMAGE_PATH,
	OPT_WORK_PATH,
	OPT_BUNDLE,
	OPT_DETACH,
	OPT_PID_FILE,
	OPT_CONSOLE,
	OPT_NO_SUBREAPER,
	OPT_NO_PIVOT,
	OPT_LAZY,
	OPT_LAZY_RECORD,
	OPT_CG_MODE,
	OPT_TCP,
	OPT_EXT_UNIX,
	OPT_SHELL_JOB,
	OPT_FILE_LOCKS,
	OPT_AUTO_DEDUP,
	OPT_EMPTY_NS,
};

static const struct cli_option restore_options[] = {
    {"image-path", 0, true, OPT_IMAGE_PATH,
     "DIR of the images (default: ./checkpoint), or a snapshot in a store to pull: "
     "registry:HOST/REPO:TAG, dir:PATH:TAG"},
    {"work-path", 0, true, OPT_WORK_PATH, "DIR for logs (default: in the container's state)"},
    {"bundle", 'b', true, OPT_BUNDLE, "path to the bundle (default: current directory)"},
    {"detach", 'd', false, OPT_DETACH, "do not wait for the container"},
    {"pid-file", 0, true, OPT_PID_FILE, "write the init's pid to this file"},
    {"console-socket", 0, true, OPT_CONSOLE, "unix socket that receives the pty master"},
    {"no-subreaper", 0, false, OPT_NO_SUBREAPER, "do not become a subreaper"},
    {"no-pivot", 0, false, OPT_NO_PIVOT, "(CRIU sets up the root itself)"},
    {"lazy-pages", 0, false, OPT_LAZY, "run before memory is loaded; pages come on fault"},
    {"lazy-pages-record", 0, false, OPT_LAZY_RECORD,
     "with --lazy-pages: record the pages touched first, for later lazy restores"},
    {"manage-cgroups-mode", 0, true, OPT_CG_MODE, "MODE soft, full, strict or ignore"},
    {"tcp-established", 0, false, OPT_TCP, "restore established TCP connections"},
    {"ext-unix-sk", 0, false, OPT_EXT_UNIX, "allow external unix sockets"},
    {"shell-job", 0, false, OPT_SHELL_JOB, "allow a shell job"},
    {"file-locks", 0, false, OPT_FILE_LOCKS, "restore file locks"},
    {"auto-dedup", 0, false, OPT_AUTO_DEDUP, "(ignored: restore never changes the images)"},
    {"empty-ns", 0, true, OPT_EMPTY_NS, "(accepted for runc compatibility)"},
    CLI_HELP_OPTION,
    {0},
};

static int handle(const struct cli_parsed *p, void *userdata)
{
	struct restore_args *a = userdata;

	switch (p->id) {
	case OPT_IMAGE_PATH:
		a->image_path = p->value;
		break;
	case OPT_WORK_PATH:
		a->work_path = p->value;
		break;
	case OPT_BUNDLE:
		a->bundle = p->value;
		break;
	case OPT_DETACH:
		a->detach = cli_bool(p);
		break;
	case OPT_PID_FILE:
		a->pid_file = p->value;
		break;
	case OPT_CONSOLE:
		a->console_socket = p->value;
		break;
	case OPT_NO_SUBREAPER:
		a->no_subreaper = cli_bool(p);
		break;
	case OPT_LAZY:
		a->so.lazy_pages = cli_bool(p);
		break;
	case OPT_LAZY_RECORD:
		a->so.lazy_record = cli_bool(p);
		break;
	case OPT_CG_MODE:
		if (snapshot_cg_mode_from_string(p->value, &a->so.cg_mode) < 0)
			return log_error_errno(-EINVAL,
					       "--manage-cgroups-mode: '%s' is not soft, full, "
					       "strict or ignore",
					       p->value);
		break;
	case OPT_TCP:
		a->so.tcp_established = cli_bool(p);
		break;
	case OPT_EXT_UNIX:
		a->so.ext_unix_sk = cli_bool(p);
		break;
	case OPT_SHELL_JOB:
		a->so.shell_job = cli_bool(p);
		break;
	case OPT_FILE_LOCKS:
		a->so.file_locks = cli_bool(p);
		break;
	case OPT_AUTO_DEDUP:
		if (cli_bool(p))
			log_warning("--auto-dedup is ignored on restore: it would change the "
				    "images that other restores share");
		break;
	case CLI_HELP:
		a->help = true;
		break;
	}
	return 0;
}

int cmd_restore(struct runtime_ctx *rt, int argc, char **argv)
{
	struct restore_args a = {
	    .image_path = "checkpoint",
	    .bundle = ".",
	    .so = {.criu_path = rt->criu, .log_level = log_get_level() >= LOG_LEVEL_DEBUG ? 4 : 0}};
	sigset_t set;
	pid_t pid;
	int i, r;

	i = cli_parse("restore", argc, argv, restore_options, handle, &a);
	if (i < 0)
		return i;
	if (a.help) {
		cli_print_help("brisk restore [options] ID",
			       "Restore a container from a checkpoint (under a new id too).",
			       restore_options);
		return 0;
	}
	if (argc - i != 1)
		return log_error_errno(-EINVAL, "restore: expects exactly one container id");
	if (a.so.lazy_record && !a.so.lazy_pages)
		return log_error_errno(-EINVAL, "restore: --lazy-pages-record needs --lazy-pages");
	a.id = argv[i];
	command_log_context("restore", a.id);
	if (!a.detach && !a.no_subreaper)
		(void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	/* in the foreground, a signal that comes while CRIU restores waits for the relay */
	relay_signal_set(&set);
	if (!a.detach)
		sigprocmask(SIG_BLOCK, &set, NULL);
	if ((r = container_restore(rt, &a, &pid)) < 0)
		return r;
	if (a.detach)
		return 0;
	r = relay_wait(pid, -1);
	(void)container_delete(rt, a.id, true);
	return r;
}
