/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "cleanup.h"
#include "digest.h"

struct digest_ctx {
	EVP_MD_CTX *md;
};

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int digest_parse_hex(const char *s, struct digest *ret)
{
	struct digest d;

	if (!s || strlen(s) != DIGEST_HEX_SIZE)
		return -EINVAL;
	for (size_t i = 0; i < DIGEST_SIZE; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		d.bytes[i] = (uint8_t)(hi << 4 | lo);
	}
	*ret = d;
	return 0;
}

int digest_parse(const char *s, struct digest *ret)
{
	if (!s || strncmp(s, "sha256:", 7) != 0)
		return -EINVAL;
	return digest_parse_hex(s + 7, ret);
}

char *digest_format_hex(const struct digest *d, char buf[DIGEST_HEX_SIZE + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < DIGEST_SIZE; i++) {
		buf[2 * i] = hex[d->bytes[i] >> 4];
		buf[2 * i + 1] = hex[d->bytes[i] & 15];
	}
	buf[DIGEST_HEX_SIZE] = '\0';
	return buf;
}

char *digest_format(const struct digest *d, char buf[DIGEST_STRING_SIZE])
{
	memcpy(buf, "sha256:", 7);
	digest_format_hex(d, buf + 7);
	return buf;
}

bool digest_equal(const struct digest *a, const struct digest *b)
{
	return memcmp(a->bytes, b->bytes, DIGEST_SIZE) == 0;
}

int digest_ctx_new(struct digest_ctx **ret)
{
	struct digest_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->md = EVP_MD_CTX_new();
	if (!c->md || EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1) {
		digest_ctx_free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

int digest_ctx_update(struct digest_ctx *ctx, const void *data, size_t len)
{
	return EVP_DigestUpdate(ctx->md, data, len) == 1 ? 0 : -EIO;
}

int digest_ctx_final(struct digest_ctx *ctx, struct digest *ret)
{
	unsigned int n = 0;
	struct digest d;

	if (EVP_DigestFinal_ex(ctx->md, d.bytes, &n) != 1 || n != DIGEST_SIZE)
		return -EIO;
	*ret = d;
	return 0;
}

int digest_ctx_reset(struct digest_ctx *ctx)
{
	return EVP_DigestInit_ex(ctx->md, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

struct digest_ctx *digest_ctx_free(struct digest_ctx *ctx)
{
	if (ctx) {
		EVP_MD_CTX_free(ctx->md);
		free(ctx);
	}
	return NULL;
}

int digest_buffer(const void *data, size_t len, struct digest *ret)
{
	unsigned int n = 0;
	struct digest d;

	if (EVP_Digest(data, len, d.bytes, &n, EVP_sha256(), NULL) != 1 || n != DIGEST_SIZE)
		return -EIO;
	*ret = d;
	return 0;
}

int digest_fd(int fd, struct digest *ret)
{
	_cleanup_(digest_ctx_freep) struct digest_ctx *c = NULL;
	char buf[65536];
	int r = digest_ctx_new(&c);

	if (r < 0)
		return r;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		r = digest_ctx_update(c, buf, (size_t)n);
		if (r < 0)
			return r;
	}
	return digest_ctx_final(c, ret);
}
