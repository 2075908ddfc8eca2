/* natt — network utilities: the default gateway, local interface addresses, and the classification,
 * parsing and formatting of IP addresses.
 *
 * These are the building blocks natt itself uses to decide what to publish (a socket bound to loopback
 * never is) and whom to ask (the gateway). None of them talks to the router; none keeps state between
 * calls; all are safe to call from any thread. */
#ifndef NATT_NET_H
#define NATT_NET_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "natt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* natt_gateway_ipv4 - the IPv4 default gateway from the kernel's routing table.
 *
 * Reads the main routing table with an rtnetlink RTM_GETROUTE dump; when netlink is unavailable (e.g. a
 * seccomp sandbox) it reads /proc/net/route instead. Among several default routes the lowest metric wins
 * (the first listed on a tie), which is the one the kernel uses. Routes of other tables (policy routing)
 * and unreachable/blackhole defaults are ignored.
 *
 * gateway: receives the gateway address (network byte order). Must not be NULL.
 * ifname:  may be NULL; otherwise receives the outgoing interface's name, NUL-terminated, in
 *          IF_NAMESIZE bytes ("" if the interface vanished meanwhile).
 * Returns 0; NATT_ERR_NO_GATEWAY when there is no IPv4 default route through a gateway; -EINVAL when
 * gateway is NULL; another -errno when neither source could be read. Takes a few milliseconds; waits
 * at most one second for a kernel that does not answer.
 * Thread-safe: uses only a socket and a file of its own. */
NATT_API int natt_gateway_ipv4(struct in_addr *gateway, char *ifname);

/* natt_gateway_ipv6 - the IPv6 default router from the kernel's routing table (/proc/net/ipv6_route):
 * the next hop of the default route (::/0) of lowest metric. A link-local router
 * (fe80::/10, the usual case with router advertisements) gets its interface as scope id.
 * gateway: receives the address, port 0. Must not be NULL.
 * Returns 0; NATT_ERR_NO_GATEWAY when there is no IPv6 default route through a router (or the host has
 * no IPv6); -EINVAL when gateway is NULL; another -errno when the table cannot be read. Thread-safe. */
NATT_API int natt_gateway_ipv6(struct sockaddr_in6 *gateway);

/* natt_local_address_toward - the local IPv4 address this host would use as source to reach peer: the
 * "best" interface address, the one a peer on the LAN sees (toward the gateway without looking it up:
 * natt_best_interface_address()). Asks the kernel's routing decision (a UDP socket connect()ed to
 * peer, then getsockname()); no packet is sent.
 * peer: the address to reach. local: receives the source address (network byte order).
 *
 * Returns 0; -EINVAL when an argument is NULL; -ENETUNREACH (or another -errno from connect) when there
 * is no route to peer. Thread-safe. */
NATT_API int natt_local_address_toward(const struct in_addr *peer, struct in_addr *local);

/* natt_local_sockaddr_toward - natt_local_address_toward for IPv4 or IPv6: peer is an AF_INET or
 * AF_INET6 socket address (its port is ignored); local receives an address of the same family, port 0.
 * Returns 0, -EINVAL (NULL, other family, peerlen too short), -EAFNOSUPPORT when the host has no such
 * stack, or the -errno of connect (e.g. -ENETUNREACH). Thread-safe. */
NATT_API int natt_local_sockaddr_toward(const struct sockaddr *peer, socklen_t peerlen,
					struct sockaddr_storage *local);

/* One address of a local interface. */
struct natt_interface {
	char name[IF_NAMESIZE];           /* e.g. "eth0"; an IPv4 label such as "eth0:1" is kept */
	unsigned index;                   /* if_nametoindex() of the interface, 0 if unknown */
	unsigned flags;                   /* IFF_UP, IFF_LOOPBACK, IFF_RUNNING, ... of <net/if.h> */
	struct sockaddr_storage address;  /* AF_INET or AF_INET6, port 0; IPv6 keeps its scope id */
	unsigned prefix_len;              /* leading one bits of the netmask: 24 for 255.255.255.0 */
};

/* natt_interfaces - the addresses of the interfaces that are up (IFF_UP), IPv4 and IPv6, in the order
 * the kernel lists them. Loopback addresses are included: their flags carry IFF_LOOPBACK and the address
 * classifies as loopback.
 *
 * list:  receives an array to release with natt_interfaces_free(); NULL when count is 0.
 * count: receives the number of entries.
 * Returns 0, -EINVAL for NULL arguments, -ENOMEM, -ETIMEDOUT, or the -errno of the exchange with the
 * kernel (rtnetlink on natt's own socket, not getifaddrs(), whose socket natt could not protect inside
 * a wrapped program). On failure *list is NULL and *count 0. Thread-safe. */
NATT_API int natt_interfaces(struct natt_interface **list, size_t *count);

/* natt_interfaces_free - releases a list from natt_interfaces(). NULL is allowed. No errors.
 * Thread-safe (each list belongs to one caller). */
NATT_API void natt_interfaces_free(struct natt_interface *list);

/* natt_best_interface_address - the IPv4 address of this host that a peer on the LAN would use to
 * reach it (Racket's best-interface-ip-address, without arguments): the source address the kernel
 * picks toward the IPv4 default gateway; without a default route, the first private (RFC 1918)
 * address of an interface that is up and not loopback, in the order natt_interfaces() lists them;
 * else 127.0.0.1. Sends nothing.
 * address: receives it (network byte order).
 * Returns 0 (the fallbacks are not errors: compare with 127.0.0.1 to see that none was found), or
 * -EINVAL when address is NULL. Thread-safe. */
NATT_API int natt_best_interface_address(struct in_addr *address);

/* Address predicates. Each takes an AF_INET or AF_INET6 socket address (at least sizeof(struct
 * sockaddr_in) or sizeof(struct sockaddr_in6) bytes readable respectively); an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) is classified as the IPv4 address a.b.c.d. They return false for NULL and for any
 * other family. Pure functions: thread-safe. */

/* 0.0.0.0 or :: — a socket bound there receives on every interface. */
NATT_API bool natt_addr_is_wildcard(const struct sockaddr *sa);
/* 127.0.0.0/8 or ::1. */
NATT_API bool natt_addr_is_loopback(const struct sockaddr *sa);
/* RFC 1918 private IPv4: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16. */
NATT_API bool natt_addr_is_private(const struct sockaddr *sa);
/* RFC 6598 shared address space 100.64.0.0/10, used by carrier-grade NAT: a router whose external
 * address is there is itself behind another NAT. */
NATT_API bool natt_addr_is_shared(const struct sockaddr *sa);
/* 169.254.0.0/16 or fe80::/10. */
NATT_API bool natt_addr_is_link_local(const struct sockaddr *sa);
/* IPv6 unique local addresses fc00::/7 (RFC 4193). */
NATT_API bool natt_addr_is_ula(const struct sockaddr *sa);
/* natt_addr_is_global - true when the address is reachable on the internet, following the IANA
 * special-purpose registries ("globally reachable"): false for every class above, multicast (224/4,
 * ff00::/8), and the reserved, documentation and benchmarking ranges — IPv4 0/8, 192.0.0/24 (except
 * 192.0.0.9 and 192.0.0.10, anycast services that are global), 192.0.2/24, 192.88.99/24, 198.18/15,
 * 198.51.100/24, 203.0.113/24, 240/4 and 255.255.255.255; IPv6 anything outside 2000::/3 (::, ::1,
 * 100::/64, 64:ff9b:1::/48, fec0::/10, ...) except the NAT64 prefix 64:ff9b::/96, and inside it
 * 2001::/23 (except the global 2001:1::1, 2001:1::2, 2001:3::/32, 2001:4:112::/48, 2001:20::/28,
 * 2001:30::/28), 2001:db8::/32, 2002::/16 (6to4) and 3fff::/20. */
NATT_API bool natt_addr_is_global(const struct sockaddr *sa);

/* natt_addr_parse - parses a numeric IPv4 ("192.0.2.1", dotted quad only) or IPv6 ("2001:db8::1",
 * "::ffff:192.0.2.1") address, without port, brackets, scope or surrounding spaces, into an AF_INET or
 * AF_INET6 socket address with port 0 (the rest of ss is zeroed).
 * Returns 0, or -EINVAL (NULL argument, or not an address; ss is then untouched). Thread-safe. */
NATT_API int natt_addr_parse(const char *text, struct sockaddr_storage *ss);

/* natt_addr_format - writes the address of sa, without port, into buf: "192.0.2.1", "2001:db8::1". An
 * IPv4-mapped IPv6 address is written as its IPv4 address. len of INET6_ADDRSTRLEN always suffices.
 * Returns buf, or NULL for a NULL argument, another family, or a too small buffer. Thread-safe. */
NATT_API const char *natt_addr_format(const struct sockaddr *sa, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
