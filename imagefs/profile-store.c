/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Access profiles beside their image: an OCI artifact manifest tagged "sha256-HEX.profile"
 * (HEX: the index digest) whose one layer is the profile text. A tag derived from the digest
 * works for images named by tag and by digest alike, in directory stores and registries.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/json.h"
#include "imagefs-internal.h"

#define MAX_PROFILE (16u << 20)

static void profile_tag(const struct digest *index, char buf[DIGEST_HEX_SIZE + 32])
{
	char hex[DIGEST_HEX_SIZE + 1];

	snprintf(buf, DIGEST_HEX_SIZE + 32, "sha256-%s.profile", digest_format_hex(index, hex));
}

int imagefs_profile_put(struct imagefs_store *s, const struct digest *index, const void *data,
			size_t len)
{
	char tag[DIGEST_HEX_SIZE + 32], pd[DIGEST_STRING_SIZE], ed[DIGEST_STRING_SIZE];
	_cleanup_free_ char *json = NULL;
	struct digest d, empty;
	int r;

	if (len > MAX_PROFILE)
		return -EFBIG;
	if ((r = ifs_store_put_small_blob(s, data, len, &d)) < 0)
		return r;
	if ((r = ifs_store_put_small_blob(s, "{}", 2, &empty)) < 0)
		return r;
	r = asprintf(&json,
		     "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"artifactType\":\"%s\","
		     "\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":2},"
		     "\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}]}",
		     OCI_MEDIA_MANIFEST, IFS_MEDIA_PROFILE, OCI_MEDIA_EMPTY,
		     digest_format(&empty, ed), IFS_MEDIA_PROFILE, digest_format(&d, pd), len);
	if (r < 0) {
		json = NULL;
		return -ENOMEM;
	}
	profile_tag(index, tag);
	return s->ops->put_manifest(s, tag, json, strlen(json));
}

int imagefs_profile_get(struct imagefs_store *s, const struct digest *index, char **ret,
			size_t *ret_len)
{
	char tag[DIGEST_HEX_SIZE + 32];
	_cleanup_free_ char *json = NULL;
	_cleanup_json_ struct json_object *m = NULL;
	struct json_object *layers, *l;
	const char *mt, *dg;
	struct digest d;
	size_t len;
	int r;

	profile_tag(index, tag);
	if ((r = s->ops->get_manifest(s, tag, &json, &len)) < 0)
		return r;
	if (json_parse(json, len, &m) < 0 || json_get_array(m, "layers", &layers) < 0 ||
	    json_object_array_length(layers) < 1)
		return -EBADMSG;
	l = json_object_array_get_idx(layers, 0);
	if (json_get_string(l, "mediaType", &mt) < 0 || strcmp(mt, IFS_MEDIA_PROFILE) != 0 ||
	    json_get_string(l, "digest", &dg) < 0 || digest_parse(dg, &d) < 0)
		return -EBADMSG;
	return imagefs_store_read_blob(s, &d, MAX_PROFILE, (void **)ret, ret_len);
}
