/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz config.json: json_parse, then spec_parse of the document. Whatever the bytes, the
 * parser may only refuse them; it must not crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>

#include "common/json.h"
#include "common/log.h"
#include "spec.h"
#include "fuzz.h"

FUZZ_TARGET

int fuzz_parse(const uint8_t *data, size_t size)
{
	static char errbuf[512];
	_cleanup_json_ struct json_object *doc = NULL;
	_cleanup_(spec_freep) struct spec *s = NULL;

	/* errors are expected; formatting them is part of what is fuzzed, printing is not */
	log_set_capture(errbuf, sizeof(errbuf));
	int r = json_parse((const char *)data, size, &doc);

	if (r < 0)
		return r;
	return spec_parse(doc, &s);
}
