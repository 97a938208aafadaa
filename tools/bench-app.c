/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The application of `brisk-bench snapshot`, a stand-in for an interpreter that imports its
 * modules: bench-app MB DELAY_MS initialises for DELAY_MS (as imports would), fills MB of
 * memory with a pattern (on huge pages where it can), prints "ready"; then each SIGUSR1 reads every
 * page back (a request that needs all its state) and prints "ok" or "bad", each SIGUSR2
 * prints "up" and reads nothing (the first request a lazily restored app can answer before its
 * memory is back), and each SIGHUP reads the first eighth it filled, its "model", and prints
 * "hot" or "bad" (a request that needs only part of its state). The model is mapped first, so
 * it lies above the rest, as what a process loads first does (mmap hands out addresses from the
 * top down). Static, so any rootfs can run it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static unsigned char *map(size_t len)
{
	unsigned char *p =
	    mmap(NULL, len ? len : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	(void)madvise(p, len ? len : 1, MADV_HUGEPAGE);
	return p;
}

/* One byte a page: the page's number, counted from OFF bytes into the app's memory. */
static void fill(unsigned char *p, size_t len, size_t off)
{
	for (size_t i = 0; i < len; i += 4096)
		p[i] = (unsigned char)((off + i) >> 12);
}

static int check(const unsigned char *p, size_t len, size_t off)
{
	int bad = 0;

	for (size_t i = 0; i < len; i += 4096)
		bad |= p[i] != (unsigned char)((off + i) >> 12);
	return bad;
}

int main(int argc, char **argv)
{
	sigset_t set;
	int sig;

	if (argc != 3) {
		fprintf(stderr, "usage: bench-app MB DELAY_MS\n");
		return 2;
	}
	size_t len = (size_t)strtoul(argv[1], NULL, 10) << 20;
	long delay = strtol(argv[2], NULL, 10);
	/* blocked from the start: a request sent early waits instead of killing the app */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	struct timespec ts = {delay / 1000, (delay % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	/* large buffers on transparent huge pages, as numpy does for its big arrays: a 4 KiB
	 * fault per page costs ~10 s per GB in the VMs this was measured on */
	size_t hot_len = len / 8 & ~(size_t)4095, rest_len = len - hot_len;
	unsigned char *hot = map(hot_len), *rest = map(rest_len);
	if (!hot || !rest)
		return 1;
	fill(hot, hot_len, 0);
	fill(rest, rest_len, hot_len);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGUSR2) {
			printf("up\n");
			fflush(stdout);
			continue;
		}
		/* all of it in address order (the rest lies below the model), or the model */
		int bad = sig == SIGUSR1 ? check(rest, rest_len, hot_len) : 0;
		bad |= check(hot, hot_len, 0);
		printf(bad ? "bad\n" : sig == SIGHUP ? "hot\n" : "ok\n");
		fflush(stdout);
	}
}
