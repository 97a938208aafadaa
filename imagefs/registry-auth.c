/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a registry sends back that is not a blob, parsed strictly (each parser has a fuzz
 * target): WWW-Authenticate challenges, token responses, the distribution spec's error bodies;
 * and the credentials a user already has for a registry, in the files that docker, podman and
 * skopeo write:
 *   $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, $DOCKER_CONFIG/config.json,
 *   $HOME/.docker/config.json (the first file with an entry for the host wins)
 * each {"auths": {"HOST[:PORT]": {"auth": base64("user:password")}}} (keys may also carry a
 * scheme or a path, as docker's "https://index.docker.io/v1/"; "username"/"password" fields
 * are read too). Credential helpers (credsStore, credHelpers) are not run.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "imagefs-internal.h"

#define MAX_AUTH_FILE (1u << 20)

char *ifs_challenge_param(const char *c, const char *key)
{
	size_t kl = strlen(key);

	if (kl == 0)
		return NULL;
	for (const char *p = c; (p = strstr(p, key)); p++) {
		if ((p != c && p[-1] != ' ' && p[-1] != ',') || strncmp(p + kl, "=\"", 2) != 0)
			continue;
		const char *v = p + kl + 2, *end = strchr(v, '"');
		return end ? strndup(v, (size_t)(end - v)) : NULL;
	}
	return NULL;
}

int ifs_token_parse(const char *body, size_t len, char **ret)
{
	_cleanup_json_ struct json_object *j = NULL;
	const char *tok;
	char *t;

	if (json_parse(body, len, &j) < 0)
		return -EBADMSG;
	if (json_get_string(j, "token", &tok) < 0 && json_get_string(j, "access_token", &tok) < 0)
		return -EBADMSG;
	/* it goes into an HTTP header: no room for a line break or a control character */
	for (const char *p = tok; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return -EBADMSG;
	if (!*tok)
		return -EBADMSG;
	if (!(t = strdup(tok)))
		return -ENOMEM;
	*ret = t;
	return 0;
}

/* Append S (at most MAX bytes, control characters replaced) to BUF. */
static void append_clean(char *buf, size_t size, const char *s, size_t max)
{
	size_t n = strlen(buf);

	for (size_t i = 0; s[i] && i < max && n + 1 < size; i++)
		buf[n++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
	buf[n] = '\0';
}

void ifs_registry_error_text(const char *body, size_t len, char *buf, size_t size)
{
	_cleanup_json_ struct json_object *j = NULL;
	struct json_object *errs;
	const char *code, *msg;

	if (size == 0)
		return;
	buf[0] = '\0';
	if (!body || len == 0)
		return;
	if (json_parse(body, len, &j) == 0 && json_get_array(j, "errors", &errs) == 0) {
		size_t n = json_object_array_length(errs);

		for (size_t i = 0; i < n && i < 4; i++) {
			struct json_object *e = json_object_array_get_idx(errs, i);

			if (json_get_string(e, "code", &code) < 0)
				code = "UNKNOWN";
			if (json_get_string(e, "message", &msg) < 0)
				msg = "";
			if (buf[0])
				append_clean(buf, size, "; ", 2);
			append_clean(buf, size, code, 64);
			if (*msg) {
				append_clean(buf, size, ": ", 2);
				append_clean(buf, size, msg, 160);
			}
		}
		if (buf[0])
			return;
	}
	/* not the spec's JSON: the first line of the body, if it is text */
	size_t line = 0;
	while (line < len && line < 160 && body[line] != '\n' && body[line] != '\0')
		line++;
	for (size_t i = 0; i < line; i++)
		if (!isprint((unsigned char)body[i]) && body[i] != '\t' && body[i] != '\r')
			return;
	_cleanup_free_ char *first = strndup(body, line);
	if (first)
		append_clean(buf, size, first, line);
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* Standard or URL-safe base64, padding optional; NUL-terminated result. */
static int b64_decode(const char *in, char **ret, size_t *ret_len)
{
	size_t n = strlen(in), o = 0;
	_cleanup_free_ char *out = malloc(n / 4 * 3 + 4);
	uint32_t acc = 0;
	int bits = 0;

	if (!out)
		return -ENOMEM;
	while (n && in[n - 1] == '=')
		n--;
	for (size_t i = 0; i < n; i++) {
		int v = b64_value(in[i]);

		if (v < 0)
			return -EBADMSG;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (bits >= 6)
		return -EBADMSG; /* a lone trailing character */
	out[o] = '\0';
	*ret_len = o;
	*ret = TAKE_PTR(out);
	return 0;
}

/* Does KEY of an "auths" object name HOST? "HOST", "scheme://HOST", "HOST/path"... */
static bool key_matches(const char *key, const char *host)
{
	const char *k = strstr(key, "://");
	size_t hl = strlen(host);

	k = k ? k + 3 : key;
	return strncmp(k, host, hl) == 0 && (k[hl] == '\0' || k[hl] == '/');
}

int ifs_registry_auth_parse(const char *json, size_t len, const char *host, char **ret_user,
			    char **ret_pass)
{
	_cleanup_json_ struct json_object *j = NULL;
	_cleanup_free_ char *dec = NULL, *user = NULL, *pass = NULL;
	struct json_object *auths, *entry = NULL;
	const char *a, *u, *p;
	size_t dl;
	int r;

	if (json_parse(json, len, &j) < 0)
		return -EBADMSG;
	if (json_get_object(j, "auths", &auths) < 0)
		return -ENOENT;
	json_object_object_foreach(auths, key, val)
	{
		if (key_matches(key, host) && json_object_is_type(val, json_type_object)) {
			entry = val;
			break;
		}
	}
	if (!entry)
		return -ENOENT;
	if (json_get_string(entry, "auth", &a) == 0 && *a) {
		if ((r = b64_decode(a, &dec, &dl)) < 0)
			return r;
		char *colon = memchr(dec, ':', dl);
		if (!colon || colon == dec || memchr(dec, '\0', dl))
			return -EBADMSG;
		user = strndup(dec, (size_t)(colon - dec));
		pass = strdup(colon + 1);
	} else if (json_get_string(entry, "username", &u) == 0 && *u &&
		   json_get_string(entry, "password", &p) == 0) {
		user = strdup(u);
		pass = strdup(p);
	} else {
		return -ENOENT; /* e.g. only an identitytoken: not supported */
	}
	if (!user || !pass)
		return -ENOMEM;
	*ret_user = TAKE_PTR(user);
	*ret_pass = TAKE_PTR(pass);
	return 0;
}

int ifs_registry_auth_find(const char *host, char **ret_user, char **ret_pass, char **ret_source)
{
	const char *e;
	char *files[4] = {NULL};
	size_t n = 0;
	int r = -ENOENT;

	if ((e = getenv("REGISTRY_AUTH_FILE")) && *e)
		files[n++] = strdup(e);
	if ((e = getenv("XDG_RUNTIME_DIR")) && *e)
		files[n++] = path_join(e, "containers/auth.json");
	if ((e = getenv("DOCKER_CONFIG")) && *e)
		files[n++] = path_join(e, "config.json");
	else if ((e = getenv("HOME")) && *e)
		files[n++] = path_join(e, ".docker/config.json");
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *buf = NULL;
		size_t len;
		int q;

		if (!files[i]) {
			r = -ENOMEM;
			break;
		}
		if (read_file_at(AT_FDCWD, files[i], MAX_AUTH_FILE, &buf, &len) < 0)
			continue;
		q = ifs_registry_auth_parse(buf, len, host, ret_user, ret_pass);
		if (q == -ENOENT)
			continue;
		if (q == -EBADMSG) {
			log_warning(
			    "'%s': not a valid auth file (no usable entry for '%s'), ignoring",
			    files[i], host);
			continue;
		}
		r = q;
		if (q == 0) {
			*ret_source = TAKE_PTR(files[i]);
			log_debug("registry '%s': credentials from '%s'", host, *ret_source);
		}
		break;
	}
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	return r;
}
