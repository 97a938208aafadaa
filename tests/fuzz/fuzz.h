/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A fuzz target: FUZZ_PARSE gives one input to the parser and returns what it said (>= 0
 * accepted, -errno refused). libFuzzer calls LLVMFuzzerTestOneInput, which ignores it; the
 * replay of the corpus in normal builds (fuzz-main.c) checks it against the input's name.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

int fuzz_parse(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TARGET                                                  \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) \
	{                                                            \
		(void)fuzz_parse(data, size);                        \
		return 0;                                            \
	}
