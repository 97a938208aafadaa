/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Replay main for fuzz targets in normal builds: gives every file named on the command line
 * (directories: every file in them) to the target's parser, so the corpus and every past
 * crash are tested by `meson test`. What the parser must say is in the file's name, as in
 * composefs's should-fail tests:
 *   bad-*, bad               refused
 *   crash-*, leak-*, mutated-*, timeout-*   either (a past crash or a random input: it
 *                            only must not crash, leak or hang)
 *   anything else            accepted
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/cleanup.h"
#include "common/fs.h"

#include "fuzz.h"

enum expect { EXPECT_ACCEPT, EXPECT_REFUSE, EXPECT_EITHER };

static enum expect expect_of(const char *path)
{
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	static const char *const either[] = {"crash-", "leak-", "mutated-", "timeout-"};

	if (strcmp(name, "bad") == 0 || strncmp(name, "bad-", 4) == 0)
		return EXPECT_REFUSE;
	for (size_t i = 0; i < ELEMENTSOF(either); i++)
		if (strncmp(name, either[i], strlen(either[i])) == 0)
			return EXPECT_EITHER;
	return EXPECT_ACCEPT;
}

static int run_file(int dirfd, const char *path)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r = read_file_at(dirfd, path, 64u << 20, &buf, &len);

	if (r < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(-r));
		return 1;
	}
	enum expect e = expect_of(path);
	r = fuzz_parse((const uint8_t *)buf, len);
	if ((e == EXPECT_REFUSE && r >= 0) || (e == EXPECT_ACCEPT && r < 0)) {
		printf("FAIL %s: %s, but its name says it must be %s\n", path,
		       r < 0 ? strerror(-r) : "accepted",
		       e == EXPECT_REFUSE ? "refused" : "accepted");
		return 1;
	}
	printf("ok %s (%s)\n", path, r < 0 ? "refused" : "accepted");
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
