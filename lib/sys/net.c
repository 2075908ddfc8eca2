/* Network utilities: default gateway, local addresses, address classification. See natt/net.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/clock.h"
#include "natt/net.h"
#include "sys/netlink.h"
#include "sys/net_internal.h"
#include "util/parse.h"
#include "sys/ownfd.h"

/* The whole gateway lookup must stay short: it runs in the manager thread, between other work. */
#define NETLINK_TIMEOUT_MS 1000
#define NETLINK_ATTEMPTS 3
/* /proc/net/route is 128 bytes per route: 64 MiB is half a million routes, far beyond a host's table. */
#define PROC_ROUTE_MAX_BYTES (64u << 20)
/* /proc/net/ipv6_route flags (RTF_UP | RTF_GATEWAY of <linux/route.h>, and RTF_REJECT). */
#define RTF_UP_GATEWAY 0x0003
#define RTF_REJECT_FLAG 0x0200

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

int natt_gateway_ipv4_netlink(struct in_addr *gateway, char *ifname)
{
	struct natt_route_pick pick;
	int attempt, r = -EAGAIN;
	/* One deadline for all attempts: the whole lookup stays within NETLINK_TIMEOUT_MS. */
	int64_t deadline = natt_now_ms() + NETLINK_TIMEOUT_MS;
	/* The main IPv4 table (the kernel filters by it with strict checking; the parser does anyway). */
	struct rtmsg request = { .rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN };

	if (!gateway)
		return -EINVAL;
	/* -EAGAIN: the table changed during the dump; -ENOBUFS: the socket's queue overflowed. Either way
	 * a new dump gives a consistent answer. */
	for (attempt = 0; attempt < NETLINK_ATTEMPTS && (r == -EAGAIN || r == -ENOBUFS); attempt++) {
		int64_t left = deadline - natt_now_ms();
		memset(&pick, 0, sizeof(pick));
		r = natt_netlink_dump(RTM_GETROUTE, &request, sizeof(request), natt_route_netlink_message, &pick,
		                      left > 0 ? (int)left : 0);
	}
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

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* 32 lower-case hex digits into 16 bytes; false when they are not. */
static bool hex_addr6(const char *text, struct in6_addr *out)
{
	for (int i = 0; i < 16; i++) {
		int hi = hex_nibble(text[2 * i]), lo = hex_nibble(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out->s6_addr[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

NATT_API int natt_gateway_ipv6(struct sockaddr_in6 *gateway)
{
	if (!gateway)
		return -EINVAL;
	FILE *f = natt_own_fopen_read("/proc/net/ipv6_route");
	if (!f)
		return errno == ENOENT ? NATT_ERR_NO_GATEWAY : -errno;
	/* Each line: destination, its prefix length, source, its length, next hop, metric, refcount,
	 * use, flags, device (all hex but the device). */
	char dst[33], src[33], hop[33], dev[IF_NAMESIZE + 1];
	unsigned dst_len, src_len, metric, refcnt, use, flags, best_metric = 0;
	bool found = false;
	while (fscanf(f, "%32s %x %32s %x %32s %x %x %x %x %16s", dst, &dst_len, src, &src_len, hop, &metric,
	              &refcnt, &use, &flags, dev) == 10) {
		struct in6_addr d, h;
		if (dst_len != 0 || !hex_addr6(dst, &d) || !IN6_IS_ADDR_UNSPECIFIED(&d) || !hex_addr6(hop, &h) ||
		    IN6_IS_ADDR_UNSPECIFIED(&h) || (flags & RTF_UP_GATEWAY) != RTF_UP_GATEWAY || (flags & RTF_REJECT_FLAG))
			continue;
		if (found && metric >= best_metric)
			continue;
		found = true;
		best_metric = metric;
		memset(gateway, 0, sizeof(*gateway));
		gateway->sin6_family = AF_INET6;
		gateway->sin6_addr = h;
		if (IN6_IS_ADDR_LINKLOCAL(&h))
			gateway->sin6_scope_id = if_nametoindex(dev);
	}
	natt_own_fclose(f);
	return found ? 0 : NATT_ERR_NO_GATEWAY;
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

NATT_API int natt_interfaces(struct natt_interface **list, size_t *count)
{
	if (list)
		*list = NULL;
	if (count)
		*count = 0;
	if (!list || !count)
		return -EINVAL;
	return natt_netlink_interfaces(list, count, NETLINK_TIMEOUT_MS);
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

NATT_API int natt_best_interface_address(struct in_addr *address)
{
	struct in_addr gateway;
	struct natt_interface *list = NULL;
	size_t count = 0, i;

	if (!address)
		return -EINVAL;
	/* The source the kernel picks toward the default gateway is the address LAN peers know. */
	if (natt_gateway_ipv4(&gateway, NULL) == 0 && natt_local_address_toward(&gateway, address) == 0)
		return 0;
	if (natt_interfaces(&list, &count) == 0) {
		for (i = 0; i < count; i++) {
			const struct sockaddr *sa = (const struct sockaddr *)&list[i].address;

			if (sa->sa_family == AF_INET && !(list[i].flags & IFF_LOOPBACK) && natt_addr_is_private(sa)) {
				*address = ((const struct sockaddr_in *)sa)->sin_addr;
				natt_interfaces_free(list);
				return 0;
			}
		}
		natt_interfaces_free(list);
	}
	address->s_addr = htonl(INADDR_LOOPBACK);
	return 0;
}
