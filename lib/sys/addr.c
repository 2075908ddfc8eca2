/* Address classification (loopback, wildcard, private, global...), parsing and formatting: pure
 * functions, apart from the gateway and interface look-ups of net.c, so the preload library's hooks can
 * tell a loopback server from one to publish without loading the engine. See natt/net.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "natt/net.h"

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
