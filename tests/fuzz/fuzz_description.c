/* A device description, its URLs resolved against the location. */
#include "fuzz.h"
#include "natt/upnp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct natt_upnp_service *services;
	size_t count;
	if (natt_upnp_parse_description((const char *)data, size, "http://10.77.0.1:5000/rootDesc.xml", &services,
	                                &count) >= 0)
		natt_upnp_services_free(services, count);
	return 0;
}
