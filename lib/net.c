/* Network utilities: default gateway, local addresses, address classification. See natt/net.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "natt/net.h"
#include "parse.h"

#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif

/* The whole gateway lookup must stay short: it runs in the manager thread, between other work. */
#define NETLINK_TIMEOUT_MS 1000
/* Dump datagrams are at most a page or two; 32 KiB leaves room and MSG_TRUNC catches the rest. */
#define NETLINK_BUFSIZE 32768
/* A full internet table is ~1M routes, ~2000 datagrams with the kernel's filtering by table; the
 * limit only stops a kernel (or test) that never says NLMSG_DONE. */
#define NETLINK_MAX_DATAGRAMS 65536
#define NETLINK_ATTEMPTS 3
/* /proc/net/route is 128 bytes per route: 64 MiB is half a million routes, far beyond a host's table. */
#define PROC_ROUTE_MAX_BYTES (64u << 20)

static void fill_ifname(const struct natt_route_pick *pick, char *ifname)
{
	if (!ifname)
		return;
	ifname[0] = '\0';
	if (pick->ifname[0]) {
		memcpy(ifname, pick->ifname, IF_NAMESIZE);
		ifname[IF_NAMESIZE - 1] = '\0';
	} else if (pick->ifindex && !if_indextoname(pick->ifindex, ifname)) {
		ifname[0] = '\0'; /* the interface went away since the dump */
	}
}

/* One RTM_GETROUTE dump of the main IPv4 table into *pick, using buf (NETLINK_BUFSIZE bytes), ending
 * by the monotonic time deadline (ms). */
static int netlink_dump_once(struct natt_route_pick *pick, void *buf, uint32_t seq, int64_t deadline)
{
	struct sockaddr_nl local = { .nl_family = AF_NETLINK }, kernel = { .nl_family = AF_NETLINK };
	socklen_t alen = sizeof(local);
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
	} req;
	unsigned datagrams = 0;
	int fd, r, one = 1;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&local, &alen) < 0) {
		r = -errno;
		goto out;
	}
	/* With strict checking (Linux 4.20+) the kernel itself filters the dump by the table in the
	 * request; older kernels refuse the option and dump every table, which the parser filters. */
	(void)setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof(one));

	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.rt));
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = seq;
	req.nh.nlmsg_pid = local.nl_pid;
	req.rt.rtm_family = AF_INET;
	req.rt.rtm_table = RT_TABLE_MAIN;
	if (sendto(fd, &req, req.nh.nlmsg_len, MSG_NOSIGNAL, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		r = -errno;
		goto out;
	}

	for (;;) {
		struct sockaddr_nl from;
		struct iovec iov = { .iov_base = buf, .iov_len = NETLINK_BUFSIZE };
		struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov, .msg_iovlen = 1 };
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - natt_now_ms();
		ssize_t n;

		if (left <= 0 || ++datagrams > NETLINK_MAX_DATAGRAMS) {
			r = -ETIMEDOUT;
			goto out;
		}
		r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			goto out;
		}
		if (r == 0) {
			r = -ETIMEDOUT;
			goto out;
		}
		n = recvmsg(fd, &msg, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			r = -errno; /* ENOBUFS: the socket overran; the caller asks again */
			goto out;
		}
		if (msg.msg_flags & MSG_TRUNC) {
			r = -EMSGSIZE;
			goto out;
		}
		if (msg.msg_namelen < sizeof(from) || from.nl_pid != 0)
			continue; /* not from the kernel */
		r = natt_route_netlink_parse(buf, (size_t)n, seq, local.nl_pid, pick);
		if (r != 0)
			break;
	}
	if (r == 1)
		r = 0;
out:
	close(fd);
	return r;
}

int natt_gateway_ipv4_netlink(struct in_addr *gateway, char *ifname)
{
	struct natt_route_pick pick;
	void *buf;
	int attempt, r = -EAGAIN;
	/* A fresh socket per call, so any number is unique on it; varying it still makes an answer to an
	 * earlier request recognisable in a capture. */
	uint32_t seq = (uint32_t)natt_now_ms();
	/* One deadline for all attempts: the whole lookup stays within NETLINK_TIMEOUT_MS. */
	int64_t deadline = natt_now_ms() + NETLINK_TIMEOUT_MS;

	if (!gateway)
		return -EINVAL;
	buf = malloc(NETLINK_BUFSIZE);
	if (!buf)
		return -ENOMEM;
	/* -EAGAIN: the table changed during the dump; -ENOBUFS: the socket's queue overflowed. Either way
	 * a new dump gives a consistent answer. */
	for (attempt = 0; attempt < NETLINK_ATTEMPTS && (r == -EAGAIN || r == -ENOBUFS); attempt++) {
		memset(&pick, 0, sizeof(pick));
		r = netlink_dump_once(&pick, buf, seq + (uint32_t)attempt, deadline);
	}
	free(buf);
	/* The kernel filtering by table answers ENOENT when the main table does not exist yet: a fresh
	 * network namespace, no route ever added. That is an empty table, not a failure. */
	if (r == -ENOENT)
		return NATT_ERR_NO_GATEWAY;
	if (r < 0)
		return r;
	if (!pick.found)
		return NATT_ERR_NO_GATEWAY;
	*gateway = pick.gateway;
	fill_ifname(&pick, ifname);
	return 0;
}

int natt_gateway_ipv4_procfs(const char *path, struct in_addr *gateway, char *ifname)
{
	struct natt_route_pick pick;
	char buf[4096];
	size_t have = 0, total = 0;
	bool skipping = false; /* inside a line longer than buf: no route line is, so it is dropped */
	int fd, r = 0;

	if (!path || !gateway)
		return -EINVAL;
	memset(&pick, 0, sizeof(pick));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Read in pieces and hand the parser whole lines, so memory stays fixed whatever the table size. */
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - have);
		char *last_nl;
		size_t upto, start = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0) {
			if (have > 0 && !skipping)
				natt_route_proc_parse(buf, have, &pick);
			break;
		}
		total += (size_t)n;
		if (total > PROC_ROUTE_MAX_BYTES) {
			r = -EFBIG;
			goto out;
		}
		have += (size_t)n;
		last_nl = memrchr(buf, '\n', have);
		if (!last_nl) {
			if (have == sizeof(buf)) {
				skipping = true;
				have = 0;
			}
			continue;
		}
		upto = (size_t)(last_nl - buf) + 1;
		if (skipping) {
			start = (size_t)((char *)memchr(buf, '\n', upto) - buf) + 1;
			skipping = false;
		}
		natt_route_proc_parse(buf + start, upto - start, &pick);
		memmove(buf, buf + upto, have - upto);
		have -= upto;
	}
	if (!pick.found) {
		r = NATT_ERR_NO_GATEWAY;
		goto out;
	}
	*gateway = pick.gateway;
	fill_ifname(&pick, ifname);
out:
	close(fd);
	return r;
}

NATT_API int natt_gateway_ipv4(struct in_addr *gateway, char *ifname)
{
	int r, r2;

	if (!gateway)
		return -EINVAL;
	r = natt_gateway_ipv4_netlink(gateway, ifname);
	if (r == 0 || r == NATT_ERR_NO_GATEWAY)
		return r;
	/* Netlink could not be used (sandbox, odd kernel): the same main table through /proc. */
	r2 = natt_gateway_ipv4_procfs("/proc/net/route", gateway, ifname);
	if (r2 == 0 || r2 == NATT_ERR_NO_GATEWAY)
		return r2;
	return r;
}

NATT_API int natt_local_sockaddr_toward(const struct sockaddr *peer, socklen_t peerlen,
					struct sockaddr_storage *local)
{
	struct sockaddr_storage dst, src;
	socklen_t dlen, slen = sizeof(src);
	int fd, r = 0;

	if (!peer || !local)
		return -EINVAL;
	memset(&dst, 0, sizeof(dst));
	memset(&src, 0, sizeof(src));
	if (peer->sa_family == AF_INET && peerlen >= sizeof(struct sockaddr_in)) {
		dlen = sizeof(struct sockaddr_in);
		memcpy(&dst, peer, dlen);
		/* Any non-zero port: the kernel only needs a destination to choose a route and source. */
		((struct sockaddr_in *)&dst)->sin_port = htons(9);
	} else if (peer->sa_family == AF_INET6 && peerlen >= sizeof(struct sockaddr_in6)) {
		dlen = sizeof(struct sockaddr_in6);
		memcpy(&dst, peer, dlen);
		((struct sockaddr_in6 *)&dst)->sin6_port = htons(9);
	} else {
		return -EINVAL;
	}
	fd = socket(peer->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* connect() on UDP sends nothing: it fixes the route, and with it the source address. */
	if (connect(fd, (struct sockaddr *)&dst, dlen) < 0 || getsockname(fd, (struct sockaddr *)&src, &slen) < 0) {
		r = -errno;
		goto out;
	}
	if (natt_addr_is_wildcard((struct sockaddr *)&src)) {
		r = -ENETUNREACH;
		goto out;
	}
	if (src.ss_family == AF_INET)
		((struct sockaddr_in *)&src)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&src)->sin6_port = 0;
	*local = src;
out:
	close(fd);
	return r;
}

NATT_API int natt_local_address_toward(const struct in_addr *peer, struct in_addr *local)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_storage ss;
	int r;

	if (!peer || !local)
		return -EINVAL;
	sin.sin_addr = *peer;
	r = natt_local_sockaddr_toward((struct sockaddr *)&sin, sizeof(sin), &ss);
	if (r < 0)
		return r;
	*local = ((struct sockaddr_in *)&ss)->sin_addr;
	return 0;
}

/* Leading one bits of a netmask of len bytes. */
static unsigned prefix_length(const unsigned char *mask, size_t len)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char b = mask[i];

		while (b & 0x80) {
			n++;
			b = (unsigned char)(b << 1);
		}
		if (mask[i] != 0xff)
			break;
	}
	return n;
}

/* The index of the interface named name. glibc's getifaddrs lists each link as an AF_PACKET entry
 * carrying its index, so asking the kernel again (if_nametoindex opens a socket) is rarely needed. An
 * IPv4 label ("eth0:1") belongs to the interface before the colon. */
static unsigned interface_index(const struct ifaddrs *all, const char *name)
{
	const struct ifaddrs *i;
	size_t base = strcspn(name, ":");

	for (i = all; i; i = i->ifa_next) {
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_PACKET && i->ifa_name &&
		    strncmp(i->ifa_name, name, base) == 0 && i->ifa_name[base] == '\0')
			return (unsigned)((const struct sockaddr_ll *)i->ifa_addr)->sll_ifindex;
	}
	if (name[base] == ':') {
		char copy[IF_NAMESIZE];

		if (base >= sizeof(copy))
			return 0;
		memcpy(copy, name, base);
		copy[base] = '\0';
		return if_nametoindex(copy);
	}
	return if_nametoindex(name);
}

static bool listed_address(const struct ifaddrs *i)
{
	return i->ifa_addr && i->ifa_name && (i->ifa_flags & IFF_UP) &&
	       (i->ifa_addr->sa_family == AF_INET || i->ifa_addr->sa_family == AF_INET6);
}

NATT_API int natt_interfaces(struct natt_interface **list, size_t *count)
{
	struct ifaddrs *all, *i;
	struct natt_interface *out;
	size_t n = 0, k = 0;

	if (list)
		*list = NULL;
	if (count)
		*count = 0;
	if (!list || !count)
		return -EINVAL;
	if (getifaddrs(&all) < 0)
		return -errno;
	for (i = all; i; i = i->ifa_next)
		if (listed_address(i))
			n++;
	if (n == 0) {
		freeifaddrs(all);
		return 0;
	}
	out = calloc(n, sizeof(*out));
	if (!out) {
		freeifaddrs(all);
		return -ENOMEM;
	}
	for (i = all; i; i = i->ifa_next) {
		struct natt_interface *e;
		size_t name_len;

		if (!listed_address(i))
			continue;
		e = &out[k++];
		name_len = strnlen(i->ifa_name, sizeof(e->name) - 1);
		memcpy(e->name, i->ifa_name, name_len); /* calloc left the NUL */
		e->index = interface_index(all, i->ifa_name);
		e->flags = i->ifa_flags;
		if (i->ifa_addr->sa_family == AF_INET) {
			memcpy(&e->address, i->ifa_addr, sizeof(struct sockaddr_in));
			((struct sockaddr_in *)&e->address)->sin_port = 0;
			if (i->ifa_netmask)
				e->prefix_len = prefix_length(
					(const unsigned char *)&((struct sockaddr_in *)i->ifa_netmask)->sin_addr, 4);
		} else {
			memcpy(&e->address, i->ifa_addr, sizeof(struct sockaddr_in6));
			((struct sockaddr_in6 *)&e->address)->sin6_port = 0;
			if (i->ifa_netmask)
				e->prefix_len = prefix_length(
					((struct sockaddr_in6 *)i->ifa_netmask)->sin6_addr.s6_addr, 16);
		}
	}
	freeifaddrs(all);
	*list = out;
	*count = k;
	return 0;
}

NATT_API void natt_interfaces_free(struct natt_interface *list)
{
	free(list);
}

/* ---- Classification ---- */

/* An address reduced to what the predicates look at: an IPv4 address in host order (IPv4-mapped IPv6
 * included), or the 16 bytes of an IPv6 address. */
struct view {
	int family; /* AF_INET, AF_INET6, or 0 for anything else */
	uint32_t v4;
	const uint8_t *v6;
};

static struct view view_of(const struct sockaddr *sa)
{
	struct view v = { 0, 0, NULL };

	if (!sa)
		return v;
	if (sa->sa_family == AF_INET) {
		v.family = AF_INET;
		v.v4 = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			uint32_t be;

			memcpy(&be, &a->s6_addr[12], 4);
			v.family = AF_INET;
			v.v4 = ntohl(be);
		} else {
			v.family = AF_INET6;
			v.v6 = a->s6_addr;
		}
	}
	return v;
}

/* Whether the IPv4 address a (host order) lies in net/len, net written as four octets. */
static bool in4(uint32_t a, uint8_t o1, uint8_t o2, uint8_t o3, uint8_t o4, unsigned len)
{
	uint32_t net = (uint32_t)o1 << 24 | (uint32_t)o2 << 16 | (uint32_t)o3 << 8 | o4;
	uint32_t mask = len ? ~(uint32_t)0 << (32 - len) : 0;

	return (a & mask) == net;
}

/* An IPv6 prefix: the leading bytes (the rest are zero) and the length in bits. */
struct prefix6 {
	uint8_t b[16];
	unsigned len;
};

static bool in6(const uint8_t *a, const struct prefix6 *p)
{
	unsigned full = p->len / 8, rest = p->len % 8;

	if (memcmp(a, p->b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[full] ^ p->b[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static const struct prefix6 p6_link_local = { { 0xfe, 0x80 }, 10 };
static const struct prefix6 p6_ula = { { 0xfc }, 7 };

NATT_API bool natt_addr_is_wildcard(const struct sockaddr *sa)
{
	struct view v = view_of(sa);

	if (v.family == AF_INET)
		return v.v4 == 0;
	if (v.family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED((const struct in6_addr *)v.v6);
	return false;
}

NATT_API bool natt_addr_is_loopback(const struct sockaddr *sa)
{
	struct view v = view_of(sa);

	if (v.family == AF_INET)
		return in4(v.v4, 127, 0, 0, 0, 8);
	if (v.family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)v.v6);
	return false;
}

NATT_API bool natt_addr_is_private(const struct sockaddr *sa)
{
	struct view v = view_of(sa);

	return v.family == AF_INET &&
	       (in4(v.v4, 10, 0, 0, 0, 8) || in4(v.v4, 172, 16, 0, 0, 12) || in4(v.v4, 192, 168, 0, 0, 16));
}

NATT_API bool natt_addr_is_shared(const struct sockaddr *sa)
{
	struct view v = view_of(sa);

	return v.family == AF_INET && in4(v.v4, 100, 64, 0, 0, 10);
}

NATT_API bool natt_addr_is_link_local(const struct sockaddr *sa)
{
	struct view v = view_of(sa);

	if (v.family == AF_INET)
		return in4(v.v4, 169, 254, 0, 0, 16);
	if (v.family == AF_INET6)
		return in6(v.v6, &p6_link_local);
	return false;
}

NATT_API bool natt_addr_is_ula(const struct sockaddr *sa)
{
	struct view v = view_of(sa);

	return v.family == AF_INET6 && in6(v.v6, &p6_ula);
}

/* IPv4 ranges that are not globally reachable (IANA IPv4 Special-Purpose Address Registry, plus
 * multicast and 240/4). */
static bool global4(uint32_t a)
{
	static const struct {
		uint8_t o[4];
		unsigned len;
	} not_global[] = {
		{ { 0, 0, 0, 0 }, 8 },        /* "this network" */
		{ { 10, 0, 0, 0 }, 8 },       /* RFC 1918 */
		{ { 100, 64, 0, 0 }, 10 },    /* shared (CGNAT) */
		{ { 127, 0, 0, 0 }, 8 },      /* loopback */
		{ { 169, 254, 0, 0 }, 16 },   /* link-local */
		{ { 172, 16, 0, 0 }, 12 },    /* RFC 1918 */
		{ { 192, 0, 0, 0 }, 24 },     /* IETF protocol assignments (exceptions below) */
		{ { 192, 0, 2, 0 }, 24 },     /* TEST-NET-1 */
		{ { 192, 88, 99, 0 }, 24 },   /* deprecated 6to4 relay anycast */
		{ { 192, 168, 0, 0 }, 16 },   /* RFC 1918 */
		{ { 198, 18, 0, 0 }, 15 },    /* benchmarking */
		{ { 198, 51, 100, 0 }, 24 },  /* TEST-NET-2 */
		{ { 203, 0, 113, 0 }, 24 },   /* TEST-NET-3 */
		{ { 224, 0, 0, 0 }, 4 },      /* multicast */
		{ { 240, 0, 0, 0 }, 4 },      /* reserved, and 255.255.255.255 */
	};
	size_t i;

	/* PCP and TURN anycast are services on the internet. */
	if (in4(a, 192, 0, 0, 9, 32) || in4(a, 192, 0, 0, 10, 32))
		return true;
	for (i = 0; i < sizeof(not_global) / sizeof(not_global[0]); i++)
		if (in4(a, not_global[i].o[0], not_global[i].o[1], not_global[i].o[2], not_global[i].o[3],
			not_global[i].len))
			return false;
	return true;
}

/* IPv6: only the global unicast space 2000::/3 (and the well-known NAT64 prefix) is reachable; inside
 * it, a few special-purpose blocks are not (IANA IPv6 Special-Purpose Address Registry). */
static bool global6(const uint8_t *a)
{
	static const struct prefix6 nat64 = { { 0x00, 0x64, 0xff, 0x9b }, 96 };
	static const struct prefix6 unicast = { { 0x20 }, 3 };
	static const struct prefix6 ietf = { { 0x20, 0x01 }, 23 };
	static const struct prefix6 ietf_global[] = {
		{ { 0x20, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01 }, 128 }, /* PCP anycast */
		{ { 0x20, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02 }, 128 }, /* TURN anycast */
		{ { 0x20, 0x01, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x03 }, 128 }, /* DNS-SD SRP */
		{ { 0x20, 0x01, 0x00, 0x03 }, 32 },                                          /* AMT */
		{ { 0x20, 0x01, 0x00, 0x04, 0x01, 0x12 }, 48 },                              /* AS112-v6 */
		{ { 0x20, 0x01, 0x00, 0x20 }, 28 },                                          /* ORCHIDv2 */
		{ { 0x20, 0x01, 0x00, 0x30 }, 28 },                                          /* drone remote ID */
	};
	static const struct prefix6 not_global[] = {
		{ { 0x20, 0x01, 0x0d, 0xb8 }, 32 }, /* documentation */
		{ { 0x20, 0x02 }, 16 },             /* 6to4 */
		{ { 0x3f, 0xff }, 20 },             /* documentation (RFC 9637) */
	};
	size_t i;

	if (in6(a, &nat64))
		return true;
	if (!in6(a, &unicast))
		return false;
	if (in6(a, &ietf)) {
		for (i = 0; i < sizeof(ietf_global) / sizeof(ietf_global[0]); i++)
			if (in6(a, &ietf_global[i]))
				return true;
		return false;
	}
	for (i = 0; i < sizeof(not_global) / sizeof(not_global[0]); i++)
		if (in6(a, &not_global[i]))
			return false;
	return true;
}

NATT_API bool natt_addr_is_global(const struct sockaddr *sa)
{
	struct view v = view_of(sa);

	if (v.family == AF_INET)
		return global4(v.v4);
	if (v.family == AF_INET6)
		return global6(v.v6);
	return false;
}

/* ---- Text ---- */

NATT_API int natt_addr_parse(const char *text, struct sockaddr_storage *ss)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (!text || !ss)
		return -EINVAL;
	/* inet_pton takes only the strict forms: a dotted quad without leading zeros, or RFC 4291 text. */
	if (inet_pton(AF_INET, text, &a4) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		memset(ss, 0, sizeof(*ss));
		sin->sin_family = AF_INET;
		sin->sin_addr = a4;
		return 0;
	}
	if (inet_pton(AF_INET6, text, &a6) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		memset(ss, 0, sizeof(*ss));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = a6;
		return 0;
	}
	return -EINVAL;
}

NATT_API const char *natt_addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	socklen_t n = len > INET6_ADDRSTRLEN ? INET6_ADDRSTRLEN : (socklen_t)len;

	if (!sa || !buf)
		return NULL;
	if (sa->sa_family == AF_INET)
		return inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, n);
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a))
			return inet_ntop(AF_INET, &a->s6_addr[12], buf, n);
		return inet_ntop(AF_INET6, a, buf, n);
	}
	return NULL;
}
