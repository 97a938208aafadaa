/* SPDX-License-Identifier: Apache-2.0 */
/* process.capabilities: parse in the parent, apply with libcap in the child. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "common/cleanup.h"
#include "common/json.h"
#include "common/log.h"
#include "caps.h"

/* Capability numbers are bits of a 64-bit mask (the kernel has 41 in 6.x). */
#define CAPS_MAX 64

struct caps {
	uint64_t mask[_CAPS_SET_MAX];
	cap_t proc;   /* effective, permitted, inheritable, ready for cap_set_proc() */
	int last_cap; /* the kernel's highest capability */
};

static const char *const set_keys[_CAPS_SET_MAX] = {
    [CAPS_BOUNDING] = "bounding",	[CAPS_EFFECTIVE] = "effective",
    [CAPS_INHERITABLE] = "inheritable", [CAPS_PERMITTED] = "permitted",
    [CAPS_AMBIENT] = "ambient",
};

struct caps *caps_free(struct caps *c)
{
	if (!c)
		return NULL;
	if (c->proc)
		cap_free(c->proc);
	free(c);
	return NULL;
}

void caps_freep(struct caps **c)
{
	int saved = errno;

	*c = caps_free(*c);
	errno = saved;
}

unsigned long long caps_get_mask(const struct caps *c, enum caps_set set)
{
	return c && set < _CAPS_SET_MAX ? c->mask[set] : 0;
}

/* "CAP_CHOWN" of capability N, or NULL where libcap has no name for it (it prints a number). */
static char *cap_upper_name(int n)
{
	char *s = cap_to_name(n);
	char *dup;

	if (!s)
		return NULL;
	if (isdigit((unsigned char)s[0])) {
		cap_free(s);
		return NULL;
	}
	dup = strdup(s);
	cap_free(s);
	for (char *p = dup; p && *p; p++)
		*p = (char)toupper((unsigned char)*p);
	return dup;
}

struct name_table {
	char *names[CAPS_MAX];
};

static void name_table_done(struct name_table *t)
{
	for (int i = 0; i < CAPS_MAX; i++)
		free(t->names[i]);
}

/* Exact, upper-case names, as runc matches them. -1: unknown. */
static int lookup(const struct name_table *t, const char *name)
{
	for (int i = 0; i < CAPS_MAX; i++)
		if (t->names[i] && strcmp(t->names[i], name) == 0)
			return i;
	return -1;
}

static int parse_set(struct json_object *o, enum caps_set set, const struct name_table *t,
		     int last_cap, uint64_t *ret)
{
	struct json_object *a;
	uint64_t mask = 0;
	int r;

	r = json_get_array(o, set_keys[set], &a);
	if (r == -ENOENT) {
		*ret = 0;
		return 0;
	}
	if (r < 0)
		return log_error_errno(r, "capabilities: '%s' is not an array", set_keys[set]);
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		const char *name;
		int n;

		if (!json_object_is_type(e, json_type_string))
			return log_error_errno(-EINVAL, "capabilities: '%s' holds a non-string",
					       set_keys[set]);
		name = json_object_get_string(e);
		n = lookup(t, name);
		if (n < 0 || n > last_cap) {
			log_warning("capabilities: ignoring unknown or unavailable capability '%s' "
				    "in '%s'",
				    name, set_keys[set]);
			continue;
		}
		mask |= UINT64_C(1) << n;
	}
	*ret = mask;
	return 0;
}

static int build_proc(struct caps *c)
{
	static const struct {
		enum caps_set set;
		cap_flag_t flag;
	} map[] = {
	    {CAPS_EFFECTIVE, CAP_EFFECTIVE},
	    {CAPS_PERMITTED, CAP_PERMITTED},
	    {CAPS_INHERITABLE, CAP_INHERITABLE},
	};

	c->proc = cap_init();
	if (!c->proc)
		return -ENOMEM;
	for (size_t m = 0; m < ELEMENTSOF(map); m++)
		for (int i = 0; i <= c->last_cap; i++) {
			cap_value_t v = i;

			if (!(c->mask[map[m].set] & (UINT64_C(1) << i)))
				continue;
			if (cap_set_flag(c->proc, map[m].flag, 1, &v, CAP_SET) < 0)
				return negative_errno();
		}
	return 0;
}

static int check_sets(struct caps *c, const struct name_table *t)
{
	uint64_t bad = c->mask[CAPS_EFFECTIVE] & ~c->mask[CAPS_PERMITTED];
	uint64_t raisable = c->mask[CAPS_PERMITTED] & c->mask[CAPS_INHERITABLE];

	for (int i = 0; i <= c->last_cap; i++) {
		uint64_t bit = UINT64_C(1) << i;

		if (bad & bit)
			return log_error_errno(-EINVAL,
					       "capabilities: effective '%s' is not in "
					       "the permitted set",
					       t->names[i]);
		/* The kernel refuses to raise it; runc 1.1 silently leaves it out. */
		if ((c->mask[CAPS_AMBIENT] & bit) && !(raisable & bit)) {
			log_debug("capabilities: ignoring ambient '%s': it is not both permitted "
				  "and inheritable",
				  t->names[i]);
			c->mask[CAPS_AMBIENT] &= ~bit;
		}
	}
	return 0;
}

int caps_parse(struct json_object *process_capabilities, struct caps **ret)
{
	_cleanup_(caps_freep) struct caps *c = NULL;
	struct name_table t = {};
	int r = 0;

	c = calloc(1, sizeof(*c));
	if (!c)
		return log_error_errno(-ENOMEM, "capabilities: %m");
	c->last_cap = (int)cap_max_bits() - 1;
	if (c->last_cap >= CAPS_MAX)
		c->last_cap = CAPS_MAX - 1;

	if (process_capabilities) {
		if (!json_object_is_type(process_capabilities, json_type_object))
			return log_error_errno(-EINVAL, "capabilities: not an object");
		for (int i = 0; i < CAPS_MAX; i++)
			t.names[i] = cap_upper_name(i);
		for (int s = 0; s < _CAPS_SET_MAX && r >= 0; s++)
			r = parse_set(process_capabilities, s, &t, c->last_cap, &c->mask[s]);
		if (r >= 0)
			r = check_sets(c, &t);
		name_table_done(&t);
		if (r < 0)
			return r;
	}
	r = build_proc(c);
	if (r < 0)
		return log_error_errno(r, "capabilities: %m");
	*ret = TAKE_PTR(c);
	return 0;
}

/*
 * Child side, before setuid. Dropping from the bounding set needs CAP_SETPCAP, which the
 * runtime still has here; a capability already absent is left alone, so a runtime without
 * CAP_SETPCAP fails only where it really has something to drop. KEEPCAPS keeps the
 * permitted set across the caller's setuid to a non-zero uid; caps_apply_final() clears it.
 * No allocation, no logging.
 */
int caps_apply_bounding(const struct caps *c)
{
	for (int i = 0; i <= c->last_cap; i++) {
		if (c->mask[CAPS_BOUNDING] & (UINT64_C(1) << i))
			continue;
		if (cap_get_bound(i) <= 0)
			continue;
		if (cap_drop_bound(i) < 0)
			return negative_errno();
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return negative_errno();
	return 0;
}

/*
 * Child side, after setgroups/setgid/setuid. The ambient set goes last: raising needs the
 * capability in the new permitted and inheritable sets. No allocation, no logging.
 */
int caps_apply_final(const struct caps *c)
{
	if (cap_set_proc(c->proc) < 0)
		return negative_errno();
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return negative_errno();
	/* EINVAL: no ambient capabilities (Linux < 4.3); fine while none are asked for. */
	if (cap_reset_ambient() < 0 && (errno != EINVAL || c->mask[CAPS_AMBIENT]))
		return negative_errno();
	for (int i = 0; i <= c->last_cap; i++)
		if ((c->mask[CAPS_AMBIENT] & (UINT64_C(1) << i)) && cap_set_ambient(i, CAP_SET) < 0)
			return negative_errno();
	return 0;
}

void caps_mask_names(unsigned long long mask, char *buf, size_t size)
{
	size_t len = 0;

	if (size == 0)
		return;
	buf[0] = '\0';
	for (int i = 0; i < CAPS_MAX && len < size; i++) {
		_cleanup_free_ char *name = NULL;
		int n;

		if (!(mask & (UINT64_C(1) << i)))
			continue;
		name = cap_upper_name(i);
		if (name)
			n = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", name);
		else
			n = snprintf(buf + len, size - len, "%scapability %d", len ? ", " : "", i);
		if (n < 0 || (size_t)n >= size - len) {
			if (size > 4)
				memcpy(buf + size - 4, "...", 4);
			return;
		}
		len += (size_t)n;
	}
}

int caps_features(struct json_object **ret)
{
	_cleanup_json_ struct json_object *a = json_object_new_array();

	if (!a)
		return -ENOMEM;
	for (int i = 0; i < CAPS_MAX; i++) {
		_cleanup_free_ char *name = cap_upper_name(i);

		if (!name)
			break;
		if (json_object_array_add(a, json_object_new_string(name)) < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(a);
	return 0;
}
