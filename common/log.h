/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging: text or JSON lines (one object per line: level, msg, time), as runc's
 * `--log FILE --log-format json` that containerd's shim parses. Error-level messages
 * are also copied to stderr. log_*_errno(r, ...) return r (a negative errno) and make
 * %m print strerror(-r), so a failing function can `return log_error_errno(r, ...)`.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include "cleanup.h"

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARNING = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
};

enum log_format {
	LOG_FORMAT_TEXT = 0,
	LOG_FORMAT_JSON = 1,
};

/* Open FILE (NULL: stderr only) for appending in FORMAT. Returns 0 or -errno. */
int log_open(const char *path, enum log_format format);
void log_close(void);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* The fd of the log file, or -1 when logging to stderr. */
int log_get_fd(void);
/* Prefix for stderr lines ("brisk"); NULL for none. The string must outlive the logger. */
void log_set_program(const char *name);
/*
 * Capture error-level messages into BUF (the last one wins) instead of writing them, as a
 * forked container init does so that its parent reports the error once. NULL turns it off.
 */
void log_set_capture(char *buf, size_t size);
/* Prepended with ": " to every message, e.g. "create 'abc'"; NULL for none. Copied. */
void log_set_prefix(const char *prefix);
/* Parse "text"/"json" and "error"/"warning"/"info"/"debug". */
int log_format_from_string(const char *s, enum log_format *ret);
int log_level_from_string(const char *s, enum log_level *ret);

/* Render one record as it would be written (JSON object or text line, no newline). */
char *log_format_record(enum log_format format, enum log_level level, const char *msg,
			const struct timespec *ts);

int log_internal(enum log_level level, int error, const char *fmt, ...) _printf_(3, 4);
int log_internalv(enum log_level level, int error, const char *fmt, va_list ap) _printf_(3, 0);

#define log_full_errno(level, error, ...)                                                     \
	({                                                                                    \
		int _e = (error);                                                             \
		(level) <= log_get_level() ? log_internal(level, _e, __VA_ARGS__) : -abs(_e); \
	})

#define log_error(...) log_full_errno(LOG_LEVEL_ERROR, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_LEVEL_WARNING, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_debug(...) log_full_errno(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_LEVEL_ERROR, error, __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_LEVEL_WARNING, error, __VA_ARGS__)
#define log_debug_errno(error, ...) log_full_errno(LOG_LEVEL_DEBUG, error, __VA_ARGS__)
