/* An HTTP answer from a router: the head as read (status, length, transfer coding) and a chunked
 * body decoded in place. */
#include <stdbool.h>

#include "fuzz.h"
#include "upnp/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size);
	if (!text)
		return 0;
	int status;
	long long length;
	bool chunked;
	(void)natt_http_head_parse(text, &status, &length, &chunked);
	size_t len = size;
	(void)natt_http_dechunk(text, &len);
	free(text);
	return 0;
}
