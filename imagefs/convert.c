/* SPDX-License-Identifier: Apache-2.0 */
/*
 * brisk-image convert: OCI image (a layout, an archive, or a registry's: oci.c,
 * source-registry.c; or a checkpoint's image directory, snapshot.c) -> index + packs in a
 * store, and a manifest whose config carries the source image's (manifest.c). Everything is staged
 * in a private directory of the destination (or a temp directory for registries) and only complete
 * blobs are handed to the store, packs first and the index last; on failure the staging directory
 * is removed and the store holds nothing new but complete blobs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "imagefs-internal.h"

static void tree_donep(struct ifs_tree *t)
{
	ifs_tree_done(t);
}

static void chunker_freep(struct ifs_chunker **c)
{
	*c = ifs_chunker_free(*c);
}

static void oci_freep(struct ifs_oci_image **p)
{
	ifs_oci_free(*p);
	*p = NULL;
}

static void staging_rmp(char **dir)
{
	if (*dir) {
		(void)rm_rf_at(AT_FDCWD, *dir);
		free(*dir);
		*dir = NULL;
	}
}

/* Index D of the store, its digest and structure checked; logs nothing. */
static int load_index(struct imagefs_store *s, const struct digest *d, void **ret_data,
		      struct imagefs_index **ret)
{
	_cleanup_(imagefs_index_freep) struct imagefs_index *idx = NULL;
	_cleanup_free_ void *data = NULL;
	size_t len;
	int r;

	if ((r = imagefs_store_read_blob(s, d, IFS_MAX_INDEX_SIZE, &data, &len)) < 0)
		return r;
	if ((r = imagefs_index_open_buffer(data, len, &idx)) < 0 ||
	    (r = imagefs_index_check(idx)) < 0)
		return r;
	*ret = TAKE_PTR(idx);
	*ret_data = TAKE_PTR(data);
	return 0;
}

/* Make the chunks of the images already tagged in the store reusable (each is checked against
 * its digest in the store before it is reused: ifs_chunker_add()). A bad image of the store only
 * costs dedup, whatever is wrong with it. */
static int load_known(struct imagefs_store *dest, struct ifs_chunker *c)
{
	_cleanup_free_ struct digest *ds = NULL;
	char dstr[DIGEST_STRING_SIZE];
	size_t n = 0;
	int r;

	if (!dest->ops->list_indexes || dest->ops->list_indexes(dest, &ds, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		_cleanup_(imagefs_index_freep) struct imagefs_index *idx = NULL;
		_cleanup_free_ void *data = NULL;

		r = load_index(dest, &ds[i], &data, &idx);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			log_warning(
			    "index %s of the store: %s; its chunks are not reused, ignoring",
			    digest_format(&ds[i], dstr),
			    r == -EBADMSG   ? "content does not match its digest"
			    : r == -EUCLEAN ? ifs_index_error()
					    : ifs_store_strerror(dest, r));
			continue;
		}
		if (imagefs_index_chunk_size(idx) != ifs_chunker_chunk_size(c))
			continue;
		if ((r = ifs_chunker_add_known(c, dest, idx)) < 0)
			return r;
	}
	return 0;
}

/* What convert wrote must pass the check every reader runs: a refusal here is a bug of ours,
 * said before the store gets an image no one can open. */
static int check_written(const void *index, size_t index_len)
{
	_cleanup_(imagefs_index_freep) struct imagefs_index *idx = NULL;
	int r;

	if ((r = imagefs_index_open_buffer(index, index_len, &idx)) < 0 ||
	    (r = imagefs_index_check(idx)) < 0)
		return log_error_errno(r, "build index: it fails its own check: %s",
				       r == -EUCLEAN ? ifs_index_error() : strerror(-r));
	return 0;
}

static int commit(struct imagefs_store *dest, int sfd, struct ifs_chunker *c, const void *index,
		  size_t index_len, struct json_object *source_config, struct digest *ret_index,
		  struct imagefs_convert_stats *st)
{
	_cleanup_(imagefs_index_freep) struct imagefs_index *idx = NULL;
	char hex[DIGEST_HEX_SIZE + 1];
	struct digest d;
	uint64_t size;
	bool is_new;
	int r;

	for (size_t i = 0; i < ifs_chunker_blob_count(c); i++) {
		ifs_chunker_blob(c, i, &d, &size, &is_new);
		if (!is_new)
			continue;
		r = dest->ops->put_blob(dest, &d, sfd, digest_format_hex(&d, hex), size);
		if (r < 0)
			return log_error_errno(r, "store pack %s: %s", hex,
					       ifs_store_strerror(dest, r));
		st->new_blobs++;
	}
	if ((r = digest_buffer(index, index_len, &d)) < 0)
		return r;
	digest_format_hex(&d, hex);
	if ((r = write_file_atomic_at(sfd, hex, index, index_len, 0644, true)) < 0)
		return log_error_errno(r, "write index: %m");
	if ((r = dest->ops->put_blob(dest, &d, sfd, hex, index_len)) < 0)
		return log_error_errno(r, "store index %s: %s", hex, ifs_store_strerror(dest, r));
	if (dest->tag) {
		if ((r = imagefs_index_open_buffer(index, index_len, &idx)) < 0)
			return r;
		if ((r = ifs_store_put_image_config(dest, dest->tag, &d, idx, source_config)) < 0)
			return log_error_errno(r, "tag '%s': %s", dest->tag,
					       ifs_store_strerror(dest, r));
	}
	*ret_index = d;
	return 0;
}

int imagefs_convert(const char *src, struct imagefs_store *dest,
		    const struct imagefs_convert_options *opts, struct digest *ret_index,
		    struct imagefs_convert_stats *ret_stats)
{
	_cleanup_(oci_freep) struct ifs_oci_image *img = NULL;
	_cleanup_(chunker_freep) struct ifs_chunker *c = NULL;
	_cleanup_(tree_donep) struct ifs_tree t = {0};
	_cleanup_(staging_rmp) char *staging = NULL;
	_cleanup_close_ int sfd = -EBADF;
	_cleanup_free_ void *index = NULL;
	struct imagefs_convert_options o = opts ? *opts : (struct imagefs_convert_options){0};
	struct imagefs_convert_stats st = {0};
	size_t index_len;
	int r;

	if (!o.chunk_size)
		o.chunk_size = IFS_DEFAULT_CHUNK_SIZE;
	if (!o.zstd_level)
		o.zstd_level = 3;
	if (o.chunk_size < 4096 || o.chunk_size > IFS_MAX_CHUNK_SIZE)
		return log_error_errno(-EINVAL, "chunk size %u out of range [4096, %u]",
				       o.chunk_size, IFS_MAX_CHUNK_SIZE);
	bool snapshot = strncmp(src, "snapshot:", 9) == 0;
	if (!snapshot && (r = ifs_oci_open(src, o.source_store, &img)) < 0)
		return r;
	if ((r = dest->ops->staging_dir(dest, &staging)) < 0)
		return log_error_errno(r, "staging directory: %m");
	sfd = open(staging, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (sfd < 0)
		return log_error_errno(-errno, "'%s': %m", staging);
	if ((r = ifs_chunker_new(sfd, o.chunk_size, o.zstd_level, &c)) < 0)
		return log_error_errno(r, "chunk spool in '%s': %m", staging);
	if (!o.no_dedup_store && (r = load_known(dest, c)) < 0)
		return r;
	if ((r = ifs_tree_init(&t)) < 0)
		return r;
	if (snapshot && (r = ifs_snapshot_apply(&t, c, src + 9, &st)) < 0)
		return r;
	for (size_t i = 0; img && i < img->n_layers; i++) {
		if ((r = ifs_oci_layer_fetch(img, i, o.progress)) < 0)
			return r;
		r = ifs_layer_apply(&t, c, img->blobs_fd, &img->layers[i], &st, o.progress,
				    (unsigned)i + 1, (unsigned)img->n_layers);
		ifs_oci_layer_release(img, i);
		if (r < 0)
			return r;
	}
	if ((r = ifs_index_write(&t, c, o.chunk_size, &index, &index_len)) < 0)
		return log_error_errno(r, "build index: %m");
	if ((r = check_written(index, index_len)) < 0)
		return r;
	for (uint32_t i = 0; i < ifs_chunker_count(c); i++) {
		struct ifs_bchunk *ch = ifs_chunker_get(c, i);

		if (!ch->placed)
			continue;
		st.unique_bytes += ch->size;
		if (ch->in_store)
			st.reused_bytes += ch->size;
	}
	st.packed_bytes = ifs_chunker_packed_bytes(c);
	st.index_bytes = index_len;
	if ((r = commit(dest, sfd, c, index, index_len, img ? img->config : NULL, ret_index, &st)) <
	    0)
		return r;
	if (ret_stats)
		*ret_stats = st;
	return 0;
}
