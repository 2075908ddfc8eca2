/* A small, strict JSON parser (json.c). natt reads status files written by other processes (possibly
 * older, newer, or broken ones) with it, so it treats its input as hostile: it follows RFC 8259
 * exactly, bounds depth, text size and memory, and never crashes on any byte string.
 *
 * Numbers are read independently of the program's locale. No function keeps global state; distinct
 * documents may be used from distinct threads. */
#ifndef NATT_JSON_H
#define NATT_JSON_H

#include <stddef.h>

/* The values a document is made of, and their accessors. */
#include "util/json_value.h"

/* Limits of the parser; inputs beyond them are refused with a message, as RFC 8259 section 9 allows. */
#define NATT_JSON_MAX_DEPTH 64              /* nested arrays/objects */
#define NATT_JSON_MAX_TEXT ((size_t)16 << 20) /* bytes of input */
#define NATT_JSON_MAX_MEMORY ((size_t)64 << 20) /* bytes allocated for one document */
#define NATT_JSON_MAX_NUMBER 512            /* characters of one number */

/* natt_json_parse - parses len bytes of JSON text (one value, optional white space around it, nothing
 * else; UTF-8; NUL bytes are not white space). Strings may contain \u0000.
 * err: may be NULL; otherwise receives a NUL-terminated message such as
 *      "line 3, column 7: expected ',' or '}'" (errlen bytes at most).
 * Returns the document (release with natt_json_free) or NULL: invalid text, a limit passed, or memory
 * exhausted ("out of memory" in err). */
struct natt_json *natt_json_parse(const char *text, size_t len, char *err, size_t errlen);

/* Releases a document; NULL is allowed. Only call it on what natt_json_parse returned, not on a value
 * inside it. */
void natt_json_free(struct natt_json *value);

#endif
