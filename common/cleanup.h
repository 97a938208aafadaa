/* SPDX-License-Identifier: Apache-2.0 */
/* Scope-bound cleanup of memory, fds and FILEs (GNU cleanup attribute). */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Hand ownership to someone else: returns the value and clears the variable. */
#define TAKE_PTR(p)                  \
	({                           \
		typeof(p) _tp = (p); \
		(p) = NULL;          \
		_tp;                 \
	})
#define TAKE_FD(fd)             \
	({                      \
		int _tf = (fd); \
		(fd) = -EBADF;  \
		_tf;            \
	})

/* Each helper accepts NULL / a negative fd and leaves errno as it found it. */
static inline void freep(void *p)
{
	int saved = errno;

	free(*(void **)p);
	errno = saved;
}

static inline int safe_close(int fd)
{
	if (fd >= 0) {
		int saved = errno;

		close(fd);
		errno = saved;
	}
	return -EBADF;
}

static inline void closep(int *fd)
{
	*fd = safe_close(*fd);
}

static inline void fclosep(FILE **f)
{
	if (*f) {
		int saved = errno;

		fclose(*f);
		errno = saved;
		*f = NULL;
	}
}

static inline void closedirp(DIR **d)
{
	if (*d) {
		int saved = errno;

		closedir(*d);
		errno = saved;
		*d = NULL;
	}
}

/* NULL-terminated string vectors. */
static inline char **strv_free(char **v)
{
	if (v) {
		for (char **i = v; *i; i++)
			free(*i);
		free(v);
	}
	return NULL;
}

static inline void strv_freep(char ***v)
{
	int saved = errno;

	*v = strv_free(*v);
	errno = saved;
}

/* Turn a libc-style return (-1 + errno) into -errno. */
static inline int negative_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

#define RET_NERRNO(expr)                             \
	({                                           \
		long _r = (long)(expr);              \
		_r < 0 ? negative_errno() : (int)_r; \
	})
