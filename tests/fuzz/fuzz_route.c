/* /proc/net/route as text. */
#include "fuzz.h"
#include "util/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct natt_route_pick pick = { 0 };
	(void)natt_route_proc_parse((const char *)data, size, &pick);
	return 0;
}
