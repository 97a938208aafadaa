/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz linux.seccomp: parse and compile to BPF with libseccomp; nothing is installed. */
#include <stdint.h>
#include <stdlib.h>

#include "common/json.h"
#include "common/log.h"
#include "seccomp-filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char errbuf[512];
	_cleanup_json_ struct json_object *doc = NULL;
	_cleanup_(seccomp_prog_freep) struct seccomp_prog *p = NULL;

	log_set_capture(errbuf, sizeof(errbuf));
	if (json_parse((const char *)data, size, &doc) < 0)
		return 0;
	if (seccomp_prog_compile(doc, &p) == 0 && p) {
		(void)seccomp_prog_size(p);
		(void)seccomp_prog_needs_listener(p);
	}
	return 0;
}
