/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stores: parsing of "dir:" and "registry:" specs, the operations every store shares (resolve
 * a tag to an index, read whole blobs with their digest checked, put small blobs),
 * dispatching to store-dir.c and store-registry.c.
 *
 * An image in a store is an OCI image manifest (manifest.c writes it): as "layers" the index
 * followed by every pack blob it references, so registries keep (and garbage-collect) them
 * together. A remote store's image also has a zstd copy of the index after it, which mounts
 * fetch instead. Readers find the index by its media type, brisk's own (snapshots, and images
 * written before images became containerd's) or the layer type containerd takes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "imagefs-internal.h"

#define MAX_MANIFEST (4u << 20)

int imagefs_store_open(const char *spec, const struct imagefs_store_options *opts,
		       struct imagefs_store **ret)
{
	_cleanup_free_ struct imagefs_store *s = calloc(1, sizeof(*s));
	_cleanup_free_ char *body = NULL;
	const char *at, *rest;
	bool is_dir;
	int r;

	if (!s)
		return -ENOMEM;
	if (opts)
		s->opts = *opts;
	if (strncmp(spec, "dir:", 4) == 0) {
		is_dir = true;
		rest = spec + 4;
	} else if (strncmp(spec, "registry:", 9) == 0) {
		is_dir = false;
		rest = spec + 9;
	} else {
		return log_error_errno(-EINVAL, "'%s': a store is dir:PATH or registry:HOST/REPO",
				       spec);
	}
	if (!(body = strdup(rest)))
		return -ENOMEM;
	if ((at = strstr(body, "@sha256:"))) {
		if (digest_parse(at + 1, &s->digest) < 0)
			return log_error_errno(-EINVAL, "'%s': bad digest", spec);
		s->has_digest = true;
		body[at - body] = '\0';
	}
	char *colon = strrchr(body, ':');
	if (colon && !strchr(colon, '/') && colon != body) {
		/* for registries, HOST:PORT has a '/' after it; a tag does not */
		if (!is_dir || colon[1]) {
			if (!(s->tag = strdup(colon + 1)))
				return -ENOMEM;
			*colon = '\0';
		}
	}
	if (!*body)
		return log_error_errno(-EINVAL, "'%s': empty location", spec);
	if (!(s->spec = strdup(spec)) || !(s->location = strdup(body))) {
		free(s->spec);
		free(s->tag);
		return -ENOMEM;
	}
	r = is_dir ? ifs_store_dir_open(s, body) : ifs_store_registry_open(s, body);
	if (r < 0) {
		if (s->ops)
			s->ops->free(s);
		free(s->tag);
		free(s->spec);
		free(s->location);
		return r;
	}
	*ret = TAKE_PTR(s);
	return 0;
}

struct imagefs_store *imagefs_store_free(struct imagefs_store *s)
{
	if (!s)
		return NULL;
	if (s->ops)
		s->ops->free(s);
	free(s->tag);
	free(s->spec);
	free(s->location);
	free(s);
	return NULL;
}

int ifs_store_reopen(const struct imagefs_store *s, struct imagefs_store **ret)
{
	return imagefs_store_open(s->spec, &s->opts, ret);
}

const char *imagefs_store_tag(const struct imagefs_store *s)
{
	return s->tag;
}

int imagefs_store_has_blob(struct imagefs_store *s, const struct digest *d)
{
	return s->ops->has_blob(s, d);
}

int imagefs_store_read_range(struct imagefs_store *s, const struct digest *d, uint64_t offset,
			     size_t len, void *buf)
{
	return s->ops->read_range(s, d, offset, len, buf);
}

int imagefs_store_read_blob(struct imagefs_store *s, const struct digest *d, size_t max, void **ret,
			    size_t *ret_len)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int fd = -EBADF;
	struct digest got;
	size_t len;
	int r;

	/* an unlinked temp file: blobs can be large, and the store may stream them */
	fd = open(getenv("TMPDIR") ?: "/var/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if ((r = ifs_store_get_blob(s, d, max, fd)) < 0)
		return r;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	if ((r = read_fd_all(fd, max, &buf, &len)) < 0)
		return r;
	if ((r = digest_buffer(buf, len, &got)) < 0)
		return r;
	if (!digest_equal(&got, d))
		return -EBADMSG;
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

/* The digest of the first layer of media type MT or LAYER_MT (the same blob, as an image's
 * manifest for containerd names it), and the size it declares (0: none or not a positive
 * integer): -EBADMSG, -EMEDIUMTYPE when there is none. */
static int manifest_layer(const char *json, size_t len, const char *mt, const char *layer_mt,
			  struct digest *ret, uint64_t *ret_size)
{
	_cleanup_json_ struct json_object *m = NULL;
	struct json_object *layers, *sz;
	const char *t, *dg;

	if (json_parse(json, len, &m) < 0 || json_get_array(m, "layers", &layers) < 0)
		return -EBADMSG;
	for (size_t i = 0; i < json_object_array_length(layers); i++) {
		struct json_object *l = json_object_array_get_idx(layers, i);

		if (json_get_string(l, "mediaType", &t) < 0 ||
		    (strcmp(t, mt) != 0 && strcmp(t, layer_mt) != 0) ||
		    json_get_string(l, "digest", &dg) < 0)
			continue;
		if (digest_parse(dg, ret) < 0)
			return -EBADMSG;
		if (ret_size) {
			int64_t v = json_object_object_get_ex(l, "size", &sz) &&
					    json_object_is_type(sz, json_type_int)
					? json_object_get_int64(sz)
					: 0;
			*ret_size = v > 0 ? (uint64_t)v : 0;
		}
		return 0;
	}
	return -EMEDIUMTYPE;
}

int ifs_manifest_index(const char *json, size_t len, struct digest *ret)
{
	return manifest_layer(json, len, IFS_MEDIA_INDEX, IFS_LAYER_INDEX, ret, NULL);
}

int ifs_manifest_index_zstd(const char *json, size_t len, struct digest *ret)
{
	int r = manifest_layer(json, len, IFS_MEDIA_INDEX_ZSTD, IFS_LAYER_INDEX_ZSTD, ret, NULL);

	return r == -EMEDIUMTYPE ? -ENOENT : r;
}

const char *ifs_store_strerror(const struct imagefs_store *s, int r)
{
	return s->error[0] ? s->error : strerror(r < 0 ? -r : r);
}

int ifs_store_manifest_index(struct imagefs_store *s, const char *tag, struct digest *ret)
{
	_cleanup_free_ char *json = NULL;
	size_t len;
	int r;

	if ((r = s->ops->get_manifest(s, tag, &json, &len)) < 0)
		return r;
	if ((r = manifest_layer(json, len, IFS_MEDIA_INDEX, IFS_LAYER_INDEX, ret, &s->index_size)) <
	    0)
		return r;
	s->has_index_zstd = manifest_layer(json, len, IFS_MEDIA_INDEX_ZSTD, IFS_LAYER_INDEX_ZSTD,
					   &s->index_zstd, &s->index_zstd_size) == 0;
	s->index_zstd_of = *ret;
	return 0;
}

int imagefs_store_resolve(struct imagefs_store *s, struct digest *ret_index)
{
	const char *tag = s->tag ?: "latest";
	int r;

	if (s->has_digest) {
		*ret_index = s->digest;
		return 0;
	}
	r = ifs_store_manifest_index(s, tag, ret_index);
	if (r == -ENOENT)
		return log_error_errno(r, "no image tagged '%s' in the store", tag);
	if (r == -EMEDIUMTYPE)
		return log_error_errno(r, "'%s' is not a brisk image (no index in its manifest)",
				       tag);
	if (r < 0)
		return log_error_errno(r, "image '%s': %s", tag, ifs_store_strerror(s, r));
	return 0;
}

int ifs_index_from_fd(int fd, const struct digest *d, struct imagefs_index **ret)
{
	_cleanup_(imagefs_index_freep) struct imagefs_index *idx = NULL;
	struct digest got;
	int r;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	if ((r = digest_fd(fd, &got)) < 0)
		return r;
	if (!digest_equal(d, &got))
		return -EBADMSG;
	if ((r = imagefs_index_open_fd(fd, &idx)) < 0 || (r = imagefs_index_check(idx)) < 0)
		return r;
	*ret = TAKE_PTR(idx);
	return 0;
}

static int tmp_file(void)
{
	int fd = open(getenv("TMPDIR") ?: "/var/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	return fd < 0 ? -errno : fd;
}

/* At most the size a manifest declares (if any) and at most the index's limit. */
static uint64_t bound(uint64_t declared)
{
	return declared && declared < IFS_MAX_INDEX_SIZE ? declared : IFS_MAX_INDEX_SIZE;
}

/* Blob ZD, zstd-compressed, decompressed into FD (at most IFS_MAX_INDEX_SIZE bytes). */
static int get_zstd_blob(struct imagefs_store *s, const struct digest *zd, int fd)
{
	_cleanup_close_ int cfd = tmp_file();
	ZSTD_DStream *zs = NULL;
	_cleanup_free_ char *out = malloc(1u << 20);
	uint64_t total = 0;
	struct stat st;
	void *p = MAP_FAILED;
	int r;

	if (cfd < 0)
		return cfd;
	if (!out)
		return -ENOMEM;
	/* the size the manifest declares, or the index's limit (it is no larger compressed) */
	if ((r = ifs_store_get_blob(s, zd, bound(s->index_zstd_size), cfd)) < 0)
		return r;
	if (fstat(cfd, &st) < 0)
		return -errno;
	if (st.st_size == 0)
		return -EBADMSG;
	if ((p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, cfd, 0)) == MAP_FAILED)
		return -errno;
	if (!(zs = ZSTD_createDStream())) {
		r = -ENOMEM;
		goto out;
	}
	ZSTD_inBuffer in = {p, (size_t)st.st_size, 0};
	for (;;) {
		ZSTD_outBuffer ob = {out, 1u << 20, 0};
		size_t z = ZSTD_decompressStream(zs, &ob, &in);

		if (ZSTD_isError(z)) {
			r = -EBADMSG;
			goto out;
		}
		if ((total += ob.pos) > IFS_MAX_INDEX_SIZE) {
			r = -EFBIG;
			goto out;
		}
		if ((r = write_all(fd, out, ob.pos)) < 0)
			goto out;
		if (z == 0 && in.pos == in.size)
			break; /* the last frame is complete */
		if (in.pos == in.size && ob.pos < ob.size) {
			r = -EBADMSG; /* truncated */
			goto out;
		}
	}
	r = 0;
out:
	ZSTD_freeDStream(zs);
	munmap(p, (size_t)st.st_size);
	return r;
}

int ifs_store_load_index(struct imagefs_store *s, const struct digest *d,
			 struct imagefs_index **ret)
{
	_cleanup_close_ int fd = -EBADF;
	char ds[DIGEST_STRING_SIZE];
	int r;

	digest_format(d, ds);
	if ((fd = tmp_file()) < 0)
		return log_error_errno(fd, "temp file: %m");
	/* a registry image's manifest names a zstd copy of its index (3.4x smaller for the
	 * Python image): fetched instead, and its bytes checked against D all the same */
	bool named = digest_equal(&s->index_zstd_of, d);
	if (s->has_index_zstd && named) {
		if ((r = get_zstd_blob(s, &s->index_zstd, fd)) >= 0 &&
		    (r = ifs_index_from_fd(fd, d, ret)) == 0)
			return 0;
		/* a registry too slow for the copy is as slow for the index: not twice the wait */
		if (r == -ETIMEDOUT || r == -ECANCELED)
			return log_error_errno(r, "index %s: its zstd copy: %s", ds,
					       ifs_store_strerror(s, r));
		log_debug("index %s: its zstd copy: %s; fetching the index itself", ds,
			  ifs_store_strerror(s, r));
		if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
			return -errno;
	}
	if ((r = ifs_store_get_blob(s, d, bound(named ? s->index_size : 0), fd)) < 0)
		return log_error_errno(r, "index %s: %s", ds, ifs_store_strerror(s, r));
	if ((r = ifs_index_from_fd(fd, d, ret)) == -EBADMSG)
		return log_error_errno(r, "index %s: content does not match its digest", ds);
	if (r == -EUCLEAN)
		return log_error_errno(r, "index %s: not a valid index: %s", ds, ifs_index_error());
	if (r < 0)
		return log_error_errno(r, "index %s: not a valid index: %m", ds);
	return 0;
}

bool ifs_store_is_remote(const struct imagefs_store *s)
{
	return s->ops->remote;
}

int ifs_store_get_blob(struct imagefs_store *s, const struct digest *d, uint64_t max, int fd)
{
	struct stat st;
	int r;

	s->blob_max = max;
	r = s->ops->get_blob(s, d, fd);
	s->blob_max = 0;
	if (r < 0)
		return r;
	/* a store that does not stop at the bound (a directory's file) */
	if (!max)
		return 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size > max) {
		snprintf(s->error, sizeof(s->error), "blob of %llu bytes where %llu were expected",
			 (unsigned long long)st.st_size, (unsigned long long)max);
		return -EFBIG;
	}
	return 0;
}

int imagefs_store_open_index(struct imagefs_store *s, struct digest *ret_digest,
			     struct imagefs_index **ret)
{
	struct digest d;
	int r;

	if ((r = imagefs_store_resolve(s, &d)) < 0)
		return r;
	if ((r = ifs_store_load_index(s, &d, ret)) < 0)
		return r;
	if (ret_digest)
		*ret_digest = d;
	return 0;
}

/* Put a small blob from memory through the staging directory. */
int ifs_store_put_small_blob(struct imagefs_store *s, const void *data, size_t len,
			     struct digest *ret)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int dfd = -EBADF;
	char hex[DIGEST_HEX_SIZE + 1];
	int r;

	if ((r = digest_buffer(data, len, ret)) < 0)
		return r;
	if ((r = s->ops->has_blob(s, ret)) != 0)
		return r < 0 ? r : 0;
	if ((r = s->ops->staging_dir(s, &dir)) < 0)
		return r;
	dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		goto out;
	}
	digest_format_hex(ret, hex);
	if ((r = write_file_atomic_at(dfd, hex, data, len, 0644, false)) < 0)
		goto out;
	r = s->ops->put_blob(s, ret, dfd, hex, len);
out:
	(void)rm_rf_at(AT_FDCWD, dir);
	return r;
}

int ifs_staging_open(struct imagefs_store *s, char **ret_dir, char **ret_name, int *ret_fd)
{
	_cleanup_free_ char *dir = NULL, *name = strdup("blob.tmp");
	int r, fd;

	if (!name)
		return -ENOMEM;
	if ((r = s->ops->staging_dir(s, &dir)) < 0)
		return r;
	_cleanup_free_ char *path = path_join(dir, name);
	if (!path)
		return -ENOMEM;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		(void)rm_rf_at(AT_FDCWD, dir);
		return r;
	}
	*ret_dir = TAKE_PTR(dir);
	*ret_name = TAKE_PTR(name);
	*ret_fd = fd;
	return 0;
}
