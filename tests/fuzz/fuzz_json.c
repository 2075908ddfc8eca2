/* The JSON reader (status files of other processes, the CLI's input); what it reads is written back
 * and read again equal. */
#include <assert.h>

#include "fuzz.h"
#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[128];
	struct natt_json *doc = natt_json_parse((const char *)data, size, err, sizeof(err));
	if (!doc)
		return 0;
	struct natt_buf out;
	natt_buf_init(&out);
	if (natt_json_write(&out, doc) == 0 && !out.failed) {
		struct natt_json *again = natt_json_parse(out.data, out.len, err, sizeof(err));
		assert(again && natt_json_equal(doc, again));
		natt_json_free(again);
	}
	natt_buf_free(&out);
	natt_json_free(doc);
	return 0;
}
