/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FUSE passthrough (Linux 6.9): a file whose bytes are all in the chunk cache is opened with
 * the cache file as its backing file, and the kernel then reads and maps it from there as from
 * any local file: no FUSE request per read, no copy through the daemon, the page cache of the
 * chunk shared by every image and mount that holds it.
 *
 * Debian's libfuse (3.14) knows nothing of it, so the protocol part is done here:
 *  - the session's I/O goes through ifs_fuse_io. On the kernel's INIT it notes whether the
 *    kernel offers FUSE_PASSTHROUGH, and on libfuse's reply to it adds FUSE_PASSTHROUGH and a
 *    max_stack_depth of 1 (the cache is on a plain filesystem; an overlay on the mount still
 *    fits in the kernel's two levels of stacking);
 *  - a backing file is registered with the FUSE_DEV_IOC_BACKING_OPEN ioctl and named in the
 *    reply to OPEN (fuse_open_out.backing_id, FOPEN_PASSTHROUGH), written whole with
 *    fuse_reply_buf.
 *
 * The kernel wants every open of an inode in one mode while any is open (passthrough with one
 * backing file, or cached), and fails the open() with EIO otherwise. Each inode's open handles
 * are counted here, from OPEN to RELEASE, and a new open takes the mode of those still open; a
 * RELEASE reaches us after the kernel dropped the file, so our count is never below its own.
 *
 * Without passthrough (an older kernel, no CAP_SYS_ADMIN, a cache on a stacked filesystem, a
 * profile being recorded, or a restarted server, which does not know how the files still open
 * were opened) OPEN is answered ENOSYS, and the kernel stops sending it: files are served
 * through the page cache as before.
 */
#define FUSE_USE_VERSION 35
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "lazy-internal.h"

/* Linux 6.9 protocol 7.40; Debian 12's headers stop at 7.37. */
#define PASSTHROUGH_FLAG2 (1u << (37 - 32)) /* FUSE_PASSTHROUGH, in flags2 */
#define OPEN_PASSTHROUGH (1u << 7)	    /* FOPEN_PASSTHROUGH */
#define MAX_STACK_DEPTH 1

struct backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};

#define DEV_IOC_BACKING_OPEN _IOW(229, 1, struct backing_map)
#define DEV_IOC_BACKING_CLOSE _IOW(229, 2, uint32_t)

/* fuse_open_out of 7.40: the padding became backing_id */
struct open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;
};

_Static_assert(sizeof(struct open_out) == sizeof(struct fuse_open_out), "fuse_open_out layout");
_Static_assert(offsetof(struct fuse_init_out, flags2) + 8 <= sizeof(struct fuse_init_out),
	       "fuse_init_out has max_stack_depth after flags2");

static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	struct ifs_fs *fs = userdata;
	ssize_t n = read(fd, buf, len);

	if (!fs->pt.init_seen && n >= (ssize_t)(sizeof(struct fuse_in_header) +
						offsetof(struct fuse_init_in, flags2) + 4)) {
		const struct fuse_in_header *h = buf;
		const struct fuse_init_in *in = (const void *)(h + 1);

		if (h->opcode == FUSE_INIT) {
			fs->pt.init_seen = true;
			fs->pt.init_unique = h->unique;
			fs->pt.offered =
			    (in->flags & FUSE_INIT_EXT) && (in->flags2 & PASSTHROUGH_FLAG2);
		}
	}
	return n;
}

/* The INIT reply's argument, wherever libfuse put it in IOV; NULL if it is not there whole. */
static struct fuse_init_out *init_out_of(struct iovec *iov, int count)
{
	size_t hl = sizeof(struct fuse_out_header);

	if (iov[0].iov_len >= hl + sizeof(struct fuse_init_out))
		return (void *)((char *)iov[0].iov_base + hl);
	if (iov[0].iov_len == hl && count >= 2 && iov[1].iov_len >= sizeof(struct fuse_init_out))
		return iov[1].iov_base;
	return NULL;
}

static ssize_t io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct ifs_fs *fs = userdata;
	const struct fuse_out_header *h = iov[0].iov_base;

	if (fs->pt.init_seen && !fs->pt.init_answered && count >= 1 &&
	    iov[0].iov_len >= sizeof(*h) && h->unique == fs->pt.init_unique) {
		struct fuse_init_out *out = init_out_of(iov, count);

		fs->pt.init_answered = true;
		if (h->error == 0 && out && fs->pt.offered) {
			uint32_t depth = MAX_STACK_DEPTH;

			out->flags |= FUSE_INIT_EXT;
			out->flags2 |= PASSTHROUGH_FLAG2;
			/* max_stack_depth: the field after flags2, unused[0] in older headers */
			memcpy((char *)out + offsetof(struct fuse_init_out, flags2) + 4, &depth,
			       sizeof(depth));
			fs->pt.enabled = true;
		}
	}
	return writev(fd, iov, count);
}

static ssize_t io_splice_send(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
			      unsigned flags, void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

static ssize_t io_splice_receive(int fdin, off_t *offin, int fdout, off_t *offout, size_t len,
				 unsigned flags, void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

const struct fuse_custom_io ifs_fuse_io = {
    .writev = io_writev,
    .read = io_read,
    .splice_receive = io_splice_receive,
    .splice_send = io_splice_send,
};

enum {
	PT_WHOLE_UNKNOWN = 0, /* a single chunk, or not looked at yet */
	PT_WHOLE_WANTED,      /* several chunks, no whole-file entry yet */
	PT_WHOLE_QUEUED,
	PT_WHOLE_PRESENT,
};

static void *assembler(void *arg);

void ifs_pt_init(struct ifs_fs *fs, struct fuse_session *se, bool recording)
{
	fs->pt.se = se;
	fs->pt.recording = recording;
	pthread_mutex_init(&fs->pt.lock, NULL);
	pthread_cond_init(&fs->pt.queued, NULL);
	pthread_cond_init(&fs->pt.opened, NULL);
}

void ifs_pt_free(struct ifs_fs *fs)
{
	if (!fs->pt.se)
		return;
	pthread_mutex_lock(&fs->pt.lock);
	fs->pt.stopping = true;
	pthread_cond_broadcast(&fs->pt.queued);
	pthread_mutex_unlock(&fs->pt.lock);
	if (fs->pt.assembler_started)
		pthread_join(fs->pt.assembler, NULL);
	free(fs->pt.inodes);
	fs->pt.inodes = NULL;
	pthread_cond_destroy(&fs->pt.queued);
	pthread_cond_destroy(&fs->pt.opened);
	pthread_mutex_destroy(&fs->pt.lock);
	fs->pt.se = NULL;
}

/* How INO's bytes are stored: 1 with *RET_CHUNK when one chunk holds them all, 2 with the
 * key of its whole-file cache entry (a digest over its size and chunk list) when it takes
 * several chunks or has holes, 0 when passthrough cannot serve it (inline bytes, not a
 * regular file, empty). */
static int layout(struct ifs_fs *fs, uint32_t ino, uint64_t *ret_size, uint32_t *ret_chunk,
		  struct digest *ret_key)
{
	_cleanup_(digest_ctx_freep) struct digest_ctx *ctx = NULL;
	struct imagefs_stat s;
	struct imagefs_chunk c;
	uint32_t count;

	if (imagefs_index_getattr(fs->idx, ino, &s) < 0 || !S_ISREG(s.mode) || s.inline_data ||
	    s.size == 0 || imagefs_index_file_chunk_count(fs->idx, ino, &count) < 0)
		return 0;
	*ret_size = s.size;
	if (count == 1 && imagefs_index_file_chunk(fs->idx, ino, 0, &c) == 0 &&
	    c.file_offset == 0 && c.size == s.size) {
		*ret_chunk = c.chunk;
		return 1;
	}
	if (digest_ctx_new(&ctx) < 0 || digest_ctx_update(ctx, "brisk whole file 1", 18) < 0 ||
	    digest_ctx_update(ctx, &s.size, sizeof(s.size)) < 0)
		return 0;
	for (uint32_t i = 0; i < count; i++) {
		if (imagefs_index_file_chunk(fs->idx, ino, i, &c) < 0 ||
		    digest_ctx_update(ctx, &c.file_offset, sizeof(c.file_offset)) < 0 ||
		    digest_ctx_update(ctx, &c.digest, sizeof(c.digest)) < 0)
			return 0;
	}
	return digest_ctx_final(ctx, ret_key) < 0 ? 0 : 2;
}

/* Copy INO whole into the cache from its cached chunks; nothing when one is missing (it is
 * not fetched: a file opened is not a file read whole). */
static void assemble(struct ifs_fs *fs, uint32_t ino)
{
	_cleanup_free_ struct ifs_cache_part *parts = NULL;
	struct imagefs_chunk c;
	struct digest key;
	uint64_t size;
	uint32_t chunk, count = 0, n = 0;
	int fd, r = -ENOENT;

	if (layout(fs, ino, &size, &chunk, &key) != 2)
		return;
	/* present: checked here, off the path of the open that asked for it */
	if (ifs_cache_get_whole(fs->cache, &key, size, fs->idx, ino, true, &fd) == 0) {
		safe_close(fd);
		r = 0;
		goto done;
	}
	if (imagefs_index_file_chunk_count(fs->idx, ino, &count) < 0 ||
	    !(parts = calloc(count ? count : 1, sizeof(*parts))))
		goto done;
	for (; n < count; n++) {
		if (imagefs_index_file_chunk(fs->idx, ino, n, &c) < 0 ||
		    ifs_cache_get(fs->cache, &c.digest, c.size, &parts[n].fd) < 0)
			goto done;
		parts[n].offset = c.file_offset;
		parts[n].size = c.size;
	}
	r = ifs_cache_put_file(fs->cache, &key, size, parts, n);
	if (r < 0)
		log_debug("whole file of inode %u: %s", ino, strerror(-r));
done:
	for (uint32_t i = 0; parts && i < n; i++)
		safe_close(parts[i].fd);
	pthread_mutex_lock(&fs->pt.lock);
	fs->pt.inodes[ino].whole = r == 0 ? PT_WHOLE_PRESENT : PT_WHOLE_WANTED;
	pthread_mutex_unlock(&fs->pt.lock);
}

static void *assembler(void *arg)
{
	struct ifs_fs *fs = arg;

	pthread_mutex_lock(&fs->pt.lock);
	for (;;) {
		while (!fs->pt.queue_head && !fs->pt.stopping)
			pthread_cond_wait(&fs->pt.queued, &fs->pt.lock);
		if (fs->pt.stopping)
			break;
		uint32_t ino = fs->pt.queue_head - 1;
		fs->pt.queue_head = fs->pt.inodes[ino].next;
		if (!fs->pt.queue_head)
			fs->pt.queue_tail = 0;
		fs->pt.inodes[ino].next = 0;
		pthread_mutex_unlock(&fs->pt.lock);
		assemble(fs, ino);
		pthread_mutex_lock(&fs->pt.lock);
	}
	pthread_mutex_unlock(&fs->pt.lock);
	return NULL;
}

/* Queue INO (a file of several chunks) for assembly, under lock. */
static void queue_whole(struct ifs_fs *fs, uint32_t ino)
{
	struct ifs_pt_inode *pi = &fs->pt.inodes[ino];

	if (pi->whole != PT_WHOLE_WANTED || fs->pt.stopping)
		return;
	if (!fs->pt.assembler_started) {
		if (pthread_create(&fs->pt.assembler, NULL, assembler, fs) != 0)
			return;
		fs->pt.assembler_started = true;
	}
	pi->whole = PT_WHOLE_QUEUED;
	if (fs->pt.queue_tail)
		fs->pt.inodes[fs->pt.queue_tail - 1].next = ino + 1;
	else
		fs->pt.queue_head = ino + 1;
	fs->pt.queue_tail = ino + 1;
	pthread_cond_signal(&fs->pt.queued);
}

void ifs_pt_prepare(struct ifs_fs *fs, uint32_t ino)
{
	struct digest key;
	uint64_t size;
	uint32_t chunk;
	int fd = -EBADF;

	if (!fs->pt.se || fs->pt.recording || layout(fs, ino, &size, &chunk, &key) != 2)
		return;
	/* only an entry that is there and not checked yet: none is made for a file not read */
	if (ifs_cache_get_whole(fs->cache, &key, size, fs->idx, ino, false, &fd) != -EAGAIN) {
		safe_close(fd);
		return;
	}
	pthread_mutex_lock(&fs->pt.lock);
	if (!fs->pt.inodes)
		fs->pt.inodes = calloc(imagefs_index_inode_count(fs->idx), sizeof(*fs->pt.inodes));
	if (fs->pt.inodes && fs->pt.inodes[ino].whole == PT_WHOLE_UNKNOWN) {
		fs->pt.inodes[ino].whole = PT_WHOLE_WANTED;
		queue_whole(fs, ino);
	}
	pthread_mutex_unlock(&fs->pt.lock);
}

/* A read-only fd of the one cache file that holds INO's bytes, or -ENOENT. A single chunk is
 * fetched when absent (the open is followed by reads); a whole-file entry is only looked up,
 * and marked wanted when missing. Called with INO marked opening, unlocked. */
static int backing_fd(struct ifs_fs *fs, uint32_t ino, bool *ret_close)
{
	struct ifs_pt_inode *pi = &fs->pt.inodes[ino];
	struct ifs_membuf *m = NULL;
	struct digest key;
	uint64_t size;
	uint32_t chunk;
	int fd = -EBADF;

	switch (layout(fs, ino, &size, &chunk, &key)) {
	case 1:
		if (ifs_fs_ensure(fs, &chunk, 1) < 0 ||
		    ifs_fs_chunk_data(fs, chunk, &fd, ret_close, &m) < 0)
			return -ENOENT;
		if (m) {
			/* still being written to the cache: this open reads through us */
			ifs_membuf_unref(m);
			return -ENOENT;
		}
		return fd;
	case 2:
		pthread_mutex_lock(&fs->pt.lock);
		bool look = pi->whole != PT_WHOLE_QUEUED;
		pthread_mutex_unlock(&fs->pt.lock);
		/* a whole-file entry not checked by this process yet is checked (and else
		 * made) by the assembler: this open reads through us */
		if (look &&
		    ifs_cache_get_whole(fs->cache, &key, size, fs->idx, ino, false, &fd) == 0) {
			pthread_mutex_lock(&fs->pt.lock);
			pi->whole = PT_WHOLE_PRESENT;
			pthread_mutex_unlock(&fs->pt.lock);
			*ret_close = true;
			return fd;
		}
		pthread_mutex_lock(&fs->pt.lock);
		if (pi->whole != PT_WHOLE_QUEUED)
			pi->whole = PT_WHOLE_WANTED;
		pthread_mutex_unlock(&fs->pt.lock);
		return -ENOENT;
	default:
		return -ENOENT;
	}
}

/* Register the cache file of INO's bytes as a backing file: its id (> 0), or 0 when the file
 * is not (yet) one cache file. Unlocked, as backing_fd. */
static int32_t backing_open(struct ifs_fs *fs, int dev, uint32_t ino)
{
	bool close_it = false;
	int fd, id;

	if ((fd = backing_fd(fs, ino, &close_it)) < 0)
		return 0;
	id = ioctl(dev, DEV_IOC_BACKING_OPEN, &(struct backing_map){.fd = fd});
	if (close_it)
		safe_close(fd);
	if (id > 0)
		return id;
	/* EPERM (no CAP_SYS_ADMIN), ELOOP (a stacked cache filesystem), EOPNOTSUPP: for good.
	 * From now on files are opened cached, until the server restarts. */
	log_warning("FUSE passthrough off: backing file: %m");
	pthread_mutex_lock(&fs->pt.lock);
	fs->pt.failed = true;
	pthread_mutex_unlock(&fs->pt.lock);
	return 0;
}

void ifs_pt_open(struct ifs_fs *fs, fuse_req_t req, uint32_t ino)
{
	struct open_out out = {.open_flags = FOPEN_KEEP_CACHE};
	struct ifs_pt_inode *pi;

	if (!fs->pt.enabled || fs->pt.recording)
		return (void)fuse_reply_err(req, ENOSYS);
	pthread_mutex_lock(&fs->pt.lock);
	if (!fs->pt.inodes &&
	    !(fs->pt.inodes = calloc(imagefs_index_inode_count(fs->idx), sizeof(*fs->pt.inodes)))) {
		pthread_mutex_unlock(&fs->pt.lock);
		return (void)fuse_reply_err(req, ENOMEM);
	}
	pi = &fs->pt.inodes[ino];
	/* the first open decides the mode; others of the same inode wait for it */
	while (pi->opening)
		pthread_cond_wait(&fs->pt.opened, &fs->pt.lock);
	if (pi->handles == 0 && !fs->pt.failed) {
		pi->opening = true;
		pthread_mutex_unlock(&fs->pt.lock);
		/* unlocked: a single chunk may have to be fetched */
		int32_t id = backing_open(fs, fuse_session_fd(fs->pt.se), ino);
		pthread_mutex_lock(&fs->pt.lock);
		pi->backing = id;
		pi->opening = false;
		pthread_cond_broadcast(&fs->pt.opened);
		if (pi->whole == PT_WHOLE_WANTED)
			queue_whole(fs, ino);
	}
	pi->handles++;
	if (pi->backing > 0) {
		out.open_flags = OPEN_PASSTHROUGH;
		out.backing_id = pi->backing;
		fs->stats.passthrough_opens++;
	}
	pthread_mutex_unlock(&fs->pt.lock);
	fuse_reply_buf(req, (const char *)&out, sizeof(out));
}

static void backing_close(struct ifs_fs *fs, int32_t id)
{
	uint32_t u = (uint32_t)id;

	if (ioctl(fuse_session_fd(fs->pt.se), DEV_IOC_BACKING_CLOSE, &u) < 0)
		log_debug("close backing file %u: %m", u);
}

void ifs_pt_release(struct ifs_fs *fs, fuse_req_t req, uint32_t ino)
{
	struct ifs_pt_inode *pi;

	pthread_mutex_lock(&fs->pt.lock);
	if (fs->pt.inodes) {
		pi = &fs->pt.inodes[ino];
		if (pi->handles > 0 && --pi->handles == 0) {
			if (pi->backing > 0) {
				backing_close(fs, pi->backing);
				pi->backing = 0;
			} else if (!fs->pt.failed) {
				/* read through us: maybe all its chunks are cached by now */
				queue_whole(fs, ino);
			}
		}
	}
	pthread_mutex_unlock(&fs->pt.lock);
	fuse_reply_err(req, 0);
}
