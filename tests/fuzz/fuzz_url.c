/* URLs: a reference resolved against a base (the input split at its first newline), the result and
 * both parts parsed for a request, and checked for the gateway's host. */
#include <arpa/inet.h>

#include "fuzz.h"
#include "natt/upnp.h"
#include "upnp/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size);
	if (!text)
		return 0;
	char *ref = strchr(text, '\n');
	if (ref)
		*ref++ = '\0';
	else
		ref = text;
	char out[NATT_UPNP_URL_MAX];
	struct natt_http_url u;
	struct in_addr gw = { .s_addr = htonl(0x0a4d0001) };
	if (natt_url_resolve(text, ref, out, sizeof(out)) == 0) {
		(void)natt_http_url_parse(out, &u);
		(void)natt_url_on_host(out, &gw);
	}
	(void)natt_http_url_parse(text, &u);
	(void)natt_http_url_parse(ref, &u);
	free(text);
	return 0;
}
