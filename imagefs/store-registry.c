/* SPDX-License-Identifier: Apache-2.0 */
/*
 * "registry:HOST[:PORT]/REPO": an OCI distribution registry over libcurl. Blobs: HEAD to see
 * whether the registry has one, POST + PUT (monolithic) to upload, GET (redirects followed) to
 * download, GET with Range for the lazy reader (the body goes straight to the caller's buffer,
 * which hears of each piece as it arrives); a registry that answers a Range request with
 * the whole blob (200) is an error, not something to silently download. Manifests: GET/PUT by
 * tag, or by tag or digest with the Accept header a caller asks for (a convert source,
 * source-registry.c). Auth: on a 401 with a Bearer challenge, a token is fetched from the realm
 * (with the credentials if any) and the request retried once; a Basic challenge uses the
 * credentials.
 * Credentials: the store options (brisk-image's BRISK_REGISTRY_AUTH), else the user's auth
 * files (registry-auth.c). HTTPS unless asked otherwise, or for loopback hosts. A failure
 * leaves the registry's own words (status, error code and message) in s->error.
 *
 * Bounds, against a registry that is slow, broken or hostile: every transfer (the token's
 * included) has a connect timeout (the store's timeout_ms, default 30 s), stops when slower than
 * MIN_SPEED bytes/s for that long, and follows at most MAX_REDIRECTS redirects. A request has a
 * deadline that covers its token request and its retry: the timeout for a Range read or a small
 * request (manifest, token, HEAD), and one more second per ALLOWED_SPEED bytes for a whole blob
 * (by the size the caller expects) or an upload. A blob larger than the caller expects stops at
 * once. A token realm reached by HTTPS is never left for HTTP. Transfers stop when s->cancel is
 * set (a mount going away).
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "imagefs-internal.h"

#define MAX_SMALL (4u << 20)
#define MAX_ERROR_BODY (64u << 10)
#define DEFAULT_TIMEOUT_MS 30000u   /* the store options' timeout_ms of 0 */
#define MIN_SPEED 1024L		    /* bytes/s; slower than this for the timeout: stop */
#define ALLOWED_SPEED (64ull << 10) /* bytes/s a large request's deadline allows for */
#define MAX_REDIRECTS 8L

struct reg {
	char *origin; /* scheme://host[:port] */
	char *base;   /* origin/v2/repo */
	char *repo;
	char *token;
	char *user, *pass; /* NULL: anonymous */
	bool basic;
	uint64_t deadline_ms; /* of the request under way, CLOCK_MONOTONIC; 0: none */
	CURL *curl;
	char curl_err[CURL_ERROR_SIZE];
};

struct req {
	const char *method;
	const char *url;
	const char *accept;
	const char *content_type;
	const char *range;
	const char *body;
	size_t body_len;
	int in_fd;
	uint64_t in_size;
	int out_fd; /* 2xx bodies go here when >= 0, else into buf (and to tap) */
	void (*tap)(void *arg, uint64_t off, const void *data, size_t len);
	void *tap_arg;
	char *dst; /* or a 206 body here (at most max bytes), with progress reports */
	void (*progress)(void *arg, size_t got);
	void *progress_arg;
	size_t max;
	bool is_write;
};

struct resp {
	CURL *curl;
	const struct req *q;
	long status;
	char *location;
	char *challenge;
	char *content_type;
	char *buf;
	size_t len;
	bool overflow;
	bool refused; /* a Range request answered with 200 */
	int err;
};

static struct reg *R(struct imagefs_store *s)
{
	return s->priv;
}

static void resp_done(struct resp *r)
{
	free(r->location);
	free(r->challenge);
	free(r->content_type);
	free(r->buf);
	*r = (struct resp){0};
}

static size_t on_header(char *p, size_t size, size_t n, void *data)
{
	struct resp *r = data;
	size_t len = size * n, skip = 0;
	char **dst = NULL;

	if (len > 9 && strncasecmp(p, "location:", 9) == 0) {
		dst = &r->location;
		skip = 9;
	} else if (len > 17 && strncasecmp(p, "www-authenticate:", 17) == 0) {
		dst = &r->challenge;
		skip = 17;
	} else if (len > 13 && strncasecmp(p, "content-type:", 13) == 0) {
		dst = &r->content_type;
		skip = 13;
	}
	if (dst) {
		const char *v = p + skip;
		size_t vl = len - skip;

		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		free(*dst);
		*dst = strndup(v, vl);
	}
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *data)
{
	struct resp *r = data;
	size_t len = size * n;
	long code = 0;

	curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &code);
	if (r->q->range && code == 200) {
		r->refused = true;
		return 0; /* abort: do not download the whole blob */
	}
	if (r->q->dst && code == 206) {
		if (r->len + len > r->q->max) {
			r->overflow = true;
			return 0;
		}
		memcpy(r->q->dst + r->len, p, len);
		r->len += len;
		if (r->q->progress)
			r->q->progress(r->q->progress_arg, r->len);
		return len;
	}
	if (r->q->out_fd >= 0 && code >= 200 && code < 300) {
		/* more than the blob's declared size: stop now, not at the disk's end */
		if (r->q->max && r->len + len > r->q->max) {
			r->overflow = true;
			return 0;
		}
		int e = write_all(r->q->out_fd, p, len);
		if (e < 0) {
			r->err = e;
			return 0;
		}
		if (r->q->tap)
			r->q->tap(r->q->tap_arg, r->len, p, len);
		r->len += len;
		return len;
	}
	size_t max = code >= 200 && code < 300 ? r->q->max : MAX_ERROR_BODY;
	if (r->len + len > max) {
		r->overflow = true;
		return 0;
	}
	char *nb = realloc(r->buf, r->len + len + 1);
	if (!nb) {
		r->err = -ENOMEM;
		return 0;
	}
	r->buf = nb;
	memcpy(r->buf + r->len, p, len);
	r->len += len;
	r->buf[r->len] = '\0';
	return len;
}

static size_t on_read(char *p, size_t size, size_t n, void *data)
{
	struct resp *r = data;
	ssize_t got;

	do
		got = read(r->q->in_fd, p, size * n);
	while (got < 0 && errno == EINTR);
	if (got < 0) {
		r->err = -errno;
		return CURL_READFUNC_ABORT;
	}
	return (size_t)got;
}

_printf_(2, 3) static void set_error(struct imagefs_store *s, const char *fmt, ...)
{
	int n = snprintf(s->error, sizeof(s->error), "registry '%s': ", R(s)->origin);
	va_list ap;

	if (n < 0 || (size_t)n >= sizeof(s->error))
		return;
	va_start(ap, fmt);
	vsnprintf(s->error + n, sizeof(s->error) - (size_t)n, fmt, ap);
	va_end(ap);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static unsigned timeout_ms(const struct imagefs_store *s)
{
	return s->opts.timeout_ms ? s->opts.timeout_ms : DEFAULT_TIMEOUT_MS;
}

/* How long request Q may take in all, its token request and its retry included; 0: no
 * deadline (a blob whose size nobody knows: the speed limit still bounds each wait). */
static uint64_t budget_ms(const struct imagefs_store *s, const struct req *q)
{
	uint64_t bytes = 0;

	if (q->range)
		return timeout_ms(s); /* the lazy reader's budget: it retries */
	if (q->in_fd >= 0)
		bytes = q->in_size;
	else if (q->out_fd >= 0 && !q->max)
		return 0;
	else if (q->out_fd >= 0)
		bytes = q->max;
	else if (q->body)
		bytes = q->body_len;
	return timeout_ms(s) + bytes * 1000 / ALLOWED_SPEED;
}

static int on_progress(void *arg, curl_off_t dl_total, curl_off_t dl_now, curl_off_t ul_total,
		       curl_off_t ul_now)
{
	const struct imagefs_store *s = arg;

	(void)dl_total, (void)dl_now, (void)ul_total, (void)ul_now;
	return atomic_load(s->cancel) ? 1 : 0;
}

/* The bounds of a transfer on C (see the top of the file): -ETIMEDOUT when the request's
 * deadline has passed already, -ECANCELED when the store is cancelled. */
static int set_bounds(struct imagefs_store *s, CURL *c)
{
	struct reg *g = R(s);
	long t = (long)timeout_ms(s);

	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, t);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, MIN_SPEED);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (t + 999) / 1000);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
	if (g->deadline_ms) {
		uint64_t now = now_ms();

		if (now >= g->deadline_ms)
			return -ETIMEDOUT;
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(g->deadline_ms - now));
	}
	if (s->cancel) {
		if (atomic_load(s->cancel))
			return -ECANCELED;
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	return 0;
}

/* A failed transfer as -errno: a timeout (the deadline or the speed limit), a cancel, else an
 * I/O error. */
static int curl_errno(CURLcode cc)
{
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	case CURLE_FILESIZE_EXCEEDED:
		return -EFBIG;
	default:
		return -EIO;
	}
}

static const char *bound_text(int e)
{
	return e == -ETIMEDOUT ? "no answer before the deadline" : "cancelled";
}

/* The path of URL, without the query (upload URLs carry long state there). */
static const char *url_path(const char *url, char *buf, size_t size)
{
	const char *p = strstr(url, "://");

	p = p ? strchr(p + 3, '/') : NULL;
	snprintf(buf, size, "%.*s", (int)strcspn(p ?: url, "?"), p ?: url);
	return buf;
}

/* The token a Bearer CHALLENGE asks for, from its realm, into g->token: -EACCES when the realm
 * refuses it (or is refused), -ETIMEDOUT, -ECANCELED, -EIO when the transfer fails. */
static int fetch_token(struct imagefs_store *s, const char *challenge, bool is_write)
{
	struct reg *g = R(s);
	_cleanup_free_ char *realm = ifs_challenge_param(challenge, "realm");
	_cleanup_free_ char *service = ifs_challenge_param(challenge, "service");
	_cleanup_free_ char *scope = ifs_challenge_param(challenge, "scope");
	_cleanup_free_ char *url = NULL, *own_scope = NULL;
	char err[CURL_ERROR_SIZE] = "", why[160];
	struct resp r = {0};
	char *tok = NULL;
	CURLcode cc;
	bool https;
	CURL *c;
	int ret;

	if (!realm) {
		set_error(s, "a Bearer challenge without a realm");
		return -EACCES;
	}
	https = strncasecmp(realm, "https://", 8) == 0;
	/* the credentials go to the realm: never in clear text for a registry reached by HTTPS */
	if (g->user && strncmp(g->origin, "https://", 8) == 0 && !https) {
		set_error(s, "token realm '%s' is not HTTPS: credentials not sent", realm);
		return -EACCES;
	}
	if (is_write || !scope) {
		if (asprintf(&own_scope, "repository:%s:pull%s", g->repo, is_write ? ",push" : "") <
		    0)
			return -ENOMEM;
	}
	c = curl_easy_init();
	if (!c)
		return -ENOMEM;
	char *es = service ? curl_easy_escape(c, service, 0) : NULL;
	char *esc = curl_easy_escape(c, own_scope ? own_scope : scope, 0);
	if (asprintf(&url, "%s%sservice=%s&scope=%s", realm, strchr(realm, '?') ? "&" : "?",
		     es ? es : "", esc ? esc : "") < 0)
		url = NULL;
	curl_free(es);
	curl_free(esc);
	struct req q = {.method = "GET", .url = url, .in_fd = -1, .out_fd = -1, .max = 1 << 20};
	r.curl = c;
	r.q = &q;
	if (!url) {
		ret = -ENOMEM;
		goto out;
	}
	/* its own deadline is what is left of the request's: the token counts against it */
	if ((ret = set_bounds(s, c)) < 0) {
		set_error(s, "token from '%s': %s", realm, bound_text(ret));
		goto out;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
	/* a realm reached by HTTPS is not left for HTTP: credentials go there, a token returns */
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "https,http");
	if (s->opts.insecure_tls) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (g->user) {
		curl_easy_setopt(c, CURLOPT_USERNAME, g->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, g->pass);
	}
	cc = curl_easy_perform(c);
	if (cc == CURLE_UNSUPPORTED_PROTOCOL && https) {
		set_error(s, "token from '%s': redirected to a URL that is not HTTPS, not followed",
			  realm);
		ret = -EACCES;
		goto out;
	}
	if (r.err) {
		ret = r.err;
		set_error(s, "token from '%s': %s", realm, strerror(-ret));
		goto out;
	}
	if (cc != CURLE_OK) {
		set_error(s, "token from '%s': %s", realm, err[0] ? err : curl_easy_strerror(cc));
		ret = r.overflow ? -EACCES : curl_errno(cc);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	ifs_registry_error_text(r.buf, r.len, why, sizeof(why));
	ret = -EACCES;
	if (r.status != 200)
		set_error(s, "token from '%s': HTTP %ld%s%s%s%s", realm, r.status,
			  why[0] ? " (" : "", why, why[0] ? ")" : "",
			  r.status == 401 && !g->user
			      ? "; no credentials for this registry: set "
				"BRISK_REGISTRY_AUTH=USER:PASSWORD or log in "
				"with podman, skopeo or docker"
			      : "");
	else if (!r.buf || (ret = ifs_token_parse(r.buf, r.len, &tok)) < 0)
		set_error(s, "token from '%s': no token in the answer", realm);
	if (tok) {
		free(g->token);
		g->token = tok;
	}
	ret = tok ? 0 : ret == -ENOMEM ? ret : -EACCES;
out:
	curl_easy_cleanup(c);
	resp_done(&r);
	return ret;
}

static int perform(struct imagefs_store *s, const struct req *q, struct resp *r)
{
	struct reg *g = R(s);
	_cleanup_free_ char *auth = NULL;
	struct curl_slist *h = NULL;
	char line[512], path[256];
	CURLcode cc;
	CURL *c = g->curl;
	int e;

	curl_easy_reset(c);
	*r = (struct resp){.curl = c, .q = q};
	if ((e = set_bounds(s, c)) < 0) {
		set_error(s, "%s %s: %s", q->method, url_path(q->url, path, sizeof(path)),
			  bound_text(e));
		return e;
	}
	curl_easy_setopt(c, CURLOPT_URL, q->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "brisk-image");
	g->curl_err[0] = '\0';
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, g->curl_err);
	if (s->opts.insecure_tls) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (strcmp(q->method, "GET") == 0 || strcmp(q->method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	if (q->out_fd >= 0 && q->max)
		curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)q->max);
	if (strcmp(q->method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (strcmp(q->method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body ? q->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
	}
	if (strcmp(q->method, "PUT") == 0) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		if (q->in_fd >= 0) {
			curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
			curl_easy_setopt(c, CURLOPT_READDATA, r);
			curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)q->in_size);
		} else {
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
			curl_easy_setopt(c, CURLOPT_UPLOAD, 0L);
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
		}
	}
	if (q->accept) {
		snprintf(line, sizeof(line), "Accept: %s", q->accept);
		h = curl_slist_append(h, line);
	}
	snprintf(line, sizeof(line), "Content-Type: %s",
		 q->content_type ?: "application/octet-stream");
	h = curl_slist_append(h, line);
	h = curl_slist_append(h, "Expect:");
	if (q->range) {
		snprintf(line, sizeof(line), "Range: %s", q->range);
		h = curl_slist_append(h, line);
	}
	if (g->token) {
		if (asprintf(&auth, "Authorization: Bearer %s", g->token) < 0)
			auth = NULL;
		if (auth)
			h = curl_slist_append(h, auth);
	} else if (g->basic && g->user) {
		curl_easy_setopt(c, CURLOPT_USERNAME, g->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, g->pass);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	cc = curl_easy_perform(c);
	curl_slist_free_all(h);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->refused)
		return -EPROTONOSUPPORT;
	url_path(q->url, path, sizeof(path));
	if (r->overflow || cc == CURLE_FILESIZE_EXCEEDED) {
		bool ok = r->status >= 200 && r->status < 300;

		set_error(s, "%s %s: HTTP %ld with more than the %llu bytes expected", q->method,
			  path, r->status, (unsigned long long)(ok ? q->max : MAX_ERROR_BODY));
		log_debug("%s", s->error);
		return -EFBIG;
	}
	if (r->err)
		return r->err;
	if (cc != CURLE_OK) {
		set_error(s, "%s %s: %s", q->method, path,
			  cc == CURLE_ABORTED_BY_CALLBACK ? "cancelled"
			  : g->curl_err[0]		  ? g->curl_err
							  : curl_easy_strerror(cc));
		log_debug("%s", s->error);
		return curl_errno(cc);
	}
	return 0;
}

/* One request, retried once after authenticating when the registry asks for it. */
static int request(struct imagefs_store *s, const struct req *q, struct resp *r)
{
	struct reg *g = R(s);
	uint64_t budget = budget_ms(s, q);
	char path[256], why[200];
	int e;

	s->error[0] = '\0';
	/* one deadline for all of it: the token's request and the retry count against it */
	g->deadline_ms = budget ? now_ms() + budget : 0;
	for (int attempt = 0;; attempt++) {
		if (q->out_fd >= 0 &&
		    (ftruncate(q->out_fd, 0) < 0 || lseek(q->out_fd, 0, SEEK_SET) < 0))
			return -errno;
		if (q->in_fd >= 0 && lseek(q->in_fd, 0, SEEK_SET) < 0)
			return -errno;
		if ((e = perform(s, q, r)) < 0)
			return e;
		if (r->status != 401 || attempt > 0 || !r->challenge)
			break;
		if (strncasecmp(r->challenge, "Bearer ", 7) == 0) {
			if ((e = fetch_token(s, r->challenge, q->is_write)) == -EACCES)
				break;
			if (e < 0) {
				log_debug("%s", s->error);
				return e;
			}
		} else if (strncasecmp(r->challenge, "Basic", 5) == 0 && g->user) {
			g->basic = true;
		} else {
			break;
		}
		resp_done(r);
	}
	if (r->status >= 200 && r->status < 300)
		return 0;
	if (!s->error[0] || r->status != 401) {
		ifs_registry_error_text(r->buf, r->len, why, sizeof(why));
		set_error(s, "%s %s: HTTP %ld%s%s%s", q->method,
			  url_path(q->url, path, sizeof(path)), r->status, why[0] ? " (" : "", why,
			  why[0] ? ")" : "");
	}
	log_debug("%s", s->error);
	switch (r->status) {
	case 401:
	case 403:
		return -EACCES;
	case 404:
		return -ENOENT;
	case 416:
		return -ERANGE;
	default:
		return -EIO;
	}
}

static void resp_donep(struct resp *r)
{
	resp_done(r);
}

static int blob_url(struct imagefs_store *s, const struct digest *d, char **ret)
{
	char ds[DIGEST_STRING_SIZE];

	return asprintf(ret, "%s/blobs/%s", R(s)->base, digest_format(d, ds)) < 0 ? -ENOMEM : 0;
}

static int reg_has_blob(struct imagefs_store *s, const struct digest *d)
{
	_cleanup_(resp_donep) struct resp r = {0};
	_cleanup_free_ char *url = NULL;
	int e;

	if ((e = blob_url(s, d, &url)) < 0)
		return e;
	struct req q = {.method = "HEAD", .url = url, .in_fd = -1, .out_fd = -1};
	e = request(s, &q, &r);
	if (e == -ENOENT)
		return 0;
	return e < 0 ? e : 1;
}

static int reg_read_range(struct imagefs_store *s, const struct digest *d, uint64_t off, size_t len,
			  void *buf)
{
	_cleanup_(resp_donep) struct resp r = {0};
	_cleanup_free_ char *url = NULL;
	char range[64];
	int e;

	if (len == 0)
		return 0;
	if ((e = blob_url(s, d, &url)) < 0)
		return e;
	snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)off,
		 (unsigned long long)(off + len - 1));
	struct req q = {.method = "GET",
			.url = url,
			.range = range,
			.in_fd = -1,
			.out_fd = -1,
			.dst = buf,
			.progress = s->range_progress,
			.progress_arg = s->range_progress_arg,
			.max = len};
	e = request(s, &q, &r);
	if (e == -EPROTONOSUPPORT)
		return log_error_errno(e,
				       "registry '%s' ignores Range requests (answered 200 with "
				       "the whole blob): lazy reads need a registry that "
				       "supports Range",
				       R(s)->origin);
	if (e < 0)
		return e;
	if (r.status != 206)
		return log_error_errno(-EPROTONOSUPPORT,
				       "registry '%s' answered a Range request "
				       "with HTTP %ld",
				       R(s)->origin, r.status);
	if (r.len != len)
		return -EIO;
	return 0;
}

static int reg_get_blob(struct imagefs_store *s, const struct digest *d, int fd)
{
	_cleanup_(resp_donep) struct resp r = {0};
	_cleanup_free_ char *url = NULL;
	int e;

	if ((e = blob_url(s, d, &url)) < 0)
		return e;
	struct req q = {.method = "GET",
			.url = url,
			.in_fd = -1,
			.out_fd = fd,
			.tap = s->blob_tap,
			.tap_arg = s->blob_tap_arg,
			.max = s->blob_max};
	return request(s, &q, &r);
}

static int reg_put_blob(struct imagefs_store *s, const struct digest *d, int dirfd,
			const char *name, uint64_t size)
{
	_cleanup_(resp_donep) struct resp r = {0};
	_cleanup_free_ char *url = NULL, *put_url = NULL;
	_cleanup_close_ int fd = -EBADF;
	char ds[DIGEST_STRING_SIZE], path[256];
	const char *loc;
	int e;

	if (asprintf(&url, "%s/blobs/uploads/", R(s)->base) < 0)
		return -ENOMEM;
	struct req post = {.method = "POST",
			   .url = url,
			   .in_fd = -1,
			   .out_fd = -1,
			   .max = MAX_SMALL,
			   .is_write = true};
	if ((e = request(s, &post, &r)) < 0)
		return e;
	loc = r.location;
	if (!loc || !*loc) {
		set_error(s, "POST %s: no Location for the upload",
			  url_path(url, path, sizeof(path)));
		return -EBADMSG;
	}
	if (asprintf(&put_url, "%s%s%sdigest=%s", loc[0] == '/' ? R(s)->origin : "", loc,
		     strchr(loc, '?') ? "&" : "?", digest_format(d, ds)) < 0)
		return -ENOMEM;
	resp_done(&r);
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct req put = {.method = "PUT",
			  .url = put_url,
			  .in_fd = fd,
			  .in_size = size,
			  .out_fd = -1,
			  .max = MAX_SMALL,
			  .is_write = true};
	e = request(s, &put, &r);
	if (e < 0)
		return e;
	if (r.status != 201) {
		set_error(s, "PUT %s: HTTP %ld where 201 was expected",
			  url_path(put_url, path, sizeof(path)), r.status);
		return -EIO;
	}
	return 0;
}

static int get_manifest(struct imagefs_store *s, const char *ref, const char *accept, char **ret,
			size_t *ret_len, char **ret_type)
{
	_cleanup_(resp_donep) struct resp r = {0};
	_cleanup_free_ char *url = NULL;
	int e;

	if (asprintf(&url, "%s/manifests/%s", R(s)->base, ref) < 0)
		return -ENOMEM;
	struct req q = {.method = "GET",
			.url = url,
			.accept = accept,
			.in_fd = -1,
			.out_fd = -1,
			.max = MAX_SMALL};
	if ((e = request(s, &q, &r)) < 0)
		return e;
	if (!r.buf)
		return -EBADMSG;
	*ret_len = r.len;
	*ret = TAKE_PTR(r.buf);
	if (ret_type)
		*ret_type = TAKE_PTR(r.content_type);
	return 0;
}

static int reg_get_manifest(struct imagefs_store *s, const char *tag, char **ret, size_t *ret_len)
{
	return get_manifest(s, tag, OCI_MEDIA_MANIFEST, ret, ret_len, NULL);
}

static int reg_put_manifest(struct imagefs_store *s, const char *tag, const char *json, size_t len)
{
	_cleanup_(resp_donep) struct resp r = {0};
	_cleanup_free_ char *url = NULL;

	if (asprintf(&url, "%s/manifests/%s", R(s)->base, tag) < 0)
		return -ENOMEM;
	struct req q = {.method = "PUT",
			.url = url,
			.content_type = OCI_MEDIA_MANIFEST,
			.body = json,
			.body_len = len,
			.in_fd = -1,
			.out_fd = -1,
			.max = MAX_SMALL,
			.is_write = true};
	return request(s, &q, &r);
}

static int reg_staging_dir(struct imagefs_store *s, char **ret_path)
{
	const char *tmp = getenv("TMPDIR");
	char *p;

	(void)s;
	if (asprintf(&p, "%s/brisk-staging-XXXXXX", tmp && *tmp ? tmp : "/var/tmp") < 0)
		return -ENOMEM;
	if (!mkdtemp(p)) {
		int e = -errno;
		free(p);
		return e;
	}
	*ret_path = p;
	return 0;
}

static void reg_free(struct imagefs_store *s)
{
	struct reg *g = R(s);

	if (!g)
		return;
	if (g->curl)
		curl_easy_cleanup(g->curl);
	free(g->origin);
	free(g->base);
	free(g->repo);
	free(g->token);
	free(g->user);
	free(g->pass);
	free(g);
}

static const struct ifs_store_ops registry_ops = {
    .remote = true,
    .has_blob = reg_has_blob,
    .read_range = reg_read_range,
    .get_blob = reg_get_blob,
    .put_blob = reg_put_blob,
    .get_manifest = reg_get_manifest,
    .put_manifest = reg_put_manifest,
    .list_indexes = NULL,
    .staging_dir = reg_staging_dir,
    .free = reg_free,
};

int ifs_registry_get_manifest(struct imagefs_store *s, const char *ref, const char *accept,
			      char **ret, size_t *ret_len, char **ret_type)
{
	if (s->ops != &registry_ops)
		return -EPROTONOSUPPORT;
	*ret_type = NULL;
	return get_manifest(s, ref, accept, ret, ret_len, ret_type);
}

static bool is_loopback(const char *host)
{
	static const char *const names[] = {"127.0.0.1", "localhost", "[::1]"};
	for (size_t i = 0; i < ELEMENTSOF(names); i++) {
		size_t n = strlen(names[i]);
		if (strncmp(host, names[i], n) == 0 && (host[n] == '\0' || host[n] == ':'))
			return true;
	}
	return false;
}

static bool repo_ok(const char *repo)
{
	if (!*repo || *repo == '/' || repo[strlen(repo) - 1] == '/')
		return false;
	for (const char *p = repo; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("._-/", *p)))
			return false;
	return true;
}

int ifs_store_registry_open(struct imagefs_store *s, const char *ref)
{
	static bool curl_ready;
	const char *slash = strchr(ref, '/');
	_cleanup_free_ char *host = NULL;
	struct reg *g;

	if (!slash || slash == ref || !repo_ok(slash + 1))
		return log_error_errno(-EINVAL,
				       "'%s': expected registry:HOST[:PORT]/REPO[:TAG] with a "
				       "lowercase repository",
				       ref);
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -ENOMEM;
		curl_ready = true;
	}
	if (!(host = strndup(ref, (size_t)(slash - ref))))
		return -ENOMEM;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	s->priv = g;
	s->ops = &registry_ops;
	if (!(g->repo = strdup(slash + 1)) || !(g->curl = curl_easy_init()))
		return -ENOMEM;
	if (asprintf(&g->origin, "%s://%s",
		     s->opts.plain_http || is_loopback(host) ? "http" : "https", host) < 0) {
		g->origin = NULL;
		return -ENOMEM;
	}
	if (asprintf(&g->base, "%s/v2/%s", g->origin, g->repo) < 0) {
		g->base = NULL;
		return -ENOMEM;
	}
	if (s->opts.username) {
		g->user = strdup(s->opts.username);
		g->pass = strdup(s->opts.password ?: "");
		if (!g->user || !g->pass)
			return -ENOMEM;
	} else {
		_cleanup_free_ char *source = NULL;
		int r = ifs_registry_auth_find(host, &g->user, &g->pass, &source);

		if (r < 0 && r != -ENOENT)
			return r;
	}
	return 0;
}
