/* SPDX-License-Identifier: Apache-2.0 */
/*
 * "dir:PATH": an OCI-layout-like directory: PATH/oci-layout, PATH/blobs/sha256/<hex> and
 * PATH/index.json listing the tagged manifests. Blobs appear only by rename() of a complete,
 * fsynced file staged in PATH/.tmp-XXXXXX, so a reader never sees a partial blob; index.json
 * is replaced atomically. Writers (convert, push, pull, profile, push-snapshot) change index.json
 * under an flock of PATH/index.json.lock, read, change and rename it under it, so that two writers
 * never lose each other's tags; readers need no lock. Concurrent writers to the same tag: the
 * last one wins. The same lock orders the creation of staging directories against their sweep.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "imagefs-internal.h"

struct dir_store {
	char *path;
	int fd;
	int blobs_fd;
	/* the last blob read_range opened */
	int cached_fd;
	struct digest cached;
	bool swept;	  /* stale staging directories removed */
	int *staging_fds; /* our staging directories, each flocked (shared) */
	size_t n_staging;
};

static struct dir_store *D(struct imagefs_store *s)
{
	return s->priv;
}

#define LOCK_FILE "index.json.lock"

/* An fd holding the store's writer lock (exclusive flock of LOCK_FILE), or -errno. */
static int lock_store(struct dir_store *ds)
{
	_cleanup_close_ int fd =
	    openat(ds->fd, LOCK_FILE, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);

	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return -errno;
	return TAKE_FD(fd);
}

static int dir_has_blob(struct imagefs_store *s, const struct digest *d)
{
	char hex[DIGEST_HEX_SIZE + 1];
	struct stat st;

	if (fstatat(D(s)->blobs_fd, digest_format_hex(d, hex), &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	return S_ISREG(st.st_mode) ? 1 : -EBADF;
}

static int open_blob(struct imagefs_store *s, const struct digest *d)
{
	char hex[DIGEST_HEX_SIZE + 1];
	int fd =
	    openat(D(s)->blobs_fd, digest_format_hex(d, hex), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int dir_read_range(struct imagefs_store *s, const struct digest *d, uint64_t off, size_t len,
			  void *buf)
{
	struct dir_store *ds = D(s);
	size_t done = 0;

	if (ds->cached_fd < 0 || !digest_equal(&ds->cached, d)) {
		int fd = open_blob(s, d);

		if (fd < 0)
			return fd;
		safe_close(ds->cached_fd);
		ds->cached_fd = fd;
		ds->cached = *d;
	}
	while (done < len) {
		ssize_t n =
		    pread(ds->cached_fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ERANGE; /* past the end of the blob */
		done += (size_t)n;
	}
	return 0;
}

static int copy_fd(int in, int out)
{
	for (;;) {
		ssize_t n = sendfile(out, in, NULL, 1 << 30);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
	}
}

static int dir_get_blob(struct imagefs_store *s, const struct digest *d, int fd)
{
	_cleanup_close_ int in = open_blob(s, d);

	if (in < 0)
		return in;
	return copy_fd(in, fd);
}

static int dir_put_blob(struct imagefs_store *s, const struct digest *d, int dirfd,
			const char *name, uint64_t size)
{
	struct dir_store *ds = D(s);
	char hex[DIGEST_HEX_SIZE + 1];
	int r;

	(void)size;
	digest_format_hex(d, hex);
	if ((r = dir_has_blob(s, d)) != 0)
		return r < 0 ? r : 0;
	if (renameat(dirfd, name, ds->blobs_fd, hex) == 0)
		return 0;
	if (errno != EXDEV)
		return -errno;
	/* another filesystem: copy into a temp file next to the blobs, then rename */
	_cleanup_close_ int in = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *tmp = NULL;
	if (in < 0)
		return -errno;
	if (asprintf(&tmp, ".%s.tmp", hex) < 0)
		return -ENOMEM;
	_cleanup_close_ int out =
	    openat(ds->blobs_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return -errno;
	if ((r = copy_fd(in, out)) < 0 || (fsync(out) < 0 && (r = -errno)) ||
	    (renameat(ds->blobs_fd, tmp, ds->blobs_fd, hex) < 0 && (r = -errno))) {
		(void)unlinkat(ds->blobs_fd, tmp, 0);
		return r;
	}
	return 0;
}

static int read_layout_index(struct imagefs_store *s, struct json_object **ret)
{
	int r = json_parse_file_at(D(s)->fd, "index.json", ret);

	if (r == -ENOENT) {
		*ret = json_object_new_object();
		if (!*ret)
			return -ENOMEM;
		json_object_object_add(*ret, "schemaVersion", json_object_new_int(2));
		json_object_object_add(*ret, "manifests", json_object_new_array());
		return 0;
	}
	return r;
}

static const char *desc_tag(struct json_object *m)
{
	struct json_object *ann;
	const char *name;

	if (json_get_object(m, "annotations", &ann) < 0 ||
	    json_get_string(ann, "org.opencontainers.image.ref.name", &name) < 0)
		return NULL;
	return name;
}

static int dir_get_manifest(struct imagefs_store *s, const char *tag, char **ret, size_t *ret_len)
{
	_cleanup_json_ struct json_object *index = NULL;
	struct json_object *ms;
	const char *dg;
	struct digest d;
	int r;

	if ((r = read_layout_index(s, &index)) < 0)
		return r;
	if (json_get_array(index, "manifests", &ms) < 0)
		return -EBADMSG;
	for (size_t i = 0; i < json_object_array_length(ms); i++) {
		struct json_object *m = json_object_array_get_idx(ms, i);
		const char *t = desc_tag(m);

		if (!t || strcmp(t, tag) != 0)
			continue;
		if (json_get_string(m, "digest", &dg) < 0 || digest_parse(dg, &d) < 0)
			return -EBADMSG;
		return imagefs_store_read_blob(s, &d, 4u << 20, (void **)ret, ret_len);
	}
	return -ENOENT;
}

/* Staging directories of writers that died (a convert killed half-way) hold only partial
 * files. A writer holds a shared flock on each of its staging directories until it frees the
 * store or exits, so a directory on which an exclusive lock can be taken has no writer left
 * (on this host or, where the filesystem shares locks, another) and is removed. */
static void sweep_stale_staging(struct dir_store *ds)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd;

	ds->swept = true;
	fd = openat(ds->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		safe_close(fd);
		return;
	}
	while ((de = readdir(d))) {
		_cleanup_close_ int dfd = -EBADF;

		if (strncmp(de->d_name, ".tmp-", 5) != 0)
			continue;
		dfd = openat(ds->fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd >= 0 && flock(dfd, LOCK_EX | LOCK_NB) == 0)
			(void)rm_rf_at(ds->fd, de->d_name);
	}
}

static int dir_staging_dir(struct imagefs_store *s, char **ret_path)
{
	struct dir_store *ds = D(s);
	_cleanup_free_ char *p = path_join(ds->path, ".tmp-XXXXXX");
	_cleanup_close_ int fd = -EBADF, lock = -EBADF;
	int *nl;

	if (!p)
		return -ENOMEM;
	nl = realloc(ds->staging_fds, (ds->n_staging + 1) * sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	ds->staging_fds = nl;
	/* a sweeper holds the store's lock: it never takes a directory between its mkdtemp and
	 * its flock */
	if ((lock = lock_store(ds)) < 0)
		return lock;
	if (!ds->swept)
		sweep_stale_staging(ds);
	if (!mkdtemp(p))
		return -errno;
	fd = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_SH | LOCK_NB) < 0) {
		int r = -errno;
		(void)rm_rf_at(AT_FDCWD, p);
		return r;
	}
	ds->staging_fds[ds->n_staging++] = TAKE_FD(fd);
	*ret_path = TAKE_PTR(p);
	return 0;
}

static int dir_put_manifest(struct imagefs_store *s, const char *tag, const char *json, size_t len)
{
	_cleanup_json_ struct json_object *index = NULL, *mj = NULL;
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int dfd = -EBADF;
	struct json_object *ms, *desc, *ann, *nms;
	const char *artifact = IFS_ARTIFACT_TYPE;
	char hex[DIGEST_HEX_SIZE + 1], ds[DIGEST_STRING_SIZE];
	struct digest d;
	int r;

	if ((r = digest_buffer(json, len, &d)) < 0)
		return r;
	/* index.json repeats the manifest's artifactType (images, snapshots, profiles) */
	if (json_parse(json, len, &mj) == 0)
		(void)json_get_string(mj, "artifactType", &artifact);
	if ((r = dir_staging_dir(s, &dir)) < 0)
		return r;
	dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (dfd < 0)
		r = -errno;
	else if ((r = write_file_atomic_at(dfd, digest_format_hex(&d, hex), json, len, 0644,
					   true)) >= 0)
		r = dir_put_blob(s, &d, dfd, hex, len);
	(void)rm_rf_at(AT_FDCWD, dir);
	if (r < 0)
		return r;
	/* read, change and replace index.json as one step against every other writer */
	_cleanup_close_ int lock = lock_store(D(s));
	if (lock < 0)
		return lock;
	if ((r = read_layout_index(s, &index)) < 0)
		return r;
	if (json_get_array(index, "manifests", &ms) < 0)
		return -EBADMSG;
	/* drop the old entry for TAG, append the new one */
	nms = json_object_new_array();
	desc = json_object_new_object();
	ann = json_object_new_object();
	if (!nms || !desc || !ann) {
		json_object_put(nms);
		json_object_put(desc);
		json_object_put(ann);
		return -ENOMEM;
	}
	for (size_t i = 0; i < json_object_array_length(ms); i++) {
		struct json_object *m = json_object_array_get_idx(ms, i);
		const char *t = desc_tag(m);

		if (!t || strcmp(t, tag) != 0)
			json_object_array_add(nms, json_object_get(m));
	}
	json_object_object_add(desc, "mediaType", json_object_new_string(OCI_MEDIA_MANIFEST));
	json_object_object_add(desc, "digest", json_object_new_string(digest_format(&d, ds)));
	json_object_object_add(desc, "size", json_object_new_int64((int64_t)len));
	json_object_object_add(desc, "artifactType", json_object_new_string(artifact));
	json_object_object_add(ann, "org.opencontainers.image.ref.name",
			       json_object_new_string(tag));
	json_object_object_add(desc, "annotations", ann);
	json_object_array_add(nms, desc);
	json_object_object_add(index, "manifests", nms);
	const char *out = json_object_to_json_string_ext(index, JSON_C_TO_STRING_PRETTY |
								    JSON_C_TO_STRING_NOSLASHESCAPE);
	return write_file_atomic_at(D(s)->fd, "index.json", out, strlen(out), 0644, true);
}

static int dir_list_indexes(struct imagefs_store *s, struct digest **ret, size_t *ret_n)
{
	_cleanup_json_ struct json_object *index = NULL;
	_cleanup_free_ struct digest *out = NULL;
	struct json_object *ms;
	size_t n = 0;
	int r;

	if ((r = read_layout_index(s, &index)) < 0)
		return r;
	if (json_get_array(index, "manifests", &ms) < 0)
		return -EBADMSG;
	out = calloc(json_object_array_length(ms) + 1, sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < json_object_array_length(ms); i++) {
		const char *t = desc_tag(json_object_array_get_idx(ms, i));

		if (t && ifs_store_manifest_index(s, t, &out[n]) == 0)
			n++;
	}
	*ret = TAKE_PTR(out);
	*ret_n = n;
	return 0;
}

static void dir_free(struct imagefs_store *s)
{
	struct dir_store *ds = D(s);

	if (!ds)
		return;
	safe_close(ds->fd);
	safe_close(ds->blobs_fd);
	safe_close(ds->cached_fd);
	for (size_t i = 0; i < ds->n_staging; i++)
		safe_close(ds->staging_fds[i]);
	free(ds->staging_fds);
	free(ds->path);
	free(ds);
}

static const struct ifs_store_ops dir_ops = {
    .has_blob = dir_has_blob,
    .read_range = dir_read_range,
    .get_blob = dir_get_blob,
    .put_blob = dir_put_blob,
    .get_manifest = dir_get_manifest,
    .put_manifest = dir_put_manifest,
    .list_indexes = dir_list_indexes,
    .staging_dir = dir_staging_dir,
    .free = dir_free,
};

int ifs_store_dir_open(struct imagefs_store *s, const char *path)
{
	struct dir_store *ds = calloc(1, sizeof(*ds));
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}\n";
	int r;

	if (!ds)
		return -ENOMEM;
	ds->fd = ds->blobs_fd = ds->cached_fd = -EBADF;
	s->priv = ds;
	s->ops = &dir_ops;
	if (!(ds->path = strdup(path)))
		return -ENOMEM;
	if ((r = mkdir_p_at(AT_FDCWD, path, 0755)) < 0)
		return log_error_errno(r, "store '%s': %m", path);
	ds->fd = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (ds->fd < 0)
		return log_error_errno(-errno, "store '%s': %m", path);
	if ((r = mkdir_p_at(ds->fd, "blobs/sha256", 0755)) < 0)
		return log_error_errno(r, "store '%s': blobs/sha256: %m", path);
	ds->blobs_fd = openat(ds->fd, "blobs/sha256", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (ds->blobs_fd < 0)
		return log_error_errno(-errno, "store '%s': %m", path);
	if (faccessat(ds->fd, "oci-layout", F_OK, 0) < 0 &&
	    (r = write_file_atomic_at(ds->fd, "oci-layout", layout, sizeof(layout) - 1, 0644,
				      false)) < 0)
		return log_error_errno(r, "store '%s': oci-layout: %m", path);
	return 0;
}
