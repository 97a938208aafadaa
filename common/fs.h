/* SPDX-License-Identifier: Apache-2.0 */
/* fd and path helpers: *at() everywhere, O_CLOEXEC on every fd, -errno on failure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Read a whole file (at most MAX bytes, else -EFBIG) into a NUL-terminated buffer. */
int read_file_at(int dirfd, const char *path, size_t max, char **ret_buf, size_t *ret_len);
/* Read everything from FD until EOF (at most MAX bytes). */
int read_fd_all(int fd, size_t max, char **ret_buf, size_t *ret_len);
/* Write all of BUF to FD, retrying short writes and EINTR. */
int write_all(int fd, const void *buf, size_t len);
/* All LEN bytes of BUF at OFF of FD, retrying short writes and EINTR. */
int pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
/* Exactly LEN bytes at OFF of FD into BUF: -EIO when the file ends first. */
int pread_all(int fd, void *buf, size_t len, uint64_t off);
/*
 * DEST (absolute) as the mount table of process PID's root has it: each symlink on the way is
 * read (never followed) under /proc/PID/root and resolved inside that root, as a runtime
 * resolves a mount's destination before mounting. Into BUF; DEST itself where a component is
 * missing.
 */
int proc_root_resolve(pid_t pid, const char *dest, char *buf, size_t size);
/* Write STR to an existing file (cgroup, proc, sysfs knobs): no O_CREAT, no O_TRUNC. */
int write_string_at(int dirfd, const char *path, const char *str);
/*
 * Atomically replace PATH with DATA: written to a hidden temp file in the same directory,
 * fsynced when DURABLE, then renamed over PATH. On failure nothing is left behind.
 */
int write_file_atomic_at(int dirfd, const char *path, const void *data, size_t len, mode_t mode,
			 bool durable);
/* mkdir -p relative to DIRFD; existing directories are fine, other existing types are -ENOTDIR. */
int mkdir_p_at(int dirfd, const char *path, mode_t mode);
/* rm -rf PATH relative to DIRFD, never crossing into another filesystem. Missing is fine. */
int rm_rf_at(int dirfd, const char *path);
/* Join two path parts with exactly one '/' between them; NULL on OOM. */
char *path_join(const char *a, const char *b);
/* Whether a relative path stays below its base: no ".." component, not absolute. */
bool path_is_safe_relative(const char *path);
/*
 * Open PATH below the directory ROOTFD as if ROOTFD were "/": symlinks and ".." are
 * resolved inside it (openat2 RESOLVE_IN_ROOT; on kernels without openat2 a userspace
 * walk with the same semantics). FLAGS get O_CLOEXEC added.
 */
int open_in_root(int rootfd, const char *path, int flags, mode_t mode);
/* Same walk with no openat2 (exposed for tests of the fallback). */
int open_in_root_fallback(int rootfd, const char *path, int flags, mode_t mode);
/* Close every fd >= LOWEST (close_range, else a /proc/self/fd walk). */
int close_fds_from(int lowest);
/* Close every fd >= LOWEST but the (at most 16) fds of KEEP; negative ones are ignored. */
int close_fds_except(int lowest, const int *keep, size_t n_keep);
/* A bitmap of the fds open now below MAX (MAX bits, from /proc/self/fd). */
int fds_open_bitmap(unsigned long *bits, int max);
/*
 * Mark every fd >= LOWEST close-on-exec (close_range CLOSE_RANGE_CLOEXEC, else a
 * /proc/self/fd walk): before an exec, then clear the flag on the fds the program gets.
 */
int cloexec_fds_from(int lowest);
/* Parse a decimal integer of an exact type, rejecting sign, junk and overflow. */
int parse_uint64(const char *s, unsigned long long *ret);
int parse_int(const char *s, int *ret);
/*
 * The path of this program's binary on the host, to find files installed beside it: what
 * self_exe_set_path() said (a program that re-executed itself from a sealed copy knows the
 * host's path, which /proc/self/exe no longer names), else /proc/self/exe; NULL if unknown.
 */
const char *self_exe_path(void);
void self_exe_set_path(const char *path);
/*
 * A program that comes with brisk, into BUF: $ENV if set (it must be executable), else NAME
 * beside this binary (an installation), else BUILD_DIR/NAME beside its directory (the build
 * tree: runtime/ beside imagefs/, tools/, gpu/). 0; -ENOENT with BUF holding NAME alone, for a
 * caller that falls back to PATH or a directory of its own; -errno for $ENV.
 */
int companion_binary(const char *env, const char *name, const char *build_dir, char *buf,
		     size_t size);
/* MemAvailable of /proc/meminfo, in KiB. */
int mem_available_kib(unsigned long long *ret);
