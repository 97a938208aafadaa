/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Snapshots as content (`brisk-image convert snapshot:DIR`, push-snapshot, pull-snapshot):
 * a checkpoint's image directory (CRIU's *.img and brisk-snapshot.json) becomes a tree of an
 * index like an image's, its files cut into the same content-addressed chunks, so that the
 * pages of two snapshots of one application, and chunks already in the store, are stored
 * once. Its manifest carries its own artifactType (FORMAT.md, "Snapshots").
 */
#include <dirent.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/json.h"
#include "common/log.h"
#include "imagefs-internal.h"

struct snap_walk {
	struct ifs_tree *t;
	struct ifs_chunker *c;
	struct imagefs_convert_stats *st;
	uint8_t *buf;
	uint32_t cs;
};

static void set_attrs(struct ifs_bnode *n, const struct stat *sb)
{
	n->uid = sb->st_uid;
	n->gid = sb->st_gid;
	n->mtime = sb->st_mtim;
	n->ctime = sb->st_ctim;
}

/* pread_all: -EIO when the file is shorter than it was (it changed under us). */
static int read_file(struct snap_walk *w, int fd, struct ifs_bnode *n)
{
	if (n->size <= IFS_INLINE_MAX) {
		if (n->size == 0)
			return 0;
		if (!(n->inline_data = calloc(1, n->size)))
			return -ENOMEM;
		return pread_all(fd, n->inline_data, n->size, 0);
	}
	for (uint64_t off = 0; off < n->size; off += w->cs) {
		size_t len = (size_t)(n->size - off < w->cs ? n->size - off : w->cs);
		int r;

		if ((r = pread_all(fd, w->buf, len, off)) < 0)
			return r;
		if ((r = ifs_bnode_add_chunk(w->c, n, off, w->buf, len, w->st)) < 0)
			return r;
	}
	return 0;
}

static int walk_dir(struct snap_walk *w, int dfd, struct ifs_bnode *dir, const char *path)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r, fd2;

	if ((fd2 = fcntl(dfd, F_DUPFD_CLOEXEC, 3)) < 0)
		return -errno;
	if (!(d = fdopendir(fd2))) {
		safe_close(fd2);
		return -errno;
	}
	while ((errno = 0, de = readdir(d))) {
		_cleanup_close_ int fd = -EBADF;
		struct ifs_bnode *n;
		struct stat sb;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &sb) < 0)
			return log_error_errno(-errno, "snapshot '%s%s%s': %m", path,
					       *path ? "/" : "", de->d_name);
		if (!S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode))
			return log_error_errno(-EINVAL,
					       "snapshot '%s%s%s': not a regular file or directory",
					       path, *path ? "/" : "", de->d_name);
		if (!(n = ifs_bnode_new(sb.st_mode & (S_IFMT | 07777))))
			return -ENOMEM;
		set_attrs(n, &sb);
		if (S_ISREG(sb.st_mode)) {
			n->size = (uint64_t)sb.st_size;
			r = read_file(w, fd, n);
			w->st->files++;
			w->st->content_bytes += n->size;
		} else {
			r = 0;
		}
		if (r >= 0)
			r = ifs_tree_link(w->t, dir, de->d_name, n);
		if (r < 0) {
			ifs_bnode_unref(n);
			return log_error_errno(r, "snapshot '%s%s%s': %m", path, *path ? "/" : "",
					       de->d_name);
		}
		if (S_ISDIR(sb.st_mode)) {
			_cleanup_free_ char *sub = NULL;

			if (asprintf(&sub, "%s%s%s", path, *path ? "/" : "", de->d_name) < 0)
				return -ENOMEM;
			if ((r = walk_dir(w, fd, n, sub)) < 0)
				return r;
		}
	}
	return errno ? -errno : 0;
}

int imagefs_snapshot_dir_check(const char *dir)
{
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat sb;

	if (dfd < 0)
		return log_error_errno(-errno, "snapshot '%s': %m", dir);
	if (fstatat(dfd, IFS_SNAPSHOT_META, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
		return log_error_errno(-EMEDIUMTYPE, "'%s' is not a checkpoint directory (no %s)",
				       dir, IFS_SNAPSHOT_META);
	return 0;
}

int ifs_snapshot_apply(struct ifs_tree *t, struct ifs_chunker *c, const char *dir,
		       struct imagefs_convert_stats *st)
{
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct snap_walk w = {.t = t, .c = c, .st = st, .cs = ifs_chunker_chunk_size(c)};
	struct stat sb;
	int r;

	if ((r = imagefs_snapshot_dir_check(dir)) < 0)
		return r;
	if (dfd < 0)
		return log_error_errno(-errno, "snapshot '%s': %m", dir);
	if (fstat(dfd, &sb) < 0)
		return -errno;
	t->root->mode = S_IFDIR | (sb.st_mode & 07777);
	set_attrs(t->root, &sb);
	if (!(w.buf = malloc(w.cs)))
		return -ENOMEM;
	r = walk_dir(&w, dfd, t->root, "");
	free(w.buf);
	return r;
}

static int check_dir(const struct imagefs_index *idx, uint32_t dir, const char *path,
		     unsigned depth)
{
	const char *name;
	size_t len;
	uint32_t ino;
	int r;

	if (depth > 64)
		return log_error_errno(-ELOOP, "snapshot: '%s' is nested too deep", path);
	for (uint64_t pos = 0;; pos++) {
		_cleanup_free_ char *sub = NULL;
		struct imagefs_stat st;

		if ((r = imagefs_index_readdir(idx, dir, pos, &name, &len, &ino)) <= 0)
			return r;
		if (asprintf(&sub, "%s%s%.*s", path, *path ? "/" : "", (int)len, name) < 0)
			return -ENOMEM;
		if ((r = imagefs_index_getattr(idx, ino, &st)) < 0)
			return r;
		if (!S_ISREG(st.mode) && !S_ISDIR(st.mode))
			return log_error_errno(-EPERM,
					       "snapshot: '%s' is not a regular file or directory "
					       "(mode %06o): a snapshot holds nothing else",
					       sub, (unsigned)st.mode);
		if (st.mode & (S_ISUID | S_ISGID))
			return log_error_errno(-EPERM,
					       "snapshot: '%s' is setuid or setgid (mode %06o): a "
					       "snapshot holds no such file",
					       sub, (unsigned)st.mode);
		if (S_ISDIR(st.mode) && (r = check_dir(idx, ino, sub, depth + 1)) < 0)
			return r;
	}
}

int ifs_snapshot_index_check(const struct imagefs_index *idx)
{
	if (imagefs_index_has_xattrs(idx))
		return log_error_errno(-EPERM, "snapshot: its files have extended attributes, "
					       "which a snapshot does not hold");
	return check_dir(idx, IMAGEFS_ROOT_INO, "", 0);
}

bool ifs_index_is_snapshot(const struct imagefs_index *idx)
{
	struct imagefs_stat st;
	uint32_t ino;

	return imagefs_index_lookup(idx, IMAGEFS_ROOT_INO, IFS_SNAPSHOT_META,
				    strlen(IFS_SNAPSHOT_META), &ino) == 0 &&
	       imagefs_index_getattr(idx, ino, &st) == 0 && S_ISREG(st.mode);
}

const char *ifs_index_artifact_type(const struct imagefs_index *idx)
{
	return ifs_index_is_snapshot(idx) ? IFS_ARTIFACT_SNAPSHOT : IFS_ARTIFACT_TYPE;
}

/*
 * Signatures. A snapshot is signed by its index digest, which names every byte of it (the
 * index lists each chunk's digest). The signature goes beside the snapshot as an OCI artifact
 * tagged "sha256-HEX.sig" (HEX: the index digest), as profiles go, which works in directory
 * stores and registries, for snapshots named by tag or by digest: its one layer is the 64
 * bytes of an ed25519 signature of SIGN_PAYLOAD and the digest, its annotation the signing
 * key's id (the sha256 of its raw public key), for messages.
 */
#define IFS_ARTIFACT_SIGNATURE "application/vnd.brisk.snapshot.signature.v1"
#define IFS_MEDIA_SIGNATURE "application/vnd.brisk.snapshot.signature.v1.ed25519"
#define SIGN_PAYLOAD "brisk snapshot signature v1: "
#define SIGN_KEY_ID "run.brisk.signature.key"
#define SIG_SIZE 64

static void sig_tag(const struct digest *index, char buf[DIGEST_HEX_SIZE + 32])
{
	char hex[DIGEST_HEX_SIZE + 1];

	snprintf(buf, DIGEST_HEX_SIZE + 32, "sha256-%s.sig", digest_format_hex(index, hex));
}

static void pkey_freep(EVP_PKEY **p)
{
	EVP_PKEY_free(*p);
}

static void md_ctx_freep(EVP_MD_CTX **c)
{
	EVP_MD_CTX_free(*c);
}

/* An ed25519 key from the PEM file PATH: private or public. Logs. */
static int load_key(const char *path, bool private, EVP_PKEY **ret)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	EVP_PKEY *k;

	if (!f)
		return log_error_errno(-errno, "%s key '%s': %m", private ? "signing" : "public",
				       path);
	k = private ? PEM_read_PrivateKey(f, NULL, NULL, NULL)
		    : PEM_read_PUBKEY(f, NULL, NULL, NULL);
	if (!k)
		return log_error_errno(-EINVAL, "'%s' is not a PEM %s key", path,
				       private ? "private" : "public");
	if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(k);
		return log_error_errno(-EINVAL, "'%s' is not an ed25519 key", path);
	}
	*ret = k;
	return 0;
}

/* "sha256:HEX" of K's raw public key. */
static int key_id(EVP_PKEY *k, char buf[DIGEST_STRING_SIZE])
{
	unsigned char raw[32];
	size_t len = sizeof(raw);
	struct digest d;
	int r;

	if (EVP_PKEY_get_raw_public_key(k, raw, &len) != 1)
		return -EINVAL;
	if ((r = digest_buffer(raw, len, &d)) < 0)
		return r;
	digest_format(&d, buf);
	return 0;
}

static int sign_payload(const struct digest *index,
			char buf[sizeof(SIGN_PAYLOAD) + DIGEST_STRING_SIZE])
{
	char ds[DIGEST_STRING_SIZE];

	return snprintf(buf, sizeof(SIGN_PAYLOAD) + DIGEST_STRING_SIZE, "%s%s", SIGN_PAYLOAD,
			digest_format(index, ds));
}

int imagefs_snapshot_key_check(const char *key_path)
{
	_cleanup_(pkey_freep) EVP_PKEY *k = NULL;

	return load_key(key_path, true, &k);
}

int imagefs_snapshot_sign(struct imagefs_store *s, const struct digest *index, const char *key_path)
{
	_cleanup_(pkey_freep) EVP_PKEY *k = NULL;
	_cleanup_(md_ctx_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char payload[sizeof(SIGN_PAYLOAD) + DIGEST_STRING_SIZE], tag[DIGEST_HEX_SIZE + 32];
	char id[DIGEST_STRING_SIZE], sd[DIGEST_STRING_SIZE], ed[DIGEST_STRING_SIZE];
	unsigned char sig[SIG_SIZE];
	size_t sig_len = sizeof(sig);
	_cleanup_free_ char *json = NULL;
	struct digest d, empty;
	int r, n;

	if (!ctx)
		return -ENOMEM;
	if ((r = load_key(key_path, true, &k)) < 0)
		return r;
	n = sign_payload(index, payload);
	if (key_id(k, id) < 0 || EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) != 1 ||
	    EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)payload, (size_t)n) != 1 ||
	    sig_len != SIG_SIZE)
		return log_error_errno(-EINVAL, "sign with '%s' failed", key_path);
	if ((r = ifs_store_put_small_blob(s, sig, sig_len, &d)) < 0 ||
	    (r = ifs_store_put_small_blob(s, "{}", 2, &empty)) < 0)
		return log_error_errno(r, "store the signature: %m");
	r = asprintf(&json,
		     "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"artifactType\":\"%s\","
		     "\"config\":{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":2},"
		     "\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":%zu}],"
		     "\"annotations\":{\"%s\":\"%s\"}}",
		     OCI_MEDIA_MANIFEST, IFS_ARTIFACT_SIGNATURE, OCI_MEDIA_EMPTY,
		     digest_format(&empty, ed), IFS_MEDIA_SIGNATURE, digest_format(&d, sd), sig_len,
		     SIGN_KEY_ID, id);
	if (r < 0) {
		json = NULL;
		return -ENOMEM;
	}
	sig_tag(index, tag);
	if ((r = s->ops->put_manifest(s, tag, json, strlen(json))) < 0)
		return log_error_errno(r, "store the signature as '%s': %m", tag);
	return 0;
}

/* The signature stored beside INDEX, and the id of the key it names: -ENOKEY when none. */
static int fetch_signature(struct imagefs_store *s, const struct digest *index,
			   unsigned char sig[SIG_SIZE], char **ret_key)
{
	char tag[DIGEST_HEX_SIZE + 32];
	_cleanup_free_ char *json = NULL;
	_cleanup_free_ void *blob = NULL;
	_cleanup_json_ struct json_object *m = NULL;
	struct json_object *layers, *l, *ann;
	const char *mt, *dg, *kid = NULL;
	struct digest d;
	size_t len;
	int r;

	sig_tag(index, tag);
	if ((r = s->ops->get_manifest(s, tag, &json, &len)) < 0)
		return r == -ENOENT ? -ENOKEY : r;
	if (json_parse(json, len, &m) < 0 || json_get_array(m, "layers", &layers) < 0 ||
	    json_object_array_length(layers) != 1)
		return -EBADMSG;
	l = json_object_array_get_idx(layers, 0);
	if (json_get_string(l, "mediaType", &mt) < 0 || strcmp(mt, IFS_MEDIA_SIGNATURE) != 0 ||
	    json_get_string(l, "digest", &dg) < 0 || digest_parse(dg, &d) < 0)
		return -EBADMSG;
	if (json_get_object(m, "annotations", &ann) == 0)
		(void)json_get_string(ann, SIGN_KEY_ID, &kid);
	if ((r = imagefs_store_read_blob(s, &d, 4096, &blob, &len)) < 0)
		return r;
	if (len != SIG_SIZE)
		return -EBADMSG;
	memcpy(sig, blob, SIG_SIZE);
	*ret_key = strdup(kid ? kid : "unknown");
	return *ret_key ? 0 : -ENOMEM;
}

int imagefs_snapshot_verify(struct imagefs_store *s, const char *pubkey_path,
			    struct digest *ret_index)
{
	_cleanup_(pkey_freep) EVP_PKEY *k = NULL;
	_cleanup_(md_ctx_freep) EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char payload[sizeof(SIGN_PAYLOAD) + DIGEST_STRING_SIZE], ds[DIGEST_STRING_SIZE];
	char id[DIGEST_STRING_SIZE];
	_cleanup_free_ char *signer = NULL;
	unsigned char sig[SIG_SIZE];
	struct digest index;
	int r, n;

	if (!ctx)
		return -ENOMEM;
	if ((r = load_key(pubkey_path, false, &k)) < 0)
		return r;
	if ((r = imagefs_store_resolve(s, &index)) < 0)
		return log_error_errno(r, "resolve the snapshot: %m");
	r = fetch_signature(s, &index, sig, &signer);
	if (r == -ENOKEY)
		return log_error_errno(r, "snapshot %s is not signed: refused (--verify '%s')",
				       digest_format(&index, ds), pubkey_path);
	if (r < 0)
		return log_error_errno(r, "the signature of snapshot %s: %m",
				       digest_format(&index, ds));
	n = sign_payload(&index, payload);
	if (key_id(k, id) < 0 || EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k) != 1)
		return log_error_errno(-EINVAL, "public key '%s': unusable", pubkey_path);
	if (EVP_DigestVerify(ctx, sig, SIG_SIZE, (const unsigned char *)payload, (size_t)n) != 1)
		return log_error_errno(-EKEYREJECTED,
				       "snapshot %s: its signature (by key %s) does not verify "
				       "with '%s' (key %s): refused",
				       digest_format(&index, ds), signer, pubkey_path, id);
	if (ret_index)
		*ret_index = index;
	return 0;
}
