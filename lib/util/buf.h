/* A growable text buffer (buf.c) and the JSON text of strings and numbers: natt writes its status
 * file, its HTTP requests and the CLI's output with it.
 *
 * Numbers are written independently of the program's locale (a German LC_NUMERIC must not turn 0.5
 * into "0,5"). No function keeps global state; distinct buffers may be used from distinct threads. */
#ifndef NATT_BUF_H
#define NATT_BUF_H

#include <stdbool.h>
#include <stddef.h>

/* Appending never fails loudly: on the first allocation failure (or when the text would pass
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

/* natt_buf_json_number - appends a finite number with 15 significant digits when they give the same
 * double back (0.1 stays "0.1"), else with 16 or 17; NaN and infinities, which JSON cannot express,
 * are written as null. */
int natt_buf_json_number(struct natt_buf *buf, double number);

/* Length (1-4) of the well-formed UTF-8 sequence at s (n bytes available, n >= 1), following the table
 * of well-formed byte sequences of the Unicode standard (no overlong forms, no surrogates, nothing above
 * U+10FFFF). Returns 0 if ill-formed, with *bad set to the length of the maximal ill-formed subpart —
 * the bytes a decoder replaces by one U+FFFD before trying again at the next one. The JSON parser
 * (json.c) checks strings with the same table. */
size_t natt_utf8_sequence(const unsigned char *s, size_t n, size_t *bad);

#endif
