/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "fs.h"
#include "mountinfo.h"

/* Decode the kernel's \ooo escapes in place (show_mountinfo: mangle() of " \t\n\\"). */
static void unescape(char *s)
{
	char *w = s;

	for (const char *r = s; *r;) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') << 6 | (r[2] - '0') << 3 | (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

/* The next space-separated field of *S, NUL-terminated; NULL at the end of the line. */
static char *field(char **s)
{
	char *f = *s, *e;

	if (!f || !*f)
		return NULL;
	e = strchr(f, ' ');
	if (e) {
		*e = '\0';
		*s = e + 1;
	} else {
		*s = NULL;
	}
	return f;
}

int mountinfo_parse_line(char *line, struct mountinfo_entry *ret)
{
	struct mountinfo_entry e = {0};
	char *s = line, *f[6], *opt_start, *opt_end = NULL;
	char end;

	for (size_t i = 0; i < ELEMENTSOF(f); i++)
		if (!(f[i] = field(&s)))
			return -EBADMSG;
	if (sscanf(f[0], "%d%c", &e.mount_id, &end) != 1 ||
	    sscanf(f[1], "%d%c", &e.parent_id, &end) != 1 ||
	    sscanf(f[2], "%u:%u%c", &e.major, &e.minor, &end) != 2)
		return -EBADMSG;
	e.root = f[3];
	e.mount_point = f[4];
	e.mount_options = f[5];
	/* optional fields up to a lone "-" */
	opt_start = s;
	for (;;) {
		char *o = field(&s);
		if (!o)
			return -EBADMSG;
		if (strcmp(o, "-") == 0)
			break;
		if (opt_end)
			opt_end[-1] = ' '; /* rejoin the optional fields into one string */
		opt_end = o + strlen(o) + 1;
	}
	e.optional = opt_end ? opt_start : "";
	if (!(e.fstype = field(&s)) || !(e.source = field(&s)))
		return -EBADMSG;
	e.super_options = s ? s : "";
	unescape(f[3]);
	unescape(f[4]);
	unescape((char *)e.source);
	*ret = e;
	return 0;
}

int mountinfo_foreach(const char *path, mountinfo_fn fn, void *userdata)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		struct mountinfo_entry e;
		int r;

		if (line[n - 1] == '\n')
			line[n - 1] = '\0';
		if ((r = mountinfo_parse_line(line, &e)) < 0)
			return r;
		if ((r = fn(&e, userdata)) != 0)
			return r;
	}
	return ferror(f) ? -EIO : 0;
}

bool mountinfo_has_option(const char *options, const char *opt)
{
	size_t n = strlen(opt);

	for (const char *p = options; p && *p;) {
		const char *c = strchr(p, ',');
		size_t len = c ? (size_t)(c - p) : strlen(p);
		if (len == n && strncmp(p, opt, n) == 0)
			return true;
		p = c ? c + 1 : NULL;
	}
	return false;
}
