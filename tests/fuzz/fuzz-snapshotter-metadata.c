/* SPDX-License-Identifier: Apache-2.0 */
/*
 * brisk-snapshotter's metadata.json is its own file, but a disk can hand back anything: a start
 * on a damaged file must refuse it by name, never crash or serve a store whose links are wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/log.h"
#include "snapshotter/snapshotter-internal.h"
#include "fuzz.h"

FUZZ_TARGET

int fuzz_parse(const uint8_t *data, size_t size)
{
	char root[] = "/tmp/fuzz-snapshotter.XXXXXX";
	struct store *store = NULL;
	int dfd, r;

	log_set_level(LOG_LEVEL_ERROR);
	if (!mkdtemp(root))
		return -errno;
	dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = dfd < 0 ? -errno : write_file_atomic_at(dfd, "metadata.json", data, size, 0600, false);
	if (dfd >= 0)
		close(dfd);
	if (r >= 0)
		r = store_open(root, &store);
	store_free(store);
	(void)rm_rf_at(AT_FDCWD, root);
	return r;
}
