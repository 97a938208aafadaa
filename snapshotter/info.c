/* SPDX-License-Identifier: Apache-2.0 */
/* Checking keys and labels from the wire, and building Info and Mount messages (info.h). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "info.h"
#include "common/json.h"

/* labels_from_entries() reads every map entry as an Info one */
_Static_assert(offsetof(Snap__PrepareSnapshotRequest__LabelsEntry, key) ==
		       offsetof(Snap__Info__LabelsEntry, key) &&
		   offsetof(Snap__PrepareSnapshotRequest__LabelsEntry, value) ==
		       offsetof(Snap__Info__LabelsEntry, value) &&
		   offsetof(Snap__CommitSnapshotRequest__LabelsEntry, key) ==
		       offsetof(Snap__Info__LabelsEntry, key) &&
		   offsetof(Snap__CommitSnapshotRequest__LabelsEntry, value) ==
		       offsetof(Snap__Info__LabelsEntry, value),
	       "map entries differ in layout");

/* strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF */
static bool utf8_valid(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		unsigned n, c = *s;

		if (c < 0x80) {
			s++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c >= 0xe0 && c <= 0xef)
			n = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			n = 3;
		else
			return false;
		c &= 0x3f >> n;
		for (unsigned i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			c = c << 6 | (s[i] & 0x3f);
		}
		if ((n == 2 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) ||
		    (n == 3 && (c < 0x10000 || c > 0x10ffff)))
			return false;
		s += n + 1;
	}
	return true;
}

int check_key(const char *what, const char *key, char **ret_err)
{
	const char *why = NULL;

	if (!key || !*key)
		why = "is empty";
	else if (strlen(key) > SNAP_KEY_MAX)
		why = "is longer than 4096 bytes";
	else if (!utf8_valid(key))
		why = "is not UTF-8";
	if (!why)
		return 0;
	if (asprintf(ret_err, "%s %s", what, why) < 0)
		*ret_err = NULL;
	return -EINVAL;
}

static int bad_label(const char *key, const char *why, char **ret_err)
{
	if (asprintf(ret_err, "label '%.64s%s' %s", key, strlen(key) > 64 ? "..." : "", why) < 0)
		*ret_err = NULL;
	return -EINVAL;
}

int labels_from_entries(void *const *entries, size_t n, struct json_object **ret, char **ret_err)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();

	if (!o)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const Snap__Info__LabelsEntry *e = entries[i];
		const char *k = e->key ? e->key : "", *v = e->value ? e->value : "";

		if (!*k)
			return bad_label(k, "has an empty name", ret_err);
		if (strlen(k) + strlen(v) > SNAP_LABEL_MAX)
			return bad_label(k, "is longer than 4096 bytes, name and value together",
					 ret_err);
		if (!utf8_valid(k) || !utf8_valid(v))
			return bad_label(k, "is not UTF-8", ret_err);
		if (json_object_object_add(o, k, json_object_new_string(v)) < 0)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(o);
	return 0;
}

static Snap__Timestamp *timestamp_new(const struct timespec *ts)
{
	Snap__Timestamp *t = malloc(sizeof(*t));

	if (!t)
		return NULL;
	snap__timestamp__init(t);
	t->seconds = ts->tv_sec;
	t->nanos = (int32_t)ts->tv_nsec;
	return t;
}

void info_done(Snap__Info *info)
{
	free(info->created_at);
	free(info->updated_at);
	for (size_t i = 0; i < info->n_labels; i++)
		free(info->labels[i]);
	free(info->labels);
	snap__info__init(info);
}

int info_build(const struct snap *snap, Snap__Info *ret)
{
	Snap__Info info = SNAP__INFO__INIT;
	size_t n = (size_t)json_object_object_length(snap->labels);

	info.name = snap->key;
	info.parent = snap->parent ? snap->parent : (char *)"";
	info.kind = (Snap__Kind)snap->kind;
	info.created_at = timestamp_new(&snap->created);
	info.updated_at = timestamp_new(&snap->updated);
	info.labels = calloc(n ? n : 1, sizeof(*info.labels));
	if (!info.created_at || !info.updated_at || !info.labels) {
		info_done(&info);
		return -ENOMEM;
	}
	json_object_object_foreach(snap->labels, k, v)
	{
		Snap__Info__LabelsEntry *e = malloc(sizeof(*e));

		if (!e) {
			info_done(&info);
			return -ENOMEM;
		}
		snap__info__labels_entry__init(e);
		e->key = k;
		e->value = (char *)json_object_get_string(v);
		info.labels[info.n_labels++] = e;
	}
	*ret = info;
	return 0;
}

void mount_message(const struct layout_mount *m, Snap__Mount *ret)
{
	snap__mount__init(ret);
	ret->type = (char *)m->type;
	ret->source = m->source;
	ret->target = (char *)"";
	for (ret->n_options = 0; m->options[ret->n_options]; ret->n_options++)
		;
	ret->options = m->options;
}
