/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz linux.seccomp: parse and compile to BPF with libseccomp; nothing is installed. */
#include <stdint.h>
#include <stdlib.h>

#include "common/json.h"
#include "common/log.h"
#include "seccomp-filter.h"
#include "fuzz.h"

FUZZ_TARGET

int fuzz_parse(const uint8_t *data, size_t size)
{
	static char errbuf[512];
	_cleanup_json_ struct json_object *doc = NULL;
	_cleanup_(seccomp_prog_freep) struct seccomp_prog *p = NULL;

	log_set_capture(errbuf, sizeof(errbuf));
	int r = json_parse((const char *)data, size, &doc);

	if (r < 0)
		return r;
	r = seccomp_prog_compile(doc, &p);
	if (r == 0 && p) {
		(void)seccomp_prog_size(p);
		(void)seccomp_prog_needs_listener(p);
	}
	return r;
}
