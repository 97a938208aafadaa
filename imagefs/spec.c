/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Speculation without a profile. An image started for the first time has no access profile,
 * and its start reads files one after the other: an interpreter's import walks a package
 * directory by directory, and each file it reads is a chunk miss, a round trip to the store
 * that the start waits for. On the first open of a file (or its first read, when no OPEN
 * comes), two guesses turn most of those round trips into a few range reads that overlap:
 *  - the small files of its directory (the one it was looked up or listed in) are queued, in
 *    directory order, as prefetch jobs: neighbours in a pack come in one range read;
 *  - a file of several chunks is queued whole when it is a shared object or a program (it is
 *    mapped and faulted in out of order, a readahead window at a time): its chunks come in
 *    parallel ranges. A data file is not: it is read as far as its reader goes.
 * A listing or a lookup alone fetches nothing: `ls -R` or a path search stays metadata only.
 * A thread of its own does the planning (index walks, cache probes), so that no request waits
 * for it; the requests only set a flag and queue an inode in a bounded ring. What is queued is
 * bounded by a budget of compressed bytes, a base plus the bytes the container has read, so
 * that a cold start never turns into a pull; a batch over the budget is left out whole, and
 * counted. Prefetch jobs run behind demand jobs on at most half the fetch workers (fetch.c), and
 * a read that needs a chunk of a queued job moves that job ahead.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "lazy-internal.h"

#define SPEC_BASE_MB 32		/* default budget before anything is read */
#define SPEC_SMALL (256u << 10) /* the largest file of a directory's batch */
#define SPEC_DIR_MAX (4u << 20) /* bytes of one directory's batch */
#define SPEC_DIR_ENTRIES 4096	/* entries of a directory looked at */
#define SPEC_SO_MAX (16u << 20) /* the largest shared object or program fetched whole */

enum {
	SPEC_DIR_SEEN = 1 << 0,
	SPEC_FILE_SEEN = 1 << 1,
	SPEC_SO = 1 << 2,
};

/* chunk numbers collected for one batch, and their compressed bytes */
struct batch {
	uint32_t *ks;
	size_t n, cap;
	uint64_t bytes, size;
};

static int batch_add_file(struct ifs_fs *fs, struct batch *b, uint32_t ino)
{
	uint32_t count;
	int r;

	if ((r = imagefs_index_file_chunk_count(fs->idx, ino, &count)) < 0)
		return r;
	for (uint32_t pos = 0; pos < count; pos++) {
		struct imagefs_chunk c;

		if ((r = imagefs_index_file_chunk(fs->idx, ino, pos, &c)) < 0)
			return r;
		if (b->n == b->cap) {
			size_t cap = b->cap ? b->cap * 2 : 64;
			uint32_t *nk = realloc(b->ks, cap * sizeof(*nk));
			if (!nk)
				return -ENOMEM;
			b->ks = nk;
			b->cap = cap;
		}
		b->ks[b->n++] = c.chunk;
		b->bytes += c.compressed_size;
		b->size += c.size;
	}
	return 0;
}

static bool within_budget(struct ifs_fs *fs, uint64_t more)
{
	uint64_t allowed = fs->spec.base + atomic_load(&fs->stats.read_bytes);

	return atomic_load(&fs->stats.spec_bytes) + more <= allowed;
}

/* Queue B; false when over the budget. */
static bool batch_queue(struct ifs_fs *fs, const struct batch *b)
{
	uint64_t queued;

	if (b->n == 0)
		return true;
	if (!within_budget(fs, b->bytes)) {
		fs->stats.spec_refused++;
		return false;
	}
	queued = ifs_fs_prefetch_spec(fs, b->ks, b->n);
	fs->stats.spec_bytes += queued;
	return true;
}

/* NAME is a shared object: "x.so" or "x.so.N..." */
static bool is_shared_object(const char *name, size_t len)
{
	for (size_t i = 1; i + 3 <= len; i++)
		if (name[i] == '.' && name[i + 1] == 's' && name[i + 2] == 'o' &&
		    (i + 3 == len || name[i + 3] == '.'))
			return true;
	return false;
}

/* The kind of file NAME is, for its neighbours: "so" for a shared object (versioned or not),
 * else what follows its last dot ("pyc", "py"; empty without one). */
static void kind_of(const char *name, size_t len, const char **ret, size_t *ret_len)
{
	const char *dot = len > 0 ? memrchr(name + 1, '.', len - 1) : NULL;

	if (is_shared_object(name, len)) {
		*ret = "so";
		*ret_len = 2;
	} else if (dot) {
		*ret = dot + 1;
		*ret_len = len - (size_t)(dot + 1 - name);
	} else {
		*ret = "";
		*ret_len = 0;
	}
}

/* The small files of DIR of the same kind as FILE, which was opened: the modules compiled
 * beside it (not their sources, which an interpreter only looks at), the libraries beside a
 * library. */
static void spec_dir(struct ifs_fs *fs, uint32_t dir, uint32_t file)
{
	const char *kind = NULL, *name;
	size_t kind_len = 0, len;
	struct batch b = {0};
	uint32_t ino;

	for (uint64_t pos = 0; pos < SPEC_DIR_ENTRIES && !kind; pos++) {
		if (imagefs_index_readdir(fs->idx, dir, pos, &name, &len, &ino) <= 0)
			return; /* reached by another name */
		if (ino == file)
			kind_of(name, len, &kind, &kind_len);
	}
	for (uint64_t pos = 0; pos < SPEC_DIR_ENTRIES; pos++) {
		struct imagefs_stat st;
		const char *k;
		size_t klen;

		if (imagefs_index_readdir(fs->idx, dir, pos, &name, &len, &ino) <= 0)
			break;
		kind_of(name, len, &k, &klen);
		if (klen != kind_len || memcmp(k, kind, klen) != 0)
			continue;
		if (imagefs_index_getattr(fs->idx, ino, &st) < 0 || !S_ISREG(st.mode) ||
		    st.inline_data || st.size == 0 || st.size > SPEC_SMALL)
			continue;
		if (b.size + st.size > SPEC_DIR_MAX)
			break;
		if (batch_add_file(fs, &b, ino) < 0)
			break;
	}
	if (b.n > 0 && batch_queue(fs, &b))
		fs->stats.spec_dirs++;
	free(b.ks);
}

static void spec_file(struct ifs_fs *fs, uint32_t ino)
{
	bool so = atomic_load(&fs->spec.inode[ino]) & SPEC_SO;
	struct imagefs_stat st;
	struct batch b = {0};

	if (imagefs_index_getattr(fs->idx, ino, &st) < 0 || !S_ISREG(st.mode) || st.inline_data ||
	    st.size <= imagefs_index_chunk_size(fs->idx))
		return; /* one chunk at most: its read fetches it */
	/* a data file is read as far as its reader goes: the demand reads bring its next part */
	if (!(so || (st.mode & 0111)) || st.size > SPEC_SO_MAX)
		return;
	if (batch_add_file(fs, &b, ino) == 0 && batch_queue(fs, &b))
		fs->stats.spec_files++;
	free(b.ks);
}

static void push(struct ifs_fs *fs, uint32_t item)
{
	struct ifs_spec *sp = &fs->spec;

	pthread_mutex_lock(&sp->lock);
	if (sp->n < IFS_SPEC_RING && !sp->stopping) {
		sp->ring[(sp->head + sp->n) % IFS_SPEC_RING] = item;
		sp->n++;
		pthread_cond_signal(&sp->work);
	}
	pthread_mutex_unlock(&sp->lock);
}

/* Whether FLAG is newly set on INO: only the first caller queues. */
static bool first_time(struct ifs_fs *fs, uint32_t ino, unsigned flag)
{
	if (!fs->spec.started || atomic_load(&fs->spec.off) ||
	    ino >= imagefs_index_inode_count(fs->idx) || ino == UINT32_MAX)
		return false;
	if (atomic_load(&fs->spec.inode[ino]) & flag)
		return false;
	return !(atomic_fetch_or(&fs->spec.inode[ino], flag) & flag);
}

static void *spec_thread(void *arg)
{
	struct ifs_fs *fs = arg;
	struct ifs_spec *sp = &fs->spec;

	pthread_mutex_lock(&sp->lock);
	for (;;) {
		uint32_t item;

		while (sp->n == 0 && !sp->stopping)
			pthread_cond_wait(&sp->work, &sp->lock);
		if (sp->stopping)
			break;
		item = sp->ring[sp->head];
		sp->head = (sp->head + 1) % IFS_SPEC_RING;
		sp->n--;
		pthread_mutex_unlock(&sp->lock);
		if (!atomic_load(&sp->off)) {
			uint32_t parent =
			    atomic_load_explicit(&sp->parent[item], memory_order_relaxed);

			spec_file(fs, item);
			/* the files beside it are read next (an import walks a package) */
			if (parent > 0 && first_time(fs, parent - 1, SPEC_DIR_SEEN))
				spec_dir(fs, parent - 1, item);
		}
		pthread_mutex_lock(&sp->lock);
	}
	pthread_mutex_unlock(&sp->lock);
	return NULL;
}

void ifs_spec_file(struct ifs_fs *fs, uint32_t ino)
{
	if (first_time(fs, ino, SPEC_FILE_SEEN))
		push(fs, ino);
}

void ifs_spec_opened(struct ifs_fs *fs, uint32_t ino)
{
	uint32_t count;

	ifs_spec_file(fs, ino);
	/* a file opened through passthrough is read without us: its chunks count as used now */
	if (!fs->spec.chunk || imagefs_index_file_chunk_count(fs->idx, ino, &count) < 0)
		return;
	for (uint32_t pos = 0; pos < count && pos < 64; pos++) {
		struct imagefs_chunk c;

		if (imagefs_index_file_chunk(fs->idx, ino, pos, &c) == 0)
			ifs_spec_note_read(fs, c.chunk);
	}
}

void ifs_spec_note_name(struct ifs_fs *fs, uint32_t parent, uint32_t ino, const char *name,
			size_t len)
{
	if (!fs->spec.inode || ino >= imagefs_index_inode_count(fs->idx))
		return;
	/* a file of several names keeps the last one seen: either is a fair guess */
	atomic_store_explicit(&fs->spec.parent[ino], parent + 1, memory_order_relaxed);
	if (is_shared_object(name, len))
		atomic_fetch_or(&fs->spec.inode[ino], SPEC_SO);
}

void ifs_spec_note_read(struct ifs_fs *fs, uint32_t k)
{
	struct imagefs_chunk c;

	if (!fs->spec.chunk || k >= imagefs_index_chunk_count(fs->idx) ||
	    !atomic_load(&fs->spec.chunk[k]) || !atomic_exchange(&fs->spec.chunk[k], 0))
		return;
	if (imagefs_index_chunk(fs->idx, k, &c) == 0)
		fs->stats.spec_used_bytes += c.compressed_size;
}

void ifs_spec_disable(struct ifs_fs *fs)
{
	atomic_store(&fs->spec.off, true);
}

int ifs_spec_init(struct ifs_fs *fs)
{
	struct ifs_spec *sp = &fs->spec;
	const char *e = getenv("BRISK_IMAGEFS_SPECULATE");
	unsigned long mb = SPEC_BASE_MB;

	if (e && *e) {
		char *end;
		errno = 0;
		mb = strtoul(e, &end, 10);
		if (errno != 0 || *end || mb > (1ul << 20))
			mb = SPEC_BASE_MB;
	}
	sp->base = (uint64_t)mb << 20;
	pthread_mutex_init(&sp->lock, NULL);
	pthread_cond_init(&sp->work, NULL);
	if (sp->base == 0)
		return 0;
	sp->inode = calloc(imagefs_index_inode_count(fs->idx) + 1, sizeof(*sp->inode));
	sp->parent = calloc(imagefs_index_inode_count(fs->idx) + 1, sizeof(*sp->parent));
	sp->chunk = calloc(imagefs_index_chunk_count(fs->idx) + 1, sizeof(*sp->chunk));
	if (!sp->inode || !sp->parent || !sp->chunk)
		return -ENOMEM;
	return 0;
}

int ifs_spec_start(struct ifs_fs *fs)
{
	struct ifs_spec *sp = &fs->spec;
	int r;

	if (sp->base == 0 || sp->started)
		return 0;
	sp->stopping = false;
	if ((r = -pthread_create(&sp->thread, NULL, spec_thread, fs)) < 0)
		return r;
	sp->started = true;
	return 0;
}

void ifs_spec_stop(struct ifs_fs *fs)
{
	struct ifs_spec *sp = &fs->spec;

	if (!sp->started)
		return;
	pthread_mutex_lock(&sp->lock);
	sp->stopping = true;
	sp->n = 0;
	pthread_cond_signal(&sp->work);
	pthread_mutex_unlock(&sp->lock);
	pthread_join(sp->thread, NULL);
	sp->started = false;
}

void ifs_spec_free(struct ifs_fs *fs)
{
	ifs_spec_stop(fs);
	free(fs->spec.inode);
	free(fs->spec.parent);
	free(fs->spec.chunk);
	fs->spec.inode = NULL;
	fs->spec.parent = NULL;
	fs->spec.chunk = NULL;
	pthread_mutex_destroy(&fs->spec.lock);
	pthread_cond_destroy(&fs->spec.work);
}
