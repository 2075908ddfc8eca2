/* A small, strict JSON parser (json.c). natt reads status files written by other processes (possibly
 * older, newer, or broken ones) with it, so it treats its input as hostile: it follows RFC 8259
 * exactly, bounds depth, text size and memory, and never crashes on any byte string.
 *
 * Numbers are read independently of the program's locale. No function keeps global state; distinct
 * documents may be used from distinct threads. */
#ifndef NATT_JSON_H
#define NATT_JSON_H

#include <stdbool.h>
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

/* natt_json_check - whether natt_json_parse would accept text (the same grammar, limits and messages in
 * err), without building the document: a fraction of the parse's time and memory. (The parse's limit
 * on memory is not one of the check's: it builds nothing.) */
bool natt_json_check(const char *text, size_t len, char *err, size_t errlen);

/* Values of text that natt_json_check accepted, read where they stand, as spans of that text (no
 * surrounding white space). Only for checked text: they assume it is valid. */
struct natt_json_span {
	const char *text;
	size_t len;
};
/* The value of the whole text. */
struct natt_json_span natt_json_span_root(const char *text, size_t len);
/* Its type (NATT_JSON_NONE for an empty span). */
enum natt_json_type natt_json_span_type(struct natt_json_span value);
/* The member named key of an object (the first if the name repeats, as natt_json_get): true and *value,
 * or false. */
bool natt_json_span_get(struct natt_json_span object, const char *key, struct natt_json_span *value);
/* The elements of an array in turn: *element starts as { NULL, 0 } and becomes the next one; false
 * after the last. */
bool natt_json_span_next(struct natt_json_span array, struct natt_json_span *element);
/* A number's value, as natt_json_parse reads it; false for any other type. */
bool natt_json_span_number(struct natt_json_span value, double *number);

/* Releases a document; NULL is allowed. Only call it on what natt_json_parse returned, not on a value
 * inside it. */
void natt_json_free(struct natt_json *value);

#endif
