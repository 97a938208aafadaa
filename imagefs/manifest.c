/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The manifest a tag names (FORMAT.md, "Images in a store"), written last by convert and by
 * push/pull. An image's is one that containerd takes as an image: an OCI image config (the
 * source's platform, else this host's; one rootfs.diff_id per layer) and as layers, under media
 * types containerd treats as layers, the index, its zstd copy (registries) and every pack; what the
 * converted image's own config says of how to run it (its "config": Entrypoint, Cmd, Env...) is
 * carried into that config, so the converted image runs the source's command. In a
 * registry each layer carries the annotations containerd passes to brisk-snapshotter as labels,
 * so that a pull mounts the image lazily where it would fetch and unpack layers. A snapshot's
 * keeps brisk's own small config and media types: nothing runs a snapshot as an image.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/cleanup.h"
#include "common/json.h"
#include "imagefs-internal.h"

/* the most bytes an image config may have */
#define MAX_CONFIG (16u << 20)

/* the environment an image gets when its config has none (as docker's and containerd's) */
#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

enum layer_kind { LAYER_INDEX, LAYER_INDEX_ZSTD, LAYER_PACK };

struct layer {
	enum layer_kind kind;
	struct digest digest;
	uint64_t size;
};

static const char *media_type(bool image, enum layer_kind kind)
{
	static const char *const types[2][3] = {
	    {IFS_MEDIA_INDEX, IFS_MEDIA_INDEX_ZSTD, IFS_MEDIA_PACK},
	    {IFS_LAYER_INDEX, IFS_LAYER_INDEX_ZSTD, IFS_LAYER_PACK},
	};

	return types[image][kind];
}

static int json_add(struct json_object *o, const char *key, struct json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int json_push(struct json_object *arr, struct json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_array_add(arr, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static struct json_object *digest_string(const struct digest *d)
{
	char ds[DIGEST_STRING_SIZE];

	return json_object_new_string(digest_format(d, ds));
}

/* {"mediaType", "digest", "size"[, "annotations": ANN (a reference taken)]} */
static struct json_object *descriptor(const char *mt, const struct digest *d, uint64_t size,
				      struct json_object *ann)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();

	if (!o || json_add(o, "mediaType", json_object_new_string(mt)) < 0 ||
	    json_add(o, "digest", digest_string(d)) < 0 ||
	    json_add(o, "size", json_object_new_int64((int64_t)size)) < 0 ||
	    (ann && json_add(o, "annotations", json_object_get(ann)) < 0))
		return NULL;
	return TAKE_PTR(o);
}

/* A remote store gets a zstd copy of the index beside it, which readers fetch instead: the
 * index is most of what a mount fetches before it can serve. */
static int put_index_zstd(struct imagefs_store *s, const struct imagefs_index *idx,
			  struct layer *ret)
{
	size_t len = imagefs_index_size(idx), cap = ZSTD_compressBound(len), z;
	_cleanup_free_ void *buf = malloc(cap);
	int r;

	if (!buf)
		return -ENOMEM;
	z = ZSTD_compress(buf, cap, imagefs_index_data(idx), len, 3);
	if (ZSTD_isError(z))
		return -EIO;
	if ((r = ifs_store_put_small_blob(s, buf, z, &ret->digest)) < 0)
		return r;
	ret->kind = LAYER_INDEX_ZSTD;
	ret->size = z;
	return 0;
}

/* The blobs the manifest lists, in order: the index, its zstd copy (remote stores), the packs. */
static int collect_layers(struct imagefs_store *s, const struct digest *index_digest,
			  const struct imagefs_index *idx, struct layer **ret, size_t *ret_n)
{
	uint32_t packs = imagefs_index_blob_count(idx);
	_cleanup_free_ struct layer *v = calloc((size_t)packs + 2, sizeof(*v));
	size_t n = 0;
	int r;

	if (!v)
		return -ENOMEM;
	v[n++] = (struct layer){LAYER_INDEX, *index_digest, imagefs_index_size(idx)};
	if (ifs_store_is_remote(s)) {
		if ((r = put_index_zstd(s, idx, &v[n])) < 0)
			return r;
		n++;
	}
	for (uint32_t i = 0; i < packs; i++, n++) {
		v[n].kind = LAYER_PACK;
		if ((r = imagefs_index_blob(idx, i, &v[n].digest, &v[n].size)) < 0)
			return r;
	}
	*ret = TAKE_PTR(v);
	*ret_n = n;
	return 0;
}

/* brisk's own fields, which every config has: {"format", "index", "chunkSize"} */
static int brisk_fields(struct json_object *c, const struct digest *index_digest,
			const struct imagefs_index *idx)
{
	int r;

	if ((r = json_add(c, "format", json_object_new_int((int)IFS_FORMAT_VERSION))) < 0 ||
	    (r = json_add(c, "index", digest_string(index_digest))) < 0)
		return r;
	return json_add(c, "chunkSize", json_object_new_int64(imagefs_index_chunk_size(idx)));
}

/* {"type": "layers", "diff_ids"}: each layer's digest as its diff_id (a brisk layer is no tar:
 * containerd only chains them into the names of its snapshots) */
static struct json_object *rootfs_object(const struct layer *l, size_t n)
{
	_cleanup_json_ struct json_object *o = json_object_new_object();
	struct json_object *ids;

	if (!o || json_add(o, "type", json_object_new_string("layers")) < 0 ||
	    json_add(o, "diff_ids", ids = json_object_new_array()) < 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (json_push(ids, digest_string(&l[i].digest)) < 0)
			return NULL;
	return TAKE_PTR(o);
}

/* How a container of the image runs: the source image's "config" (Entrypoint, Cmd, Env,
 * WorkingDir, User, Labels, ExposedPorts, Volumes, StopSignal...) as it is, with {"Env": [PATH]}
 * when it names no environment (as docker's and containerd's defaults). */
static struct json_object *runtime_config(struct json_object *source)
{
	_cleanup_json_ struct json_object *o = NULL;
	struct json_object *sc, *env;

	if (source && json_object_object_get_ex(source, "config", &sc) &&
	    json_object_is_type(sc, json_type_object)) {
		if (json_object_deep_copy(sc, &o, NULL) < 0)
			return NULL;
	} else if (!(o = json_object_new_object())) {
		return NULL;
	}
	if (json_object_object_get_ex(o, "Env", &env) && json_object_is_type(env, json_type_array))
		return TAKE_PTR(o);
	if (json_add(o, "Env", env = json_object_new_array()) < 0 ||
	    json_push(env, json_object_new_string(DEFAULT_PATH)) < 0)
		return NULL;
	return TAKE_PTR(o);
}

/* The source's string KEY, else DEF (NULL: none); added to C as KEY. */
static int carry_string(struct json_object *c, struct json_object *source, const char *key,
			const char *def)
{
	const char *v = NULL;

	if (!source || json_get_string(source, key, &v) < 0 || !*v)
		v = def;
	return v ? json_add(c, key, json_object_new_string(v)) : 0;
}

/* An OCI image config's fields: the layers, how to run it, the platform (the source's, else
 * this host's), when and by whom the source was made. */
static int oci_fields(struct json_object *c, const struct layer *l, size_t n,
		      struct json_object *source)
{
	int r;

	if ((r = json_add(c, "rootfs", rootfs_object(l, n))) < 0 ||
	    (r = json_add(c, "config", runtime_config(source))) < 0 ||
	    (r = carry_string(c, source, "architecture", ifs_oci_arch())) < 0 ||
	    (r = carry_string(c, source, "os", "linux")) < 0 ||
	    (r = carry_string(c, source, "variant", NULL)) < 0 ||
	    (r = carry_string(c, source, "created", NULL)) < 0)
		return r;
	return carry_string(c, source, "author", NULL);
}

/* Store the config; *RET its descriptor. */
static int put_config(struct imagefs_store *s, bool image, const struct digest *index_digest,
		      const struct imagefs_index *idx, const struct layer *l, size_t n,
		      struct json_object *source, struct json_object **ret)
{
	_cleanup_json_ struct json_object *c = json_object_new_object();
	struct digest cd;
	const char *json;
	int r;

	if (!c)
		return -ENOMEM;
	if ((r = brisk_fields(c, index_digest, idx)) < 0 ||
	    (image && (r = oci_fields(c, l, n, source)) < 0))
		return r;
	json = json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN |
						     JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!json)
		return -ENOMEM;
	if ((r = ifs_store_put_small_blob(s, json, strlen(json), &cd)) < 0)
		return r;
	*ret = descriptor(image ? OCI_MEDIA_CONFIG : IFS_MEDIA_CONFIG, &cd, strlen(json), NULL);
	return *ret ? 0 : -ENOMEM;
}

/* The labels brisk-snapshotter mounts the image by, for an image in a registry; NULL (and 0)
 * for other stores, whose images containerd does not pull. */
static int snapshot_annotations(const struct imagefs_store *s, const struct digest *index_digest,
				struct json_object **ret)
{
	_cleanup_json_ struct json_object *a = NULL;
	_cleanup_free_ char *store = NULL;
	int r;

	*ret = NULL;
	if (!ifs_store_is_remote(s))
		return 0;
	if (asprintf(&store, "registry:%s", s->location) < 0)
		return -ENOMEM;
	if (!(a = json_object_new_object()))
		return -ENOMEM;
	if ((r = json_add(a, IFS_ANNOTATION_STORE, json_object_new_string(store))) < 0 ||
	    (r = json_add(a, IFS_ANNOTATION_INDEX, digest_string(index_digest))) < 0)
		return r;
	*ret = TAKE_PTR(a);
	return 0;
}

static int add_layers(struct json_object *m, bool image, const struct layer *l, size_t n,
		      struct json_object *ann)
{
	struct json_object *layers = json_object_new_array();
	int r;

	if ((r = json_add(m, "layers", layers)) < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if ((r = json_push(layers, descriptor(media_type(image, l[i].kind), &l[i].digest,
						      l[i].size, ann))) < 0)
			return r;
	return 0;
}

int ifs_store_put_image(struct imagefs_store *s, const char *tag, const struct digest *index_digest,
			const struct imagefs_index *idx)
{
	return ifs_store_put_image_config(s, tag, index_digest, idx, NULL);
}

int ifs_store_put_image_config(struct imagefs_store *s, const char *tag,
			       const struct digest *index_digest, const struct imagefs_index *idx,
			       struct json_object *source_config)
{
	_cleanup_json_ struct json_object *m = json_object_new_object(), *ann = NULL;
	_cleanup_free_ struct layer *l = NULL;
	struct json_object *config = NULL;
	bool image = !ifs_index_is_snapshot(idx);
	const char *json;
	size_t n;
	int r;

	if (!m)
		return -ENOMEM;
	if ((r = json_add(m, "schemaVersion", json_object_new_int(2))) < 0 ||
	    (r = json_add(m, "mediaType", json_object_new_string(OCI_MEDIA_MANIFEST))) < 0 ||
	    (r = json_add(m, "artifactType",
			  json_object_new_string(ifs_index_artifact_type(idx)))) < 0)
		return r;
	if ((r = collect_layers(s, index_digest, idx, &l, &n)) < 0 ||
	    (r = put_config(s, image, index_digest, idx, l, n, source_config, &config)) < 0 ||
	    (r = json_add(m, "config", config)) < 0 ||
	    (image && (r = snapshot_annotations(s, index_digest, &ann)) < 0) ||
	    (r = add_layers(m, image, l, n, ann)) < 0)
		return r;
	json = json_object_to_json_string_ext(m, JSON_C_TO_STRING_PLAIN |
						     JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!json)
		return -ENOMEM;
	return s->ops->put_manifest(s, tag, json, strlen(json));
}

/* The config blob of the manifest S's tag names, parsed; NULL (and 0) when S names its image by
 * digest or the manifest has no config. */
static int source_config_of(struct imagefs_store *s, struct json_object **ret)
{
	_cleanup_json_ struct json_object *m = NULL, *c = NULL;
	_cleanup_free_ char *json = NULL;
	_cleanup_free_ void *data = NULL;
	struct json_object *desc;
	const char *dg;
	struct digest d;
	uint64_t size;
	size_t len;
	int r;

	*ret = NULL;
	if (s->has_digest)
		return 0;
	if ((r = s->ops->get_manifest(s, s->tag ?: "latest", &json, &len)) < 0)
		return r;
	if (json_parse(json, len, &m) < 0)
		return -EBADMSG;
	if (json_get_object(m, "config", &desc) < 0)
		return 0;
	if (json_get_string(desc, "digest", &dg) < 0 || digest_parse(dg, &d) < 0 ||
	    json_get_uint64(desc, "size", &size) < 0 || size > MAX_CONFIG)
		return -EBADMSG;
	if ((r = imagefs_store_read_blob(s, &d, (size_t)size, &data, &len)) < 0)
		return r;
	if (json_parse(data, len, &c) < 0 || !json_object_is_type(c, json_type_object))
		return -EBADMSG;
	*ret = TAKE_PTR(c);
	return 0;
}

int ifs_store_put_image_from(struct imagefs_store *s, const char *tag,
			     const struct digest *index_digest, const struct imagefs_index *idx,
			     struct imagefs_store *src)
{
	_cleanup_json_ struct json_object *c = NULL;
	int r;

	if ((r = source_config_of(src, &c)) < 0)
		return r;
	return ifs_store_put_image_config(s, tag, index_digest, idx, c);
}
