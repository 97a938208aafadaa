/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The lazy mount's pieces: the chunk cache (cache.c), the fetcher (fetch.c), the FUSE
 * handlers (fuse-ops.c), access profiles (profile.c) and the supervisor (mount.c). Only
 * imagefs/ and its tests include this.
 */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include "imagefs-internal.h"

/* ioctls of the mount's root directory, answered by the daemon (fuse-ops.c): its counters as
 * JSON, NUL-terminated; the supervisor's pid. Overlayfs passes no such ioctl down, so a
 * container on the mount cannot reach them. */
#define IFS_STATS_MAX 4096
#define IFS_IOC_STATS _IOR('b', 1, char[IFS_STATS_MAX])
#define IFS_IOC_PID _IOR('b', 2, int32_t)

/* An fd of the root of MOUNTPOINT, checked to be a FUSE mount: -ENOTTY when it is not. */
int ifs_mount_root_open(const char *mountpoint);

struct fuse_session;

/* ---- cache.c: chunks by digest under DIR/chunks/XX/HEX, uncompressed ------------------ */

struct ifs_cache;

int ifs_cache_open(const char *dir, uint64_t cap, struct ifs_cache **ret);
struct ifs_cache *ifs_cache_free(struct ifs_cache *c);
/* A read-only fd of the cached chunk D of SIZE bytes, -ENOENT when absent. Marks it used. The
 * first time this process opens it, its bytes are hashed: an entry that is not D's is removed
 * and -ENOENT returned. With IFS_CACHE_ANY_SIZE, whatever its size, and not checked: the
 * caller checks what it reads (an index). */
#define IFS_CACHE_ANY_SIZE UINT64_MAX
int ifs_cache_get(struct ifs_cache *c, const struct digest *d, uint64_t size, int *ret_fd);
/* ifs_cache_get() in two steps, so that the reads of many entries overlap: an fd of the entry
 * (its bytes read ahead), not checked; then its check (free once done by this process), which
 * must pass before any of its bytes is served: -ENOENT when the entry was bad and is removed. */
int ifs_cache_peek(struct ifs_cache *c, const struct digest *d, uint64_t size, int *ret_fd);
int ifs_cache_check(struct ifs_cache *c, const struct digest *d, uint64_t size, int fd);
/* The same for the whole-file entry KEY (ifs_cache_put_file) of regular file INO of IDX, of SIZE
 * bytes: checked against the digests of INO's chunks (and zeros between them). Unless CHECK, an
 * entry not checked yet by this process is not (that can take a while) and -EAGAIN returned. */
int ifs_cache_get_whole(struct ifs_cache *c, const struct digest *key, uint64_t size,
			const struct imagefs_index *idx, uint32_t ino, bool check, int *ret_fd);
/* Drop entry D (found bad by the caller). */
void ifs_cache_remove(struct ifs_cache *c, const struct digest *d);
/* Add a chunk whose digest the caller checked. It appears complete or not at all (an unnamed
 * temp file, synced, then linked into place); evicts least recently used chunks past the cap. */
int ifs_cache_put(struct ifs_cache *c, const struct digest *d, const void *data, size_t len);
/* A whole file as one entry, named KEY (see passthrough.c), of SIZE bytes: each part is the
 * cached chunk in FD, copied to OFFSET; the rest is zeros. Complete or absent, as chunks are. */
struct ifs_cache_part {
	int fd;
	uint64_t offset, size;
};
int ifs_cache_put_file(struct ifs_cache *c, const struct digest *key, uint64_t size,
		       const struct ifs_cache_part *parts, size_t n);
uint64_t ifs_cache_evicted(struct ifs_cache *c);
/* Entries this process hashed before using them, and those it found bad and removed. */
uint64_t ifs_cache_checked(struct ifs_cache *c);
uint64_t ifs_cache_dropped(struct ifs_cache *c);

struct ifs_cache_item {
	const struct digest *digest;
	const void *data;
	size_t len;
	int result; /* set by ifs_cache_put_batch: 0 or -errno */
};

/* ifs_cache_put of each item, with the same guarantee per item; the disk flushes of the
 * batch overlap. */
void ifs_cache_put_batch(struct ifs_cache *c, struct ifs_cache_item *items, size_t n);

/* ---- fetch.c ------------------------------------------------------------------------------ */

enum {
	CHUNK_ABSENT = 0,
	CHUNK_PENDING, /* a queued or running job will produce it */
	CHUNK_MEMORY,  /* decoded in memory, being written to the cache */
	CHUNK_CACHED,
};

/* ---- membuf.c: chunk buffers, reference counted, on huge pages where the kernel has them -- */

struct ifs_arena;
struct ifs_membuf {
	atomic_int refs;
	uint32_t size;
	struct ifs_arena *arena; /* NULL: malloc'd */
	char data[];
};

/* A buffer of SIZE bytes with one reference; NULL without memory. */
struct ifs_membuf *ifs_membuf_new(size_t size);
void ifs_membuf_unref(struct ifs_membuf *m);
/* Start the next buffer in a new arena, so that the current one is unmapped once its buffers
 * are gone (call when the mount goes idle). */
void ifs_membuf_trim(void);
/* Arenas mapped now. */
unsigned ifs_membuf_arenas(void);

struct ifs_job {
	struct ifs_job *next;
	uint32_t first, last; /* chunk table range, contiguous in one pack */
	bool demand;
	double queued_ms; /* when it went to the writer */
};

struct ifs_stats {
	atomic_uint_fast64_t requests[64]; /* FUSE requests by opcode */
	atomic_uint_fast64_t range_reads;
	atomic_uint_fast64_t fetched_bytes; /* compressed bytes read from the store */
	atomic_uint_fast64_t fetched_chunks;
	atomic_uint_fast64_t prefetched_chunks;
	atomic_uint_fast64_t retries;
	atomic_uint_fast64_t failures;
	atomic_uint_fast64_t cache_hits; /* chunks found in the cache */
	atomic_uint_fast64_t read_bytes; /* bytes served */
	atomic_uint_fast64_t passthrough_opens;
	atomic_uint_fast64_t waits;	  /* reads that waited for a fetch */
	atomic_uint_fast64_t wait_us;	  /* and how long, all together */
	atomic_uint_fast64_t listed_dirs; /* directories of the profile listed (profile.c) */
	/* speculation without a profile (spec.c); bytes are compressed bytes queued */
	atomic_uint_fast64_t spec_dirs, spec_files, spec_chunks, spec_bytes;
	atomic_uint_fast64_t spec_used_bytes; /* of spec_bytes, in chunks read since */
	atomic_uint_fast64_t spec_refused;    /* batches left out: over the budget */
};

/* Speculation without a profile (spec.c): on the first open of a file, the small files of its
 * directory, and the file itself whole, fetched in the background
 * as prefetch jobs. A thread of its own plans them, so that no request waits for it; the
 * queue is a bounded ring (a full one drops the newest), and the compressed bytes queued stay
 * within a budget: BASE plus the bytes the container has read. */
#define IFS_SPEC_RING 512
struct ifs_spec {
	pthread_mutex_t lock;
	pthread_cond_t work;
	uint32_t ring[IFS_SPEC_RING]; /* files opened; protected by lock */
	unsigned head, n;	      /* protected by lock */
	bool stopping;		      /* protected by lock */
	bool started;
	pthread_t thread;
	uint64_t base;	     /* bytes allowed before any is read; 0: speculation off */
	atomic_bool off;     /* a profile is prefetched instead */
	atomic_uchar *inode; /* per inode: SPEC_* flags */
	atomic_uint *parent; /* per inode: the directory it was reached in + 1, 0: none yet */
	atomic_uchar *chunk; /* per chunk: queued by speculation and not read since */
};

/* per inode, under ifs_pt.lock */
struct ifs_pt_inode {
	uint32_t handles; /* opened and not released */
	int32_t backing;  /* their backing file id, 0: opened cached */
	uint8_t whole;	  /* PT_WHOLE_*: a file of several chunks as one cache entry */
	bool opening;	  /* its first open is choosing the mode */
	uint32_t next;	  /* in the assembly queue: the next inode + 1, 0 at the end */
};

struct ifs_pt {
	struct fuse_session *se;
	bool recording; /* a profile is recorded: every read must reach us */
	/* set by the thread that reads the INIT, before any other request is read */
	bool init_seen, init_answered, offered;
	atomic_bool enabled; /* read by every OPEN */
	uint64_t init_unique;
	bool failed; /* the kernel refused a backing file for good; under lock */
	pthread_mutex_t lock;
	struct ifs_pt_inode *inodes; /* per index inode, made at the first open */
	/* files of several chunks to copy whole into the cache, by one thread */
	uint32_t queue_head, queue_tail; /* inode + 1, 0: empty; under lock */
	pthread_cond_t queued, opened;
	pthread_t assembler;
	bool assembler_started, stopping; /* under lock */
};

struct ifs_fs {
	struct imagefs_index *idx;
	struct digest index_digest;
	char *store_spec;
	struct imagefs_store_options sopts;
	struct ifs_cache *cache;
	unsigned threads, retries, timeout_ms;
	bool debug;
	bool exact_xattrs;  /* imagefs_mount_options.exact_xattrs */
	pid_t daemon_pid;   /* exits once the cache is written, after an unmount */
	bool index_cached;  /* the index came from the chunk cache */
	bool index_unsaved; /* it is to be put there; under lock */

	/* Lock order: fs->lock, then the cache's lock. */
	pthread_mutex_t lock;
	pthread_cond_t changed;	 /* a chunk left CHUNK_PENDING */
	pthread_cond_t work;	 /* a job was queued, or stopping */
	uint8_t *state;		 /* per chunk, CHUNK_*; protected by lock */
	uint8_t *failed;	 /* per chunk: the last job for it failed; protected by lock */
	struct ifs_membuf **mem; /* per chunk, with CHUNK_MEMORY; protected by lock */
	int *fds;		 /* per chunk, cached fd or -1; protected by lock */
	unsigned open_fds;	 /* protected by lock */
	struct ifs_job *demand, *demand_tail, *prefetch, *prefetch_tail; /* protected by lock */
	unsigned running_prefetch;					 /* protected by lock */
	bool stopping;							 /* protected by lock */
	atomic_bool cancel; /* set with stopping: the workers' transfers stop (store->cancel) */
	pthread_t *workers;
	unsigned n_workers;
	pthread_t prefetcher;
	bool prefetcher_started;
	/* the access profile, when the mount fetched it already (profile_fetched; NULL: none) */
	char *profile_text;
	size_t profile_len;
	bool profile_fetched;
	char *mountpoint; /* where the prefetcher lists the profile's directories; NULL: not */

	/* cache writes: fetched jobs whose chunks are CHUNK_MEMORY until the writer thread has
	 * put them in the cache, off the fetch workers' path */
	pthread_cond_t write_work; /* a job to write was queued, or the workers are done */
	struct ifs_job *writes, *writes_tail; /* protected by lock */
	uint64_t write_bytes;		      /* queued bytes; protected by lock */
	atomic_uint_fast64_t busy_ms;	      /* last FUSE request or fetch, CLOCK_MONOTONIC */
	bool workers_done;		      /* protected by lock */
	bool trim;			      /* written since the last ifs_membuf_trim; lock */
	pthread_t writer;
	bool writer_started;

	/* profile recording (profile.c) */
	pthread_mutex_t rec_lock;
	FILE *rec;		/* protected by rec_lock */
	uint8_t *touched;	/* per chunk; protected by rec_lock */
	struct ifs_name *names; /* per inode: how it was reached; protected by rec_lock */

	struct ifs_stats stats;
	struct ifs_pt pt;
	struct ifs_spec spec;
};

struct ifs_name {
	uint32_t parent;
	uint32_t len;
	char *name;
};

/* CACHE is the fs's from now on, whatever the outcome. INDEX_CACHED: IDX came from it; else an
 * index of a remote store is put in it once the mount is quiet. */
int ifs_fs_new(struct imagefs_index *idx, const struct digest *index_digest,
	       struct ifs_cache *cache, bool index_cached, bool remote,
	       const struct imagefs_mount_options *o, struct ifs_fs **ret);
struct ifs_fs *ifs_fs_free(struct ifs_fs *fs);
int ifs_fs_start(struct ifs_fs *fs);
void ifs_fs_stop(struct ifs_fs *fs);

/* Make chunks [FIRST, LAST] of the chunk table present (fetching the absent ones, demand
 * first) and wait for them: 0, or -EIO when a fetch failed after its retries. */
int ifs_fs_ensure(struct ifs_fs *fs, const uint32_t *chunks, size_t n);
/* A request or a fetch: the cache writer waits for a quiet moment. */
void ifs_fs_busy(struct ifs_fs *fs);
/* Chunk K is about to be read: when it is in the cache, check it there now (a read meanwhile
 * waits for that check). Nothing is fetched. */
void ifs_fs_hint(struct ifs_fs *fs, uint32_t k);
/* Queue background fetches of the chunks (absent ones only). */
void ifs_fs_prefetch(struct ifs_fs *fs, const uint32_t *chunks, size_t n);
/* Queue background fetches of CHUNKS, listed in the order they will be wanted: neighbours in a
 * pack are read together (over small gaps) and the reads are queued by their first chunk's
 * place in the list. */
void ifs_fs_prefetch_ordered(struct ifs_fs *fs, const uint32_t *chunks, size_t n);
/* The same for speculation: chunks found in the cache are left for their reads to check, the
 * chunks queued are marked in fs->spec.chunk; the compressed bytes queued. */
uint64_t ifs_fs_prefetch_spec(struct ifs_fs *fs, const uint32_t *chunks, size_t n);
/* After ifs_fs_ensure: either an fd of the cached chunk (*RET_FD; the caller closes it when
 * *RET_CLOSE, else it stays open for the mount's life) or a referenced memory buffer
 * (*RET_MEM, ifs_membuf_unref). -EAGAIN: evicted meanwhile, ensure again. */
int ifs_fs_chunk_data(struct ifs_fs *fs, uint32_t chunk, int *ret_fd, bool *ret_close,
		      struct ifs_membuf **ret_mem);
/* The stats as a JSON object text. */
char *ifs_fs_stats_json(struct ifs_fs *fs);

/* ---- spec.c ------------------------------------------------------------------------------- */

/* Allocation at ifs_fs_new (reads BRISK_IMAGEFS_SPECULATE: 0 turns speculation off, N sets the
 * base budget in MiB), start with the workers, stop before them, free with the fs. */
int ifs_spec_init(struct ifs_fs *fs);
int ifs_spec_start(struct ifs_fs *fs);
void ifs_spec_stop(struct ifs_fs *fs);
void ifs_spec_free(struct ifs_fs *fs);
/* INO was reached as NAME in PARENT, by a lookup or a listing (index inode numbers). */
void ifs_spec_note_name(struct ifs_fs *fs, uint32_t parent, uint32_t ino, const char *name,
			size_t len);
/* INO is read (with no OPEN seen: OPEN comes with passthrough only). */
void ifs_spec_file(struct ifs_fs *fs, uint32_t ino);
/* INO is opened. */
void ifs_spec_opened(struct ifs_fs *fs, uint32_t ino);
/* Chunk K is read. */
void ifs_spec_note_read(struct ifs_fs *fs, uint32_t k);
/* A profile is prefetched: it knows better. */
void ifs_spec_disable(struct ifs_fs *fs);

/* ---- profile.c ---------------------------------------------------------------------------- */

int ifs_profile_record_open(struct ifs_fs *fs, const char *path);
void ifs_profile_record_close(struct ifs_fs *fs);
/* INO was reached as NAME in PARENT (index inode numbers). */
void ifs_profile_note_name(struct ifs_fs *fs, uint32_t parent, uint32_t ino, const char *name,
			   size_t len);
void ifs_profile_note_read(struct ifs_fs *fs, uint32_t ino, const struct imagefs_chunk *c);
/* Start the background prefetch of the profile stored beside the image (if any): the one in
 * fs->profile_text when fs->profile_fetched, else fetched first. */
int ifs_profile_prefetch_start(struct ifs_fs *fs);

/* ---- passthrough.c ------------------------------------------------------------------------ */

struct fuse_custom_io;
struct fuse_req;
/* The session's I/O: negotiates passthrough on INIT (fuse_session_custom_io) */
extern const struct fuse_custom_io ifs_fuse_io;
/* OPEN and RELEASE of index inode INO; each replies to REQ. */
void ifs_pt_open(struct ifs_fs *fs, struct fuse_req *req, uint32_t ino);
void ifs_pt_release(struct ifs_fs *fs, struct fuse_req *req, uint32_t ino);
void ifs_pt_init(struct ifs_fs *fs, struct fuse_session *se, bool recording);
/* INO is about to be opened (an access profile says so): a whole-file entry of it in the cache
 * is checked now, in the background, so that its open can be passed through. */
void ifs_pt_prepare(struct ifs_fs *fs, uint32_t ino);
void ifs_pt_free(struct ifs_fs *fs);

/* ---- fuse-ops.c --------------------------------------------------------------------------- */

struct fuse_lowlevel_ops;
extern const struct fuse_lowlevel_ops ifs_fuse_ops;
