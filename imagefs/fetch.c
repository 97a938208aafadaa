/* SPDX-License-Identifier: Apache-2.0 */
/*
 * On-demand chunk fetching for the lazy mount.
 *
 * Every chunk of the image has a state (CHUNK_*) under fs->lock. A reader that needs absent
 * chunks marks them pending and queues jobs; a reader that needs a pending chunk waits for it
 * (single flight: one fetch however many readers). A job is a run of chunks contiguous in one
 * pack, read with one range request: adjacent chunks are coalesced, and a run is extended over
 * the absent chunks that follow it in the pack (the next part of a large file, or the
 * neighbouring small files of a directory) up to a budget.
 *
 * A fixed pool of workers (bounded parallelism), each with its own store handle, runs demand
 * jobs before prefetch jobs, and never lets prefetch take every worker. A job's bytes are
 * decoded and each chunk's digest checked before any of it is published; a failed read or a
 * digest mismatch is retried with exponential backoff a bounded number of times (each read
 * bounded by the store's timeout, the requests it makes for a token included), then the job's
 * chunks go back to absent, so that a later read fetches them again, and their waiting readers
 * get -EIO. When the mount goes away, readers stop waiting and the transfers under way stop.
 * Published chunks are served from memory until written to the cache, which a writer thread
 * does in batches (a flush wait per chunk would otherwise hold a worker for milliseconds per
 * small file while readers and queued jobs wait for workers).
 */
#define FUSE_USE_VERSION 35
#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fault.h"
#include "common/log.h"
#include "lazy-internal.h"

#define RUN_MAX (8u << 20)	     /* compressed bytes of one range request */
#define NEIGHBOUR_MIN (512u << 10)   /* a run grows over following chunks up to this, */
#define MAX_CACHED_FDS 4096	     /* or twice what was asked; fds kept open per mount */
#define PROBE_WINDOW 64		     /* cache files a probe opens and reads ahead at once */
#define GAP_MAX 4		     /* chunks not asked for that a run may span */
#define PF_RUN_MAX (4u << 20)	     /* compressed bytes of one prefetch range request */
#define PF_GAP_MAX (256u << 10)	     /* bytes not asked for that a prefetch run may span */
#define PF_GAP_CHUNKS 256	     /* chunks not asked for that a prefetch run may span */
#define WRITE_MAX (256u << 20)	     /* bytes held in memory for the cache writer; past it, */
				     /* a worker writes its chunks itself */
#define WRITE_BATCH 64		     /* chunks the writer puts in the cache at once */
#define WRITE_QUIET_MS 100	     /* the writer waits for this long without a request... */
#define WRITE_DEFER_MS 3000	     /* ...but no longer than this after a job was queued, */
#define WRITE_DEFER_MAX (128u << 20) /* nor past this many bytes held */

static bool chunk_get(struct ifs_fs *fs, uint32_t k, struct imagefs_chunk *c)
{
	return imagefs_index_chunk(fs->idx, k, c) == 0;
}

/* Chunk K+1 follows K in the same pack. */
static bool adjacent(struct ifs_fs *fs, uint32_t k)
{
	struct imagefs_chunk a, b;

	if (k + 1 >= imagefs_index_chunk_count(fs->idx) || !chunk_get(fs, k, &a) ||
	    !chunk_get(fs, k + 1, &b))
		return false;
	return a.blob == b.blob && a.blob_offset + a.compressed_size == b.blob_offset;
}

static uint32_t csize(struct ifs_fs *fs, uint32_t k)
{
	struct imagefs_chunk c;

	return chunk_get(fs, k, &c) ? c.compressed_size : 0;
}

static void queue(struct ifs_fs *fs, struct ifs_job *j)
{
	struct ifs_job **head = j->demand ? &fs->demand : &fs->prefetch;
	struct ifs_job **tail = j->demand ? &fs->demand_tail : &fs->prefetch_tail;

	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
	pthread_cond_signal(&fs->work);
}

static struct ifs_job *pop(struct ifs_job **head, struct ifs_job **tail)
{
	struct ifs_job *j = *head;

	if (j) {
		*head = j->next;
		if (!*head)
			*tail = NULL;
	}
	return j;
}

/* A demand reader needs chunk K that a queued prefetch job will produce: move the job ahead. */
static void promote(struct ifs_fs *fs, uint32_t k)
{
	struct ifs_job *prev = NULL;

	for (struct ifs_job *j = fs->prefetch; j; prev = j, j = j->next) {
		if (k < j->first || k > j->last)
			continue;
		if (prev)
			prev->next = j->next;
		else
			fs->prefetch = j->next;
		if (fs->prefetch_tail == j)
			fs->prefetch_tail = prev;
		j->demand = true;
		queue(fs, j);
		return;
	}
}

/* Queue runs for the absent chunks among CHUNKS (sorted); called with fs->lock held. */
static int plan(struct ifs_fs *fs, const uint32_t *chunks, size_t n, bool demand)
{
	uint32_t count = imagefs_index_chunk_count(fs->idx);
	uint64_t asked = 0;

	for (size_t i = 0; i < n; i++)
		if (chunks[i] < count && fs->state[chunks[i]] == CHUNK_ABSENT)
			asked += csize(fs, chunks[i]);
	for (size_t i = 0; i < n; i++) {
		uint32_t k = chunks[i];
		struct ifs_job *j;
		uint64_t bytes, budget;

		if (k >= count)
			continue;
		if (fs->state[k] == CHUNK_PENDING && demand)
			promote(fs, k);
		if (fs->state[k] != CHUNK_ABSENT)
			continue;
		if (!(j = calloc(1, sizeof(*j))))
			return -ENOMEM;
		j->first = j->last = k;
		j->demand = demand;
		fs->state[k] = CHUNK_PENDING;
		fs->failed[k] = 0;
		bytes = csize(fs, k);
		/* the asked chunks that follow in the pack, across gaps of a few absent chunks */
		while (i + 1 < n && chunks[i + 1] > j->last && chunks[i + 1] - j->last <= GAP_MAX &&
		       bytes < RUN_MAX) {
			uint32_t next = chunks[i + 1], g;

			for (g = j->last; g < next; g++)
				if (!adjacent(fs, g) || fs->state[g + 1] != CHUNK_ABSENT)
					break;
			if (g != next)
				break;
			for (g = j->last + 1; g <= next; g++) {
				fs->state[g] = CHUNK_PENDING;
				fs->failed[g] = 0;
				bytes += csize(fs, g);
			}
			j->last = next;
			i++;
		}
		/* and a little more (demand only: prefetch lists what it wants) */
		budget = asked * 2 > NEIGHBOUR_MIN ? asked * 2 : NEIGHBOUR_MIN;
		if (budget > RUN_MAX)
			budget = RUN_MAX;
		while (demand && bytes < budget && adjacent(fs, j->last) &&
		       fs->state[j->last + 1] == CHUNK_ABSENT &&
		       bytes + csize(fs, j->last + 1) <= budget) {
			j->last++;
			fs->state[j->last] = CHUNK_PENDING;
			fs->failed[j->last] = 0;
			bytes += csize(fs, j->last);
		}
		queue(fs, j);
	}
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void ifs_fs_busy(struct ifs_fs *fs)
{
	atomic_store_explicit(&fs->busy_ms, (uint64_t)now_ms(), memory_order_relaxed);
}

/* Chunks another mount (or an earlier one) cached are found on first use, and checked before
 * any of their bytes is served (cache.c). The cache files of up to PROBE_WINDOW chunks are opened
 * and read ahead at once, then checked one by one: the disk reads them together. */
static void probe(struct ifs_fs *fs, const uint32_t *chunks, size_t n)
{
	uint32_t count = imagefs_index_chunk_count(fs->idx);
	struct {
		uint32_t k;
		int fd;
		struct imagefs_chunk c;
	} w[PROBE_WINDOW];

	for (size_t i = 0; i < n;) {
		size_t m = 0;

		for (; i < n && m < PROBE_WINDOW; i++) {
			uint32_t k = chunks[i];
			bool absent;

			if (k >= count)
				continue;
			pthread_mutex_lock(&fs->lock);
			absent = fs->state[k] == CHUNK_ABSENT && !fs->failed[k];
			pthread_mutex_unlock(&fs->lock);
			if (!absent || !chunk_get(fs, k, &w[m].c) ||
			    ifs_cache_peek(fs->cache, &w[m].c.digest, w[m].c.size, &w[m].fd) < 0)
				continue;
			w[m++].k = k;
		}
		for (size_t j = 0; j < m; j++) {
			_cleanup_close_ int fd = w[j].fd;
			uint32_t k = w[j].k;

			if (ifs_cache_check(fs->cache, &w[j].c.digest, w[j].c.size, fd) < 0)
				continue; /* a bad entry is gone: fetched again */
			pthread_mutex_lock(&fs->lock);
			if (fs->state[k] == CHUNK_ABSENT) {
				fs->state[k] = CHUNK_CACHED;
				fs->stats.cache_hits++;
				if (fs->fds[k] < 0 && fs->open_fds < MAX_CACHED_FDS) {
					fs->fds[k] = TAKE_FD(fd);
					fs->open_fds++;
				}
			}
			pthread_mutex_unlock(&fs->lock);
		}
	}
}

void ifs_fs_hint(struct ifs_fs *fs, uint32_t k)
{
	struct imagefs_chunk c;
	int fd = -EBADF;
	bool ours, ok;

	if (k >= imagefs_index_chunk_count(fs->idx) || !chunk_get(fs, k, &c))
		return;
	/* pending while it is checked: a read that comes meanwhile waits for the check, not
	 * does it again */
	pthread_mutex_lock(&fs->lock);
	ours = fs->state[k] == CHUNK_ABSENT && !fs->failed[k] && !fs->stopping;
	if (ours)
		fs->state[k] = CHUNK_PENDING;
	pthread_mutex_unlock(&fs->lock);
	if (!ours)
		return;
	ok = ifs_cache_peek(fs->cache, &c.digest, c.size, &fd) == 0 &&
	     ifs_cache_check(fs->cache, &c.digest, c.size, fd) == 0;
	pthread_mutex_lock(&fs->lock);
	fs->state[k] = ok ? CHUNK_CACHED : CHUNK_ABSENT;
	if (ok) {
		fs->stats.cache_hits++;
		if (fs->fds[k] < 0 && fs->open_fds < MAX_CACHED_FDS) {
			fs->fds[k] = TAKE_FD(fd);
			fs->open_fds++;
		}
	}
	pthread_cond_broadcast(&fs->changed);
	pthread_mutex_unlock(&fs->lock);
	safe_close(fd);
}

/* Wait for a chunk to leave CHUNK_PENDING, under fs->lock: false once the FUSE session has
 * ended (the mount is gone; the fetch may take its whole timeout yet, and the server's exit
 * waits for this request). */
static bool wait_changed(struct ifs_fs *fs)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += 1;
	pthread_cond_timedwait(&fs->changed, &fs->lock, &ts);
	return !fs->pt.se || !fuse_session_exited(fs->pt.se);
}

int ifs_fs_ensure(struct ifs_fs *fs, const uint32_t *chunks, size_t n)
{
	double t0 = now_ms();
	bool waited = false;
	int r = 0;

	probe(fs, chunks, n);
	pthread_mutex_lock(&fs->lock);
	for (int round = 0; round < 3; round++) {
		bool again = false, gone = false;

		if ((r = plan(fs, chunks, n, true)) < 0)
			break;
		for (size_t i = 0; i < n && !gone; i++)
			while (fs->state[chunks[i]] == CHUNK_PENDING && !fs->stopping) {
				waited = true;
				if ((gone = !wait_changed(fs)))
					break;
			}
		if (gone) {
			r = -EIO;
			break;
		}
		for (size_t i = 0; i < n && r == 0; i++) {
			if (fs->state[chunks[i]] != CHUNK_ABSENT)
				continue;
			if (fs->failed[chunks[i]] || fs->stopping)
				r = -EIO;
			else
				again = true; /* not cached after all: fetch again */
		}
		if (r < 0 || !again)
			break;
	}
	pthread_mutex_unlock(&fs->lock);
	if (waited) {
		fs->stats.waits++;
		fs->stats.wait_us += (uint64_t)((now_ms() - t0) * 1000);
	}
	return r;
}

void ifs_fs_prefetch(struct ifs_fs *fs, const uint32_t *chunks, size_t n)
{
	probe(fs, chunks, n);
	pthread_mutex_lock(&fs->lock);
	(void)plan(fs, chunks, n, false);
	pthread_mutex_unlock(&fs->lock);
}

struct pf_item {
	uint32_t k, rank;
};

static int by_chunk(const void *a, const void *b)
{
	const struct pf_item *x = a, *y = b;

	if (x->k != y->k)
		return x->k < y->k ? -1 : 1;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

struct pf_run {
	struct ifs_job *job;
	uint32_t rank;
};

static int by_rank(const void *a, const void *b)
{
	const struct pf_run *x = a, *y = b;

	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* The chunks after LAST up to NEXT can join LAST's run: contiguous in the pack, all absent, and
 * the ones between not asked for few and small. Their compressed bytes in *RET_BYTES. */
static bool can_span(struct ifs_fs *fs, uint32_t last, uint32_t next, uint64_t *ret_bytes)
{
	uint64_t gap = 0;

	if (next - last > PF_GAP_CHUNKS + 1)
		return false;
	for (uint32_t g = last; g < next; g++) {
		if (!adjacent(fs, g) || fs->state[g + 1] != CHUNK_ABSENT)
			return false;
		if (g + 1 < next && (gap += csize(fs, g + 1)) > PF_GAP_MAX)
			return false;
	}
	*ret_bytes = gap + csize(fs, next);
	return true;
}

/* Plan CHUNKS (in the order wanted) as prefetch jobs: the compressed bytes queued. SPEC: the
 * chunks are marked as speculation's. */
static uint64_t plan_ordered(struct ifs_fs *fs, const uint32_t *chunks, size_t n, bool spec)
{
	uint32_t count = imagefs_index_chunk_count(fs->idx);
	_cleanup_free_ struct pf_item *v = calloc(n ? n : 1, sizeof(*v));
	_cleanup_free_ struct pf_run *runs = calloc(n ? n : 1, sizeof(*runs));
	size_t m = 0, nruns = 0;

	uint64_t queued = 0;

	if (!v || !runs)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (chunks[i] < count)
			v[m++] = (struct pf_item){chunks[i], (uint32_t)i};
	qsort(v, m, sizeof(*v), by_chunk);
	pthread_mutex_lock(&fs->lock);
	for (size_t i = 0; i < m; i++) {
		uint32_t k = v[i].k, rank = v[i].rank;
		uint64_t bytes, more;
		struct ifs_job *j;

		if (fs->state[k] != CHUNK_ABSENT || (i > 0 && v[i - 1].k == k))
			continue;
		if (!(j = calloc(1, sizeof(*j))))
			break;
		j->first = j->last = k;
		bytes = csize(fs, k);
		/* the wanted chunks that follow in the pack, over small gaps */
		while (i + 1 < m && bytes < PF_RUN_MAX) {
			uint32_t next = v[i + 1].k;

			if (next == j->last) {
				i++;
				continue;
			}
			if (!can_span(fs, j->last, next, &more) || bytes + more > PF_RUN_MAX)
				break;
			j->last = next;
			bytes += more;
			if (v[i + 1].rank < rank)
				rank = v[i + 1].rank;
			i++;
		}
		for (uint32_t g = j->first; g <= j->last; g++) {
			fs->state[g] = CHUNK_PENDING;
			fs->failed[g] = 0;
			queued += csize(fs, g);
			if (spec) {
				atomic_store(&fs->spec.chunk[g], 1);
				fs->stats.spec_chunks++;
			}
		}
		runs[nruns++] = (struct pf_run){j, rank};
	}
	/* the run with the chunk wanted first goes first */
	qsort(runs, nruns, sizeof(*runs), by_rank);
	for (size_t i = 0; i < nruns; i++)
		queue(fs, runs[i].job);
	pthread_mutex_unlock(&fs->lock);
	return queued;
}

void ifs_fs_prefetch_ordered(struct ifs_fs *fs, const uint32_t *chunks, size_t n)
{
	probe(fs, chunks, n);
	(void)plan_ordered(fs, chunks, n, false);
}

uint64_t ifs_fs_prefetch_spec(struct ifs_fs *fs, const uint32_t *chunks, size_t n)
{
	uint32_t count = imagefs_index_chunk_count(fs->idx);
	_cleanup_free_ uint32_t *v = malloc((n ? n : 1) * sizeof(*v));
	size_t m = 0;

	if (!v)
		return 0;
	/* a chunk in the cache is left for its read to check: hashing guesses costs more than a
	 * miss of one (the readahead of the probe brings its bytes meanwhile) */
	for (size_t i = 0; i < n; i++) {
		uint32_t k = chunks[i];
		struct imagefs_chunk c;
		bool absent;
		int fd;

		if (k >= count || !chunk_get(fs, k, &c))
			continue;
		pthread_mutex_lock(&fs->lock);
		absent = fs->state[k] == CHUNK_ABSENT && !fs->failed[k] && !fs->stopping;
		pthread_mutex_unlock(&fs->lock);
		if (!absent)
			continue;
		if (ifs_cache_peek(fs->cache, &c.digest, c.size, &fd) == 0) {
			safe_close(fd);
			continue;
		}
		v[m++] = k;
	}
	return plan_ordered(fs, v, m, true);
}

int ifs_fs_chunk_data(struct ifs_fs *fs, uint32_t k, int *ret_fd, bool *ret_close,
		      struct ifs_membuf **ret_mem)
{
	struct imagefs_chunk c;
	int fd, r;

	if (!chunk_get(fs, k, &c))
		return -EIO;
	pthread_mutex_lock(&fs->lock);
	if (fs->state[k] == CHUNK_MEMORY) {
		atomic_fetch_add(&fs->mem[k]->refs, 1);
		*ret_mem = fs->mem[k];
		*ret_fd = -EBADF;
		pthread_mutex_unlock(&fs->lock);
		return 0;
	}
	if (fs->state[k] != CHUNK_CACHED) {
		pthread_mutex_unlock(&fs->lock);
		return -EAGAIN;
	}
	if (fs->fds[k] >= 0) {
		*ret_fd = fs->fds[k];
		*ret_close = false;
		*ret_mem = NULL;
		pthread_mutex_unlock(&fs->lock);
		return 0;
	}
	pthread_mutex_unlock(&fs->lock);

	r = ifs_cache_get(fs->cache, &c.digest, c.size, &fd);
	pthread_mutex_lock(&fs->lock);
	if (r < 0) {
		if (fs->state[k] == CHUNK_CACHED && fs->fds[k] < 0)
			fs->state[k] = CHUNK_ABSENT; /* evicted */
		pthread_mutex_unlock(&fs->lock);
		return -EAGAIN;
	}
	*ret_mem = NULL;
	if (fs->fds[k] < 0 && fs->open_fds < MAX_CACHED_FDS) {
		fs->fds[k] = fd;
		fs->open_fds++;
		*ret_close = false;
	} else {
		*ret_close = true;
	}
	*ret_fd = fd;
	pthread_mutex_unlock(&fs->lock);
	return 0;
}

/* A range read in progress: the chunks of J from *DONE on, whose compressed bytes land in CBUF
 * (from blob offset BASE) as they arrive. */
struct run_read {
	struct ifs_fs *fs;
	const struct ifs_job *j;
	struct ifs_membuf **bufs;
	uint32_t *done;
	const char *cbuf;
	uint64_t base;
	int err;
};

/* Decode, check and publish each chunk whose bytes have all arrived (GOT bytes from BASE), so
 * that its readers go on while the rest of a large run is still on the way. */
static void run_progress(void *arg, size_t got)
{
	struct run_read *rr = arg;
	struct ifs_fs *fs = rr->fs;
	uint32_t n = rr->j->last - rr->j->first + 1;
	struct imagefs_chunk c;

	while (rr->err == 0 && *rr->done < n) {
		uint32_t i = *rr->done, k = rr->j->first + i;
		struct ifs_membuf *m;

		if (!chunk_get(fs, k, &c)) {
			rr->err = -EIO;
			break;
		}
		if (c.blob_offset + c.compressed_size - rr->base > got)
			break;
		m = rr->bufs[i] = ifs_membuf_new(c.size);
		if (!m) {
			rr->err = -ENOMEM;
			break;
		}
		if ((rr->err = imagefs_chunk_decode(&c, rr->cbuf + (c.blob_offset - rr->base),
						    m->data)) < 0)
			break;
		/* fs->mem takes the reference; BUFS keeps the pointer for the cache write */
		pthread_mutex_lock(&fs->lock);
		fs->mem[k] = m;
		fs->state[k] = CHUNK_MEMORY;
		pthread_cond_broadcast(&fs->changed);
		pthread_mutex_unlock(&fs->lock);
		(*rr->done)++;
	}
}

/* Read the chunks of J from *DONE on, publishing each (decoded, digest checked) as it arrives;
 * *DONE counts the published ones, which stay published whatever happens to the rest. */
static int fetch_run(struct ifs_fs *fs, struct imagefs_store *s, const struct ifs_job *j,
		     struct ifs_membuf **bufs, uint32_t *done)
{
	struct imagefs_chunk from, last;
	struct ifs_membuf *cbuf;
	struct digest blob;
	uint64_t len;
	int r;

	if (!chunk_get(fs, j->first + *done, &from) || !chunk_get(fs, j->last, &last))
		return -EIO;
	if ((r = imagefs_index_blob(fs->idx, from.blob, &blob, NULL)) < 0)
		return r;
	len = last.blob_offset + last.compressed_size - from.blob_offset;
	if (!(cbuf = ifs_membuf_new(len)))
		return -ENOMEM;
	struct run_read rr = {.fs = fs,
			      .j = j,
			      .bufs = bufs,
			      .done = done,
			      .cbuf = cbuf->data,
			      .base = from.blob_offset};
	fs->stats.range_reads++;
	s->range_progress = run_progress;
	s->range_progress_arg = &rr;
	r = fault_hit("chunk-fetch")
		? -EIO
		: imagefs_store_read_range(s, &blob, from.blob_offset, len, cbuf->data);
	s->range_progress = NULL;
	s->range_progress_arg = NULL;
	if (r >= 0) {
		fs->stats.fetched_bytes += len;
		run_progress(&rr, len); /* what the store did not report */
		r = rr.err < 0 ? rr.err : *done == j->last - j->first + 1 ? 0 : -EIO;
	}
	ifs_membuf_unref(cbuf);
	return r;
}

static void writes_queue(struct ifs_fs *fs, struct ifs_job *j, uint64_t bytes)
{
	j->next = NULL;
	j->queued_ms = now_ms();
	if (fs->writes_tail)
		fs->writes_tail->next = j;
	else
		fs->writes = j;
	fs->writes_tail = j;
	fs->write_bytes += bytes;
	pthread_cond_signal(&fs->write_work);
}

/* Run J; true when J went to the writer's queue (which then owns J). */
static bool run_job(struct ifs_fs *fs, struct imagefs_store *s, struct ifs_job *j)
{
	uint32_t n = j->last - j->first + 1, done = 0;
	double t0 = now_ms(), t1, t2;
	uint32_t first = j->first, last = j->last;
	bool demand = j->demand, queued = false;
	uint64_t bytes = 0;
	_cleanup_free_ struct ifs_membuf **bufs = calloc(n, sizeof(*bufs));
	int r = -ENOMEM;

	for (unsigned attempt = 0; bufs; attempt++) {
		r = fetch_run(fs, s, j, bufs, &done);
		if (r >= 0)
			break;
		/* a buffer that failed its check was not published */
		for (uint32_t i = done; i < n; i++)
			ifs_membuf_unref(TAKE_PTR(bufs[i]));
		log_debug("fetch chunks %u-%u, attempt %u: %s", first + done, last, attempt + 1,
			  strerror(-r));
		if (attempt >= fs->retries || atomic_load(&fs->cancel))
			break;
		fs->stats.retries++;
		/* 100 ms, 200 ms, 400 ms, ... at most 2 s */
		unsigned ms = attempt < 5 ? 100u << attempt : 2000u;
		struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}

	/* on failure, the chunks published before it still go to the cache */
	if (r < 0)
		n = done;
	pthread_mutex_lock(&fs->lock);
	for (uint32_t i = n; i <= last - first; i++) {
		fs->state[first + i] = CHUNK_ABSENT;
		fs->failed[first + i] = 1;
	}
	for (uint32_t i = 0; i < n; i++)
		bytes += bufs[i]->size;
	pthread_cond_broadcast(&fs->changed);
	if (n > 0 && fs->writer_started && fs->write_bytes + bytes <= WRITE_MAX) {
		j->last = first + n - 1;
		writes_queue(fs, j, bytes);
		queued = true;
	}
	pthread_mutex_unlock(&fs->lock);
	/* J is the writer's once queued: only the copies of its fields are used */
	fs->stats.fetched_chunks += n;
	if (!demand)
		fs->stats.prefetched_chunks += n;
	if (r < 0) {
		fs->stats.failures++;
		log_warning_errno(r, "fetch of chunks %u-%u failed after %u attempts: %s",
				  first + done, last, fs->retries + 1, ifs_store_strerror(s, r));
	}
	t1 = now_ms();
	if (queued) {
		log_debug("%s job chunks %u-%u: fetched and decoded in %.1f ms",
			  demand ? "demand" : "prefetch", first, last, t1 - t0);
		return true;
	}

	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = first + i;
		struct imagefs_chunk c;
		int e = -EIO;

		if (chunk_get(fs, k, &c))
			e = ifs_cache_put(fs->cache, &c.digest, bufs[i]->data, bufs[i]->size);
		if (e < 0)
			log_debug("cache chunk %u: %s", k, strerror(-e));
		pthread_mutex_lock(&fs->lock);
		fs->state[k] = e < 0 ? CHUNK_ABSENT : CHUNK_CACHED;
		fs->mem[k] = NULL;
		pthread_mutex_unlock(&fs->lock);
		ifs_membuf_unref(bufs[i]);
	}
	t2 = now_ms();
	log_debug("%s job chunks %u-%u: fetched and decoded in %.1f ms, cached in %.1f ms",
		  demand ? "demand" : "prefetch", first, last, t1 - t0, t2 - t1);
	return false;
}

/* When the mount will have been quiet long enough for cache writes (CLOCK_MONOTONIC, ms). */
static double quiet_at(struct ifs_fs *fs)
{
	return (double)atomic_load_explicit(&fs->busy_ms, memory_order_relaxed) + WRITE_QUIET_MS;
}

/* The writer's wait for new work, or until UNTIL (CLOCK_MONOTONIC, ms). Under fs->lock. */
static void wait_until(struct ifs_fs *fs, double until)
{
	uint64_t us = (uint64_t)(until * 1000);
	struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};

	pthread_cond_timedwait(&fs->write_work, &fs->lock, &ts);
}

/* A remote store's index goes in the chunk cache (named by its digest, like any chunk), so that
 * later mounts of the image on this node read it from there rather than fetch it. */
static void save_index(struct ifs_fs *fs)
{
	int r = ifs_cache_put(fs->cache, &fs->index_digest, imagefs_index_data(fs->idx),
			      imagefs_index_size(fs->idx));

	if (r < 0)
		log_debug("cache the index: %s", strerror(-r));
}

/* When the writer may start on J, the oldest job queued to it: a CLOCK_MONOTONIC time in ms,
 * or 0 for now. Under fs->lock. */
static double write_after(struct ifs_fs *fs, const struct ifs_job *j)
{
	double quiet = quiet_at(fs), latest = j->queued_ms + WRITE_DEFER_MS, now = now_ms();

	if (fs->workers_done || fs->write_bytes >= WRITE_DEFER_MAX || now >= quiet || now >= latest)
		return 0;
	return quiet < latest ? quiet : latest;
}

/* Put the chunks of the queued jobs in the cache; they leave CHUNK_MEMORY when written. */
static void *writer(void *arg)
{
	struct ifs_fs *fs = arg;
	struct ifs_cache_item items[WRITE_BATCH];
	struct imagefs_chunk cs[WRITE_BATCH];
	uint32_t ks[WRITE_BATCH];

	pthread_mutex_lock(&fs->lock);
	for (;;) {
		struct ifs_job *j = fs->writes;
		size_t n = 0;

		if (!j) {
			double quiet = quiet_at(fs);
			if (fs->index_unsaved && (fs->workers_done || now_ms() >= quiet)) {
				fs->index_unsaved = false;
				pthread_mutex_unlock(&fs->lock);
				save_index(fs);
				pthread_mutex_lock(&fs->lock);
				continue;
			}
			if (fs->workers_done)
				break;
			if (fs->index_unsaved) {
				wait_until(fs, quiet);
				continue;
			}
			if (fs->trim) {
				/* all written: let the buffers' memory go back */
				fs->trim = false;
				pthread_mutex_unlock(&fs->lock);
				ifs_membuf_trim();
				pthread_mutex_lock(&fs->lock);
				continue;
			}
			pthread_cond_wait(&fs->write_work, &fs->lock);
			continue;
		}
		/* The start-up that fetched these chunks is still going: writing them now would
		 * take CPU and disk from it (a third of the daemon's CPU for a prefetch). They are
		 * served from memory meanwhile. */
		double until = write_after(fs, j);
		if (until > 0) {
			wait_until(fs, until);
			continue;
		}
		/* whole jobs, or the first WRITE_BATCH chunks of a larger one; the buffers stay
		 * in fs->mem (so valid) while their chunks are CHUNK_MEMORY */
		while (j && n < WRITE_BATCH) {
			uint32_t k = j->first;

			for (; k <= j->last && n < WRITE_BATCH; k++) {
				struct ifs_membuf *m = fs->mem[k];

				if (!m || !chunk_get(fs, k, &cs[n]))
					continue;
				ks[n] = k;
				items[n] = (struct ifs_cache_item){
				    .digest = &cs[n].digest, .data = m->data, .len = m->size};
				n++;
			}
			if (k <= j->last) {
				j->first = k; /* the rest goes in the next batch */
				break;
			}
			fs->writes = j->next;
			if (!fs->writes)
				fs->writes_tail = NULL;
			free(j);
			j = fs->writes;
		}
		pthread_mutex_unlock(&fs->lock);
		ifs_cache_put_batch(fs->cache, items, n);
		pthread_mutex_lock(&fs->lock);
		for (size_t i = 0; i < n; i++) {
			struct ifs_membuf *m = fs->mem[ks[i]];

			if (items[i].result < 0)
				log_debug("cache chunk %u: %s", ks[i], strerror(-items[i].result));
			fs->state[ks[i]] = items[i].result < 0 ? CHUNK_ABSENT : CHUNK_CACHED;
			fs->mem[ks[i]] = NULL;
			fs->write_bytes -= m->size;
			ifs_membuf_unref(m);
		}
		fs->trim = true;
	}
	pthread_mutex_unlock(&fs->lock);
	return NULL;
}

static void *worker(void *arg)
{
	struct ifs_fs *fs = arg;
	_cleanup_(imagefs_store_freep) struct imagefs_store *s = NULL;
	unsigned max_prefetch = fs->threads > 1 ? fs->threads / 2 : 1;
	int r;

	if ((r = imagefs_store_open(fs->store_spec, &fs->sopts, &s)) < 0)
		log_error_errno(r, "open store '%s' in a fetch worker: %m", fs->store_spec);
	else
		s->cancel = &fs->cancel;
	pthread_mutex_lock(&fs->lock);
	while (!fs->stopping) {
		struct ifs_job *j = pop(&fs->demand, &fs->demand_tail);
		bool counted = false;

		if (!j && fs->running_prefetch < max_prefetch &&
		    (j = pop(&fs->prefetch, &fs->prefetch_tail))) {
			fs->running_prefetch++;
			counted = true;
		}
		if (!j) {
			pthread_cond_wait(&fs->work, &fs->lock);
			continue;
		}
		pthread_mutex_unlock(&fs->lock);
		if (s) {
			if (run_job(fs, s, j))
				j = NULL;
		} else {
			pthread_mutex_lock(&fs->lock);
			for (uint32_t k = j->first; k <= j->last; k++) {
				fs->state[k] = CHUNK_ABSENT;
				fs->failed[k] = 1;
			}
			pthread_cond_broadcast(&fs->changed);
			pthread_mutex_unlock(&fs->lock);
		}
		free(j);
		ifs_fs_busy(fs);
		pthread_mutex_lock(&fs->lock);
		if (counted) {
			fs->running_prefetch--;
			pthread_cond_signal(&fs->work);
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return NULL;
}

int ifs_fs_new(struct imagefs_index *idx, const struct digest *index_digest,
	       struct ifs_cache *cache, bool index_cached, bool remote,
	       const struct imagefs_mount_options *o, struct ifs_fs **ret)
{
	_cleanup_free_ struct ifs_fs *fs = calloc(1, sizeof(*fs));
	uint32_t n = imagefs_index_chunk_count(idx);
	int r;

	if (!fs) {
		ifs_cache_free(cache);
		return -ENOMEM;
	}
	fs->cache = cache;
	fs->index_cached = index_cached;
	fs->index_unsaved = remote && !index_cached;
	fs->idx = idx;
	fs->index_digest = *index_digest;
	fs->threads = o->fetch_threads ? o->fetch_threads : 8;
	fs->retries = o->retries;
	fs->timeout_ms = o->timeout_ms ? o->timeout_ms : 30000;
	fs->debug = o->debug;
	fs->exact_xattrs = o->exact_xattrs;
	fs->sopts.timeout_ms = fs->timeout_ms;
	fs->store_spec = strdup(o->store_spec);
	fs->state = calloc(n + 1, 1);
	fs->failed = calloc(n + 1, 1);
	fs->mem = calloc(n + 1, sizeof(*fs->mem));
	fs->fds = malloc((n + 1) * sizeof(*fs->fds));
	if (!fs->store_spec || !fs->state || !fs->failed || !fs->mem || !fs->fds) {
		r = -ENOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i <= n; i++)
		fs->fds[i] = -EBADF;
	if ((r = ifs_spec_init(fs)) < 0)
		goto fail;
	/* cached chunk fds are kept open */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	pthread_mutex_init(&fs->lock, NULL);
	pthread_mutex_init(&fs->rec_lock, NULL);
	pthread_cond_init(&fs->work, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fs->changed, &ca);
	pthread_cond_init(&fs->write_work, &ca);
	pthread_condattr_destroy(&ca);
	*ret = TAKE_PTR(fs);
	return 0;
fail:
	ifs_spec_free(fs);
	ifs_cache_free(fs->cache);
	free(fs->store_spec);
	free(fs->state);
	free(fs->failed);
	free(fs->mem);
	free(fs->fds);
	return r;
}

int ifs_fs_start(struct ifs_fs *fs)
{
	int r;

	fs->workers = calloc(fs->threads, sizeof(*fs->workers));
	if (!fs->workers)
		return -ENOMEM;
	fs->workers_done = false;
	atomic_store(&fs->cancel, false);
	/* a mount is busy from its start: its first requests are on their way */
	ifs_fs_busy(fs);
	if ((r = -pthread_create(&fs->writer, NULL, writer, fs)) < 0)
		return r;
	fs->writer_started = true;
	for (unsigned i = 0; i < fs->threads; i++) {
		if ((r = -pthread_create(&fs->workers[i], NULL, worker, fs)) < 0)
			return r;
		fs->n_workers++;
	}
	if ((r = ifs_spec_start(fs)) < 0)
		log_debug("speculation thread: %s", strerror(-r));
	return 0;
}

void ifs_fs_stop(struct ifs_fs *fs)
{
	ifs_spec_stop(fs);
	pthread_mutex_lock(&fs->lock);
	fs->stopping = true;
	atomic_store(&fs->cancel, true);
	pthread_cond_broadcast(&fs->work);
	pthread_cond_broadcast(&fs->changed);
	pthread_mutex_unlock(&fs->lock);
	for (unsigned i = 0; i < fs->n_workers; i++)
		pthread_join(fs->workers[i], NULL);
	fs->n_workers = 0;
	/* what the workers fetched still goes to the cache */
	pthread_mutex_lock(&fs->lock);
	fs->workers_done = true;
	pthread_cond_signal(&fs->write_work);
	pthread_mutex_unlock(&fs->lock);
	if (fs->writer_started)
		pthread_join(fs->writer, NULL);
	fs->writer_started = false;
	if (fs->prefetcher_started)
		pthread_join(fs->prefetcher, NULL);
	fs->prefetcher_started = false;
}

struct ifs_fs *ifs_fs_free(struct ifs_fs *fs)
{
	uint32_t n;

	if (!fs)
		return NULL;
	ifs_fs_stop(fs);
	n = imagefs_index_chunk_count(fs->idx);
	for (uint32_t k = 0; k < n; k++) {
		safe_close(fs->fds[k]);
		ifs_membuf_unref(fs->mem[k]);
	}
	for (struct ifs_job *j; (j = pop(&fs->demand, &fs->demand_tail));)
		free(j);
	for (struct ifs_job *j; (j = pop(&fs->prefetch, &fs->prefetch_tail));)
		free(j);
	for (struct ifs_job *j; (j = pop(&fs->writes, &fs->writes_tail));)
		free(j);
	ifs_profile_record_close(fs);
	ifs_spec_free(fs);
	ifs_cache_free(fs->cache);
	free(fs->workers);
	free(fs->state);
	free(fs->failed);
	free(fs->mem);
	free(fs->fds);
	free(fs->store_spec);
	free(fs->profile_text);
	free(fs->mountpoint);
	free(fs);
	return NULL;
}

char *ifs_fs_stats_json(struct ifs_fs *fs)
{
	static const struct {
		int op;
		const char *name;
	} ops[] = {{1, "lookup"},   {3, "getattr"},  {5, "readlink"},	  {14, "open"},
		   {15, "read"},    {17, "statfs"},  {22, "getxattr"},	  {23, "listxattr"},
		   {27, "opendir"}, {28, "readdir"}, {44, "readdirplus"}, {2, "forget"},
		   {18, "release"}, {39, "ioctl"}};
	_cleanup_free_ char *req = NULL;
	uint64_t total = 0;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&req, &len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < ELEMENTSOF(ops); i++)
		fprintf(f, "\"%s\":%llu,", ops[i].name,
			(unsigned long long)fs->stats.requests[ops[i].op]);
	for (size_t i = 0; i < ELEMENTSOF(fs->stats.requests); i++)
		total += fs->stats.requests[i];
	fprintf(f, "\"total\":%llu", (unsigned long long)total);
	fclose(f);
	struct rusage ru;
	uint64_t cpu_us = 0;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu_us = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
			 (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	if (asprintf(
		&out,
		"{\"requests\":{%s},\"range_reads\":%llu,\"fetched_bytes\":%llu,"
		"\"fetched_chunks\":%llu,\"prefetched_chunks\":%llu,\"retries\":%llu,"
		"\"failures\":%llu,\"cache_hits\":%llu,\"read_bytes\":%llu,\"evicted\":%llu,"
		"\"cache_checked\":%llu,\"cache_dropped\":%llu,\"passthrough_opens\":%llu,"
		"\"waits\":%llu,\"wait_ms\":%llu,"
		"\"listed_dirs\":%llu,\"spec_dirs\":%llu,\"spec_files\":%llu,"
		"\"spec_chunks\":%llu,\"spec_bytes\":%llu,\"spec_used_bytes\":%llu,"
		"\"spec_refused\":%llu,\"cpu_ms\":%llu,\"index_cached\":%s}",
		req, (unsigned long long)fs->stats.range_reads,
		(unsigned long long)fs->stats.fetched_bytes,
		(unsigned long long)fs->stats.fetched_chunks,
		(unsigned long long)fs->stats.prefetched_chunks,
		(unsigned long long)fs->stats.retries, (unsigned long long)fs->stats.failures,
		(unsigned long long)fs->stats.cache_hits, (unsigned long long)fs->stats.read_bytes,
		(unsigned long long)ifs_cache_evicted(fs->cache),
		(unsigned long long)ifs_cache_checked(fs->cache),
		(unsigned long long)ifs_cache_dropped(fs->cache),
		(unsigned long long)fs->stats.passthrough_opens,
		(unsigned long long)fs->stats.waits, (unsigned long long)(fs->stats.wait_us / 1000),
		(unsigned long long)fs->stats.listed_dirs, (unsigned long long)fs->stats.spec_dirs,
		(unsigned long long)fs->stats.spec_files, (unsigned long long)fs->stats.spec_chunks,
		(unsigned long long)fs->stats.spec_bytes,
		(unsigned long long)fs->stats.spec_used_bytes,
		(unsigned long long)fs->stats.spec_refused, (unsigned long long)(cpu_us / 1000),
		fs->index_cached ? "true" : "false") < 0)
		return NULL;
	return out;
}
