/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cleanup.h"
#include "fs.h"
#include "json.h"

char *json_escape(const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 3;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		n += (*p < 0x20 || *p == '"' || *p == '\\') ? 6 : 1;

	char *out = malloc(n), *o = out;
	if (!out)
		return NULL;
	*o++ = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			*o++ = '\\';
			*o++ = '"';
			break;
		case '\\':
			*o++ = '\\';
			*o++ = '\\';
			break;
		case '\n':
			*o++ = '\\';
			*o++ = 'n';
			break;
		case '\t':
			*o++ = '\\';
			*o++ = 't';
			break;
		case '\r':
			*o++ = '\\';
			*o++ = 'r';
			break;
		default:
			if (*p < 0x20) {
				memcpy(o, "\\u00", 4);
				o[4] = hex[*p >> 4];
				o[5] = hex[*p & 15];
				o += 6;
			} else {
				*o++ = (char)*p;
			}
		}
	}
	*o++ = '"';
	*o = '\0';
	return out;
}

/* Whether the integer literal T[N] (an optional '-', then digits) is beyond 64 bits. */
static bool integer_out_of_range(const char *t, size_t n)
{
	bool neg = n > 0 && t[0] == '-';
	const char *limit = neg ? "9223372036854775808" : "18446744073709551615";
	size_t limit_len = strlen(limit);

	if (neg) {
		t++;
		n--;
	}
	while (n > 1 && t[0] == '0') {
		t++;
		n--;
	}
	return n > limit_len || (n == limit_len && memcmp(t, limit, n) > 0);
}

static bool is_number_char(char c)
{
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/*
 * One pass over a JSON text for what json-c gets wrong without a word:
 *  - it takes single-quoted strings, even in strict mode (JSON has none): -EINVAL;
 *  - it cuts an object key at a \u0000 ({"ab\u0000c": 1} has the key "ab"): -EINVAL;
 *  - it clamps an integer beyond 64 bits to INT64_MIN or UINT64_MAX, and 0.16 keeps nothing
 *    that tells a clamped one from the real thing (later versions refuse the whole text in
 *    strict mode, naming nothing). Each such literal is copied to OUT with ".0" after it, so
 *    that it parses as a double: no getter of an integer takes it, and the caller's error
 *    names the field.
 * Returns the number of those literals (each 2 bytes more in OUT), or -EINVAL. OUT, when not
 * NULL, has room for LEN + 2 * that number bytes.
 */
static ssize_t scan_text(const char *buf, size_t len, char *out)
{
	size_t o = 0;
	ssize_t n_big = 0;

#define COPY(p, n)                                 \
	do {                                       \
		if (out)                           \
			memcpy(out + o, (p), (n)); \
		o += (n);                          \
	} while (0)

	for (size_t i = 0; i < len;) {
		if (buf[i] == '\'')
			return -EINVAL;
		if (buf[i] == '"') {
			size_t start = i++;
			bool nul = false;

			while (i < len && buf[i] != '"') {
				if (buf[i] == '\\' && i + 1 < len) {
					if (buf[i + 1] == 'u' && i + 6 <= len &&
					    memcmp(buf + i + 2, "0000", 4) == 0)
						nul = true;
					i++;
				}
				i++;
			}
			if (i < len)
				i++;
			if (nul) {
				size_t k = i;

				while (k < len && strchr(" \t\r\n", buf[k]))
					k++;
				if (k < len && buf[k] == ':')
					return -EINVAL;
			}
			COPY(buf + start, i - start);
		} else if (buf[i] == '-' || (buf[i] >= '0' && buf[i] <= '9')) {
			size_t start = i;
			bool integer = true;

			while (i < len && is_number_char(buf[i])) {
				if (buf[i] == '.' || buf[i] == 'e' || buf[i] == 'E')
					integer = false;
				i++;
			}
			COPY(buf + start, i - start);
			if (integer && integer_out_of_range(buf + start, i - start)) {
				COPY(".0", 2);
				n_big++;
			}
		} else {
			COPY(buf + i, 1);
			i++;
		}
	}
#undef COPY
	return n_big;
}

int json_parse(const char *buf, size_t len, struct json_object **ret)
{
	_cleanup_free_ char *copy = NULL;
	struct json_tokener *tok;
	struct json_object *o;
	ssize_t n_big;
	size_t off;

	if (len > INT_MAX)
		return -EFBIG;
	n_big = scan_text(buf, len, NULL);
	if (n_big < 0)
		return (int)n_big;
	if (n_big > 0) {
		if (len + 2 * (size_t)n_big > INT_MAX)
			return -EFBIG;
		copy = malloc(len + 2 * (size_t)n_big);
		if (!copy)
			return -ENOMEM;
		(void)scan_text(buf, len, copy);
		buf = copy;
		len += 2 * (size_t)n_big;
	}
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	off = json_tokener_get_parse_end(tok);
	if (!o && json_tokener_get_error(tok) == json_tokener_continue) {
		/* A bare top-level number only ends at a delimiter: feed one NUL. */
		o = json_tokener_parse_ex(tok, "", 1);
		off = len;
	}
	if (!o || json_tokener_get_error(tok) != json_tokener_success) {
		/* json_tokener_continue means the input ended mid-value (unterminated). */
		json_object_put(o);
		json_tokener_free(tok);
		return -EINVAL;
	}
	json_tokener_free(tok);
	for (; off < len; off++)
		if (!strchr(" \t\r\n", buf[off])) {
			json_object_put(o);
			return -EINVAL;
		}
	*ret = o;
	return 0;
}

int json_parse_file_at(int dirfd, const char *path, struct json_object **ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = read_file_at(dirfd, path, 64 << 20, &buf, &len);
	if (r < 0)
		return r;
	return json_parse(buf, len, ret);
}

static int get_typed(struct json_object *o, const char *key, json_type type,
		     struct json_object **ret)
{
	struct json_object *v;

	if (!o || !json_object_is_type(o, json_type_object))
		return -EINVAL;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return -ENOENT;
	if (!json_object_is_type(v, type))
		return -EINVAL;
	*ret = v;
	return 0;
}

int json_get_object(struct json_object *o, const char *key, struct json_object **ret)
{
	return get_typed(o, key, json_type_object, ret);
}

int json_get_array(struct json_object *o, const char *key, struct json_object **ret)
{
	return get_typed(o, key, json_type_array, ret);
}

int json_as_string(struct json_object *v, const char **ret)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return -EINVAL;
	s = json_object_get_string(v);
	/* A C string would end at the first NUL: "tr\u0000ue" is not "tr". */
	if ((size_t)json_object_get_string_len(v) != strlen(s))
		return -EILSEQ;
	*ret = s;
	return 0;
}

int json_get_string(struct json_object *o, const char *key, const char **ret)
{
	struct json_object *v;
	int r = get_typed(o, key, json_type_string, &v);

	if (r < 0)
		return r;
	return json_as_string(v, ret);
}

int json_get_bool(struct json_object *o, const char *key, bool *ret)
{
	struct json_object *v;
	int r = get_typed(o, key, json_type_boolean, &v);

	if (r < 0)
		return r;
	*ret = json_object_get_boolean(v);
	return 0;
}

int json_get_int64(struct json_object *o, const char *key, int64_t *ret)
{
	struct json_object *v;
	int r = get_typed(o, key, json_type_int, &v);

	if (r < 0)
		return r;
	errno = 0;
	int64_t x = json_object_get_int64(v);
	if (errno != 0)
		return -EINVAL;
	/* json-c clamps values above INT64_MAX: reject anything stored as unsigned beyond it. */
	if (x == INT64_MAX && json_object_get_uint64(v) != (uint64_t)INT64_MAX)
		return -EINVAL;
	*ret = x;
	return 0;
}

int json_get_uint64(struct json_object *o, const char *key, uint64_t *ret)
{
	struct json_object *v;
	int r = get_typed(o, key, json_type_int, &v);

	if (r < 0)
		return r;
	if (json_object_get_int64(v) < 0)
		return -EINVAL;
	*ret = json_object_get_uint64(v);
	return 0;
}

int json_get_int(struct json_object *o, const char *key, int *ret)
{
	int64_t v;
	int r = json_get_int64(o, key, &v);

	if (r < 0)
		return r;
	if (v < INT_MIN || v > INT_MAX)
		return -EINVAL;
	*ret = (int)v;
	return 0;
}

int json_get_uint32(struct json_object *o, const char *key, uint32_t *ret)
{
	int64_t v;
	int r = json_get_int64(o, key, &v);

	if (r < 0)
		return r;
	if (v < 0 || v > UINT32_MAX)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

bool json_key_matches_field(const char *key, const char *name)
{
	const unsigned char *k = (const unsigned char *)key;

	for (const char *n = name; *n; n++) {
		char c = (char)(*n >= 'A' && *n <= 'Z' ? *n - 'A' + 'a' : *n);

		if (k[0] < 0x80) {
			char kc = (char)(k[0] >= 'A' && k[0] <= 'Z' ? k[0] - 'A' + 'a' : k[0]);
			if (kc != c)
				return false; /* the key's end included */
			k++;
		} else if (c == 'k' && k[0] == 0xe2 && k[1] == 0x84 && k[2] == 0xaa) {
			k += 3;
		} else if (c == 's' && k[0] == 0xc5 && k[1] == 0xbf) {
			k += 2;
		} else {
			return false;
		}
	}
	return !*k;
}

/* A copy of the first key of O that matches field NAME, or NULL (none, or out of memory). */
static char *first_match(struct json_object *o, const char *name, bool *ret_oom)
{
	json_object_object_foreach(o, key, val)
	{
		(void)val;
		if (json_key_matches_field(key, name)) {
			char *k = strdup(key);

			*ret_oom = !k;
			return k;
		}
	}
	return NULL;
}

int json_object_set_field(struct json_object *o, const char *name, struct json_object *v)
{
	bool oom = false;
	char *key;

	while ((key = first_match(o, name, &oom))) {
		json_object_object_del(o, key);
		free(key);
	}
	if (oom || json_object_object_add(o, name, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

int json_to_strv(struct json_object *array, char ***ret)
{
	size_t n;
	_cleanup_strv_free_ char **v = NULL;

	if (!array || !json_object_is_type(array, json_type_array))
		return -EINVAL;
	n = json_object_array_length(array);
	v = calloc(n + 1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *s;
		int r = json_as_string(json_object_array_get_idx(array, i), &s);

		if (r < 0)
			return r;
		v[i] = strdup(s);
		if (!v[i])
			return -ENOMEM;
	}
	*ret = TAKE_PTR(v);
	return 0;
}

const char *json_to_string(struct json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						     JSON_C_TO_STRING_NOSLASHESCAPE);
}
