/* Network utilities: default gateway, local addresses (their classification is addr.c). See natt/net.h. */
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
	fd = natt_own_open(path, O_RDONLY, 0); /* (inside a program: marked as natt's while read) */
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
	natt_own_close(fd);
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
