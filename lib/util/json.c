/* JSON: string builder, strict parser, serializer. See json.h. */
#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <math.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"

/* ---- Locale ----
 * glibc hands out its built-in C locale object for "C" without allocating, so asking for it on every
 * use costs nothing and needs no global. */
static locale_t c_locale(void)
{
	return newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* ---- String builder ---- */

void natt_buf_init(struct natt_buf *buf)
{
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
	buf->failed = false;
}

void natt_buf_free(struct natt_buf *buf)
{
	free(buf->data);
	natt_buf_init(buf);
}

void natt_buf_reset(struct natt_buf *buf)
{
	buf->len = 0;
	buf->failed = false;
	if (buf->data)
		buf->data[0] = '\0';
}

static int buf_fail(struct natt_buf *buf)
{
	buf->failed = true;
	return -ENOMEM;
}

/* Makes room for extra more bytes plus the terminating NUL. */
static int buf_reserve(struct natt_buf *buf, size_t extra)
{
	size_t need, cap;
	char *p;

	if (buf->failed)
		return -ENOMEM;
	if (extra >= NATT_BUF_MAX - buf->len)
		return buf_fail(buf);
	need = buf->len + extra + 1;
	if (need <= buf->cap)
		return 0;
	cap = buf->cap ? buf->cap : 64;
	while (cap < need)
		cap *= 2;
	if (cap > NATT_BUF_MAX)
		cap = NATT_BUF_MAX;
	p = realloc(buf->data, cap);
	if (!p)
		return buf_fail(buf);
	buf->data = p;
	buf->cap = cap;
	return 0;
}

int natt_buf_append(struct natt_buf *buf, const void *data, size_t len)
{
	if (buf_reserve(buf, len) < 0)
		return -ENOMEM;
	if (len)
		memcpy(buf->data + buf->len, data, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
	return 0;
}

int natt_buf_append_str(struct natt_buf *buf, const char *s)
{
	return natt_buf_append(buf, s, strlen(s));
}

static int buf_append_char(struct natt_buf *buf, char c)
{
	return natt_buf_append(buf, &c, 1);
}

static int buf_vprintf(struct natt_buf *buf, const char *fmt, va_list ap)
{
	locale_t c = c_locale(), old = (locale_t)0;
	va_list again;
	int n, r = 0;

	if (buf_reserve(buf, 0) < 0)
		return -ENOMEM;
	if (c)
		old = uselocale(c);
	va_copy(again, ap);
	n = vsnprintf(buf->data + buf->len, buf->cap - buf->len, fmt, ap);
	if (n < 0) {
		r = buf_fail(buf);
	} else if ((size_t)n >= buf->cap - buf->len) {
		if (buf_reserve(buf, (size_t)n) < 0)
			r = -ENOMEM;
		else
			vsnprintf(buf->data + buf->len, buf->cap - buf->len, fmt, again);
	}
	va_end(again);
	if (c) {
		uselocale(old);
		freelocale(c);
	}
	if (r < 0) {
		buf->data[buf->len] = '\0'; /* drop what a failed attempt left past len */
		return r;
	}
	buf->len += (size_t)n;
	return 0;
}

int natt_buf_printf(struct natt_buf *buf, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = buf_vprintf(buf, fmt, ap);
	va_end(ap);
	return r;
}

/* ---- UTF-8 ---- */

/* Length (1-4) of the well-formed UTF-8 sequence at s (n bytes available, n >= 1), following the table
 * of well-formed byte sequences of the Unicode standard (no overlong forms, no surrogates, nothing above
 * U+10FFFF). Returns 0 if ill-formed, with *bad set to the length of the maximal ill-formed subpart —
 * the bytes a decoder replaces by one U+FFFD before trying again at the next one. */
static size_t utf8_sequence(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4) {
		*bad = 1;
		return 0;
	}
	if (c < 0xe0) {
		need = 1;
	} else if (c < 0xf0) {
		need = 2;
		if (c == 0xe0)
			lo = 0xa0; /* overlong below */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates above */
	} else {
		need = 3;
		if (c == 0xf0)
			lo = 0x90; /* overlong below */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	}
	for (i = 1; i <= need; i++) {
		unsigned char min = i == 1 ? lo : 0x80, max = i == 1 ? hi : 0xbf;

		if (i >= n || s[i] < min || s[i] > max) {
			*bad = i;
			return 0;
		}
	}
	return need + 1;
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

int natt_buf_json_string_n(struct natt_buf *buf, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;

	if (!s)
		return natt_buf_append(buf, "null", 4);
	buf_append_char(buf, '"');
	while (i < len) {
		unsigned char c = p[i];
		size_t n = 1, bad = 0;
		char esc[6];
		size_t esc_len = 2;

		if (c >= 0x20 && c != '"' && c != '\\' && (c < 0x80 || (n = utf8_sequence(p + i, len - i, &bad)))) {
			i += n; /* written later, with the rest of its run */
			continue;
		}
		natt_buf_append(buf, s + run, i - run);
		esc[0] = '\\';
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			if (c < 0x20) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[c >> 4];
				esc[5] = hex[c & 0xf];
				esc_len = 6;
			} else {
				memcpy(esc, "\xef\xbf\xbd", 3); /* U+FFFD for the ill-formed bytes */
				esc_len = 3;
				n = bad;
			}
		}
		natt_buf_append(buf, esc, esc_len);
		i += n;
		run = i;
	}
	natt_buf_append(buf, s + run, i - run);
	return buf_append_char(buf, '"');
}

int natt_buf_json_string(struct natt_buf *buf, const char *s)
{
	return natt_buf_json_string_n(buf, s, s ? strlen(s) : 0);
}

int natt_buf_json_number(struct natt_buf *buf, double number)
{
	locale_t c, old = (locale_t)0;
	char tmp[40];
	int prec;

	if (!isfinite(number))
		return natt_buf_append(buf, "null", 4);
	if (number == 0)
		return natt_buf_append_str(buf, signbit(number) ? "-0" : "0");
	c = c_locale();
	if (!c) {
		buf_fail(buf);
		return -ENOMEM;
	}
	old = uselocale(c);
	/* The shortest of %.15g..%.17g that reads back as the same double; %.17g always does. */
	for (prec = 15; prec < 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, number);
		if (strtod_l(tmp, NULL, c) == number)
			break;
	}
	if (prec == 17)
		snprintf(tmp, sizeof(tmp), "%.17g", number);
	uselocale(old);
	freelocale(c);
	return natt_buf_append_str(buf, tmp);
}

/* ---- Document ---- */

struct member {
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
			struct member *members;
			size_t len;
		} object;
	} u;
};

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
	struct member *members;
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
			size_t bad, k = utf8_sequence(q, (size_t)(ps->end - q), &bad);

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
		struct member m;

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
	ps.c_locale = c_locale();
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

enum natt_json_type natt_json_type(const struct natt_json *value)
{
	return value ? value->type : NATT_JSON_NONE;
}

struct natt_json *natt_json_get(const struct natt_json *object, const char *key)
{
	size_t i, n;

	if (!object || object->type != NATT_JSON_OBJECT || !key)
		return NULL;
	n = strlen(key);
	for (i = 0; i < object->u.object.len; i++) {
		const struct member *m = &object->u.object.members[i];

		if (m->key_len == n && memcmp(m->key, key, n) == 0)
			return m->value;
	}
	return NULL;
}

size_t natt_json_array_len(const struct natt_json *array)
{
	return array && array->type == NATT_JSON_ARRAY ? array->u.array.len : 0;
}

struct natt_json *natt_json_array_at(const struct natt_json *array, size_t index)
{
	return index < natt_json_array_len(array) ? array->u.array.items[index] : NULL;
}

const char *natt_json_string(const struct natt_json *value, size_t *len)
{
	if (!value || value->type != NATT_JSON_STRING) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = value->u.string.len;
	return value->u.string.text;
}

double natt_json_number(const struct natt_json *value)
{
	return value && value->type == NATT_JSON_NUMBER ? value->u.number : 0;
}

int natt_json_integer(const struct natt_json *value, long long min, long long max, long long *out)
{
	double d;

	if (!value || value->type != NATT_JSON_NUMBER || !out)
		return -EINVAL;
	d = value->u.number;
	if (d != floor(d))
		return -EINVAL;
	/* Compare as doubles first: converting a double outside long long's range is undefined. */
	if (d < (double)min || d > (double)max || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
		return -ERANGE;
	if ((long long)d < min || (long long)d > max)
		return -ERANGE;
	*out = (long long)d;
	return 0;
}

/* Depth is bounded by the parser's limit, since values only come from natt_json_parse. */
static void write_value(struct natt_buf *buf, const struct natt_json *v)
{
	size_t i;

	switch (v->type) {
	case NATT_JSON_NONE:
	case NATT_JSON_NULL:
		natt_buf_append(buf, "null", 4);
		break;
	case NATT_JSON_BOOL:
		natt_buf_append_str(buf, v->u.boolean ? "true" : "false");
		break;
	case NATT_JSON_NUMBER:
		natt_buf_json_number(buf, v->u.number);
		break;
	case NATT_JSON_STRING:
		natt_buf_json_string_n(buf, v->u.string.text, v->u.string.len);
		break;
	case NATT_JSON_ARRAY:
		buf_append_char(buf, '[');
		for (i = 0; i < v->u.array.len; i++) {
			if (i)
				buf_append_char(buf, ',');
			write_value(buf, v->u.array.items[i]);
		}
		buf_append_char(buf, ']');
		break;
	case NATT_JSON_OBJECT:
		buf_append_char(buf, '{');
		for (i = 0; i < v->u.object.len; i++) {
			const struct member *m = &v->u.object.members[i];

			if (i)
				buf_append_char(buf, ',');
			natt_buf_json_string_n(buf, m->key, m->key_len);
			buf_append_char(buf, ':');
			write_value(buf, m->value);
		}
		buf_append_char(buf, '}');
		break;
	}
}

int natt_json_write(struct natt_buf *buf, const struct natt_json *value)
{
	if (!buf || !value)
		return -EINVAL;
	write_value(buf, value);
	return buf->failed ? -ENOMEM : 0;
}
