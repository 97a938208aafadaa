/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The application of `brisk-bench snapshot`, a stand-in for an interpreter that imports its
 * modules: bench-app MB DELAY_MS initialises for DELAY_MS (as imports would), fills MB of
 * memory with a pattern (on huge pages where it can), prints "ready"; then each SIGUSR1 reads every
 * page back (a request that needs all its state) and prints "ok" or "bad", and each SIGUSR2
 * prints "up" and reads nothing (the first request a lazily restored app can answer before its
 * memory is back). Static, so any rootfs can run it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

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
	sigprocmask(SIG_BLOCK, &set, NULL);
	struct timespec ts = {delay / 1000, (delay % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	/* large buffers on transparent huge pages, as numpy does for its big arrays: a 4 KiB
	 * fault per page costs ~10 s per GB in the VMs this was measured on */
	unsigned char *mem =
	    mmap(NULL, len ? len : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	(void)madvise(mem, len ? len : 1, MADV_HUGEPAGE);
	for (size_t i = 0; i < len; i += 4096)
		mem[i] = (unsigned char)(i >> 12);
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
		int bad = 0;
		for (size_t i = 0; i < len; i += 4096)
			bad |= mem[i] != (unsigned char)(i >> 12);
		printf(bad ? "bad\n" : "ok\n");
		fflush(stdout);
	}
}
