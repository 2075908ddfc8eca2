/* The JSON reader (status files of other processes, the CLI's input); what it reads is written back,
 * read again and written again the same (the writer's text is canonical: compact, numbers in their
 * shortest exact form); the check without a document agrees with it, and spans of the text read as
 * its values. */
#include <assert.h>
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/json_value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128];
	struct natt_json *doc = natt_json_parse((const char *)data, size, err, sizeof(err));
	/* The check without a document answers as the parse (whose memory limit is its own). */
	char check_err[128];
	bool checked = natt_json_check((const char *)data, size, check_err, sizeof(check_err));
	if (doc || !strstr(err, "memory"))
		assert(checked == (doc != NULL));
	if (!doc && !checked)
		assert(strcmp(err, check_err) == 0);
	if (!doc)
		return 0;
	/* Read where it stands: the root's first member, or its elements, as the document has them. */
	struct natt_json_span root = natt_json_span_root((const char *)data, size), part = { NULL, 0 };
	assert(natt_json_span_type(root) == natt_json_type(doc));
	size_t elements = 0;
	while (natt_json_span_next(root, &part))
		assert(natt_json_span_type(part) == natt_json_type(natt_json_array_at(doc, elements++)));
	assert(elements == natt_json_array_len(doc));
	if (natt_json_type(doc) == NATT_JSON_OBJECT && doc->u.object.len &&
	    strlen(doc->u.object.members[0].key) == doc->u.object.members[0].key_len) {
		const char *key = doc->u.object.members[0].key;
		assert(natt_json_span_get(root, key, &part));
		assert(natt_json_span_type(part) == natt_json_type(natt_json_get(doc, key)));
	}
	struct natt_buf out, again_out;
	natt_buf_init(&out);
	natt_buf_init(&again_out);
	if (natt_json_write(&out, doc) == 0 && !out.failed) {
		struct natt_json *again = natt_json_parse(out.data, out.len, err, sizeof(err));
		assert(again);
		if (natt_json_write(&again_out, again) == 0 && !again_out.failed)
			assert(again_out.len == out.len && memcmp(again_out.data, out.data, out.len) == 0);
		natt_json_free(again);
	}
	natt_buf_free(&again_out);
	natt_buf_free(&out);
	natt_json_free(doc);
	return 0;
}
