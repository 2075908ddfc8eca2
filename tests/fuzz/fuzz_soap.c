/* A SOAP answer: results or a fault. */
#include "fuzz.h"
#include "natt/upnp.h"
#include "upnp/call.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct natt_upnp_value *values;
	size_t count;
	struct natt_upnp_error error;
	if (natt_soap_parse_reply((const char *)data, size, &values, &count, &error) == 0)
		natt_upnp_values_free(values, count);
	return 0;
}
