/* SPDX-License-Identifier: Apache-2.0 */
/*
 * process.capabilities of the OCI runtime-spec, applied with libcap. Parsed in the parent;
 * the two apply steps run in the container child between clone and execve and allocate
 * nothing:
 *
 *   caps_apply_bounding()   still as the runtime's uid: drop the bounding set, keep caps
 *                           across the coming setuid
 *   setgroups/setgid/setuid (the caller)
 *   caps_apply_final()      effective, permitted, inheritable, then ambient
 */
#pragma once

#include <stddef.h>
#include <json-c/json.h>

/* The five sets: bounding, effective, inheritable, permitted, ambient. */
struct caps;

/*
 * Parse PROCESS_CAPABILITIES (NULL: every set empty, which is what runc does when
 * process.capabilities is absent). As runc 1.1 does, a name libcap does not know ("CAP_FOO")
 * or that this kernel lacks is ignored with a warning naming it, and so is an ambient
 * capability that is not both permitted and inheritable (the kernel would refuse to raise it).
 * A set that is not an array of strings, and an effective capability that is not permitted,
 * are errors. Logs its errors.
 */
int caps_parse(struct json_object *process_capabilities, struct caps **ret);

/* Drop every bounding-set capability not listed, then set PR_SET_KEEPCAPS. */
int caps_apply_bounding(const struct caps *c);
/* After setuid/setgid: set the effective, permitted and inheritable sets, clear
 * PR_SET_KEEPCAPS, then replace the ambient set. */
int caps_apply_final(const struct caps *c);

struct caps *caps_free(struct caps *c);
void caps_freep(struct caps **c);

/* Sets as masks of capability numbers, for tests and debug output. */
enum caps_set {
	CAPS_BOUNDING,
	CAPS_EFFECTIVE,
	CAPS_INHERITABLE,
	CAPS_PERMITTED,
	CAPS_AMBIENT,
	_CAPS_SET_MAX,
};
unsigned long long caps_get_mask(const struct caps *c, enum caps_set set);

/*
 * The names of the capabilities of MASK ("CAP_SYS_ADMIN, CAP_NET_RAW"; a number where libcap
 * has no name) into BUF, cut short with "..." when it does not fit.
 */
void caps_mask_names(unsigned long long mask, char *buf, size_t size);

/* A JSON array of every capability name known to libcap and this kernel (`features`). */
int caps_features(struct json_object **ret);
