/* Internal JSON support: a growable string builder that writes JSON, and a small, strict DOM parser.
 *
 * natt writes its status file with the builder and reads status files written by other processes
 * (possibly older, newer, or broken ones) with the parser, so the parser treats its input as hostile:
 * it follows RFC 8259 exactly, bounds depth, text size and memory, and never crashes on any byte string.
 *
 * Numbers are read and written independently of the program's locale (a German LC_NUMERIC must not turn
 * 0.5 into "0,5"). No function keeps global state; distinct objects may be used from distinct threads. */
#ifndef NATT_JSON_H
#define NATT_JSON_H

#include <stdbool.h>
#include <stddef.h>

/* ---- String builder ----
 * Appending never fails loudly: on the first allocation failure (or when the text would pass
 * NATT_BUF_MAX) the buffer is marked failed, later appends do nothing, and the caller checks once at
 * the end. While not failed, data is NUL-terminated (or NULL before the first append). */
struct natt_buf {
	char *data;
	size_t len, cap;
	bool failed;
};

/* The largest text a buffer holds: far beyond any status file, small enough to keep a bug from eating
 * the host program's memory. */
#define NATT_BUF_MAX ((size_t)64 << 20)

void natt_buf_init(struct natt_buf *buf);
/* Releases the memory and re-initializes buf. */
void natt_buf_free(struct natt_buf *buf);
/* Empties buf (keeping its memory) and clears the failed mark. */
void natt_buf_reset(struct natt_buf *buf);

/* Each returns 0, or -ENOMEM once the buffer has failed. */
int natt_buf_append(struct natt_buf *buf, const void *data, size_t len);
int natt_buf_append_str(struct natt_buf *buf, const char *s);
/* printf-style append; numbers are formatted in the C locale whatever the thread's locale. */
__attribute__((format(printf, 2, 3))) int natt_buf_printf(struct natt_buf *buf, const char *fmt, ...);

/* natt_buf_json_string - appends s as a JSON string: quoted, with " and \ escaped, \b \f \n \r \t for
 * those controls and \u00XX for the other control characters; every ill-formed UTF-8 sequence (stray
 * continuation byte, overlong form, surrogate, value above U+10FFFF, truncation) becomes one U+FFFD per
 * maximal ill-formed subpart, as Unicode recommends. s NULL writes null. _n takes a length, so the text
 * may contain NUL bytes (written as \u0000). */
int natt_buf_json_string(struct natt_buf *buf, const char *s);
int natt_buf_json_string_n(struct natt_buf *buf, const char *s, size_t len);

/* ---- Parser ---- */

enum natt_json_type {
	NATT_JSON_NONE = 0, /* no value: what natt_json_type() says of NULL */
	NATT_JSON_NULL,
	NATT_JSON_BOOL,
	NATT_JSON_NUMBER,
	NATT_JSON_STRING,
	NATT_JSON_ARRAY,
	NATT_JSON_OBJECT,
};

struct natt_json;

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

/* Accessors. Every one accepts NULL and values of the wrong type, answering NONE/NULL/0/false, so that
 * lookups chain: natt_json_string(natt_json_get(natt_json_array_at(list, 2), "state")). The values returned
 * belong to the document. */
enum natt_json_type natt_json_type(const struct natt_json *value);
/* The member named key of an object (the first if the name repeats), or NULL. */
struct natt_json *natt_json_get(const struct natt_json *object, const char *key);
size_t natt_json_array_len(const struct natt_json *array);
struct natt_json *natt_json_array_at(const struct natt_json *array, size_t index);
/* A string's text, NUL-terminated, valid UTF-8; *len (may be NULL) receives its length. NULL if not a
 * string. */
const char *natt_json_string(const struct natt_json *value, size_t *len);
/* A number's value (0 if not a number). */
double natt_json_number(const struct natt_json *value);
/* natt_json_integer - a number that is an integer within [min, max], as the status file's pid and port
 * are. Returns 0 and sets *out, -EINVAL if value is not a number or not integral, -ERANGE outside. */
int natt_json_integer(const struct natt_json *value, long long min, long long max, long long *out);

/* natt_json_write - appends value as compact JSON text that natt_json_parse reads back equal; a number
 * is written with 15 significant digits when they give the same double back (0.1 stays "0.1"), else
 * with 16 or 17.
 * Returns 0, -EINVAL for NULL arguments, or -ENOMEM when the buffer has failed. */
int natt_json_write(struct natt_buf *buf, const struct natt_json *value);

/* natt_buf_json_number - appends a finite number the way natt_json_write does; NaN and infinities,
 * which JSON cannot express, are written as null. */
int natt_buf_json_number(struct natt_buf *buf, double number);

#endif
