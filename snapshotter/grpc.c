/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC's part of a call on an nghttp2 server session: a stream's request body is gathered until
 * the client ends its side, checked to be exactly one uncompressed length-prefixed message, handed
 * to the method its ":path" names, and answered with HEADERS, the reply's messages as DATA, and
 * grpc-status/grpc-message as trailers (or, for an error with no message, trailers only).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <nghttp2/nghttp2.h>

#include "common/cleanup.h"
#include "grpc.h"

/* gRPC's default limit of a received message; ours are far smaller */
#define GRPC_MAX_MESSAGE (4u << 20)

/*
 * A call. The session owns it until it closes, except a deferred one (grpc_reply_defer()),
 * which its grpc_pending_finish() frees when the stream or connection went first ("gone").
 */
struct grpc_stream {
	int32_t id;
	char *path;
	uint8_t *body;
	size_t body_len;
	bool too_big;
	struct grpc_reply reply;
	size_t sent;
	bool deferred, gone;
	struct grpc_conn *conn;
	struct grpc_stream *prev, *next; /* the connection's open streams */
};

/* Freed when the server has dropped it and no deferred call holds it (n_ref). */
struct grpc_conn {
	int fd;
	nghttp2_session *session;
	const struct grpc_service *service;
	struct grpc_stream *streams;
	unsigned n_ref;
	bool closed;
};

int grpc_reply_add(struct grpc_reply *reply, const ProtobufCMessage *msg)
{
	size_t n = protobuf_c_message_get_packed_size(msg);

	if (n > UINT32_MAX)
		return -EFBIG;
	if (reply->len + 5 + n > reply->cap) {
		size_t cap = (reply->len + 5 + n) * 2;
		uint8_t *p = realloc(reply->data, cap);

		if (!p)
			return -ENOMEM;
		reply->data = p;
		reply->cap = cap;
	}
	uint8_t *o = reply->data + reply->len;
	o[0] = 0;
	o[1] = (uint8_t)(n >> 24);
	o[2] = (uint8_t)(n >> 16);
	o[3] = (uint8_t)(n >> 8);
	o[4] = (uint8_t)n;
	protobuf_c_message_pack(msg, o + 5);
	reply->len += 5 + n;
	return 0;
}

void grpc_reply_error(struct grpc_reply *reply, enum grpc_code code, const char *fmt, ...)
{
	va_list ap;

	free(reply->message);
	reply->message = NULL;
	va_start(ap, fmt);
	if (vasprintf(&reply->message, fmt, ap) < 0)
		reply->message = NULL;
	va_end(ap);
	reply->code = code;
	reply->len = 0;
}

enum grpc_code grpc_code_from_errno(int r)
{
	switch (-r) {
	case 0:
		return GRPC_OK;
	case ENOENT:
		return GRPC_NOT_FOUND;
	case EEXIST:
		return GRPC_ALREADY_EXISTS;
	case EINVAL:
	case EILSEQ:
	case ENAMETOOLONG:
		return GRPC_INVALID_ARGUMENT;
	case EBUSY:
	case ENOTEMPTY:
	case EPERM:
		return GRPC_FAILED_PRECONDITION;
	case ENOTSUP:
		return GRPC_UNIMPLEMENTED;
	case ENOMEM:
	case ENOSPC:
		return GRPC_RESOURCE_EXHAUSTED;
	default:
		return GRPC_UNKNOWN;
	}
}

static void stream_unlink(struct grpc_stream *st)
{
	if (st->prev)
		st->prev->next = st->next;
	else if (st->conn && st->conn->streams == st)
		st->conn->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	st->prev = st->next = NULL;
}

static struct grpc_stream *stream_free(struct grpc_stream *st)
{
	if (st) {
		free(st->path);
		free(st->body);
		free(st->reply.data);
		free(st->reply.message);
		free(st);
	}
	return NULL;
}

/* grpc-message is percent-encoded: anything outside printable ASCII, and '%' itself */
static char *percent_encode(const char *s)
{
	char *out = malloc(strlen(s) * 3 + 1), *o = out;

	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p > 0x7e || *p == '%')
			o += sprintf(o, "%%%02X", *p);
		else
			*o++ = (char)*p;
	}
	*o = '\0';
	return out;
}

#define NV(n, v)                                                                               \
	{                                                                                      \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE \
	}

static int submit_status(nghttp2_session *session, int32_t id, const struct grpc_reply *reply,
			 bool with_headers)
{
	_cleanup_free_ char *msg = percent_encode(reply->message ? reply->message : "");
	char code[16];

	if (!msg)
		return -ENOMEM;
	snprintf(code, sizeof(code), "%d", (int)reply->code);
	nghttp2_nv trailers[] = {
	    NV(":status", "200"),
	    NV("content-type", "application/grpc"),
	    NV("grpc-status", code),
	    NV("grpc-message", msg),
	};
	size_t skip = with_headers ? 0 : 2;
	size_t n = ELEMENTSOF(trailers) - skip - (reply->code == GRPC_OK ? 1 : 0);

	if (with_headers)
		return nghttp2_submit_response(session, id, trailers, n, NULL) < 0 ? -EIO : 0;
	return nghttp2_submit_trailer(session, id, trailers + skip, n) < 0 ? -EIO : 0;
}

static ssize_t read_reply(nghttp2_session *session, int32_t id, uint8_t *buf, size_t length,
			  uint32_t *flags, nghttp2_data_source *source, void *user_data)
{
	struct grpc_stream *st = source->ptr;
	size_t n = st->reply.len - st->sent;

	(void)user_data;
	if (n > length)
		n = length;
	memcpy(buf, st->reply.data + st->sent, n);
	st->sent += n;
	if (st->sent == st->reply.len) {
		*flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
		if (submit_status(session, id, &st->reply, false) < 0)
			return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	}
	return (ssize_t)n;
}

/* Check the body is one uncompressed message and call its method; fills st->reply. */
static void dispatch(struct grpc_conn *conn, struct grpc_stream *st)
{
	struct grpc_reply *reply = &st->reply;
	const struct grpc_method *m = NULL;
	uint32_t len = 0;

	reply->code = GRPC_OK;
	for (size_t i = 0; st->path && i < conn->service->n_methods; i++)
		if (strcmp(conn->service->methods[i].path, st->path) == 0)
			m = &conn->service->methods[i];
	if (st->body_len >= 5)
		len = (uint32_t)st->body[1] << 24 | (uint32_t)st->body[2] << 16 |
		      (uint32_t)st->body[3] << 8 | st->body[4];
	if (!m)
		grpc_reply_error(reply, GRPC_UNIMPLEMENTED, "unknown method '%s'",
				 st->path ? st->path : "");
	else if (st->too_big)
		grpc_reply_error(reply, GRPC_RESOURCE_EXHAUSTED, "request larger than %u bytes",
				 GRPC_MAX_MESSAGE);
	else if (st->body_len < 5)
		grpc_reply_error(reply, GRPC_INVALID_ARGUMENT, "request holds no gRPC message");
	else if (st->body[0] != 0)
		grpc_reply_error(reply, GRPC_UNIMPLEMENTED,
				 "compressed requests are not supported");
	else if (len != st->body_len - 5)
		grpc_reply_error(
		    reply, GRPC_INVALID_ARGUMENT,
		    "request is not exactly one message (%u bytes announced, %zu sent)", len,
		    st->body_len - 5);
	else
		m->handler(st->body + 5, len, reply, conn->service->userdata);
}

/* Send ST's reply: HEADERS, its messages as DATA, the status as trailers. */
static int submit_reply(struct grpc_conn *conn, int32_t id, struct grpc_stream *st)
{
	nghttp2_nv headers[] = {
	    NV(":status", "200"),
	    NV("content-type", "application/grpc"),
	};
	nghttp2_data_provider provider = {.source.ptr = st, .read_callback = read_reply};

	if (st->reply.code != GRPC_OK && st->reply.len == 0)
		return submit_status(conn->session, id, &st->reply, true);
	if (st->reply.code != GRPC_OK)
		st->reply.len = 0;
	if (st->reply.len == 0 && st->reply.code == GRPC_OK) {
		/* a stream (List) with nothing in it: headers, then the trailers */
		if (nghttp2_submit_headers(conn->session, NGHTTP2_FLAG_NONE, id, NULL, headers,
					   ELEMENTSOF(headers), NULL) < 0)
			return -EIO;
		return submit_status(conn->session, id, &st->reply, false);
	}
	return nghttp2_submit_response(conn->session, id, headers, ELEMENTSOF(headers), &provider) <
		       0
		   ? -EIO
		   : 0;
}

static int answer(struct grpc_conn *conn, int32_t id, struct grpc_stream *st)
{
	st->reply.priv = st;
	dispatch(conn, st);
	if (st->deferred)
		return 0;
	return submit_reply(conn, id, st);
}

struct grpc_pending *grpc_reply_defer(struct grpc_reply *reply)
{
	struct grpc_stream *st = reply->priv;

	st->deferred = true;
	st->conn->n_ref++;
	return (struct grpc_pending *)st;
}

static void conn_unref(struct grpc_conn *conn)
{
	if (--conn->n_ref == 0 && conn->closed)
		free(conn);
}

void grpc_pending_finish(struct grpc_pending *p, struct grpc_reply *reply)
{
	struct grpc_stream *st = (struct grpc_stream *)p;
	struct grpc_conn *conn = st->conn;

	free(st->reply.data);
	free(st->reply.message);
	st->reply = *reply;
	st->reply.priv = st;
	*reply = (struct grpc_reply){};
	st->deferred = false;
	/* the client gave up on the call, or the connection is gone: nobody to answer */
	if (st->gone || conn->closed) {
		stream_unlink(st);
		stream_free(st);
	} else if (submit_reply(conn, st->id, st) < 0) {
		log_debug("an answer given later cannot be sent");
		(void)nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, st->id,
						NGHTTP2_INTERNAL_ERROR);
	}
	conn_unref(conn);
}

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct grpc_conn *conn = user_data;
	struct grpc_stream *st;

	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	st = calloc(1, sizeof(*st));
	if (!st)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	st->id = frame->hd.stream_id;
	st->conn = conn;
	st->next = conn->streams;
	if (st->next)
		st->next->prev = st;
	conn->streams = st;
	nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, st);
	return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
		     void *user_data)
{
	struct grpc_stream *st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);

	(void)flags;
	(void)user_data;
	if (!st || frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	if (namelen == 5 && memcmp(name, ":path", 5) == 0 && !st->path) {
		st->path = strndup((const char *)value, valuelen);
		if (!st->path)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
	}
	return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t id, const uint8_t *data,
			 size_t len, void *user_data)
{
	struct grpc_stream *st = nghttp2_session_get_stream_user_data(session, id);
	uint8_t *p;

	(void)flags;
	(void)user_data;
	if (!st || st->too_big)
		return 0;
	if (st->body_len + len > GRPC_MAX_MESSAGE + 5) {
		st->too_big = true;
		return 0;
	}
	p = realloc(st->body, st->body_len + len);
	if (!p)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	memcpy(p + st->body_len, data, len);
	st->body = p;
	st->body_len += len;
	return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
	struct grpc_conn *conn = user_data;
	struct grpc_stream *st;

	if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
		return 0;
	if (!(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	st = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
	if (!st)
		return 0;
	return answer(conn, frame->hd.stream_id, st) < 0 ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

static int on_stream_close(nghttp2_session *session, int32_t id, uint32_t error_code,
			   void *user_data)
{
	struct grpc_stream *st = nghttp2_session_get_stream_user_data(session, id);

	(void)error_code;
	(void)user_data;
	if (!st)
		return 0;
	nghttp2_session_set_stream_user_data(session, id, NULL);
	stream_unlink(st);
	if (st->deferred)
		st->gone = true;
	else
		stream_free(st);
	return 0;
}

static ssize_t send_cb(nghttp2_session *session, const uint8_t *data, size_t length, int flags,
		       void *user_data)
{
	struct grpc_conn *conn = user_data;
	ssize_t n;

	(void)session;
	(void)flags;
	n = send(conn->fd, data, length, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return NGHTTP2_ERR_WOULDBLOCK;
	return NGHTTP2_ERR_CALLBACK_FAILURE;
}

int grpc_conn_new(int fd, const struct grpc_service *service, struct grpc_conn **ret)
{
	nghttp2_session_callbacks *cbs = NULL;
	nghttp2_settings_entry settings[] = {
	    {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 128},
	};
	struct grpc_conn *conn = calloc(1, sizeof(*conn));
	int r;

	if (!conn)
		return -ENOMEM;
	conn->fd = fd;
	conn->service = service;
	if (nghttp2_session_callbacks_new(&cbs) != 0) {
		free(conn);
		return -ENOMEM;
	}
	nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	r = nghttp2_session_server_new(&conn->session, cbs, conn);
	nghttp2_session_callbacks_del(cbs);
	if (r != 0) {
		free(conn);
		return -ENOMEM;
	}
	if (nghttp2_submit_settings(conn->session, NGHTTP2_FLAG_NONE, settings,
				    ELEMENTSOF(settings)) != 0) {
		conn->fd = -EBADF;
		grpc_conn_free(conn);
		return -EIO;
	}
	*ret = conn;
	return 0;
}

void grpc_conn_close(struct grpc_conn *conn)
{
	conn->closed = true;
}

struct grpc_conn *grpc_conn_free(struct grpc_conn *conn)
{
	if (!conn)
		return NULL;
	/* the session frees no stream data of ours: the open streams go here, deferred calls
	 * are left to their finish */
	while (conn->streams) {
		struct grpc_stream *st = conn->streams;

		nghttp2_session_set_stream_user_data(conn->session, st->id, NULL);
		stream_unlink(st);
		if (st->deferred)
			st->gone = true;
		else
			stream_free(st);
	}
	nghttp2_session_del(conn->session);
	conn->session = NULL;
	conn->fd = safe_close(conn->fd);
	conn->closed = true;
	if (conn->n_ref == 0)
		free(conn);
	return NULL;
}

int grpc_conn_fd(const struct grpc_conn *conn)
{
	return conn->fd;
}

int grpc_conn_read(struct grpc_conn *conn)
{
	uint8_t buf[16384];

	for (;;) {
		ssize_t n = recv(conn->fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		if (nghttp2_session_mem_recv(conn->session, buf, (size_t)n) < 0)
			return -EPROTO;
	}
}

int grpc_conn_write(struct grpc_conn *conn, bool *ret_blocked)
{
	if (conn->closed || nghttp2_session_send(conn->session) != 0)
		return -EPIPE;
	/* what is left queued after a send is what the socket would not take */
	*ret_blocked = nghttp2_session_want_write(conn->session);
	return 0;
}

bool grpc_conn_alive(const struct grpc_conn *conn)
{
	if (conn->closed)
		return false;
	return nghttp2_session_want_read(conn->session) ||
	       nghttp2_session_want_write(conn->session);
}
