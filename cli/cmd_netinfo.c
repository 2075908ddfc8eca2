/* gateway and interfaces: the network utilities of natt/net.h. */
#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "natt/net.h"

int natt_cli_gateway(const struct natt_cli_cmd *cmd)
{
	struct in_addr gateway;
	char ifname[IF_NAMESIZE] = "";
	int rc = natt_gateway_ipv4(&gateway, ifname);
	if (rc == NATT_ERR_NO_GATEWAY) {
		natt_cli_error(cmd, "no IPv4 default gateway");
		return NATT_EXIT_FAILED;
	}
	if (rc < 0) {
		natt_cli_error(cmd, "cannot read the routing table: %s", natt_strerror(rc));
		return NATT_EXIT_FAILED;
	}
	char text[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &gateway, text, sizeof(text));
	if (ifname[0])
		printf("%s dev %s\n", text, ifname);
	else
		printf("%s\n", text);
	return NATT_EXIT_OK;
}

static void flag_words(unsigned flags, char *buf, size_t len)
{
	static const struct {
		unsigned flag;
		const char *word;
	} words[] = {
		{ IFF_UP, "up" },
		{ IFF_RUNNING, "running" },
		{ IFF_LOOPBACK, "loopback" },
		{ IFF_POINTOPOINT, "point-to-point" },
		{ IFF_BROADCAST, "broadcast" },
		{ IFF_MULTICAST, "multicast" },
		{ IFF_NOARP, "noarp" },
		{ IFF_PROMISC, "promisc" },
	};
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (!(flags & words[i].flag))
			continue;
		int w = snprintf(buf + used, len - used, "%s%s", used ? "," : "", words[i].word);
		if (w < 0 || (size_t)w >= len - used)
			break;
		used += (size_t)w;
	}
}

static bool same_address(const struct sockaddr_storage *a, const struct in_addr *b)
{
	return a->ss_family == AF_INET && ((const struct sockaddr_in *)a)->sin_addr.s_addr == b->s_addr;
}

int natt_cli_interfaces(const struct natt_cli_cmd *cmd)
{
	struct natt_interface *list = NULL;
	size_t count = 0;
	int rc = natt_interfaces(&list, &count);
	if (rc < 0) {
		natt_cli_error(cmd, "cannot list the interfaces: %s", natt_strerror(rc));
		return NATT_EXIT_FAILED;
	}
	/* The "best" address: the source the kernel picks toward the gateway, the one a peer on the LAN
	 * sees. Without a gateway there is none. */
	struct in_addr gateway, best = { 0 };
	char gateway_text[INET_ADDRSTRLEN] = "";
	bool have_best = natt_gateway_ipv4(&gateway, NULL) == 0 && natt_local_address_toward(&gateway, &best) == 0;
	if (have_best)
		inet_ntop(AF_INET, &gateway, gateway_text, sizeof(gateway_text));

	size_t wname = 9, waddr = 7, wflags = 5;
	char (*addrs)[INET6_ADDRSTRLEN + 4] = NULL;
	char (*flags)[128] = NULL;
	if (count) {
		addrs = calloc(count, sizeof(*addrs));
		flags = calloc(count, sizeof(*flags));
		if (!addrs || !flags) {
			free(addrs);
			free(flags);
			natt_interfaces_free(list);
			natt_cli_error(cmd, "out of memory");
			return NATT_EXIT_FAILED;
		}
	}
	for (size_t i = 0; i < count; i++) {
		char a[INET6_ADDRSTRLEN];
		if (!natt_addr_format((const struct sockaddr *)&list[i].address, a, sizeof(a)))
			snprintf(a, sizeof(a), "?");
		snprintf(addrs[i], sizeof(addrs[i]), "%s/%u", a, list[i].prefix_len);
		flag_words(list[i].flags, flags[i], sizeof(flags[i]));
		if (strlen(list[i].name) > wname)
			wname = strlen(list[i].name);
		if (strlen(addrs[i]) > waddr)
			waddr = strlen(addrs[i]);
		if (strlen(flags[i]) > wflags)
			wflags = strlen(flags[i]);
	}
	printf("  %-*s  %-*s  %-*s  %s\n", (int)wname, "INTERFACE", (int)waddr, "ADDRESS", (int)wflags, "FLAGS", "CLASS");
	bool marked = false;
	for (size_t i = 0; i < count; i++) {
		bool is_best = have_best && !marked && same_address(&list[i].address, &best);
		marked |= is_best;
		printf("%c %-*s  %-*s  %-*s  %s\n", is_best ? '*' : ' ', (int)wname, list[i].name, (int)waddr, addrs[i],
		       (int)wflags, flags[i], natt_cli_address_class((const struct sockaddr *)&list[i].address));
	}
	if (marked) {
		char b[INET_ADDRSTRLEN];
		printf("* the address toward the gateway %s: %s\n", gateway_text, inet_ntop(AF_INET, &best, b, sizeof(b)));
	} else {
		printf("(no default gateway: no address is marked as the one toward it)\n");
	}
	free(addrs);
	free(flags);
	natt_interfaces_free(list);
	return NATT_EXIT_OK;
}
