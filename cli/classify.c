/* The class word `natt interfaces` prints for an address, from the predicates of natt/net.h. */
#include "cli.h"
#include "natt/net.h"

const char *natt_cli_address_class(const struct sockaddr *sa)
{
	/* Most specific first: the predicates do not overlap except that none of them is "global". */
	if (natt_addr_is_wildcard(sa))
		return "wildcard";
	if (natt_addr_is_loopback(sa))
		return "loopback";
	if (natt_addr_is_private(sa))
		return "private";
	if (natt_addr_is_shared(sa))
		return "shared";
	if (natt_addr_is_link_local(sa))
		return "link-local";
	if (natt_addr_is_ula(sa))
		return "ula";
	if (natt_addr_is_global(sa))
		return "global";
	return "reserved";
}
