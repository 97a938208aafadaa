/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /proc/PID/mountinfo, one reader for everyone (proc(5)):
 *
 *   ID PARENT MAJ:MIN ROOT MOUNT_POINT MOUNT_OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS
 *
 * Lines of any length; ROOT, MOUNT_POINT and SOURCE have the kernel's octal escapes (\040 for
 * a space, \011, \012, \134) decoded; the optional fields ("shared:1 master:2") are kept as
 * one string.
 */
#pragma once

#include <stdbool.h>

struct mountinfo_entry {
	int mount_id;
	int parent_id;
	unsigned major, minor;
	const char *root;
	const char *mount_point;
	const char *mount_options; /* per-mount: "rw,nosuid,relatime" */
	const char *optional;	   /* "" when there is none */
	const char *fstype;
	const char *source;
	const char *super_options;
};

/* Return 0 to go on, > 0 to stop (mountinfo_foreach returns it), < 0 to stop with an error. */
typedef int (*mountinfo_fn)(const struct mountinfo_entry *e, void *userdata);

/* Call FN for each entry of PATH ("/proc/self/mountinfo", "/proc/PID/mountinfo"), in order
 * (a parent before its children). -EBADMSG for a line that is not a mountinfo line. */
int mountinfo_foreach(const char *path, mountinfo_fn fn, void *userdata);
/* Split one LINE (no newline), decoding in place; the entry points into LINE. */
int mountinfo_parse_line(char *line, struct mountinfo_entry *ret);
/* Whether the comma-separated OPTIONS has OPT ("ro" in "ro,nosuid"). */
bool mountinfo_has_option(const char *options, const char *opt);
