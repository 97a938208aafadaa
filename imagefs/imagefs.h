/* SPDX-License-Identifier: Apache-2.0 */
/*
 * imagefs: the lazy, content-addressed image filesystem. This is the module's only public
 * header. An image is an index (one mmap-able file addressed by its sha256, see FORMAT.md)
 * plus pack blobs holding its chunks; both live in a store (a directory or an OCI registry).
 *
 * Every function that can fail returns >= 0 or -errno. Inode numbers are index record numbers;
 * the root is IMAGEFS_ROOT_INO (a FUSE daemon adds 1, FUSE's root being 1).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/digest.h"

#define IMAGEFS_ROOT_INO 0u

/* ---- index reader ---------------------------------------------------------------------- */

struct imagefs_index;

struct imagefs_stat {
	uint32_t ino;
	uint32_t mode;
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint32_t rdev_major;
	uint32_t rdev_minor;
	uint32_t parent; /* directories: the parent directory (the root is its own) */
	uint64_t size;
	struct timespec mtime;
	struct timespec ctime;
	bool inline_data; /* regular files whose bytes live in the index */
};

/* Where one piece of a regular file lives: bytes [file_offset, file_offset + size) of the file
 * are the uncompressed bytes of the chunk, stored at [blob_offset, + compressed_size) of pack
 * blob number BLOB (imagefs_index_blob()). Ranges of a file no chunk covers read as zeros. */
struct imagefs_chunk {
	struct digest digest; /* sha256 of the uncompressed bytes */
	uint64_t file_offset;
	uint64_t blob_offset;
	uint32_t blob;
	uint32_t size;
	uint32_t compressed_size;
	uint32_t compression; /* IMAGEFS_COMPRESSION_* */
	uint32_t chunk;	      /* index in the image-wide chunk table */
};

enum {
	IMAGEFS_COMPRESSION_NONE = 0,
	IMAGEFS_COMPRESSION_ZSTD = 1,
};

/* Open an index held in memory (not copied: DATA must outlive the index) or mapped from FD.
 * Only the header is checked here; every accessor checks what it reads against the file size,
 * so a crafted index cannot make them read out of bounds. imagefs_index_check() does the full
 * structural validation (sorted entries, a tree without cycles, consistent link counts).
 * A structural fault, of the header or found by the check, is -EUCLEAN. */
int imagefs_index_open_buffer(const void *data, size_t size, struct imagefs_index **ret);
int imagefs_index_open_fd(int fd, struct imagefs_index **ret);
struct imagefs_index *imagefs_index_free(struct imagefs_index *idx);
static inline void imagefs_index_freep(struct imagefs_index **p)
{
	*p = imagefs_index_free(*p);
}
int imagefs_index_check(struct imagefs_index *idx);

uint32_t imagefs_index_inode_count(const struct imagefs_index *idx);
uint32_t imagefs_index_chunk_size(const struct imagefs_index *idx);
uint32_t imagefs_index_chunk_count(const struct imagefs_index *idx);
uint32_t imagefs_index_blob_count(const struct imagefs_index *idx);
size_t imagefs_index_size(const struct imagefs_index *idx);
const void *imagefs_index_data(const struct imagefs_index *idx);

int imagefs_index_getattr(const struct imagefs_index *idx, uint32_t ino, struct imagefs_stat *ret);
/* Binary search of DIR's sorted entries: 0 and *RET_INO, -ENOENT, -ENOTDIR. */
int imagefs_index_lookup(const struct imagefs_index *idx, uint32_t dir, const char *name,
			 size_t name_len, uint32_t *ret_ino);
/* Entry number POS of DIR ("." and ".." are not stored): 1 and the entry, 0 past the end.
 * NAME points into the index and is not NUL-terminated. */
int imagefs_index_readdir(const struct imagefs_index *idx, uint32_t dir, uint64_t pos,
			  const char **ret_name, size_t *ret_name_len, uint32_t *ret_ino);
int imagefs_index_readlink(const struct imagefs_index *idx, uint32_t ino, const char **ret,
			   size_t *ret_len);
/* Xattr number POS of INO: 1 and name (not NUL-terminated) and value, 0 past the end. */
int imagefs_index_listxattr(const struct imagefs_index *idx, uint32_t ino, uint32_t pos,
			    const char **ret_name, size_t *ret_name_len, const void **ret_value,
			    size_t *ret_value_len);
/* Whether any inode of the image has an xattr. */
bool imagefs_index_has_xattrs(const struct imagefs_index *idx);
/* -ENODATA when INO has no such xattr. */
int imagefs_index_getxattr(const struct imagefs_index *idx, uint32_t ino, const char *name,
			   const void **ret_value, size_t *ret_len);
/* The bytes of a regular file with inline data: -ENODATA if its data is in chunks. */
int imagefs_index_inline_data(const struct imagefs_index *idx, uint32_t ino, const void **ret,
			      size_t *ret_len);
/* Chunks of a regular file, sorted by file offset: the count, and chunk number POS. */
int imagefs_index_file_chunk_count(const struct imagefs_index *idx, uint32_t ino,
				   uint32_t *ret_count);
int imagefs_index_file_chunk(const struct imagefs_index *idx, uint32_t ino, uint32_t pos,
			     struct imagefs_chunk *ret);
/* The first chunk of INO that ends after OFFSET (binary search): its position, or the count
 * when none does (the rest of the file is a hole). */
int imagefs_index_file_chunk_find(const struct imagefs_index *idx, uint32_t ino, uint64_t offset,
				  uint32_t *ret_pos);
/* Entry number I of the image-wide chunk table (file_offset is 0). */
int imagefs_index_chunk(const struct imagefs_index *idx, uint32_t i, struct imagefs_chunk *ret);
int imagefs_index_blob(const struct imagefs_index *idx, uint32_t i, struct digest *ret_digest,
		       uint64_t *ret_size);

/* Decompress one chunk read from its blob (SRC, compressed_size bytes) into DST (size bytes)
 * and check its digest: -EBADMSG when it does not match. */
int imagefs_chunk_decode(const struct imagefs_chunk *c, const void *src, void *dst);

/* ---- stores ---------------------------------------------------------------------------- */

/*
 * "dir:PATH[:TAG][@sha256:HEX]" or "registry:HOST[:PORT]/REPO[:TAG][@sha256:HEX]".
 * A digest names an index; a tag names the image manifest that lists the index and its packs.
 */
struct imagefs_store;

struct imagefs_store_options {
	bool plain_http;   /* allow http:// for registries other than 127.0.0.1, ::1, localhost */
	bool insecure_tls; /* skip TLS verification */
	const char *username; /* registry credentials (Basic, or to obtain a Bearer token) */
	const char *password;
	unsigned timeout_ms; /* registries: bound on each request, token included (0: 30 s) */
	unsigned reserved32;
	uint64_t reserved[7];
};

int imagefs_store_open(const char *spec, const struct imagefs_store_options *opts,
		       struct imagefs_store **ret);
struct imagefs_store *imagefs_store_free(struct imagefs_store *s);
static inline void imagefs_store_freep(struct imagefs_store **p)
{
	*p = imagefs_store_free(*p);
}
/* The tag the store spec named, or NULL. */
const char *imagefs_store_tag(const struct imagefs_store *s);

/* The index the spec names: its digest, or the index listed by the tag's manifest. */
int imagefs_store_resolve(struct imagefs_store *s, struct digest *ret_index);
/* 1 if the store holds the blob, 0 if not. */
int imagefs_store_has_blob(struct imagefs_store *s, const struct digest *d);
/* Exactly LEN bytes at OFFSET of a blob (a Range request on registries). */
int imagefs_store_read_range(struct imagefs_store *s, const struct digest *d, uint64_t offset,
			     size_t len, void *buf);
/* A whole blob into memory (at most MAX bytes), digest checked. */
int imagefs_store_read_blob(struct imagefs_store *s, const struct digest *d, size_t max, void **ret,
			    size_t *ret_len);
/* Fetch, check against its digest and open the index the spec names. */
int imagefs_store_open_index(struct imagefs_store *s, struct digest *ret_digest,
			     struct imagefs_index **ret);

/* ---- operations (brisk-image) ---------------------------------------------------------- */

struct imagefs_convert_options {
	uint32_t chunk_size; /* 0: the default (FORMAT.md) */
	int zstd_level;	     /* 0: the default */
	bool progress;	     /* a progress line on stderr */
	bool no_dedup_store; /* do not reuse chunks of the images already tagged in DEST */
	const char *tmpdir;  /* staging for non-directory stores; NULL: $TMPDIR or /var/tmp */
	/* how to reach a registry: source (credentials, plain HTTP, TLS); NULL: the defaults */
	const struct imagefs_store_options *source_store;
	uint64_t reserved[7];
};

struct imagefs_convert_stats {
	uint64_t layers;
	uint64_t layer_bytes; /* compressed bytes read */
	uint64_t files;
	uint64_t content_bytes; /* bytes of regular files */
	uint64_t chunk_bytes;	/* bytes in chunks referenced, before dedup */
	uint64_t unique_bytes;	/* bytes of distinct chunks */
	uint64_t reused_bytes;	/* bytes of chunks reused from images already in DEST */
	uint64_t packed_bytes;	/* compressed bytes written to new packs */
	uint64_t index_bytes;
	uint64_t new_blobs;
};

/* Convert SRC ("oci:DIR[:TAG]", "oci-archive:FILE[:TAG]", "snapshot:DIR" or
 * "registry:HOST[:PORT]/REPO[:TAG|@DIGEST]") into DEST; tags DEST's tag if any. */
int imagefs_convert(const char *src, struct imagefs_store *dest,
		    const struct imagefs_convert_options *opts, struct digest *ret_index,
		    struct imagefs_convert_stats *ret_stats);
/* Whether DIR is a checkpoint's image directory (it holds brisk-snapshot.json), the source
 * "snapshot:DIR" of imagefs_convert(): a logged -errno when it is not. */
int imagefs_snapshot_dir_check(const char *dir);
/* Copy the image SRC names (index, packs, manifest) into DST, skipping blobs DST has; tag DST. */
int imagefs_copy(struct imagefs_store *src, struct imagefs_store *dst, struct digest *ret_index);
struct imagefs_export_options {
	/* create device nodes, keep setuid/setgid bits and security.capability as the image
	 * has them; by default an image is untrusted and they are left out */
	bool keep_special;
	uint64_t reserved[7];
};

/* What an export left out of an untrusted image. */
struct imagefs_export_stats {
	uint64_t devices;      /* character and block devices not created */
	uint64_t setid;	       /* files whose setuid or setgid bit was cleared */
	uint64_t capabilities; /* security.capability xattrs not set */
};

/* Materialise the tree into the empty (or missing) directory PATH, atomically: a failed
 * export leaves nothing. OPTS may be NULL (the defaults); RET_STATS may be NULL. */
int imagefs_export(struct imagefs_store *s, const char *path,
		   const struct imagefs_export_options *opts,
		   struct imagefs_export_stats *ret_stats);
/* The same for a snapshot (a checkpoint's image directory, converted from snapshot:DIR), with
 * the defaults (no device node, setuid/setgid bit or file capability): -EMEDIUMTYPE when the
 * reference names an image. */
int imagefs_export_snapshot(struct imagefs_store *s, const char *path);
/*
 * Snapshot signatures (ed25519, OpenSSL): the signature of the index digest INDEX by the PEM
 * private key KEY_PATH, stored beside it in S (tag "sha256-HEX.sig"). Log their errors.
 */
int imagefs_snapshot_key_check(const char *key_path);
int imagefs_snapshot_sign(struct imagefs_store *s, const struct digest *index,
			  const char *key_path);
/* The snapshot S names is signed, and its signature verifies with the PEM public key
 * PUBKEY_PATH: 0 and *RET_INDEX (may be NULL); -ENOKEY unsigned, -EKEYREJECTED another key's
 * or a bad signature. */
int imagefs_snapshot_verify(struct imagefs_store *s, const char *pubkey_path,
			    struct digest *ret_index);
/* Check every blob and chunk digest and the index structure. */
int imagefs_verify(struct imagefs_store *s, FILE *out);
/* Summary (counts, sizes, chunk stats, dedup); with TREE, one line per path. */
int imagefs_inspect(struct imagefs_store *s, bool tree, FILE *out);

/* ---- the lazy mount (brisk-imagefs) ---------------------------------------------------- */

struct imagefs_mount_options {
	const char *store_spec;	    /* dir:PATH... or registry:HOST/REPO with a tag or @digest */
	const char *cache_dir;	    /* content-addressed chunk cache, shared by all mounts */
	uint64_t cache_size;	    /* bytes; 0: 10 GiB */
	unsigned fetch_threads;	    /* parallel range reads; 0: 8 */
	unsigned retries;	    /* attempts after the first failed fetch of a chunk */
	unsigned timeout_ms;	    /* each registry request; 0: 30 s */
	const char *record_profile; /* append first-touch ranges to this file */
	const char *pid_file;	    /* the supervisor's pid */
	const char *log_file;	    /* the daemon's log (default: none) */
	const char *stats_file;	    /* the serving process writes its counters here at exit */
	bool foreground;
	bool no_prefetch;
	bool debug;
	/* getxattr of an image without xattrs answers ENODATA ("no such attribute") every time, as
	 * a file system with xattrs does, instead of ENOSYS once (which the kernel then answers
	 * as EOPNOTSUPP for the whole mount): one request per call, for a reader that takes
	 * EOPNOTSUPP as an error (containerd's diff of a layer; brisk-snapshotter asks for it) */
	bool exact_xattrs;
	uint64_t reserved[8];
};

/* Fetch the index, mount it read-only on MOUNTPOINT and serve it until unmounted. In the
 * background (the default) it returns once the mount is in place, leaving a supervisor that
 * holds the FUSE connection and restarts the serving process if it dies. */
int imagefs_mount(const struct imagefs_mount_options *o, const char *mountpoint);
/* Unmount a lazy mount (its daemon then exits). */
int imagefs_umount(const char *mountpoint);
/* The counters of the daemon serving MOUNTPOINT, as JSON (requests by type, bytes fetched, cache
 * hits...): 0 with *RET to free, or -errno (-ENOTTY: not a lazy mount). */
int imagefs_mount_stats(const char *mountpoint, char **ret);

/* An access profile (lines "OFFSET LENGTH PATH" in first-touch order) for the image INDEX,
 * stored beside it under the tag "sha256-HEX.profile". */
int imagefs_profile_put(struct imagefs_store *s, const struct digest *index, const void *data,
			size_t len);
int imagefs_profile_get(struct imagefs_store *s, const struct digest *index, char **ret,
			size_t *ret_len);
