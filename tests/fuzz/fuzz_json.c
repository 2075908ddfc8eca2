/* The JSON reader (status files of other processes, the CLI's input); what it reads is written back,
 * read again and written again the same (the writer's text is canonical: compact, numbers in their
 * shortest exact form). */
#include <assert.h>
#include <string.h>

#include "fuzz.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/json_value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128];
	struct natt_json *doc = natt_json_parse((const char *)data, size, err, sizeof(err));
	if (!doc)
		return 0;
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
