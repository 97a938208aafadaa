/* SPDX-License-Identifier: Apache-2.0 */
/*
 * brisk-snapshot.json: what brisk needs besides CRIU's images to restore a snapshot under a
 * new container id. It comes from a directory anyone may have handed us, so the parser is
 * strict: every key known, every type checked, sizes bounded.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "snapshot-internal.h"

#define META_MAX_SIZE (16u << 20)
#define META_MAX_STRING 4096
#define META_MAX_MOUNTS 1024
#define META_MAX_CUDA_PIDS 4096
#define META_MAX_PID (4 << 20) /* the kernel's PID_MAX_LIMIT */

struct snapshot_meta *snapshot_meta_free(struct snapshot_meta *m)
{
	if (!m)
		return NULL;
	free(m->id);
	free(m->created);
	free(m->rootfs);
	for (int i = 0; i < 3; i++)
		free(m->stdio[i]);
	strv_free(m->ext_mounts);
	free(m->cuda_pids);
	free(m->netns);
	json_putp(&m->config);
	for (size_t i = 0; i < m->n_trees; i++)
		snapshot_tree_done(&m->trees[i]);
	free(m->trees);
	snapshot_mapped_files_free(m->mapped, m->n_mapped);
	free(m);
	return NULL;
}

static int get_str(struct json_object *v, char **ret)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return -EINVAL;
	s = json_object_get_string(v);
	if ((size_t)json_object_get_string_len(v) != strlen(s) || strlen(s) > META_MAX_STRING)
		return -EINVAL; /* embedded NUL or absurd length */
	if (*ret)
		return -EINVAL; /* a key twice */
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

static int get_int(struct json_object *v, int min, int max, int *ret)
{
	if (!json_object_is_type(v, json_type_int))
		return -EINVAL;
	errno = 0;
	int64_t n = json_object_get_int64(v);
	if (errno || n < min || n > max)
		return -EINVAL;
	*ret = (int)n;
	return 0;
}

static int get_stdio(struct json_object *v, struct snapshot_meta *m)
{
	if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) != 3)
		return -EINVAL;
	for (size_t i = 0; i < 3; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		int r;
		if (!e)
			continue;
		if ((r = get_str(e, &m->stdio[i])) < 0)
			return r;
	}
	return 0;
}

static int get_mounts(struct json_object *v, struct snapshot_meta *m)
{
	size_t n;

	if (!json_object_is_type(v, json_type_array) || m->ext_mounts)
		return -EINVAL;
	n = json_object_array_length(v);
	if (n > META_MAX_MOUNTS)
		return -E2BIG;
	m->ext_mounts = calloc(n + 1, sizeof(char *));
	if (!m->ext_mounts)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int r = get_str(json_object_array_get_idx(v, i), &m->ext_mounts[i]);
		if (r < 0)
			return r;
		if (m->ext_mounts[i][0] != '/')
			return -EINVAL;
	}
	return 0;
}

static int get_cuda_pids(struct json_object *v, struct snapshot_meta *m)
{
	size_t n;

	if (!json_object_is_type(v, json_type_array) || m->cuda_pids)
		return -EINVAL;
	n = json_object_array_length(v);
	if (n > META_MAX_CUDA_PIDS)
		return -E2BIG;
	m->cuda_pids = calloc(n + 1, sizeof(int));
	if (!m->cuda_pids)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int r = get_int(json_object_array_get_idx(v, i), 1, META_MAX_PID, &m->cuda_pids[i]);
		if (r < 0)
			return r;
	}
	m->n_cuda_pids = n;
	return 0;
}

void snapshot_tree_done(struct snapshot_tree *t)
{
	for (size_t i = 0; i < t->n_entries; i++) {
		free(t->entries[i].path);
		free(t->entries[i].target);
	}
	free(t->entries);
	free(t->destination);
	*t = (struct snapshot_tree){0};
}

/* A path relative to a tree's root: no leading or doubled '/', no "." or ".." component. */
static bool tree_path_ok(const char *p)
{
	if (!*p || *p == '/')
		return false;
	for (const char *c = p; c;) {
		const char *end = strchr(c, '/');
		size_t len = end ? (size_t)(end - c) : strlen(c);
		if (len == 0 || (len == 1 && c[0] == '.') ||
		    (len == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c = end ? end + 1 : NULL;
	}
	return true;
}

static int get_ids(struct json_object *o, mode_t *mode, uid_t *uid, gid_t *gid)
{
	struct json_object *v;
	int m, u, g, r;

	if (!json_object_object_get_ex(o, "mode", &v) || (r = get_int(v, 0, 0177777, &m)) < 0 ||
	    !json_object_object_get_ex(o, "uid", &v) || (r = get_int(v, 0, INT32_MAX, &u)) < 0 ||
	    !json_object_object_get_ex(o, "gid", &v) || (r = get_int(v, 0, INT32_MAX, &g)) < 0)
		return -EINVAL;
	*mode = (mode_t)m;
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return 0;
}

static int get_tree_entry(struct json_object *o, struct snapshot_tree_entry *e)
{
	struct json_object *v;
	size_t want = 4;
	int r;

	if (!json_object_is_type(o, json_type_object) ||
	    get_ids(o, &e->mode, &e->uid, &e->gid) < 0 ||
	    !json_object_object_get_ex(o, "path", &v) || (r = get_str(v, &e->path)) < 0 ||
	    !tree_path_ok(e->path))
		return -EINVAL;
	switch (e->mode & S_IFMT) {
	case S_IFDIR:
	case S_IFIFO:
		break;
	case S_IFLNK:
		if (!json_object_object_get_ex(o, "target", &v) || get_str(v, &e->target) < 0 ||
		    !*e->target)
			return -EINVAL;
		want++;
		break;
	case S_IFCHR:
	case S_IFBLK: {
		int maj, min;
		if (!json_object_object_get_ex(o, "major", &v) || get_int(v, 0, 4095, &maj) < 0 ||
		    !json_object_object_get_ex(o, "minor", &v) || get_int(v, 0, 1048575, &min) < 0)
			return -EINVAL;
		e->major = (unsigned)maj;
		e->minor = (unsigned)min;
		want += 2;
		break;
	}
	default:
		return -EINVAL;
	}
	return (size_t)json_object_object_length(o) == want ? 0 : -EINVAL; /* no unknown key */
}

int snapshot_tree_from_json(struct json_object *v, struct snapshot_tree *ret)
{
	struct snapshot_tree t = {0};
	struct json_object *d, *es;
	size_t n;
	int r = -EINVAL;

	if (!json_object_is_type(v, json_type_object) || json_object_object_length(v) != 5 ||
	    !json_object_object_get_ex(v, "destination", &d) ||
	    !json_object_object_get_ex(v, "entries", &es) ||
	    !json_object_is_type(es, json_type_array) || get_ids(v, &t.mode, &t.uid, &t.gid) < 0 ||
	    !S_ISDIR(t.mode) || (r = get_str(d, &t.destination)) < 0 || t.destination[0] != '/') {
		snapshot_tree_done(&t);
		return r < 0 ? r : -EINVAL;
	}
	n = json_object_array_length(es);
	if (n > SNAPSHOT_TREE_MAX_ENTRIES || !(t.entries = calloc(n + 1, sizeof(*t.entries)))) {
		snapshot_tree_done(&t);
		return n > SNAPSHOT_TREE_MAX_ENTRIES ? -E2BIG : -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		t.n_entries++;
		if ((r = get_tree_entry(json_object_array_get_idx(es, i), &t.entries[i])) < 0) {
			snapshot_tree_done(&t);
			return r;
		}
	}
	*ret = t;
	return 0;
}

struct json_object *snapshot_tree_to_json(const struct snapshot_tree *t)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	struct json_object *es = json_object_new_array();

	if (!o || !es) {
		json_object_put(es);
		return NULL;
	}
	json_object_object_add(o, "destination", json_object_new_string(t->destination));
	json_object_object_add(o, "mode", json_object_new_int((int)t->mode));
	json_object_object_add(o, "uid", json_object_new_int64(t->uid));
	json_object_object_add(o, "gid", json_object_new_int64(t->gid));
	json_object_object_add(o, "entries", es);
	for (size_t i = 0; i < t->n_entries; i++) {
		const struct snapshot_tree_entry *e = &t->entries[i];
		struct json_object *j = json_object_new_object();
		if (!j)
			return NULL;
		json_object_array_add(es, j);
		json_object_object_add(j, "path", json_object_new_string(e->path));
		json_object_object_add(j, "mode", json_object_new_int((int)e->mode));
		json_object_object_add(j, "uid", json_object_new_int64(e->uid));
		json_object_object_add(j, "gid", json_object_new_int64(e->gid));
		if (S_ISLNK(e->mode))
			json_object_object_add(j, "target", json_object_new_string(e->target));
		if (S_ISCHR(e->mode) || S_ISBLK(e->mode)) {
			json_object_object_add(j, "major", json_object_new_int((int)e->major));
			json_object_object_add(j, "minor", json_object_new_int((int)e->minor));
		}
	}
	return TAKE_PTR(o);
}

static int get_trees(struct json_object *v, struct snapshot_meta *m)
{
	size_t n;

	if (!json_object_is_type(v, json_type_array) || m->trees)
		return -EINVAL;
	n = json_object_array_length(v);
	if (n > META_MAX_MOUNTS)
		return -E2BIG;
	if (!(m->trees = calloc(n + 1, sizeof(*m->trees))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int r = snapshot_tree_from_json(json_object_array_get_idx(v, i), &m->trees[i]);
		if (r < 0)
			return r;
		m->n_trees++;
	}
	return 0;
}

enum {
	SEEN_VERSION = 1 << 0,
	SEEN_ID = 1 << 1,
	SEEN_CREATED = 1 << 2,
	SEEN_ROOTFS = 1 << 3,
	SEEN_CRIU = 1 << 4,
	SEEN_STDIO = 1 << 5,
	SEEN_CONFIG = 1 << 6,
	SEEN_REQUIRED = (1 << 7) - 1,
};

static int parse_key(const char *key, struct json_object *v, struct snapshot_meta *m,
		     unsigned *seen)
{
	if (strcmp(key, "version") == 0) {
		*seen |= SEEN_VERSION;
		return get_int(v, SNAPSHOT_META_VERSION, SNAPSHOT_META_VERSION, &m->version);
	}
	if (strcmp(key, "id") == 0) {
		*seen |= SEEN_ID;
		return get_str(v, &m->id);
	}
	if (strcmp(key, "created") == 0) {
		*seen |= SEEN_CREATED;
		return get_str(v, &m->created);
	}
	if (strcmp(key, "rootfs") == 0) {
		*seen |= SEEN_ROOTFS;
		return get_str(v, &m->rootfs);
	}
	if (strcmp(key, "criuVersion") == 0) {
		*seen |= SEEN_CRIU;
		return get_int(v, 0, 1000000, &m->criu_version);
	}
	if (strcmp(key, "stdio") == 0) {
		*seen |= SEEN_STDIO;
		return get_stdio(v, m);
	}
	if (strcmp(key, "externalMounts") == 0)
		return get_mounts(v, m);
	if (strcmp(key, "cudaPids") == 0)
		return get_cuda_pids(v, m);
	if (strcmp(key, "tmpfsTrees") == 0)
		return get_trees(v, m);
	if (strcmp(key, "mappedFiles") == 0)
		return m->mapped ? -EINVAL
				 : snapshot_mapped_files_from_json(v, &m->mapped, &m->n_mapped);
	if (strcmp(key, "netns") == 0) {
		int r = get_str(v, &m->netns);
		if (r == 0 && strcmp(m->netns, SNAPSHOT_NETNS_LO_UP) != 0 &&
		    strcmp(m->netns, SNAPSHOT_NETNS_LO_DOWN) != 0 &&
		    strcmp(m->netns, SNAPSHOT_NETNS_JOINED) != 0)
			r = -EINVAL;
		return r;
	}
	if (strcmp(key, "leaveRunning") == 0) {
		if (!json_object_is_type(v, json_type_boolean))
			return -EINVAL;
		m->leave_running = json_object_get_boolean(v);
		return 0;
	}
	if (strcmp(key, "config") == 0) {
		*seen |= SEEN_CONFIG;
		if (!json_object_is_type(v, json_type_object) || m->config)
			return -EINVAL;
		m->config = json_object_get(v);
		return 0;
	}
	return -EINVAL;
}

int snapshot_meta_parse(const char *buf, size_t len, struct snapshot_meta **ret)
{
	_cleanup_json_ struct json_object *o = NULL;
	_cleanup_(snapshot_meta_freep) struct snapshot_meta *m = NULL;
	unsigned seen = 0;
	int r;

	if (len > META_MAX_SIZE)
		return -E2BIG;
	if ((r = json_parse(buf, len, &o)) < 0)
		return r;
	if (!json_object_is_type(o, json_type_object))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	json_object_object_foreach(o, key, v)
	{
		if (!v)
			return -EINVAL;
		if ((r = parse_key(key, v, m, &seen)) < 0)
			return r;
	}
	if ((seen & SEEN_REQUIRED) != SEEN_REQUIRED || !m->id[0] || m->rootfs[0] != '/')
		return -EINVAL;
	if (!m->ext_mounts && !(m->ext_mounts = calloc(1, sizeof(char *))))
		return -ENOMEM;
	*ret = TAKE_PTR(m);
	return 0;
}

int snapshot_meta_read(int images_fd, struct snapshot_meta **ret)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int fd = -EBADF;
	struct stat st;
	size_t len;
	int r;

	fd = openat(images_fd, SNAPSHOT_META_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -EPERM : -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EPERM;
	if ((r = read_fd_all(fd, META_MAX_SIZE, &buf, &len)) < 0)
		return r;
	return snapshot_meta_parse(buf, len, ret);
}

int snapshot_origin_digest(int images_fd, char **ret)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int fd = -EBADF;
	_cleanup_json_ struct json_object *o = NULL;
	struct json_object *v;
	size_t len;
	int r;

	fd =
	    openat(images_fd, SNAPSHOT_ORIGIN_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if ((r = read_fd_all(fd, 65536, &buf, &len)) < 0 || (r = json_parse(buf, len, &o)) < 0)
		return r;
	if (!json_object_object_get_ex(o, "digest", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strncmp(json_object_get_string(v), "sha256:", 7) != 0 ||
	    json_object_get_string_len(v) != 7 + 64)
		return -EINVAL;
	*ret = strdup(json_object_get_string(v));
	return *ret ? 0 : -ENOMEM;
}

int snapshot_images_check(int images_fd, char **ret_name)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd;

	if ((fd = openat(images_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -errno;
	if (!(d = fdopendir(fd))) {
		safe_close(fd);
		return -errno;
	}
	while ((errno = 0, de = readdir(d))) {
		struct stat st;
		bool ok;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(images_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		ok = (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) &&
		     !(st.st_mode & (S_ISUID | S_ISGID));
		/* CRIU's link to the images an incremental dump builds on */
		if (S_ISLNK(st.st_mode) && strcmp(de->d_name, "parent") == 0)
			ok = fstatat(images_fd, de->d_name, &st, 0) == 0 && S_ISDIR(st.st_mode);
		if (!ok) {
			*ret_name = strdup(de->d_name);
			return *ret_name ? -EPERM : -ENOMEM;
		}
	}
	return errno ? -errno : 0;
}

int snapshot_meta_write(int images_fd, const struct snapshot_meta *m)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	struct json_object *stdio, *mounts;
	const char *s;

	if (!o || !m->id || !m->created || !m->rootfs || !m->config)
		return -EINVAL;
	json_object_object_add(o, "version", json_object_new_int(SNAPSHOT_META_VERSION));
	json_object_object_add(o, "id", json_object_new_string(m->id));
	json_object_object_add(o, "created", json_object_new_string(m->created));
	json_object_object_add(o, "rootfs", json_object_new_string(m->rootfs));
	json_object_object_add(o, "criuVersion", json_object_new_int(m->criu_version));
	json_object_object_add(o, "leaveRunning", json_object_new_boolean(m->leave_running));
	stdio = json_object_new_array();
	for (int i = 0; i < 3; i++)
		json_object_array_add(stdio,
				      m->stdio[i] ? json_object_new_string(m->stdio[i]) : NULL);
	json_object_object_add(o, "stdio", stdio);
	mounts = json_object_new_array();
	for (char **p = m->ext_mounts; p && *p; p++)
		json_object_array_add(mounts, json_object_new_string(*p));
	json_object_object_add(o, "externalMounts", mounts);
	if (m->n_cuda_pids) {
		struct json_object *cuda = json_object_new_array();
		for (size_t i = 0; i < m->n_cuda_pids; i++)
			json_object_array_add(cuda, json_object_new_int(m->cuda_pids[i]));
		json_object_object_add(o, "cudaPids", cuda);
	}
	if (m->netns)
		json_object_object_add(o, "netns", json_object_new_string(m->netns));
	if (m->n_trees) {
		struct json_object *trees = json_object_new_array();
		for (size_t i = 0; trees && i < m->n_trees; i++) {
			struct json_object *t = snapshot_tree_to_json(&m->trees[i]);
			if (!t) {
				json_object_put(trees);
				return -ENOMEM;
			}
			json_object_array_add(trees, t);
		}
		if (!trees)
			return -ENOMEM;
		json_object_object_add(o, "tmpfsTrees", trees);
	}
	if (m->n_mapped) {
		struct json_object *mapped = snapshot_mapped_files_to_json(m->mapped, m->n_mapped);
		if (!mapped)
			return -ENOMEM;
		json_object_object_add(o, "mappedFiles", mapped);
	}
	json_object_object_add(o, "config", json_object_get(m->config));
	s = json_object_to_json_string_ext(o,
					   JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	return write_file_atomic_at(images_fd, SNAPSHOT_META_FILE, s, strlen(s), 0600, false);
}
