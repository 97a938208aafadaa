/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Serialise the converted tree into an index (FORMAT.md). Inodes are numbered breadth-first
 * from the root, so a directory's entries have neighbouring numbers; chunks are placed into
 * packs in that order; equal strings (names repeat a lot) are stored once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "imagefs-internal.h"

struct strtab {
	char *buf;
	size_t len, cap;
	struct ifs_hmap map; /* -> entry number + 1 */
	struct sref {
		uint64_t off;
		size_t len;
	} * refs;
	size_t n_refs, cap_refs;
};

struct skey {
	const struct strtab *t;
	const void *s;
	size_t len;
};

static bool str_eq(const void *val, const void *key)
{
	const struct skey *k = key;
	const struct sref *r = &k->t->refs[(uintptr_t)val - 1];

	return r->len == k->len && memcmp(k->t->buf + r->off, k->s, k->len) == 0;
}

static int strtab_add(struct strtab *t, const void *s, size_t len, uint64_t *ret_off)
{
	uint64_t h = ifs_hash(s, len, 0);
	struct skey k = {t, s, len};
	void *v = ifs_hmap_get(&t->map, h, str_eq, &k);
	int r;

	if (v) {
		*ret_off = t->refs[(uintptr_t)v - 1].off;
		return 0;
	}
	if (t->len + len + 1 > t->cap) {
		size_t ncap = t->cap ? t->cap : 4096;
		while (ncap < t->len + len + 1)
			ncap *= 2;
		char *nb = realloc(t->buf, ncap);
		if (!nb)
			return -ENOMEM;
		t->buf = nb;
		t->cap = ncap;
	}
	if (t->n_refs == t->cap_refs) {
		size_t ncap = t->cap_refs ? t->cap_refs * 2 : 1024;
		struct sref *nr = realloc(t->refs, ncap * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		t->refs = nr;
		t->cap_refs = ncap;
	}
	if ((r = ifs_hmap_put(&t->map, h, (void *)(uintptr_t)(t->n_refs + 1))) < 0)
		return r;
	t->refs[t->n_refs++] = (struct sref){t->len, len};
	if (len)
		memcpy(t->buf + t->len, s, len);
	*ret_off = t->len;
	t->len += len;
	return 0;
}

static void strtab_done(struct strtab *t)
{
	free(t->buf);
	free(t->refs);
	ifs_hmap_done(&t->map);
}

static int dentry_cmp(const void *a, const void *b)
{
	const struct ifs_bdentry *x = *(struct ifs_bdentry *const *)a;
	const struct ifs_bdentry *y = *(struct ifs_bdentry *const *)b;

	return ifs_name_cmp(x->name, x->name_len, y->name, y->name_len);
}

static int xattr_cmp(const void *a, const void *b)
{
	const struct ifs_bxattr *x = a, *y = b;

	return ifs_name_cmp(x->name, strlen(x->name), y->name, strlen(y->name));
}

/* Number every node breadth-first; compact and sort each directory's entries. */
static int number_nodes(struct ifs_tree *t, struct ifs_bnode ***ret_nodes, uint32_t *ret_n,
			uint64_t *ret_dirents)
{
	size_t cap = 1024, n = 0, head = 0;
	_cleanup_free_ struct ifs_bnode **nodes = malloc(cap * sizeof(*nodes));
	uint64_t dirents = 0;

	if (!nodes)
		return -ENOMEM;
	nodes[n++] = t->root;
	t->root->ino = 0;
	t->root->numbered = true;
	while (head < n) {
		struct ifs_bnode *dir = nodes[head++];
		size_t live = 0;

		if (!S_ISDIR(dir->mode))
			continue;
		for (size_t i = 0; i < dir->n_children; i++)
			if (dir->children[i])
				dir->children[live++] = dir->children[i];
		dir->n_children = live;
		if (live > 1)
			qsort(dir->children, live, sizeof(*dir->children), dentry_cmp);
		dirents += live;
		for (size_t i = 0; i < live; i++) {
			struct ifs_bdentry *d = dir->children[i];

			d->slot = i;
			if (d->node->numbered)
				continue;
			if (n >= UINT32_MAX - 1)
				return -E2BIG;
			if (n == cap) {
				struct ifs_bnode **nn = realloc(nodes, 2 * cap * sizeof(*nn));
				if (!nn)
					return -ENOMEM;
				nodes = nn;
				cap *= 2;
			}
			d->node->ino = (uint32_t)n;
			d->node->numbered = true;
			nodes[n++] = d->node;
		}
	}
	*ret_nodes = TAKE_PTR(nodes);
	*ret_n = (uint32_t)n;
	*ret_dirents = dirents;
	return 0;
}

struct out {
	struct ifs_inode *inodes;
	struct ifs_dirent *dirents;
	struct ifs_chunk_ref *refs;
	struct ifs_xattr *xattrs;
	uint64_t n_dirents, n_refs, n_xattrs;
	struct strtab st;
};

static int emit_node(struct out *o, struct ifs_bnode *b)
{
	struct ifs_inode *in = &o->inodes[b->ino];
	int r;

	*in = (struct ifs_inode){
	    .mode = b->mode,
	    .nlink = b->links,
	    .uid = b->uid,
	    .gid = b->gid,
	    .size = b->size,
	    .mtime_sec = b->mtime.tv_sec,
	    .mtime_nsec = (uint32_t)b->mtime.tv_nsec,
	    .ctime_sec = b->ctime.tv_sec,
	    .ctime_nsec = (uint32_t)b->ctime.tv_nsec,
	    .rdev_major = b->rdev_major,
	    .rdev_minor = b->rdev_minor,
	    .xattr_first = (uint32_t)o->n_xattrs,
	    .xattr_count = (uint32_t)b->n_xattrs,
	};
	if (b->n_xattrs > 1)
		qsort(b->xattrs, b->n_xattrs, sizeof(*b->xattrs), xattr_cmp);
	for (size_t i = 0; i < b->n_xattrs; i++) {
		struct ifs_xattr *x = &o->xattrs[o->n_xattrs++];

		x->name_len = (uint32_t)strlen(b->xattrs[i].name);
		x->value_len = (uint32_t)b->xattrs[i].len;
		if ((r = strtab_add(&o->st, b->xattrs[i].name, x->name_len, &x->name_off)) < 0 ||
		    (r = strtab_add(&o->st, b->xattrs[i].value, x->value_len, &x->value_off)) < 0)
			return r;
	}
	switch (b->mode & S_IFMT) {
	case S_IFDIR: {
		uint32_t subdirs = 0;

		in->parent = b->parent->ino;
		in->size = 0;
		in->data_first = o->n_dirents;
		in->data_count = b->n_children;
		for (size_t i = 0; i < b->n_children; i++) {
			struct ifs_bdentry *d = b->children[i];
			struct ifs_dirent *de = &o->dirents[o->n_dirents++];

			de->ino = d->node->ino;
			de->name_len = (uint32_t)d->name_len;
			if ((r = strtab_add(&o->st, d->name, d->name_len, &de->name_off)) < 0)
				return r;
			if (S_ISDIR(d->node->mode))
				subdirs++;
		}
		in->nlink = 2 + subdirs;
		break;
	}
	case S_IFLNK:
		in->size = strlen(b->symlink);
		in->data_count = in->size;
		return strtab_add(&o->st, b->symlink, in->size, &in->data_first);
	case S_IFREG:
		if (b->inline_data || b->size == 0) {
			if (b->size > IFS_INLINE_MAX)
				return -EINVAL;
			in->flags |= IFS_INODE_INLINE;
			in->data_count = b->size;
			return strtab_add(&o->st, b->inline_data ? b->inline_data : "", b->size,
					  &in->data_first);
		}
		in->data_first = o->n_refs;
		in->data_count = b->n_refs;
		o->n_refs += b->n_refs;
		break;
	default:
		break;
	}
	return 0;
}

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

static int assemble(struct out *o, struct ifs_chunker *c, uint32_t n_inodes, uint32_t chunk_size,
		    void **ret, size_t *ret_len)
{
	uint32_t n_chunks = ifs_chunker_placed_count(c);
	size_t n_blobs = ifs_chunker_blob_count(c);
	struct ifs_header h = {
	    .version = IFS_FORMAT_VERSION,
	    .header_size = sizeof(struct ifs_header),
	    .chunk_size = chunk_size,
	};
	size_t off = sizeof(h);
	uint8_t *buf;

	memcpy(h.magic, IFS_MAGIC, 8);
#define SECTION(sec, n_, rec)                             \
	do {                                              \
		h.sec.off = off;                          \
		h.sec.count = (n_);                       \
		off = align8(off + (size_t)(n_) * (rec)); \
	} while (0)
	SECTION(inodes, n_inodes, sizeof(struct ifs_inode));
	SECTION(dirents, o->n_dirents, sizeof(struct ifs_dirent));
	SECTION(chunk_refs, o->n_refs, sizeof(struct ifs_chunk_ref));
	SECTION(chunks, n_chunks, sizeof(struct ifs_chunk));
	SECTION(blobs, n_blobs, sizeof(struct ifs_blob));
	SECTION(xattrs, o->n_xattrs, sizeof(struct ifs_xattr));
	SECTION(strings, o->st.len, 1);
#undef SECTION
	if (off > IFS_MAX_INDEX_SIZE)
		return -EFBIG;
	h.file_size = off;
	buf = calloc(1, off);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + h.inodes.off, o->inodes, n_inodes * sizeof(struct ifs_inode));
	if (o->n_dirents)
		memcpy(buf + h.dirents.off, o->dirents, o->n_dirents * sizeof(struct ifs_dirent));
	if (o->n_refs)
		memcpy(buf + h.chunk_refs.off, o->refs, o->n_refs * sizeof(struct ifs_chunk_ref));
	if (o->n_xattrs)
		memcpy(buf + h.xattrs.off, o->xattrs, o->n_xattrs * sizeof(struct ifs_xattr));
	if (o->st.len)
		memcpy(buf + h.strings.off, o->st.buf, o->st.len);
	struct ifs_chunk *chunks = (struct ifs_chunk *)(buf + h.chunks.off);
	for (uint32_t i = 0; i < ifs_chunker_count(c); i++) {
		struct ifs_bchunk *ch = ifs_chunker_get(c, i);
		struct ifs_chunk *oc;

		if (!ch->placed)
			continue;
		oc = &chunks[ch->idx];
		memcpy(oc->digest, ch->digest.bytes, DIGEST_SIZE);
		oc->blob_off = ch->blob_off;
		oc->blob = ch->blob_idx;
		oc->size = ch->size;
		oc->csize = ch->csize;
		oc->compression = ch->compression;
	}
	struct ifs_blob *blobs = (struct ifs_blob *)(buf + h.blobs.off);
	for (size_t i = 0; i < n_blobs; i++) {
		struct digest d;
		bool is_new;

		ifs_chunker_blob(c, i, &d, &blobs[i].size, &is_new);
		memcpy(blobs[i].digest, d.bytes, DIGEST_SIZE);
	}
	*ret = buf;
	*ret_len = off;
	return 0;
}

static void out_done(struct out *o)
{
	free(o->inodes);
	free(o->dirents);
	free(o->refs);
	free(o->xattrs);
	strtab_done(&o->st);
}

int ifs_index_write(struct ifs_tree *t, struct ifs_chunker *c, uint32_t chunk_size, void **ret,
		    size_t *ret_len)
{
	_cleanup_free_ struct ifs_bnode **nodes = NULL;
	__attribute__((cleanup(out_done))) struct out o = {0};
	uint32_t n;
	uint64_t n_dirents, n_refs = 0, n_xattrs = 0;
	int r;

	if ((r = number_nodes(t, &nodes, &n, &n_dirents)) < 0)
		return r;
	for (uint32_t i = 0; i < n; i++) {
		n_xattrs += nodes[i]->n_xattrs;
		if (S_ISREG(nodes[i]->mode) && !nodes[i]->inline_data) {
			n_refs += nodes[i]->n_refs;
			for (size_t j = 0; j < nodes[i]->n_refs; j++)
				if ((r = ifs_chunker_place(c, nodes[i]->refs[j].chunk)) < 0)
					return r;
		}
	}
	if ((r = ifs_chunker_finish(c)) < 0)
		return r;
	if (n_xattrs > UINT32_MAX)
		return -E2BIG;
	o.inodes = calloc(n, sizeof(*o.inodes));
	o.dirents = calloc(n_dirents ? n_dirents : 1, sizeof(*o.dirents));
	o.refs = calloc(n_refs ? n_refs : 1, sizeof(*o.refs));
	o.xattrs = calloc(n_xattrs ? n_xattrs : 1, sizeof(*o.xattrs));
	if (!o.inodes || !o.dirents || !o.refs || !o.xattrs)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		struct ifs_bnode *b = nodes[i];
		uint64_t first = o.n_refs;

		if ((r = emit_node(&o, b)) < 0)
			return r;
		if (S_ISREG(b->mode) && !b->inline_data)
			for (size_t j = 0; j < b->n_refs; j++)
				o.refs[first + j] = (struct ifs_chunk_ref){
				    .file_off = b->refs[j].file_off,
				    .chunk = ifs_chunker_get(c, b->refs[j].chunk)->idx,
				};
	}
	return assemble(&o, c, n, chunk_size, ret, ret_len);
}
