/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A process tree with state for checkpoint/restore tests, in the manner of CRIU's zdtm:
 * it builds the state, prints READY, waits for SIGUSR1 (sent after the restore), checks
 * that everything is as it was and prints PASS (exit 0) or FAIL: why (exit 1).
 *
 * State: anonymous, file-backed (private, dirtied) and shared anonymous memory with
 * patterns; an open file and its offset; a pipe and a unix socket with queued data; a
 * thread that keeps counting; an interval timer; cwd, umask and environment; a child that
 * checks the shared memory and its own memory and reports through a pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define ANON_SIZE (8u << 20)
#define FILE_SIZE (1u << 20)
#define SHARED_SIZE (1u << 20)
#define HUGE_SIZE (8u << 20)

static volatile sig_atomic_t go;
static volatile unsigned long counter;

static unsigned char pattern(size_t i, unsigned seed)
{
	return (unsigned char)((i * 7 + seed) & 0xff);
}

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void *count(void *arg)
{
	(void)arg;
	for (;;) {
		counter++;
		usleep(1000);
	}
	return NULL;
}

static void say(const char *s)
{
	size_t n = strlen(s);
	(void)!write(1, s, n);
}

#define CHECK(cond, what)                                                               \
	do {                                                                            \
		if (!(cond)) {                                                          \
			char _b[256];                                                   \
			snprintf(_b, sizeof(_b), "FAIL: %s (errno %d)\n", what, errno); \
			say(_b);                                                        \
			return 1;                                                       \
		}                                                                       \
	} while (0)

static int check_pattern(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != pattern(i, seed))
			return 0;
	return 1;
}

static void wait_go(void)
{
	sigset_t none;

	sigemptyset(&none);
	while (!go)
		sigsuspend(&none);
}

/* The child: checks its own memory and the shared mapping, answers on REPLY. */
static int child_main(unsigned char *shared, int reply)
{
	unsigned char *own = malloc(1 << 16);
	char r;

	if (!own)
		return 1;
	for (size_t i = 0; i < (1 << 16); i++)
		own[i] = pattern(i, 11);
	wait_go();
	if (!check_pattern(own, 1 << 16, 11))
		r = 'o';
	else if (!check_pattern(shared, SHARED_SIZE, 5))
		r = 's';
	else
		r = 'y';
	shared[0] = 0x42; /* the parent sees it through the shared mapping */
	(void)!write(reply, &r, 1);
	return 0;
}

int main(void)
{
	struct sigaction sa = {.sa_handler = on_usr1, .sa_flags = SA_RESTART};
	sigset_t block;
	int pfd[2], sk[2], reply[2];
	char buf[64];

	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);

	unsigned char *anon =
	    mmap(NULL, ANON_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *shared =
	    mmap(NULL, SHARED_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK(anon != MAP_FAILED && shared != MAP_FAILED, "mmap");
	for (size_t i = 0; i < ANON_SIZE; i++)
		anon[i] = pattern(i, 3);
	for (size_t i = 0; i < SHARED_SIZE; i++)
		shared[i] = pattern(i, 5);
	/* an area advised MADV_HUGEPAGE (as numpy does its large arrays), 2 MiB aligned */
	unsigned char *huge_map = mmap(NULL, HUGE_SIZE + (2u << 20), PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(huge_map != MAP_FAILED, "mmap");
	unsigned char *huge = (unsigned char *)(((uintptr_t)huge_map + (2u << 20) - 1) &
						~(uintptr_t)((2u << 20) - 1));
	CHECK(madvise(huge, HUGE_SIZE, MADV_HUGEPAGE) == 0, "madvise MADV_HUGEPAGE");
	for (size_t i = 0; i < HUGE_SIZE; i++)
		huge[i] = pattern(i, 11);

	/* a file mapped privately, its first page dirtied */
	mkdir("/tmp/zdtm", 0755);
	int mf = open("/tmp/zdtm/map", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(mf >= 0, "create map file");
	for (size_t i = 0; i < FILE_SIZE; i += sizeof(buf)) {
		for (size_t k = 0; k < sizeof(buf); k++)
			buf[k] = (char)pattern(i + k, 9);
		CHECK(write(mf, buf, sizeof(buf)) == sizeof(buf), "write map file");
	}
	unsigned char *fmap = mmap(NULL, FILE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, mf, 0);
	CHECK(fmap != MAP_FAILED, "mmap file");
	close(mf);
	memset(fmap, 0xab, 4096);

	/* an open file at an offset */
	int of = open("/tmp/zdtm/offset", O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK(of >= 0 && write(of, "0123456789abcdefghijklmnopqrstuvwxyz0123456789", 46) == 46,
	      "offset file");
	CHECK(lseek(of, 42, SEEK_SET) == 42, "lseek");

	/* queued data in a pipe and a unix socket */
	CHECK(pipe(pfd) == 0 && write(pfd[1], "pipe-data", 9) == 9, "pipe");
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sk) == 0 && write(sk[0], "sock-data", 9) == 9,
	      "socketpair");

	/* cwd, umask, timer, thread */
	mkdir("/tmp/zdtm/cwd", 0755);
	CHECK(chdir("/tmp/zdtm/cwd") == 0, "chdir");
	umask(027);
	struct itimerval it = {.it_value = {.tv_sec = 1000}, .it_interval = {.tv_sec = 1000}};
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer");
	pthread_t th;
	CHECK(pthread_create(&th, NULL, count, NULL) == 0, "pthread_create");

	CHECK(pipe(reply) == 0, "reply pipe");
	pid_t child = fork();
	CHECK(child >= 0, "fork");
	if (child == 0)
		_exit(child_main(shared, reply[1]));

	say("READY\n");
	wait_go();

	CHECK(check_pattern(anon, ANON_SIZE, 3), "anonymous memory");
	CHECK(check_pattern(huge, HUGE_SIZE, 11), "memory advised MADV_HUGEPAGE");
	for (size_t i = 0; i < 4096; i++)
		CHECK(fmap[i] == 0xab, "dirty page of the file mapping");
	CHECK(check_pattern(fmap + 4096, FILE_SIZE - 4096, 9), "clean pages of the file mapping");
	CHECK(lseek(of, 0, SEEK_CUR) == 42, "file offset");
	CHECK(read(of, buf, 4) == 4 && memcmp(buf, "6789", 4) == 0, "read at the offset");
	CHECK(read(pfd[0], buf, 9) == 9 && memcmp(buf, "pipe-data", 9) == 0, "pipe data");
	CHECK(read(sk[1], buf, 9) == 9 && memcmp(buf, "sock-data", 9) == 0, "socket data");
	CHECK(getcwd(buf, sizeof(buf)) && strcmp(buf, "/tmp/zdtm/cwd") == 0, "cwd");
	mode_t old = umask(0);
	CHECK(old == 027, "umask");
	CHECK(getenv("ZDTM_ENV") && strcmp(getenv("ZDTM_ENV"), "kept") == 0, "environment");
	struct itimerval now;
	CHECK(getitimer(ITIMER_REAL, &now) == 0 && now.it_interval.tv_sec == 1000 &&
		  (now.it_value.tv_sec > 0 || now.it_value.tv_usec > 0),
	      "interval timer");
	unsigned long c0 = counter;
	usleep(100000);
	CHECK(counter > c0, "thread counting");

	CHECK(kill(child, SIGUSR1) == 0, "signal the child");
	char r = 0;
	ssize_t n;
	do
		n = read(reply[0], &r, 1);
	while (n < 0 && errno == EINTR);
	CHECK(n == 1, "child's answer");
	CHECK(r != 'o', "child's own memory");
	CHECK(r != 's', "shared memory seen by the child");
	CHECK(r == 'y', "child's memory");
	int status;
	CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "child exit");
	CHECK(shared[0] == 0x42, "shared memory written by the child");
	say("PASS\n");
	return 0;
}
