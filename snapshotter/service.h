/* SPDX-License-Identifier: Apache-2.0 */
/* containerd's snapshots service (containerd.services.snapshots.v1.Snapshots) over the store. */
#pragma once

#include "grpc.h"
#include "store.h"

/* The method table; every method's userdata is the struct store. */
extern const struct grpc_method service_methods[];
extern const size_t service_n_methods;

struct lazy_ref;
/* A Prepare for a layer of a brisk image (lazy.h): mount it, commit it as REF's name, answer
 * AlreadyExists. LABELS are the checked labels of the request. */
void service_prepare_lazy(struct grpc_reply *reply, struct store *store, const char *parent,
			  struct json_object *labels, const struct lazy_ref *ref);
/* Whether a layer being mounted has KEY as its parent (which must stay until it is done). */
bool service_lazy_pending_child(const char *key);
/* At start: mark the empty layers of brisk images that a daemon before "empty" recorded. */
int service_lazy_mark_empty(struct store *store);

/* Shared by the methods (service.c, update.c): each answers the call. */
void service_update(const uint8_t *msg, size_t len, struct grpc_reply *reply, void *userdata);
void reply_empty(struct grpc_reply *reply);
void reply_info(struct grpc_reply *reply, const struct snap *snap);
void bad_request(struct grpc_reply *reply, const char *method);
/* Answer failure R of what FMT says (": strerror" is appended); unexpected ones are logged. */
void fail_io(struct grpc_reply *reply, int r, const char *fmt, ...) _printf_(3, 4);
/* KEY's snapshot, or NULL with NotFound answered. */
struct snap *lookup(struct grpc_reply *reply, struct store *store, const char *key);
