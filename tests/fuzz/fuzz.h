/* Shared by the libFuzzer targets of tests/fuzz (one file per parser, fuzz_NAME.c, corpus in
 * corpus/NAME/). A target is LLVMFuzzerTestOneInput over one parser natt owns: it must accept any bytes
 * without a sanitizer report, leak or hang. To add a parser: a new fuzz_NAME.c calling it, and a few
 * seed inputs (taken from its unit tests) in corpus/NAME/; the Makefile and tests/fuzz/run pick both up. */
#ifndef NATT_FUZZ_H
#define NATT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a NUL-terminated string (malloc'ed; the parsers of text want one). */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

#endif
