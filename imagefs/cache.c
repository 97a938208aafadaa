/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The local chunk cache, shared by every mount on the node: DIR/chunks/XX/HEX holds the
 * uncompressed bytes of the chunk whose sha256 is HEX, so a warm read is a plain pread (or a
 * splice) with nothing to decode. Entries are immutable. A file of several chunks may also be
 * there whole, as the backing file of FUSE passthrough, named by a digest over its chunk list
 * (passthrough.c); it is evicted like a chunk.
 *
 * Crash safety: an entry is written to an unnamed O_TMPFILE file and only then linked under its
 * name, so a name never holds a part of an entry while the node is up (a daemon killed halfway
 * leaves no name). It is not synced: after a power loss a name may hold lost bytes (zeros, or
 * nothing), and the check below, which every process does before it serves an entry, removes
 * it and the chunk is fetched again. A sync per chunk cost a third of the daemon's CPU for a
 * lazy start (a flush, and the block writes in the daemon's own context) to protect what the
 * check protects anyway. A size that does not match the index is treated as absent and removed.
 *
 * Trust: the cache is shared by every mount (and container) of the node, and outlives them, so
 * its bytes are checked again by every process that serves them: the first time this process
 * opens an entry, its bytes are read and hashed (a chunk against its digest, a whole file
 * against the digests of its chunks and zeros between them) before an fd of it is handed out;
 * an entry that fails is removed, and the caller fetches the chunk again. A checked entry is
 * remembered by inode and ctime, so a later open is free, and an entry written or replaced since
 * (a write changes the ctime) is checked again. Entries this process wrote count as checked.
 *
 * Size bound: an estimate of the cache's bytes is kept (from a scan of the cache before the
 * first entry is added, not when it is opened: with thousands of entries and a cold page
 * cache, the scan takes hundreds of milliseconds that a mount must not wait for); when it passes
 * the cap, the mount takes DIR/lock (flock, so concurrent mounts evict one at a time), rescans, and
 * removes the least recently used entries (mtime, touched on each use) down to 90% of the cap.
 * Readers that hold an fd of an evicted entry keep reading it.
 *
 * I/O is plain pread/pwrite: the reader replies with the cache fd, which libfuse splices.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "lazy-internal.h"

struct ifs_cache {
	int dirfd;
	int chunks_fd;
	uint64_t cap;
	pthread_mutex_t lock;
	uint64_t estimate; /* protected by lock */
	pthread_mutex_t scan_lock;
	bool scanned; /* estimate holds a scan's result; protected by scan_lock */
	atomic_uint_fast64_t evicted;
	pthread_mutex_t seen_lock;
	struct ifs_hmap seen; /* struct seen *: entries checked by this process; seen_lock */
	atomic_uint_fast64_t checked, dropped;
};

/* An entry whose bytes this process checked (or wrote): the file as it was then. */
struct seen {
	struct digest d;
	dev_t dev;
	ino_t ino;
	struct timespec ctime;
};

#define CHECK_BUF (128u << 10)

struct entry {
	struct timespec used;
	uint64_t size;
	char name[3 + DIGEST_HEX_SIZE + 1];
};

static void entry_name(const struct digest *d, char buf[3 + DIGEST_HEX_SIZE + 1])
{
	char hex[DIGEST_HEX_SIZE + 1];

	digest_format_hex(d, hex);
	snprintf(buf, 3 + DIGEST_HEX_SIZE + 1, "%.2s/%s", hex, hex);
}

/* Every entry with its size and last use; *RET_TOTAL their bytes. */
static int scan(struct ifs_cache *c, struct entry **ret, size_t *ret_n, uint64_t *ret_total)
{
	_cleanup_free_ struct entry *v = NULL;
	size_t n = 0, cap = 0;
	uint64_t total = 0;

	for (int i = 0; i < 256; i++) {
		char sub[3];
		struct dirent *de;
		int fd;

		snprintf(sub, sizeof(sub), "%02x", i);
		fd = openat(c->chunks_fd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		_cleanup_closedir_ DIR *d = fdopendir(fd);
		if (!d) {
			close(fd);
			return -errno;
		}
		while ((de = readdir(d))) {
			struct stat st;

			if (de->d_name[0] == '.' || strlen(de->d_name) != DIGEST_HEX_SIZE)
				continue;
			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			if (n == cap) {
				struct entry *nv = reallocarray(v, cap ? cap * 2 : 256, sizeof(*v));
				if (!nv)
					return -ENOMEM;
				v = nv;
				cap = cap ? cap * 2 : 256;
			}
			v[n].used = st.st_mtim;
			v[n].size = (uint64_t)st.st_size;
			snprintf(v[n].name, sizeof(v[n].name), "%s/%s", sub, de->d_name);
			total += v[n].size;
			n++;
		}
	}
	*ret = TAKE_PTR(v);
	*ret_n = n;
	*ret_total = total;
	return 0;
}

static uint64_t seen_hash(const struct digest *d)
{
	uint64_t h;

	memcpy(&h, d->bytes, sizeof(h));
	return h;
}

static bool seen_eq(const void *val, const void *key)
{
	const struct seen *a = val, *b = key;

	return digest_equal(&a->d, &b->d) && a->dev == b->dev && a->ino == b->ino &&
	       a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static struct seen seen_key(const struct digest *d, const struct stat *st)
{
	return (struct seen){.d = *d, .dev = st->st_dev, .ino = st->st_ino, .ctime = st->st_ctim};
}

static bool seen_has(struct ifs_cache *c, const struct digest *d, const struct stat *st)
{
	struct seen k = seen_key(d, st);
	bool found;

	pthread_mutex_lock(&c->seen_lock);
	found = ifs_hmap_get(&c->seen, seen_hash(d), seen_eq, &k) != NULL;
	pthread_mutex_unlock(&c->seen_lock);
	return found;
}

/* Remember that FD's bytes are entry D's. Failing to remember costs a check later. */
static void seen_add(struct ifs_cache *c, const struct digest *d, int fd)
{
	struct seen *e;
	struct stat st;

	if (fstat(fd, &st) < 0 || !(e = malloc(sizeof(*e))))
		return;
	*e = seen_key(d, &st);
	pthread_mutex_lock(&c->seen_lock);
	if (ifs_hmap_get(&c->seen, seen_hash(d), seen_eq, e) ||
	    ifs_hmap_put(&c->seen, seen_hash(d), e) < 0)
		free(e);
	pthread_mutex_unlock(&c->seen_lock);
}

/* Bytes [OFF, OFF + LEN) of FD: their digest into CTX (when not NULL), or else checked to be
 * zeros. -EBADMSG when the file ends before them or they are not zeros. */
static int read_range(int fd, uint64_t off, uint64_t len, struct digest_ctx *ctx, char *buf)
{
	while (len > 0) {
		size_t want = len < CHECK_BUF ? (size_t)len : CHECK_BUF;
		ssize_t n = pread(fd, buf, want, (off_t)off);
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EBADMSG;
		if (ctx && (r = digest_ctx_update(ctx, buf, (size_t)n)) < 0)
			return r;
		if (!ctx && (buf[0] != 0 || memcmp(buf, buf + 1, (size_t)n - 1) != 0))
			return -EBADMSG;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

/* Bytes [OFF, OFF + LEN) of FD have digest D. */
static int check_digest(int fd, uint64_t off, uint64_t len, const struct digest *d, char *buf)
{
	_cleanup_(digest_ctx_freep) struct digest_ctx *ctx = NULL;
	struct digest got;
	int r;

	if ((r = digest_ctx_new(&ctx)) < 0 || (r = read_range(fd, off, len, ctx, buf)) < 0 ||
	    (r = digest_ctx_final(ctx, &got)) < 0)
		return r;
	return digest_equal(&got, d) ? 0 : -EBADMSG;
}

/* Bytes [OFF, OFF + LEN) of FD are zeros: its holes are, what it stores there is read. */
static int check_zeros(int fd, uint64_t off, uint64_t len, char *buf)
{
	uint64_t end = off + len;
	int r;

	while (off < end) {
		off_t data = lseek(fd, (off_t)off, SEEK_DATA), hole;

		if (data < 0)
			return errno == ENXIO ? 0 : -errno; /* a hole up to the end */
		if ((uint64_t)data >= end)
			return 0;
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		uint64_t stop = (uint64_t)hole < end ? (uint64_t)hole : end;
		if ((r = read_range(fd, (uint64_t)data, stop - (uint64_t)data, NULL, buf)) < 0)
			return r;
		off = stop;
	}
	return 0;
}

/* The whole-file entry FD holds the SIZE bytes of regular file INO of IDX: each chunk's bytes
 * where it lies, zeros elsewhere. */
static int check_whole(int fd, const struct imagefs_index *idx, uint32_t ino, uint64_t size,
		       char *buf)
{
	struct imagefs_chunk ch;
	uint64_t pos = 0;
	uint32_t n;
	int r;

	if ((r = imagefs_index_file_chunk_count(idx, ino, &n)) < 0)
		return r;
	for (uint32_t i = 0; i < n; i++) {
		if ((r = imagefs_index_file_chunk(idx, ino, i, &ch)) < 0)
			return r;
		if (ch.file_offset < pos || ch.file_offset + ch.size > size)
			return -EBADMSG;
		if ((r = check_zeros(fd, pos, ch.file_offset - pos, buf)) < 0 ||
		    (r = check_digest(fd, ch.file_offset, ch.size, &ch.digest, buf)) < 0)
			return r;
		pos = ch.file_offset + ch.size;
	}
	return check_zeros(fd, pos, size - pos, buf);
}

static int by_use(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->used.tv_sec != y->used.tv_sec)
		return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
	if (x->used.tv_nsec != y->used.tv_nsec)
		return x->used.tv_nsec < y->used.tv_nsec ? -1 : 1;
	return 0;
}

static int evict(struct ifs_cache *c)
{
	_cleanup_free_ struct entry *v = NULL;
	_cleanup_close_ int lockfd = -EBADF;
	uint64_t total, target = c->cap / 10 * 9;
	size_t n;
	int r;

	lockfd = openat(c->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd < 0 || flock(lockfd, LOCK_EX) < 0)
		return -errno;
	if ((r = scan(c, &v, &n, &total)) < 0)
		return r;
	if (total > c->cap) {
		qsort(v, n, sizeof(*v), by_use);
		for (size_t i = 0; i < n && total > target; i++) {
			if (unlinkat(c->chunks_fd, v[i].name, 0) < 0)
				continue;
			total -= v[i].size;
			c->evicted++;
		}
	}
	pthread_mutex_lock(&c->lock);
	c->estimate = total;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int ifs_cache_open(const char *dir, uint64_t cap, struct ifs_cache **ret)
{
	_cleanup_free_ struct ifs_cache *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->cap = cap;
	c->dirfd = c->chunks_fd = -EBADF;
	if ((r = mkdir_p_at(AT_FDCWD, dir, 0700)) < 0)
		return r;
	c->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dirfd < 0)
		return -errno;
	if ((mkdirat(c->dirfd, "chunks", 0700) < 0 && errno != EEXIST) ||
	    (c->chunks_fd = openat(c->dirfd, "chunks", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		r = -errno;
		goto fail;
	}
	for (int i = 0; i < 256; i++) {
		char sub[3];

		snprintf(sub, sizeof(sub), "%02x", i);
		if (mkdirat(c->chunks_fd, sub, 0700) < 0 && errno != EEXIST) {
			r = -errno;
			goto fail;
		}
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->scan_lock, NULL);
	pthread_mutex_init(&c->seen_lock, NULL);
	*ret = TAKE_PTR(c);
	return 0;
fail:
	safe_close(c->chunks_fd);
	safe_close(c->dirfd);
	return r;
}

struct ifs_cache *ifs_cache_free(struct ifs_cache *c)
{
	if (!c)
		return NULL;
	safe_close(c->chunks_fd);
	safe_close(c->dirfd);
	for (size_t i = 0; i < c->seen.cap; i++)
		free(c->seen.slots[i].val);
	ifs_hmap_done(&c->seen);
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->scan_lock);
	pthread_mutex_destroy(&c->seen_lock);
	free(c);
	return NULL;
}

uint64_t ifs_cache_evicted(struct ifs_cache *c)
{
	return c->evicted;
}

uint64_t ifs_cache_checked(struct ifs_cache *c)
{
	return c->checked;
}

uint64_t ifs_cache_dropped(struct ifs_cache *c)
{
	return c->dropped;
}

/* Entry D, opened, of SIZE bytes (IFS_CACHE_ANY_SIZE: any), marked used; *RET_ST as it is now. */
static int open_entry(struct ifs_cache *c, const struct digest *d, uint64_t size, int *ret_fd,
		      struct stat *ret_st)
{
	char name[3 + DIGEST_HEX_SIZE + 1];
	struct stat st;
	int fd;

	entry_name(d, name);
	fd = openat(c->chunks_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (size != IFS_CACHE_ANY_SIZE && st.st_size != (off_t)size)) {
		close(fd);
		(void)unlinkat(c->chunks_fd, name, 0);
		return -ENOENT;
	}
	/* LRU: the mtime is the last use, kept to the minute: touching every entry a start-up
	 * reads costs an inode write each. Failing to touch it only ages the entry. The touch
	 * changes the ctime: what is remembered of a checked entry is its ctime after it. */
	struct timespec now;
	if (clock_gettime(CLOCK_REALTIME, &now) == 0 && now.tv_sec - st.st_mtim.tv_sec > 60 &&
	    futimens(fd, NULL) == 0)
		(void)fstat(fd, &st);
	*ret_fd = fd;
	*ret_st = st;
	return 0;
}

/* Entry D failed its check: it goes (unless another process replaced it meanwhile), and the
 * caller fetches it again. */
static void drop(struct ifs_cache *c, const struct digest *d, const struct stat *st)
{
	char name[3 + DIGEST_HEX_SIZE + 1];
	struct stat now;

	entry_name(d, name);
	if (fstatat(c->chunks_fd, name, &now, AT_SYMLINK_NOFOLLOW) == 0 &&
	    now.st_ino == st->st_ino && now.st_dev == st->st_dev)
		(void)unlinkat(c->chunks_fd, name, 0);
	c->dropped++;
	if (log_get_level() >= LOG_LEVEL_DEBUG) {
		char ds[DIGEST_STRING_SIZE];
		log_debug("cache entry %s does not hold its bytes: dropped", digest_format(d, ds));
	}
}

int ifs_cache_peek(struct ifs_cache *c, const struct digest *d, uint64_t size, int *ret_fd)
{
	struct stat st;
	int fd, r;

	if ((r = open_entry(c, d, size, &fd, &st)) < 0)
		return r;
	/* one disk read for the whole chunk rather than one per FUSE read (or per check) */
	if (size <= (4u << 20) && size != IFS_CACHE_ANY_SIZE)
		(void)readahead(fd, 0, size);
	*ret_fd = fd;
	return 0;
}

int ifs_cache_check(struct ifs_cache *c, const struct digest *d, uint64_t size, int fd)
{
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	int r;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (seen_has(c, d, &st))
		return 0;
	/* the first use of the entry by this process: its bytes are read (and cached by the
	 * kernel for the reads that follow) and hashed */
	r = (buf = malloc(CHECK_BUF)) ? check_digest(fd, 0, size, d, buf) : -ENOMEM;
	c->checked++;
	if (r == -EBADMSG) {
		drop(c, d, &st);
		return -ENOENT;
	}
	if (r < 0)
		return r;
	seen_add(c, d, fd);
	return 0;
}

int ifs_cache_get(struct ifs_cache *c, const struct digest *d, uint64_t size, int *ret_fd)
{
	int fd, r;

	if ((r = ifs_cache_peek(c, d, size, &fd)) < 0)
		return r;
	if (size != IFS_CACHE_ANY_SIZE && (r = ifs_cache_check(c, d, size, fd)) < 0) {
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

int ifs_cache_get_whole(struct ifs_cache *c, const struct digest *key, uint64_t size,
			const struct imagefs_index *idx, uint32_t ino, bool check, int *ret_fd)
{
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	int fd, r;

	if ((r = open_entry(c, key, size, &fd, &st)) < 0)
		return r;
	if (seen_has(c, key, &st)) {
		*ret_fd = fd;
		return 0;
	}
	if (!check) {
		close(fd);
		return -EAGAIN;
	}
	r = (buf = malloc(CHECK_BUF)) ? check_whole(fd, idx, ino, size, buf) : -ENOMEM;
	c->checked++;
	if (r < 0) {
		close(fd);
		if (r != -EBADMSG)
			return r;
		drop(c, key, &st);
		return -ENOENT;
	}
	seen_add(c, key, fd);
	*ret_fd = fd;
	return 0;
}

void ifs_cache_remove(struct ifs_cache *c, const struct digest *d)
{
	char name[3 + DIGEST_HEX_SIZE + 1];

	entry_name(d, name);
	(void)unlinkat(c->chunks_fd, name, 0);
}

/* Write ITEM's bytes to an unnamed file and start its writeback; the fd, or -errno. */
static int put_start(struct ifs_cache *c, const struct ifs_cache_item *it)
{
	_cleanup_close_ int fd = -EBADF;

	fd = openat(c->chunks_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	for (size_t done = 0; done < it->len;) {
		ssize_t w = pwrite(fd, (const char *)it->data + done, it->len - done, (off_t)done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		done += (size_t)w;
	}
	return TAKE_FD(fd);
}

/* Name the written temp file FD as entry D of LEN bytes: written whole first, so that the name
 * always holds the whole entry (unsynced: see the top of this file). */
static int link_entry(struct ifs_cache *c, int fd, const struct digest *d, uint64_t len)
{
	char name[3 + DIGEST_HEX_SIZE + 1], proc[64];

	entry_name(d, name);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, c->chunks_fd, name, AT_SYMLINK_FOLLOW) < 0)
		return errno == EEXIST ? 0
				       : -errno; /* another mount cached it first: checked on use */
	/* the caller checked these bytes (or made them of checked chunks) */
	seen_add(c, d, fd);
	pthread_mutex_lock(&c->lock);
	c->estimate += len;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* The estimate of what the cache holds, once: before the first entry is added. */
static void estimate_once(struct ifs_cache *c)
{
	_cleanup_free_ struct entry *v = NULL;
	uint64_t total;
	size_t n;
	int r;

	pthread_mutex_lock(&c->scan_lock);
	if (!c->scanned) {
		c->scanned = true;
		if ((r = scan(c, &v, &n, &total)) < 0) {
			log_debug("cache scan: %s, ignoring", strerror(-r));
		} else {
			pthread_mutex_lock(&c->lock);
			c->estimate = total;
			pthread_mutex_unlock(&c->lock);
		}
	}
	pthread_mutex_unlock(&c->scan_lock);
}

/* Past the cap, evict. */
static void evict_if_over(struct ifs_cache *c)
{
	bool over;
	int r;

	pthread_mutex_lock(&c->lock);
	over = c->estimate > c->cap;
	pthread_mutex_unlock(&c->lock);
	if (over && (r = evict(c)) < 0)
		log_debug("cache eviction: %s", strerror(-r));
}

static int publish(struct ifs_cache *c, int fd, const struct digest *d, uint64_t len)
{
	int r;

	estimate_once(c);
	r = link_entry(c, fd, d, len);
	evict_if_over(c);
	return r;
}

void ifs_cache_put_batch(struct ifs_cache *c, struct ifs_cache_item *items, size_t n)
{
	estimate_once(c);
	/* every file written before any is named: a batch fails or lands together */
	for (size_t i = 0; i < n; i++)
		items[i].result = put_start(c, &items[i]);
	for (size_t i = 0; i < n; i++) {
		_cleanup_close_ int fd = items[i].result;

		if (fd >= 0)
			items[i].result = link_entry(c, fd, items[i].digest, items[i].len);
	}
	evict_if_over(c);
}

int ifs_cache_put(struct ifs_cache *c, const struct digest *d, const void *data, size_t len)
{
	struct ifs_cache_item it = {.digest = d, .data = data, .len = len};

	ifs_cache_put_batch(c, &it, 1);
	return it.result;
}

int ifs_cache_put_file(struct ifs_cache *c, const struct digest *key, uint64_t size,
		       const struct ifs_cache_part *parts, size_t n)
{
	_cleanup_close_ int fd = -EBADF;

	fd = openat(c->chunks_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < n; i++) {
		loff_t in = 0, out = (loff_t)parts[i].offset;

		for (uint64_t left = parts[i].size; left > 0;) {
			ssize_t w = copy_file_range(parts[i].fd, &in, fd, &out, left, 0);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return w < 0 ? -errno : -EIO;
			left -= (uint64_t)w;
		}
	}
	/* what no chunk covers reads as zeros */
	if (ftruncate(fd, (off_t)size) < 0)
		return -errno;
	return publish(c, fd, key, size);
}
