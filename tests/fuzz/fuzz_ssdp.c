/* An SSDP datagram: search reply, NOTIFY alive or byebye. */
#include "fuzz.h"
#include "natt/upnp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct natt_ssdp_reply reply;
	int kind;
	(void)natt_ssdp_parse((const char *)data, size, &reply, &kind);
	return 0;
}
