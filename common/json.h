/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JSON helpers over json-c. Getters return 0 and set *ret, -ENOENT when the key is
 * absent (or null), -EINVAL when it has the wrong type or range, -EILSEQ for a string that
 * holds a NUL (a C string cannot); *ret is untouched on error. An integer literal beyond
 * 64 bits is out of range for every integer getter, never clamped.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

static inline void json_putp(struct json_object **o)
{
	if (*o) {
		json_object_put(*o);
		*o = NULL;
	}
}
#define _cleanup_json_ __attribute__((cleanup(json_putp)))

/* Quote and escape S as a JSON string literal; NULL on OOM. */
char *json_escape(const char *s);

/*
 * Parse exactly one JSON value from BUF[LEN]; trailing non-space or truncation is -EINVAL,
 * and so are single-quoted strings and an object key with a \u0000 in it.
 */
int json_parse(const char *buf, size_t len, struct json_object **ret);
/* Read and parse a file (relative to DIRFD); -errno of the read, or -EINVAL for bad JSON. */
int json_parse_file_at(int dirfd, const char *path, struct json_object **ret);

int json_get_object(struct json_object *o, const char *key, struct json_object **ret);
int json_get_array(struct json_object *o, const char *key, struct json_object **ret);
int json_get_string(struct json_object *o, const char *key, const char **ret);
/* V itself as a string: -EINVAL if it is none, -EILSEQ if it holds a NUL. */
int json_as_string(struct json_object *v, const char **ret);
int json_get_bool(struct json_object *o, const char *key, bool *ret);
int json_get_int64(struct json_object *o, const char *key, int64_t *ret);
int json_get_uint64(struct json_object *o, const char *key, uint64_t *ret);
int json_get_int(struct json_object *o, const char *key, int *ret);
int json_get_uint32(struct json_object *o, const char *key, uint32_t *ret);

/*
 * Whether object key KEY names the struct field NAME (ASCII) as Go's encoding/json matches
 * them, which runc decodes config.json with: letters in either case, and the two non-ASCII
 * letters that Unicode folds onto ASCII ones, U+212A KELVIN SIGN as k and U+017F LONG S as s.
 */
bool json_key_matches_field(const char *key, const char *name);
/* Make V (a reference, taken over) O's value for field NAME, under that key alone: every key
 * that matches NAME goes. 0, or -ENOMEM (V is put). */
int json_object_set_field(struct json_object *o, const char *name, struct json_object *v);

/* Copy a JSON array of strings into a NULL-terminated vector (freed with strv_free); a string
 * with a NUL in it is -EILSEQ. */
int json_to_strv(struct json_object *array, char ***ret);

/* Serialise compactly; the string is owned by O. */
const char *json_to_string(struct json_object *o);
