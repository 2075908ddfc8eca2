#include <errno.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/clock.h"
#include "sys/netlink.h"
#include "util/parse.h"

#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif

/* Dump datagrams are at most a page or two; 32 KiB leaves room and MSG_TRUNC catches the rest. */
#define NETLINK_BUFSIZE 32768
/* A full internet routing table is ~1M routes, ~2000 datagrams with the kernel's filtering by table;
 * the limit only stops a kernel (or test) that never says NLMSG_DONE. */
#define NETLINK_MAX_DATAGRAMS 65536

int natt_netlink_dump(uint16_t type, const void *body, size_t body_len, natt_netlink_fn fn, void *ctx,
                      int timeout_ms)
{
	struct sockaddr_nl local = { .nl_family = AF_NETLINK }, kernel = { .nl_family = AF_NETLINK };
	socklen_t alen = sizeof(local);
	static _Atomic uint32_t sequence;
	uint32_t seq = ++sequence;
	int64_t deadline = natt_now_ms() + timeout_ms;
	char request[NLMSG_SPACE(256)];
	if (body_len > 256)
		return -EINVAL;
	void *buf = malloc(NETLINK_BUFSIZE);
	if (!buf)
		return -ENOMEM;
	int rc = 0, fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&local, &alen) < 0) {
		rc = -errno;
		goto out;
	}
	/* With strict checking (Linux 4.20+) the kernel itself filters a dump by what the request asks
	 * (a route table, a family); older kernels refuse the option, and the callers filter. */
	int one = 1;
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));
	struct nlmsghdr *req = (struct nlmsghdr *)request;
	memset(request, 0, sizeof(request));
	req->nlmsg_len = (uint32_t)NLMSG_LENGTH(body_len);
	req->nlmsg_type = type;
	req->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req->nlmsg_seq = seq;
	req->nlmsg_pid = local.nl_pid;
	if (body_len)
		memcpy(NLMSG_DATA(req), body, body_len);
	if (sendto(fd, req, req->nlmsg_len, MSG_NOSIGNAL, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		rc = -errno;
		goto out;
	}
	for (unsigned datagrams = 0; rc == 0;) {
		int64_t left = deadline - natt_now_ms();
		if (left <= 0 || ++datagrams > NETLINK_MAX_DATAGRAMS) {
			rc = -ETIMEDOUT;
			break;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int ready = poll(&pfd, 1, (int)left);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0) {
			rc = ready < 0 ? -errno : -ETIMEDOUT;
			break;
		}
		struct sockaddr_nl from;
		struct iovec iov = { .iov_base = buf, .iov_len = NETLINK_BUFSIZE };
		struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			rc = -errno; /* EBADF included: the program closed it under us; we only report it */
			break;
		}
		if (msg.msg_flags & MSG_TRUNC) {
			rc = -EMSGSIZE;
			break;
		}
		if (msg.msg_namelen < sizeof(from) || from.nl_pid != 0)
			continue; /* not from the kernel */
		rc = natt_netlink_walk(buf, (size_t)n, seq, local.nl_pid, fn, ctx);
	}
	if (rc == 1)
		rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return rc;
}

int natt_netlink_link_parse(const struct nlmsghdr *msg, struct natt_link *link)
{
	if (msg->nlmsg_type != RTM_NEWLINK || msg->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
		return -EINVAL;
	const struct ifinfomsg *ifi = NLMSG_DATA(msg);
	memset(link, 0, sizeof(*link));
	link->index = (unsigned)ifi->ifi_index;
	link->flags = ifi->ifi_flags;
	/* Signed: RTA_NEXT subtracts the aligned length of an attribute, which may exceed what is left (an
	 * unaligned last attribute); an unsigned length would wrap and the walk go past the message. */
	long len = (long)msg->nlmsg_len - (long)NLMSG_LENGTH(sizeof(*ifi));
	for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type != IFLA_IFNAME)
			continue;
		size_t n = strnlen(RTA_DATA(a), RTA_PAYLOAD(a));
		if (n >= sizeof(link->name))
			return -EINVAL;
		memcpy(link->name, RTA_DATA(a), n);
	}
	return link->name[0] ? 0 : -EINVAL;
}

int natt_netlink_addr_parse(const struct nlmsghdr *msg, struct natt_interface *out)
{
	if (msg->nlmsg_type != RTM_NEWADDR || msg->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifaddrmsg)))
		return -EINVAL;
	const struct ifaddrmsg *ifa = NLMSG_DATA(msg);
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return 1;
	size_t want = ifa->ifa_family == AF_INET ? 4 : 16;
	const void *local = NULL, *address = NULL;
	memset(out, 0, sizeof(*out));
	long len = (long)msg->nlmsg_len - (long)NLMSG_LENGTH(sizeof(*ifa)); /* signed: see above */
	for (const struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		switch (a->rta_type) {
		case IFA_LOCAL:
		case IFA_ADDRESS:
			if (RTA_PAYLOAD(a) != want)
				return -EINVAL;
			*(a->rta_type == IFA_LOCAL ? &local : &address) = RTA_DATA(a);
			break;
		case IFA_LABEL: {
			size_t n = strnlen(RTA_DATA(a), RTA_PAYLOAD(a));
			if (n >= sizeof(out->name))
				return -EINVAL;
			memcpy(out->name, RTA_DATA(a), n);
			break;
		}
		}
	}
	/* IFA_LOCAL is the host's own address; IFA_ADDRESS is the peer's on point-to-point links. */
	const void *mine = local ? local : address;
	if (!mine)
		return -EINVAL;
	out->index = ifa->ifa_index;
	out->prefix_len = ifa->ifa_prefixlen;
	if (ifa->ifa_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&out->address;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, mine, 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->address;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, mine, 16);
		if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) || IN6_IS_ADDR_MC_LINKLOCAL(&sin6->sin6_addr))
			sin6->sin6_scope_id = ifa->ifa_index;
	}
	return 0;
}

/* ---- natt_interfaces */

/* Makes room for one more item of size bytes in *items (count used of *cap): 0 or -ENOMEM. */
static int grow(void **items, size_t count, size_t *cap, size_t size)
{
	if (count < *cap)
		return 0;
	size_t more = *cap ? 2 * *cap : 16;
	void *grown = realloc(*items, more * size);
	if (!grown)
		return -ENOMEM;
	*items = grown;
	*cap = more;
	return 0;
}

struct links {
	struct natt_link *items;
	size_t count, cap;
};

static int collect_link(const struct nlmsghdr *msg, void *ctx)
{
	struct links *links = ctx;
	struct natt_link link;
	if (natt_netlink_link_parse(msg, &link) < 0)
		return 0; /* not one we can use: skip it */
	if (grow((void **)&links->items, links->count, &links->cap, sizeof(link)) < 0)
		return -ENOMEM;
	links->items[links->count++] = link;
	return 0;
}

struct addresses {
	const struct links *links;
	struct natt_interface *items;
	size_t count, cap;
};

static const struct natt_link *link_of(const struct links *links, unsigned index)
{
	for (size_t i = 0; i < links->count; i++)
		if (links->items[i].index == index)
			return &links->items[i];
	return NULL;
}

static int collect_address(const struct nlmsghdr *msg, void *ctx)
{
	struct addresses *addrs = ctx;
	struct natt_interface entry;
	if (natt_netlink_addr_parse(msg, &entry) != 0)
		return 0;
	const struct natt_link *link = link_of(addrs->links, entry.index);
	if (!link || !(link->flags & IFF_UP))
		return 0;
	entry.flags = link->flags;
	if (!entry.name[0])
		memcpy(entry.name, link->name, sizeof(entry.name));
	if (grow((void **)&addrs->items, addrs->count, &addrs->cap, sizeof(entry)) < 0)
		return -ENOMEM;
	addrs->items[addrs->count++] = entry;
	return 0;
}

static int list_once(struct natt_interface **list, size_t *count, int timeout_ms)
{
	struct links links = { 0 };
	struct ifinfomsg link_req = { .ifi_family = AF_UNSPEC };
	int rc = natt_netlink_dump(RTM_GETLINK, &link_req, sizeof(link_req), collect_link, &links, timeout_ms);
	struct addresses addrs = { .links = &links };
	if (rc == 0) {
		struct ifaddrmsg addr_req = { .ifa_family = AF_UNSPEC };
		rc = natt_netlink_dump(RTM_GETADDR, &addr_req, sizeof(addr_req), collect_address, &addrs, timeout_ms);
	}
	free(links.items);
	if (rc < 0 || addrs.count == 0) {
		free(addrs.items);
		addrs.items = NULL;
		addrs.count = 0;
	}
	*list = addrs.items;
	*count = addrs.count;
	return rc;
}

int natt_netlink_interfaces(struct natt_interface **list, size_t *count, int timeout_ms)
{
	int64_t deadline = natt_now_ms() + timeout_ms;
	int rc;
	/* -EAGAIN: a link or address changed during the dump; -ENOBUFS: the socket's queue overflowed. A
	 * new dump gives a consistent answer. */
	for (int attempt = 0; attempt < 3; attempt++) {
		int64_t left = deadline - natt_now_ms();
		rc = list_once(list, count, left > 0 ? (int)left : 0);
		if (rc != -EAGAIN && rc != -ENOBUFS)
			break;
	}
	return rc;
}

/* ---- IPv6 addresses with their flags */

int natt_netlink_addr6_parse(const struct nlmsghdr *msg, struct natt_addr6 *out)
{
	if (msg->nlmsg_type != RTM_NEWADDR || msg->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifaddrmsg)))
		return -EINVAL;
	const struct ifaddrmsg *ifa = NLMSG_DATA(msg);
	if (ifa->ifa_family != AF_INET6)
		return 1;
	memset(out, 0, sizeof(*out));
	const void *local = NULL, *address = NULL;
	out->flags = ifa->ifa_flags;
	long len = (long)msg->nlmsg_len - (long)NLMSG_LENGTH(sizeof(*ifa));
	for (const struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFA_LOCAL || a->rta_type == IFA_ADDRESS) {
			if (RTA_PAYLOAD(a) != 16)
				return -EINVAL;
			*(a->rta_type == IFA_LOCAL ? &local : &address) = RTA_DATA(a);
		} else if (a->rta_type == IFA_FLAGS) {
			/* The full flags (ifa_flags has only the low eight: not MANAGETEMPADDR...). */
			if (RTA_PAYLOAD(a) != sizeof(uint32_t))
				return -EINVAL;
			memcpy(&out->flags, RTA_DATA(a), sizeof(uint32_t));
		}
	}
	const void *mine = local ? local : address;
	if (!mine)
		return -EINVAL;
	memcpy(&out->address, mine, 16);
	out->index = ifa->ifa_index;
	out->scope = ifa->ifa_scope;
	return 0;
}

struct addresses6 {
	struct natt_addr6 *items;
	size_t count, cap;
};

static int collect_address6(const struct nlmsghdr *msg, void *ctx)
{
	struct addresses6 *addrs = ctx;
	struct natt_addr6 entry;
	if (natt_netlink_addr6_parse(msg, &entry) != 0)
		return 0;
	if (grow((void **)&addrs->items, addrs->count, &addrs->cap, sizeof(entry)) < 0)
		return -ENOMEM;
	addrs->items[addrs->count++] = entry;
	return 0;
}

int natt_netlink_ipv6_addresses(struct natt_addr6 **list, size_t *count, int timeout_ms)
{
	int64_t deadline = natt_now_ms() + timeout_ms;
	int rc = -EAGAIN;
	struct addresses6 addrs = { 0 };
	for (int attempt = 0; attempt < 3 && (rc == -EAGAIN || rc == -ENOBUFS); attempt++) {
		free(addrs.items);
		addrs = (struct addresses6){ 0 };
		int64_t left = deadline - natt_now_ms();
		struct ifaddrmsg req = { .ifa_family = AF_INET6 };
		rc = natt_netlink_dump(RTM_GETADDR, &req, sizeof(req), collect_address6, &addrs, left > 0 ? (int)left : 0);
	}
	if (rc < 0 || addrs.count == 0) {
		free(addrs.items);
		addrs.items = NULL;
		addrs.count = 0;
	}
	*list = addrs.items;
	*count = addrs.count;
	return rc;
}

static bool publishable6(const struct natt_addr6 *a)
{
	const uint8_t *b = a->address.s6_addr;
	if (a->scope != RT_SCOPE_UNIVERSE || (b[0] & 0xfe) == 0xfc || IN6_IS_ADDR_LINKLOCAL(&a->address) ||
	    IN6_IS_ADDR_LOOPBACK(&a->address) || IN6_IS_ADDR_MULTICAST(&a->address) ||
	    IN6_IS_ADDR_V4MAPPED(&a->address) || IN6_IS_ADDR_UNSPECIFIED(&a->address))
		return false;
	return !(a->flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED | IFA_F_DEPRECATED));
}

int natt_pick_published_ipv6(const struct natt_addr6 *list, size_t count, unsigned router_index,
                             const struct in6_addr *source, struct in6_addr *out)
{
	int best_rank = -1;
	for (size_t i = 0; i < count; i++) {
		const struct natt_addr6 *a = &list[i];
		if (!publishable6(a))
			continue;
		/* Lower is better: on the router's interface (the router's firewall sees no other address's
		 * traffic: a VPN's or a container bridge's), then stable before temporary, then the kernel's
		 * pick. */
		int rank = (router_index && a->index != router_index ? 4 : 0) + ((a->flags & IFA_F_TEMPORARY) ? 2 : 0) +
		           (source && memcmp(source, &a->address, 16) == 0 ? 0 : 1);
		if (best_rank < 0 || rank < best_rank) {
			best_rank = rank;
			*out = a->address;
		}
	}
	return best_rank < 0 ? -ENOENT : 0;
}
