/* SPDX-License-Identifier: Apache-2.0 */
/*
 * brisk-image: convert OCI images into brisk's lazy image format and move them between stores.
 *   brisk-image convert [--chunk-size N] [--zstd-level N] [--progress] [--no-dedup] SRC DEST
 *   brisk-image push|pull SRC DEST
 *   brisk-image inspect [--tree] REF
 *   brisk-image verify REF
 *   brisk-image export [--keep-special] REF DIR
 *   brisk-image profile REF FILE    store an access profile (brisk-imagefs --record-profile)
 *   brisk-image push-snapshot [convert options] [--sign KEY] DIR DEST   a checkpoint's images
 *   brisk-image pull-snapshot [--verify PUBKEY] REF DIR
 * SRC of convert: oci:DIR[:TAG], oci-archive:FILE[:TAG], snapshot:DIR or
 * registry:HOST[:PORT]/REPO[:TAG|@DIGEST] (an image straight from a registry). Stores:
 * dir:PATH[:TAG][@DIGEST], registry:HOST[:PORT]/REPO[:TAG][@DIGEST]. Registry credentials:
 * BRISK_REGISTRY_AUTH=user:pass, else the user's podman/docker auth files (imagefs/FORMAT.md,
 * "Registry credentials").
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "imagefs/imagefs.h"
#include "snapshot/snapshot.h"

static struct imagefs_store_options store_opts;

static void usage(FILE *f)
{
	fputs("usage: brisk-image [--debug] [--plain-http] [--insecure-tls] COMMAND ...\n"
	      "  convert [--chunk-size N] [--zstd-level N] [--progress] [--no-dedup] SRC DEST\n"
	      "  push SRC DEST | pull SRC DEST    copy an image between stores\n"
	      "  inspect [--tree] REF\n"
	      "  verify REF\n"
	      "  export [--keep-special] REF DIR\n"
	      "      write the image's tree into DIR (missing or empty), atomically; the image is\n"
	      "      untrusted: by default device nodes, setuid/setgid bits and file capabilities\n"
	      "      are left out, --keep-special keeps them\n"
	      "  profile REF FILE    store an access profile beside the image\n"
	      "  push-snapshot [convert options] [--sign KEY] DIR DEST\n"
	      "      store a checkpoint (brisk checkpoint --image-path DIR) as content:\n"
	      "      the same as convert snapshot:DIR DEST\n"
	      "  pull-snapshot [--verify PUBKEY] REF DIR\n"
	      "      write the checkpoint REF names into DIR (missing or empty), atomically,\n"
	      "      for brisk restore --image-path DIR\n"
	      "SRC: oci:DIR[:TAG] | oci-archive:FILE[:TAG] | snapshot:DIR |\n"
	      "     registry:HOST[:PORT]/REPO[:TAG|@sha256:HEX]\n"
	      "stores: dir:PATH[:TAG][@sha256:HEX] | registry:HOST[:PORT]/REPO[:TAG][@sha256:HEX]\n"
	      "registry credentials: BRISK_REGISTRY_AUTH=USER:PASSWORD, else $REGISTRY_AUTH_FILE,\n"
	      "  $XDG_RUNTIME_DIR/containers/auth.json, $DOCKER_CONFIG/config.json or\n"
	      "  ~/.docker/config.json\n",
	      f);
}

static int open_store(const char *spec, struct imagefs_store **ret)
{
	return imagefs_store_open(spec, &store_opts, ret);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmd_convert(int argc, char **argv, bool snapshot)
{
	static const struct option longopts[] = {{"chunk-size", required_argument, NULL, 'c'},
						 {"zstd-level", required_argument, NULL, 'z'},
						 {"progress", no_argument, NULL, 'p'},
						 {"no-progress", no_argument, NULL, 'P'},
						 {"no-dedup", no_argument, NULL, 'n'},
						 {"sign", required_argument, NULL, 's'},
						 {}};
	struct imagefs_convert_options o = {.progress = isatty(STDERR_FILENO),
					    .source_store = &store_opts};
	const char *sign_key = NULL;
	_cleanup_(imagefs_store_freep) struct imagefs_store *dest = NULL;
	struct imagefs_convert_stats st;
	char ds[DIGEST_STRING_SIZE];
	_cleanup_free_ char *src = NULL;
	unsigned long long v;
	struct digest d;
	int c, r, lvl;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (parse_uint64(optarg, &v) < 0 || v > UINT32_MAX)
				return log_error_errno(-EINVAL, "bad chunk size '%s'", optarg);
			o.chunk_size = (uint32_t)v;
			break;
		case 'z':
			if (parse_int(optarg, &lvl) < 0 || lvl < 1 || lvl > 19)
				return log_error_errno(-EINVAL, "bad zstd level '%s'", optarg);
			o.zstd_level = lvl;
			break;
		case 'p':
			o.progress = true;
			break;
		case 'P':
			o.progress = false;
			break;
		case 'n':
			o.no_dedup_store = true;
			break;
		case 's':
			if (!snapshot)
				return log_error_errno(-EINVAL, "--sign is for push-snapshot");
			sign_key = optarg;
			break;
		default:
			return -EINVAL;
		}
	}
	if (argc - optind != 2)
		return log_error_errno(-EINVAL, snapshot ? "push-snapshot needs DIR and DEST"
							 : "convert needs SRC and DEST");
	if (asprintf(&src, "%s%s", snapshot ? "snapshot:" : "", argv[optind]) < 0)
		return -ENOMEM;
	/* a bad source or key leaves no store behind */
	if (strncmp(src, "snapshot:", 9) == 0 && (r = imagefs_snapshot_dir_check(src + 9)) < 0)
		return r;
	if (sign_key && (r = imagefs_snapshot_key_check(sign_key)) < 0)
		return r;
	if ((r = open_store(argv[optind + 1], &dest)) < 0)
		return r;
	double t0 = now();
	if ((r = imagefs_convert(src, dest, &o, &d, &st)) < 0)
		return r;
	double dt = now() - t0;
	if (sign_key && (r = imagefs_snapshot_sign(dest, &d, sign_key)) < 0)
		return r;
	printf("%s\n", digest_format(&d, ds));
	fflush(stdout);
	if (strncmp(src, "snapshot:", 9) == 0) {
		fprintf(stderr,
			"stored snapshot in %.2f s: %llu files, %.1f MiB content, %.1f MiB "
			"unique chunks (%.1f MiB reused from the store), %.1f MiB packed in %llu "
			"new blobs, index %llu bytes\n",
			dt, (unsigned long long)st.files, st.content_bytes / 1048576.0,
			st.unique_bytes / 1048576.0, st.reused_bytes / 1048576.0,
			st.packed_bytes / 1048576.0, (unsigned long long)st.new_blobs,
			(unsigned long long)st.index_bytes);
		return 0;
	}
	fprintf(stderr,
		"converted %llu layers (%.1f MiB) in %.2f s: %llu files, %.1f MiB content, "
		"%.1f MiB unique chunks (%.1f MiB reused), %.1f MiB packed in %llu new blobs, "
		"index %llu bytes\n",
		(unsigned long long)st.layers, st.layer_bytes / 1048576.0, dt,
		(unsigned long long)st.files, st.content_bytes / 1048576.0,
		st.unique_bytes / 1048576.0, st.reused_bytes / 1048576.0,
		st.packed_bytes / 1048576.0, (unsigned long long)st.new_blobs,
		(unsigned long long)st.index_bytes);
	return 0;
}

static int cmd_copy(int argc, char **argv)
{
	_cleanup_(imagefs_store_freep) struct imagefs_store *src = NULL, *dst = NULL;
	char ds[DIGEST_STRING_SIZE];
	struct digest d;
	int r;

	if (argc != 3)
		return log_error_errno(-EINVAL, "%s needs SRC and DEST stores", argv[0]);
	if ((r = open_store(argv[1], &src)) < 0 || (r = open_store(argv[2], &dst)) < 0)
		return r;
	if ((r = imagefs_copy(src, dst, &d)) < 0)
		return r;
	printf("%s\n", digest_format(&d, ds));
	return 0;
}

static int cmd_inspect(int argc, char **argv)
{
	_cleanup_(imagefs_store_freep) struct imagefs_store *s = NULL;
	bool tree = false;
	int r;

	if (argc == 3 && strcmp(argv[1], "--tree") == 0) {
		tree = true;
		argv++;
		argc--;
	}
	if (argc != 2)
		return log_error_errno(-EINVAL, "inspect needs REF");
	if ((r = open_store(argv[1], &s)) < 0)
		return r;
	return imagefs_inspect(s, tree, stdout);
}

static int cmd_verify(int argc, char **argv)
{
	_cleanup_(imagefs_store_freep) struct imagefs_store *s = NULL;
	int r;

	if (argc != 2)
		return log_error_errno(-EINVAL, "verify needs REF");
	if ((r = open_store(argv[1], &s)) < 0)
		return r;
	return imagefs_verify(s, stdout);
}

static int cmd_export(int argc, char **argv, bool snapshot)
{
	static const struct option longopts[] = {{"keep-special", no_argument, NULL, 'k'}, {}};
	_cleanup_(imagefs_store_freep) struct imagefs_store *s = NULL;
	struct imagefs_export_options o = {0};
	struct imagefs_export_stats st = {0};
	int c, r;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'k')
			return -EINVAL;
		if (snapshot)
			return log_error_errno(-EINVAL, "%s takes no --keep-special", argv[0]);
		o.keep_special = true;
	}
	if (argc - optind != 2)
		return log_error_errno(-EINVAL, "%s needs REF and DIR", argv[0]);
	if ((r = open_store(argv[optind], &s)) < 0)
		return r;
	if (snapshot)
		return imagefs_export_snapshot(s, argv[optind + 1]);
	if ((r = imagefs_export(s, argv[optind + 1], &o, &st)) < 0)
		return r;
	if (st.devices || st.setid || st.capabilities)
		fprintf(
		    stderr,
		    "left out of '%s': %llu device nodes, the setuid/setgid bits of %llu files, "
		    "%llu file capabilities (--keep-special keeps them)\n",
		    argv[optind + 1], (unsigned long long)st.devices, (unsigned long long)st.setid,
		    (unsigned long long)st.capabilities);
	return 0;
}

/* Where pull-snapshot verifies with when --verify is not given: the node's key, if any. */
#define NODE_PUBKEY "/etc/brisk/snapshot.pub"

/* REF without a digest of its own ("...@sha256:HEX"), then "@" and DIGEST. */
static char *ref_at_digest(const char *ref, const struct digest *d)
{
	char ds[DIGEST_STRING_SIZE];
	const char *at = strstr(ref, "@sha256:");
	char *s;

	if (asprintf(&s, "%.*s@%s", at ? (int)(at - ref) : (int)strlen(ref), ref,
		     digest_format(d, ds)) < 0)
		return NULL;
	return s;
}

/* brisk-snapshot.json's companion: what the snapshot in DIR was pulled as. */
static int write_origin(const char *dir, const char *ref, const struct digest *d,
			const char *pubkey)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char ds[DIGEST_STRING_SIZE];
	const char *text;

	if (!o)
		return -ENOMEM;
	if (dfd < 0)
		return -errno;
	json_object_object_add(o, "ref", json_object_new_string(ref));
	json_object_object_add(o, "digest", json_object_new_string(digest_format(d, ds)));
	json_object_object_add(o, "verifiedWith", pubkey ? json_object_new_string(pubkey) : NULL);
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						     JSON_C_TO_STRING_NOSLASHESCAPE);
	return write_file_atomic_at(dfd, SNAPSHOT_ORIGIN_FILE, text, strlen(text), 0600, false);
}

/*
 * pull-snapshot: with a public key (--verify, else $BRISK_SNAPSHOT_PUBKEY, else the node's
 * NODE_PUBKEY), an unsigned or wrongly signed snapshot is refused. The snapshot written is the
 * one resolved (and verified) first, by its digest: a tag moved meanwhile changes nothing.
 */
static int cmd_pull_snapshot(int argc, char **argv)
{
	static const struct option longopts[] = {{"verify", required_argument, NULL, 'v'}, {}};
	_cleanup_(imagefs_store_freep) struct imagefs_store *s = NULL;
	_cleanup_free_ char *exact = NULL;
	const char *pubkey = NULL;
	struct digest d;
	int c, r;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c != 'v')
			return -EINVAL;
		pubkey = optarg;
	}
	if (argc - optind != 2)
		return log_error_errno(-EINVAL, "pull-snapshot needs REF and DIR");
	if (!pubkey && (pubkey = getenv("BRISK_SNAPSHOT_PUBKEY")) && !*pubkey)
		pubkey = NULL;
	if (!pubkey && access(NODE_PUBKEY, F_OK) == 0)
		pubkey = NODE_PUBKEY;
	if ((r = open_store(argv[optind], &s)) < 0)
		return r;
	if (pubkey)
		r = imagefs_snapshot_verify(s, pubkey, &d);
	else if ((r = imagefs_store_resolve(s, &d)) < 0)
		r = log_error_errno(r, "resolve '%s': %m", argv[optind]);
	if (r < 0)
		return r;
	s = imagefs_store_free(s);
	if (!(exact = ref_at_digest(argv[optind], &d)))
		return -ENOMEM;
	if ((r = open_store(exact, &s)) < 0 ||
	    (r = imagefs_export_snapshot(s, argv[optind + 1])) < 0)
		return r;
	if ((r = write_origin(argv[optind + 1], argv[optind], &d, pubkey)) < 0)
		return log_error_errno(r, "write '%s/%s': %m", argv[optind + 1],
				       SNAPSHOT_ORIGIN_FILE);
	return 0;
}

static int cmd_profile(int argc, char **argv)
{
	_cleanup_(imagefs_store_freep) struct imagefs_store *s = NULL;
	_cleanup_free_ char *data = NULL;
	char ds[DIGEST_STRING_SIZE];
	struct digest d;
	size_t len;
	int r;

	if (argc != 3)
		return log_error_errno(-EINVAL, "profile needs REF and FILE");
	if ((r = open_store(argv[1], &s)) < 0 || (r = imagefs_store_resolve(s, &d)) < 0)
		return r;
	if ((r = read_file_at(AT_FDCWD, argv[2], 16u << 20, &data, &len)) < 0)
		return log_error_errno(r, "read '%s': %m", argv[2]);
	if ((r = imagefs_profile_put(s, &d, data, len)) < 0)
		return log_error_errno(r, "store the profile of %s: %m", digest_format(&d, ds));
	printf("%s\n", digest_format(&d, ds));
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {{"debug", no_argument, NULL, 'd'},
						 {"plain-http", no_argument, NULL, 'h'},
						 {"insecure-tls", no_argument, NULL, 'k'},
						 {"help", no_argument, NULL, '?'},
						 {}};
	_cleanup_free_ char *auth = NULL;
	const char *env = getenv("BRISK_REGISTRY_AUTH");
	int c, r;

	log_set_program("brisk-image");
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			log_set_level(LOG_LEVEL_DEBUG);
			break;
		case 'h':
			store_opts.plain_http = true;
			break;
		case 'k':
			store_opts.insecure_tls = true;
			break;
		default:
			usage(c == '?' && optopt == 0 ? stdout : stderr);
			return c == '?' && optopt == 0 ? 0 : 2;
		}
	}
	if (env && (auth = strdup(env))) {
		char *colon = strchr(auth, ':');
		if (colon) {
			*colon = '\0';
			store_opts.username = auth;
			store_opts.password = colon + 1;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 1;
	if (strcmp(cmd, "convert") == 0 || strcmp(cmd, "push-snapshot") == 0)
		r = cmd_convert(argc, argv, strcmp(cmd, "push-snapshot") == 0);
	else if (strcmp(cmd, "push") == 0 || strcmp(cmd, "pull") == 0 || strcmp(cmd, "copy") == 0)
		r = cmd_copy(argc, argv);
	else if (strcmp(cmd, "inspect") == 0)
		r = cmd_inspect(argc, argv);
	else if (strcmp(cmd, "verify") == 0)
		r = cmd_verify(argc, argv);
	else if (strcmp(cmd, "export") == 0)
		r = cmd_export(argc, argv, false);
	else if (strcmp(cmd, "pull-snapshot") == 0)
		r = cmd_pull_snapshot(argc, argv);
	else if (strcmp(cmd, "profile") == 0)
		r = cmd_profile(argc, argv);
	else {
		usage(stderr);
		return 2;
	}
	return r < 0 ? 1 : 0;
}
