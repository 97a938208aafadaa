/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The files a checkpointed tree had mapped, and the pages of them it had touched: recorded at
 * dump, read ahead at restore.
 *
 * A restore opens every file the tree mapped, one after the other, and checks each (CRIU reads
 * an ELF file's build-id note, else compares sizes). Over a lazy image each of those opens and
 * reads waits for a fetch: the restore of a Python app with numpy and scipy opened 58 files
 * in 0.56 s at 5 ms from the registry, most of its time. Then the restored app faults in the
 * pages of its libraries that its next request runs, again one fetch at a time.
 *
 * At dump, brisk reads /proc/PID/maps of every process of the tree for the files mapped
 * (their paths as the container sees them) and /proc/PID/pagemap for which of their pages were
 * present: those the app has touched. At restore over a lazy image, threads look up every file
 * and read its head and its recorded pages, all at once, while CRIU gets ready: the fetches go
 * out in parallel, CRIU and the app find the pages in the page cache.
 *
 * The list comes from the snapshot, which is untrusted: a path is resolved inside the rootfs
 * (RESOLVE_IN_ROOT), only regular files are read, and the bytes read are bounded. The threads
 * make system calls only and allocate nothing, so that the caller may fork while they run.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "snapshot.h"

/* The head of every file: what CRIU's build-id check reads (the ELF header, program headers
 * and the notes that follow them). */
#define HEAD_SIZE (64u << 10)
/* Each read of a thread: large enough for the daemon to fetch a chunk at a time. */
#define PIECE (256u << 10)
/* Threads reading at once: the fetches in flight. */
#define THREADS 16
/* Extents closer than this are read as one. */
#define MERGE_GAP (64u << 10)
/* What a dump records and a restore reads at most. */
#define MAX_FILES 4096
#define MAX_EXTENTS 65536
#define MAX_BYTES (256ull << 20)
#define MAX_PROCS 4096

void snapshot_mapped_files_free(struct snapshot_mapped_file *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(f[i].path);
		free(f[i].ext);
	}
	free(f);
}

/* ---- dump: what the tree maps ---- */

struct collect {
	struct snapshot_mapped_file *f;
	size_t n, cap;
	size_t n_ext; /* over all files */
};

static struct snapshot_mapped_file *file_get(struct collect *c, const char *path)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->f[i].path, path) == 0)
			return &c->f[i];
	if (c->n == MAX_FILES)
		return NULL;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		struct snapshot_mapped_file *f = reallocarray(c->f, cap, sizeof(*f));
		if (!f)
			return NULL;
		c->f = f;
		c->cap = cap;
	}
	struct snapshot_mapped_file *f = &c->f[c->n];
	*f = (struct snapshot_mapped_file){.path = strdup(path)};
	if (!f->path)
		return NULL;
	c->n++;
	return f;
}

static int ext_add(struct collect *c, struct snapshot_mapped_file *f, uint64_t off, uint64_t len)
{
	if (f->n_ext && f->ext[f->n_ext - 1].off + f->ext[f->n_ext - 1].len == off) {
		f->ext[f->n_ext - 1].len += len;
		return 0;
	}
	if (c->n_ext == MAX_EXTENTS)
		return 0; /* a bound, not an error: the rest is faulted in on demand */
	/* powers of two: the array doubles when its count reaches one */
	if ((f->n_ext & (f->n_ext - 1)) == 0) {
		struct snapshot_file_extent *e =
		    reallocarray(f->ext, f->n_ext ? f->n_ext * 2 : 1, sizeof(*e));
		if (!e)
			return -ENOMEM;
		f->ext = e;
	}
	f->ext[f->n_ext++] = (struct snapshot_file_extent){off, len};
	c->n_ext++;
	return 0;
}

/* Not a file of the rootfs: a device, a memfd, SysV memory, a deleted file. */
static bool skip_path(const char *p, size_t len)
{
	static const char *const prefixes[] = {"/dev/", "/proc/", "/sys/", "/memfd:", "/SYSV"};

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(p, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return len >= 10 && strcmp(p + len - 10, " (deleted)") == 0;
}

/* The pages of [START, END) present and backed by the file (not a private copy). */
static int add_present(struct collect *c, struct snapshot_mapped_file *f, int pagemap_fd,
		       uint64_t start, uint64_t end, uint64_t file_off)
{
	const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t buf[512];

	for (uint64_t a = start; a < end;) {
		size_t n = (size_t)((end - a) / page);
		if (n > sizeof(buf) / sizeof(buf[0]))
			n = sizeof(buf) / sizeof(buf[0]);
		ssize_t k = pread(pagemap_fd, buf, n * sizeof(buf[0]), (off_t)(a / page * 8));
		if (k <= 0)
			return k < 0 ? -errno : 0;
		n = (size_t)k / sizeof(buf[0]);
		for (size_t i = 0; i < n; i++, a += page) {
			/* bit 63: present; bit 61: a file page or shared anonymous */
			if ((buf[i] >> 63 & 1) && (buf[i] >> 61 & 1)) {
				int r = ext_add(c, f, file_off + (a - start), page);
				if (r < 0)
					return r;
			}
		}
	}
	return 0;
}

static int collect_process(struct collect *c, pid_t pid)
{
	_cleanup_free_ char *maps = NULL;
	_cleanup_close_ int pagemap_fd = -EBADF;
	char path[64];
	size_t len;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	if ((r = read_file_at(AT_FDCWD, path, 64u << 20, &maps, &len)) < 0)
		return r;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	for (char *line = maps, *next; line && *line; line = next) {
		unsigned long long start, end, off;
		int name = 0;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (sscanf(line, "%llx-%llx %*s %llx %*s %*u %n", &start, &end, &off, &name) != 3 ||
		    !name || line[name] != '/')
			continue;
		const char *p = line + name;
		if (skip_path(p, strlen(p)))
			continue;
		struct snapshot_mapped_file *f = file_get(c, p);
		if (!f)
			return c->n == MAX_FILES ? 0 : -ENOMEM;
		if (pagemap_fd >= 0 && (r = add_present(c, f, pagemap_fd, start, end, off)) < 0)
			return r;
	}
	return 0;
}

static int cmp_ext(const void *a, const void *b)
{
	const struct snapshot_file_extent *x = a, *y = b;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* Sorted, and those less than MERGE_GAP apart made one. */
static void merge_extents(struct snapshot_mapped_file *f)
{
	size_t k = 0;

	if (!f->n_ext)
		return; /* no array to sort */
	qsort(f->ext, f->n_ext, sizeof(*f->ext), cmp_ext);
	for (size_t i = 0; i < f->n_ext; i++) {
		struct snapshot_file_extent *last = k ? &f->ext[k - 1] : NULL;
		if (last && f->ext[i].off <= last->off + last->len + MERGE_GAP) {
			uint64_t end = f->ext[i].off + f->ext[i].len;
			if (end > last->off + last->len)
				last->len = end - last->off;
		} else
			f->ext[k++] = f->ext[i];
	}
	f->n_ext = k;
}

/* The processes of the tree of ROOT, ROOT first: every task's children, breadth first. */
static int tree_pids(pid_t root, pid_t **ret, size_t *ret_n)
{
	_cleanup_free_ pid_t *pids = malloc(MAX_PROCS * sizeof(pid_t));
	size_t n = 0;

	if (!pids)
		return -ENOMEM;
	pids[n++] = root;
	for (size_t i = 0; i < n; i++) {
		char dir[64];
		snprintf(dir, sizeof(dir), "/proc/%d/task", pids[i]);
		_cleanup_closedir_ DIR *d = opendir(dir);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			_cleanup_free_ char *kids = NULL;
			char path[sizeof(dir) + sizeof(de->d_name) + 16];
			snprintf(path, sizeof(path), "%s/%s/children", dir, de->d_name);
			if (read_file_at(AT_FDCWD, path, 1u << 20, &kids, NULL) < 0)
				continue;
			for (char *s = kids, *end; *s && n < MAX_PROCS; s = end) {
				long v = strtol(s, &end, 10);
				if (end == s)
					break;
				if (v > 0)
					pids[n++] = (pid_t)v;
			}
		}
	}
	*ret = TAKE_PTR(pids);
	*ret_n = n;
	return 0;
}

int snapshot_mapped_files_collect(pid_t root, struct snapshot_mapped_file **ret, size_t *ret_n)
{
	struct collect c = {0};
	_cleanup_free_ pid_t *pids = NULL;
	size_t n_pids = 0;
	int r;

	if ((r = tree_pids(root, &pids, &n_pids)) < 0)
		return r;
	for (size_t i = 0; i < n_pids; i++) {
		r = collect_process(&c, pids[i]);
		/* a process that exited meanwhile has nothing to record */
		if (r < 0 && r != -ENOENT && r != -ESRCH) {
			snapshot_mapped_files_free(c.f, c.n);
			return r;
		}
	}
	for (size_t i = 0; i < c.n; i++)
		merge_extents(&c.f[i]);
	*ret = c.f;
	*ret_n = c.n;
	return 0;
}

/* ---- the description: [{"path": P, "pages": [[OFF, LEN], ...]}, ...] ---- */

struct json_object *snapshot_mapped_files_to_json(const struct snapshot_mapped_file *f, size_t n)
{
	_cleanup_json_ struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < n; i++) {
		struct json_object *o = json_object_new_object(), *pages = json_object_new_array();
		if (!o || !pages) {
			json_object_put(o);
			json_object_put(pages);
			return NULL;
		}
		for (size_t k = 0; k < f[i].n_ext; k++) {
			struct json_object *e = json_object_new_array();
			if (!e)
				break;
			json_object_array_add(e, json_object_new_int64((int64_t)f[i].ext[k].off));
			json_object_array_add(e, json_object_new_int64((int64_t)f[i].ext[k].len));
			json_object_array_add(pages, e);
		}
		json_object_object_add(o, "path", json_object_new_string(f[i].path));
		json_object_object_add(o, "pages", pages);
		json_object_array_add(a, o);
	}
	return TAKE_PTR(a);
}

static int get_u64(struct json_object *v, uint64_t *ret)
{
	if (!json_object_is_type(v, json_type_int))
		return -EINVAL;
	errno = 0;
	int64_t x = json_object_get_int64(v);
	if (errno || x < 0)
		return -EINVAL;
	*ret = (uint64_t)x;
	return 0;
}

static int file_from_json(struct json_object *v, struct snapshot_mapped_file *f, size_t *n_ext)
{
	struct json_object *p, *pages;
	size_t n;

	if (!json_object_is_type(v, json_type_object) || json_object_object_length(v) != 2 ||
	    !json_object_object_get_ex(v, "path", &p) ||
	    !json_object_object_get_ex(v, "pages", &pages) ||
	    !json_object_is_type(p, json_type_string) ||
	    !json_object_is_type(pages, json_type_array))
		return -EINVAL;
	const char *s = json_object_get_string(p);
	if ((size_t)json_object_get_string_len(p) != strlen(s) || s[0] != '/' ||
	    strlen(s) >= PATH_MAX)
		return -EINVAL;
	if (!(f->path = strdup(s)))
		return -ENOMEM;
	n = json_object_array_length(pages);
	if (n > MAX_EXTENTS - *n_ext)
		return -E2BIG;
	if (n && !(f->ext = calloc(n, sizeof(*f->ext))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(pages, i);
		if (!json_object_is_type(e, json_type_array) || json_object_array_length(e) != 2 ||
		    get_u64(json_object_array_get_idx(e, 0), &f->ext[i].off) < 0 ||
		    get_u64(json_object_array_get_idx(e, 1), &f->ext[i].len) < 0 ||
		    f->ext[i].len == 0 || f->ext[i].off > (uint64_t)INT64_MAX - f->ext[i].len)
			return -EINVAL;
		f->n_ext++;
	}
	*n_ext += n;
	return 0;
}

int snapshot_mapped_files_from_json(struct json_object *v, struct snapshot_mapped_file **ret,
				    size_t *ret_n)
{
	struct snapshot_mapped_file *f;
	size_t n, n_ext = 0;

	if (!json_object_is_type(v, json_type_array))
		return -EINVAL;
	n = json_object_array_length(v);
	if (n > MAX_FILES)
		return -E2BIG;
	if (!(f = calloc(n ? n : 1, sizeof(*f))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int r = file_from_json(json_object_array_get_idx(v, i), &f[i], &n_ext);
		if (r < 0) {
			snapshot_mapped_files_free(f, n);
			return r;
		}
	}
	*ret = f;
	*ret_n = n;
	return 0;
}

/* ---- restore: read them ahead ---- */

struct snapshot_prefetch;

struct worker {
	struct snapshot_prefetch *p;
	char *buf;
};

struct snapshot_prefetch {
	pthread_t threads[THREADS];
	struct worker workers[THREADS];
	size_t n_threads;
	int root_fd;
	const struct snapshot_mapped_file *f;
	size_t n;
	atomic_size_t next;	    /* the next file to take */
	atomic_uint_fast64_t bytes; /* read so far (and reserved), under MAX_BYTES */
	atomic_bool cancel;
	char *bufs; /* PIECE per thread */
};

/* Read [OFF, OFF+LEN) of FD a piece at a time; false when the prefetch is over. */
static bool read_range(struct snapshot_prefetch *p, int fd, char *buf, uint64_t off, uint64_t len)
{
	for (uint64_t end = off + len; off < end;) {
		size_t n = end - off < PIECE ? (size_t)(end - off) : PIECE;
		if (atomic_load_explicit(&p->cancel, memory_order_relaxed))
			return false;
		/* reserved before the read, so that the threads together stay under the bound;
		 * what the read fell short of is given back */
		if (atomic_fetch_add(&p->bytes, n) + n > MAX_BYTES)
			return false;
		ssize_t k = pread(fd, buf, n, (off_t)off);
		atomic_fetch_sub(&p->bytes, n - (k > 0 ? (size_t)k : 0));
		if (k <= 0)
			return true; /* the end of the file, or it cannot be read: the next one */
		off += (uint64_t)k;
	}
	return true;
}

/* PATH resolved inside ROOT_FD, O_PATH: openat2() alone, whose lookup allocates nothing in
 * this process (open_in_root()'s fallback walk does); a kernel without it reads nothing ahead. */
static int open_path_in_root(int root_fd, const char *path)
{
	struct open_how how = {
	    .flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	return (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
}

static void *prefetch_run(void *userdata)
{
	struct worker *w = userdata;
	struct snapshot_prefetch *p = w->p;

	for (;;) {
		size_t i = atomic_fetch_add(&p->next, 1);
		if (i >= p->n || atomic_load_explicit(&p->cancel, memory_order_relaxed))
			return NULL;
		const struct snapshot_mapped_file *f = &p->f[i];
		struct stat st;
		char proc[64];
		/* a path the snapshot names: resolved in the rootfs, a regular file only (an
		 * open of a fifo or a device could block or act) */
		int pfd = open_path_in_root(p->root_fd, f->path);
		if (pfd < 0)
			continue;
		if (fstat(pfd, &st) < 0 || !S_ISREG(st.st_mode)) {
			close(pfd);
			continue;
		}
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
		int fd = open(proc, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		close(pfd);
		if (fd < 0)
			continue;
		bool go = read_range(p, fd, w->buf, 0, HEAD_SIZE);
		for (size_t k = 0; go && k < f->n_ext; k++)
			if (f->ext[k].off < (uint64_t)st.st_size)
				go = read_range(p, fd, w->buf, f->ext[k].off, f->ext[k].len);
		close(fd);
		if (!go)
			return NULL;
	}
}

int snapshot_prefetch_start(const char *root, const struct snapshot_mapped_file *f, size_t n,
			    struct snapshot_prefetch **ret)
{
	_cleanup_free_ struct snapshot_prefetch *p = NULL;

	*ret = NULL;
	if (!n)
		return 0;
	if (!(p = calloc(1, sizeof(*p))))
		return -ENOMEM;
	p->f = f;
	p->n = n;
	p->root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (p->root_fd < 0)
		return -errno;
	if (!(p->bufs = malloc((size_t)THREADS * PIECE))) {
		close(p->root_fd);
		return -ENOMEM;
	}
	for (size_t t = 0; t < THREADS && t < n; t++) {
		p->workers[t] = (struct worker){p, p->bufs + t * PIECE};
		if (pthread_create(&p->threads[t], NULL, prefetch_run, &p->workers[t]) != 0)
			break;
		p->n_threads++;
	}
	if (!p->n_threads) {
		free(p->bufs);
		close(p->root_fd);
		return -EAGAIN;
	}
	*ret = TAKE_PTR(p);
	return 0;
}

uint64_t snapshot_prefetch_stop(struct snapshot_prefetch *p, bool cancel)
{
	uint64_t bytes;

	if (!p)
		return 0;
	if (cancel)
		atomic_store(&p->cancel, true);
	for (size_t t = 0; t < p->n_threads; t++)
		pthread_join(p->threads[t], NULL);
	bytes = atomic_load(&p->bytes);
	free(p->bufs);
	close(p->root_fd);
	free(p);
	return bytes;
}
