/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The flattened tree that convert builds while it applies layers in order: nodes (inodes,
 * shared by hard links) and directory entries found through one hash map keyed by
 * (parent, name). Memory grows with the number of files, never with their contents.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "imagefs-internal.h"

struct dkey {
	const struct ifs_bnode *parent;
	const char *name;
	size_t len;
};

static uint64_t dentry_hash(const struct ifs_bnode *parent, const char *name, size_t len)
{
	return ifs_hash(name, len, (uint64_t)(uintptr_t)parent);
}

static bool dentry_eq(const void *val, const void *key)
{
	const struct ifs_bdentry *d = val;
	const struct dkey *k = key;

	return d->parent == k->parent && d->name_len == k->len &&
	       memcmp(d->name, k->name, k->len) == 0;
}

struct ifs_bnode *ifs_bnode_new(uint32_t mode)
{
	struct ifs_bnode *n = calloc(1, sizeof(*n));

	if (n)
		n->mode = mode;
	return n;
}

static void bnode_free(struct ifs_bnode *n)
{
	free(n->symlink);
	for (size_t i = 0; i < n->n_xattrs; i++) {
		free(n->xattrs[i].name);
		free(n->xattrs[i].value);
	}
	free(n->xattrs);
	free(n->inline_data);
	free(n->refs);
	free(n->children);
	free(n);
}

void ifs_bnode_unref(struct ifs_bnode *n)
{
	if (n && (n->links == 0 || --n->links == 0))
		bnode_free(n);
}

int ifs_tree_init(struct ifs_tree *t)
{
	*t = (struct ifs_tree){0};
	t->root = ifs_bnode_new(S_IFDIR | 0755);
	if (!t->root)
		return -ENOMEM;
	t->root->parent = t->root;
	t->root->links = 1;
	t->n_nodes = 1;
	return 0;
}

static void remove_dentry(struct ifs_tree *t, struct ifs_bdentry *d);

static void remove_children(struct ifs_tree *t, struct ifs_bnode *dir)
{
	for (size_t i = 0; i < dir->n_children; i++)
		if (dir->children[i])
			remove_dentry(t, dir->children[i]);
}

static void remove_dentry(struct ifs_tree *t, struct ifs_bdentry *d)
{
	struct ifs_bnode *n = d->node;

	ifs_hmap_del(&t->dentries, dentry_hash(d->parent, d->name, d->name_len), d);
	d->parent->children[d->slot] = NULL;
	d->parent->live_children--;
	if (S_ISDIR(n->mode))
		remove_children(t, n);
	if (n->links == 1)
		t->n_nodes--;
	ifs_bnode_unref(n);
	free(d->name);
	free(d);
}

void ifs_tree_done(struct ifs_tree *t)
{
	if (t->root) {
		remove_children(t, t->root);
		bnode_free(t->root);
	}
	ifs_hmap_done(&t->dentries);
	*t = (struct ifs_tree){0};
}

struct ifs_bdentry *ifs_tree_lookup(struct ifs_tree *t, struct ifs_bnode *dir, const char *name,
				    size_t len)
{
	struct dkey k = {dir, name, len};

	return ifs_hmap_get(&t->dentries, dentry_hash(dir, name, len), dentry_eq, &k);
}

static int add_dentry(struct ifs_tree *t, struct ifs_bnode *dir, const char *name, size_t len,
		      struct ifs_bnode *node)
{
	_cleanup_free_ struct ifs_bdentry *d = calloc(1, sizeof(*d));
	int r;

	if (!d || !(d->name = strndup(name, len)))
		return -ENOMEM;
	if (dir->n_children == dir->cap_children) {
		size_t ncap = dir->cap_children ? dir->cap_children * 2 : 8;
		struct ifs_bdentry **nc = realloc(dir->children, ncap * sizeof(*nc));

		if (!nc) {
			free(d->name);
			return -ENOMEM;
		}
		dir->children = nc;
		dir->cap_children = ncap;
	}
	d->name_len = len;
	d->parent = dir;
	d->node = node;
	d->layer = t->layer;
	d->slot = dir->n_children;
	if ((r = ifs_hmap_put(&t->dentries, dentry_hash(dir, name, len), d)) < 0) {
		free(d->name);
		return r;
	}
	dir->children[dir->n_children++] = d;
	dir->live_children++;
	if (node->links++ == 0)
		t->n_nodes++;
	if (S_ISDIR(node->mode))
		node->parent = dir;
	TAKE_PTR(d);
	return 0;
}

int ifs_tree_link(struct ifs_tree *t, struct ifs_bnode *dir, const char *name,
		  struct ifs_bnode *node)
{
	size_t len = strlen(name);
	struct ifs_bdentry *old = ifs_tree_lookup(t, dir, name, len);

	if (old && old->node == node)
		return 0;
	if (old && S_ISDIR(old->node->mode) && S_ISDIR(node->mode) && node->links == 0) {
		/* A directory over a directory: the new attributes, the old children. */
		struct ifs_bnode *o = old->node;

		o->mode = node->mode;
		o->uid = node->uid;
		o->gid = node->gid;
		o->mtime = node->mtime;
		o->ctime = node->ctime;
		for (size_t i = 0; i < o->n_xattrs; i++) {
			free(o->xattrs[i].name);
			free(o->xattrs[i].value);
		}
		free(o->xattrs);
		o->xattrs = TAKE_PTR(node->xattrs);
		o->n_xattrs = node->n_xattrs;
		node->n_xattrs = 0;
		old->layer = t->layer;
		bnode_free(node);
		return 0;
	}
	if (old)
		remove_dentry(t, old);
	return add_dentry(t, dir, name, len, node);
}

int ifs_tree_unlink(struct ifs_tree *t, struct ifs_bnode *dir, const char *name)
{
	struct ifs_bdentry *d = ifs_tree_lookup(t, dir, name, strlen(name));

	if (!d)
		return -ENOENT;
	remove_dentry(t, d);
	return 0;
}

void ifs_tree_make_opaque(struct ifs_tree *t, struct ifs_bnode *dir)
{
	for (size_t i = 0; i < dir->n_children; i++)
		if (dir->children[i] && dir->children[i]->layer < t->layer)
			remove_dentry(t, dir->children[i]);
}

int ifs_tree_walk_parent(struct ifs_tree *t, const char *path, struct ifs_bnode **ret_dir,
			 const char **ret_name)
{
	struct ifs_bnode *dir = t->root;
	const char *p = path, *slash;
	int r;

	while ((slash = strchr(p, '/'))) {
		size_t len = (size_t)(slash - p);
		struct ifs_bdentry *d = ifs_tree_lookup(t, dir, p, len);

		if (!d) {
			/* Parents a layer does not list are created, as tar and umoci do. */
			struct ifs_bnode *n = ifs_bnode_new(S_IFDIR | 0755);
			_cleanup_free_ char *name = strndup(p, len);

			if (!n || !name) {
				free(n);
				return -ENOMEM;
			}
			if ((r = add_dentry(t, dir, name, len, n)) < 0) {
				free(n);
				return r;
			}
			dir = n;
		} else if (S_ISLNK(d->node->mode)) {
			return -ELOOP;
		} else if (!S_ISDIR(d->node->mode)) {
			return -ENOTDIR;
		} else {
			dir = d->node;
		}
		p = slash + 1;
	}
	*ret_dir = dir;
	*ret_name = p;
	return 0;
}

int ifs_tree_resolve(struct ifs_tree *t, const char *path, struct ifs_bnode **ret)
{
	struct ifs_bnode *n = t->root;
	const char *p = path;

	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		struct ifs_bdentry *d;

		if (!S_ISDIR(n->mode))
			return S_ISLNK(n->mode) ? -ELOOP : -ENOTDIR;
		d = ifs_tree_lookup(t, n, p, len);
		if (!d)
			return -ENOENT;
		n = d->node;
		p += len;
		if (*p == '/')
			p++;
	}
	*ret = n;
	return 0;
}

int ifs_path_normalize(const char *in, char **ret)
{
	_cleanup_free_ char *out = malloc(strlen(in) + 1);
	size_t o = 0;
	const char *p = in;

	if (!out)
		return -ENOMEM;
	/* "/" alone is the root directory (umoci writes it so); any other absolute path is not */
	if (*p == '/' && p[strspn(p, "/")] != '\0')
		return -EINVAL;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);

		if (len == 2 && p[0] == '.' && p[1] == '.')
			return -EINVAL;
		/* no filesystem, and no index, has longer names */
		if (len > 255)
			return -ENAMETOOLONG;
		if (len > 0 && !(len == 1 && p[0] == '.')) {
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, len);
			o += len;
		}
		p += len;
		while (*p == '/')
			p++;
	}
	out[o] = '\0';
	*ret = TAKE_PTR(out);
	return 0;
}
