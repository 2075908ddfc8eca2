/* Unit tests of lib/util/buf.c, json.c and json_value.c: the string builder, JSON string escaping, the
 * strict parser (valid and hostile inputs), the check without a document and the spans of checked text
 * (against the parser, on every text parsed here), the serializer's round trips, and independence from
 * the program's locale. */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/buf.h"
#include "util/json.h"
#include "util/json_value.h"

/* Deterministic pseudo-random numbers, so a failing fuzz case can be reproduced. */
static uint32_t rng_state = 12345;
static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* ---- natt_json_check and spans, against the parser: every parse in this file goes through here ---- */

static void compare_span(struct natt_json_span span, const struct natt_json *value);

/* The value of span (checked text) equals value: same type, same number, same text once parsed, same
 * members found by name (the first of a repeated name), same elements in order. */
static void compare_span(struct natt_json_span span, const struct natt_json *value)
{
	assert_int_equal(natt_json_span_type(span), natt_json_type(value));
	struct natt_json *alone = natt_json_parse(span.text, span.len, NULL, 0);
	if (!alone)
		fail_msg("span does not parse alone: %.*s", (int)span.len, span.text);
	struct natt_buf a, b;
	natt_buf_init(&a);
	natt_buf_init(&b);
	assert_int_equal(natt_json_write(&a, alone), 0);
	assert_int_equal(natt_json_write(&b, value), 0);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		fail_msg("span %.*s reads %s, the document %s", (int)span.len, span.text, a.data, b.data);
	natt_buf_free(&a);
	natt_buf_free(&b);
	natt_json_free(alone);
	double number;
	assert_int_equal(natt_json_span_number(span, &number), natt_json_type(value) == NATT_JSON_NUMBER);
	if (natt_json_type(value) == NATT_JSON_NUMBER)
		assert_memory_equal(&number, &(double){ natt_json_number(value) }, sizeof(number));
	struct natt_json_span part = { NULL, 0 };
	if (natt_json_type(value) == NATT_JSON_ARRAY) {
		size_t i = 0;
		while (natt_json_span_next(span, &part))
			compare_span(part, natt_json_array_at(value, i++));
		assert_int_equal(i, natt_json_array_len(value));
	} else {
		assert_false(natt_json_span_next(span, &part));
	}
	if (natt_json_type(value) == NATT_JSON_OBJECT) {
		for (size_t i = 0; i < value->u.object.len; i++) {
			const char *key = value->u.object.members[i].key;
			if (strlen(key) != value->u.object.members[i].key_len)
				continue; /* (a name with \u0000 in it cannot be asked for) */
			assert_true(natt_json_span_get(span, key, &part));
			compare_span(part, natt_json_get(value, key));
		}
	}
	assert_false(natt_json_span_get(span, "no such name \x01", &part));
}

/* natt_json_parse, with natt_json_check asked the same: they agree on every text (and on the message),
 * and the spans of checked text read as the document. */
static struct natt_json *parse_and_check(const char *text, size_t len, char *err, size_t errlen)
{
	char parse_err[160], check_err[160];
	struct natt_json *v = natt_json_parse(text, len, parse_err, sizeof(parse_err));
	bool checked = natt_json_check(text, len, check_err, sizeof(check_err));
	/* (The memory limit is the parse's own: the check builds nothing.) */
	bool memory_only = !v && strstr(parse_err, "memory limit") != NULL;
	if (memory_only && !checked)
		fail_msg("check refuses what only the parse's memory limit refused: %s", check_err);
	if (!memory_only && checked != (v != NULL))
		fail_msg("parse %s, check %s: %.*s", v ? "accepts" : "refuses", checked ? "accepts" : "refuses",
		         (int)(len < 200 ? len : 200), text ? text : "");
	if (!v && !memory_only) {
		if (strcmp(parse_err, check_err) != 0)
			fail_msg("parse says \"%s\", check \"%s\"", parse_err, check_err);
	} else if (v) {
		compare_span(natt_json_span_root(text, len), v);
	}
	if (err && errlen)
		snprintf(err, errlen, "%s", v ? "" : parse_err);
	return v;
}
#define natt_json_parse parse_and_check

static struct natt_json *parse_str(const char *text)
{
	return natt_json_parse(text, strlen(text), NULL, 0);
}

/* The compact serialization of text, parsed; "" if it does not parse. Caller frees. */
static char *rewrite(const char *text, size_t len)
{
	struct natt_json *v = natt_json_parse(text, len, NULL, 0);
	struct natt_buf buf;

	natt_buf_init(&buf);
	if (!v)
		return strdup("");
	assert_int_equal(natt_json_write(&buf, v), 0);
	natt_json_free(v);
	assert_false(buf.failed);
	char *s = strdup(buf.data);
	natt_buf_free(&buf);
	return s;
}

/* Checks that text, parsed and written back compactly, reads out. */
static void expect_rewrite(const char *text, const char *out)
{
	char *s = rewrite(text, strlen(text));

	assert_string_equal(s, out);
	free(s);
}

/* ---- Builder ---- */

static void test_buf_append_and_grow(void **state)
{
	struct natt_buf buf;
	size_t i;

	(void)state;
	natt_buf_init(&buf);
	assert_null(buf.data);
	assert_int_equal(natt_buf_append(&buf, "abc", 3), 0);
	assert_int_equal(natt_buf_append(&buf, "d\0e", 3), 0); /* bytes, NUL included */
	assert_int_equal(buf.len, 6);
	assert_memory_equal(buf.data, "abcd\0e", 7); /* and NUL-terminated after them */
	assert_int_equal(natt_buf_printf(&buf, "|%d|%s|%05.1f", -42, "x", 2.25), 0);
	assert_string_equal(buf.data + 6, "|-42|x|002.2");
	/* Growth well past the first allocation keeps every byte. */
	for (i = 0; i < 100000; i++)
		assert_int_equal(natt_buf_printf(&buf, "%zu,", i % 10), 0);
	assert_int_equal(buf.len, 6 + 12 + 200000);
	assert_true(buf.cap > buf.len);
	assert_int_equal(buf.data[buf.len], '\0');
	assert_memory_equal(buf.data + buf.len - 4, "8,9,", 4);
	assert_false(buf.failed);
	natt_buf_free(&buf);
	assert_null(buf.data);
	assert_int_equal(buf.len, 0);
}

static void test_buf_failure_is_sticky(void **state)
{
	struct natt_buf buf;
	static const char big[1];

	(void)state;
	natt_buf_init(&buf);
	natt_buf_printf(&buf, "%s", "start");
	/* A length past the limit fails without reading the (too short) source. */
	assert_int_equal(natt_buf_append(&buf, big, NATT_BUF_MAX), -ENOMEM);
	assert_true(buf.failed);
	assert_int_equal(natt_buf_printf(&buf, "%s", "more"), -ENOMEM);
	assert_int_equal(natt_buf_printf(&buf, "%d", 1), -ENOMEM);
	assert_int_equal(natt_buf_json_string(&buf, "x"), -ENOMEM);
	assert_int_equal(buf.len, 5);
	assert_string_equal(buf.data, "start");
	natt_buf_free(&buf);
	assert_null(buf.data);
}

static void test_buf_printf_long(void **state)
{
	struct natt_buf buf;
	char expect[3001];

	(void)state;
	memset(expect, 'z', 3000);
	expect[3000] = '\0';
	natt_buf_init(&buf);
	natt_buf_printf(&buf, "%s", "<");
	assert_int_equal(natt_buf_printf(&buf, "%s>", expect), 0); /* longer than the first attempt's room */
	assert_int_equal(buf.len, 3002);
	assert_int_equal(buf.data[0], '<');
	assert_memory_equal(buf.data + 1, expect, 3000);
	assert_string_equal(buf.data + 3001, ">");
	natt_buf_free(&buf);
}

/* ---- JSON strings ---- */

static void test_json_string_escapes(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *out;
	} cases[] = {
#define C(in, out) { in, sizeof(in) - 1, out }
		C("", "\"\""),
		C("plain text", "\"plain text\""),
		C("q\"b\\s/", "\"q\\\"b\\\\s/\""),
		C("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\""),
		C("\x01\x1f\x7f", "\"\\u0001\\u001f\x7f\""),
		C("a\0b", "\"a\\u0000b\""),
		C("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""), /* é€😀 */
		C("\xef\xbf\xbf\xf4\x8f\xbf\xbf", "\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\""), /* U+FFFF, U+10FFFF */
		/* Ill-formed UTF-8: one U+FFFD per maximal ill-formed subpart. */
		C("\x80", "\"\xef\xbf\xbd\""),
		C("a\xffz", "\"a\xef\xbf\xbdz\""),
		C("\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\""),                   /* overlong '/' */
		C("\xe0\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""),   /* overlong NUL */
		C("\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""),   /* surrogate D800 */
		C("\xf4\x90\x80\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\""), /* > U+10FFFF */
		C("\xf5", "\"\xef\xbf\xbd\""),
		C("\xe2\x82", "\"\xef\xbf\xbd\""),                               /* truncated at the end */
		C("\xe2\x82x", "\"\xef\xbf\xbdx\""),                             /* truncated before x */
		C("\xf0\x9f\x98\"", "\"\xef\xbf\xbd\\\"\""),                     /* truncated before a quote */
		C("\xc3", "\"\xef\xbf\xbd\""),
#undef C
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct natt_buf buf;

		natt_buf_init(&buf);
		assert_int_equal(natt_buf_json_string_n(&buf, cases[i].in, cases[i].len), 0);
		if (strcmp(buf.data, cases[i].out) != 0)
			fail_msg("case %zu: got %s, expected %s", i, buf.data, cases[i].out);
		natt_buf_free(&buf);
	}
	{
		struct natt_buf buf;

		natt_buf_init(&buf);
		natt_buf_json_string(&buf, NULL);
		natt_buf_printf(&buf, " ");
		natt_buf_json_string(&buf, "tab\there");
		assert_string_equal(buf.data, "null \"tab\\there\"");
		natt_buf_free(&buf);
	}
}

/* Whatever bytes natt_buf_json_string gets, it writes a JSON string the parser accepts; valid UTF-8
 * comes back unchanged. */
static void test_json_string_any_bytes_parse_back(void **state)
{
	int iter;

	(void)state;
	for (iter = 0; iter < 3000; iter++) {
		unsigned char in[40];
		size_t len = rng() % sizeof(in), i, got_len;
		struct natt_buf buf;
		struct natt_json *v;
		const char *got;

		for (i = 0; i < len; i++) {
			/* Mostly bytes around the interesting boundaries. */
			static const unsigned char pick[] = { 0x00, 0x1f, 0x20, '"', '\\', 'a', 0x7f, 0x80, 0xbf,
							      0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4,
							      0xf5, 0xff, 0xa0, 0x9f, 0x90, 0x8f };
			in[i] = (rng() & 1) ? pick[rng() % sizeof(pick)] : (unsigned char)rng();
		}
		natt_buf_init(&buf);
		assert_int_equal(natt_buf_json_string_n(&buf, (const char *)in, len), 0);
		v = natt_json_parse(buf.data, buf.len, NULL, 0);
		if (!v)
			fail_msg("iteration %d: output does not parse: %s", iter, buf.data);
		assert_int_equal(natt_json_type(v), NATT_JSON_STRING);
		got = natt_json_string(v, &got_len);
		/* Re-encoding the decoded text gives the same JSON: the output was already canonical. */
		{
			struct natt_buf again;

			natt_buf_init(&again);
			natt_buf_json_string_n(&again, got, got_len);
			assert_int_equal(again.len, buf.len);
			assert_memory_equal(again.data, buf.data, buf.len);
			natt_buf_free(&again);
		}
		/* Valid input is never altered. */
		{
			size_t j = 0;
			bool valid = true;

			for (j = 0; j < len && valid; j++)
				valid = in[j] < 0x80;
			if (valid) {
				assert_int_equal(got_len, len);
				assert_memory_equal(got, in, len);
			}
		}
		natt_json_free(v);
		natt_buf_free(&buf);
	}
}

/* ---- Parser: valid documents ---- */

static const char status_file[] =
	"{ \"version\": 1, \"updated\": \"2026-11-22T10:00:00Z\",\n"
	"  \"sockets\": [\n"
	"    { \"pid\": 4242, \"protocol\": \"tcp\", \"local_address\": \"0.0.0.0\", \"local_port\": 8000,\n"
	"      \"state\": \"published\",\n"
	"      \"assignments\": [\n"
	"        { \"protocol\": \"tcp\", \"address\": \"10.77.0.2\",   \"port\": 8000, \"technique\": null },\n"
	"        { \"protocol\": \"tcp\", \"address\": \"100.130.0.1\", \"port\": 8000, \"technique\": \"upnp\",\n"
	"          \"lifetime\": 3600, \"expires\": \"2026-11-22T11:00:00Z\" } ] } ] }\n";

static void test_parse_status_file(void **state)
{
	struct natt_json *doc, *sock, *a;
	long long pid;

	(void)state;
	doc = parse_str(status_file);
	assert_non_null(doc);
	assert_int_equal(natt_json_type(doc), NATT_JSON_OBJECT);
	assert_true(natt_json_number(natt_json_get(doc, "version")) == 1);
	assert_string_equal(natt_json_string(natt_json_get(doc, "updated"), NULL), "2026-11-22T10:00:00Z");
	assert_int_equal(natt_json_array_len(natt_json_get(doc, "sockets")), 1);
	sock = natt_json_array_at(natt_json_get(doc, "sockets"), 0);
	assert_int_equal(natt_json_integer(natt_json_get(sock, "pid"), 1, 4194304, &pid), 0);
	assert_int_equal(pid, 4242);
	assert_string_equal(natt_json_string(natt_json_get(sock, "state"), NULL), "published");
	a = natt_json_get(sock, "assignments");
	assert_int_equal(natt_json_array_len(a), 2);
	assert_int_equal(natt_json_type(natt_json_get(natt_json_array_at(a, 0), "technique")), NATT_JSON_NULL);
	assert_string_equal(natt_json_string(natt_json_get(natt_json_array_at(a, 1), "technique"), NULL), "upnp");
	assert_true(natt_json_number(natt_json_get(natt_json_array_at(a, 1), "lifetime")) == 3600);
	/* Missing things chain to "nothing" instead of crashing. */
	assert_null(natt_json_get(sock, "error"));
	assert_null(natt_json_string(natt_json_get(natt_json_array_at(a, 7), "technique"), NULL));
	assert_int_equal(natt_json_type(natt_json_array_at(a, 2)), NATT_JSON_NONE);
	natt_json_free(doc);
}

static void test_parse_scalars(void **state)
{
	struct natt_json *v;
	size_t len;

	(void)state;
	v = parse_str(" null ");
	assert_int_equal(natt_json_type(v), NATT_JSON_NULL);
	natt_json_free(v);
	v = parse_str("\t\r\ntrue");
	assert_int_equal(natt_json_type(v), NATT_JSON_BOOL);
	natt_json_free(v);
	expect_rewrite("\t\r\ntrue", "true");
	v = parse_str("false");
	assert_int_equal(natt_json_type(v), NATT_JSON_BOOL);
	natt_json_free(v);
	expect_rewrite("false", "false");
	v = parse_str("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud83d\\ude00\\u0000!\"");
	assert_non_null(v);
	assert_memory_equal(natt_json_string(v, &len), "\"\\/\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\0!", 19);
	assert_int_equal(len, 19);
	natt_json_free(v);
	v = parse_str("{\"\":[],\"a\\u0000b\":{}}");
	assert_non_null(v);
	assert_null(natt_json_get(v, "a")); /* "a" is not "a\0b" */
	assert_int_equal(natt_json_type(natt_json_get(v, "")), NATT_JSON_ARRAY);
	natt_json_free(v);
	/* Names, empty or holding NUL, kept in order and whole. */
	expect_rewrite("{\"\":[],\"a\\u0000b\":{}}", "{\"\":[],\"a\\u0000b\":{}}");
}

static void test_parse_numbers(void **state)
{
	static const struct {
		const char *text;
		double value;
	} good[] = {
		{ "0", 0 }, { "-0", -0.0 }, { "1.5", 1.5 }, { "1e3", 1000 }, { "1E+3", 1000 },
		{ "-1.25e-2", -0.0125 }, { "123456789012345678901234567890", 1.2345678901234568e29 },
		{ "1.7976931348623157e308", 1.7976931348623157e308 }, { "4.9e-324", 4.9e-324 },
		{ "1e-400", 0 }, /* underflow: the nearest double, 0 */
		{ "0.000001", 1e-6 }, { "9007199254740993", 9007199254740992.0 },
	};
	static const char *const bad[] = {
		"01", "-", "+1", ".5", "1.", "1e", "1e+", "0x10", "NaN", "nan", "Infinity", "-Infinity",
		"1.e3", "--1", "- 1", "1e309", "-1e400", "00", "1..2", "1ee2", "0.1.2", "\xd9\xa1" /* Arabic 1 */,
	};
	struct natt_json *v;
	char longnum[700];
	long long ll;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = parse_str(good[i].text);
		if (!v)
			fail_msg("\"%s\" refused", good[i].text);
		assert_int_equal(natt_json_type(v), NATT_JSON_NUMBER);
		assert_true(natt_json_number(v) == good[i].value);
		assert_true(signbit(natt_json_number(v)) == signbit(good[i].value));
		natt_json_free(v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[128];

		v = natt_json_parse(bad[i], strlen(bad[i]), err, sizeof(err));
		if (v)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_true(err[0] != '\0');
	}
	/* A number with 600 digits is refused by length, not handed to strtod. */
	memset(longnum, '7', 600);
	longnum[600] = '\0';
	{
		char err[128];

		assert_null(natt_json_parse(longnum, 600, err, sizeof(err)));
		assert_non_null(strstr(err, "too long"));
		assert_null(natt_json_parse("1e999999999999999999", 20, err, sizeof(err)));
		assert_non_null(strstr(err, "out of range"));
	}
	/* natt_json_integer */
	v = parse_str("[8000, 1.5, 1e300, -3, \"7\", 9007199254740992]");
	assert_int_equal(natt_json_integer(natt_json_array_at(v, 0), 1, 65535, &ll), 0);
	assert_int_equal(ll, 8000);
	assert_int_equal(natt_json_integer(natt_json_array_at(v, 0), 1, 7999, &ll), -ERANGE);
	assert_int_equal(natt_json_integer(natt_json_array_at(v, 1), 0, 10, &ll), -EINVAL);
	assert_int_equal(natt_json_integer(natt_json_array_at(v, 2), LLONG_MIN, LLONG_MAX, &ll), -ERANGE);
	assert_int_equal(natt_json_integer(natt_json_array_at(v, 3), -5, 0, &ll), 0);
	assert_int_equal(ll, -3);
	assert_int_equal(natt_json_integer(natt_json_array_at(v, 3), 0, 5, &ll), -ERANGE);
	assert_int_equal(natt_json_integer(natt_json_array_at(v, 4), 0, 10, &ll), -EINVAL);
	assert_int_equal(natt_json_integer(natt_json_array_at(v, 5), 0, LLONG_MAX, &ll), 0);
	assert_true(ll == 9007199254740992LL);
	assert_int_equal(natt_json_integer(NULL, 0, 1, &ll), -EINVAL);
	natt_json_free(v);
}

static void test_accessors_on_wrong_types(void **state)
{
	struct natt_json *v = parse_str("[\"s\", 1, {\"k\": true, \"k\": false}]");
	size_t len = 5;

	(void)state;
	assert_non_null(v);
	assert_int_equal(natt_json_type(NULL), NATT_JSON_NONE);
	assert_null(natt_json_get(v, "k"));                       /* an array has no members */
	assert_int_equal(natt_json_array_len(natt_json_array_at(v, 0)), 0);
	assert_null(natt_json_string(natt_json_array_at(v, 1), &len));
	assert_int_equal(len, 0);
	assert_true(natt_json_number(natt_json_array_at(v, 0)) == 0);
	assert_null(natt_json_get(NULL, "k"));
	assert_null(natt_json_get(natt_json_array_at(v, 2), NULL));
	/* A repeated name: the first one counts. */
	natt_json_free(v);
	v = parse_str("{\"k\": true, \"k\": false}");
	assert_true(natt_json_type(natt_json_get(v, "k")) == NATT_JSON_BOOL);
	natt_json_free(v);
	expect_rewrite("{\"k\": true, \"k\": false}", "{\"k\":true,\"k\":false}"); /* both kept */
	natt_json_free(NULL);
}

/* ---- Parser: hostile input ---- */

static void expect_refused(const char *text, size_t len, const char *why)
{
	char err[160];
	struct natt_json *v;

	memset(err, 'x', sizeof(err));
	v = natt_json_parse(text, len, err, sizeof(err));
	if (v) {
		natt_json_free(v);
		fail_msg("accepted: \"%.*s\"", (int)len, text);
	}
	assert_non_null(memchr(err, '\0', sizeof(err)));
	if (why && !strstr(err, why))
		fail_msg("\"%.*s\": message \"%s\" lacks \"%s\"", (int)len, text, err, why);
}

static void test_refuses_bad_syntax(void **state)
{
	static const struct {
		const char *text, *why;
	} cases[] = {
		{ "", "end of text" },
		{ "   ", "end of text" },
		{ "[", "end of text" },
		{ "[1,]", "value was expected" },
		{ "[,1]", "value was expected" },
		{ "[1 2]", "expected ',' or ']'" },
		{ "[1]]", "after the value" },
		{ "[1] x", "after the value" },
		{ "{}{}", "after the value" },
		{ "{\"a\":1,}", "member name" },
		{ "{\"a\" 1}", "':'" },
		{ "{a:1}", "member name" },
		{ "{\"a\":}", "value was expected" },
		{ "{\"a\":1 \"b\":2}", "expected ',' or '}'" },
		{ "{\"a\"", "':'" },
		{ "{1:2}", "member name" },
		{ "nul", "unexpected character" },
		{ "truex", "after the value" },
		{ "tru", "unexpected character" },
		{ "True", "unexpected character" },
		{ "'a'", "unexpected character" },
		{ "\"abc", "unterminated" },
		{ "\"abc\\", "unterminated" },
		{ "\"\\x\"", "invalid escape" },
		{ "\"\\u12\"", "\\u escape" },
		{ "\"\\u12G4\"", "\\u escape" },
		{ "\"\\uD83D\"", "unpaired high surrogate" },
		{ "\"\\uD83D\\u0041\"", "unpaired high surrogate" },
		{ "\"\\uD83Dx\"", "unpaired high surrogate" },
		{ "\"\\uD83D\\uD83D\"", "unpaired high surrogate" },
		{ "\"\\uDE00\"", "unpaired low surrogate" },
		{ "\"a\x01\"", "control character" },
		{ "\"a\nb\"", "control character" },
		{ "\"\x7f\"", NULL }, /* DEL is allowed: checked below */
		{ "\"\xff\"", "invalid UTF-8" },
		{ "\"\xc0\x80\"", "invalid UTF-8" },
		{ "\"\xed\xa0\x80\"", "invalid UTF-8" },
		{ "\"\xf4\x90\x80\x80\"", "invalid UTF-8" },
		{ "\"\xe2\x82\"", "invalid UTF-8" },
		{ "\xef\xbb\xbf[]", "unexpected character" }, /* a BOM is not JSON */
		{ "[1]\x0b", "after the value" },                /* vertical tab is not white space */
		{ "\xc2\xa0" "1", "unexpected character" },     /* nor is a no-break space */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!cases[i].why) {
			struct natt_json *v = parse_str(cases[i].text);

			assert_non_null(v);
			natt_json_free(v);
			continue;
		}
		expect_refused(cases[i].text, strlen(cases[i].text), cases[i].why);
	}
}

static void test_refuses_nul_bytes(void **state)
{
	(void)state;
	expect_refused("[1]\0", 4, "after the value");
	expect_refused("\0", 1, "unexpected character");
	expect_refused("[\"a\0b\"]", 7, "control character");
	expect_refused("{\"a\0\":1}", 8, "control character");
	expect_refused("[1,\0 2]", 7, "value was expected");
	expect_refused(NULL, 3, NULL);
	/* The length given rules, not a NUL: "[1] garbage" cut at 3 bytes is fine. */
	{
		struct natt_json *v = natt_json_parse("[1] garbage", 3, NULL, 0);

		assert_int_equal(natt_json_array_len(v), 1);
		natt_json_free(v);
	}
}

static void test_error_position(void **state)
{
	char err[128];

	(void)state;
	assert_null(natt_json_parse("{\n  \"a\": 1,\n  \"b\" 2\n}", 21, err, sizeof(err)));
	assert_string_equal(err, "line 3, column 7: expected ':' after member name");
	assert_null(natt_json_parse("[\"\xc3\xa9\xc3\xa9\", x]", 11, err, sizeof(err)));
	assert_string_equal(err, "line 1, column 8: unexpected character (a value was expected)");
	assert_null(natt_json_parse("[1,", 3, err, sizeof(err)));
	assert_string_equal(err, "line 1, column 4 (end of text): unexpected end of text (a value was expected)");
	/* A short buffer gets a truncated, terminated message; errlen 0 is left alone. */
	assert_null(natt_json_parse("x", 1, err, 5));
	assert_string_equal(err, "line");
	err[0] = '#';
	assert_null(natt_json_parse("x", 1, err, 0));
	assert_int_equal(err[0], '#');
}

static void test_depth_limit(void **state)
{
	static char text[200001];
	struct natt_json *v;
	char err[128];
	int i;

	(void)state;
	/* 64 levels are fine, 65 are not: arrays, objects, and a mix. */
	for (i = 0; i < NATT_JSON_MAX_DEPTH; i++)
		text[i] = '[';
	for (i = 0; i < NATT_JSON_MAX_DEPTH; i++)
		text[NATT_JSON_MAX_DEPTH + i] = ']';
	v = natt_json_parse(text, 2 * NATT_JSON_MAX_DEPTH, err, sizeof(err));
	assert_non_null(v);
	natt_json_free(v);
	memmove(text + 1, text, 2 * NATT_JSON_MAX_DEPTH);
	text[2 * NATT_JSON_MAX_DEPTH + 1] = ']';
	expect_refused(text, 2 * NATT_JSON_MAX_DEPTH + 2, "nested too deeply");

	{
		struct natt_buf b;

		natt_buf_init(&b);
		for (i = 0; i < NATT_JSON_MAX_DEPTH - 1; i++)
			natt_buf_printf(&b, "%s", i % 2 ? "{\"k\":" : "[");
		natt_buf_printf(&b, "%s", "{}");
		for (i = NATT_JSON_MAX_DEPTH - 2; i >= 0; i--)
			natt_buf_printf(&b, "%s", i % 2 ? "}" : "]");
		v = natt_json_parse(b.data, b.len, err, sizeof(err));
		assert_non_null(v);
		natt_json_free(v);
		natt_buf_free(&b);
		natt_buf_init(&b);
		for (i = 0; i < NATT_JSON_MAX_DEPTH; i++)
			natt_buf_printf(&b, "%s", "{\"k\":");
		natt_buf_printf(&b, "%s", "{}");
		for (i = 0; i < NATT_JSON_MAX_DEPTH; i++)
			natt_buf_printf(&b, "%s", "}");
		expect_refused(b.data, b.len, "nested too deeply");
		natt_buf_free(&b);
	}
	/* Hostile nesting: 200000 brackets stop at the limit, without exhausting the stack. */
	memset(text, '[', sizeof(text) - 1);
	expect_refused(text, sizeof(text) - 1, "nested too deeply");
	memset(text, '{', sizeof(text) - 1);
	expect_refused(text, sizeof(text) - 1, "member name");
}

/* Every proper prefix of a document whose top value is an object is invalid: a truncated status file
 * (a writer that crashed) is refused, never half-read. */
static void test_truncated_documents(void **state)
{
	size_t n, len = strlen(status_file);

	(void)state;
	for (n = 0; n < len; n++) {
		struct natt_json *v = natt_json_parse(status_file, n, NULL, 0);

		/* Only the trailing newline may go. */
		if (n == len - 1) {
			assert_non_null(v);
			natt_json_free(v);
			continue;
		}
		if (v)
			fail_msg("prefix of %zu bytes accepted", n);
	}
}

static void test_size_limits(void **state)
{
	char err[128];
	char *big;
	size_t n, i;

	(void)state;
	/* Text beyond NATT_JSON_MAX_TEXT is refused before it is read. */
	big = malloc(NATT_JSON_MAX_TEXT + 1);
	assert_non_null(big);
	memset(big, ' ', NATT_JSON_MAX_TEXT + 1);
	big[0] = '0';
	assert_null(natt_json_parse(big, NATT_JSON_MAX_TEXT + 1, err, sizeof(err)));
	assert_string_equal(err, "text too large");
	/* Within the text limit, millions of tiny values would pass the memory limit: refused. */
	n = 0;
	big[n++] = '[';
	for (i = 0; n + 3 < NATT_JSON_MAX_TEXT; i++) {
		big[n++] = '0';
		big[n++] = ',';
	}
	big[n - 1] = ']';
	assert_null(natt_json_parse(big, n, err, sizeof(err)));
	assert_non_null(strstr(err, "memory limit"));
	/* A long string within the limits is fine. */
	memset(big, 'a', 1 << 20);
	big[0] = '"';
	big[(1 << 20) - 1] = '"';
	{
		struct natt_json *v = natt_json_parse(big, 1 << 20, err, sizeof(err));
		size_t len;

		assert_non_null(v);
		assert_non_null(natt_json_string(v, &len));
		assert_int_equal(len, (1 << 20) - 2);
		natt_json_free(v);
	}
	free(big);
}

/* Values read where they stand: names decoded before they are compared, the first of a repeated name,
 * strings whose brackets, quotes and backslashes are not structure. */
static void test_spans(void **state)
{
	static const char *const docs[] = {
		"{\"\\u0070id\": 7, \"pi\": 1, \"pids\": 2, \"pid\": 8}",
		"{\"a\\\\\": \"x\\\\\", \"b\": \"]}\\\"[{\", \"c\": [\"\\\\\", {\"d\": []}, [], {}], \"e\": -0.5e-3}",
		" [ 1 , \"two\" , [ 3 ] , { \"four\" : 4 } , true , false , null ] ",
		"{\"\\ud83d\\ude00\": \"emoji\", \"\\u00e9t\\u00e9\": 1, \"tab\\t\": 2, \"\": 3}",
		"\"alone\"",
		"  12  ",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		natt_json_free(parse_str(docs[i])); /* (compared member by member there) */

	struct natt_json_span root = natt_json_span_root(docs[0], strlen(docs[0])), value;
	double number;
	assert_true(natt_json_span_get(root, "pid", &value));
	assert_true(natt_json_span_number(value, &number));
	assert_true(number == 7); /* the first "pid", spelled with an escape */
	assert_true(natt_json_span_get(root, "pids", &value) && natt_json_span_number(value, &number) && number == 2);
	assert_false(natt_json_span_get(root, "p", &value));
	assert_false(natt_json_span_get(root, "pidss", &value));

	root = natt_json_span_root(docs[3], strlen(docs[3]));
	assert_true(natt_json_span_get(root, "\xf0\x9f\x98\x80", &value));
	assert_int_equal(value.len, 7);
	assert_true(natt_json_span_get(root, "\xc3\xa9t\xc3\xa9", &value));
	assert_true(natt_json_span_get(root, "tab\t", &value));
	assert_true(natt_json_span_get(root, "", &value) && natt_json_span_number(value, &number) && number == 3);

	root = natt_json_span_root(docs[2], strlen(docs[2]));
	assert_int_equal(root.len, strlen(docs[2]) - 2);
	struct natt_json_span element = { NULL, 0 };
	size_t count = 0;
	while (natt_json_span_next(root, &element))
		count++;
	assert_int_equal(count, 7);
	assert_false(natt_json_span_get(root, "four", &value)); /* an array has no members */
	assert_false(natt_json_span_number(root, &number));
	assert_int_equal(natt_json_span_type((struct natt_json_span){ NULL, 0 }), NATT_JSON_NONE);
}

/* Random damage to valid documents: the parser answers something for each, and whatever it accepts
 * writes out and reads back equal. */
static void test_fuzz_mutations(void **state)
{
	static const char *const seeds[] = {
		status_file,
		"[1,-2.5e3,\"\\u00e9\\ud83d\\ude00\",true,false,null,{\"a\":[{}],\"b\":\"\\\\\"}]",
		"{\"x\":{\"y\":{\"z\":[[[\"deep\"]]]}},\"n\":0.1}",
	};
	int iter;

	(void)state;
	for (iter = 0; iter < 20000; iter++) {
		const char *seed = seeds[rng() % 3];
		size_t len = strlen(seed), k, edits = 1 + rng() % 4;
		char text[1024];
		struct natt_json *v;

		memcpy(text, seed, len);
		for (k = 0; k < edits; k++) {
			size_t at = rng() % len;

			switch (rng() % 4) {
			case 0: text[at] = (char)rng(); break;
			case 1: text[at] = "[]{}\",:\\0-eE.u \0"[rng() % 16]; break;
			case 2: len = at; break; /* truncate */
			default:                 /* duplicate a slice */
				if (len + 8 < sizeof(text)) {
					memmove(text + at + 8, text + at, len - at);
					len += 8;
				}
			}
			if (len == 0)
				break;
		}
		v = natt_json_parse(text, len, NULL, 0);
		if (v) {
			struct natt_buf buf;
			struct natt_json *again;

			struct natt_buf buf2;

			natt_buf_init(&buf);
			natt_buf_init(&buf2);
			assert_int_equal(natt_json_write(&buf, v), 0);
			again = natt_json_parse(buf.data, buf.len, NULL, 0);
			if (!again)
				fail_msg("written text does not parse: %s", buf.data);
			assert_int_equal(natt_json_write(&buf2, again), 0);
			if (buf.len != buf2.len || memcmp(buf.data, buf2.data, buf.len) != 0)
				fail_msg("round trip differs: %s", buf.data);
			natt_json_free(again);
			natt_buf_free(&buf);
			natt_buf_free(&buf2);
			natt_json_free(v);
		}
	}
}

/* ---- Serializer ---- */

static void test_write_compact(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ " { \"a\" : [ 1 , 2.5 , -0 , 1E21, 1e-7 , \"x\\u0001\\/\" ] , \"b\" : { } , \"c\":[ ] } ",
		  "{\"a\":[1,2.5,-0,1e+21,1e-07,\"x\\u0001/\"],\"b\":{},\"c\":[]}" },
		{ "0.1", "0.1" },
		{ "100", "100" },
		{ "-2.5", "-2.5" },
		{ "0.30000000000000004", "0.30000000000000004" },
		{ "3.141592653589793238462643", "3.141592653589793" },
		{ "1.7976931348623157e308", "1.7976931348623157e+308" },
		{ "5e-324", "4.94065645841247e-324" },
		{ "\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"" },
		{ "[null,true,false]", "[null,true,false]" },
		{ "{\"k\":\"a\\u0000b\"}", "{\"k\":\"a\\u0000b\"}" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = rewrite(cases[i].in, strlen(cases[i].in));

		if (strcmp(out, cases[i].out) != 0)
			fail_msg("%s: wrote %s, expected %s", cases[i].in, out, cases[i].out);
		free(out);
	}
}

static void test_write_round_trip(void **state)
{
	struct natt_json *doc, *again;
	struct natt_buf buf, buf2;

	(void)state;
	/* The status file survives parse -> write -> parse: written again, the same text. */
	doc = parse_str(status_file);
	assert_non_null(doc);
	natt_buf_init(&buf);
	natt_buf_init(&buf2);
	assert_int_equal(natt_json_write(&buf, doc), 0);
	assert_null(strchr(buf.data, '\n'));
	again = natt_json_parse(buf.data, buf.len, NULL, 0);
	assert_non_null(again);
	assert_int_equal(natt_json_write(&buf2, again), 0);
	assert_string_equal(buf.data, buf2.data);
	assert_int_equal(natt_json_integer(natt_json_get(natt_json_array_at(natt_json_get(again, "sockets"), 0), "pid"),
	                                   1, 4194304, &(long long){0}), 0);
	natt_json_free(again);
	natt_buf_free(&buf2);
	natt_json_free(doc);
	assert_int_equal(natt_json_write(&buf, NULL), -EINVAL);
	assert_int_equal(natt_json_write(NULL, NULL), -EINVAL);
	natt_buf_free(&buf);
}

static void test_numbers_round_trip(void **state)
{
	double values[2000];
	size_t n = 0, i;

	(void)state;
	values[n++] = 0.1;
	values[n++] = 1.0 / 3;
	values[n++] = -1e-7;
	values[n++] = 5e-324;
	values[n++] = 2.2250738585072014e-308;
	values[n++] = 1.7976931348623157e308;
	values[n++] = 9007199254740993.0;
	values[n++] = 123456789;
	while (n < sizeof(values) / sizeof(values[0])) {
		uint64_t bits = (uint64_t)rng() << 32 | rng();
		double d;

		memcpy(&d, &bits, sizeof(d));
		if (isfinite(d))
			values[n++] = d;
	}
	for (i = 0; i < n; i++) {
		struct natt_buf buf;
		struct natt_json *v;

		natt_buf_init(&buf);
		assert_int_equal(natt_buf_json_number(&buf, values[i]), 0);
		v = natt_json_parse(buf.data, buf.len, NULL, 0);
		if (!v || natt_json_number(v) != values[i])
			fail_msg("%.17g written as %s does not read back", values[i], buf.data);
		assert_true(buf.len <= 24);
		natt_json_free(v);
		natt_buf_free(&buf);
	}
	{
		struct natt_buf buf;

		natt_buf_init(&buf);
		natt_buf_json_number(&buf, NAN);
		natt_buf_printf(&buf, ",");
		natt_buf_json_number(&buf, -INFINITY);
		assert_string_equal(buf.data, "null,null");
		natt_buf_free(&buf);
	}
}

/* A program running in a locale with a decimal comma (the shim lives in such programs, which call
 * setlocale(LC_ALL, "")) must not change how natt reads or writes numbers. The locale is built for the
 * test with localedef; without it the test is skipped. (setlocale rather than newlocale: glibc's
 * newlocale leaks its copy of LOCPATH, which valgrind would report.) */
static void test_locale_independent(void **state)
{
	char dir[] = "/tmp/natt-test-locale-XXXXXX";
	char cmd[256];
	bool have = false;
	struct natt_json *v;
	struct natt_buf buf;
	char probe[16];

	(void)state;
	if (!mkdtemp(dir))
		skip();
	snprintf(cmd, sizeof(cmd), "localedef -i de_DE -f UTF-8 %s/de_DE.utf8 >/dev/null 2>&1", dir);
	if (system(cmd) == 0) {
		setenv("LOCPATH", dir, 1);
		have = setlocale(LC_NUMERIC, "de_DE.UTF-8") != NULL;
		unsetenv("LOCPATH");
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0 || !have) {
		setlocale(LC_NUMERIC, "C");
		skip();
	}
	snprintf(probe, sizeof(probe), "%.1f", 0.5);
	assert_string_equal(probe, "0,5"); /* the locale really has a decimal comma */

	v = parse_str("[0.5, 1.25e2]");
	assert_non_null(v);
	assert_true(natt_json_number(natt_json_array_at(v, 0)) == 0.5);
	assert_true(natt_json_number(natt_json_array_at(v, 1)) == 125);
	natt_buf_init(&buf);
	assert_int_equal(natt_json_write(&buf, v), 0);
	assert_string_equal(buf.data, "[0.5,125]");
	natt_buf_free(&buf);
	natt_buf_init(&buf);
	assert_int_equal(natt_buf_printf(&buf, "%.2f", 2.5), 0);
	assert_string_equal(buf.data, "2.50");
	natt_buf_free(&buf);
	natt_json_free(v);
	/* The program's locale is untouched afterwards. */
	snprintf(probe, sizeof(probe), "%.1f", 0.5);
	assert_string_equal(probe, "0,5");
	assert_true(uselocale((locale_t)0) == LC_GLOBAL_LOCALE);
	setlocale(LC_NUMERIC, "C");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_append_and_grow),
		cmocka_unit_test(test_buf_failure_is_sticky),
		cmocka_unit_test(test_buf_printf_long),
		cmocka_unit_test(test_json_string_escapes),
		cmocka_unit_test(test_json_string_any_bytes_parse_back),
		cmocka_unit_test(test_parse_status_file),
		cmocka_unit_test(test_parse_scalars),
		cmocka_unit_test(test_parse_numbers),
		cmocka_unit_test(test_accessors_on_wrong_types),
		cmocka_unit_test(test_refuses_bad_syntax),
		cmocka_unit_test(test_refuses_nul_bytes),
		cmocka_unit_test(test_error_position),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_truncated_documents),
		cmocka_unit_test(test_size_limits),
		cmocka_unit_test(test_spans),
		cmocka_unit_test(test_fuzz_mutations),
		cmocka_unit_test(test_write_compact),
		cmocka_unit_test(test_write_round_trip),
		cmocka_unit_test(test_numbers_round_trip),
		cmocka_unit_test(test_locale_independent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
