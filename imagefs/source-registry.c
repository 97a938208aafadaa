/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The convert source "registry:HOST[:PORT]/REPO[:TAG|@DIGEST]": an image straight from an OCI
 * distribution registry, as nydusify and ctr-remote read one. The registry is reached through
 * the registry store (store-registry.c: its auth, bounds and error accounts), opened on the
 * same HOST/REPO. The manifest is asked for as an OCI image manifest, a docker v2 schema 2
 * manifest, an OCI index or a docker manifest list; from an index the image for this host's
 * platform is taken (oci.c). A manifest named by digest, and each one an index names, is
 * checked against its digest; the config (through imagefs_store_read_blob) too.
 *
 * Layers are fetched one at a time into a private spool directory (under $TMPDIR, else
 * /var/tmp), each checked against its descriptor (size and sha256, computed as it arrives)
 * before the converter reads it, and removed once applied: the disk holds one layer at a time,
 * and the spool goes with the image (ifs_oci_free()), whatever the exit path.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "imagefs-internal.h"

#define MAX_CONFIG (16u << 20)
#define ACCEPT_ALL OCI_MEDIA_MANIFEST ", " DOCKER_MANIFEST ", " OCI_MEDIA_INDEX ", " DOCKER_LIST
#define ACCEPT_IMAGE OCI_MEDIA_MANIFEST ", " DOCKER_MANIFEST

static bool is_index(const char *mt)
{
	return strcmp(mt, OCI_MEDIA_INDEX) == 0 || strcmp(mt, DOCKER_LIST) == 0;
}

static bool is_image(const char *mt)
{
	return strcmp(mt, OCI_MEDIA_MANIFEST) == 0 || strcmp(mt, DOCKER_MANIFEST) == 0;
}

/*
 * Manifest MREF (a tag or "sha256:HEX") of the source, parsed; *RET_TYPE its media type (the
 * JSON's own "mediaType", else the Content-Type it came with). WANT: the digest it must have
 * (NULL: none, a tag). Logs.
 */
static int get_manifest(struct ifs_oci_image *img, const char *mref, const char *accept,
			const struct digest *want, struct json_object **ret, char **ret_type)
{
	struct imagefs_store *s = img->remote;
	_cleanup_json_ struct json_object *m = NULL;
	_cleanup_free_ char *body = NULL, *ctype = NULL, *mt = NULL;
	char ds[DIGEST_STRING_SIZE];
	const char *jmt;
	struct digest got;
	size_t len;
	int r;

	r = ifs_registry_get_manifest(s, mref, accept, &body, &len, &ctype);
	if (r == -ENOENT)
		return log_error_errno(r, "'%s': no manifest '%s' in the registry: %s",
				       img->remote_ref, mref, ifs_store_strerror(s, r));
	if (r < 0)
		return log_error_errno(r, "'%s': manifest '%s': %s", img->remote_ref, mref,
				       ifs_store_strerror(s, r));
	if (want) {
		if ((r = digest_buffer(body, len, &got)) < 0)
			return r;
		if (!digest_equal(&got, want))
			return log_error_errno(-EBADMSG,
					       "'%s': manifest '%s': content has digest %s, not "
					       "the one asked for",
					       img->remote_ref, mref, digest_format(&got, ds));
	}
	if (json_parse(body, len, &m) < 0 || !json_object_is_type(m, json_type_object))
		return log_error_errno(-EBADMSG, "'%s': manifest '%s': not a JSON object",
				       img->remote_ref, mref);
	if (json_get_string(m, "mediaType", &jmt) == 0)
		mt = strdup(jmt);
	else if (ctype)
		/* "TYPE; charset=..." */
		mt = strndup(ctype, strcspn(ctype, "; "));
	else
		mt = strdup("");
	if (!mt)
		return -ENOMEM;
	*ret = TAKE_PTR(m);
	*ret_type = TAKE_PTR(mt);
	return 0;
}

/* The image manifest REF names for this host: through an index if it is one. Logs. */
static int resolve(struct ifs_oci_image *img, const char *mref, const struct digest *want,
		   struct json_object **ret, char **ret_what)
{
	_cleanup_json_ struct json_object *m = NULL;
	_cleanup_free_ char *mt = NULL, *what = NULL;
	struct json_object *desc;
	struct digest d;
	const char *dg;
	int r;

	if ((r = get_manifest(img, mref, ACCEPT_ALL, want, &m, &mt)) < 0)
		return r;
	if (is_index(mt)) {
		_cleanup_free_ char *idx_what = NULL;

		if (asprintf(&idx_what, "'%s': image index '%s'", img->remote_ref, mref) < 0)
			return -ENOMEM;
		if ((r = ifs_oci_pick_platform(m, idx_what, &desc)) < 0)
			return r;
		if (json_get_string(desc, "digest", &dg) < 0 || digest_parse(dg, &d) < 0)
			return log_error_errno(-EBADMSG, "%s: bad descriptor for this platform",
					       idx_what);
		if (!(what = strdup(dg)))
			return -ENOMEM;
		json_object_put(TAKE_PTR(m));
		free(TAKE_PTR(mt));
		if ((r = get_manifest(img, what, ACCEPT_IMAGE, &d, &m, &mt)) < 0)
			return r;
		if (is_index(mt))
			return log_error_errno(-EPROTONOSUPPORT,
					       "'%s': manifest %s: nested image indexes are not "
					       "supported",
					       img->remote_ref, what);
	} else if (!(what = strdup(mref))) {
		return -ENOMEM;
	}
	if (!is_image(mt))
		return log_error_errno(-EPROTONOSUPPORT,
				       "'%s': manifest '%s': unsupported media type '%s' (an OCI "
				       "image manifest or index, or a docker v2 schema 2 manifest "
				       "or manifest list, is needed)",
				       img->remote_ref, what, mt);
	*ret = TAKE_PTR(m);
	*ret_what = TAKE_PTR(what);
	return 0;
}

static int read_config(struct ifs_oci_image *img)
{
	_cleanup_free_ void *buf = NULL;
	char ds[DIGEST_STRING_SIZE];
	size_t len;
	int r;

	if (!img->has_config)
		return 0;
	digest_format(&img->config_digest, ds);
	if (img->config_size > MAX_CONFIG)
		return log_error_errno(-EFBIG, "'%s': config %s: %llu bytes, more than %u",
				       img->remote_ref, ds, (unsigned long long)img->config_size,
				       MAX_CONFIG);
	r = imagefs_store_read_blob(img->remote, &img->config_digest, img->config_size, &buf, &len);
	if (r == -EBADMSG)
		return log_error_errno(r, "'%s': config %s: content does not match its digest",
				       img->remote_ref, ds);
	if (r < 0)
		return log_error_errno(r, "'%s': config %s: %s", img->remote_ref, ds,
				       ifs_store_strerror(img->remote, r));
	return ifs_oci_config_parse(img, buf, len);
}

static int make_spool(struct ifs_oci_image *img)
{
	const char *tmp = getenv("TMPDIR");
	_cleanup_free_ char *dir = NULL;

	if (asprintf(&dir, "%s/brisk-pull-XXXXXX", tmp && *tmp ? tmp : "/var/tmp") < 0)
		return -ENOMEM;
	if (!mkdtemp(dir))
		return log_error_errno(-errno, "spool directory '%s': %m", dir);
	img->tmpdir = TAKE_PTR(dir);
	img->blobs_fd = open(img->tmpdir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (img->blobs_fd < 0)
		return log_error_errno(-errno, "'%s': %m", img->tmpdir);
	return 0;
}

int ifs_source_registry_open(const char *ref, const struct imagefs_store_options *opts,
			     struct ifs_oci_image *img)
{
	_cleanup_json_ struct json_object *m = NULL;
	_cleanup_free_ char *spec = NULL, *what = NULL;
	const char *at = strchr(ref, '@');
	bool by_digest = at != NULL;
	char mref[DIGEST_STRING_SIZE];
	struct digest want;
	int r;

	if (!(img->remote_ref = strdup(ref)))
		return -ENOMEM;
	if (by_digest && digest_parse(at + 1, &want) < 0)
		return log_error_errno(-EINVAL, "'%s': bad digest (sha256:HEX expected)", ref);
	if (!(spec = by_digest ? strndup(ref, (size_t)(at - ref)) : strdup(ref)))
		return -ENOMEM;
	if ((r = imagefs_store_open(spec, opts, &img->remote)) < 0)
		return r;
	if (!ifs_store_is_remote(img->remote))
		return log_error_errno(-EINVAL, "'%s': not a registry", ref);
	if (by_digest)
		digest_format(&want, mref);
	else
		snprintf(mref, sizeof(mref), "%s", img->remote->tag ?: "latest");
	if ((r = resolve(img, mref, by_digest ? &want : NULL, &m, &what)) < 0)
		return r;
	if ((r = ifs_oci_manifest_parse(img, m, what)) < 0 || (r = read_config(img)) < 0)
		return r;
	return make_spool(img);
}

struct fetch {
	struct digest_ctx *ctx;
	uint64_t got, size;
	int err;
	bool progress;
	size_t no, n;
	struct timespec last;
	char short_digest[20];
};

static void show(struct fetch *f, bool force)
{
	struct timespec now;

	if (!f->progress)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!force &&
	    (now.tv_sec - f->last.tv_sec) * 1000 + (now.tv_nsec - f->last.tv_nsec) / 1000000 < 500)
		return;
	f->last = now;
	fprintf(stderr, "\rfetch layer %zu/%zu %s: %.1f/%.1f MiB ", f->no, f->n, f->short_digest,
		f->got / 1048576.0, f->size / 1048576.0);
	if (force)
		fputc('\n', stderr);
	fflush(stderr);
}

/* The blob as it arrives: hashed on the way, so it is read once. */
static void tap(void *arg, uint64_t off, const void *data, size_t len)
{
	struct fetch *f = arg;

	if (off == 0 && f->got) {
		/* the request started over (after authenticating): so does the digest */
		f->got = 0;
		f->err = digest_ctx_reset(f->ctx);
	}
	if (f->err < 0)
		return;
	if ((f->err = digest_ctx_update(f->ctx, data, len)) < 0)
		return;
	f->got += len;
	show(f, false);
}

int ifs_source_registry_fetch_layer(struct ifs_oci_image *img, size_t i, bool progress)
{
	const struct ifs_layer *l = &img->layers[i];
	struct imagefs_store *s = img->remote;
	char hex[DIGEST_HEX_SIZE + 1], ds[DIGEST_STRING_SIZE], gs[DIGEST_STRING_SIZE];
	_cleanup_close_ int fd = -EBADF;
	_cleanup_(digest_ctx_freep) struct digest_ctx *ctx = NULL;
	struct fetch f = {.size = l->size, .progress = progress, .no = i + 1, .n = img->n_layers};
	struct digest got;
	int r;

	digest_format(&l->digest, ds);
	snprintf(f.short_digest, sizeof(f.short_digest), "%.19s", ds);
	digest_format_hex(&l->digest, hex);
	(void)unlinkat(img->blobs_fd, hex, 0);
	fd = openat(img->blobs_fd, hex, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return log_error_errno(-errno, "spool layer %s in '%s': %m", ds, img->tmpdir);
	if ((r = digest_ctx_new(&ctx)) < 0)
		return r;
	f.ctx = ctx;
	s->blob_tap = tap;
	s->blob_tap_arg = &f;
	/* a blob of size 0 is no tar: the descriptor's size bounds it (0 would be no bound) */
	r = ifs_store_get_blob(s, &l->digest, l->size ? l->size : 1, fd);
	s->blob_tap = NULL;
	s->blob_tap_arg = NULL;
	if (r == 0 && f.err < 0)
		r = f.err;
	if (r == 0)
		r = digest_ctx_final(ctx, &got);
	if (r == -EFBIG)
		return log_error_errno(r,
				       "'%s': layer %s: more than the %llu bytes its descriptor "
				       "says",
				       img->remote_ref, ds, (unsigned long long)l->size);
	if (r < 0)
		return log_error_errno(r, "'%s': layer %s: %s", img->remote_ref, ds,
				       ifs_store_strerror(s, r));
	if (f.got != l->size)
		return log_error_errno(
		    -EBADMSG, "'%s': layer %s: %llu bytes, its descriptor says %llu",
		    img->remote_ref, ds, (unsigned long long)f.got, (unsigned long long)l->size);
	if (!digest_equal(&got, &l->digest))
		return log_error_errno(-EBADMSG,
				       "'%s': layer %s: content has digest %s: the registry's "
				       "blob does not match its descriptor",
				       img->remote_ref, ds, digest_format(&got, gs));
	show(&f, true);
	return 0;
}
