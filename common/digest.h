/* SPDX-License-Identifier: Apache-2.0 */
/* sha256 digests in OCI form, "sha256:<64 lowercase hex>", over OpenSSL libcrypto. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DIGEST_SIZE 32
#define DIGEST_HEX_SIZE 64
/* "sha256:" + 64 hex + NUL */
#define DIGEST_STRING_SIZE (7 + DIGEST_HEX_SIZE + 1)

struct digest {
	uint8_t bytes[DIGEST_SIZE];
};

struct digest_ctx;

/* Strict: exactly "sha256:" and 64 lowercase hex digits, nothing after. */
int digest_parse(const char *s, struct digest *ret);
/* Same for the bare 64-hex form used in blob file names. */
int digest_parse_hex(const char *s, struct digest *ret);
/* Writes "sha256:<hex>" into BUF (DIGEST_STRING_SIZE bytes); returns BUF. */
char *digest_format(const struct digest *d, char buf[DIGEST_STRING_SIZE]);
/* Writes the bare hex form into BUF (DIGEST_HEX_SIZE + 1 bytes); returns BUF. */
char *digest_format_hex(const struct digest *d, char buf[DIGEST_HEX_SIZE + 1]);
bool digest_equal(const struct digest *a, const struct digest *b);

int digest_buffer(const void *data, size_t len, struct digest *ret);
/* Digest of everything readable from FD from its current offset. */
int digest_fd(int fd, struct digest *ret);

int digest_ctx_new(struct digest_ctx **ret);
int digest_ctx_update(struct digest_ctx *ctx, const void *data, size_t len);
/* Finish into *RET; the context can be reused after digest_ctx_reset(). */
int digest_ctx_final(struct digest_ctx *ctx, struct digest *ret);
int digest_ctx_reset(struct digest_ctx *ctx);
struct digest_ctx *digest_ctx_free(struct digest_ctx *ctx);
static inline void digest_ctx_freep(struct digest_ctx **c)
{
	*c = digest_ctx_free(*c);
}
