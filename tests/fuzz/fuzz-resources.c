/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz linux.resources as `update --resources FILE` reads it: cgroup_resources_parse only,
 * nothing is written to any cgroup. */
#include <stdint.h>
#include <stdlib.h>

#include "common/json.h"
#include "common/log.h"
#include "cgroup-internal.h"
#include "fuzz.h"

FUZZ_TARGET

int fuzz_parse(const uint8_t *data, size_t size)
{
	static char errbuf[512];
	_cleanup_json_ struct json_object *doc = NULL;
	_cleanup_(cgroup_resources_freep) struct cgroup_resources *r = NULL;

	log_set_capture(errbuf, sizeof(errbuf));
	int ret = json_parse((const char *)data, size, &doc);

	if (ret < 0)
		return ret;
	return cgroup_resources_parse(doc, &r);
}
