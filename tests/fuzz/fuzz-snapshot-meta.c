/* SPDX-License-Identifier: Apache-2.0 */
/* brisk-snapshot.json comes with a snapshot directory from anywhere: parse it strictly. */
#include <stddef.h>
#include <stdint.h>

#include "snapshot/snapshot.h"
#include "fuzz.h"

FUZZ_TARGET

int fuzz_parse(const uint8_t *data, size_t size)
{
	struct snapshot_meta *m = NULL;
	int r = snapshot_meta_parse((const char *)data, size, &m);

	if (r == 0)
		snapshot_meta_free(m);
	return r;
}
