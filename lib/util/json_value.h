/* The values of a JSON document that natt_json_parse() (json.h) returned: their types, accessors, and
 * the document written back as text (json_value.c). */
#ifndef NATT_JSON_VALUE_H
#define NATT_JSON_VALUE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

enum natt_json_type {
	NATT_JSON_NONE = 0, /* no value: what natt_json_type() says of NULL */
	NATT_JSON_NULL,
	NATT_JSON_BOOL,
	NATT_JSON_NUMBER,
	NATT_JSON_STRING,
	NATT_JSON_ARRAY,
	NATT_JSON_OBJECT,
};

/* The layout is for the parser, which builds values, and the accessors below; everyone else uses the
 * accessors, which also take NULL and values of the wrong type. */
struct natt_json_member {
	char *key;
	size_t key_len;
	struct natt_json *value;
};

struct natt_json {
	enum natt_json_type type;
	union {
		bool boolean;
		double number;
		struct {
			char *text;
			size_t len;
		} string;
		struct {
			struct natt_json **items;
			size_t len;
		} array;
		struct {
			struct natt_json_member *members;
			size_t len;
		} object;
	} u;
};

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

/* natt_json_write - appends value as compact JSON text that natt_json_parse reads back equal; numbers
 * as natt_buf_json_number() writes them.
 * Returns 0, -EINVAL for NULL arguments, or -ENOMEM when the buffer has failed. */
int natt_json_write(struct natt_buf *buf, const struct natt_json *value);

#endif
