/* Netlink datagrams: the walk over messages, and each message read as a link, an address and a
 * route. */
#include "fuzz.h"
#include "sys/netlink.h"
#include "util/parse.h"

static int each(const struct nlmsghdr *msg, void *ctx)
{
	struct natt_link link;
	struct natt_interface itf;
	(void)natt_netlink_link_parse(msg, &link);
	(void)natt_netlink_addr_parse(msg, &itf);
	(void)natt_route_netlink_message(msg, ctx);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of its own: the messages are read in place, aligned as the kernel's are. */
	void *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	struct natt_route_pick pick = { 0 };
	(void)natt_netlink_walk(buf, size, 0, 0, each, &pick);
	free(buf);
	return 0;
}
