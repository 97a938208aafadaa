/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz the layer reader of `brisk-image convert`: the input is a layer blob (plain tar, or
 * gzip/zstd when it starts with their magic), applied twice as two layers of one image (so the
 * second sees the first's tree: replacements, whiteouts, opaque directories, hard links into
 * lower layers). Whatever the bytes: no crash, no leak, no loop; and when both layers are
 * accepted, the index written from the tree must pass the reader's full structural check.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/digest.h"
#include "common/fs.h"
#include "imagefs/imagefs-internal.h"
#include "fuzz.h"

static char *workdir;
static int blobs_fd = -EBADF;

static void cleanup_workdir(void)
{
	if (workdir)
		(void)rm_rf_at(AT_FDCWD, workdir);
}

static int setup(void)
{
	const char *tmp = getenv("TMPDIR");

	if (workdir)
		return 0;
	if (asprintf(&workdir, "%s/fuzz-layer-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0)
		return -ENOMEM;
	if (!mkdtemp(workdir))
		return -errno;
	atexit(cleanup_workdir);
	blobs_fd = open(workdir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	return blobs_fd < 0 ? -errno : 0;
}

static const char *media_type(const uint8_t *data, size_t size)
{
	if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b)
		return "application/vnd.oci.image.layer.v1.tar+gzip";
	if (size >= 4 && memcmp(data, "\x28\xb5\x2f\xfd", 4) == 0)
		return "application/vnd.oci.image.layer.v1.tar+zstd";
	return "application/vnd.oci.image.layer.v1.tar";
}

static int convert(struct ifs_layer *l, int staging_fd)
{
	struct ifs_tree t = {0};
	struct ifs_chunker *c = NULL;
	struct imagefs_convert_stats st = {0};
	struct imagefs_index *idx = NULL;
	void *index = NULL;
	size_t len;
	int r;

	/* 4 KiB chunks: the smallest allowed, so small inputs still span several chunks */
	if ((r = ifs_tree_init(&t)) < 0 || (r = ifs_chunker_new(staging_fd, 4096, 1, &c)) < 0)
		goto out;
	if ((r = ifs_layer_apply(&t, c, blobs_fd, l, &st, false, 1, 2)) < 0 ||
	    (r = ifs_layer_apply(&t, c, blobs_fd, l, &st, false, 2, 2)) < 0)
		goto out;
	r = ifs_index_write(&t, c, 4096, &index, &len);
	if (r == -ENOMEM || r == -EFBIG)
		goto out;
	if (r < 0) {
		fprintf(stderr, "accepted layers, but the index could not be written: %s\n",
			strerror(-r));
		abort();
	}
	if ((r = imagefs_index_open_buffer(index, len, &idx)) < 0 ||
	    (r = imagefs_index_check(idx)) < 0) {
		fprintf(stderr, "accepted layers gave an invalid index: %s\n", strerror(-r));
		abort();
	}
	imagefs_index_free(idx);
out:
	free(index);
	ifs_chunker_free(c);
	ifs_tree_done(&t);
	return r;
}

FUZZ_TARGET

int fuzz_parse(const uint8_t *data, size_t size)
{
	char hex[DIGEST_HEX_SIZE + 1];
	struct ifs_layer l = {.size = size};
	_cleanup_close_ int staging_fd = -EBADF;

	if (setup() < 0 || digest_buffer(data, size, &l.digest) < 0)
		abort();
	l.media_type = (char *)media_type(data, size);
	digest_format_hex(&l.digest, hex);
	if (write_file_atomic_at(blobs_fd, hex, data, size, 0644, false) < 0)
		abort();
	(void)rm_rf_at(blobs_fd, "staging");
	if (mkdirat(blobs_fd, "staging", 0700) < 0)
		abort();
	staging_fd = openat(blobs_fd, "staging", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (staging_fd < 0)
		abort();
	int r = convert(&l, staging_fd);
	(void)unlinkat(blobs_fd, hex, 0);
	(void)rm_rf_at(blobs_fd, "staging");
	return r;
}
