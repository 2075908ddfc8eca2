/* The strict JSON parser. See json.h. */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/json.h"
#include "util/json_value.h"

/* ---- Document ---- */

/* Every part of a document lives in one arena, freed at once: no partial trees to unwind on errors,
 * one free() per chunk instead of one per value. */
struct chunk {
	struct chunk *next;
	size_t used, size;
	max_align_t data[];
};

struct document {
	struct chunk *chunks;
	struct natt_json root;
};

#define CHUNK_MIN 4096
#define CHUNK_MAX (1u << 20)

struct parser {
	const unsigned char *start, *p, *end;
	struct chunk *chunks;
	size_t memory;    /* bytes allocated so far, checked against NATT_JSON_MAX_MEMORY */
	size_t next_size; /* of the next chunk: grows with the document */
	unsigned depth;
	locale_t c_locale;
	/* Scratch stacks for the elements of the arrays and objects being parsed, shared by all levels:
	 * a container's elements are copied to an exactly sized arena array when it closes. */
	struct natt_json **values;
	size_t values_len, values_cap;
	struct natt_json_member *members;
	size_t members_len, members_cap;
	/* natt_json_check: the grammar and the limits only. Values are not kept (new_value gives the one
	 * below), strings are decoded into one scratch buffer, numbers converted only when they might not
	 * fit a double. */
	bool skim;
	struct natt_json skimmed;
	char *string_scratch;
	size_t string_scratch_cap;
	/* The first error: */
	const char *error;
	const unsigned char *error_at; /* NULL: not tied to a place */
};

static void *fail(struct parser *ps, const char *why, const unsigned char *at)
{
	if (!ps->error) {
		ps->error = why;
		ps->error_at = at;
	}
	return NULL;
}

static bool account(struct parser *ps, size_t bytes)
{
	if (bytes > NATT_JSON_MAX_MEMORY - ps->memory) {
		fail(ps, "document too large (memory limit)", NULL);
		return false;
	}
	ps->memory += bytes;
	return true;
}

static void *arena_alloc(struct parser *ps, size_t size)
{
	const size_t align = alignof(max_align_t);
	struct chunk *c = ps->chunks;
	void *p;

	size = (size + align - 1) & ~(align - 1);
	if (!c || c->size - c->used < size) {
		size_t csize = ps->next_size;

		if (csize < size)
			csize = size;
		if (!account(ps, sizeof(*c) + csize))
			return NULL;
		c = malloc(sizeof(*c) + csize);
		if (!c)
			return fail(ps, "out of memory", NULL);
		c->size = csize;
		c->used = 0;
		c->next = ps->chunks;
		ps->chunks = c;
		if (ps->next_size < CHUNK_MAX)
			ps->next_size *= 2;
	}
	p = (char *)c->data + c->used;
	c->used += size;
	return p;
}

/* Gives back the unused end of the last allocation (a string decoded shorter than its source). */
static void arena_shrink_last(struct parser *ps, void *last, size_t old_size, size_t new_size)
{
	const size_t align = alignof(max_align_t);
	struct chunk *c = ps->chunks;

	old_size = (old_size + align - 1) & ~(align - 1);
	new_size = (new_size + align - 1) & ~(align - 1);
	if (c && (char *)last + old_size == (char *)c->data + c->used)
		c->used -= old_size - new_size;
}

static void free_chunks(struct chunk *c)
{
	while (c) {
		struct chunk *next = c->next;

		free(c);
		c = next;
	}
}

/* Grows a scratch stack (elements of size bytes) to hold one more. */
static bool scratch_grow(struct parser *ps, void **stack, size_t len, size_t *cap, size_t size)
{
	size_t ncap;
	void *p;

	if (len < *cap)
		return true;
	ncap = *cap ? *cap * 2 : 16;
	if (!account(ps, (ncap - *cap) * size))
		return false;
	p = realloc(*stack, ncap * size);
	if (!p) {
		fail(ps, "out of memory", NULL);
		return false;
	}
	*stack = p;
	*cap = ncap;
	return true;
}

static void skip_space(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static struct natt_json *new_value(struct parser *ps, enum natt_json_type type)
{
	struct natt_json *v = ps->skim ? &ps->skimmed : arena_alloc(ps, sizeof(*v));

	if (v) {
		memset(v, 0, sizeof(*v));
		v->type = type;
	}
	return v;
}

static int hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Four hex digits after "\u" at p (text ending at end); -1 if they are not there. */
static long hex4(const unsigned char *p, const unsigned char *end)
{
	long v = 0;
	int i;

	if (end - p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		int d = hex_digit(p[i]);

		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A check decodes every string into the same buffer (nothing keeps it), grown to the longest. */
static char *skim_string_buffer(struct parser *ps, size_t size)
{
	if (size > ps->string_scratch_cap) {
		size_t cap = size < 256 ? 256 : size;
		if (!account(ps, cap))
			return NULL;
		char *p = realloc(ps->string_scratch, cap);
		if (!p)
			return fail(ps, "out of memory", NULL);
		ps->string_scratch = p;
		ps->string_scratch_cap = cap;
	}
	return ps->string_scratch;
}

/* A string at ps->p (the opening quote): decoded into the arena, NUL-terminated. */
static bool parse_string(struct parser *ps, char **text, size_t *len)
{
	const unsigned char *open = ps->p, *q = open + 1;
	size_t raw, n = 0;
	char *out;

	/* First find the closing quote, so the decoded text (never longer than its source) gets one
	 * allocation. */
	while (q < ps->end && *q != '"')
		q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
	if (q >= ps->end) {
		fail(ps, "unterminated string", open);
		return false;
	}
	raw = (size_t)(q - open - 1);
	out = ps->skim ? skim_string_buffer(ps, raw + 1) : arena_alloc(ps, raw + 1);
	if (!out)
		return false;
	for (q = open + 1; *q != '"';) {
		unsigned char c = *q;

		if (c < 0x20) {
			fail(ps, "control character in string (must be escaped)", q);
			return false;
		}
		if (c >= 0x80) {
			size_t bad, k = natt_utf8_sequence(q, (size_t)(ps->end - q), &bad);

			if (k == 0) {
				fail(ps, "invalid UTF-8 in string", q);
				return false;
			}
			memcpy(out + n, q, k);
			n += k;
			q += k;
			continue;
		}
		if (c != '\\') {
			out[n++] = (char)c;
			q++;
			continue;
		}
		switch (q[1]) {
		case '"': out[n++] = '"'; break;
		case '\\': out[n++] = '\\'; break;
		case '/': out[n++] = '/'; break;
		case 'b': out[n++] = '\b'; break;
		case 'f': out[n++] = '\f'; break;
		case 'n': out[n++] = '\n'; break;
		case 'r': out[n++] = '\r'; break;
		case 't': out[n++] = '\t'; break;
		case 'u': {
			long cp = hex4(q + 2, ps->end), lo;

			if (cp < 0) {
				fail(ps, "invalid \\u escape (four hex digits expected)", q);
				return false;
			}
			if (cp >= 0xdc00 && cp <= 0xdfff) {
				fail(ps, "unpaired low surrogate in \\u escape", q);
				return false;
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				/* A high surrogate counts only with a low one right after it. */
				if (ps->end - q < 12 || q[6] != '\\' || q[7] != 'u' || (lo = hex4(q + 8, ps->end)) < 0xdc00 ||
				    lo > 0xdfff) {
					fail(ps, "unpaired high surrogate in \\u escape", q);
					return false;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				q += 6;
			}
			n += utf8_encode((uint32_t)cp, out + n);
			q += 6;
			continue;
		}
		default:
			fail(ps, "invalid escape in string", q);
			return false;
		}
		q += 2;
	}
	out[n] = '\0';
	arena_shrink_last(ps, out, raw + 1, n + 1);
	ps->p = q + 1;
	*text = out;
	*len = n;
	return true;
}

static struct natt_json *parse_number(struct parser *ps)
{
	const unsigned char *s = ps->p, *q = s;
	char tmp[NATT_JSON_MAX_NUMBER + 1];
	struct natt_json *v;
	double d;

	/* The RFC 8259 grammar, exactly: strtod alone would also take "+1", ".5", "0x1p3", "inf", "1.". */
	if (q < ps->end && *q == '-')
		q++;
	if (q < ps->end && *q == '0') {
		q++;
	} else if (q < ps->end && *q >= '1' && *q <= '9') {
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	} else {
		return fail(ps, "invalid number", s);
	}
	if (q < ps->end && *q == '.') {
		q++;
		if (q >= ps->end || *q < '0' || *q > '9')
			return fail(ps, "invalid number (digits expected after '.')", s);
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	}
	bool exponent = q < ps->end && (*q == 'e' || *q == 'E');
	if (exponent) {
		q++;
		if (q < ps->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= ps->end || *q < '0' || *q > '9')
			return fail(ps, "invalid number (digits expected in exponent)", s);
		while (q < ps->end && *q >= '0' && *q <= '9')
			q++;
	}
	if ((size_t)(q - s) > NATT_JSON_MAX_NUMBER)
		return fail(ps, "number too long", s);
	/* (Without an exponent, fewer than 300 digits never overflow: nothing to convert for a check.) */
	if (ps->skim && !exponent && q - s < 300) {
		ps->p = q;
		return new_value(ps, NATT_JSON_NUMBER);
	}
	memcpy(tmp, s, (size_t)(q - s));
	tmp[q - s] = '\0';
	d = strtod_l(tmp, NULL, ps->c_locale);
	if (isinf(d))
		return fail(ps, "number out of range", s);
	v = new_value(ps, NATT_JSON_NUMBER);
	if (v)
		v->u.number = d;
	ps->p = q;
	return v;
}

static struct natt_json *parse_value(struct parser *ps);

static struct natt_json *parse_array(struct parser *ps)
{
	size_t base = ps->values_len, n;
	struct natt_json *v, *item;

	ps->p++; /* [ */
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return new_value(ps, NATT_JSON_ARRAY);
	}
	for (;;) {
		item = parse_value(ps);
		if (!item)
			return NULL;
		if (!ps->skim) {
			if (!scratch_grow(ps, (void **)&ps->values, ps->values_len, &ps->values_cap,
			                  sizeof(*ps->values)))
				return NULL;
			ps->values[ps->values_len++] = item;
		}
		skip_space(ps);
		if (ps->p >= ps->end)
			return fail(ps, "unexpected end of text in array", ps->p);
		if (*ps->p == ']')
			break;
		if (*ps->p != ',')
			return fail(ps, "expected ',' or ']'", ps->p);
		ps->p++;
	}
	ps->p++;
	n = ps->values_len - base;
	v = new_value(ps, NATT_JSON_ARRAY);
	if (!v || ps->skim)
		return v;
	v->u.array.items = arena_alloc(ps, n * sizeof(*v->u.array.items));
	if (!v->u.array.items)
		return NULL;
	memcpy(v->u.array.items, ps->values + base, n * sizeof(*v->u.array.items));
	v->u.array.len = n;
	ps->values_len = base;
	return v;
}

static struct natt_json *parse_object(struct parser *ps)
{
	size_t base = ps->members_len, n;
	struct natt_json *v;

	ps->p++; /* { */
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return new_value(ps, NATT_JSON_OBJECT);
	}
	for (;;) {
		struct natt_json_member m;

		if (ps->p >= ps->end)
			return fail(ps, "unexpected end of text in object", ps->p);
		if (*ps->p != '"')
			return fail(ps, "expected a member name in double quotes", ps->p);
		if (!parse_string(ps, &m.key, &m.key_len))
			return NULL;
		skip_space(ps);
		if (ps->p >= ps->end || *ps->p != ':')
			return fail(ps, "expected ':' after member name", ps->p);
		ps->p++;
		m.value = parse_value(ps);
		if (!m.value)
			return NULL;
		if (!ps->skim) {
			if (!scratch_grow(ps, (void **)&ps->members, ps->members_len, &ps->members_cap,
			                  sizeof(*ps->members)))
				return NULL;
			ps->members[ps->members_len++] = m;
		}
		skip_space(ps);
		if (ps->p >= ps->end)
			return fail(ps, "unexpected end of text in object", ps->p);
		if (*ps->p == '}')
			break;
		if (*ps->p != ',')
			return fail(ps, "expected ',' or '}'", ps->p);
		ps->p++;
		skip_space(ps);
	}
	ps->p++;
	n = ps->members_len - base;
	v = new_value(ps, NATT_JSON_OBJECT);
	if (!v || ps->skim)
		return v;
	v->u.object.members = arena_alloc(ps, n * sizeof(*v->u.object.members));
	if (!v->u.object.members)
		return NULL;
	memcpy(v->u.object.members, ps->members + base, n * sizeof(*v->u.object.members));
	v->u.object.len = n;
	ps->members_len = base;
	return v;
}

static bool literal(struct parser *ps, const char *word, size_t len)
{
	if ((size_t)(ps->end - ps->p) < len || memcmp(ps->p, word, len) != 0)
		return false;
	ps->p += len;
	return true;
}

static struct natt_json *parse_value(struct parser *ps)
{
	struct natt_json *v;

	skip_space(ps);
	if (ps->p >= ps->end)
		return fail(ps, "unexpected end of text (a value was expected)", ps->p);
	switch (*ps->p) {
	case '{':
	case '[':
		/* Recursion is bounded here, so hostile nesting cannot exhaust the stack. */
		if (ps->depth >= NATT_JSON_MAX_DEPTH)
			return fail(ps, "nested too deeply", ps->p);
		ps->depth++;
		v = *ps->p == '{' ? parse_object(ps) : parse_array(ps);
		ps->depth--;
		return v;
	case '"':
		v = new_value(ps, NATT_JSON_STRING);
		if (v && !parse_string(ps, &v->u.string.text, &v->u.string.len))
			return NULL;
		return v;
	case 'n':
		if (literal(ps, "null", 4))
			return new_value(ps, NATT_JSON_NULL);
		break;
	case 't':
		if (literal(ps, "true", 4)) {
			v = new_value(ps, NATT_JSON_BOOL);
			if (v)
				v->u.boolean = true;
			return v;
		}
		break;
	case 'f':
		if (literal(ps, "false", 5))
			return new_value(ps, NATT_JSON_BOOL);
		break;
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return parse_number(ps);
		break;
	}
	return fail(ps, "unexpected character (a value was expected)", ps->p);
}

static void report(const struct parser *ps, char *err, size_t errlen)
{
	const unsigned char *q;
	unsigned long line = 1, column = 1;

	if (!err || errlen == 0)
		return;
	if (!ps->error_at) {
		snprintf(err, errlen, "%s", ps->error);
		return;
	}
	for (q = ps->start; q < ps->error_at; q++) {
		if (*q == '\n') {
			line++;
			column = 1;
		} else if ((*q & 0xc0) != 0x80) { /* columns count characters, not UTF-8 bytes */
			column++;
		}
	}
	if (ps->error_at >= ps->end)
		snprintf(err, errlen, "line %lu, column %lu (end of text): %s", line, column, ps->error);
	else
		snprintf(err, errlen, "line %lu, column %lu: %s", line, column, ps->error);
}

/* The parse of text (the document's header first in the arena, into *doc: its chunk is then the last of
 * the list), or its check (doc NULL: nothing built). The root value, or NULL with ps->error set; ps is
 * released by the caller with parser_end(). */
static struct natt_json *parse_text(struct parser *ps, const char *text, size_t len, struct document **doc)
{
	memset(ps, 0, sizeof(*ps));
	ps->next_size = CHUNK_MIN;
	ps->skim = !doc;
	if (!text && len)
		return fail(ps, "no text", NULL);
	if (len > NATT_JSON_MAX_TEXT)
		return fail(ps, "text too large", NULL);
	ps->start = ps->p = (const unsigned char *)(text ? text : "");
	ps->end = ps->p + len;
	ps->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (!ps->c_locale)
		return fail(ps, "out of memory", NULL);
	if (doc && !(*doc = arena_alloc(ps, sizeof(**doc))))
		return NULL;
	struct natt_json *root = parse_value(ps);
	if (root) {
		skip_space(ps);
		if (ps->p != ps->end)
			return fail(ps, "unexpected text after the value", ps->p);
	}
	return root;
}

static void parser_end(struct parser *ps)
{
	if (ps->c_locale)
		freelocale(ps->c_locale);
	free(ps->values);
	free(ps->members);
	free(ps->string_scratch);
	free_chunks(ps->chunks);
}

struct natt_json *natt_json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct parser ps;
	struct document *doc = NULL;

	if (err && errlen)
		err[0] = '\0';
	struct natt_json *root = parse_text(&ps, text, len, &doc);
	if (root) {
		doc->root = *root;
		doc->chunks = ps.chunks;
		ps.chunks = NULL;
		root = &doc->root;
	} else {
		report(&ps, err, errlen);
	}
	parser_end(&ps);
	return root;
}

bool natt_json_check(const char *text, size_t len, char *err, size_t errlen)
{
	struct parser ps;

	if (err && errlen)
		err[0] = '\0';
	bool ok = parse_text(&ps, text, len, NULL) != NULL;
	if (!ok)
		report(&ps, err, errlen);
	parser_end(&ps);
	return ok;
}

/* ---- Spans of checked text ---- */

static const char *span_end(struct natt_json_span span)
{
	return span.text + span.len;
}

static const char *skip_checked_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* The end of the string whose opening quote is at p (checked text: it closes). */
static const char *skip_checked_string(const char *p, const char *end)
{
	for (p++;;) {
		const char *quote = memchr(p, '"', (size_t)(end - p)), *q = quote;
		while (q[-1] == '\\')
			q--;
		if ((quote - q) % 2 == 0)
			return quote + 1; /* (not escaped: an even run of backslashes before it) */
		p = quote + 1;
	}
}

/* The end of the value that starts at p (checked text: every string closes, every bracket matches). */
static const char *skip_checked_value(const char *p, const char *end)
{
	/* (What matters inside a container: strings and brackets; the rest is skipped a byte at a time.) */
	static const bool container_mark[256] = { ['"'] = true, ['{'] = true, ['['] = true, ['}'] = true, [']'] = true };
	if (*p == '"')
		return skip_checked_string(p, end);
	if (*p != '{' && *p != '[') {
		/* a number or a literal */
		while (p < end && *p != ',' && *p != ']' && *p != '}' && *p != ' ' && *p != '\t' && *p != '\n' &&
		       *p != '\r')
			p++;
		return p;
	}
	unsigned depth = 0;
	do {
		while (!container_mark[(unsigned char)*p])
			p++;
		if (*p == '"') {
			p = skip_checked_string(p, end);
		} else {
			depth += *p == '{' || *p == '[' ? 1 : -1u;
			p++;
		}
	} while (depth);
	return p;
}

/* Whether the member name at raw (after its opening quote, checked) decodes to key. */
static bool checked_name_is(const char *raw, const char *end, const char *key)
{
	const unsigned char *q = (const unsigned char *)raw, *k = (const unsigned char *)key;
	const unsigned char *stop = (const unsigned char *)end;
	while (*q != '"') {
		unsigned char one[4];
		size_t n = 1;
		if (*q != '\\') {
			one[0] = *q++;
		} else if (q[1] != 'u') {
			static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
			one[0] = (unsigned char)to[strchr(from, q[1]) - from];
			q += 2;
		} else {
			long cp = hex4(q + 2, stop);
			if (cp >= 0xd800 && cp <= 0xdbff) {
				cp = 0x10000 + ((cp - 0xd800) << 10) + (hex4(q + 8, stop) - 0xdc00);
				q += 6;
			}
			n = utf8_encode((uint32_t)cp, (char *)one);
			q += 6;
		}
		for (size_t i = 0; i < n; i++, k++)
			if (*k == '\0' || *k != one[i])
				return false;
	}
	return *k == '\0';
}

enum natt_json_type natt_json_span_type(struct natt_json_span value)
{
	if (!value.text || !value.len)
		return NATT_JSON_NONE;
	switch (value.text[0]) {
	case '{': return NATT_JSON_OBJECT;
	case '[': return NATT_JSON_ARRAY;
	case '"': return NATT_JSON_STRING;
	case 'n': return NATT_JSON_NULL;
	case 't':
	case 'f': return NATT_JSON_BOOL;
	default: return NATT_JSON_NUMBER;
	}
}

struct natt_json_span natt_json_span_root(const char *text, size_t len)
{
	const char *end = text + len, *p = skip_checked_space(text, end);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		end--;
	return (struct natt_json_span){ p, (size_t)(end - p) };
}

bool natt_json_span_get(struct natt_json_span object, const char *key, struct natt_json_span *value)
{
	if (natt_json_span_type(object) != NATT_JSON_OBJECT || !key)
		return false;
	const char *end = span_end(object), *p = skip_checked_space(object.text + 1, end);
	while (*p == '"') {
		bool wanted = checked_name_is(p + 1, end, key);
		p = skip_checked_space(skip_checked_value(p, end), end) + 1; /* the name and its ':' */
		p = skip_checked_space(p, end);
		const char *after = skip_checked_value(p, end);
		if (wanted) {
			*value = (struct natt_json_span){ p, (size_t)(after - p) };
			return true;
		}
		p = skip_checked_space(after, end);
		if (*p == ',')
			p = skip_checked_space(p + 1, end);
	}
	return false;
}

bool natt_json_span_next(struct natt_json_span array, struct natt_json_span *element)
{
	if (natt_json_span_type(array) != NATT_JSON_ARRAY)
		return false;
	const char *end = span_end(array), *p;
	if (!element->text) {
		p = skip_checked_space(array.text + 1, end);
	} else {
		p = skip_checked_space(span_end(*element), end);
		if (*p != ',')
			return false;
		p = skip_checked_space(p + 1, end);
	}
	if (*p == ']')
		return false;
	*element = (struct natt_json_span){ p, (size_t)(skip_checked_value(p, end) - p) };
	return true;
}

bool natt_json_span_number(struct natt_json_span value, double *number)
{
	char tmp[NATT_JSON_MAX_NUMBER + 1];
	if (natt_json_span_type(value) != NATT_JSON_NUMBER || value.len > NATT_JSON_MAX_NUMBER)
		return false;
	locale_t c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (!c_locale)
		return false;
	memcpy(tmp, value.text, value.len);
	tmp[value.len] = '\0';
	*number = strtod_l(tmp, NULL, c_locale);
	freelocale(c_locale);
	return true;
}

void natt_json_free(struct natt_json *value)
{
	if (value)
		free_chunks(((struct document *)((char *)value - offsetof(struct document, root)))->chunks);
}
