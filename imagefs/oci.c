/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OCI image sources: "oci:DIR[:TAG]" (an image layout) and "oci-archive:FILE[:TAG]" (a tar of
 * one, unpacked into a private temp directory first); "registry:" sources are source-registry.c's,
 * which shares the manifest and config parsing here. Resolves the tag to an image manifest (an
 * index's image for this host's platform), checks the digest of every JSON blob read, lists the
 * layers and reads the image's config.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "imagefs-internal.h"

#define MAX_JSON (16u << 20)

void ifs_oci_free(struct ifs_oci_image *img)
{
	if (!img)
		return;
	safe_close(img->blobs_fd);
	if (img->tmpdir) {
		(void)rm_rf_at(AT_FDCWD, img->tmpdir);
		free(img->tmpdir);
	}
	for (size_t i = 0; i < img->n_layers; i++)
		free(img->layers[i].media_type);
	free(img->layers);
	json_object_put(img->config);
	imagefs_store_free(img->remote);
	free(img->remote_ref);
	free(img);
}

static void oci_freep(struct ifs_oci_image **p)
{
	ifs_oci_free(*p);
	*p = NULL;
}

/* "PATH[:TAG]": the tag is what follows the last ':' when it holds no '/'. */
static int split_tag(const char *s, char **ret_path, char **ret_tag)
{
	const char *colon = strrchr(s, ':');
	_cleanup_free_ char *path = NULL, *tag = NULL;

	if (colon && !strchr(colon, '/') && colon != s) {
		path = strndup(s, (size_t)(colon - s));
		tag = strdup(colon + 1);
		if (!path || !tag)
			return -ENOMEM;
		if (!*tag)
			return -EINVAL;
	} else if (!(path = strdup(s))) {
		return -ENOMEM;
	}
	*ret_path = TAKE_PTR(path);
	*ret_tag = TAKE_PTR(tag);
	return 0;
}

static int read_json_blob(int blobs_fd, const char *digest_str, struct json_object **ret)
{
	_cleanup_free_ char *buf = NULL;
	char hex[DIGEST_HEX_SIZE + 1];
	struct digest d, got;
	size_t len;
	int r;

	if (digest_parse(digest_str, &d) < 0)
		return log_error_errno(-EPROTONOSUPPORT, "unsupported digest '%s'", digest_str);
	if ((r = read_file_at(blobs_fd, digest_format_hex(&d, hex), MAX_JSON, &buf, &len)) < 0)
		return log_error_errno(r, "blob %s: %m", digest_str);
	if ((r = digest_buffer(buf, len, &got)) < 0)
		return r;
	if (!digest_equal(&d, &got))
		return log_error_errno(-EBADMSG, "blob %s: content does not match its digest",
				       digest_str);
	if ((r = json_parse(buf, len, ret)) < 0)
		return log_error_errno(r, "blob %s: invalid JSON", digest_str);
	return 0;
}

const char *ifs_oci_arch(void)
{
	static const struct {
		const char *machine, *arch;
	} names[] = {
	    {"x86_64", "amd64"}, {"aarch64", "arm64"},	 {"arm64", "arm64"}, {"armv8l", "arm"},
	    {"armv7l", "arm"},	 {"armv6l", "arm"},	 {"i686", "386"},    {"i586", "386"},
	    {"i386", "386"},	 {"ppc64le", "ppc64le"}, {"s390x", "s390x"}, {"riscv64", "riscv64"},
	};
	static char other[sizeof(((struct utsname *)0)->machine)];
	struct utsname u;

	if (uname(&u) < 0)
		return "unknown";
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (strcmp(u.machine, names[i].machine) == 0)
			return names[i].arch;
	/* a machine Go has no other name for (mips64, loongarch64): uname's own */
	snprintf(other, sizeof(other), "%s", u.machine);
	return other;
}

/* "OS/ARCH[/VARIANT]" of an index entry's platform, or "no platform". */
static void platform_text(struct json_object *m, char *buf, size_t size)
{
	const char *os = NULL, *arch = NULL, *variant = NULL;
	struct json_object *plat;

	if (json_get_object(m, "platform", &plat) < 0 || json_get_string(plat, "os", &os) < 0 ||
	    json_get_string(plat, "architecture", &arch) < 0) {
		snprintf(buf, size, "no platform");
		return;
	}
	(void)json_get_string(plat, "variant", &variant);
	snprintf(buf, size, "%s/%s%s%s", os, arch, variant ? "/" : "", variant ?: "");
}

int ifs_oci_pick_platform(struct json_object *index, const char *what, struct json_object **ret)
{
	const char *arch = ifs_oci_arch();
	struct json_object *ms, *found = NULL;
	_cleanup_free_ char *have = NULL;
	size_t n, len = 0;

	if (json_get_array(index, "manifests", &ms) < 0)
		return log_error_errno(-EBADMSG, "%s: image index has no 'manifests' array", what);
	n = json_object_array_length(ms);
	for (size_t i = 0; i < n && !found; i++) {
		struct json_object *m = json_object_array_get_idx(ms, i), *plat;
		const char *os, *a;

		if (json_get_object(m, "platform", &plat) < 0) {
			if (n == 1)
				found = m;
			continue;
		}
		/* the variant (arm's v6, v7) is not looked at: the first for our
		 * architecture is taken, as indexes list the most capable first */
		if (json_get_string(plat, "os", &os) == 0 && strcmp(os, "linux") == 0 &&
		    json_get_string(plat, "architecture", &a) == 0 && strcmp(a, arch) == 0)
			found = m;
	}
	if (found) {
		*ret = found;
		return 0;
	}
	if (n == 0)
		return log_error_errno(-ENOENT, "%s: no image in the index", what);
	bool any_platform = false;
	for (size_t i = 0; i < n; i++) {
		struct json_object *plat;

		if (json_get_object(json_object_array_get_idx(ms, i), "platform", &plat) == 0)
			any_platform = true;
	}
	if (!any_platform)
		return log_error_errno(-EINVAL, "%s: lists several images: name a tag", what);
	for (size_t i = 0; i < n; i++) {
		char p[128];
		char *nh;

		platform_text(json_object_array_get_idx(ms, i), p, sizeof(p));
		nh = realloc(have, len + strlen(p) + 3);
		if (!nh)
			return -ENOMEM;
		have = nh;
		len += (size_t)sprintf(have + len, "%s%s", len ? ", " : "", p);
	}
	return log_error_errno(-ENOENT,
			       "%s: no image for this host's platform linux/%s; it has: %s", what,
			       arch, have ?: "nothing");
}

/* A layout's index: its only image whatever its platform (a layout may hold an image for
 * another machine on purpose), else the one for this host's platform. */
static int pick_local(struct json_object *index, const char *what, struct json_object **ret)
{
	struct json_object *ms;

	if (json_get_array(index, "manifests", &ms) == 0 && json_object_array_length(ms) == 1) {
		*ret = json_object_array_get_idx(ms, 0);
		return 0;
	}
	return ifs_oci_pick_platform(index, what, ret);
}

/* Pick the manifest descriptor for TAG (or the only one, or the one for this host's platform)
 * from an index's "manifests". */
static int pick(struct json_object *index, const char *tag, struct json_object **ret)
{
	struct json_object *ms, *found = NULL;
	size_t n;

	if (!tag)
		return pick_local(index, "index.json", ret);
	if (json_get_array(index, "manifests", &ms) < 0)
		return log_error_errno(-EBADMSG, "image index has no 'manifests' array");
	n = json_object_array_length(ms);
	for (size_t i = 0; i < n && !found; i++) {
		struct json_object *m = json_object_array_get_idx(ms, i), *ann;
		const char *name = NULL;

		if (json_get_object(m, "annotations", &ann) == 0 &&
		    json_get_string(ann, "org.opencontainers.image.ref.name", &name) == 0 &&
		    strcmp(name, tag) == 0)
			found = m;
	}
	if (!found)
		return log_error_errno(-ENOENT, "no image tagged '%s'", tag);
	*ret = found;
	return 0;
}

int ifs_oci_manifest_parse(struct ifs_oci_image *img, struct json_object *m, const char *what)
{
	struct json_object *layers, *config;
	const char *cdg;
	size_t n;

	if (json_get_object(m, "config", &config) == 0) {
		if (json_get_string(config, "digest", &cdg) < 0 ||
		    json_get_uint64(config, "size", &img->config_size) < 0)
			return log_error_errno(-EBADMSG, "manifest %s: bad config descriptor",
					       what);
		if (digest_parse(cdg, &img->config_digest) < 0)
			return log_error_errno(-EPROTONOSUPPORT, "config '%s': unsupported digest",
					       cdg);
		img->has_config = true;
	}
	if (json_get_array(m, "layers", &layers) < 0)
		return log_error_errno(-EBADMSG, "manifest %s: no 'layers' array", what);
	n = json_object_array_length(layers);
	img->n_layers = 0;
	img->layers = calloc(n + 1, sizeof(*img->layers));
	if (!img->layers)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *l = json_object_array_get_idx(layers, i);
		struct ifs_layer *out = &img->layers[img->n_layers];
		const char *lmt, *ldg;
		uint64_t size;

		if (json_get_string(l, "mediaType", &lmt) < 0 ||
		    json_get_string(l, "digest", &ldg) < 0 || json_get_uint64(l, "size", &size) < 0)
			return log_error_errno(-EBADMSG, "manifest %s: layer %zu: bad descriptor",
					       what, i);
		if (digest_parse(ldg, &out->digest) < 0)
			return log_error_errno(-EPROTONOSUPPORT, "layer '%s': unsupported digest",
					       ldg);
		if (!(out->media_type = strdup(lmt)))
			return -ENOMEM;
		out->size = size;
		img->n_layers++;
	}
	return 0;
}

int ifs_oci_config_parse(struct ifs_oci_image *img, const char *data, size_t len)
{
	_cleanup_json_ struct json_object *c = NULL;
	struct json_object *rc;
	char ds[DIGEST_STRING_SIZE];

	digest_format(&img->config_digest, ds);
	if (json_parse(data, len, &c) < 0 || !json_object_is_type(c, json_type_object))
		return log_error_errno(-EBADMSG, "config %s: not a JSON object", ds);
	if (json_object_object_get_ex(c, "config", &rc) &&
	    !json_object_is_type(rc, json_type_null) && !json_object_is_type(rc, json_type_object))
		return log_error_errno(-EBADMSG, "config %s: its 'config' is not an object", ds);
	json_object_put(img->config);
	img->config = TAKE_PTR(c);
	return 0;
}

static int read_config(struct ifs_oci_image *img)
{
	_cleanup_free_ char *buf = NULL;
	char hex[DIGEST_HEX_SIZE + 1], ds[DIGEST_STRING_SIZE];
	struct digest got;
	size_t len;
	int r;

	if (!img->has_config)
		return 0;
	digest_format(&img->config_digest, ds);
	if ((r = read_file_at(img->blobs_fd, digest_format_hex(&img->config_digest, hex), MAX_JSON,
			      &buf, &len)) < 0)
		return log_error_errno(r, "config %s: %m", ds);
	if ((r = digest_buffer(buf, len, &got)) < 0)
		return r;
	if (!digest_equal(&img->config_digest, &got))
		return log_error_errno(-EBADMSG, "config %s: content does not match its digest",
				       ds);
	return ifs_oci_config_parse(img, buf, len);
}

static int read_manifest(struct ifs_oci_image *img, struct json_object *desc, int depth)
{
	_cleanup_json_ struct json_object *m = NULL;
	const char *mt, *dg;
	int r;

	if (json_get_string(desc, "mediaType", &mt) < 0 || json_get_string(desc, "digest", &dg) < 0)
		return log_error_errno(-EBADMSG, "manifest descriptor without mediaType or digest");
	if ((r = read_json_blob(img->blobs_fd, dg, &m)) < 0)
		return r;
	if (strcmp(mt, OCI_MEDIA_INDEX) == 0 || strcmp(mt, DOCKER_LIST) == 0) {
		struct json_object *sub;

		if (depth > 0)
			return log_error_errno(-EBADMSG, "nested image indexes are not supported");
		if ((r = pick_local(m, dg, &sub)) < 0)
			return r;
		return read_manifest(img, sub, depth + 1);
	}
	if (strcmp(mt, OCI_MEDIA_MANIFEST) != 0 && strcmp(mt, DOCKER_MANIFEST) != 0)
		return log_error_errno(-EPROTONOSUPPORT, "manifest %s: unknown media type '%s'", dg,
				       mt);
	if ((r = ifs_oci_manifest_parse(img, m, dg)) < 0)
		return r;
	return read_config(img);
}

/* Unpack an oci-archive: regular files and directories only, every path checked. */
static int unpack_archive(const char *file, const char *dir)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	_cleanup_close_ int dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	int r = 0;

	if (!a)
		return -ENOMEM;
	if (dfd < 0) {
		archive_read_free(a);
		return -errno;
	}
	archive_read_support_format_tar(a);
	archive_read_support_filter_all(a);
	if (archive_read_open_filename(a, file, 1 << 20) != ARCHIVE_OK) {
		r = log_error_errno(-EBADMSG, "'%s': %s", file,
				    archive_error_string(a) ?: "unreadable");
		goto out;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		_cleanup_free_ char *p = NULL;
		_cleanup_close_ int fd = -EBADF;
		const char *raw = archive_entry_pathname(e);
		char *slash;

		if (!raw || ifs_path_normalize(raw, &p) < 0) {
			r = log_error_errno(-EINVAL, "'%s': unsafe entry '%s'", file, raw ?: "");
			goto out;
		}
		if (!*p)
			continue;
		if (!path_is_safe_relative(p)) {
			r = log_error_errno(-EINVAL, "'%s': unsafe entry '%s'", file, raw);
			goto out;
		}
		if (archive_entry_filetype(e) == AE_IFDIR) {
			if ((r = mkdir_p_at(dfd, p, 0755)) < 0)
				goto out;
			continue;
		}
		if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e))
			continue;
		if ((slash = strrchr(p, '/'))) {
			*slash = '\0';
			r = mkdir_p_at(dfd, p, 0755);
			*slash = '/';
			if (r < 0)
				goto out;
		}
		fd = openat(dfd, p, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0) {
			r = log_error_errno(-errno, "'%s': entry '%s': %m", file, raw);
			goto out;
		}
		if (archive_read_data_into_fd(a, fd) != ARCHIVE_OK) {
			r = log_error_errno(-EBADMSG, "'%s': entry '%s': %s", file, raw,
					    archive_error_string(a) ?: "read error");
			goto out;
		}
	}
	if (r != ARCHIVE_EOF)
		r = log_error_errno(-EBADMSG, "'%s': %s", file,
				    archive_error_string(a) ?: "corrupt");
	else
		r = 0;
out:
	archive_read_free(a);
	return r;
}

int ifs_oci_layer_fetch(struct ifs_oci_image *img, size_t i, bool progress)
{
	return img->remote ? ifs_source_registry_fetch_layer(img, i, progress) : 0;
}

void ifs_oci_layer_release(struct ifs_oci_image *img, size_t i)
{
	char hex[DIGEST_HEX_SIZE + 1];

	/* a registry's layer is spooled one at a time: the disk holds one layer, not all */
	if (img->remote)
		(void)unlinkat(img->blobs_fd, digest_format_hex(&img->layers[i].digest, hex), 0);
}

int ifs_oci_open(const char *src, const struct imagefs_store_options *opts,
		 struct ifs_oci_image **ret)
{
	_cleanup_(oci_freep) struct ifs_oci_image *img = calloc(1, sizeof(*img));
	_cleanup_free_ char *path = NULL, *tag = NULL;
	_cleanup_json_ struct json_object *index = NULL;
	_cleanup_close_ int dfd = -EBADF;
	struct json_object *desc;
	int r;

	if (!img)
		return -ENOMEM;
	img->blobs_fd = -EBADF;
	if (strncmp(src, "registry:", 9) == 0) {
		if ((r = ifs_source_registry_open(src, opts, img)) < 0)
			return r;
		*ret = TAKE_PTR(img);
		return 0;
	}
	if (strncmp(src, "oci:", 4) == 0) {
		if ((r = split_tag(src + 4, &path, &tag)) < 0)
			return log_error_errno(r, "'%s': bad source", src);
	} else if (strncmp(src, "oci-archive:", 12) == 0) {
		_cleanup_free_ char *file = NULL;
		const char *tmp = getenv("TMPDIR");

		if ((r = split_tag(src + 12, &file, &tag)) < 0)
			return log_error_errno(r, "'%s': bad source", src);
		if (asprintf(&img->tmpdir, "%s/brisk-oci-XXXXXX", tmp && *tmp ? tmp : "/var/tmp") <
		    0) {
			img->tmpdir = NULL;
			return -ENOMEM;
		}
		if (!mkdtemp(img->tmpdir)) {
			r = -errno;
			free(img->tmpdir);
			img->tmpdir = NULL;
			return log_error_errno(r, "mkdtemp: %m");
		}
		if ((r = unpack_archive(file, img->tmpdir)) < 0)
			return r;
		if (!(path = strdup(img->tmpdir)))
			return -ENOMEM;
	} else {
		return log_error_errno(-EINVAL,
				       "'%s': source must be oci:DIR[:TAG], "
				       "oci-archive:FILE[:TAG], snapshot:DIR or "
				       "registry:HOST[:PORT]/REPO[:TAG|@DIGEST]",
				       src);
	}
	dfd = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (dfd < 0)
		return log_error_errno(-errno, "'%s': %m", path);
	if ((r = json_parse_file_at(dfd, "index.json", &index)) < 0)
		return log_error_errno(r, "'%s/index.json': %m", path);
	img->blobs_fd = openat(dfd, "blobs/sha256", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (img->blobs_fd < 0)
		return log_error_errno(-errno, "'%s/blobs/sha256': %m", path);
	if ((r = pick(index, tag, &desc)) < 0)
		return r;
	if ((r = read_manifest(img, desc, 0)) < 0)
		return r;
	*ret = TAKE_PTR(img);
	return 0;
}
