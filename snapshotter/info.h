/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Between the wire and the store: checking what containerd sent (keys, labels) and building the
 * Info and Mount messages of the answers.
 */
#pragma once
#include <stddef.h>

#include "layout.h"
#include "snapshots.pb-c.h"
#include "store.h"

/* Longest key, and longest label key plus value (containerd's limit for labels) */
#define SNAP_KEY_MAX 4096
#define SNAP_LABEL_MAX 4096

/* A key must be non-empty UTF-8 of at most SNAP_KEY_MAX bytes; -EINVAL with a message in ERR. */
int check_key(const char *what, const char *key, char **ret_err);
/*
 * Labels as a JSON object of strings, after checking each pair; -EINVAL with ERR set. Every
 * message's map entry has the same layout (checked in info.c), so any of them may be passed.
 */
int labels_from_entries(void *const *entries, size_t n, struct json_object **ret, char **ret_err);

/* An Info message for SNAP; free with info_done(). */
int info_build(const struct snap *snap, Snap__Info *ret);
void info_done(Snap__Info *info);

/* A Mount message of M (pointing into M). */
void mount_message(const struct layout_mount *m, Snap__Mount *ret);
