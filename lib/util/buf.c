/* The growable text buffer and the JSON text of strings and numbers. See buf.h. */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"

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

size_t natt_utf8_sequence(const unsigned char *s, size_t n, size_t *bad)
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

		if (c >= 0x20 && c != '"' && c != '\\' && (c < 0x80 || (n = natt_utf8_sequence(p + i, len - i, &bad)))) {
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
