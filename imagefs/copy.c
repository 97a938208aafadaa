/* SPDX-License-Identifier: Apache-2.0 */
/* brisk-image push/pull: copy an image between stores, blob by blob (those the destination
 * has are skipped), each staged and checked against its digest before the destination gets
 * it; the manifest goes last, so a tag never names an incomplete image. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "imagefs-internal.h"

static int copy_blob(struct imagefs_store *src, struct imagefs_store *dst, const struct digest *d,
		     uint64_t size)
{
	_cleanup_free_ char *dir = NULL, *name = NULL;
	_cleanup_close_ int fd = -EBADF, dfd = -EBADF;
	char ds[DIGEST_STRING_SIZE];
	struct digest got;
	struct stat st;
	int r;

	digest_format(d, ds);
	if ((r = dst->ops->has_blob(dst, d)) != 0)
		return r < 0 ? log_error_errno(r, "blob %s: %s", ds, ifs_store_strerror(dst, r))
			     : 0;
	if ((r = ifs_staging_open(dst, &dir, &name, &fd)) < 0)
		return log_error_errno(r, "staging: %m");
	/* a registry that sends more than the index says stops at once, not at the disk's end */
	if ((r = ifs_store_get_blob(src, d, size, fd)) < 0) {
		log_error_errno(r, "fetch blob %s: %s", ds, ifs_store_strerror(src, r));
		goto out;
	}
	if (fstat(fd, &st) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		r = -errno;
		goto out;
	}
	if ((r = digest_fd(fd, &got)) < 0)
		goto out;
	if (!digest_equal(&got, d) || (uint64_t)st.st_size != size) {
		r = log_error_errno(-EBADMSG, "blob %s: content does not match its digest", ds);
		goto out;
	}
	if (fsync(fd) < 0) {
		r = -errno;
		goto out;
	}
	dfd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (dfd < 0)
		r = -errno;
	else if ((r = dst->ops->put_blob(dst, d, dfd, name, size)) < 0)
		log_error_errno(r, "store blob %s: %s", ds, ifs_store_strerror(dst, r));
out:
	(void)rm_rf_at(AT_FDCWD, dir);
	return r;
}

int imagefs_copy(struct imagefs_store *src, struct imagefs_store *dst, struct digest *ret_index)
{
	_cleanup_(imagefs_index_freep) struct imagefs_index *idx = NULL;
	const char *tag = dst->tag ?: src->tag ?: "latest";
	struct digest d, bd;
	uint64_t size;
	int r;

	if ((r = imagefs_store_open_index(src, &d, &idx)) < 0)
		return r;
	for (uint32_t i = 0; i < imagefs_index_blob_count(idx); i++) {
		if ((r = imagefs_index_blob(idx, i, &bd, &size)) < 0)
			return r;
		if ((r = copy_blob(src, dst, &bd, size)) < 0)
			return r;
	}
	/* the index is only a claim about its packs: the destination takes it once every chunk it
	 * names is there with the bytes of its digest (read from whichever store is local) */
	if ((r = ifs_verify_chunks(ifs_store_is_remote(dst) ? src : dst, idx, NULL)) < 0)
		return r;
	if ((r = copy_blob(src, dst, &d, imagefs_index_size(idx))) < 0)
		return r;
	if ((r = ifs_store_put_image_from(dst, tag, &d, idx, src)) < 0)
		return log_error_errno(r, "tag '%s': %s", tag, ifs_store_strerror(dst, r));
	if (ret_index)
		*ret_index = d;
	return 0;
}
