/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the process object of `exec --process FILE`: spec_parse_process, then caps_parse of
 * its capabilities, as exec does. A half-parsed process must be freed without leaks. */
#include <stdint.h>
#include <stdlib.h>

#include "common/json.h"
#include "common/log.h"
#include "caps.h"
#include "spec.h"
#include "fuzz.h"

FUZZ_TARGET

int fuzz_parse(const uint8_t *data, size_t size)
{
	static char errbuf[512];
	_cleanup_json_ struct json_object *doc = NULL;
	struct spec_process p;

	log_set_capture(errbuf, sizeof(errbuf));
	int r = json_parse((const char *)data, size, &doc);

	if (r < 0)
		return r;
	r = spec_parse_process(doc, &p);
	if (r == 0) {
		_cleanup_(caps_freep) struct caps *c = NULL;

		r = caps_parse(p.capabilities, &c);
	}
	spec_process_done(&p);
	return r;
}
