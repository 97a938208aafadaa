/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Access profiles. Recording: each chunk of a file read for the first time appends
 * "OFFSET LENGTH PATH" to the profile file (paths from the names the kernel looked up, so
 * recording costs nothing when off). Replaying: a background thread fetches the profile stored
 * beside the image, resolves each path in the index and queues its chunks, in first-touch order,
 * as prefetch jobs (ifs_fs_prefetch_ordered); workers run demand jobs first and keep workers
 * free for them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "lazy-internal.h"

#define WARM_BUF (256u << 10) /* getdents64 buffer: the kernel's READDIRPLUS asks up to this */

int ifs_profile_record_open(struct ifs_fs *fs, const char *path)
{
	uint32_t n = imagefs_index_chunk_count(fs->idx);

	fs->touched = calloc(n + 1, 1);
	fs->names = calloc(imagefs_index_inode_count(fs->idx) + 1, sizeof(*fs->names));
	if (!fs->touched || !fs->names)
		return -ENOMEM;
	fs->rec = fopen(path, "we");
	if (!fs->rec)
		return -errno;
	fputs("# brisk access profile v1: OFFSET LENGTH PATH\n", fs->rec);
	fflush(fs->rec);
	return 0;
}

void ifs_profile_record_close(struct ifs_fs *fs)
{
	uint32_t n = imagefs_index_inode_count(fs->idx);

	if (fs->rec)
		fclose(fs->rec);
	fs->rec = NULL;
	if (fs->names)
		for (uint32_t i = 0; i < n; i++)
			free(fs->names[i].name);
	free(fs->names);
	free(fs->touched);
	fs->names = NULL;
	fs->touched = NULL;
}

void ifs_profile_note_name(struct ifs_fs *fs, uint32_t parent, uint32_t ino, const char *name,
			   size_t len)
{
	if (!fs->rec || ino >= imagefs_index_inode_count(fs->idx))
		return;
	pthread_mutex_lock(&fs->rec_lock);
	if (!fs->names[ino].name && (fs->names[ino].name = strndup(name, len))) {
		fs->names[ino].parent = parent;
		fs->names[ino].len = (uint32_t)len;
	}
	pthread_mutex_unlock(&fs->rec_lock);
}

/* "/a/b" of INO from the names noted; called with rec_lock held. */
static int path_of(struct ifs_fs *fs, uint32_t ino, char *buf, size_t size)
{
	size_t at = size - 1;

	buf[at] = '\0';
	for (unsigned depth = 0; ino != IMAGEFS_ROOT_INO; depth++) {
		struct ifs_name *nm = &fs->names[ino];

		if (!nm->name || depth > 4096 || nm->len + 1 > at || strchr(nm->name, '\n'))
			return -ENOENT;
		at -= nm->len;
		memcpy(buf + at, nm->name, nm->len);
		buf[--at] = '/';
		ino = nm->parent;
	}
	memmove(buf, buf + at, size - at);
	return 0;
}

void ifs_profile_note_read(struct ifs_fs *fs, uint32_t ino, const struct imagefs_chunk *c)
{
	char path[4096];

	if (!fs->rec)
		return;
	pthread_mutex_lock(&fs->rec_lock);
	if (!fs->touched[c->chunk] && path_of(fs, ino, path, sizeof(path)) == 0) {
		fs->touched[c->chunk] = 1;
		fprintf(fs->rec, "%llu %u %s\n", (unsigned long long)c->file_offset, c->size, path);
		fflush(fs->rec);
	}
	pthread_mutex_unlock(&fs->rec_lock);
}

static int resolve(struct ifs_fs *fs, const char *path, uint32_t *ret, uint32_t *ret_parent)
{
	uint32_t ino = IMAGEFS_ROOT_INO, parent = IMAGEFS_ROOT_INO;
	int r;

	while (*path) {
		const char *end;

		while (*path == '/')
			path++;
		if (!*path)
			break;
		end = strchrnul(path, '/');
		parent = ino;
		if ((r = imagefs_index_lookup(fs->idx, ino, path, (size_t)(end - path), &ino)) < 0)
			return r;
		path = end;
	}
	*ret = ino;
	*ret_parent = parent;
	return 0;
}

struct wanted {
	uint32_t *ks;
	size_t n, cap;
	uint8_t *seen; /* per chunk */
	char **dirs;   /* the directories of the profile's files, first touched first */
	size_t n_dirs, cap_dirs;
	uint8_t *dir_seen;  /* per inode */
	uint8_t *file_seen; /* per inode */
};

/* Note the directory of PATH (INO), once. */
static void want_dir(struct wanted *w, uint32_t ino, const char *path)
{
	const char *slash = strrchr(path, '/');
	size_t len;

	if (w->dir_seen[ino])
		return;
	w->dir_seen[ino] = 1;
	while (*path == '/')
		path++;
	len = slash && slash > path ? (size_t)(slash - path) : 0;
	if (w->n_dirs == w->cap_dirs) {
		size_t cap = w->cap_dirs ? w->cap_dirs * 2 : 64;
		char **nd = reallocarray(w->dirs, cap, sizeof(*nd));
		if (!nd)
			return;
		w->dirs = nd;
		w->cap_dirs = cap;
	}
	if ((w->dirs[w->n_dirs] = len ? strndup(path, len) : strdup(".")))
		w->n_dirs++;
}

/* Add the chunks of one profile line, each once, in the order they come. */
static void prefetch_line(struct ifs_fs *fs, char *line, struct wanted *w)
{
	unsigned long long off, len;
	uint32_t ino, dir, pos, count;
	struct imagefs_chunk c;
	int consumed = 0;

	if (line[0] == '#' || sscanf(line, "%llu %llu %n", &off, &len, &consumed) < 2 || !consumed)
		return;
	if (resolve(fs, line + consumed, &ino, &dir) < 0 ||
	    imagefs_index_file_chunk_count(fs->idx, ino, &count) < 0 ||
	    imagefs_index_file_chunk_find(fs->idx, ino, off, &pos) < 0)
		return;
	want_dir(w, dir, line + consumed);
	/* a file of several chunks may be one entry in the cache: checked ahead of its open */
	if (count > 1 && !w->file_seen[ino]) {
		w->file_seen[ino] = 1;
		ifs_pt_prepare(fs, ino);
	}
	for (; pos < count; pos++) {
		if (imagefs_index_file_chunk(fs->idx, ino, pos, &c) < 0 ||
		    c.file_offset >= off + len)
			break;
		if (w->seen[c.chunk])
			continue;
		if (w->n == w->cap) {
			size_t cap = w->cap ? w->cap * 2 : 1024;
			uint32_t *nk = reallocarray(w->ks, cap, sizeof(*nk));
			if (!nk)
				return;
			w->ks = nk;
			w->cap = cap;
		}
		w->seen[c.chunk] = 1;
		w->ks[w->n++] = c.chunk;
	}
}

/*
 * List the profile's directories through the mount, first touched first. Each listing is a
 * READDIRPLUS or a few, and the kernel keeps its entries as dentries with their attributes: the
 * start's lookups of those files (thousands for a Python tree) then find them cached, where each
 * would otherwise be a round trip to us on the start's path. The mount is checked to be a FUSE
 * mount, and paths are resolved inside it; an unmount meanwhile finds it busy for as long as one
 * directory is open (imagefs_umount waits that out).
 */
static void warm_dirs(struct ifs_fs *fs, char **dirs, size_t n)
{
	_cleanup_close_ int root = -EBADF;
	_cleanup_free_ char *buf = NULL;
	size_t listed = 0;

	if (!fs->mountpoint || n == 0 || !(buf = malloc(WARM_BUF)))
		return;
	if ((root = ifs_mount_root_open(fs->mountpoint)) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&fs->lock);
		bool stop = fs->stopping;
		pthread_mutex_unlock(&fs->lock);
		if (stop)
			break;
		_cleanup_close_ int d = open_in_root(root, dirs[i], O_RDONLY | O_DIRECTORY, 0);
		if (d < 0)
			continue;
		while (getdents64(d, buf, WARM_BUF) > 0)
			;
		fs->stats.listed_dirs++;
		listed++;
	}
	log_debug("access profile: %zu of %zu directories listed", listed, n);
}

struct warm_job {
	struct ifs_fs *fs;
	struct wanted *w;
};

static void *warm_dirs_thread(void *arg)
{
	struct warm_job *j = arg;

	warm_dirs(j->fs, j->w->dirs, j->w->n_dirs);
	return NULL;
}

static void *prefetcher(void *arg)
{
	struct ifs_fs *fs = arg;
	_cleanup_(imagefs_store_freep) struct imagefs_store *s = NULL;
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	if (fs->profile_fetched) {
		if (!fs->profile_text)
			return NULL;
		text = TAKE_PTR(fs->profile_text);
		len = fs->profile_len;
	} else {
		if (imagefs_store_open(fs->store_spec, &fs->sopts, &s) < 0)
			return NULL;
		r = imagefs_profile_get(s, &fs->index_digest, &text, &len);
		if (r < 0) {
			if (r != -ENOENT)
				log_debug("no access profile: %s", strerror(-r));
			return NULL;
		}
	}
	log_debug("access profile: %zu bytes", len);
	ifs_spec_disable(fs);
	_cleanup_free_ char *copy = strndup(text, len);
	if (!copy)
		return NULL;
	struct wanted w = {.seen = calloc(imagefs_index_chunk_count(fs->idx) + 1, 1),
			   .dir_seen = calloc(imagefs_index_inode_count(fs->idx) + 1, 1),
			   .file_seen = calloc(imagefs_index_inode_count(fs->idx) + 1, 1)};
	if (w.seen && w.dir_seen && w.file_seen) {
		for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			if (fs->stopping)
				break;
			prefetch_line(fs, line, &w);
		}
		/* the directories are listed meanwhile: with a warm cache, queueing reads and
		 * checks every cached chunk of the profile first, and the start's lookups come at
		 * once */
		struct warm_job wj = {fs, &w};
		pthread_t t;
		bool listing = pthread_create(&t, NULL, warm_dirs_thread, &wj) == 0;
		ifs_fs_prefetch_ordered(fs, w.ks, w.n);
		log_debug("access profile: queued");
		if (listing)
			pthread_join(t, NULL);
		else
			warm_dirs(fs, w.dirs, w.n_dirs);
	}
	for (size_t i = 0; i < w.n_dirs; i++)
		free(w.dirs[i]);
	free(w.dirs);
	free(w.ks);
	free(w.seen);
	free(w.dir_seen);
	free(w.file_seen);
	return NULL;
}

int ifs_profile_prefetch_start(struct ifs_fs *fs)
{
	int r = -pthread_create(&fs->prefetcher, NULL, prefetcher, fs);

	if (r == 0)
		fs->prefetcher_started = true;
	return r;
}
