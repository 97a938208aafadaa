/* SPDX-License-Identifier: Apache-2.0 */
/*
 * brisk-snapshotter: containerd's proxy snapshotter, one per node.
 *
 *   brisk-snapshotter [--root DIR] [--address SOCKET] [--log FILE] [--log-format text|json]
 *                     [--imagefs PATH] [--debug]
 *
 * containerd reaches it through
 *   [proxy_plugins.brisk]
 *     type = "snapshot"
 *     address = "/run/brisk/snapshotter.sock"
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "layout.h"
#include "lazy.h"
#include "common/log.h"
#include "server.h"
#include "service.h"
#include "store.h"

#define DEFAULT_ROOT "/var/lib/brisk-snapshotter"
#define DEFAULT_ADDRESS "/run/brisk/snapshotter.sock"

static void usage(FILE *f)
{
	fputs(
	    "usage: brisk-snapshotter [--root DIR] [--address SOCKET] [--log FILE]\n"
	    "                         [--log-format text|json] [--imagefs PATH]\n"
	    "                         [--registry-auth FILE] [--debug]\n"
	    "  --root DIR       snapshots and their metadata (" DEFAULT_ROOT ")\n"
	    "  --address SOCKET the unix socket containerd's proxy plugin names\n"
	    "                   (" DEFAULT_ADDRESS ")\n"
	    "  --imagefs PATH   the brisk-imagefs that mounts brisk images (on PATH)\n"
	    "  --registry-auth FILE  credentials for the registries of brisk images,\n"
	    "                   {\"auths\": {\"HOST[:PORT]\": {\"auth\": base64(user:password)}}}\n"
	    "                   (else brisk-imagefs reads $REGISTRY_AUTH_FILE,\n"
	    "                   $XDG_RUNTIME_DIR/containers/auth.json, "
	    "$DOCKER_CONFIG/config.json,\n"
	    "                   $HOME/.docker/config.json)\n",
	    f);
}

struct options {
	const char *root, *address, *log_file;
	enum log_format log_format;
};

/*
 * The credentials file of --registry-auth: brisk-imagefs, which every lazy mount runs with this
 * daemon's environment, reads $REGISTRY_AUTH_FILE before any other (imagefs/registry-auth.c).
 * An absolute path, since mounts made after a restart read it again; a file that cannot be
 * read is an error now rather than a 401 at the first pull.
 */
static int registry_auth(const char *path)
{
	_cleanup_close_ int fd = -EBADF;

	if (path[0] != '/')
		return log_error_errno(-EINVAL, "--registry-auth '%s': must be an absolute path",
				       path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(-errno, "--registry-auth '%s': %m", path);
	if (setenv("REGISTRY_AUTH_FILE", path, 1) < 0)
		return log_error_errno(-errno, "--registry-auth '%s': %m", path);
	return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
	    {"root", required_argument, NULL, 'r'},
	    {"address", required_argument, NULL, 'a'},
	    {"log", required_argument, NULL, 'l'},
	    {"log-format", required_argument, NULL, 'f'},
	    {"imagefs", required_argument, NULL, 'i'},
	    {"debug", no_argument, NULL, 'd'},
	    {"registry-auth", required_argument, NULL, 'A'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			o->root = optarg;
			break;
		case 'a':
			o->address = optarg;
			break;
		case 'l':
			o->log_file = optarg;
			break;
		case 'f':
			if (log_format_from_string(optarg, &o->log_format) < 0)
				return log_error_errno(-EINVAL, "bad --log-format '%s'", optarg);
			break;
		case 'i':
			lazy_set_imagefs(optarg);
			break;
		case 'd':
			log_set_level(LOG_LEVEL_DEBUG);
			break;
		case 'A':
			if (registry_auth(optarg) < 0)
				return -EINVAL;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_SUCCESS);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return log_error_errno(-EINVAL, "unexpected argument '%s'", argv[optind]);
	}
	return 0;
}

static void store_freep(struct store **s)
{
	*s = store_free(*s);
}

int main(int argc, char **argv)
{
	struct options o = {.root = DEFAULT_ROOT, .address = DEFAULT_ADDRESS};
	_cleanup_(store_freep) struct store *store = NULL;
	_cleanup_close_ int lfd = -EBADF;
	struct grpc_service service;
	int r;

	log_set_program("brisk-snapshotter");
	signal(SIGPIPE, SIG_IGN);
	if (parse_args(argc, argv, &o) < 0)
		return EXIT_FAILURE;
	if (o.log_file && log_open(o.log_file, o.log_format) < 0) {
		log_error("open log '%s' failed", o.log_file);
		return EXIT_FAILURE;
	}
	if (store_open(o.root, &store) < 0)
		return EXIT_FAILURE;
	/* directories whose record never made it to disk, or whose removal a crash cut short */
	(void)layout_cleanup(store);
	/* lazy mounts outlive the daemon, not a reboot */
	(void)lazy_restore_mounts(store);
	(void)service_lazy_mark_empty(store);
	if (server_listen(o.address, &lfd) < 0)
		return EXIT_FAILURE;
	log_info("serving %zu snapshots of '%s' on '%s'", store->n_snaps, o.root, o.address);
	service = (struct grpc_service){
	    .methods = service_methods,
	    .n_methods = service_n_methods,
	    .userdata = store,
	};
	r = server_run(lfd, &service);
	/* a stopped daemon leaves no socket that containerd would dial in vain */
	if (unlink(o.address) < 0)
		log_warning_errno(-errno, "remove socket '%s': %m, ignoring", o.address);
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
