/* libFuzzer target: the PCP reply parser (natt_pcp_parse) on any datagram a router, or anyone on the
 * LAN who can reach the client's port, may send. Checks beyond "no crash": what the parser accepts
 * obeys the rules it promises, and the address conversion of an accepted reply works. */
#include <sys/socket.h>

#include "fuzz.h"
#include "natt/pcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct natt_pcp_response r;
	if (natt_pcp_parse(data, size, &r) != 0)
		return 0;
	if (r.version == 0) {
		/* Only NAT-PMP's "unsupported version" reply is accepted without a PCP header. */
		if (r.result != NATT_PCP_UNSUPP_VERSION || size < 8)
			abort();
		return 0;
	}
	if (size < 24 || size > NATT_PCP_MAX_MESSAGE || size % 4 != 0)
		abort();
	if (r.result == NATT_PCP_SUCCESS && r.opcode == NATT_PCP_OP_MAP && (!r.has_map || size < 60))
		abort();
	if (r.has_map) {
		struct sockaddr_storage ss;
		if (natt_pcp_address_to_sockaddr(&r.external_address, r.external_port, &ss) != 0 ||
		    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
			abort();
	}
	(void)natt_pcp_result_name(r.result);
	return 0;
}
