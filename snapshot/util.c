/* SPDX-License-Identifier: Apache-2.0 */
/* Option names and CRIU log reading. */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "snapshot-internal.h"

int snapshot_cg_mode_from_string(const char *s, enum snapshot_cg_mode *ret)
{
	static const struct {
		const char *name;
		enum snapshot_cg_mode mode;
	} modes[] = {
	    {"soft", SNAPSHOT_CG_SOFT},
	    {"full", SNAPSHOT_CG_FULL},
	    {"strict", SNAPSHOT_CG_STRICT},
	    {"ignore", SNAPSHOT_CG_IGNORE},
	};

	for (size_t i = 0; s && i < ELEMENTSOF(modes); i++)
		if (strcmp(s, modes[i].name) == 0) {
			*ret = modes[i].mode;
			return 0;
		}
	return -EINVAL;
}

int snapshot_ns_from_string(const char *s, int *ret)
{
	static const struct {
		const char *name;
		int flag;
	} names[] = {
	    {"network", CLONE_NEWNET}, {"net", CLONE_NEWNET},	    {"ipc", CLONE_NEWIPC},
	    {"uts", CLONE_NEWUTS},     {"mount", CLONE_NEWNS},	    {"mnt", CLONE_NEWNS},
	    {"pid", CLONE_NEWPID},     {"cgroup", CLONE_NEWCGROUP}, {"user", CLONE_NEWUSER},
	};

	for (size_t i = 0; s && i < ELEMENTSOF(names); i++)
		if (strcmp(s, names[i].name) == 0) {
			*ret = names[i].flag;
			return 0;
		}
	return -EINVAL;
}

char *snapshot_criu_error(int work_fd, const char *log_file)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	char *last = NULL;

	if (read_file_at(work_fd, log_file, 64u << 20, &buf, &len) < 0)
		return NULL;
	for (char *line = buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		/* the first error is the cause; later ones say what failed because of it */
		/* without CAP_SYS_RESOURCE criu cannot raise its own fd limit; it goes on */
		if (strstr(line, "RLIMIT_NOFILE for self"))
			continue;
		if (strstr(line, "Error (") || strstr(line, "BUG at")) {
			last = line;
			break;
		}
	}
	if (!last)
		return NULL;
	/* "(00.012345) Error (criu/mount.c:123): text": keep what follows the location */
	char *colon = strstr(last, "): ");
	return strdup(colon ? colon + 3 : last);
}
