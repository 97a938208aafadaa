/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The index reader. It works on the bytes in place (a buffer or a read-only mapping) and
 * builds nothing: every accessor bounds-checks the records it reads against the section sizes
 * the header declares, and the header's sections against the file size, so a crafted index
 * can return wrong answers but never read outside the file. imagefs_index_check() proves the
 * rest (sorted entries, a tree, consistent counts) and is run on every index brisk-image opens.
 * A header that cannot be read is -EUCLEAN, with its account in ifs_index_error(); the
 * accessors return -EBADMSG.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <zstd.h>

#include "common/cleanup.h"
#include "imagefs-internal.h"

struct imagefs_index {
	const uint8_t *data;
	size_t size;
	bool mapped;
	const struct ifs_header *hdr;
	const struct ifs_inode *inodes;
	const struct ifs_dirent *dirents;
	const struct ifs_chunk_ref *refs;
	const struct ifs_chunk *chunks;
	const struct ifs_blob *blobs;
	const struct ifs_xattr *xattrs;
	const char *strings;
	uint64_t n_inodes, n_dirents, n_refs, n_chunks, n_blobs, n_xattrs, n_strings;
};

int ifs_name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int r = memcmp(a, b, alen < blen ? alen : blen);

	if (r)
		return r;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int section(const struct imagefs_index *idx, const char *name, const struct ifs_section *s,
		   size_t rec, const void **ret, uint64_t *ret_n)
{
	uint64_t bytes;

	if (s->off % 8 || s->off < sizeof(struct ifs_header) || s->off > idx->size)
		return ifs_index_bad("header: %s section offset %llu (8-aligned, after the header, "
				     "inside the %zu bytes)",
				     name, (unsigned long long)s->off, idx->size);
	if (__builtin_mul_overflow(s->count, (uint64_t)rec, &bytes) || bytes > idx->size - s->off)
		return ifs_index_bad("header: %s section of %llu records past the end of the file",
				     name, (unsigned long long)s->count);
	*ret = idx->data + s->off;
	*ret_n = s->count;
	return 0;
}

static int index_init(struct imagefs_index *idx)
{
	const struct ifs_header *h = (const struct ifs_header *)idx->data;
	const void *p;
	int r;

	if (idx->size < sizeof(*h) || (uintptr_t)idx->data % 8)
		return ifs_index_bad("%zu bytes: smaller than the header", idx->size);
	if (memcmp(h->magic, IFS_MAGIC, 8) != 0)
		return ifs_index_bad("header: magic is not %s", IFS_MAGIC);
	if (h->version != IFS_FORMAT_VERSION)
		return -EPROTONOSUPPORT;
	if (h->header_size != sizeof(*h))
		return ifs_index_bad("header: header size %u, not %zu", h->header_size, sizeof(*h));
	if (h->file_size != idx->size)
		return ifs_index_bad("header: file size %llu, but the file has %zu bytes",
				     (unsigned long long)h->file_size, idx->size);
	if (h->flags != 0)
		return ifs_index_bad("header: unknown flags 0x%x", h->flags);
	if (h->chunk_size == 0 || h->chunk_size > IFS_MAX_CHUNK_SIZE)
		return ifs_index_bad("header: chunk size %u (1 to %u)", h->chunk_size,
				     IFS_MAX_CHUNK_SIZE);
	idx->hdr = h;
	if ((r = section(idx, "inodes", &h->inodes, sizeof(struct ifs_inode), &p, &idx->n_inodes)) <
	    0)
		return r;
	idx->inodes = p;
	if ((r = section(idx, "dirents", &h->dirents, sizeof(struct ifs_dirent), &p,
			 &idx->n_dirents)) < 0)
		return r;
	idx->dirents = p;
	if ((r = section(idx, "chunk_refs", &h->chunk_refs, sizeof(struct ifs_chunk_ref), &p,
			 &idx->n_refs)) < 0)
		return r;
	idx->refs = p;
	if ((r = section(idx, "chunks", &h->chunks, sizeof(struct ifs_chunk), &p, &idx->n_chunks)) <
	    0)
		return r;
	idx->chunks = p;
	if ((r = section(idx, "blobs", &h->blobs, sizeof(struct ifs_blob), &p, &idx->n_blobs)) < 0)
		return r;
	idx->blobs = p;
	if ((r = section(idx, "xattrs", &h->xattrs, sizeof(struct ifs_xattr), &p, &idx->n_xattrs)) <
	    0)
		return r;
	idx->xattrs = p;
	if ((r = section(idx, "strings", &h->strings, 1, &p, &idx->n_strings)) < 0)
		return r;
	idx->strings = p;
	if (idx->n_inodes == 0 || idx->n_inodes > UINT32_MAX)
		return ifs_index_bad("header: %llu inodes (1 to 2^32 - 1)",
				     (unsigned long long)idx->n_inodes);
	if (h->root != IMAGEFS_ROOT_INO)
		return ifs_index_bad("header: root inode %u, not 0", h->root);
	if (idx->n_chunks > UINT32_MAX || idx->n_blobs > UINT32_MAX || idx->n_xattrs > UINT32_MAX)
		return ifs_index_bad("header: more than 2^32 - 1 chunks, blobs or xattrs");
	if (!S_ISDIR(idx->inodes[0].mode))
		return ifs_index_bad("inode 0 (the root): not a directory (mode 0%o)",
				     idx->inodes[0].mode);
	return 0;
}

int imagefs_index_open_buffer(const void *data, size_t size, struct imagefs_index **ret)
{
	_cleanup_free_ struct imagefs_index *idx = calloc(1, sizeof(*idx));
	int r;

	if (!idx)
		return -ENOMEM;
	idx->data = data;
	idx->size = size;
	if ((r = index_init(idx)) < 0)
		return r;
	*ret = TAKE_PTR(idx);
	return 0;
}

int imagefs_index_open_fd(int fd, struct imagefs_index **ret)
{
	struct stat st;
	struct imagefs_index *idx;
	void *p;
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EBADFD;
	if (st.st_size < (off_t)sizeof(struct ifs_header) ||
	    (uint64_t)st.st_size > IFS_MAX_INDEX_SIZE)
		return ifs_index_bad("%llu bytes: no index has that size",
				     (unsigned long long)st.st_size);
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	r = imagefs_index_open_buffer(p, (size_t)st.st_size, &idx);
	if (r < 0) {
		munmap(p, (size_t)st.st_size);
		return r;
	}
	idx->mapped = true;
	*ret = idx;
	return 0;
}

struct imagefs_index *imagefs_index_free(struct imagefs_index *idx)
{
	if (idx) {
		if (idx->mapped)
			munmap((void *)idx->data, idx->size);
		free(idx);
	}
	return NULL;
}

uint32_t imagefs_index_inode_count(const struct imagefs_index *idx)
{
	return (uint32_t)idx->n_inodes;
}

bool imagefs_index_has_xattrs(const struct imagefs_index *idx)
{
	return idx->n_xattrs > 0;
}

uint32_t imagefs_index_chunk_size(const struct imagefs_index *idx)
{
	return idx->hdr->chunk_size;
}

uint32_t imagefs_index_chunk_count(const struct imagefs_index *idx)
{
	return (uint32_t)idx->n_chunks;
}

uint32_t imagefs_index_blob_count(const struct imagefs_index *idx)
{
	return (uint32_t)idx->n_blobs;
}

size_t imagefs_index_size(const struct imagefs_index *idx)
{
	return idx->size;
}

const void *imagefs_index_data(const struct imagefs_index *idx)
{
	return idx->data;
}

static int get_inode(const struct imagefs_index *idx, uint32_t ino, const struct ifs_inode **ret)
{
	if (ino >= idx->n_inodes)
		return -ENOENT;
	*ret = &idx->inodes[ino];
	return 0;
}

static int get_string(const struct imagefs_index *idx, uint64_t off, uint64_t len, const char **ret)
{
	if (off > idx->n_strings || len > idx->n_strings - off)
		return -EBADMSG;
	*ret = idx->strings + off;
	return 0;
}

/* The range [first, first + count) of a section with N records. */
static bool range_ok(uint64_t first, uint64_t count, uint64_t n)
{
	return first <= n && count <= n - first;
}

int imagefs_index_getattr(const struct imagefs_index *idx, uint32_t ino, struct imagefs_stat *ret)
{
	const struct ifs_inode *in;
	int r;

	if ((r = get_inode(idx, ino, &in)) < 0)
		return r;
	*ret = (struct imagefs_stat){
	    .ino = ino,
	    .mode = in->mode,
	    .nlink = in->nlink,
	    .uid = in->uid,
	    .gid = in->gid,
	    .rdev_major = in->rdev_major,
	    .rdev_minor = in->rdev_minor,
	    .parent = in->parent,
	    .size = in->size,
	    .mtime = {.tv_sec = in->mtime_sec, .tv_nsec = in->mtime_nsec % 1000000000u},
	    .ctime = {.tv_sec = in->ctime_sec, .tv_nsec = in->ctime_nsec % 1000000000u},
	    .inline_data = S_ISREG(in->mode) && (in->flags & IFS_INODE_INLINE),
	};
	return 0;
}

static int dir_entries(const struct imagefs_index *idx, uint32_t dir, const struct ifs_dirent **ret,
		       uint64_t *ret_n)
{
	const struct ifs_inode *in;
	int r;

	if ((r = get_inode(idx, dir, &in)) < 0)
		return r;
	if (!S_ISDIR(in->mode))
		return -ENOTDIR;
	if (!range_ok(in->data_first, in->data_count, idx->n_dirents))
		return -EBADMSG;
	*ret = idx->dirents + in->data_first;
	*ret_n = in->data_count;
	return 0;
}

int imagefs_index_lookup(const struct imagefs_index *idx, uint32_t dir, const char *name,
			 size_t name_len, uint32_t *ret_ino)
{
	const struct ifs_dirent *d;
	uint64_t lo = 0, hi;
	int r;

	if ((r = dir_entries(idx, dir, &d, &hi)) < 0)
		return r;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		const char *s;

		if ((r = get_string(idx, d[mid].name_off, d[mid].name_len, &s)) < 0)
			return r;
		int c = ifs_name_cmp(name, name_len, s, d[mid].name_len);
		if (c == 0) {
			if (d[mid].ino >= idx->n_inodes)
				return -EBADMSG;
			*ret_ino = d[mid].ino;
			return 0;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -ENOENT;
}

int imagefs_index_readdir(const struct imagefs_index *idx, uint32_t dir, uint64_t pos,
			  const char **ret_name, size_t *ret_name_len, uint32_t *ret_ino)
{
	const struct ifs_dirent *d;
	uint64_t n;
	const char *s;
	int r;

	if ((r = dir_entries(idx, dir, &d, &n)) < 0)
		return r;
	if (pos >= n)
		return 0;
	if ((r = get_string(idx, d[pos].name_off, d[pos].name_len, &s)) < 0)
		return r;
	if (d[pos].ino >= idx->n_inodes)
		return -EBADMSG;
	*ret_name = s;
	*ret_name_len = d[pos].name_len;
	*ret_ino = d[pos].ino;
	return 1;
}

int imagefs_index_readlink(const struct imagefs_index *idx, uint32_t ino, const char **ret,
			   size_t *ret_len)
{
	const struct ifs_inode *in;
	int r;

	if ((r = get_inode(idx, ino, &in)) < 0)
		return r;
	if (!S_ISLNK(in->mode))
		return -EINVAL;
	if ((r = get_string(idx, in->data_first, in->data_count, ret)) < 0)
		return r;
	*ret_len = in->data_count;
	return 0;
}

static int get_xattr(const struct imagefs_index *idx, const struct ifs_inode *in, uint32_t pos,
		     const char **ret_name, size_t *ret_name_len, const void **ret_value,
		     size_t *ret_value_len)
{
	const struct ifs_xattr *x;
	const char *name, *value;
	int r;

	if (!range_ok(in->xattr_first, in->xattr_count, idx->n_xattrs))
		return -EBADMSG;
	if (pos >= in->xattr_count)
		return 0;
	x = &idx->xattrs[(uint64_t)in->xattr_first + pos];
	if ((r = get_string(idx, x->name_off, x->name_len, &name)) < 0)
		return r;
	if ((r = get_string(idx, x->value_off, x->value_len, &value)) < 0)
		return r;
	*ret_name = name;
	*ret_name_len = x->name_len;
	*ret_value = value;
	*ret_value_len = x->value_len;
	return 1;
}

int imagefs_index_listxattr(const struct imagefs_index *idx, uint32_t ino, uint32_t pos,
			    const char **ret_name, size_t *ret_name_len, const void **ret_value,
			    size_t *ret_value_len)
{
	const struct ifs_inode *in;
	int r;

	if ((r = get_inode(idx, ino, &in)) < 0)
		return r;
	return get_xattr(idx, in, pos, ret_name, ret_name_len, ret_value, ret_value_len);
}

int imagefs_index_getxattr(const struct imagefs_index *idx, uint32_t ino, const char *name,
			   const void **ret_value, size_t *ret_len)
{
	const struct ifs_inode *in;
	size_t len = strlen(name);
	uint32_t lo = 0, hi;
	int r;

	if ((r = get_inode(idx, ino, &in)) < 0)
		return r;
	if (!range_ok(in->xattr_first, in->xattr_count, idx->n_xattrs))
		return -EBADMSG;
	hi = in->xattr_count;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const char *n = NULL;
		size_t nlen = 0, vlen = 0;
		const void *v = NULL;

		if ((r = get_xattr(idx, in, mid, &n, &nlen, &v, &vlen)) <= 0)
			return r < 0 ? r : -EBADMSG;
		int c = ifs_name_cmp(name, len, n, nlen);
		if (c == 0) {
			*ret_value = v;
			*ret_len = vlen;
			return 0;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -ENODATA;
}

int imagefs_index_inline_data(const struct imagefs_index *idx, uint32_t ino, const void **ret,
			      size_t *ret_len)
{
	const struct ifs_inode *in;
	const char *s;
	int r;

	if ((r = get_inode(idx, ino, &in)) < 0)
		return r;
	if (!S_ISREG(in->mode))
		return -EINVAL;
	if (!(in->flags & IFS_INODE_INLINE))
		return -ENODATA;
	if (in->data_count != in->size)
		return -EBADMSG;
	if ((r = get_string(idx, in->data_first, in->data_count, &s)) < 0)
		return r;
	*ret = s;
	*ret_len = in->data_count;
	return 0;
}

static int file_refs(const struct imagefs_index *idx, uint32_t ino,
		     const struct ifs_chunk_ref **ret, uint64_t *ret_n)
{
	const struct ifs_inode *in;
	int r;

	if ((r = get_inode(idx, ino, &in)) < 0)
		return r;
	if (!S_ISREG(in->mode))
		return -EINVAL;
	if (in->flags & IFS_INODE_INLINE) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	if (!range_ok(in->data_first, in->data_count, idx->n_refs) || in->data_count > UINT32_MAX)
		return -EBADMSG;
	*ret = idx->refs + in->data_first;
	*ret_n = in->data_count;
	return 0;
}

int imagefs_index_file_chunk_count(const struct imagefs_index *idx, uint32_t ino,
				   uint32_t *ret_count)
{
	const struct ifs_chunk_ref *refs;
	uint64_t n;
	int r;

	if ((r = file_refs(idx, ino, &refs, &n)) < 0)
		return r;
	*ret_count = (uint32_t)n;
	return 0;
}

int imagefs_index_chunk(const struct imagefs_index *idx, uint32_t i, struct imagefs_chunk *ret)
{
	const struct ifs_chunk *c;

	if (i >= idx->n_chunks)
		return -EBADMSG;
	c = &idx->chunks[i];
	*ret = (struct imagefs_chunk){
	    .blob_offset = c->blob_off,
	    .blob = c->blob,
	    .size = c->size,
	    .compressed_size = c->csize,
	    .compression = c->compression,
	    .chunk = i,
	};
	memcpy(ret->digest.bytes, c->digest, DIGEST_SIZE);
	return 0;
}

int imagefs_index_file_chunk(const struct imagefs_index *idx, uint32_t ino, uint32_t pos,
			     struct imagefs_chunk *ret)
{
	const struct ifs_chunk_ref *refs;
	uint64_t n;
	int r;

	if ((r = file_refs(idx, ino, &refs, &n)) < 0)
		return r;
	if (pos >= n)
		return -ERANGE;
	if ((r = imagefs_index_chunk(idx, refs[pos].chunk, ret)) < 0)
		return r;
	ret->file_offset = refs[pos].file_off;
	return 0;
}

int imagefs_index_file_chunk_find(const struct imagefs_index *idx, uint32_t ino, uint64_t offset,
				  uint32_t *ret_pos)
{
	const struct ifs_chunk_ref *refs;
	uint64_t n, lo = 0, hi;
	int r;

	if ((r = file_refs(idx, ino, &refs, &n)) < 0)
		return r;
	hi = n;
	/* first ref whose end is beyond OFFSET */
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		uint32_t ci = refs[mid].chunk;

		if (ci >= idx->n_chunks)
			return -EBADMSG;
		if (refs[mid].file_off + idx->chunks[ci].size <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	*ret_pos = (uint32_t)lo;
	return 0;
}

int imagefs_index_blob(const struct imagefs_index *idx, uint32_t i, struct digest *ret_digest,
		       uint64_t *ret_size)
{
	if (i >= idx->n_blobs)
		return -EBADMSG;
	if (ret_digest)
		memcpy(ret_digest->bytes, idx->blobs[i].digest, DIGEST_SIZE);
	if (ret_size)
		*ret_size = idx->blobs[i].size;
	return 0;
}

int imagefs_chunk_decode(const struct imagefs_chunk *c, const void *src, void *dst)
{
	struct digest d;
	int r;

	switch (c->compression) {
	case IMAGEFS_COMPRESSION_NONE:
		if (c->compressed_size != c->size)
			return -EBADMSG;
		memcpy(dst, src, c->size);
		break;
	case IMAGEFS_COMPRESSION_ZSTD: {
		size_t n = ZSTD_decompress(dst, c->size, src, c->compressed_size);
		if (ZSTD_isError(n) || n != c->size)
			return -EBADMSG;
		break;
	}
	default:
		return -EPROTONOSUPPORT;
	}
	if ((r = digest_buffer(dst, c->size, &d)) < 0)
		return r;
	return digest_equal(&d, &c->digest) ? 0 : -EBADMSG;
}
