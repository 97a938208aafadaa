/* SPDX-License-Identifier: Apache-2.0 */
/*
 * How much would each chunking store? For the choice FORMAT.md makes: cut every regular file
 * of a tree into fixed-size chunks (what brisk's format does) or content-defined chunks (a
 * gear rolling hash with normalized cut points, as FastCDC describes, min AVG/4, max AVG*4),
 * and count unique chunk bytes by sha256.
 *   chunkstat [--fixed SIZE | --cdc AVG] [--zero-free] [OLD] NEW
 * With OLD: how many bytes of NEW are new (not in OLD's chunks): what a store holding OLD
 * must add for NEW. --zero-free: all-zero chunks cost nothing (as in brisk's format).
 * Output: one "key=value ..." line per tree, then a summary line.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/digest.h"

struct entry {
	struct digest d;
	uint32_t size;
	uint8_t seen; /* bit 0: OLD, bit 1: NEW */
};

static struct {
	struct entry *e;
	size_t cap, n;
} set;

static struct tree_stat {
	uint64_t files, bytes, chunks, unique_bytes, unique_chunks, new_bytes, zero_bytes;
} ts;

static uint64_t gear[256];
static size_t fixed_size, cdc_avg;
static bool zero_free;
static uint8_t cur_bit;

static int set_grow(void)
{
	size_t cap = set.cap ? set.cap * 2 : 1u << 16;
	struct entry *e = calloc(cap, sizeof(*e));

	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i < set.cap; i++) {
		if (!set.e[i].size)
			continue;
		uint64_t h;
		memcpy(&h, set.e[i].d.bytes, sizeof(h));
		for (size_t j = h & (cap - 1);; j = (j + 1) & (cap - 1))
			if (!e[j].size) {
				e[j] = set.e[i];
				break;
			}
	}
	free(set.e);
	set.e = e;
	set.cap = cap;
	return 0;
}

static int add_chunk(const uint8_t *p, size_t len)
{
	struct digest d;
	uint64_t h;
	int r;

	ts.chunks++;
	if (zero_free && (len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0))) {
		ts.zero_bytes += len;
		return 0;
	}
	if ((r = digest_buffer(p, len, &d)) < 0)
		return r;
	if ((set.n + 1) * 2 > set.cap && (r = set_grow()) < 0)
		return r;
	memcpy(&h, d.bytes, sizeof(h));
	for (size_t j = h & (set.cap - 1);; j = (j + 1) & (set.cap - 1)) {
		struct entry *e = &set.e[j];

		if (!e->size) {
			*e = (struct entry){.d = d, .size = (uint32_t)len, .seen = cur_bit};
			set.n++;
			ts.unique_bytes += len;
			ts.unique_chunks++;
			ts.new_bytes += len;
			return 0;
		}
		if (memcmp(e->d.bytes, d.bytes, DIGEST_SIZE) == 0) {
			if (!(e->seen & cur_bit)) {
				ts.unique_bytes += len;
				ts.unique_chunks++;
				e->seen |= cur_bit;
			}
			return 0;
		}
	}
}

/* The cut point of the chunk starting at P (LEN bytes left). */
static size_t cdc_cut(const uint8_t *p, size_t len)
{
	size_t min = cdc_avg / 4, max = cdc_avg * 4, i;
	unsigned bits = 0;
	uint64_t h = 0, mask_s, mask_l;

	while ((1ul << bits) < cdc_avg)
		bits++;
	/* harder to cut before the average size, easier after it */
	mask_s = (1ull << (bits + 2)) - 1;
	mask_l = (1ull << (bits - 2)) - 1;
	if (len <= min)
		return len;
	if (len > max)
		len = max;
	for (i = min; i < len && i < cdc_avg; i++) {
		h = (h << 1) + gear[p[i]];
		if (!(h & mask_s))
			return i + 1;
	}
	for (; i < len; i++) {
		h = (h << 1) + gear[p[i]];
		if (!(h & mask_l))
			return i + 1;
	}
	return len;
}

static int on_file(const char *path, const struct stat *st, int type, struct FTW *f)
{
	const uint8_t *p;
	int fd, r = 0;

	(void)f;
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	ts.files++;
	ts.bytes += (uint64_t)st->st_size;
	if (st->st_size == 0)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "chunkstat: '%s': %s\n", path, strerror(errno));
		return 1;
	}
	p = mmap(NULL, (size_t)st->st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "chunkstat: mmap '%s': %s\n", path, strerror(errno));
		return 1;
	}
	for (size_t off = 0, len = (size_t)st->st_size; off < len && r == 0;) {
		size_t n = fixed_size ? (len - off < fixed_size ? len - off : fixed_size)
				      : cdc_cut(p + off, len - off);
		r = add_chunk(p + off, n);
		off += n;
	}
	munmap((void *)p, (size_t)st->st_size);
	return r < 0 ? 1 : 0;
}

static int scan(const char *root, uint8_t bit)
{
	cur_bit = bit;
	ts = (struct tree_stat){0};
	if (nftw(root, on_file, 64, FTW_PHYS) != 0) {
		fprintf(stderr, "chunkstat: walking '%s' failed\n", root);
		return -1;
	}
	printf("tree=%s files=%llu bytes=%llu chunks=%llu unique_chunks=%llu unique_bytes=%llu "
	       "new_bytes=%llu zero_bytes=%llu\n",
	       root, (unsigned long long)ts.files, (unsigned long long)ts.bytes,
	       (unsigned long long)ts.chunks, (unsigned long long)ts.unique_chunks,
	       (unsigned long long)ts.unique_bytes, (unsigned long long)ts.new_bytes,
	       (unsigned long long)ts.zero_bytes);
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t x = 0x9E3779B97F4A7C15ull;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--fixed") == 0 && i + 1 < argc)
			fixed_size = strtoul(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "--cdc") == 0 && i + 1 < argc)
			cdc_avg = strtoul(argv[++i], NULL, 0);
		else if (strcmp(argv[i], "--zero-free") == 0)
			zero_free = true;
		else
			break;
	}
	if ((!fixed_size == !cdc_avg) || argc - i < 1 || argc - i > 2 ||
	    (cdc_avg && (cdc_avg < 256 || cdc_avg > (16u << 20) || (cdc_avg & (cdc_avg - 1)))) ||
	    fixed_size > (64u << 20)) {
		fprintf(stderr, "usage: chunkstat --fixed SIZE | --cdc AVG (a power of two, 256 to "
				"16 MiB) [--zero-free] [OLD] NEW\n");
		return 2;
	}
	/* the gear table: any fixed pseudo-random values (splitmix64) */
	for (int k = 0; k < 256; k++) {
		uint64_t z = (x += 0x9E3779B97F4A7C15ull);
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
		gear[k] = z ^ (z >> 31);
	}
	if (scan(argv[i], 1) < 0)
		return 1;
	if (argc - i == 2) {
		uint64_t new_bytes;

		if (scan(argv[i + 1], 2) < 0)
			return 1;
		new_bytes = ts.new_bytes;
		printf(
		    "summary: %s %zu: NEW has %.1f MiB of unique chunks, %.1f MiB of them not in "
		    "OLD (%.1f%% reused)\n",
		    fixed_size ? "fixed" : "cdc", fixed_size ? fixed_size : cdc_avg,
		    ts.unique_bytes / 1048576.0, new_bytes / 1048576.0,
		    ts.unique_bytes
			? 100.0 * (double)(ts.unique_bytes - new_bytes) / (double)ts.unique_bytes
			: 0.0);
	}
	return 0;
}
