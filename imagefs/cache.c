/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The local chunk cache, shared by every mount on the node: DIR/chunks/XX/HEX holds the
 * uncompressed bytes of the chunk whose sha256 is HEX, so a warm read is a plain pread (or a
 * splice) with nothing to decode. Entries are immutable. A file of several chunks may also be
 * there whole, as the backing file of FUSE passthrough, named by a digest over its chunk list
 * (passthrough.c); it is evicted like a chunk.
 *
 * Crash safety: an entry is written to an unnamed O_TMPFILE file, fdatasync()ed, and only then
 * linked under its name, so after a crash a name either holds the whole chunk or does not
 * exist; a size that does not match the index is treated as absent and removed.
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
};

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
	pthread_mutex_destroy(&c->lock);
	pthread_mutex_destroy(&c->scan_lock);
	free(c);
	return NULL;
}

uint64_t ifs_cache_evicted(struct ifs_cache *c)
{
	return c->evicted;
}

int ifs_cache_get(struct ifs_cache *c, const struct digest *d, uint64_t size, int *ret_fd)
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
	 * reads costs an inode write each. Failing to touch it only ages the entry. */
	struct timespec now;
	if (clock_gettime(CLOCK_REALTIME, &now) == 0 && now.tv_sec - st.st_mtim.tv_sec > 60)
		(void)futimens(fd, NULL);
	/* one disk read for the whole chunk rather than one per FUSE read */
	if (size <= (4u << 20) && size != IFS_CACHE_ANY_SIZE)
		(void)readahead(fd, 0, size);
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
	/* only a hint: fdatasync() below is what makes the bytes durable */
	(void)sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	return TAKE_FD(fd);
}

/* Name the written temp file FD as entry D of LEN bytes: synced first, so that the name
 * always holds the whole entry. */
static int link_entry(struct ifs_cache *c, int fd, const struct digest *d, uint64_t len)
{
	char name[3 + DIGEST_HEX_SIZE + 1], proc[64];

	if (fdatasync(fd) < 0)
		return -errno;
	entry_name(d, name);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, c->chunks_fd, name, AT_SYMLINK_FOLLOW) < 0)
		return errno == EEXIST ? 0 : -errno; /* another mount cached it first: same bytes */
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
	/* Writing every file before waiting for any lets the disk take them together: one
	 * flush wait for the batch rather than one per chunk. */
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
