/* A NAT-PMP or PCP announcement datagram. (PCP answers get a target of their own beside this one.) */
#include <netinet/in.h>

#include "fuzz.h"
#include "core/watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t epoch;
	struct in_addr external;
	(void)natt_watch_parse_natpmp(data, size, &epoch, &external);
	return 0;
}
