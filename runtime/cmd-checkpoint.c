/* SPDX-License-Identifier: Apache-2.0 */
/* `brisk checkpoint`: its options; the work is container_checkpoint() (checkpoint.c). */
#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "common/fs.h"
#include "common/log.h"
#include "checkpoint.h"
#include "cli.h"
#include "commands.h"
#include "gpu/gpu.h"

enum {
	OPT_IMAGE_PATH,
	OPT_WORK_PATH,
	OPT_LEAVE_RUNNING,
	OPT_TCP,
	OPT_EXT_UNIX,
	OPT_SHELL_JOB,
	OPT_FILE_LOCKS,
	OPT_PRE_DUMP,
	OPT_PARENT_PATH,
	OPT_PAGE_SERVER,
	OPT_CG_MODE,
	OPT_EMPTY_NS,
	OPT_AUTO_DEDUP,
	OPT_LAZY,
	OPT_STATUS_FD,
	OPT_CUDA_TIMEOUT,
};

static const struct cli_option checkpoint_options[] = {
    {"image-path", 0, true, OPT_IMAGE_PATH, "DIR for the images (default: ./checkpoint)"},
    {"work-path", 0, true, OPT_WORK_PATH, "DIR for logs (default: the image path)"},
    {"leave-running", 0, false, OPT_LEAVE_RUNNING, "leave the container running after the dump"},
    {"tcp-established", 0, false, OPT_TCP, "dump established TCP connections"},
    {"ext-unix-sk", 0, false, OPT_EXT_UNIX, "allow external unix sockets"},
    {"shell-job", 0, false, OPT_SHELL_JOB, "allow a shell job (a terminal from outside)"},
    {"file-locks", 0, false, OPT_FILE_LOCKS, "dump file locks"},
    {"pre-dump", 0, false, OPT_PRE_DUMP, "dump memory only, leave the container running"},
    {"parent-path", 0, true, OPT_PARENT_PATH,
     "DIR of the previous images, relative to the "
     "image path"},
    {"page-server", 0, true, OPT_PAGE_SERVER, "HOST:PORT of a CRIU page server"},
    {"manage-cgroups-mode", 0, true, OPT_CG_MODE, "MODE soft, full, strict or ignore"},
    {"empty-ns", 0, true, OPT_EMPTY_NS, "NS to leave out of the dump (network)"},
    {"auto-dedup", 0, false, OPT_AUTO_DEDUP, "deduplicate against the parent images"},
    {"lazy-pages", 0, false, OPT_LAZY,
     "(not supported: dump to a directory and restore "
     "with --lazy-pages)"},
    {"status-fd", 0, true, OPT_STATUS_FD, "(accepted for runc compatibility)"},
    {"cuda-lock-timeout", 0, true, OPT_CUDA_TIMEOUT,
     "MS to wait for each CUDA process's calls in flight (default 10000)"},
    CLI_HELP_OPTION,
    {0},
};

static int handle(const struct cli_parsed *p, void *userdata)
{
	struct checkpoint_args *a = userdata;
	int ns;

	switch (p->id) {
	case OPT_IMAGE_PATH:
		a->image_path = p->value;
		break;
	case OPT_WORK_PATH:
		a->work_path = p->value;
		break;
	case OPT_LEAVE_RUNNING:
		a->so.leave_running = cli_bool(p);
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
	case OPT_PRE_DUMP:
		a->pre_dump = cli_bool(p);
		break;
	case OPT_PARENT_PATH:
		a->so.parent_path = p->value;
		break;
	case OPT_PAGE_SERVER:
		a->so.page_server = p->value;
		break;
	case OPT_CG_MODE:
		if (snapshot_cg_mode_from_string(p->value, &a->so.cg_mode) < 0)
			return log_error_errno(-EINVAL,
					       "--manage-cgroups-mode: '%s' is not soft, full, "
					       "strict or ignore",
					       p->value);
		break;
	case OPT_EMPTY_NS:
		if (snapshot_ns_from_string(p->value, &ns) < 0)
			return log_error_errno(-EINVAL, "--empty-ns: unknown namespace '%s'",
					       p->value);
		a->so.empty_ns |= ns;
		break;
	case OPT_AUTO_DEDUP:
		a->so.auto_dedup = cli_bool(p);
		break;
	case OPT_LAZY:
		a->lazy = cli_bool(p);
		break;
	case OPT_CUDA_TIMEOUT:
		if (parse_int(p->value, &ns) < 0 || ns <= 0)
			return log_error_errno(-EINVAL,
					       "--cuda-lock-timeout: '%s' is not a positive number "
					       "of milliseconds",
					       p->value);
		a->cuda_timeout_ms = (unsigned)ns;
		break;
	case CLI_HELP:
		a->help = true;
		break;
	}
	return 0;
}

int cmd_checkpoint(struct runtime_ctx *rt, int argc, char **argv)
{
	struct checkpoint_args a = {
	    .image_path = "checkpoint",
	    .cuda_timeout_ms = GPU_LOCK_TIMEOUT_MS,
	    .so = {.criu_path = rt->criu, .log_level = log_get_level() >= LOG_LEVEL_DEBUG ? 4 : 0}};
	int i;

	i = cli_parse("checkpoint", argc, argv, checkpoint_options, handle, &a);
	if (i < 0)
		return i;
	if (a.help) {
		cli_print_help("brisk checkpoint [options] ID",
			       "Checkpoint a running container with CRIU.", checkpoint_options);
		return 0;
	}
	if (argc - i != 1)
		return log_error_errno(-EINVAL, "checkpoint: expects exactly one container id");
	command_log_context("checkpoint", argv[i]);
	/* what CRIU and we write (images, logs) is for the owner alone */
	umask(077);
	if (a.lazy)
		return log_error_errno(-EOPNOTSUPP,
				       "--lazy-pages on checkpoint is not supported: dump to the "
				       "image path, then use 'restore --lazy-pages'");
	if (!a.work_path)
		a.work_path = a.image_path;
	return container_checkpoint(rt, &a, argv[i]);
}
