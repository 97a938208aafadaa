/* SPDX-License-Identifier: Apache-2.0 */
/* brisk-image inspect: what an image holds (counts, sizes, chunks, dedup, compression) and,
 * on request, its tree. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "imagefs-internal.h"

static char type_char(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return 'd';
	case S_IFLNK:
		return 'l';
	case S_IFCHR:
		return 'c';
	case S_IFBLK:
		return 'b';
	case S_IFIFO:
		return 'p';
	case S_IFSOCK:
		return 's';
	default:
		return '-';
	}
}

static int print_tree(const struct imagefs_index *idx, uint32_t dir, const char *path, FILE *out)
{
	const char *name;
	size_t len;
	uint32_t ino;
	int r;

	for (uint64_t pos = 0;; pos++) {
		struct imagefs_stat st;
		_cleanup_free_ char *sub = NULL;

		r = imagefs_index_readdir(idx, dir, pos, &name, &len, &ino);
		if (r <= 0)
			return r;
		if ((r = imagefs_index_getattr(idx, ino, &st)) < 0)
			return r;
		if (asprintf(&sub, "%s/%.*s", path, (int)len, name) < 0)
			return -ENOMEM;
		fprintf(out, "%c%04o %u:%u %10llu %s", type_char(st.mode), st.mode & 07777, st.uid,
			st.gid, (unsigned long long)st.size, sub);
		if (S_ISLNK(st.mode)) {
			const char *t;
			size_t tl;

			if ((r = imagefs_index_readlink(idx, ino, &t, &tl)) < 0)
				return r;
			fprintf(out, " -> %.*s", (int)tl, t);
		}
		if (S_ISCHR(st.mode) || S_ISBLK(st.mode))
			fprintf(out, " [%u,%u]", st.rdev_major, st.rdev_minor);
		fputc('\n', out);
		if (S_ISDIR(st.mode) && (r = print_tree(idx, ino, sub, out)) < 0)
			return r;
	}
}

int imagefs_inspect(struct imagefs_store *s, bool tree, FILE *out)
{
	_cleanup_(imagefs_index_freep) struct imagefs_index *idx = NULL;
	uint64_t types[8] = {0}, content = 0, referenced = 0, unique = 0, compressed = 0, packs = 0;
	uint64_t inline_files = 0, hardlinked = 0, zstd = 0, bsize;
	uint32_t n_inodes, n_chunks;
	char ds[DIGEST_STRING_SIZE];
	struct imagefs_chunk c;
	struct digest d;
	int r;

	if ((r = imagefs_store_open_index(s, &d, &idx)) < 0)
		return r;
	n_inodes = imagefs_index_inode_count(idx);
	n_chunks = imagefs_index_chunk_count(idx);
	for (uint32_t i = 0; i < n_inodes; i++) {
		struct imagefs_stat st;
		uint32_t n;

		if ((r = imagefs_index_getattr(idx, i, &st)) < 0)
			return r;
		types[(st.mode & S_IFMT) >> 13]++;
		if (!S_ISREG(st.mode))
			continue;
		content += st.size;
		if (st.nlink > 1)
			hardlinked++;
		if (st.inline_data) {
			inline_files++;
			continue;
		}
		if ((r = imagefs_index_file_chunk_count(idx, i, &n)) < 0)
			return r;
		for (uint32_t j = 0; j < n; j++) {
			if ((r = imagefs_index_file_chunk(idx, i, j, &c)) < 0)
				return r;
			referenced += c.size;
		}
	}
	for (uint32_t i = 0; i < n_chunks; i++) {
		if ((r = imagefs_index_chunk(idx, i, &c)) < 0)
			return r;
		unique += c.size;
		compressed += c.compressed_size;
		zstd += c.compression == IMAGEFS_COMPRESSION_ZSTD;
	}
	for (uint32_t i = 0; i < imagefs_index_blob_count(idx); i++) {
		if ((r = imagefs_index_blob(idx, i, NULL, &bsize)) < 0)
			return r;
		packs += bsize;
	}
	fprintf(out, "index:        %s\n", digest_format(&d, ds));
	fprintf(out, "index size:   %zu bytes (%.0f per 10k inodes)\n", imagefs_index_size(idx),
		imagefs_index_size(idx) * 10000.0 / n_inodes);
	fprintf(out, "chunk size:   %u\n", imagefs_index_chunk_size(idx));
	fprintf(out, "inodes:       %u (%llu dirs, %llu files, %llu symlinks, %llu other)\n",
		n_inodes, (unsigned long long)types[S_IFDIR >> 13],
		(unsigned long long)types[S_IFREG >> 13], (unsigned long long)types[S_IFLNK >> 13],
		(unsigned long long)(n_inodes - types[S_IFDIR >> 13] - types[S_IFREG >> 13] -
				     types[S_IFLNK >> 13]));
	fprintf(out, "files:        %llu bytes, %llu inline, %llu with hard links\n",
		(unsigned long long)content, (unsigned long long)inline_files,
		(unsigned long long)hardlinked);
	fprintf(out, "chunks:       %u unique (%llu zstd), %llu bytes referenced, %llu unique\n",
		n_chunks, (unsigned long long)zstd, (unsigned long long)referenced,
		(unsigned long long)unique);
	fprintf(out, "dedup:        %.3f (referenced / unique)\n",
		unique ? (double)referenced / (double)unique : 1.0);
	fprintf(out, "compression:  %.3f (unique / stored), %llu bytes stored\n",
		compressed ? (double)unique / (double)compressed : 1.0,
		(unsigned long long)compressed);
	fprintf(out, "packs:        %u blobs, %llu bytes\n", imagefs_index_blob_count(idx),
		(unsigned long long)packs);
	if (tree)
		return print_tree(idx, IMAGEFS_ROOT_INO, "", out);
	return 0;
}
