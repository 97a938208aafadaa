/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the index reader: open, full check, and every accessor on every inode. Whatever the
 * bytes, nothing may read out of bounds, crash or loop. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imagefs/imagefs.h"
#include "fuzz.h"

static void walk(struct imagefs_index *idx)
{
	uint32_t n = imagefs_index_inode_count(idx);

	for (uint32_t i = 0; i < n && i < 100000; i++) {
		struct imagefs_stat st;
		const char *name, *t;
		const void *v;
		size_t len, vlen;
		uint32_t ino, cnt, pos;
		struct imagefs_chunk c;

		if (imagefs_index_getattr(idx, i, &st) < 0)
			continue;
		for (uint64_t p = 0; p < 1000; p++) {
			if (imagefs_index_readdir(idx, i, p, &name, &len, &ino) <= 0)
				break;
			(void)imagefs_index_lookup(idx, i, name, len, &ino);
		}
		(void)imagefs_index_lookup(idx, i, "bin", 3, &ino);
		(void)imagefs_index_readlink(idx, i, &t, &len);
		for (uint32_t p = 0; p < 100; p++)
			if (imagefs_index_listxattr(idx, i, p, &name, &len, &v, &vlen) <= 0)
				break;
		(void)imagefs_index_getxattr(idx, i, "security.capability", &v, &vlen);
		(void)imagefs_index_inline_data(idx, i, &v, &len);
		if (imagefs_index_file_chunk_count(idx, i, &cnt) == 0)
			for (uint32_t p = 0; p < cnt && p < 1000; p++)
				(void)imagefs_index_file_chunk(idx, i, p, &c);
		(void)imagefs_index_file_chunk_find(idx, i, st.size / 2, &pos);
	}
}

FUZZ_TARGET

int fuzz_parse(const uint8_t *data, size_t size)
{
	struct imagefs_index *idx = NULL;
	/* the reader wants 8-byte alignment, as a mapping gives */
	void *copy = aligned_alloc(8, size + 8);
	int r;

	if (!copy)
		return -ENOMEM;
	memcpy(copy, data, size);
	r = imagefs_index_open_buffer(copy, size, &idx);
	if (r == 0) {
		r = imagefs_index_check(idx);
		walk(idx);
		imagefs_index_free(idx);
	}
	free(copy);
	return r;
}
