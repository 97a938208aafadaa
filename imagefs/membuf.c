/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Chunk buffers of the lazy mount, carved from large anonymous arenas on transparent huge
 * pages.
 *
 * A lazy start decodes tens of MB of chunks into fresh memory. Taken from malloc, every 4 KiB
 * of it costs a page fault on first touch, and a fault is expensive in a virtual machine: here
 * ~14 us, so 100 MB cost ~0.4 s of CPU (tools/bench-image's lazy + prefetch start made 26,000
 * of them in the daemon), on the same cores the start-up itself needs. An arena is 2 MiB
 * aligned and advised MADV_HUGEPAGE, so it is faulted in 2 MiB at a time: 100 MB then cost
 * ~10 ms. Buffers are handed out one after another (a bump pointer) and counted in their arena,
 * which is unmapped when its last buffer goes. Chunk buffers live from their fetch to their
 * cache write, in about the order they were made, so arenas empty in turn. Without huge pages
 * (THP off), arenas still work, at the cost of 4 KiB faults.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "lazy-internal.h"

/* Under AddressSanitizer, an arena is poisoned but for its live buffers, so that an overrun
 * of one is caught as with malloc. */
#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif
#ifdef HAVE_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define ARENA_SIZE (64u << 20)
#define ARENA_ALIGN (2u << 20) /* a huge page */
#define BIG (ARENA_SIZE / 4)   /* larger buffers come from malloc */
#define ALIGN 64

struct ifs_arena {
	atomic_uint refs; /* live buffers, plus one while it is the current arena */
	size_t used;	  /* protected by lock */
	char *base;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct ifs_arena *current; /* protected by lock */
static atomic_uint arenas;	  /* mapped, for tests */

static struct ifs_arena *arena_new(void)
{
	struct ifs_arena *a = malloc(sizeof(*a));
	size_t map = ARENA_SIZE + ARENA_ALIGN;
	char *p, *base;

	if (!a)
		return NULL;
	p = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		free(a);
		return NULL;
	}
	/* keep the aligned ARENA_SIZE bytes inside the mapping */
	base = (char *)(((uintptr_t)p + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1));
	if (base > p)
		(void)munmap(p, (size_t)(base - p));
	if (base + ARENA_SIZE < p + map)
		(void)munmap(base + ARENA_SIZE, (size_t)(p + map - (base + ARENA_SIZE)));
	(void)madvise(base, ARENA_SIZE, MADV_HUGEPAGE); /* best effort: THP may be off */
	POISON(base, ARENA_SIZE);
	atomic_init(&a->refs, 1);
	a->used = 0;
	a->base = base;
	atomic_fetch_add(&arenas, 1);
	return a;
}

static void arena_unref(struct ifs_arena *a)
{
	if (atomic_fetch_sub(&a->refs, 1) != 1)
		return;
	UNPOISON(a->base, ARENA_SIZE);
	(void)munmap(a->base, ARENA_SIZE);
	free(a);
	atomic_fetch_sub(&arenas, 1);
}

struct ifs_membuf *ifs_membuf_new(size_t size)
{
	size_t need = (sizeof(struct ifs_membuf) + size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	struct ifs_membuf *m = NULL;

	if (size > UINT32_MAX)
		return NULL;
	if (need > BIG) {
		if (!(m = malloc(sizeof(*m) + size)))
			return NULL;
		m->arena = NULL;
	} else {
		pthread_mutex_lock(&lock);
		if (current && current->used + need > ARENA_SIZE) {
			arena_unref(current); /* freed once its buffers are */
			current = NULL;
		}
		if (!current && !(current = arena_new())) {
			pthread_mutex_unlock(&lock);
			return NULL;
		}
		m = (struct ifs_membuf *)(current->base + current->used);
		UNPOISON(m, sizeof(*m) + size);
		current->used += need;
		atomic_fetch_add(&current->refs, 1);
		m->arena = current;
		pthread_mutex_unlock(&lock);
	}
	atomic_init(&m->refs, 1);
	m->size = (uint32_t)size;
	return m;
}

void ifs_membuf_unref(struct ifs_membuf *m)
{
	if (!m || atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	if (m->arena) {
		struct ifs_arena *a = m->arena;

		POISON(m, sizeof(*m) + m->size);
		arena_unref(a);
	} else
		free(m);
}

void ifs_membuf_trim(void)
{
	pthread_mutex_lock(&lock);
	if (current)
		arena_unref(current);
	current = NULL;
	pthread_mutex_unlock(&lock);
}

unsigned ifs_membuf_arenas(void)
{
	return atomic_load(&arenas);
}
