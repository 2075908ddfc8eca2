/* rtnetlink dumps on natt's own socket. glibc's getifaddrs() makes its netlink socket where no hook
 * sees it and aborts the process when that socket is closed under it (a program closing every fd in
 * another thread): inside someone else's program natt asks the kernel itself. */
#ifndef NATT_NETLINK_H
#define NATT_NETLINK_H

#include <linux/netlink.h>
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "natt/net.h"

/* Called for each message of a dump that is neither NLMSG_DONE nor NLMSG_ERROR; returns 0 to go on,
 * or a negative code that ends the dump with it. */
typedef int (*natt_netlink_fn)(const struct nlmsghdr *msg, void *ctx);

/* Sends the dump request `type` (RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE...) with body[0..body_len) after
 * the header, and hands each message of the answer to fn, all within timeout_ms.
 * Returns 0, -ETIMEDOUT, -EMSGSIZE (a datagram did not fit), the kernel's -errno (NLMSG_ERROR),
 * fn's code, or the -errno of a system call. Thread-safe (a socket per call). */
int natt_netlink_dump(uint16_t type, const void *body, size_t body_len, natt_netlink_fn fn, void *ctx,
                      int timeout_ms);

/* A link of an RTM_NEWLINK message. */
struct natt_link {
	unsigned index;
	unsigned flags; /* IFF_* */
	char name[IF_NAMESIZE];
};

/* Parses an RTM_NEWLINK message: 0, or -EINVAL when it is not a well-formed one. Pure. */
int natt_netlink_link_parse(const struct nlmsghdr *msg, struct natt_link *link);

/* Parses an RTM_NEWADDR message of an IPv4 or IPv6 address into out (address, prefix length, index;
 * name: the IPv4 label when the message has one, else empty; flags: 0). IPv6 link-local addresses get
 * the index as scope id. 0; 1 when the message is of another family (skip it); -EINVAL when malformed.
 * Pure. */
int natt_netlink_addr_parse(const struct nlmsghdr *msg, struct natt_interface *out);

/* What natt_interfaces() returns (see natt/net.h), asked of the kernel with two dumps (links, then
 * addresses): the addresses of the links that are up. 0 or a negative code as natt_netlink_dump(); on
 * error *list is NULL and *count 0. Thread-safe. */
int natt_netlink_interfaces(struct natt_interface **list, size_t *count, int timeout_ms);

/* An IPv6 address of this host, with what the kernel says of it. */
struct natt_addr6 {
	struct in6_addr address;
	unsigned index;        /* interface */
	unsigned char scope;   /* RT_SCOPE_UNIVERSE, RT_SCOPE_LINK, ... */
	uint32_t flags;        /* IFA_F_TEMPORARY, IFA_F_DEPRECATED, IFA_F_TENTATIVE, ... */
};

/* Parses an RTM_NEWADDR message of an IPv6 address: 0; 1 when of another family; -EINVAL. Pure. */
int natt_netlink_addr6_parse(const struct nlmsghdr *msg, struct natt_addr6 *out);

/* Every IPv6 address of this host (any link state), to release with free(). 0 or a negative code as
 * natt_netlink_dump() (then *list NULL, *count 0). Thread-safe. */
int natt_netlink_ipv6_addresses(struct natt_addr6 **list, size_t *count, int timeout_ms);

/* The address a server bound to [::] publishes through an IPv6 pinhole, of list[0..count): a global one
 * (not link-local, not unique local fc00::/7, not still tentative, not deprecated); one on the
 * interface toward the router (router_index; 0: any) first; then a stable one before a temporary one
 * (RFC 8981 addresses change daily and are made for outgoing connections: a pinhole to one closes the
 * server at its next rotation); then the kernel's own source toward the router (source, may be NULL);
 * then the kernel's order. 0, or -ENOENT when there is none. Pure. */
int natt_pick_published_ipv6(const struct natt_addr6 *list, size_t count, unsigned router_index,
                             const struct in6_addr *source, struct in6_addr *out);

#endif
