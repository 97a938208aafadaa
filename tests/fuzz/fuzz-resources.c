/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz linux.resources as `update --resources FILE` reads it: cgroup_resources_parse only,
 * nothing is written to any cgroup. */
#include <stdint.h>
#include <stdlib.h>

#include "common/json.h"
#include "common/log.h"
#include "cgroup-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char errbuf[512];
	_cleanup_json_ struct json_object *doc = NULL;
	_cleanup_(cgroup_resources_freep) struct cgroup_resources *r = NULL;

	log_set_capture(errbuf, sizeof(errbuf));
	if (json_parse((const char *)data, size, &doc) < 0)
		return 0;
	(void)cgroup_resources_parse(doc, &r);
	return 0;
}
