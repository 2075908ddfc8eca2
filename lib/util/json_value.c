/* The values of a parsed JSON document: accessors and serializer. See json_value.h. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "util/buf.h"
#include "util/json_value.h"

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
		const struct natt_json_member *m = &object->u.object.members[i];

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
		natt_buf_append(buf, "[", 1);
		for (i = 0; i < v->u.array.len; i++) {
			if (i)
				natt_buf_append(buf, ",", 1);
			write_value(buf, v->u.array.items[i]);
		}
		natt_buf_append(buf, "]", 1);
		break;
	case NATT_JSON_OBJECT:
		natt_buf_append(buf, "{", 1);
		for (i = 0; i < v->u.object.len; i++) {
			const struct natt_json_member *m = &v->u.object.members[i];

			if (i)
				natt_buf_append(buf, ",", 1);
			natt_buf_json_string_n(buf, m->key, m->key_len);
			natt_buf_append(buf, ":", 1);
			write_value(buf, m->value);
		}
		natt_buf_append(buf, "}", 1);
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
