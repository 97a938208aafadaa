/* SPDX-License-Identifier: Apache-2.0 */
/* brisk-snapshot.json comes with a snapshot directory from anywhere: parse it strictly. */
#include <stddef.h>
#include <stdint.h>

#include "snapshot/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snapshot_meta *m = NULL;

	if (snapshot_meta_parse((const char *)data, size, &m) == 0)
		snapshot_meta_free(m);
	return 0;
}
