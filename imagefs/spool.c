/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The packs an export reads, fetched ahead from a remote store: the byte ranges of every chunk
 * of the index, coalesced, in pieces of at most SPOOL_PIECE, by SPOOL_THREADS threads with a
 * connection each, into an unnamed file per pack beside the export (the same file system, gone
 * when closed). The export reads its chunks from those files while the rest comes, waiting
 * only for a piece that has not arrived yet (packs hold files in the tree's order, the order
 * the export writes them, so it mostly follows the fetch); one
 * range request per chunk, one after the other, cost pull-snapshot of 120 MiB two thirds of its
 * second on loopback. Nothing here trusts the bytes: the export checks every chunk's digest.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "imagefs-internal.h"

#define SPOOL_PIECE (8u << 20)
#define SPOOL_GAP (256u << 10) /* ranges closer than this are fetched as one */
#define SPOOL_THREADS 4u

struct piece {
	uint32_t blob;
	uint64_t off, len;
};

struct ifs_spool_job {
	struct imagefs_store *s; /* the caller's: only its spec and options are used */
	const struct imagefs_index *idx;
	const int *fds;
	struct piece *pieces; /* sorted by pack and offset */
	bool *done;
	size_t n;
	uint64_t max_len;
	atomic_size_t next;
	atomic_bool failed;
	int error; /* the first failure */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t threads[SPOOL_THREADS];
	size_t started;
};

static int cmp_range(const void *a, const void *b)
{
	const struct piece *x = a, *y = b;

	if (x->blob != y->blob)
		return x->blob < y->blob ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

/*
 * Every chunk's range, sorted, then coalesced into pieces of at most SPOOL_PIECE (a chunk
 * larger than that is a piece of its own): each chunk lies whole in one piece.
 */
static int plan(struct ifs_spool_job *j)
{
	uint32_t n = imagefs_index_chunk_count(j->idx);
	_cleanup_free_ struct piece *r = calloc(n ? n : 1, sizeof(*r));
	size_t k = 0, m = 0;

	if (!r)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		struct imagefs_chunk c;
		int e = imagefs_index_chunk(j->idx, i, &c);
		if (e < 0)
			return e;
		if (c.compressed_size)
			r[k++] = (struct piece){c.blob, c.blob_offset, c.compressed_size};
	}
	qsort(r, k, sizeof(*r), cmp_range);
	for (size_t i = 0; i < k; i++) {
		struct piece *last = m ? &r[m - 1] : NULL;
		uint64_t end = r[i].off + r[i].len;
		if (last && last->blob == r[i].blob &&
		    r[i].off <= last->off + last->len + SPOOL_GAP &&
		    (end <= last->off + last->len || end - last->off <= SPOOL_PIECE)) {
			if (end > last->off + last->len)
				last->len = end - last->off;
			continue;
		}
		r[m++] = r[i];
	}
	j->max_len = 0;
	for (size_t i = 0; i < m; i++)
		if (r[i].len > j->max_len)
			j->max_len = r[i].len;
	if (!(j->done = calloc(m ? m : 1, sizeof(bool))))
		return -ENOMEM;
	j->pieces = TAKE_PTR(r);
	j->n = m;
	return 0;
}

static void fail(struct ifs_spool_job *j, int r)
{
	pthread_mutex_lock(&j->lock);
	if (!j->error)
		j->error = r;
	atomic_store(&j->failed, true);
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
}

static void *fetcher(void *arg)
{
	struct ifs_spool_job *j = arg;
	_cleanup_(imagefs_store_freep) struct imagefs_store *s = NULL;
	_cleanup_free_ void *buf = malloc(j->max_len ? j->max_len : 1);
	size_t i;
	int r;

	if (!buf)
		return fail(j, -ENOMEM), NULL;
	if ((r = ifs_store_reopen(j->s, &s)) < 0)
		return fail(j, r), NULL;
	s->cancel = &j->failed;
	while (!atomic_load(&j->failed) && (i = atomic_fetch_add(&j->next, 1)) < j->n) {
		const struct piece *p = &j->pieces[i];
		struct digest d = {0};

		if ((r = imagefs_index_blob(j->idx, p->blob, &d, NULL)) < 0 ||
		    (r = imagefs_store_read_range(s, &d, p->off, p->len, buf)) < 0 ||
		    (r = pwrite_all(j->fds[p->blob], buf, p->len, p->off)) < 0) {
			char ds[DIGEST_STRING_SIZE];
			/* the first failure says why; those it cancelled say nothing */
			if (!atomic_load(&j->failed))
				log_error_errno(r, "fetch bytes %llu-%llu of pack %s: %s%s%m",
						(unsigned long long)p->off,
						(unsigned long long)(p->off + p->len - 1),
						digest_format(&d, ds), s->error,
						*s->error ? ": " : "");
			return fail(j, r), NULL;
		}
		pthread_mutex_lock(&j->lock);
		j->done[i] = true;
		pthread_cond_broadcast(&j->cond);
		pthread_mutex_unlock(&j->lock);
	}
	return NULL;
}

/* An unnamed file in DIR (a named one unlinked at once where O_TMPFILE is not supported). */
static int spool_file(const char *dir)
{
	_cleanup_free_ char *tmpl = NULL;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
		return fd >= 0 ? fd : -errno;
	if (asprintf(&tmpl, "%s/.spool-XXXXXX", dir) < 0)
		return -ENOMEM;
	if ((fd = mkostemp(tmpl, O_CLOEXEC)) < 0)
		return -errno;
	(void)unlink(tmpl);
	return fd;
}

int ifs_spool_fetch(struct imagefs_store *s, const struct imagefs_index *idx, const char *dir,
		    struct ifs_spool *ret)
{
	struct ifs_spool sp = {.n = imagefs_index_blob_count(idx)};
	struct ifs_spool_job *j;
	int r = 0;

	*ret = (struct ifs_spool){0};
	if (!ifs_store_is_remote(s))
		return 0;
	if (!(j = calloc(1, sizeof(*j))))
		return -ENOMEM;
	*j = (struct ifs_spool_job){.s = s, .idx = idx};
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	sp.job = j;
	if (!(sp.fds = malloc((sp.n ? sp.n : 1) * sizeof(int))))
		r = -ENOMEM;
	for (uint32_t i = 0; sp.fds && i < sp.n; i++)
		sp.fds[i] = -EBADF;
	if (r >= 0)
		r = plan(j);
	for (size_t i = 0; r >= 0 && i < j->n; i++)
		if (j->pieces[i].blob >= sp.n)
			r = -EBADMSG;
		else if (sp.fds[j->pieces[i].blob] < 0 && (r = spool_file(dir)) >= 0)
			sp.fds[j->pieces[i].blob] = r;
	j->fds = sp.fds;
	/* the fetch goes on while the caller reads what has come (ifs_spool_read waits) */
	for (; r >= 0 && j->started < SPOOL_THREADS && j->started < j->n; j->started++)
		if ((r = -pthread_create(&j->threads[j->started], NULL, fetcher, j)) < 0)
			break;
	if (r < 0) {
		ifs_spool_done(&sp);
		return r;
	}
	*ret = sp;
	return 0;
}

/* The piece of J that holds [OFF, OFF + LEN) of pack BLOB, or -1. */
static ssize_t find_piece(const struct ifs_spool_job *j, uint32_t blob, uint64_t off, size_t len)
{
	size_t lo = 0, hi = j->n;

	/* the last piece at or before (BLOB, OFF) */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct piece *p = &j->pieces[mid];
		if (p->blob < blob || (p->blob == blob && p->off <= off))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -1;
	const struct piece *p = &j->pieces[lo - 1];
	if (p->blob != blob || off + len > p->off + p->len)
		return -1;
	return (ssize_t)(lo - 1);
}

int ifs_spool_read(const struct ifs_spool *sp, uint32_t blob, uint64_t off, size_t len, void *buf)
{
	struct ifs_spool_job *j = sp->job;
	ssize_t k;
	int r;

	if (!j || blob >= sp->n || sp->fds[blob] < 0 || (k = find_piece(j, blob, off, len)) < 0)
		return -ENOENT;
	pthread_mutex_lock(&j->lock);
	while (!j->done[k] && !j->error)
		pthread_cond_wait(&j->cond, &j->lock);
	r = j->done[k] ? 0 : j->error;
	pthread_mutex_unlock(&j->lock);
	return r < 0 ? r : pread_all(sp->fds[blob], buf, len, off);
}

void ifs_spool_done(struct ifs_spool *sp)
{
	struct ifs_spool_job *j = sp->job;

	if (j) {
		atomic_store(&j->failed, true); /* what is still in flight stops */
		for (size_t i = 0; i < j->started; i++)
			pthread_join(j->threads[i], NULL);
		pthread_mutex_destroy(&j->lock);
		pthread_cond_destroy(&j->cond);
		free(j->pieces);
		free(j->done);
		free(j);
	}
	for (uint32_t i = 0; sp->fds && i < sp->n; i++)
		safe_close(sp->fds[i]);
	free(sp->fds);
	*sp = (struct ifs_spool){0};
}
