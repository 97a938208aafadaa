/* SPDX-License-Identifier: Apache-2.0 */
/* Replay main for fuzz targets in normal builds: runs LLVMFuzzerTestOneInput on every file
 * named on the command line (directories: every file in them), so the corpus and every past
 * crash are tested by `meson test`. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/fs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(int dirfd, const char *path)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r = read_file_at(dirfd, path, 64u << 20, &buf, &len);

	if (r < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(-r));
		return 1;
	}
	LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
	printf("ok %s\n", path);
	return 0;
}

int main(int argc, char **argv)
{
	int bad = 0, n = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) < 0) {
			perror(argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			bad |= run_file(AT_FDCWD, argv[i]);
			n++;
			continue;
		}
		_cleanup_closedir_ DIR *d = opendir(argv[i]);
		struct dirent *de;

		if (!d) {
			perror(argv[i]);
			return 1;
		}
		while ((de = readdir(d)))
			if (de->d_name[0] != '.') {
				bad |= run_file(dirfd(d), de->d_name);
				n++;
			}
	}
	printf("%d inputs replayed\n", n);
	return bad || n == 0;
}
