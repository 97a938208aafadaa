/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "json.h"

static int log_fd = -EBADF;
static enum log_format log_fmt = LOG_FORMAT_TEXT;
static enum log_level log_max = LOG_LEVEL_WARNING;
static const char *log_program;
static char *log_prefix;
static char *capture_buf;
static size_t capture_size;

static const char *const level_names[] = {
    [LOG_LEVEL_ERROR] = "error",
    [LOG_LEVEL_WARNING] = "warning",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_DEBUG] = "debug",
};

int log_open(const char *path, enum log_format format)
{
	log_close();
	log_fmt = format;
	if (!path)
		return 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
	if (fd < 0)
		return -errno;
	log_fd = fd;
	return 0;
}

void log_close(void)
{
	log_fd = safe_close(log_fd);
}

void log_set_level(enum log_level level)
{
	log_max = level;
}

int log_get_fd(void)
{
	return log_fd;
}

enum log_level log_get_level(void)
{
	return log_max;
}

void log_set_prefix(const char *prefix)
{
	free(log_prefix);
	log_prefix = prefix ? strdup(prefix) : NULL;
}

void log_set_capture(char *buf, size_t size)
{
	capture_buf = buf;
	capture_size = size;
	if (buf && size)
		buf[0] = '\0';
}

void log_set_program(const char *name)
{
	log_program = name;
}

int log_format_from_string(const char *s, enum log_format *ret)
{
	if (!s)
		return -EINVAL;
	if (strcmp(s, "text") == 0)
		*ret = LOG_FORMAT_TEXT;
	else if (strcmp(s, "json") == 0)
		*ret = LOG_FORMAT_JSON;
	else
		return -EINVAL;
	return 0;
}

int log_level_from_string(const char *s, enum log_level *ret)
{
	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
		if (strcmp(s, level_names[i]) == 0) {
			*ret = (enum log_level)i;
			return 0;
		}
	if (strcmp(s, "warn") == 0) {
		*ret = LOG_LEVEL_WARNING;
		return 0;
	}
	return -EINVAL;
}

static void format_time(const struct timespec *ts, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&ts->tv_sec, &tm);
	size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%06ldZ", ts->tv_nsec / 1000);
}

char *log_format_record(enum log_format format, enum log_level level, const char *msg,
			const struct timespec *ts)
{
	char tbuf[64];
	char *out = NULL;

	/* quoted and escaped in both: a message with a quote or a newline stays one record
	 * (logrus's text format quotes the same way) */
	_cleanup_free_ char *esc = json_escape(msg);

	format_time(ts, tbuf, sizeof(tbuf));
	if (!esc)
		return NULL;
	if (format == LOG_FORMAT_JSON) {
		if (asprintf(&out, "{\"level\":\"%s\",\"msg\":%s,\"time\":\"%s\"}",
			     level_names[level], esc, tbuf) < 0)
			return NULL;
	} else {
		if (asprintf(&out, "time=\"%s\" level=%s msg=%s", tbuf, level_names[level], esc) <
		    0)
			return NULL;
	}
	return out;
}

static void write_all(int fd, const char *a, size_t alen, const char *b, size_t blen)
{
	struct iovec iov[2] = {
	    {.iov_base = (void *)a, .iov_len = alen},
	    {.iov_base = (void *)b, .iov_len = blen},
	};

	/* One writev per record keeps records whole on an O_APPEND file. */
	while (writev(fd, iov, 2) < 0 && errno == EINTR)
		;
}

int log_internalv(enum log_level level, int error, const char *fmt, va_list ap)
{
	int saved = errno;
	_cleanup_free_ char *msg = NULL;

	if (error != 0)
		errno = abs(error);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	if (msg && log_prefix && !(capture_buf && level == LOG_LEVEL_ERROR)) {
		char *full;
		if (asprintf(&full, "%s: %s", log_prefix, msg) >= 0) {
			free(msg);
			msg = full;
		}
	}
	/* A child's error goes to its parent, which logs it once with its context; what is not
	 * an error (a step that failed, ignoring) is logged where the parent would log it. */
	if (msg && capture_buf && level == LOG_LEVEL_ERROR) {
		snprintf(capture_buf, capture_size, "%s", msg);
	} else if (msg) {
		if (log_fd >= 0) {
			struct timespec ts;
			_cleanup_free_ char *rec = NULL;

			clock_gettime(CLOCK_REALTIME, &ts);
			rec = log_format_record(log_fmt, level, msg, &ts);
			if (rec)
				write_all(log_fd, rec, strlen(rec), "\n", 1);
		}
		if (log_fd < 0 || level == LOG_LEVEL_ERROR) {
			_cleanup_free_ char *line = NULL;
			int n = asprintf(&line, "%s%s%s\n", log_program ? log_program : "",
					 log_program ? ": " : "", msg);
			if (n > 0)
				write_all(STDERR_FILENO, line, (size_t)n, "", 0);
		}
	}
	errno = saved;
	return -abs(error);
}

int log_internal(enum log_level level, int error, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = log_internalv(level, error, fmt, ap);
	va_end(ap);
	return r;
}
