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
	struct natt_json *v = arena_alloc(ps, sizeof(*v));

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

/* Four hex digits after "\u" at p; -1 if they are not there. */
static long hex4(struct parser *ps, const unsigned char *p)
{
	long v = 0;
	int i;

	if (ps->end - p < 4)
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
	out = arena_alloc(ps, raw + 1);
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
			long cp = hex4(ps, q + 2), lo;

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
				if (ps->end - q < 12 || q[6] != '\\' || q[7] != 'u' || (lo = hex4(ps, q + 8)) < 0xdc00 ||
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
	if (q < ps->end && (*q == 'e' || *q == 'E')) {
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
		if (!scratch_grow(ps, (void **)&ps->values, ps->values_len, &ps->values_cap, sizeof(*ps->values)))
			return NULL;
		ps->values[ps->values_len++] = item;
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
	if (!v)
		return NULL;
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
		if (!scratch_grow(ps, (void **)&ps->members, ps->members_len, &ps->members_cap, sizeof(*ps->members)))
			return NULL;
		ps->members[ps->members_len++] = m;
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
	if (!v)
		return NULL;
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

struct natt_json *natt_json_parse(const char *text, size_t len, char *err, size_t errlen)
{
	struct parser ps;
	struct natt_json *root = NULL;
	struct document *doc;

	if (err && errlen)
		err[0] = '\0';
	memset(&ps, 0, sizeof(ps));
	ps.next_size = CHUNK_MIN;
	if (!text && len) {
		fail(&ps, "no text", NULL);
		goto out;
	}
	if (len > NATT_JSON_MAX_TEXT) {
		fail(&ps, "text too large", NULL);
		goto out;
	}
	ps.start = ps.p = (const unsigned char *)(text ? text : "");
	ps.end = ps.p + len;
	ps.c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (!ps.c_locale) {
		fail(&ps, "out of memory", NULL);
		goto out;
	}
	/* The document header goes first into the arena; its chunk is then the last of the list. */
	doc = arena_alloc(&ps, sizeof(*doc));
	if (!doc)
		goto out;
	root = parse_value(&ps);
	if (root) {
		skip_space(&ps);
		if (ps.p != ps.end) {
			fail(&ps, "unexpected text after the value", ps.p);
			root = NULL;
		}
	}
	if (root) {
		doc->root = *root;
		doc->chunks = ps.chunks;
		ps.chunks = NULL;
		root = &doc->root;
	}
out:
	if (!root)
		report(&ps, err, errlen);
	if (ps.c_locale)
		freelocale(ps.c_locale);
	free(ps.values);
	free(ps.members);
	free_chunks(ps.chunks);
	return root;
}

void natt_json_free(struct natt_json *value)
{
	if (value)
		free_chunks(((struct document *)((char *)value - offsetof(struct document, root)))->chunks);
}
