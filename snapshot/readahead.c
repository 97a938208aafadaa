/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading a snapshot's memory images (pages-*.img) into the page cache while the restore
 * gets ready.
 *
 * CRIU reads the pages late: after it has forked the tree, made its namespaces and mounts
 * and mapped its memory. Until then the disk is idle. Then one preadv() per memory area
 * reads the pages in order, and the kernel serves a sequential read by readahead windows
 * (read_ahead_kb, up to max_sectors_kb for a large read), one or two in flight: a restore
 * of 1 GB from images not in the page cache waited seconds for the disk.
 *
 * A thread started first thing asks the kernel for the images with readahead(2), in
 * slices, in the order CRIU reads them. readahead(2) submits a slice and returns, so the
 * device has many requests in flight, and the I/O runs alongside the restore's own work.
 * A bound keeps it from delaying what the restore reads meanwhile (the CRIU binary, the
 * bundle, the state directory), which otherwise queued behind hundreds of MB: at most DEPTH
 * slices in flight. The cost: the kernel reads ahead into small pages where CRIU's own read
 * gets large folios, which shows when the disk is fast (docs/PERFORMANCE-LOG.md, "Reading the
 * memory images ahead", has both sides).
 *
 * The thread makes system calls only (no allocation, no locks), so that a fork of the
 * process while it runs is safe.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "snapshot.h"

/* Each readahead(2) asks for this much: the kernel submits it and returns, and the cancel
 * flag is looked at in between. */
#define SLICE (4u << 20)
/* Slices in flight at once: enough to keep a disk busy, few enough that another read of
 * the restore waits behind 16 MiB at most. */
#define DEPTH 4
/* A tree of more processes than this has its first images read ahead, the others not. */
#define MAX_FILES 256

struct slice {
	int fd;
	off_t last; /* its last byte */
};

struct snapshot_readahead {
	pthread_t thread;
	atomic_bool cancel;
	size_t n;
	struct image {
		int fd;
		off_t size;
		unsigned long id; /* N of pages-N.img */
	} images[MAX_FILES];
	uint64_t bytes;	 /* asked for, by the thread; read after the join */
	uint64_t budget; /* at most this much: what memory can hold without evicting it again */
};

/* pages-N.img: N, else 0 */
static unsigned long pages_image_id(const char *name)
{
	char *end;
	unsigned long id;

	if (strncmp(name, "pages-", 6) != 0 || !(name[6] >= '0' && name[6] <= '9'))
		return 0;
	errno = 0;
	id = strtoul(name + 6, &end, 10);
	return errno == 0 && strcmp(end, ".img") == 0 ? id : 0;
}

/*
 * Half the memory available: pages read ahead of a restore that needs more than the node
 * can hold would be evicted before CRIU gets to them and read twice. 0 where we cannot tell.
 */
static uint64_t read_ahead_budget(void)
{
	unsigned long long kib;

	return mem_available_kib(&kib) < 0 ? 0 : (uint64_t)kib * 1024 / 2;
}

/* Wait until the last byte of slice W is in the page cache (it is, or its read is queued). */
static void wait_slice(const struct slice *w)
{
	char c;

	(void)pread(w->fd, &c, 1, w->last);
}

static void *run(void *userdata)
{
	struct snapshot_readahead *ra = userdata;
	struct slice ring[DEPTH];
	size_t k = 0;

	/* Not in the idle I/O class: mq-deadline dispatches idle requests only when no
	 * other is queued (or after 10 s), and CRIU waits for the pages we have asked for.
	 * On a busy disk, the restore would wait for everybody else's I/O. */
	for (size_t i = 0; i < ra->n; i++) {
		const struct image *im = &ra->images[i];
		for (off_t off = 0; off < im->size; off += SLICE, k++) {
			uint64_t len = (uint64_t)(im->size - off < SLICE ? im->size - off : SLICE);
			if (atomic_load_explicit(&ra->cancel, memory_order_relaxed))
				return NULL;
			if (ra->bytes + len > ra->budget)
				return NULL;
			/* at most DEPTH slices in flight: the restore's own reads (the CRIU
			 * binary, the bundle, the state directory) queue behind no more */
			if (k >= DEPTH)
				wait_slice(&ring[k % DEPTH]);
			if (readahead(im->fd, off, (size_t)len) < 0)
				break;
			ring[k % DEPTH] =
			    (struct slice){.fd = im->fd, .last = off + (off_t)len - 1};
			ra->bytes += len;
		}
	}
	return NULL;
}

static void close_all(struct snapshot_readahead *ra)
{
	for (size_t i = 0; i < ra->n; i++)
		safe_close(ra->images[i].fd);
	ra->n = 0;
}

int snapshot_readahead_start(int images_fd, struct snapshot_readahead **ret)
{
	_cleanup_free_ struct snapshot_readahead *ra = calloc(1, sizeof(*ra));
	int dfd, r;
	DIR *d;

	if (!ra)
		return -ENOMEM;
	dfd = openat(images_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		r = -errno;
		safe_close(dfd);
		return r;
	}
	for (struct dirent *de; ra->n < MAX_FILES && (de = readdir(d));) {
		unsigned long id = pages_image_id(de->d_name);
		struct stat st;
		int fd;

		if (id == 0)
			continue;
		/* a regular file only: a fifo or a device of that name is not opened, and
		 * O_NONBLOCK keeps one swapped in meanwhile from blocking the open */
		if (fstatat(images_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		fd = openat(images_fd, de->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
			safe_close(fd);
			continue;
		}
		ra->images[ra->n++] = (struct image){.fd = fd, .size = st.st_size, .id = id};
	}
	closedir(d);
	/* in the order of their numbers, which is the order CRIU restores the tasks in */
	for (size_t i = 1; i < ra->n; i++)
		for (size_t k = i; k > 0 && ra->images[k - 1].id > ra->images[k].id; k--) {
			struct image t = ra->images[k - 1];
			ra->images[k - 1] = ra->images[k];
			ra->images[k] = t;
		}
	if (ra->n == 0) {
		*ret = NULL;
		return 0;
	}
	ra->budget = read_ahead_budget();
	r = -pthread_create(&ra->thread, NULL, run, ra);
	if (r < 0) {
		close_all(ra);
		return r;
	}
	*ret = TAKE_PTR(ra);
	return 0;
}

uint64_t snapshot_readahead_stop(struct snapshot_readahead *ra, bool cancel)
{
	uint64_t bytes;

	if (!ra)
		return 0;
	if (cancel)
		atomic_store(&ra->cancel, true);
	pthread_join(ra->thread, NULL);
	bytes = ra->bytes;
	close_all(ra);
	free(ra);
	return bytes;
}
