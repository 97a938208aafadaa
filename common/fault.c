/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "log.h"

#define MAX_POINTS 32

static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;

static struct {
	bool parsed;
	char point[64];
	unsigned long nth;
	const char *trace;
	struct {
		const char *name;
		unsigned long count;
	} seen[MAX_POINTS];
} fault;

static void fault_parse(void)
{
	const char *s = getenv("BRISK_FAULT");

	fault.parsed = true;
	fault.trace = getenv("BRISK_FAULT_TRACE");
	fault.nth = 1;
	if (!s || !*s)
		return;
	size_t n = strcspn(s, ":");
	if (n >= sizeof(fault.point)) {
		log_warning("BRISK_FAULT: point name '%.*s' is too long, ignored", (int)n, s);
		return;
	}
	memcpy(fault.point, s, n);
	fault.point[n] = '\0';
	if (s[n] == ':') {
		char *end;

		errno = 0;
		fault.nth = strtoul(s + n + 1, &end, 10);
		if (errno || *end || end == s + n + 1 || fault.nth == 0) {
			log_warning("BRISK_FAULT: bad count in '%s' (want POINT or POINT:N, N >= "
				    "1), ignored",
				    s);
			fault.point[0] = '\0';
		}
	}
}

void fault_reset(void)
{
	pthread_mutex_lock(&fault_lock);
	memset(&fault, 0, sizeof(fault));
	pthread_mutex_unlock(&fault_lock);
}

/* How many times POINT has been passed in this process, this pass included. */
static unsigned long fault_count(const char *point)
{
	for (size_t i = 0; i < MAX_POINTS; i++) {
		if (!fault.seen[i].name) {
			fault.seen[i].name = point;
			return ++fault.seen[i].count;
		}
		if (strcmp(fault.seen[i].name, point) == 0)
			return ++fault.seen[i].count;
	}
	return 0;
}

bool fault_hit(const char *point)
{
	unsigned long n;

	pthread_mutex_lock(&fault_lock);
	if (!fault.parsed)
		fault_parse();
	n = fault.trace || fault.point[0] ? fault_count(point) : 0;
	pthread_mutex_unlock(&fault_lock);
	if (n == 0)
		return false;
	if (fault.trace) {
		int fd = open(fault.trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

		if (fd >= 0) {
			dprintf(fd, "%s %lu\n", point, n);
			close(fd);
		}
	}
	if (n == fault.nth && strcmp(point, fault.point) == 0) {
		log_debug("fault injected at %s #%lu", point, n);
		return true;
	}
	return false;
}
