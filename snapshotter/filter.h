/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd's filter syntax, as List receives it: each string is a list of conditions joined by
 * ',' (all must hold), and a snapshot matches when any string does. A condition is a field path
 * (name, parent, kind, labels.KEY or labels."KEY") alone (the field is set), or followed by
 * ==, != or ~= (a POSIX extended regular expression) and a value, bare or "quoted" (\" and \\
 * escaped). containerd's metadata layer sends one to find a layer a remote snapshotter has:
 * labels."containerd.io/snapshot.ref"==sha256:...,parent=="".
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "store.h"

struct filter;

/* Parse the N strings of FILTERS; -EINVAL with *RET_ERR naming what is wrong. */
int filter_parse(char *const *filters, size_t n, struct filter **ret, char **ret_err);
struct filter *filter_free(struct filter *f);
/* Whether SNAP matches (an empty filter matches everything). */
bool filter_match(const struct filter *f, const struct snap *snap);
