/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz what a registry (or a user's auth file) hands brisk-image: the first byte picks the
 * parser, the rest is the body. Image manifests, error bodies, token answers, WWW-Authenticate
 * challenges, docker-style auth files. Nothing may crash, leak or read out of bounds, and an
 * error text must stay one printable line within its buffer.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imagefs/imagefs-internal.h"
#include "fuzz.h"

static void check_text(const char *buf, size_t size)
{
	size_t n = strnlen(buf, size);

	if (n == size)
		abort(); /* not terminated inside its buffer */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 && buf[i] != '\t')
			abort(); /* a line break or control character in a one-line message */
}

FUZZ_TARGET

/* The first byte picks the parser; the texts (error, challenge) are never refused. */
int fuzz_parse(const uint8_t *data, size_t size)
{
	static const char *const hosts[] = {"127.0.0.1:5000", "localhost", "[::1]:443"};
	static const char *const keys[] = {"realm", "service", "scope", "error"};
	char *body, *user = NULL, *pass = NULL, *tok = NULL, text[200];
	struct digest d;
	int r = 0;

	if (size < 1)
		return -EINVAL;
	/* a NUL-terminated copy, as curl's callbacks and json-c see bodies */
	body = malloc(size);
	if (!body)
		return -ENOMEM;
	memcpy(body, data + 1, size - 1);
	body[size - 1] = '\0';
	switch (data[0] % 5) {
	case 0:
		r = ifs_manifest_index(body, size - 1, &d);
		break;
	case 1:
		ifs_registry_error_text(body, size - 1, text, sizeof(text));
		check_text(text, sizeof(text));
		ifs_registry_error_text(body, size - 1, text, 8);
		check_text(text, 8);
		break;
	case 2:
		if ((r = ifs_token_parse(body, size - 1, &tok)) == 0) {
			check_text(tok, strlen(tok) + 1);
			free(tok);
		}
		break;
	case 3:
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			free(ifs_challenge_param(body, keys[i]));
		break;
	case 4:
		r = -ENOENT; /* accepted if it has credentials for one of the hosts */
		for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
			if (ifs_registry_auth_parse(body, size - 1, hosts[i], &user, &pass) == 0) {
				r = 0;
				free(user);
				free(pass);
			}
		}
		break;
	}
	free(body);
	return r;
}
