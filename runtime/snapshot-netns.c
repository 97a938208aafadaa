/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A network namespace that holds only a loopback is dumped as external and made anew at
 * restore (CRIU would run ip and iptables a dozen times to restore it).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/json.h"
#include "container-snapshot.h"

/* The flags of lo in our network namespace, made up first when UP: the flags, or -errno. */
static int loopback_here(bool up)
{
	_cleanup_close_ int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {0};

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (sk < 0 || ioctl(sk, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	if (up && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(sk, SIOCSIFFLAGS, &ifr) < 0)
			return -errno;
	}
	return ifr.ifr_flags;
}

/* Back to our network namespace SELF, which we left for a moment. */
static void return_to_netns(int self)
{
	if (setns(self, CLONE_NEWNET) < 0) {
		/* we would go on in the container's network: nothing sane is left to do */
		log_error_errno(-errno, "return to our network namespace: %m");
		abort();
	}
}

/* The flags of lo in the network namespace NETNS (an fd), or -errno. */
static int loopback_flags(int netns)
{
	_cleanup_close_ int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int r;

	if (self < 0)
		return -errno;
	if (setns(netns, CLONE_NEWNET) < 0)
		return -errno;
	r = loopback_here(false);
	return_to_netns(self);
	return r;
}

static int netns_loopback_only(const struct spec *s, pid_t pid, const char **ret_state,
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

int netns_external(const struct spec *s, pid_t pid, const char **ret_state,
		   unsigned long long *ret_ino)
{
	const struct spec_namespace *ns = spec_find_namespace(s, CLONE_NEWNET);
	struct stat joined, st;
	char path[64];

	if (!ns || !ns->path)
		return netns_loopback_only(s, pid, ret_state, ret_ino);
	*ret_state = NULL;
	*ret_ino = 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat(path, &st) < 0 || stat(ns->path, &joined) < 0)
		return -errno;
	/* the container's is still the one it joined */
	if (st.st_dev != joined.st_dev || st.st_ino != joined.st_ino)
		return 0;
	*ret_state = SNAPSHOT_NETNS_JOINED;
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
	if (r == 0 && up)
		r = loopback_here(true);
	return_to_netns(self);
	if (r < 0) {
		safe_close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}
