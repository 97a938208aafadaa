/* SPDX-License-Identifier: Apache-2.0 */
/* brisk-image verify: the index (digest and structure), every pack blob's digest, and every
 * chunk (decompressed, digest compared). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "imagefs-internal.h"

static int verify_blob(struct imagefs_store *s, const struct digest *d, uint64_t size)
{
	_cleanup_close_ int fd =
	    open(getenv("TMPDIR") ?: "/var/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	char ds[DIGEST_STRING_SIZE];
	struct digest got;
	struct stat st;
	int r;

	digest_format(d, ds);
	if (fd < 0)
		return -errno;
	if ((r = s->ops->get_blob(s, d, fd)) < 0)
		return log_error_errno(r, "pack %s: %s", ds, ifs_store_strerror(s, r));
	if (fstat(fd, &st) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	if ((uint64_t)st.st_size != size)
		return log_error_errno(-EBADMSG, "pack %s: %llu bytes, the index says %llu", ds,
				       (unsigned long long)st.st_size, (unsigned long long)size);
	if ((r = digest_fd(fd, &got)) < 0)
		return r;
	if (!digest_equal(&got, d))
		return log_error_errno(-EBADMSG, "pack %s: content does not match its digest", ds);
	return 0;
}

int ifs_verify_chunks(struct imagefs_store *s, const struct imagefs_index *idx, uint64_t *ret_bytes)
{
	size_t cbuf_size = ZSTD_compressBound(imagefs_index_chunk_size(idx));
	_cleanup_free_ void *cbuf = malloc(cbuf_size),
			    *dbuf = malloc(imagefs_index_chunk_size(idx));
	char ds[DIGEST_STRING_SIZE], bs[DIGEST_STRING_SIZE];
	struct imagefs_chunk c;
	struct digest bd;
	uint64_t bytes = 0;
	int r;

	if (!cbuf || !dbuf)
		return -ENOMEM;
	for (uint32_t i = 0; i < imagefs_index_chunk_count(idx); i++) {
		if ((r = imagefs_index_chunk(idx, i, &c)) < 0 ||
		    (r = imagefs_index_blob(idx, c.blob, &bd, NULL)) < 0)
			return r;
		digest_format(&c.digest, ds);
		digest_format(&bd, bs);
		r = ifs_read_chunk(s, idx, &c, cbuf, cbuf_size, dbuf);
		if (r == -EBADMSG)
			return log_error_errno(r,
					       "chunk %u (%s, in pack %s at %llu): content does "
					       "not match its digest",
					       i, ds, bs, (unsigned long long)c.blob_offset);
		if (r < 0)
			return log_error_errno(r, "chunk %u (%s, in pack %s at %llu): %s", i, ds,
					       bs, (unsigned long long)c.blob_offset,
					       ifs_store_strerror(s, r));
		bytes += c.size;
	}
	if (ret_bytes)
		*ret_bytes = bytes;
	return 0;
}

int imagefs_verify(struct imagefs_store *s, FILE *out)
{
	_cleanup_(imagefs_index_freep) struct imagefs_index *idx = NULL;
	struct digest d;
	uint64_t size, bytes = 0;
	int r;

	if ((r = imagefs_store_open_index(s, &d, &idx)) < 0)
		return r;
	for (uint32_t i = 0; i < imagefs_index_blob_count(idx); i++) {
		if ((r = imagefs_index_blob(idx, i, &d, &size)) < 0)
			return r;
		if ((r = verify_blob(s, &d, size)) < 0)
			return r;
	}
	if ((r = ifs_verify_chunks(s, idx, &bytes)) < 0)
		return r;
	fprintf(out, "ok: index, %u packs, %u chunks (%llu bytes) verified\n",
		imagefs_index_blob_count(idx), imagefs_index_chunk_count(idx),
		(unsigned long long)bytes);
	return 0;
}
