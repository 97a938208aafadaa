/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the process object of `exec --process FILE`: spec_parse_process, then caps_parse of
 * its capabilities, as exec does. A half-parsed process must be freed without leaks. */
#include <stdint.h>
#include <stdlib.h>

#include "common/json.h"
#include "common/log.h"
#include "caps.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char errbuf[512];
	_cleanup_json_ struct json_object *doc = NULL;
	struct spec_process p;

	log_set_capture(errbuf, sizeof(errbuf));
	if (json_parse((const char *)data, size, &doc) < 0)
		return 0;
	if (spec_parse_process(doc, &p) == 0) {
		_cleanup_(caps_freep) struct caps *c = NULL;

		(void)caps_parse(p.capabilities, &c);
	}
	spec_process_done(&p);
	return 0;
}
