/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The application of `brisk-bench snapshot`, a stand-in for an interpreter that imports its
 * modules: bench-app MB DELAY_MS initialises for DELAY_MS (as imports would), fills MB of
 * memory with a pattern, prints "ready"; then each SIGUSR1 reads every page back (a request
 * that needs all its state) and prints "ok" or "bad". Static, so any rootfs can run it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	sigprocmask(SIG_BLOCK, &set, NULL);
	struct timespec ts = {delay / 1000, (delay % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	unsigned char *mem = malloc(len ? len : 1);
	if (!mem)
		return 1;
	for (size_t i = 0; i < len; i += 4096)
		mem[i] = (unsigned char)(i >> 12);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		int bad = 0;
		for (size_t i = 0; i < len; i += 4096)
			bad |= mem[i] != (unsigned char)(i >> 12);
		printf(bad ? "bad\n" : "ok\n");
		fflush(stdout);
	}
}
