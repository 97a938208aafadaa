/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <net/if.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "container-snapshot.h"

void ext_mounts_done(struct ext_mounts *m)
{
	free(m->pairs);
	strv_free(m->keys);
	m->pairs = NULL;
	m->keys = NULL;
	m->n = 0;
}

int ext_mounts_add(struct ext_mounts *m, const char *key, const char *value)
{
	struct snapshot_pair *p = realloc(m->pairs, (m->n + 2) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	m->pairs = p;
	m->pairs[m->n++] = (struct snapshot_pair){.key = key, .value = value};
	m->pairs[m->n] = (struct snapshot_pair){0};
	return 0;
}

/* PATH is the root of an empty read-only tmpfs mount. */
static bool is_empty_ro_tmpfs(const char *path)
{
	_cleanup_free_ char *parent = path_join(path, "..");
	struct stat st, pst;
	struct statfs sf;

	if (!parent || lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) || stat(parent, &pst) < 0 ||
	    st.st_dev == pst.st_dev || statfs(path, &sf) < 0 || sf.f_type != TMPFS_MAGIC ||
	    !(sf.f_flags & ST_RDONLY))
		return false;
	_cleanup_closedir_ DIR *d = opendir(path);
	struct dirent *de;
	if (!d)
		return false;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			return false;
	return true;
}

int ext_mounts_add_masked(const struct spec *s, pid_t pid, struct ext_mounts *m)
{
	for (char **p = s->masked_paths; p && *p; p++) {
		char path[PATH_MAX];
		int r;

		if (**p != '/' ||
		    snprintf(path, sizeof(path), "/proc/%d/root%s", pid, *p) >= (int)sizeof(path))
			continue;
		if (is_empty_ro_tmpfs(path) && (r = ext_mounts_add(m, *p, SNAPSHOT_MASKED_KEY)) < 0)
			return r;
	}
	return 0;
}

int ext_mounts_from_spec(const struct spec *s, bool restore, struct ext_mounts *ret)
{
	struct ext_mounts m = {0};

	m.pairs = calloc(s->n_mounts + 1, sizeof(*m.pairs));
	m.keys = calloc(s->n_mounts + 1, sizeof(char *));
	if (!m.pairs || !m.keys) {
		ext_mounts_done(&m);
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct spec_mount *sm = &s->mounts[i];

		if (!(sm->kind & MOUNT_BIND) || !sm->source)
			continue;
		m.keys[m.n] = strdup(sm->destination);
		if (!m.keys[m.n]) {
			ext_mounts_done(&m);
			return -ENOMEM;
		}
		m.pairs[m.n].key = sm->destination;
		m.pairs[m.n].value = restore ? sm->source : sm->destination;
		m.n++;
	}
	*ret = m;
	return 0;
}

/* The flags of lo in the network namespace NETNS (an fd), or -errno. */
static int loopback_flags(int netns)
{
	_cleanup_close_ int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	struct ifreq ifr = {0};
	int r = 0;

	if (self < 0)
		return -errno;
	if (setns(netns, CLONE_NEWNET) < 0)
		return -errno;
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &ifr) < 0)
		r = -errno;
	if (sk >= 0)
		close(sk);
	if (setns(self, CLONE_NEWNET) < 0) {
		/* we would go on in the container's network: nothing sane is left to do */
		log_error_errno(-errno, "return to our network namespace: %m");
		abort();
	}
	return r < 0 ? r : ifr.ifr_flags;
}

int netns_loopback_only(const struct spec *s, pid_t pid, const char **ret_state,
			unsigned long long *ret_ino)
{
	const struct spec_namespace *ns = spec_find_namespace(s, CLONE_NEWNET);
	char path[64];
	_cleanup_free_ char *dev = NULL;
	struct stat st, self;
	size_t len;
	int r;

	*ret_state = NULL;
	*ret_ino = 0;
	if (!ns || ns->path || spec_find_namespace(s, CLONE_NEWUSER))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat(path, &st) < 0 || stat("/proc/self/ns/net", &self) < 0)
		return -errno;
	if (st.st_ino == self.st_ino)
		return 0;
	/* "Inter-| Receive...", " face |bytes...", then one "NAME: counters" line each */
	snprintf(path, sizeof(path), "/proc/%d/net/dev", pid);
	if ((r = read_file_at(AT_FDCWD, path, 1 << 20, &dev, &len)) < 0)
		return r;
	char *line = dev, *save = NULL;
	int n = 0;
	for (char *l = strtok_r(line, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (n++ < 2)
			continue;
		l += strspn(l, " ");
		if (strncmp(l, "lo:", 3) != 0)
			return 0;
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if ((r = loopback_flags(fd)) < 0)
		return r;
	*ret_state = (r & IFF_UP) ? SNAPSHOT_NETNS_LO_UP : SNAPSHOT_NETNS_LO_DOWN;
	*ret_ino = (unsigned long long)st.st_ino;
	return 0;
}

int netns_new_loopback(bool up, int *ret_fd)
{
	_cleanup_close_ int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int fd = -EBADF, r = 0;

	if (self < 0)
		return -errno;
	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		r = -errno;
	if (r == 0 && up) {
		struct ifreq ifr = {0};
		int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
		if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &ifr) < 0)
			r = -errno;
		ifr.ifr_flags |= IFF_UP;
		if (r == 0 && ioctl(sk, SIOCSIFFLAGS, &ifr) < 0)
			r = -errno;
		if (sk >= 0)
			close(sk);
	}
	if (setns(self, CLONE_NEWNET) < 0) {
		log_error_errno(-errno, "return to our network namespace: %m");
		abort();
	}
	if (r < 0) {
		safe_close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}
