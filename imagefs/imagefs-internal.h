/* SPDX-License-Identifier: Apache-2.0 */
/* imagefs internals: the on-disk index layout (FORMAT.md) and the pieces brisk-image's
 * operations share. Only imagefs/ and its tests include this. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imagefs.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the imagefs index is little-endian and read in place; big-endian hosts are not supported"
#endif

#define _fallthrough_ __attribute__((fallthrough))

#define IFS_MAGIC "BRISKIDX"
#define IFS_FORMAT_VERSION 1u
#define IFS_DEFAULT_CHUNK_SIZE (1u << 20)
#define IFS_MAX_CHUNK_SIZE (64u << 20)
#define IFS_INLINE_MAX 64u
#define IFS_PACK_TARGET (16u << 20)
#define IFS_MAX_INDEX_SIZE (1ull << 32)

#define IFS_MEDIA_INDEX "application/vnd.brisk.image.index.v1"
/* the same index, zstd-compressed: a registry image carries both, readers fetch this one */
#define IFS_MEDIA_INDEX_ZSTD "application/vnd.brisk.image.index.v1+zstd"
#define IFS_MEDIA_PACK "application/vnd.brisk.image.pack.v1"
#define IFS_MEDIA_CONFIG "application/vnd.brisk.image.config.v1+json"
/* an image's manifest as containerd reads an image (FORMAT.md, "Images in a store"): the same
 * blobs under media types containerd takes for layers, and an OCI image config; snapshots and
 * images written before keep the ones above, and readers take both */
#define IFS_LAYER_INDEX "application/vnd.oci.image.layer.brisk.index.v1"
#define IFS_LAYER_INDEX_ZSTD "application/vnd.oci.image.layer.brisk.index.v1+zstd"
#define IFS_LAYER_PACK "application/vnd.oci.image.layer.brisk.pack.v1"
#define OCI_MEDIA_CONFIG "application/vnd.oci.image.config.v1+json"
/* the layer annotations containerd passes to brisk-snapshotter as snapshot labels */
#define IFS_ANNOTATION_STORE "containerd.io/snapshot/brisk.store"
#define IFS_ANNOTATION_INDEX "containerd.io/snapshot/brisk.index"
#define IFS_ARTIFACT_TYPE "application/vnd.brisk.image.v1"
#define IFS_MEDIA_PROFILE "application/vnd.brisk.image.profile.v1"
#define OCI_MEDIA_EMPTY "application/vnd.oci.empty.v1+json"
#define OCI_MEDIA_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MEDIA_INDEX "application/vnd.oci.image.index.v1+json"
#define DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

struct ifs_section {
	uint64_t off;	/* from the start of the file, 8-aligned */
	uint64_t count; /* records (strings: bytes) */
};

struct ifs_header {
	char magic[8];
	uint32_t version;
	uint32_t header_size;
	uint64_t file_size;
	uint32_t chunk_size;
	uint32_t flags; /* none defined: must be 0 */
	uint32_t root;
	uint32_t reserved0;
	struct ifs_section inodes;
	struct ifs_section dirents;
	struct ifs_section chunk_refs;
	struct ifs_section chunks;
	struct ifs_section blobs;
	struct ifs_section xattrs;
	struct ifs_section strings;
	uint64_t reserved[8];
};
_Static_assert(sizeof(struct ifs_header) == 216, "index header layout");

enum {
	IFS_INODE_INLINE = 1u << 0, /* regular file: data_first/data_count are a string range */
};

struct ifs_inode {
	uint32_t mode;
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint64_t size;
	int64_t mtime_sec;
	int64_t ctime_sec;
	uint32_t mtime_nsec;
	uint32_t ctime_nsec;
	uint32_t rdev_major;
	uint32_t rdev_minor;
	uint32_t parent;
	uint32_t flags;
	uint32_t xattr_first;
	uint32_t xattr_count;
	/* directory: dirents; regular: chunk_refs (or strings when INLINE); symlink: strings */
	uint64_t data_first;
	uint64_t data_count;
};
_Static_assert(sizeof(struct ifs_inode) == 88, "inode record layout");

struct ifs_dirent {
	uint64_t name_off;
	uint32_t name_len;
	uint32_t ino;
};
_Static_assert(sizeof(struct ifs_dirent) == 16, "dirent layout");

struct ifs_chunk_ref {
	uint64_t file_off;
	uint32_t chunk;
	uint32_t reserved;
};
_Static_assert(sizeof(struct ifs_chunk_ref) == 16, "chunk ref layout");

struct ifs_chunk {
	uint8_t digest[32];
	uint64_t blob_off;
	uint32_t blob;
	uint32_t size;
	uint32_t csize;
	uint32_t compression;
};
_Static_assert(sizeof(struct ifs_chunk) == 56, "chunk layout");

struct ifs_blob {
	uint8_t digest[32];
	uint64_t size;
};
_Static_assert(sizeof(struct ifs_blob) == 40, "blob layout");

struct ifs_xattr {
	uint64_t name_off;
	uint64_t value_off;
	uint32_t name_len;
	uint32_t value_len;
};
_Static_assert(sizeof(struct ifs_xattr) == 24, "xattr layout");

/* Byte order of names (dirents, xattrs): memcmp of the common prefix, then the shorter first. */
int ifs_name_cmp(const char *a, size_t alen, const char *b, size_t blen);
/* Why the last imagefs_index_open_*() or imagefs_index_check() of this thread refused an index
 * with -EUCLEAN: which field of which record ("inode 7: link count (nlink) 3 where ..."). */
const char *ifs_index_error(void);
/* Record that account (printf-style) and return -EUCLEAN. */
int ifs_index_bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- hash map (open addressing, linear probing) --------------------------------------- */

struct ifs_hmap {
	struct ifs_hslot {
		uint64_t hash;
		void *val;
	} * slots;
	size_t cap; /* power of two */
	size_t n;
};

typedef bool (*ifs_hmap_eq_t)(const void *val, const void *key);
uint64_t ifs_hash(const void *data, size_t len, uint64_t seed);
void *ifs_hmap_get(const struct ifs_hmap *m, uint64_t hash, ifs_hmap_eq_t eq, const void *key);
int ifs_hmap_put(struct ifs_hmap *m, uint64_t hash, void *val);
/* Remove the entry holding VAL (pointer identity). */
void ifs_hmap_del(struct ifs_hmap *m, uint64_t hash, const void *val);
void ifs_hmap_done(struct ifs_hmap *m);

/* ---- the tree being built by convert ---------------------------------------------------- */

struct ifs_bxattr {
	char *name;
	void *value;
	size_t len;
};

struct ifs_bref {
	uint64_t file_off;
	uint32_t chunk;
};

struct ifs_bdentry;

struct ifs_bnode {
	uint32_t mode, uid, gid, rdev_major, rdev_minor;
	uint64_t size;
	struct timespec mtime, ctime;
	char *symlink;
	struct ifs_bxattr *xattrs;
	size_t n_xattrs;
	void *inline_data;
	struct ifs_bref *refs;
	size_t n_refs;
	struct ifs_bdentry **children; /* directories; unordered, NULLs are holes */
	size_t n_children, cap_children, live_children;
	struct ifs_bnode *parent; /* directories */
	unsigned links;		  /* dentries pointing here */
	uint32_t ino;		  /* assigned when written */
	bool numbered;
};

struct ifs_bdentry {
	char *name;
	size_t name_len;
	struct ifs_bnode *parent;
	struct ifs_bnode *node;
	size_t slot;	/* position in parent->children */
	unsigned layer; /* the layer that created it */
};

struct ifs_tree {
	struct ifs_bnode *root;
	struct ifs_hmap dentries; /* (parent, name) -> dentry */
	unsigned layer;
	uint64_t n_nodes;
};

int ifs_tree_init(struct ifs_tree *t);
void ifs_tree_done(struct ifs_tree *t);
struct ifs_bnode *ifs_bnode_new(uint32_t mode);
void ifs_bnode_unref(struct ifs_bnode *n);
struct ifs_bdentry *ifs_tree_lookup(struct ifs_tree *t, struct ifs_bnode *dir, const char *name,
				    size_t len);
/* Walk the parent directories of the normalized relative PATH, creating missing ones;
 * -ELOOP when one is a symlink, -ENOTDIR when one is something else. Sets *RET_NAME to the
 * last component. */
int ifs_tree_walk_parent(struct ifs_tree *t, const char *path, struct ifs_bnode **ret_dir,
			 const char **ret_name);
/* Resolve PATH (no symlinks followed anywhere): -ENOENT, -ELOOP. */
int ifs_tree_resolve(struct ifs_tree *t, const char *path, struct ifs_bnode **ret);
/* Link NODE as NAME in DIR, replacing what was there (a directory over a directory keeps its
 * children and takes the new attributes). Takes a reference to NODE. */
int ifs_tree_link(struct ifs_tree *t, struct ifs_bnode *dir, const char *name,
		  struct ifs_bnode *node);
int ifs_tree_unlink(struct ifs_tree *t, struct ifs_bnode *dir, const char *name);
/* Opaque directory: remove the entries of DIR that lower layers created. */
void ifs_tree_make_opaque(struct ifs_tree *t, struct ifs_bnode *dir);
/* Normalize a tar entry name: strip "./" and trailing "/", collapse "//". -EINVAL for absolute
 * paths and ".." components, -ENAMETOOLONG for a component of more than 255 bytes; "" is the
 * root. */
int ifs_path_normalize(const char *in, char **ret);

/* ---- chunk writer (dedup, compression, spool, packs) ---------------------------------- */

struct ifs_chunker;

struct ifs_bchunk {
	struct digest digest;
	uint32_t size;
	uint32_t csize;
	uint32_t compression;
	bool in_store; /* already in a pack blob of the store (dedup against other images) */
	bool verified; /* in_store: its bytes there were read and match its digest */
	bool placed;
	uint64_t spool_off;
	struct digest blob;
	uint64_t blob_off;
	uint64_t blob_size;
	uint32_t blob_idx; /* when written */
	uint32_t idx;	   /* position in the written chunk table */
};

int ifs_chunker_new(int spool_dirfd, uint32_t chunk_size, int level, struct ifs_chunker **ret);
struct ifs_chunker *ifs_chunker_free(struct ifs_chunker *c);
/* Add the chunk DATA[LEN]; *RET_CHUNK is its number (deduplicated). A chunk known from an index
 * of the store is reused only once its bytes there, read and decoded, match its digest (and its
 * pack has the size the index says); else DATA is stored anew. */
int ifs_chunker_add(struct ifs_chunker *c, const void *data, size_t len, uint32_t *ret_chunk);
/* Make the chunks of IDX, stored in its packs in S, known for dedup. */
int ifs_chunker_add_known(struct ifs_chunker *c, struct imagefs_store *s,
			  const struct imagefs_index *idx);
struct ifs_bchunk *ifs_chunker_get(struct ifs_chunker *c, uint32_t n);
uint32_t ifs_chunker_count(const struct ifs_chunker *c);
uint32_t ifs_chunker_chunk_size(const struct ifs_chunker *c);
/* Copy chunk N into the current pack (staged as files in the directory given to
 * ifs_chunker_new()), rotating packs at the target size; numbers it in the output table. */
int ifs_chunker_place(struct ifs_chunker *c, uint32_t n);
/* Close the last pack. */
int ifs_chunker_finish(struct ifs_chunker *c);
uint32_t ifs_chunker_placed_count(const struct ifs_chunker *c);
/* The blobs the placed chunks live in: new packs (staged in the chunker's directory under
 * their hex digest) and packs of other images already in the store. */
size_t ifs_chunker_blob_count(const struct ifs_chunker *c);
void ifs_chunker_blob(const struct ifs_chunker *c, size_t i, struct digest *ret, uint64_t *size,
		      bool *is_new);
uint64_t ifs_chunker_packed_bytes(const struct ifs_chunker *c);

/* Serialise the tree (chunks placed in inode order on the way) into an index buffer. */
int ifs_index_write(struct ifs_tree *t, struct ifs_chunker *c, uint32_t chunk_size, void **ret,
		    size_t *ret_len);

/* Add DATA[LEN], bytes [OFF, OFF + LEN) of the regular file N, as a chunk (nothing when all
 * zero: a hole) and reference it from N. */
int ifs_bnode_add_chunk(struct ifs_chunker *c, struct ifs_bnode *n, uint64_t off, const void *data,
			size_t len, struct imagefs_convert_stats *st);

/* ---- snapshots (snapshot.c) ------------------------------------------------------------ */

#define IFS_SNAPSHOT_META "brisk-snapshot.json"
#define IFS_ARTIFACT_SNAPSHOT "application/vnd.brisk.snapshot.v1"

/* Add the files of the checkpoint image directory DIR (CRIU images and brisk-snapshot.json;
 * regular files and directories only) to the tree. */
int ifs_snapshot_apply(struct ifs_tree *t, struct ifs_chunker *c, const char *dir,
		       struct imagefs_convert_stats *st);
/*
 * A snapshot's tree holds nothing but regular files and directories, none setuid or setgid,
 * and no xattrs (what push-snapshot stores): a pull writes nothing else. -EPERM, logged with
 * the path, otherwise.
 */
int ifs_snapshot_index_check(const struct imagefs_index *idx);
/* Whether the tree IDX holds is a snapshot (brisk-snapshot.json at its root). */
bool ifs_index_is_snapshot(const struct imagefs_index *idx);
/* The artifactType of IDX's manifest: IFS_ARTIFACT_SNAPSHOT or IFS_ARTIFACT_TYPE. */
const char *ifs_index_artifact_type(const struct imagefs_index *idx);

/* ---- what registries answer (registry-auth.c) ------------------------------------------ */

/* Value of KEY="..." in a WWW-Authenticate challenge (NULL: absent). */
char *ifs_challenge_param(const char *challenge, const char *key);
/* The token of a token endpoint's JSON answer ("token" or "access_token"): -EBADMSG. */
int ifs_token_parse(const char *body, size_t len, char **ret);
/* A one-line account of an error body: the distribution spec's {"errors":[{code, message}]},
 * else its first line if it is text, else empty. */
void ifs_registry_error_text(const char *body, size_t len, char *buf, size_t size);
/* Credentials for HOST[:PORT] in a docker-style auth JSON: -ENOENT none, -EBADMSG malformed. */
int ifs_registry_auth_parse(const char *json, size_t len, const char *host, char **ret_user,
			    char **ret_pass);
/* Search the user's auth files (see registry-auth.c) for HOST: -ENOENT none. */
int ifs_registry_auth_find(const char *host, char **ret_user, char **ret_pass, char **ret_source);
/* The index digest an image manifest names: -EBADMSG, -EMEDIUMTYPE when it names none. */
int ifs_manifest_index(const char *json, size_t len, struct digest *ret);
/* The digest of the zstd copy of its index an image manifest names: -ENOENT when none. */
int ifs_manifest_index_zstd(const char *json, size_t len, struct digest *ret);

/* ---- OCI sources ---------------------------------------------------------------------- */

struct ifs_layer {
	char *media_type;
	struct digest digest;
	uint64_t size;
};

struct json_object;

struct ifs_oci_image {
	int blobs_fd; /* DIR/blobs/sha256 */
	char *tmpdir; /* extracted oci-archive or a registry's spool, removed on free */
	struct ifs_layer *layers;
	size_t n_layers;
	bool has_config;
	struct digest config_digest;
	uint64_t config_size;
	/* the image's config blob, digest checked (NULL: the manifest names none) */
	struct json_object *config;
	/* registry sources (source-registry.c): where the layers are fetched from, one at a time,
	 * into blobs_fd by ifs_oci_layer_fetch() */
	struct imagefs_store *remote;
	char *remote_ref;
};

/* SRC: oci:, oci-archive: or registry: (OPTS: the registry's store options, may be NULL). */
int ifs_oci_open(const char *src, const struct imagefs_store_options *opts,
		 struct ifs_oci_image **ret);
void ifs_oci_free(struct ifs_oci_image *img);
/* Make layer I readable in blobs_fd (a registry source fetches it, its digest checked);
 * ifs_oci_layer_release() drops it again. Nothing to do for local sources. */
int ifs_oci_layer_fetch(struct ifs_oci_image *img, size_t i, bool progress);
void ifs_oci_layer_release(struct ifs_oci_image *img, size_t i);
/* The platform this host runs, as OCI (Go's GOARCH) names it, from uname(2): "amd64". */
const char *ifs_oci_arch(void);
/* The descriptor of the image for this host (linux/ifs_oci_arch()) in an image index or
 * docker manifest list; an index of one image without a platform is that image. A logged
 * -ENOENT naming the platforms the index has when ours is not one of them. */
int ifs_oci_pick_platform(struct json_object *index, const char *what, struct json_object **ret);
/* Fill IMG's layers and config descriptor from the image manifest M (WHAT names it in
 * messages); logs. */
int ifs_oci_manifest_parse(struct ifs_oci_image *img, struct json_object *m, const char *what);
/* Parse the config blob DATA[LEN] (its digest checked by the caller) into IMG->config: a
 * logged -EBADMSG when it is not a JSON object or its "config" is not one. */
int ifs_oci_config_parse(struct ifs_oci_image *img, const char *data, size_t len);
/* registry:HOST[:PORT]/REPO[:TAG|@DIGEST] (source-registry.c): resolve the manifest for this
 * host's platform, fetch the config; IMG's layers are fetched later, one at a time. */
int ifs_source_registry_open(const char *ref, const struct imagefs_store_options *opts,
			     struct ifs_oci_image *img);
int ifs_source_registry_fetch_layer(struct ifs_oci_image *img, size_t i, bool progress);
/* Apply one layer (streamed with libarchive, its digest checked) to the tree. */
int ifs_layer_apply(struct ifs_tree *t, struct ifs_chunker *c, int blobs_fd,
		    const struct ifs_layer *l, struct imagefs_convert_stats *st, bool progress,
		    unsigned layer_no, unsigned n_layers);

/* ---- stores --------------------------------------------------------------------------- */

struct ifs_store_ops {
	bool remote; /* reached over the network (a registry), not a local directory */
	int (*has_blob)(struct imagefs_store *s, const struct digest *d);
	int (*read_range)(struct imagefs_store *s, const struct digest *d, uint64_t off, size_t len,
			  void *buf);
	/* Write the whole blob to FD: through ifs_store_get_blob(), which bounds its size. */
	int (*get_blob)(struct imagefs_store *s, const struct digest *d, int fd);
	/* Store the file NAME in DIRFD (size SIZE, digest D, checked by the caller). May consume
	 * the file (rename). */
	int (*put_blob)(struct imagefs_store *s, const struct digest *d, int dirfd,
			const char *name, uint64_t size);
	int (*get_manifest)(struct imagefs_store *s, const char *tag, char **ret, size_t *ret_len);
	int (*put_manifest)(struct imagefs_store *s, const char *tag, const char *json, size_t len);
	/* Index digests of the images tagged in the store (dedup candidates); may be unsupported.
	 */
	int (*list_indexes)(struct imagefs_store *s, struct digest **ret, size_t *ret_n);
	/* A directory for staging files that put_blob can rename from. */
	int (*staging_dir)(struct imagefs_store *s, char **ret_path);
	void (*free)(struct imagefs_store *s);
};

struct imagefs_store {
	const struct ifs_store_ops *ops;
	char *spec;	/* as opened (ifs_store_reopen) */
	char *location; /* the spec without its kind, tag and digest: PATH, HOST[:PORT]/REPO */
	char *tag;
	bool has_digest;
	struct digest digest;
	struct imagefs_store_options opts;
	/* the zstd copy of index INDEX_ZSTD_OF, when the manifest that named it names one */
	bool has_index_zstd;
	struct digest index_zstd_of, index_zstd;
	/* the sizes that manifest declares for them (0: none declared) */
	uint64_t index_size, index_zstd_size;
	/* the most bytes the blob get_blob is fetching may have (0: no bound); set by
	 * ifs_store_get_blob() for the length of the call */
	uint64_t blob_max;
	/* transfers in progress stop (-ECANCELED) once this is true; NULL: never */
	const atomic_bool *cancel;
	void *priv;
	/* the store's own account of its last failure ("registry 'URL': PUT PATH: HTTP 500
	 * (CODE: message)"), or empty */
	char error[512];
	/* if set, read_range may call it as [off, off + GOT) of the range arrives in its buffer
	 * (called from the reading thread; the registry does, the directory store need not) */
	void (*range_progress)(void *arg, size_t got);
	void *range_progress_arg;
	/* if set, get_blob of a registry shows it each piece of a 2xx body as it is written:
	 * bytes [OFF, OFF + LEN) of the blob (OFF 0 again when the request starts over) */
	void (*blob_tap)(void *arg, uint64_t off, const void *data, size_t len);
	void *blob_tap_arg;
};

int ifs_store_dir_open(struct imagefs_store *s, const char *path);
/* For messages: the store's account of the last failure when it has one, else strerror(-R). */
const char *ifs_store_strerror(const struct imagefs_store *s, int r);
int ifs_store_registry_open(struct imagefs_store *s, const char *ref);
/* The index digest the manifest tagged TAG lists: -ENOENT, -EMEDIUMTYPE if not an image. */
int ifs_store_manifest_index(struct imagefs_store *s, const char *tag, struct digest *ret);
/* Fetch index D, check its digest and structure, open it. */
/* The index in FD (a file), checked: its bytes against D, then its structure. -EBADMSG when
 * the bytes are not D's, -EUCLEAN when their structure is wrong (ifs_index_error() says how),
 * -errno else; logs nothing. */
int ifs_index_from_fd(int fd, const struct digest *d, struct imagefs_index **ret);
bool ifs_store_is_remote(const struct imagefs_store *s);
/* The whole blob D into FD (a file), at most MAX bytes (its declared size; 0: no bound): a
 * registry stops reading past it, and -EFBIG is returned. Logs nothing. */
int ifs_store_get_blob(struct imagefs_store *s, const struct digest *d, uint64_t max, int fd);
int ifs_store_load_index(struct imagefs_store *s, const struct digest *d,
			 struct imagefs_index **ret);
/* Put the manifest (config + index + packs) for IDX under TAG (manifest.c). */
int ifs_store_put_image(struct imagefs_store *s, const char *tag, const struct digest *index_digest,
			const struct imagefs_index *idx);
/* The same, the image's OCI config carrying what SOURCE_CONFIG (the converted image's own
 * config blob; NULL: none) says of how to run it: "config" (Entrypoint, Cmd, Env, WorkingDir,
 * User, Labels, ExposedPorts...), the platform, "created" and "author". */
int ifs_store_put_image_config(struct imagefs_store *s, const char *tag,
			       const struct digest *index_digest, const struct imagefs_index *idx,
			       struct json_object *source_config);
/* The same for a copy of the image SRC's tag names (push/pull): its config carried as it is
 * in SRC (none when SRC names the image by its index digest). */
int ifs_store_put_image_from(struct imagefs_store *s, const char *tag,
			     const struct digest *index_digest, const struct imagefs_index *idx,
			     struct imagefs_store *src);
/* A registry's manifest REF (a tag or a digest) with ACCEPT as the Accept header: the body
 * (at most 4 MiB) and the Content-Type it came with (*RET_TYPE NULL when none). -ENOENT (404),
 * -EACCES, -EIO..., with s->error saying what the registry answered; -EPROTONOSUPPORT when S
 * is not a registry. Logs nothing. */
int ifs_registry_get_manifest(struct imagefs_store *s, const char *ref, const char *accept,
			      char **ret, size_t *ret_len, char **ret_type);
/* Read every chunk of IDX from S, decode it and check it against its digest: 0 (*RET_BYTES,
 * which may be NULL, their bytes), or a logged -EBADMSG naming the first chunk whose bytes do
 * not match, -errno when one cannot be read. */
int ifs_verify_chunks(struct imagefs_store *s, const struct imagefs_index *idx,
		      uint64_t *ret_bytes);
/* Read chunk C of IDX from the store and decode it into DST (digest checked). */
/* Another handle on the store S was opened on (its own connection), with S's options. */
int ifs_store_reopen(const struct imagefs_store *s, struct imagefs_store **ret);
/* The packs an export reads, fetched ahead (spool.c): one unnamed file per pack, -1 for packs
 * it needs nothing of. */
struct ifs_spool_job;
struct ifs_spool {
	int *fds;
	uint32_t n;
	struct ifs_spool_job *job; /* the fetch, going on in threads */
};
/* Start fetching every chunk's bytes of IDX from S (its spec and options: each thread opens its
 * own) into files in DIR, in parallel; nothing (and 0) for a store that is not remote. */
int ifs_spool_fetch(struct imagefs_store *s, const struct imagefs_index *idx, const char *dir,
		    struct ifs_spool *ret);
/* LEN bytes at OFF of pack BLOB from the spool, once fetched; -ENOENT where it has none, the
 * fetch's error where it failed. */
int ifs_spool_read(const struct ifs_spool *sp, uint32_t blob, uint64_t off, size_t len, void *buf);
/* Stop what is still in flight, wait for the threads, close the files. */
void ifs_spool_done(struct ifs_spool *sp);

int ifs_read_chunk(struct imagefs_store *s, const struct imagefs_index *idx,
		   const struct imagefs_chunk *c, void *cbuf, size_t cbuf_size, void *dst);
/* Store a small blob from memory (skipped when the store has it); *RET is its digest. */
int ifs_store_put_small_blob(struct imagefs_store *s, const void *data, size_t len,
			     struct digest *ret);
/* Stage a file for put_blob: open a temp file in the staging dir. */
int ifs_staging_open(struct imagefs_store *s, char **ret_dir, char **ret_name, int *ret_fd);
