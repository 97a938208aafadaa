/* SPDX-License-Identifier: Apache-2.0 */
/* A small open-addressing hash map of pointers keyed by a caller-computed 64-bit hash, with
 * linear probing and backward-shift deletion (no tombstones). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "imagefs-internal.h"

uint64_t ifs_hash(const void *data, size_t len, uint64_t seed)
{
	/* FNV-1a over the bytes, then a final mix so the low bits are usable as a bucket. */
	const uint8_t *p = data;
	uint64_t h = 0xcbf29ce484222325ull ^ seed;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

void *ifs_hmap_get(const struct ifs_hmap *m, uint64_t hash, ifs_hmap_eq_t eq, const void *key)
{
	if (!m->cap)
		return NULL;
	for (size_t i = hash & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		const struct ifs_hslot *s = &m->slots[i];

		if (!s->val)
			return NULL;
		if (s->hash == hash && eq(s->val, key))
			return s->val;
	}
}

static void insert(struct ifs_hslot *slots, size_t cap, uint64_t hash, void *val)
{
	size_t i = hash & (cap - 1);

	while (slots[i].val)
		i = (i + 1) & (cap - 1);
	slots[i].hash = hash;
	slots[i].val = val;
}

int ifs_hmap_put(struct ifs_hmap *m, uint64_t hash, void *val)
{
	if ((m->n + 1) * 4 > m->cap * 3) {
		size_t ncap = m->cap ? m->cap * 2 : 64;
		struct ifs_hslot *ns = calloc(ncap, sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].val)
				insert(ns, ncap, m->slots[i].hash, m->slots[i].val);
		free(m->slots);
		m->slots = ns;
		m->cap = ncap;
	}
	insert(m->slots, m->cap, hash, val);
	m->n++;
	return 0;
}

void ifs_hmap_del(struct ifs_hmap *m, uint64_t hash, const void *val)
{
	size_t mask = m->cap - 1, i;

	if (!m->cap)
		return;
	for (i = hash & mask;; i = (i + 1) & mask) {
		if (!m->slots[i].val)
			return;
		if (m->slots[i].val == val)
			break;
	}
	/* shift back the entries of the run that follows, where their home allows */
	for (size_t j = (i + 1) & mask; m->slots[j].val; j = (j + 1) & mask) {
		size_t home = m->slots[j].hash & mask;

		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].val = NULL;
	m->n--;
}

void ifs_hmap_done(struct ifs_hmap *m)
{
	free(m->slots);
	*m = (struct ifs_hmap){0};
}
