/* SPDX-License-Identifier: Apache-2.0 */
/* What the benchmarks share: running programs, timing, statistics and the results table. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "common/mountinfo.h"
#include "bench.h"

volatile sig_atomic_t bench_interrupted;

static void on_signal(int sig)
{
	(void)sig;
	bench_interrupted = 1;
}

void bench_catch_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

double bench_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void child_stdio(int out_fd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	dup2(null, 0);
	dup2(out_fd >= 0 ? out_fd : null, 1);
	if (!getenv("BENCH_VERBOSE"))
		dup2(null, 2);
}

static int run_fd(char *const argv[], int out_fd, struct bench_sample *s)
{
	struct rusage ru;
	int status;
	double t0 = bench_now_ms();
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		child_stdio(out_fd);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (out_fd >= 0)
		close(out_fd);
	if (wait4(pid, &status, 0, &ru) < 0)
		return -errno;
	if (s) {
		s->wall_ms += bench_now_ms() - t0;
		s->cpu_ms += ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
			     ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
		if (ru.ru_maxrss > s->rss_kb)
			s->rss_kb = ru.ru_maxrss;
	}
	if (bench_interrupted)
		return -EINTR;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -EIO;
	return 0;
}

int bench_run(char *const argv[], struct bench_sample *s)
{
	return run_fd(argv, -1, s);
}

int bench_run_output(char *const argv[], char **ret_out)
{
	_cleanup_close_ int tmp = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	if (tmp < 0)
		return -errno;
	r = run_fd(argv, fcntl(tmp, F_DUPFD_CLOEXEC, 3), NULL);
	if (lseek(tmp, 0, SEEK_SET) < 0)
		return -errno;
	if (read_fd_all(tmp, 1 << 20, &buf, &len) < 0)
		return -EIO;
	while (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	*ret_out = TAKE_PTR(buf);
	return r;
}

int bench_run_to_line(char *const argv[], int timeout_ms, char *line, size_t size,
		      double *ret_line_ms)
{
	int pfd[2], status, r;
	double t0;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	t0 = bench_now_ms();
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(pfd[0]);
		close(pfd[1]);
		return r;
	}
	if (pid == 0) {
		child_stdio(pfd[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	r = bench_read_line(pfd[0], line, size, timeout_ms);
	*ret_line_ms = bench_now_ms() - t0;
	if (r < 0) {
		line[0] = '\0';
		if (r == -ETIMEDOUT || r == -EINTR)
			kill(pid, SIGKILL);
	}
	/* the rest of its output, then its exit */
	char sink[4096];
	while (read(pfd[0], sink, sizeof(sink)) > 0)
		;
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (r == -EPIPE)
		r = 0; /* no line: the caller finds it empty */
	if (r < 0)
		return r;
	if (bench_interrupted)
		return -EINTR;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

int bench_spawn(char *const argv[], const char *log, int *ret_stdout_fd, pid_t *ret_pid)
{
	int pfd[2] = {-1, -1};
	pid_t pid;

	if (ret_stdout_fd && pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		child_stdio(pfd[1]);
		if (log) {
			int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
			if (fd >= 0)
				dup2(fd, 2);
		}
		/* a process group of its own, so a terminal's ^C reaches only brisk-bench */
		setpgid(0, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (ret_stdout_fd) {
		close(pfd[1]);
		*ret_stdout_fd = pfd[0];
	}
	*ret_pid = pid;
	return 0;
}

int bench_run_piped(char *const argv[], bool keep_stderr, int *ret_fd)
{
	int pfd[2], st;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid == 0) {
		child_stdio(pfd[1]);
		/* the container inherits it: CRIU refuses to restore a file that grew since */
		if (!keep_stderr)
			dup2(0, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		close(pfd[0]);
		return bench_interrupted ? -EINTR : -EIO;
	}
	*ret_fd = pfd[0];
	return 0;
}

int bench_ask(const char *pid_file, int fd, int sig, const char *want, int timeout_ms)
{
	_cleanup_free_ char *buf = NULL;
	char line[256];
	size_t len;
	int r;

	if ((r = read_file_at(AT_FDCWD, pid_file, 64, &buf, &len)) < 0)
		return log_error_errno(r, "read '%s': %m", pid_file);
	pid_t pid = atoi(buf);
	if (pid <= 0 || kill(pid, sig) < 0)
		return log_error_errno(-ESRCH, "no app process (pid '%s')", buf);
	if ((r = bench_read_line(fd, line, sizeof(line), timeout_ms)) < 0)
		return log_error_errno(r, "the app did not answer: %m");
	if (strcmp(line, want) != 0)
		return log_error_errno(-EIO, "the app answered '%s', not '%s'", line, want);
	return 0;
}

int bench_start_registry(const char *dir, pid_t *ret_pid, int *ret_port)
{
	_cleanup_free_ char *cfg = path_join(dir, "config.yml"), *data = path_join(dir, "data"),
			    *log = path_join(dir, "log"), *text = NULL;
	char *argv[] = {(char *)"docker-registry", (char *)"serve", cfg, NULL};
	int port, r;

	if (!cfg || !data || !log)
		return -ENOMEM;
	if ((port = bench_free_port()) < 0)
		return log_error_errno(port, "no free port: %m");
	if (asprintf(&text,
		     "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
		     "    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%d\n",
		     data, port) < 0)
		return -ENOMEM;
	if ((r = mkdir_p_at(AT_FDCWD, data, 0755)) < 0 ||
	    (r = write_file_atomic_at(AT_FDCWD, cfg, text, strlen(text), 0644, false)) < 0 ||
	    (r = bench_spawn(argv, log, NULL, ret_pid)) < 0)
		return log_error_errno(r, "start docker-registry: %m");
	if ((r = bench_wait_port(port, 10000)) < 0)
		return log_error_errno(
		    r, "docker-registry does not answer on 127.0.0.1:%d (see '%s')", port, log);
	*ret_port = port;
	return 0;
}

int bench_start_netproxy(int port, unsigned rtt_ms, unsigned mbit, pid_t *ret_pid, int *ret_fd,
			 int *ret_port)
{
	char port_s[16], rtt_s[16], mbit_s[16], line[32];
	char *argv[] = {(char *)BENCH_NETPROXY_PATH, port_s, rtt_s, mbit_s, NULL};
	pid_t pid;
	int fd, r;

	snprintf(port_s, sizeof(port_s), "%d", port);
	snprintf(rtt_s, sizeof(rtt_s), "%u", rtt_ms);
	snprintf(mbit_s, sizeof(mbit_s), "%u", mbit);
	if ((r = bench_spawn(argv, NULL, &fd, &pid)) < 0)
		return log_error_errno(r, "start '%s': %m", argv[0]);
	if ((r = bench_read_line(fd, line, sizeof(line), 10000)) < 0 || atoi(line) <= 0) {
		close(fd);
		bench_stop(pid);
		return log_error_errno(r < 0 ? r : -EIO, "'%s' printed no port", argv[0]);
	}
	*ret_pid = pid;
	*ret_fd = fd;
	*ret_port = atoi(line);
	return 0;
}

int bench_parse_links(const char *s, unsigned (*out)[2], size_t max, size_t *ret_n)
{
	size_t n = 0;

	for (const char *p = s; p && *p;) {
		unsigned a, b;
		int used = 0;
		if (n == max || sscanf(p, "%u:%u%n", &a, &b, &used) != 2 || a > 10000 || b == 0)
			return log_error_errno(-EINVAL,
					       "bad --links '%s': expected RTT_MS:MBIT,...", s);
		out[n][0] = a, out[n++][1] = b;
		p += used;
		if (*p == ',' || *p == ' ')
			p++;
		else if (*p)
			return log_error_errno(-EINVAL, "bad --links '%s'", s);
	}
	if (n == 0)
		return log_error_errno(-EINVAL, "empty --links");
	*ret_n = n;
	return 0;
}

int bench_start_containerd(const char *dir, const struct bench_containerd_opts *opts, char *sock,
			   size_t sock_size, pid_t *ret_pid)
{
	bool cri = opts && opts->cri;
	const char *extra = opts && opts->extra ? opts->extra : "";
	_cleanup_free_ char *cfg = path_join(dir, "config.toml"), *log = path_join(dir, "log"),
			    *text = NULL;
	char *argv[] = {(char *)"containerd", (char *)"--config", cfg, NULL};
	char *ver[] = {(char *)"ctr", (char *)"--address", sock, (char *)"version", NULL};
	int r;

	if (!cfg || !log)
		return -ENOMEM;
	snprintf(sock, sock_size, "%s/sock", dir);
	/* CRI off, as the containerd tests start it, unless a pull goes through it */
	if (asprintf(&text,
		     "version = 2\nroot = \"%s/root\"\nstate = \"%s/state\"\n"
		     "%s[grpc]\n"
		     "  address = \"%s\"\n[ttrpc]\n  address = \"%s.ttrpc\"\n"
		     "[plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"%s/opt\"\n%s",
		     dir, dir, cri ? "" : "disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n",
		     sock, sock, dir, extra) < 0)
		return -ENOMEM;
	if ((r = mkdir_p_at(AT_FDCWD, dir, 0700)) < 0 ||
	    (r = write_file_atomic_at(AT_FDCWD, cfg, text, strlen(text), 0644, false)) < 0 ||
	    (r = bench_spawn(argv, log, NULL, ret_pid)) < 0)
		return log_error_errno(r, "start containerd: %m");
	for (int i = 0; i < 100; i++) {
		if (bench_run(ver, NULL) == 0)
			return 0;
		usleep(100000);
	}
	bench_stop(*ret_pid);
	*ret_pid = 0;
	return log_error_errno(-ETIMEDOUT, "containerd does not answer (see '%s')", log);
}

struct last_under {
	const char *dir;
	char *point; /* the last mount at or below DIR: mountinfo lists parents first */
};

static int find_last_under(const struct mountinfo_entry *e, void *userdata)
{
	struct last_under *u = userdata;
	size_t len = strlen(u->dir);

	if (strncmp(e->mount_point, u->dir, len) != 0 ||
	    (e->mount_point[len] != '\0' && e->mount_point[len] != '/'))
		return 0;
	free(u->point);
	return (u->point = strdup(e->mount_point)) ? 0 : -ENOMEM;
}

void bench_umount_under(const char *dir)
{
	for (int pass = 0; pass < 64; pass++) {
		struct last_under u = {.dir = dir};

		if (mountinfo_foreach("/proc/self/mountinfo", find_last_under, &u) < 0 ||
		    !u.point) {
			free(u.point);
			return;
		}
		(void)umount2(u.point, MNT_DETACH);
		free(u.point);
	}
}

void bench_remove_work_dir(const struct bench_opts *o, const char *bench, const char *dir,
			   bool containerd)
{
	bench_umount_under(dir);
	if (containerd) {
		char *argv[] = {(char *)"find",	     (char *)"/sys/fs/cgroup",
				(char *)"-maxdepth", (char *)"2",
				(char *)"-type",     (char *)"d",
				(char *)"-name",     (char *)"brisk-bench",
				(char *)"-delete",   NULL};
		(void)bench_run(argv, NULL);
	}
	if (!o->keep)
		(void)rm_rf_at(AT_FDCWD, dir);
	else
		fprintf(stderr, "%s: work dir kept in %s\n", bench, dir);
}

int bench_record_profile(const char *store, const char *image, const char *ref, const char *work,
			 char *const app[], char *const env[])
{
	_cleanup_free_ char *cache = path_join(work, "cache"), *mnt = path_join(work, "mnt"),
			    *prof = path_join(work, "profile"), *up = path_join(work, "up"),
			    *wk = path_join(work, "work"), *root = path_join(work, "root"),
			    *opts = NULL;
	int r, st;

	if (!cache || !mnt || !prof || !up || !wk || !root ||
	    asprintf(&opts, "lowerdir=%s,upperdir=%s,workdir=%s", mnt, up, wk) < 0)
		return -ENOMEM;
	char *mount_argv[] = {(char *)BRISK_IMAGEFS_PATH,
			      (char *)"mount",
			      (char *)"--store",
			      (char *)store,
			      (char *)"--cache",
			      cache,
			      (char *)"--record-profile",
			      prof,
			      (char *)image,
			      mnt,
			      NULL};
	char *umount_argv[] = {(char *)BRISK_IMAGEFS_PATH, (char *)"umount", mnt, NULL};
	char *push_argv[] = {(char *)BRISK_IMAGE_PATH, (char *)"profile", (char *)ref, prof, NULL};
	const char *dirs[] = {mnt, up, wk, root};
	for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
		if ((r = mkdir_p_at(AT_FDCWD, dirs[i], 0755)) < 0)
			return r;
	if ((r = bench_run(mount_argv, NULL)) < 0)
		return log_error_errno(r, "brisk-imagefs mount of '%s' failed", store);
	if (mount("overlay", root, "overlay", 0, opts) < 0) {
		r = log_error_errno(-errno, "overlay on '%s': %m", root);
		goto out_umount;
	}
	pid_t pid = fork();
	if (pid == 0) {
		child_stdio(-1);
		if (chroot(root) < 0 || chdir("/") < 0)
			_exit(126);
		execve(app[0], app, env);
		_exit(127);
	}
	r = pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0
		? log_error_errno(-EIO, "the start-up in '%s' failed", root)
		: 0;
	umount2(root, MNT_DETACH);
out_umount:
	(void)bench_run(umount_argv, NULL);
	if (r >= 0 && (r = bench_run(push_argv, NULL)) < 0)
		log_error_errno(r, "brisk-image profile '%s' failed", ref);
	return r;
}

void bench_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

int bench_read_line(int fd, char *buf, size_t size, int timeout_ms)
{
	size_t n = 0;
	double end = bench_now_ms() + timeout_ms;

	while (n + 1 < size) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)(end - bench_now_ms());
		if (bench_interrupted)
			return -EINTR;
		if (left <= 0)
			return -ETIMEDOUT;
		int k = poll(&p, 1, left);
		if (k < 0 && errno != EINTR)
			return -errno;
		if (k <= 0)
			continue;
		ssize_t m = read(fd, buf + n, 1);
		if (m < 0 && errno != EINTR)
			return -errno;
		if (m == 0)
			return -EPIPE;
		if (m == 1 && buf[n++] == '\n') {
			buf[n - 1] = '\0';
			return 0;
		}
	}
	buf[n] = '\0';
	return 0;
}

int bench_free_port(void)
{
	_cleanup_close_ int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(s, (struct sockaddr *)&a, &len) < 0)
		return -errno;
	return ntohs(a.sin_port);
}

int bench_wait_port(int port, int timeout_ms)
{
	double end = bench_now_ms() + timeout_ms;

	while (bench_now_ms() < end && !bench_interrupted) {
		_cleanup_close_ int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = htons((uint16_t)port),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		if (s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
			return 0;
		usleep(50000);
	}
	return -ETIMEDOUT;
}

int bench_drop_caches(void)
{
	sync();
	return write_string_at(AT_FDCWD, "/proc/sys/vm/drop_caches", "3");
}

int bench_page_cache_dir(const char *dir, bool in)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	_cleanup_free_ char *buf = malloc(1 << 20);
	struct dirent *e;
	int r = 0;

	if (!d || !buf)
		return d ? -ENOMEM : -errno;
	if (!in)
		sync(); /* dirty pages are not dropped */
	while ((e = readdir(d))) {
		_cleanup_close_ int fd =
		    openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		struct stat st;
		ssize_t n;

		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (!in) {
			r = -posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
			if (r < 0)
				return r;
			continue;
		}
		while ((n = read(fd, buf, 1 << 20)) > 0 || (n < 0 && errno == EINTR))
			;
		if (n < 0)
			return -errno;
	}
	return 0;
}

int bench_private_mount_ns(bool *ret_hid)
{
	*ret_hid = false;
	if (unshare(CLONE_NEWNS) < 0)
		return -errno;
	if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return -errno;
	if (access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0 &&
	    umount2("/sys/fs/cgroup/unified", MNT_DETACH) == 0)
		*ret_hid = true;
	return 0;
}

bool bench_have(const char *prog)
{
	char *argv[] = {(char *)prog, (char *)"--version", NULL};

	return bench_run(argv, NULL) == 0;
}

unsigned bench_runs(const struct bench_opts *o, const char *bench, unsigned def)
{
	unsigned runs = o->runs ? o->runs : def;

	if (runs > BENCH_MAX_RUNS) {
		log_warning("%s: %u runs at most", bench, BENCH_MAX_RUNS);
		runs = BENCH_MAX_RUNS;
	}
	return runs;
}

int bench_parse_list(const char *s, unsigned *out, size_t max, size_t *ret_n)
{
	size_t n = 0;
	const char *p = s;

	while (*p) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(p, &end, 10);
		if (errno || end == p || v == 0 || v > 1u << 20 || n == max ||
		    (*end && *end != ','))
			return log_error_errno(-EINVAL, "bad list '%s': expected N[,N...]", s);
		out[n++] = (unsigned)v;
		p = *end ? end + 1 : end;
	}
	if (n == 0)
		return log_error_errno(-EINVAL, "empty list '%s'", s);
	*ret_n = n;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double bench_median(double *v, size_t n, double *ret_min, double *ret_max)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(double), cmp_double);
	if (ret_min)
		*ret_min = v[0];
	if (ret_max)
		*ret_max = v[n - 1];
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void bench_result_add_double(struct json_object *e, const char *key, double v)
{
	if (e)
		json_object_object_add(e, key, json_object_new_double(v));
}

struct json_object *bench_result(struct json_object *results, const char *bench,
				 const char *scenario, const char *system, double *walls, size_t n,
				 bool baseline, bool ready)
{
	struct json_object *e = json_object_new_object();
	double mn = 0, mx = 0, med = bench_median(walls, n, &mn, &mx);

	if (!e)
		return NULL;
	json_object_object_add(e, "bench", json_object_new_string(bench));
	json_object_object_add(e, "scenario", json_object_new_string(scenario));
	json_object_object_add(e, "system", json_object_new_string(system));
	json_object_object_add(e, "runs", json_object_new_int((int)n));
	bench_result_add_double(e, "wall_ms_median", med);
	bench_result_add_double(e, "wall_ms_min", mn);
	bench_result_add_double(e, "wall_ms_max", mx);
	json_object_object_add(e, "baseline", json_object_new_boolean(baseline));
	json_object_object_add(e, "ready", json_object_new_boolean(ready));
	json_object_array_add(results, e);
	return e;
}

static double field(struct json_object *e, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(e, key, &v) ? json_object_get_double(v) : -1;
}

static const char *sfield(struct json_object *e, const char *key)
{
	const char *s;

	return json_get_string(e, key, &s) == 0 ? s : "";
}

static bool bfield(struct json_object *e, const char *key)
{
	bool b;

	return json_get_bool(e, key, &b) == 0 && b;
}

static double baseline_of(struct json_object *results, struct json_object *e)
{
	for (size_t i = 0; i < json_object_array_length(results); i++) {
		struct json_object *b = json_object_array_get_idx(results, i);
		if (bfield(b, "baseline") && strcmp(sfield(b, "bench"), sfield(e, "bench")) == 0 &&
		    strcmp(sfield(b, "scenario"), sfield(e, "scenario")) == 0)
			return field(b, "wall_ms_median");
	}
	return -1;
}

void bench_print_table(struct json_object *results, const char *bench)
{
	static const char *const standard[] = {"bench",	      "scenario",	"system",
					       "runs",	      "wall_ms_median", "wall_ms_min",
					       "wall_ms_max", "baseline",	"ready"};

	printf("\n| benchmark | scenario | system | median (ms) | min | max | vs baseline | "
	       "details |\n");
	printf("|---|---|---|---:|---:|---:|---:|---|\n");
	for (size_t i = 0; i < json_object_array_length(results); i++) {
		struct json_object *e = json_object_array_get_idx(results, i);
		if (bench && strcmp(sfield(e, "bench"), bench) != 0)
			continue;
		double base = baseline_of(results, e), med = field(e, "wall_ms_median");
		char ratio[32] = "";
		if (base > 0)
			snprintf(ratio, sizeof(ratio), "%.2fx", med / base);
		printf("| %s | %s | %s%s | %.1f | %.1f | %.1f | %s |", sfield(e, "bench"),
		       sfield(e, "scenario"), sfield(e, "system"),
		       bfield(e, "baseline") ? " (baseline)" : "", med, field(e, "wall_ms_min"),
		       field(e, "wall_ms_max"), ratio);
		/* what a benchmark adds: fetched MiB, image size, containers/s... */
		json_object_object_foreach(e, key, val)
		{
			size_t k;
			for (k = 0; k < ELEMENTSOF(standard) && strcmp(key, standard[k]) != 0; k++)
				;
			if (k == ELEMENTSOF(standard))
				printf(" %s %.1f", key, json_object_get_double(val));
		}
		printf(" |\n");
	}
	fflush(stdout);
}

void bench_progress(const char *fmt, ...)
{
	bool tty = isatty(STDERR_FILENO);
	va_list ap;

	if (tty)
		fprintf(stderr, "\r\033[K");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (!tty)
		fputc('\n', stderr);
	fflush(stderr);
}

static struct json_object *strv_to_json(char *const *v)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && v[i]; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

int bench_write_bundle(const char *brisk, const char *dir, const struct bench_bundle *b)
{
	_cleanup_free_ char *cfg = path_join(dir, "config.json");
	_cleanup_json_ struct json_object *spec = NULL;
	struct json_object *proc, *root;
	char *spec_argv[] = {(char *)brisk, (char *)"spec", (char *)"--bundle", (char *)dir, NULL};
	int r;

	if (!cfg)
		return -ENOMEM;
	(void)unlink(cfg);
	if ((r = mkdir_p_at(AT_FDCWD, dir, 0755)) < 0 || (r = bench_run(spec_argv, NULL)) < 0 ||
	    (r = json_parse_file_at(AT_FDCWD, cfg, &spec)) < 0 ||
	    (r = json_get_object(spec, "process", &proc)) < 0 ||
	    (r = json_get_object(spec, "root", &root)) < 0)
		return log_error_errno(r, "bundle '%s': %m", dir);
	json_object_object_add(proc, "terminal", json_object_new_boolean(false));
	json_object_object_add(proc, "args", strv_to_json(b->args));
	if (b->env)
		json_object_object_add(proc, "env", strv_to_json(b->env));
	json_object_object_add(root, "readonly", json_object_new_boolean(false));
	if (b->rootfs)
		json_object_object_add(root, "path", json_object_new_string(b->rootfs));
	if (b->store) {
		struct json_object *a = json_object_new_object();
		json_object_object_add(a, "run.brisk.image", json_object_new_string("v1"));
		json_object_object_add(a, "run.brisk.store", json_object_new_string(b->store));
		json_object_object_add(a, "run.brisk.cache", json_object_new_string(b->cache));
		if (!b->prefetch)
			json_object_object_add(a, "run.brisk.prefetch",
					       json_object_new_string("false"));
		json_object_object_add(spec, "annotations", a);
	}
	const char *text = json_to_string(spec);
	if ((r = write_file_atomic_at(AT_FDCWD, cfg, text, strlen(text), 0644, false)) < 0)
		return log_error_errno(r, "write '%s': %m", cfg);
	return 0;
}
