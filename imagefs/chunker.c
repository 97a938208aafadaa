/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Chunks while converting: each new chunk is hashed, looked up (dedup across files, layers
 * and, through ifs_chunker_add_known(), the images already in the store), compressed with zstd
 * when that saves space, and appended to an unlinked spool file. An index in the store is only
 * a claim about its packs (it may have been pushed by anyone): a chunk it names is reused the
 * first time only after its bytes are read from the store, decoded and found to match the digest,
 * and its pack found to have the size the index gives it; otherwise the chunk is stored anew. Only
 * once the tree is final are the chunks that survived (whiteouts delete files) copied into pack
 * blobs, in inode order, so a directory's small files sit next to each other and one Range read
 * fetches them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "imagefs-internal.h"

struct out_blob {
	struct digest digest;
	uint64_t size;
	bool is_new;
};

struct ifs_chunker {
	struct imagefs_store *store; /* where known chunks are (ifs_chunker_add_known) */
	void *dbuf;		     /* a decoded chunk of the store, to check it */
	int spool_fd;
	int dirfd; /* staging: packs are written here */
	uint64_t spool_end;
	uint32_t chunk_size;
	int level;
	ZSTD_CCtx *cctx;
	void *cbuf;
	size_t cbuf_size;
	struct ifs_bchunk *chunks;
	size_t n_chunks, cap_chunks;
	struct ifs_hmap map; /* digest -> chunk number + 1 */
	struct out_blob *blobs;
	size_t n_blobs, cap_blobs;
	struct ifs_hmap blob_map; /* external blob digest -> blob number + 1 */
	uint32_t n_placed;
	/* the pack being written */
	int pack_fd;
	struct digest_ctx *pack_ctx;
	uint64_t pack_size;
	uint32_t pack_blob;
	uint64_t packed_bytes;
};

struct chunk_key {
	const struct ifs_chunker *c;
	const uint8_t *digest;
};

static bool chunk_eq(const void *val, const void *key)
{
	const struct chunk_key *k = key;
	size_t n = (uintptr_t)val - 1;

	return memcmp(k->c->chunks[n].digest.bytes, k->digest, DIGEST_SIZE) == 0;
}

static bool blob_eq(const void *val, const void *key)
{
	const struct chunk_key *k = key;
	size_t n = (uintptr_t)val - 1;

	return memcmp(k->c->blobs[n].digest.bytes, k->digest, DIGEST_SIZE) == 0;
}

static uint64_t digest_hash(const uint8_t *d)
{
	uint64_t h;

	memcpy(&h, d, sizeof(h));
	return h;
}

int ifs_chunker_new(int dirfd, uint32_t chunk_size, int level, struct ifs_chunker **ret)
{
	_cleanup_free_ struct ifs_chunker *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->dirfd = dirfd;
	c->pack_fd = -EBADF;
	c->chunk_size = chunk_size;
	c->level = level;
	c->spool_fd = openat(dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (c->spool_fd < 0)
		return -errno;
	c->cbuf_size = ZSTD_compressBound(chunk_size);
	c->cbuf = malloc(c->cbuf_size);
	c->cctx = ZSTD_createCCtx();
	if ((r = digest_ctx_new(&c->pack_ctx)) < 0 || !c->cbuf || !c->cctx) {
		safe_close(c->spool_fd);
		free(c->cbuf);
		ZSTD_freeCCtx(c->cctx);
		digest_ctx_free(c->pack_ctx);
		return r < 0 ? r : -ENOMEM;
	}
	*ret = TAKE_PTR(c);
	return 0;
}

struct ifs_chunker *ifs_chunker_free(struct ifs_chunker *c)
{
	if (!c)
		return NULL;
	safe_close(c->spool_fd);
	safe_close(c->pack_fd);
	free(c->cbuf);
	free(c->dbuf);
	ZSTD_freeCCtx(c->cctx);
	digest_ctx_free(c->pack_ctx);
	free(c->chunks);
	free(c->blobs);
	ifs_hmap_done(&c->map);
	ifs_hmap_done(&c->blob_map);
	free(c);
	return NULL;
}

static int new_chunk(struct ifs_chunker *c, const uint8_t *digest, struct ifs_bchunk **ret,
		     uint32_t *ret_n)
{
	int r;

	if (c->n_chunks >= UINT32_MAX - 1)
		return -E2BIG;
	if (c->n_chunks == c->cap_chunks) {
		size_t ncap = c->cap_chunks ? c->cap_chunks * 2 : 1024;
		struct ifs_bchunk *n = realloc(c->chunks, ncap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		c->chunks = n;
		c->cap_chunks = ncap;
	}
	if ((r = ifs_hmap_put(&c->map, digest_hash(digest), (void *)(uintptr_t)(c->n_chunks + 1))) <
	    0)
		return r;
	*ret = memset(&c->chunks[c->n_chunks], 0, sizeof(struct ifs_bchunk));
	memcpy((*ret)->digest.bytes, digest, DIGEST_SIZE);
	*ret_n = (uint32_t)c->n_chunks++;
	return 0;
}

static void *find(const struct ifs_chunker *c, const uint8_t *digest)
{
	struct chunk_key k = {c, digest};

	return ifs_hmap_get(&c->map, digest_hash(digest), chunk_eq, &k);
}

/* The pack BLOB of the store has SIZE bytes: its last byte can be read, and nothing after it. */
static int blob_size_ok(struct ifs_chunker *c, const struct digest *blob, uint64_t size)
{
	uint8_t b;
	int r;

	if (size == 0)
		return -EBADMSG;
	if ((r = imagefs_store_read_range(c->store, blob, size - 1, 1, &b)) < 0)
		return r == -ERANGE ? -EBADMSG : r;
	r = imagefs_store_read_range(c->store, blob, size, 1, &b);
	return r == -ERANGE ? 0 : r < 0 ? r : -EBADMSG;
}

/* Chunk CH, known from an index of the store, is there as it claims: 0, -EBADMSG when its bytes
 * (or its pack's size) are not what the index says, -errno when they cannot be read. */
static int verify_known(struct ifs_chunker *c, struct ifs_bchunk *ch)
{
	struct imagefs_chunk ic = {
	    .digest = ch->digest,
	    .size = ch->size,
	    .compressed_size = ch->csize,
	    .compression = ch->compression,
	};
	int r;

	if (ch->size > c->chunk_size || ch->csize > c->cbuf_size)
		return -EBADMSG;
	if (!c->dbuf && !(c->dbuf = malloc(c->chunk_size)))
		return -ENOMEM;
	if ((r = blob_size_ok(c, &ch->blob, ch->blob_size)) < 0)
		return r;
	if ((r = imagefs_store_read_range(c->store, &ch->blob, ch->blob_off, ch->csize, c->cbuf)) <
	    0)
		return r;
	return imagefs_chunk_decode(&ic, c->cbuf, c->dbuf);
}

int ifs_chunker_add(struct ifs_chunker *c, const void *data, size_t len, uint32_t *ret_chunk)
{
	struct ifs_bchunk *ch;
	struct digest d;
	const void *out = data;
	size_t outlen = len;
	uint32_t comp = IMAGEFS_COMPRESSION_NONE, n;
	void *v;
	int r;

	if (len == 0 || len > c->chunk_size)
		return -EINVAL;
	if ((r = digest_buffer(data, len, &d)) < 0)
		return r;
	ch = NULL;
	if ((v = find(c, d.bytes))) {
		n = (uint32_t)((uintptr_t)v - 1);
		ch = &c->chunks[n];
		if (!ch->in_store || ch->verified) {
			*ret_chunk = n;
			return 0;
		}
		/* the first reuse of a chunk of the store: its bytes there must be D's */
		if ((r = verify_known(c, ch)) == 0) {
			ch->verified = true;
			*ret_chunk = n;
			return 0;
		}
		if (r == -ENOMEM)
			return r;
		char ds[DIGEST_STRING_SIZE];
		log_debug("chunk %s of the store: %s; stored anew", digest_format(&d, ds),
			  r == -EBADMSG ? "not what its index says" : strerror(-r));
		/* this entry becomes a chunk of our own, spooled below */
		ch->in_store = false;
	}
	size_t z = ZSTD_compressCCtx(c->cctx, c->cbuf, c->cbuf_size, data, len, c->level);
	/* keep the compressed form only when it saves more than 1/32 */
	if (!ZSTD_isError(z) && z < len - len / 32) {
		out = c->cbuf;
		outlen = z;
		comp = IMAGEFS_COMPRESSION_ZSTD;
	}
	ssize_t w = pwrite(c->spool_fd, out, outlen, (off_t)c->spool_end);
	if (w < 0)
		return -errno;
	if ((size_t)w != outlen)
		return -EIO;
	if (!ch && (r = new_chunk(c, d.bytes, &ch, &n)) < 0)
		return r;
	ch->size = (uint32_t)len;
	ch->csize = (uint32_t)outlen;
	ch->compression = comp;
	ch->spool_off = c->spool_end;
	c->spool_end += outlen;
	*ret_chunk = n;
	return 0;
}

int ifs_chunker_add_known(struct ifs_chunker *c, struct imagefs_store *s,
			  const struct imagefs_index *idx)
{
	uint32_t n = imagefs_index_chunk_count(idx);
	struct imagefs_chunk ic;
	struct ifs_bchunk *ch;
	uint32_t num;
	int r;

	c->store = s;
	for (uint32_t i = 0; i < n; i++) {
		if ((r = imagefs_index_chunk(idx, i, &ic)) < 0)
			return r;
		if (ic.size > c->chunk_size || find(c, ic.digest.bytes))
			continue;
		if ((r = new_chunk(c, ic.digest.bytes, &ch, &num)) < 0)
			return r;
		ch->size = ic.size;
		ch->csize = ic.compressed_size;
		ch->compression = ic.compression;
		ch->in_store = true;
		ch->blob_off = ic.blob_offset;
		if ((r = imagefs_index_blob(idx, ic.blob, &ch->blob, &ch->blob_size)) < 0)
			return r;
	}
	return 0;
}

struct ifs_bchunk *ifs_chunker_get(struct ifs_chunker *c, uint32_t n)
{
	return n < c->n_chunks ? &c->chunks[n] : NULL;
}

uint32_t ifs_chunker_chunk_size(const struct ifs_chunker *c)
{
	return c->chunk_size;
}

uint32_t ifs_chunker_count(const struct ifs_chunker *c)
{
	return (uint32_t)c->n_chunks;
}

static int add_blob(struct ifs_chunker *c, const struct digest *d, uint64_t size, bool is_new,
		    uint32_t *ret)
{
	if (c->n_blobs >= UINT32_MAX - 1)
		return -E2BIG;
	if (c->n_blobs == c->cap_blobs) {
		size_t ncap = c->cap_blobs ? c->cap_blobs * 2 : 16;
		struct out_blob *nb = realloc(c->blobs, ncap * sizeof(*nb));

		if (!nb)
			return -ENOMEM;
		c->blobs = nb;
		c->cap_blobs = ncap;
	}
	c->blobs[c->n_blobs] = (struct out_blob){.size = size, .is_new = is_new};
	if (d)
		c->blobs[c->n_blobs].digest = *d;
	*ret = (uint32_t)c->n_blobs++;
	return 0;
}

static int pack_close(struct ifs_chunker *c)
{
	char tmp[32], hex[DIGEST_HEX_SIZE + 1];
	struct out_blob *b;
	int r;

	if (c->pack_fd < 0)
		return 0;
	b = &c->blobs[c->pack_blob];
	if ((r = digest_ctx_final(c->pack_ctx, &b->digest)) < 0)
		return r;
	b->size = c->pack_size;
	if (fsync(c->pack_fd) < 0)
		return -errno;
	c->pack_fd = safe_close(c->pack_fd);
	snprintf(tmp, sizeof(tmp), "pack-%u.tmp", c->pack_blob);
	if (renameat(c->dirfd, tmp, c->dirfd, digest_format_hex(&b->digest, hex)) < 0)
		return -errno;
	return digest_ctx_reset(c->pack_ctx);
}

static int pack_open(struct ifs_chunker *c)
{
	char tmp[32];
	int r;

	if ((r = add_blob(c, NULL, 0, true, &c->pack_blob)) < 0)
		return r;
	snprintf(tmp, sizeof(tmp), "pack-%u.tmp", c->pack_blob);
	c->pack_fd = openat(c->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (c->pack_fd < 0)
		return -errno;
	c->pack_size = 0;
	return 0;
}

int ifs_chunker_place(struct ifs_chunker *c, uint32_t n)
{
	struct ifs_bchunk *ch = ifs_chunker_get(c, n);
	int r;

	if (!ch)
		return -EINVAL;
	if (ch->placed)
		return 0;
	if (ch->in_store) {
		struct chunk_key k = {c, ch->blob.bytes};
		void *v = ifs_hmap_get(&c->blob_map, digest_hash(ch->blob.bytes), blob_eq, &k);

		if (v) {
			ch->blob_idx = (uint32_t)((uintptr_t)v - 1);
		} else {
			if ((r = add_blob(c, &ch->blob, ch->blob_size, false, &ch->blob_idx)) < 0)
				return r;
			r = ifs_hmap_put(&c->blob_map, digest_hash(ch->blob.bytes),
					 (void *)(uintptr_t)(ch->blob_idx + 1));
			if (r < 0)
				return r;
		}
	} else {
		if (c->pack_fd >= 0 && c->pack_size + ch->csize > IFS_PACK_TARGET &&
		    (r = pack_close(c)) < 0)
			return r;
		if (c->pack_fd < 0 && (r = pack_open(c)) < 0)
			return r;
		ssize_t got = pread(c->spool_fd, c->cbuf, ch->csize, (off_t)ch->spool_off);
		if (got < 0)
			return -errno;
		if ((size_t)got != ch->csize)
			return -EIO;
		if ((r = write_all(c->pack_fd, c->cbuf, ch->csize)) < 0)
			return r;
		if ((r = digest_ctx_update(c->pack_ctx, c->cbuf, ch->csize)) < 0)
			return r;
		ch->blob_idx = c->pack_blob;
		ch->blob_off = c->pack_size;
		c->pack_size += ch->csize;
		c->packed_bytes += ch->csize;
	}
	ch->placed = true;
	ch->idx = c->n_placed++;
	return 0;
}

int ifs_chunker_finish(struct ifs_chunker *c)
{
	return pack_close(c);
}

uint32_t ifs_chunker_placed_count(const struct ifs_chunker *c)
{
	return c->n_placed;
}

size_t ifs_chunker_blob_count(const struct ifs_chunker *c)
{
	return c->n_blobs;
}

void ifs_chunker_blob(const struct ifs_chunker *c, size_t i, struct digest *ret, uint64_t *size,
		      bool *is_new)
{
	*ret = c->blobs[i].digest;
	*size = c->blobs[i].size;
	*is_new = c->blobs[i].is_new;
}

uint64_t ifs_chunker_packed_bytes(const struct ifs_chunker *c)
{
	return c->packed_bytes;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

int ifs_bnode_add_chunk(struct ifs_chunker *c, struct ifs_bnode *n, uint64_t off, const void *data,
			size_t len, struct imagefs_convert_stats *st)
{
	struct ifs_bref *nr;
	uint32_t chunk;
	int r;

	if (all_zero(data, len))
		return 0;
	if ((r = ifs_chunker_add(c, data, len, &chunk)) < 0)
		return r;
	st->chunk_bytes += len;
	if (!(nr = realloc(n->refs, (n->n_refs + 1) * sizeof(*nr))))
		return -ENOMEM;
	n->refs = nr;
	n->refs[n->n_refs++] = (struct ifs_bref){off, chunk};
	return 0;
}
