/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fault.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "state.h"

#define OCI_VERSION "1.2.0"

int state_check_id(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > 1024)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') ||
			  (i > 0 && (c == '_' || c == '-' || c == '.' || c == '+'));
		if (!ok)
			return -EINVAL;
	}
	return 0;
}

int state_open_root(const char *root, bool create, int *ret_fd)
{
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT && create) {
		int r = mkdir_p_at(AT_FDCWD, root, 0700);
		if (r < 0)
			return r;
		fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

int state_open_dir(int rootfd, const char *id, int *ret_fd)
{
	if (rootfd < 0 || state_check_id(id) < 0)
		return -ENOENT;
	int fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

static int dup_str(struct json_object *o, const char *key, char **ret)
{
	const char *s;

	if (json_get_string(o, key, &s) < 0)
		return -EINVAL;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

int state_load(int rootfd, const char *id, struct container_state **ret)
{
	_cleanup_close_ int dfd = -EBADF;
	_cleanup_json_ struct json_object *o = NULL;
	_cleanup_(state_freep) struct container_state *st = NULL;
	struct json_object *sub;
	int64_t v;
	int r;

	r = state_open_dir(rootfd, id, &dfd);
	if (r < 0)
		return r;
	r = json_parse_file_at(dfd, STATE_FILE, &o);
	if (r == -ENOENT) /* created but not finished, or removed under us */
		return -ENOENT;
	if (r < 0)
		return r;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	if (dup_str(o, "id", &st->id) < 0 || dup_str(o, "bundle", &st->bundle) < 0 ||
	    dup_str(o, "rootfs", &st->rootfs) < 0 || dup_str(o, "created", &st->created) < 0)
		return -EINVAL;
	if (json_get_int64(o, "pid", &v) < 0)
		return -EINVAL;
	st->pid = (pid_t)v;
	uint64_t u = 0;
	json_get_uint64(o, "startTime", &u);
	st->start_time = u;
	if (json_get_int64(o, "owner", &v) == 0)
		st->owner = (uid_t)v;
	json_get_bool(o, "systemdCgroup", &st->systemd_cgroup);
	if (json_get_object(o, "annotations", &sub) == 0)
		st->annotations = json_object_get(sub);
	if (json_get_object(o, "cgroup", &sub) == 0)
		st->cgroup = json_object_get(sub);
	if (json_get_object(o, "extra", &sub) == 0)
		st->extra = json_object_get(sub);
	*ret = TAKE_PTR(st);
	return 0;
}

int state_save(int dirfd, const struct container_state *st)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	const char *s;

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "id", json_object_new_string(st->id));
	json_object_object_add(o, "pid", json_object_new_int64(st->pid));
	json_object_object_add(o, "startTime", json_object_new_uint64(st->start_time));
	json_object_object_add(o, "bundle", json_object_new_string(st->bundle));
	json_object_object_add(o, "rootfs", json_object_new_string(st->rootfs));
	json_object_object_add(o, "created", json_object_new_string(st->created));
	json_object_object_add(o, "owner", json_object_new_int64(st->owner));
	json_object_object_add(o, "systemdCgroup", json_object_new_boolean(st->systemd_cgroup));
	if (st->annotations)
		json_object_object_add(o, "annotations", json_object_get(st->annotations));
	if (st->cgroup)
		json_object_object_add(o, "cgroup", json_object_get(st->cgroup));
	if (st->extra)
		json_object_object_add(o, "extra", json_object_get(st->extra));
	s = json_to_string(o);
	if (fault_hit("state-write"))
		return -EIO;
	return write_file_atomic_at(dirfd, STATE_FILE, s, strlen(s), 0600, false);
}

int state_write_pid_file(const char *path, pid_t pid)
{
	char buf[16];
	int r;

	snprintf(buf, sizeof(buf), "%d", (int)pid);
	r = write_file_atomic_at(AT_FDCWD, path, buf, strlen(buf), 0644, false);
	if (r < 0)
		return log_error_errno(r, "write pid file '%s': %m", path);
	return 0;
}

int state_commit(int dirfd, const struct container_state *st, struct json_object *config,
		 const char *pid_file)
{
	int r;

	if (config) {
		const char *cfg = json_to_string(config);
		if ((r = write_file_atomic_at(dirfd, "config.json", cfg, strlen(cfg), 0600,
					      false)) < 0)
			return log_error_errno(r, "save config.json: %m");
	}
	if ((r = state_save(dirfd, st)) < 0)
		return log_error_errno(r, "save state: %m");
	return pid_file ? state_write_pid_file(pid_file, st->pid) : 0;
}

void state_done(struct container_state *st)
{
	free(st->id);
	free(st->bundle);
	free(st->rootfs);
	free(st->created);
	json_putp(&st->annotations);
	json_putp(&st->cgroup);
	json_putp(&st->extra);
	*st = (struct container_state){0};
}

struct container_state *state_free(struct container_state *st)
{
	if (!st)
		return NULL;
	state_done(st);
	free(st);
	return NULL;
}

void state_freep(struct container_state **st)
{
	*st = state_free(*st);
}

int proc_start_time(pid_t pid, unsigned long long *ret, bool *ret_zombie)
{
	char path[64], buf[1024];
	_cleanup_close_ int fd = -EBADF;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	/* comm may hold spaces and parens: fields resume after the last ')'. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EIO;
	char state = p[2];
	p += 3;
	/* p is at field 4; the 18th space after it precedes field 22, starttime */
	for (int i = 0; i < 18; i++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EIO;
	}
	*ret = strtoull(p + 1, NULL, 10);
	if (ret_zombie)
		*ret_zombie = state == 'Z' || state == 'X';
	return 0;
}

int state_status(int rootfd, const struct container_state *st, enum container_status *ret)
{
	unsigned long long t;
	bool zombie = false;
	_cleanup_free_ char *fifo = path_join(st->id, EXEC_FIFO);

	if (!fifo)
		return -ENOMEM;

	if (st->pid <= 0 || proc_start_time(st->pid, &t, &zombie) < 0 || t != st->start_time ||
	    zombie) {
		*ret = STATUS_STOPPED;
		return 0;
	}
	*ret = faccessat(rootfd, fifo, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ? STATUS_CREATED
								       : STATUS_RUNNING;
	return 0;
}

const char *state_status_name(enum container_status s)
{
	static const char *const names[] = {"creating", "created", "running", "paused", "stopped"};
	return names[s];
}

char *now_rfc3339(void)
{
	struct timespec ts;
	struct tm tm;
	char buf[64];
	char *out;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	if (asprintf(&out, "%s.%09ldZ", buf, ts.tv_nsec) < 0)
		return NULL;
	return out;
}

int state_to_json(const struct container_state *st, enum container_status status,
		  struct json_object **ret)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "ociVersion", json_object_new_string(OCI_VERSION));
	json_object_object_add(o, "id", json_object_new_string(st->id));
	json_object_object_add(o, "pid",
			       json_object_new_int(status == STATUS_STOPPED ? 0 : st->pid));
	json_object_object_add(o, "status", json_object_new_string(state_status_name(status)));
	json_object_object_add(o, "bundle", json_object_new_string(st->bundle));
	json_object_object_add(o, "rootfs", json_object_new_string(st->rootfs));
	json_object_object_add(o, "created", json_object_new_string(st->created));
	json_object_object_add(o, "owner", json_object_new_string(""));
	json_object_object_add(o, "annotations",
			       st->annotations ? json_object_get(st->annotations)
					       : json_object_new_object());
	*ret = o;
	return 0;
}
