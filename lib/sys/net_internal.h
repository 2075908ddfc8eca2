/* What net.c offers beyond natt/net.h. */
#ifndef NATT_NET_INTERNAL_H
#define NATT_NET_INTERNAL_H

#include <netinet/in.h>

/* The two sources of natt_gateway_ipv4(), declared apart so that tests can check
 * each on its own. Same arguments and results as natt_gateway_ipv4(); the procfs one reads path (normally
 * "/proc/net/route"). */
int natt_gateway_ipv4_netlink(struct in_addr *gateway, char *ifname);
int natt_gateway_ipv4_procfs(const char *path, struct in_addr *gateway, char *ifname);

#endif
