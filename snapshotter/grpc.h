/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC over HTTP/2 (nghttp2) on one accepted connection: unary and server-streaming calls whose
 * request is exactly one message. HTTP/2 itself is nghttp2's; what is ours is gRPC's part: the
 * 5-byte length prefix of each message, the method table routed by ":path", and the status sent
 * as grpc-status/grpc-message trailers.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "common/log.h"

/* gRPC status codes (the ones containerd's errdefs maps to its error classes) */
enum grpc_code {
	GRPC_OK = 0,
	GRPC_UNKNOWN = 2,
	GRPC_INVALID_ARGUMENT = 3,
	GRPC_NOT_FOUND = 5,
	GRPC_ALREADY_EXISTS = 6,
	GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_FAILED_PRECONDITION = 9,
	GRPC_UNIMPLEMENTED = 12,
	GRPC_INTERNAL = 13,
};

/* The answer to one call: zero or more messages (already length-prefixed), then a status. */
struct grpc_reply {
	uint8_t *data;
	size_t len, cap;
	enum grpc_code code;
	char *message;
	void *priv; /* the call, for grpc_reply_defer() */
};

/* Append one response message. 0 or -ENOMEM. */
int grpc_reply_add(struct grpc_reply *reply, const ProtobufCMessage *msg);
/* End the call with CODE and a message (printf format); drops the messages added so far. */
void grpc_reply_error(struct grpc_reply *reply, enum grpc_code code, const char *fmt, ...)
    _printf_(3, 4);
/*
 * A call answered later: a method that waits on something slow calls grpc_reply_defer() on
 * its reply, returns, and answers with grpc_pending_finish() once it knows (from an fd the
 * server watches). The server sends the answer on its next turn; if the client gave up or the
 * connection went in between, the answer is dropped.
 */
struct grpc_pending;
struct grpc_pending *grpc_reply_defer(struct grpc_reply *reply);
/* Answer with REPLY (its contents are taken) and free P. */
void grpc_pending_finish(struct grpc_pending *p, struct grpc_reply *reply);

/* The gRPC code for a -errno of ours (-ENOENT: NotFound, -EEXIST: AlreadyExists...). */
enum grpc_code grpc_code_from_errno(int r);

/* A method: its ":path" ("/package.Service/Method") and the function that answers it. */
typedef void (*grpc_handler_fn)(const uint8_t *msg, size_t len, struct grpc_reply *reply,
				void *userdata);
struct grpc_method {
	const char *path;
	grpc_handler_fn handler;
};

struct grpc_service {
	const struct grpc_method *methods;
	size_t n_methods;
	void *userdata;
};

struct grpc_conn;

/* Take over the connected, non-blocking socket FD (closed by grpc_conn_free()). */
int grpc_conn_new(int fd, const struct grpc_service *service, struct grpc_conn **ret);
/* Close and free CONN; calls answered later keep it (closed) until they finish. */
struct grpc_conn *grpc_conn_free(struct grpc_conn *conn);
/* Mark CONN over (a read failed): grpc_conn_alive() says false from now on. */
void grpc_conn_close(struct grpc_conn *conn);
int grpc_conn_fd(const struct grpc_conn *conn);
/* Read what the peer sent and answer the calls it completes; -errno when the link is over. */
int grpc_conn_read(struct grpc_conn *conn);
/* Send what is queued; *RET_BLOCKED when the socket is full (wait for EPOLLOUT). */
int grpc_conn_write(struct grpc_conn *conn, bool *ret_blocked);
/* Whether the session still wants to read or write (false: close it). */
bool grpc_conn_alive(const struct grpc_conn *conn);
