/* Unit tests of lib/sys/net.c and the routing-table parsers of lib/util/parse.c: address classification at every
 * range edge, address text, interfaces, the "best" local address (toward a peer, and Racket's
 * best-interface-ip-address without arguments), and the IPv4 default gateway through
 * both kernel sources — on sample tables, on this machine, and in network namespaces made here. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "natt/net.h"
#include "sys/net_internal.h"
#include "sys/netlink.h"
#include "sys/sockstate.h"
#include "util/parse.h"

static struct sockaddr_storage addr(const char *text)
{
	struct sockaddr_storage ss;

	if (natt_addr_parse(text, &ss) != 0)
		fail_msg("natt_addr_parse(\"%s\") failed", text);
	return ss;
}

/* ---- Classification ---- */

enum { W = 1, L = 2, P = 4, S = 8, K = 16, U = 32, G = 64 }; /* wildcard loopback private shared
								 * linK-local Ula Global */
static const struct {
	const char *text;
	unsigned classes;
} table[] = {
	/* IPv4, each range at its edges and just outside. */
	{ "0.0.0.0", W },
	{ "0.0.0.1", 0 },
	{ "0.255.255.255", 0 },
	{ "1.0.0.0", G },
	{ "8.8.8.8", G },
	{ "9.255.255.255", G },
	{ "10.0.0.0", P },
	{ "10.255.255.255", P },
	{ "11.0.0.0", G },
	{ "100.63.255.255", G },
	{ "100.64.0.0", S },
	{ "100.127.255.255", S },
	{ "100.128.0.0", G },
	{ "126.255.255.255", G },
	{ "127.0.0.0", L },
	{ "127.0.0.1", L },
	{ "127.255.255.255", L },
	{ "128.0.0.0", G },
	{ "169.253.255.255", G },
	{ "169.254.0.0", K },
	{ "169.254.255.255", K },
	{ "169.255.0.0", G },
	{ "172.15.255.255", G },
	{ "172.16.0.0", P },
	{ "172.31.255.255", P },
	{ "172.32.0.0", G },
	{ "191.255.255.255", G },
	{ "192.0.0.0", 0 },
	{ "192.0.0.8", 0 },
	{ "192.0.0.9", G },
	{ "192.0.0.10", G },
	{ "192.0.0.11", 0 },
	{ "192.0.0.255", 0 },
	{ "192.0.1.0", G },
	{ "192.0.1.255", G },
	{ "192.0.2.0", 0 },
	{ "192.0.2.255", 0 },
	{ "192.0.3.0", G },
	{ "192.88.98.255", G },
	{ "192.88.99.0", 0 },
	{ "192.88.99.255", 0 },
	{ "192.88.100.0", G },
	{ "192.167.255.255", G },
	{ "192.168.0.0", P },
	{ "192.168.255.255", P },
	{ "192.169.0.0", G },
	{ "198.17.255.255", G },
	{ "198.18.0.0", 0 },
	{ "198.19.255.255", 0 },
	{ "198.20.0.0", G },
	{ "198.51.99.255", G },
	{ "198.51.100.0", 0 },
	{ "198.51.100.255", 0 },
	{ "198.51.101.0", G },
	{ "203.0.112.255", G },
	{ "203.0.113.0", 0 },
	{ "203.0.113.255", 0 },
	{ "203.0.114.0", G },
	{ "223.255.255.255", G },
	{ "224.0.0.0", 0 },
	{ "239.255.255.255", 0 },
	{ "240.0.0.0", 0 },
	{ "255.255.255.254", 0 },
	{ "255.255.255.255", 0 },
	/* IPv4-mapped IPv6 classifies as the IPv4 address. */
	{ "::ffff:0.0.0.0", W },
	{ "::ffff:127.0.0.1", L },
	{ "::ffff:10.1.2.3", P },
	{ "::ffff:100.64.0.1", S },
	{ "::ffff:169.254.1.1", K },
	{ "::ffff:8.8.8.8", G },
	{ "::ffff:192.0.2.1", 0 },
	/* IPv6 */
	{ "::", W },
	{ "::1", L },
	{ "::2", 0 },
	{ "::8.8.8.8", 0 },        /* deprecated IPv4-compatible: not mapped, not global */
	{ "::fffe:8.8.8.8", 0 },
	{ "64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", 0 },
	{ "64:ff9b::", G },
	{ "64:ff9b::8.8.8.8", G },
	{ "64:ff9b::ffff:ffff", G },
	{ "64:ff9b::1:0:0", 0 },    /* past the /96 */
	{ "64:ff9b:1::1", 0 },
	{ "100::", 0 },
	{ "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0 },
	{ "2000::", G },
	{ "2001::", 0 },
	{ "2001:0:ffff::", 0 },
	{ "2001:1::", 0 },
	{ "2001:1::1", G },
	{ "2001:1::2", G },
	{ "2001:1::3", G },
	{ "2001:1::4", 0 },
	{ "2001:2::", 0 },
	{ "2001:2:ffff::", 0 },
	{ "2001:3::", G },
	{ "2001:3:ffff:ffff:ffff:ffff:ffff:ffff", G },
	{ "2001:4::", 0 },
	{ "2001:4:111:ffff:ffff:ffff:ffff:ffff", 0 },
	{ "2001:4:112::", G },
	{ "2001:4:112:ffff:ffff:ffff:ffff:ffff", G },
	{ "2001:4:113::", 0 },
	{ "2001:1f:ffff:ffff:ffff:ffff:ffff:ffff", 0 },
	{ "2001:20::", G },
	{ "2001:2f:ffff:ffff:ffff:ffff:ffff:ffff", G },
	{ "2001:30::", G },
	{ "2001:3f:ffff:ffff:ffff:ffff:ffff:ffff", G },
	{ "2001:40::", 0 },
	{ "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", 0 },
	{ "2001:200::", G },
	{ "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", G },
	{ "2001:db8::", 0 },
	{ "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 0 },
	{ "2001:db9::", G },
	{ "2001:4860:4860::8888", G },
	{ "2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", G },
	{ "2002::", 0 },
	{ "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0 },
	{ "2003::", G },
	{ "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", G },
	{ "3fff::", 0 },
	{ "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", 0 },
	{ "3fff:1000::", G },
	{ "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", G },
	{ "4000::", 0 },
	{ "5f00::1", 0 },
	{ "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0 },
	{ "fc00::", U },
	{ "fd00::1", U },
	{ "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", U },
	{ "fe00::", 0 },
	{ "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0 },
	{ "fe80::", K },
	{ "fe80::1", K },
	{ "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", K },
	{ "fec0::", 0 },
	{ "ff00::", 0 },
	{ "ff02::1", 0 },
	{ "ff0e::1", 0 },
	{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0 },
};

static void test_classification_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct sockaddr_storage ss = addr(table[i].text);
		const struct sockaddr *sa = (const struct sockaddr *)&ss;
		unsigned got = (natt_addr_is_wildcard(sa) ? W : 0) | (natt_addr_is_loopback(sa) ? L : 0) |
			       (natt_addr_is_private(sa) ? P : 0) | (natt_addr_is_shared(sa) ? S : 0) |
			       (natt_addr_is_link_local(sa) ? K : 0) | (natt_addr_is_ula(sa) ? U : 0) |
			       (natt_addr_is_global(sa) ? G : 0);

		if (got != table[i].classes)
			fail_msg("%s: classes 0x%x, expected 0x%x", table[i].text, got, table[i].classes);
	}
}

static void test_classification_other_families(void **state)
{
	struct sockaddr_storage ss;
	const struct sockaddr *sa = (const struct sockaddr *)&ss;

	(void)state;
	memset(&ss, 0, sizeof(ss)); /* all-zero bytes, but AF_UNSPEC: no class at all */
	assert_false(natt_addr_is_wildcard(sa));
	assert_false(natt_addr_is_global(sa));
	ss.ss_family = AF_UNIX;
	assert_false(natt_addr_is_wildcard(sa));
	assert_false(natt_addr_is_loopback(sa));
	assert_false(natt_addr_is_private(sa));
	assert_false(natt_addr_is_shared(sa));
	assert_false(natt_addr_is_link_local(sa));
	assert_false(natt_addr_is_ula(sa));
	assert_false(natt_addr_is_global(sa));
	assert_false(natt_addr_is_wildcard(NULL));
	assert_false(natt_addr_is_loopback(NULL));
	assert_false(natt_addr_is_private(NULL));
	assert_false(natt_addr_is_shared(NULL));
	assert_false(natt_addr_is_link_local(NULL));
	assert_false(natt_addr_is_ula(NULL));
	assert_false(natt_addr_is_global(NULL));
	/* The port plays no part. */
	ss = addr("10.0.0.1");
	((struct sockaddr_in *)&ss)->sin_port = htons(8000);
	assert_true(natt_addr_is_private(sa));
}

/* ---- Text ---- */

static void test_addr_parse_and_format(void **state)
{
	static const struct {
		const char *in, *out;
		int family;
	} good[] = {
		{ "0.0.0.0", "0.0.0.0", AF_INET },
		{ "255.255.255.255", "255.255.255.255", AF_INET },
		{ "192.0.2.1", "192.0.2.1", AF_INET },
		{ "::", "::", AF_INET6 },
		{ "::1", "::1", AF_INET6 },
		{ "2001:DB8:0:0:0:0:0:1", "2001:db8::1", AF_INET6 },
		{ "fe80::1", "fe80::1", AF_INET6 },
		{ "::ffff:192.0.2.1", "192.0.2.1", AF_INET6 }, /* mapped: shown as IPv4 */
		{ "::ffff:c000:201", "192.0.2.1", AF_INET6 },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		  AF_INET6 },
	};
	static const char *const bad[] = {
		"", " 1.2.3.4", "1.2.3.4 ", "1.2.3", "1.2.3.256", "01.2.3.4", "1.2.3.4.5", "1.2.3.4:80",
		"0x7f.0.0.1", "127.1", "[::1]", "::1%lo", "fe80::1%1", ":::", "1::2::3", "localhost", "::g",
		"1.2.3.-4",
	};
	char buf[INET6_ADDRSTRLEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct sockaddr_storage ss;

		memset(&ss, 0xa5, sizeof(ss));
		assert_int_equal(natt_addr_parse(good[i].in, &ss), 0);
		assert_int_equal(ss.ss_family, good[i].family);
		if (good[i].family == AF_INET) {
			assert_int_equal(((struct sockaddr_in *)&ss)->sin_port, 0);
		} else {
			assert_int_equal(((struct sockaddr_in6 *)&ss)->sin6_port, 0);
			assert_int_equal(((struct sockaddr_in6 *)&ss)->sin6_scope_id, 0);
			assert_int_equal(((struct sockaddr_in6 *)&ss)->sin6_flowinfo, 0);
		}
		assert_non_null(natt_addr_format((struct sockaddr *)&ss, buf, sizeof(buf)));
		assert_string_equal(buf, good[i].out);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sockaddr_storage ss;

		memset(&ss, 0x5a, sizeof(ss));
		if (natt_addr_parse(bad[i], &ss) != -EINVAL)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(((unsigned char *)&ss)[0], 0x5a); /* untouched */
	}
	assert_int_equal(natt_addr_parse(NULL, &(struct sockaddr_storage){ 0 }), -EINVAL);
	assert_int_equal(natt_addr_parse("1.2.3.4", NULL), -EINVAL);
}

static void test_addr_format_limits(void **state)
{
	struct sockaddr_storage ss = addr("192.0.2.123"), un;
	char buf[INET6_ADDRSTRLEN];

	(void)state;
	assert_null(natt_addr_format((struct sockaddr *)&ss, buf, 11)); /* needs 12 */
	assert_non_null(natt_addr_format((struct sockaddr *)&ss, buf, 12));
	assert_string_equal(buf, "192.0.2.123");
	ss = addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	assert_null(natt_addr_format((struct sockaddr *)&ss, buf, 39));
	assert_ptr_equal(natt_addr_format((struct sockaddr *)&ss, buf, 40), buf);
	memset(&un, 0, sizeof(un));
	un.ss_family = AF_UNIX;
	assert_null(natt_addr_format((struct sockaddr *)&un, buf, sizeof(buf)));
	assert_null(natt_addr_format(NULL, buf, sizeof(buf)));
	assert_null(natt_addr_format((struct sockaddr *)&ss, NULL, 0));
}

/* ---- Interfaces ---- */

static const struct natt_interface *find_interface(const struct natt_interface *list, size_t n,
						   const char *address)
{
	char buf[INET6_ADDRSTRLEN];
	size_t i;

	for (i = 0; i < n; i++)
		if (natt_addr_format((const struct sockaddr *)&list[i].address, buf, sizeof(buf)) &&
		    strcmp(buf, address) == 0)
			return &list[i];
	return NULL;
}

static void test_interfaces(void **state)
{
	struct natt_interface *list;
	const struct natt_interface *lo;
	size_t n, i;
	FILE *f;
	char line[256];

	(void)state;
	assert_int_equal(natt_interfaces(&list, &n), 0);
	assert_true(n > 0);
	for (i = 0; i < n; i++) {
		int family = list[i].address.ss_family;

		assert_true(list[i].flags & IFF_UP);
		assert_true(family == AF_INET || family == AF_INET6);
		assert_true(list[i].name[0] != '\0');
		assert_true(list[i].prefix_len <= (family == AF_INET ? 32u : 128u));
		assert_true(list[i].index > 0);
		/* The flags and the address agree about loopback. */
		assert_int_equal(!!(list[i].flags & IFF_LOOPBACK),
				 natt_addr_is_loopback((const struct sockaddr *)&list[i].address));
	}
	lo = find_interface(list, n, "127.0.0.1");
	assert_non_null(lo);
	assert_int_equal(lo->prefix_len, 8);
	assert_true(lo->flags & IFF_LOOPBACK);
	assert_int_equal(lo->index, if_nametoindex(lo->name));

	/* Every IPv6 address the kernel lists in /proc/net/if_inet6 on an up interface is there, with its
	 * index and prefix length: an independent source for the same facts. */
	f = fopen("/proc/net/if_inet6", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char hex[33], name[IF_NAMESIZE + 1], text[INET6_ADDRSTRLEN];
		unsigned idx, plen, scope, fl, k;
		struct in6_addr a;
		const struct natt_interface *e;
		struct ifaddrs *ifa, *it;
		bool up = false;

		if (sscanf(line, "%32s %x %x %x %x %16s", hex, &idx, &plen, &scope, &fl, name) != 6)
			continue;
		for (k = 0; k < 16; k++) {
			unsigned byte;

			sscanf(hex + 2 * k, "%2x", &byte);
			a.s6_addr[k] = (uint8_t)byte;
		}
		inet_ntop(AF_INET6, &a, text, sizeof(text));
		assert_int_equal(getifaddrs(&ifa), 0);
		for (it = ifa; it; it = it->ifa_next)
			if (strcmp(it->ifa_name, name) == 0 && (it->ifa_flags & IFF_UP))
				up = true;
		freeifaddrs(ifa);
		if (!up)
			continue;
		e = find_interface(list, n, text);
		if (!e)
			fail_msg("%s of %s missing", text, name);
		assert_int_equal(e->index, idx);
		assert_int_equal(e->prefix_len, plen);
		assert_string_equal(e->name, name);
	}
	if (f)
		fclose(f);
	natt_interfaces_free(list);

	natt_interfaces_free(NULL);
	assert_int_equal(natt_interfaces(NULL, &n), -EINVAL);
	assert_int_equal(natt_interfaces(&list, NULL), -EINVAL);
	assert_null(list);
}

/* ---- The best local address ---- */

static void test_local_address_toward(void **state)
{
	struct in_addr peer, local, gw;
	struct sockaddr_storage ss, out;
	char buf[INET6_ADDRSTRLEN];

	(void)state;
	inet_pton(AF_INET, "127.0.0.1", &peer);
	assert_int_equal(natt_local_address_toward(&peer, &local), 0);
	assert_string_equal(inet_ntop(AF_INET, &local, buf, sizeof(buf)), "127.0.0.1");
	inet_pton(AF_INET, "127.9.8.7", &peer);
	assert_int_equal(natt_local_address_toward(&peer, &local), 0);
	assert_true((ntohl(local.s_addr) >> 24) == 127);

	/* Toward the gateway, the answer is an address of one of our interfaces (nothing is sent). */
	if (natt_gateway_ipv4(&gw, NULL) == 0) {
		struct natt_interface *list;
		size_t n;

		assert_int_equal(natt_local_address_toward(&gw, &local), 0);
		assert_int_equal(natt_interfaces(&list, &n), 0);
		assert_non_null(find_interface(list, n, inet_ntop(AF_INET, &local, buf, sizeof(buf))));
		natt_interfaces_free(list);
	}

	ss = addr("::1");
	if (natt_local_sockaddr_toward((struct sockaddr *)&ss, sizeof(struct sockaddr_in6), &out) == 0) {
		assert_int_equal(out.ss_family, AF_INET6);
		assert_string_equal(natt_addr_format((struct sockaddr *)&out, buf, sizeof(buf)), "::1");
		assert_int_equal(((struct sockaddr_in6 *)&out)->sin6_port, 0);
	}
	ss = addr("127.0.0.1");
	((struct sockaddr_in *)&ss)->sin_port = htons(1234);
	assert_int_equal(natt_local_sockaddr_toward((struct sockaddr *)&ss, sizeof(struct sockaddr_in), &out), 0);
	assert_int_equal(((struct sockaddr_in *)&out)->sin_port, 0);
	assert_int_equal(natt_local_sockaddr_toward((struct sockaddr *)&ss, 4, &out), -EINVAL);
	ss.ss_family = AF_UNIX;
	assert_int_equal(natt_local_sockaddr_toward((struct sockaddr *)&ss, sizeof(ss), &out), -EINVAL);
	assert_int_equal(natt_local_address_toward(NULL, &local), -EINVAL);
	assert_int_equal(natt_local_address_toward(&peer, NULL), -EINVAL);
}

/* ---- /proc/net/route parser on sample text ----
 * The kernel prints addresses as host-order numbers; the samples are as a little-endian kernel (x86,
 * arm64) prints them: 010200C0 is 192.0.2.1. */

#define HEADER                                                                                          \
	"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT           " \
	"                                            \n"

static int proc_text(const char *text, struct natt_route_pick *pick)
{
	memset(pick, 0, sizeof(*pick));
	return natt_route_proc_parse(text, strlen(text), pick);
}

static void expect_gateway(const struct natt_route_pick *pick, const char *gw, uint32_t metric)
{
	char buf[INET_ADDRSTRLEN];

	assert_true(pick->found);
	assert_string_equal(inet_ntop(AF_INET, &pick->gateway, buf, sizeof(buf)), gw);
	assert_int_equal(pick->metric, metric);
}

static void test_proc_route_sample(void **state)
{
	struct natt_route_pick pick;

	(void)state;
	/* As this kind of machine shows it: a default via 192.0.2.1 on eth0. */
	assert_int_equal(proc_text(HEADER
				   "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0     \n"
				   "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0     \n",
				   &pick),
			 0);
	expect_gateway(&pick, "192.0.2.1", 0);
	assert_string_equal(pick.ifname, "eth0");
	assert_int_equal(pick.ifindex, 0);
}

static void test_proc_route_lowest_metric(void **state)
{
	struct natt_route_pick pick;

	(void)state;
	assert_int_equal(proc_text(HEADER
				   "wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
				   "eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
				   "eth1\t00000000\t0200000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"  /* tie: first */
				   "tun0\t00000000\t0100080A\t0003\t0\t0\t4294967295\t00000000\t0\t0\t0\n",
				   &pick),
			 0);
	expect_gateway(&pick, "10.0.0.1", 100);
	assert_string_equal(pick.ifname, "eth0");
}

static void test_proc_route_ignored_lines(void **state)
{
	struct natt_route_pick pick;

	(void)state;
	/* None of these is a usable default route. */
	assert_int_equal(proc_text(HEADER
				   "*\t00000000\t00000000\t0201\t0\t0\t1\t00000000\t0\t0\t0\n"   /* unreachable */
				   "eth0\t00000000\t0100000A\t0203\t0\t0\t1\t00000000\t0\t0\t0\n" /* reject flag */
				   "eth0\t00000000\t0100000A\t0001\t0\t0\t1\t00000000\t0\t0\t0\n" /* no gateway flag */
				   "eth0\t00000000\t0100000A\t0002\t0\t0\t1\t00000000\t0\t0\t0\n" /* not up */
				   "eth0\t00000000\t00000000\t0003\t0\t0\t1\t00000000\t0\t0\t0\n" /* gateway 0 */
				   "eth0\t0000000A\t0100000A\t0003\t0\t0\t1\t000000FF\t0\t0\t0\n" /* 10/8 */
				   "eth0\t00000000\t0100000A\t0003\t0\t0\t1\t00000080\t0\t0\t0\n" /* 0/1 */
				   "eth0\t00000000\t0100000A\t0003\t0\t0\t-1\t00000000\t0\t0\t0\n" /* metric */
				   "eth0\t00000000\t0100000A\t0003\t0\t0\t4294967296\t00000000\t0\t0\t0\n"
				   "eth0\t00000000\t0100000G\t0003\t0\t0\t1\t00000000\t0\t0\t0\n" /* not hex */
				   "eth0\t00000000\t10100000A\t0003\t0\t0\t1\t00000000\t0\t0\t0\n" /* 9 digits */
				   "eth0\t00000000\t0100000A\t0003\t0\t0\t1\n"                    /* too short */
				   "abcdefghijklmnop\t00000000\t0100000A\t0003\t0\t0\t1\t00000000\t0\t0\t0\n"
				   "\n\n   \n",
				   &pick),
			 0);
	assert_false(pick.found);
	/* A header alone, nothing, or binary junk: no gateway, no crash. */
	assert_int_equal(proc_text(HEADER, &pick), 0);
	assert_false(pick.found);
	assert_int_equal(proc_text("", &pick), 0);
	assert_false(pick.found);
	assert_int_equal(natt_route_proc_parse("\0\0\0\t\t\n\0", 7, &pick), 0);
	assert_false(pick.found);
	assert_int_equal(natt_route_proc_parse(NULL, 0, &pick), 0);
	assert_int_equal(natt_route_proc_parse("", 0, NULL), -EINVAL);

	/* Fifteen characters is the longest interface name; the last line has no newline; lower-case
	 * hex and spaces instead of tabs are accepted. */
	assert_int_equal(proc_text("abcdefghijklmno 00000000 0a0b0c0d 3 0 0 7 00000000 0 0 0", &pick), 0);
	expect_gateway(&pick, "13.12.11.10", 7);
	assert_string_equal(pick.ifname, "abcdefghijklmno");
}

static void test_proc_route_in_pieces(void **state)
{
	static const char text[] = HEADER "eth0\t00000000\t0100000A\t0003\t0\t0\t50\t00000000\t0\t0\t0\n"
					  "eth1\t00000000\t0200000A\t0003\t0\t0\t20\t00000000\t0\t0\t0\n"
					  "eth2\t00000000\t0300000A\t0003\t0\t0\t30\t00000000\t0\t0\t0\n";
	struct natt_route_pick pick;
	const char *split;

	(void)state;
	/* Pieces ending at line ends give the answer of the whole. */
	memset(&pick, 0, sizeof(pick));
	split = strstr(text, "eth1");
	natt_route_proc_parse(text, (size_t)(split - text), &pick);
	expect_gateway(&pick, "10.0.0.1", 50);
	natt_route_proc_parse(split, strlen(split), &pick);
	expect_gateway(&pick, "10.0.0.2", 20);
	assert_string_equal(pick.ifname, "eth1");
}

static void test_proc_route_file(void **state)
{
	char path[] = "/tmp/natt-test-route-XXXXXX";
	struct in_addr gw;
	char ifname[IF_NAMESIZE], junk[10000], buf[INET_ADDRSTRLEN];
	FILE *f;
	int fd, i;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	/* Hundreds of routes (the reader works in 4 KiB pieces), a line longer than a piece, and the best
	 * default last, without a newline. */
	fputs(HEADER, f);
	for (i = 0; i < 300; i++)
		fprintf(f, "eth0\t%08X\t0100000A\t0003\t0\t0\t%d\t00FFFFFF\t0\t0\t0\n", i, i);
	fputs("eth9\t00000000\t0900000A\t0003\t0\t0\t10\t00000000\t0\t0\t0\n", f);
	memset(junk, 'x', sizeof(junk) - 2);
	junk[sizeof(junk) - 2] = '\n';
	junk[sizeof(junk) - 1] = '\0';
	fputs(junk, f);
	fputs("eth7\t00000000\t0700000A\t0003\t0\t0\t5\t00000000\t0\t0\t0", f);
	fclose(f);

	assert_int_equal(natt_gateway_ipv4_procfs(path, &gw, ifname), 0);
	assert_string_equal(inet_ntop(AF_INET, &gw, buf, sizeof(buf)), "10.0.0.7");
	assert_string_equal(ifname, "eth7");
	assert_int_equal(natt_gateway_ipv4_procfs(path, &gw, NULL), 0);

	f = fopen(path, "w");
	assert_non_null(f);
	fputs(HEADER, f);
	fclose(f);
	assert_int_equal(natt_gateway_ipv4_procfs(path, &gw, ifname), NATT_ERR_NO_GATEWAY);
	unlink(path);
	assert_int_equal(natt_gateway_ipv4_procfs(path, &gw, ifname), -ENOENT);
	assert_int_equal(natt_gateway_ipv4_procfs(NULL, &gw, ifname), -EINVAL);
	assert_int_equal(natt_gateway_ipv4_procfs("/proc/net/route", NULL, ifname), -EINVAL);
}

/* ---- rtnetlink parser on built messages ---- */

struct nlbuf {
	union {
		struct nlmsghdr align;
		unsigned char b[8192];
	} u;
	size_t len, msg;
};

static void nl_begin(struct nlbuf *nb, uint16_t type, uint16_t flags, uint32_t seq, uint32_t pid)
{
	struct nlmsghdr *nh;

	nb->msg = nb->len;
	nh = (struct nlmsghdr *)(nb->u.b + nb->len);
	memset(nh, 0, sizeof(*nh));
	nh->nlmsg_type = type;
	nh->nlmsg_flags = flags;
	nh->nlmsg_seq = seq;
	nh->nlmsg_pid = pid;
	nb->len += NLMSG_HDRLEN;
}

static void nl_put(struct nlbuf *nb, const void *data, size_t len)
{
	memcpy(nb->u.b + nb->len, data, len);
	memset(nb->u.b + nb->len + len, 0, NLMSG_ALIGN(len) - len);
	nb->len += NLMSG_ALIGN(len);
}

static void nl_attr(struct nlbuf *nb, uint16_t type, const void *data, size_t len)
{
	struct rtattr rta = { .rta_len = (unsigned short)RTA_LENGTH(len), .rta_type = type };

	memcpy(nb->u.b + nb->len, &rta, sizeof(rta));
	nb->len += RTA_LENGTH(0);
	nl_put(nb, data, len);
}

static void nl_end(struct nlbuf *nb)
{
	((struct nlmsghdr *)(nb->u.b + nb->msg))->nlmsg_len = (uint32_t)(nb->len - nb->msg);
}

enum { SEQ = 77, PID = 4242 };

/* A route message: table in rtm_table and, above 255, in RTA_TABLE as the kernel does; gw NULL for
 * none; metric < 0 for no RTA_PRIORITY. */
static void nl_route(struct nlbuf *nb, uint32_t seq, uint32_t pid, int family, int dst_len, int type,
		     uint32_t table, const char *gw, long metric, uint32_t oif)
{
	struct rtmsg rt = { .rtm_family = (unsigned char)family, .rtm_dst_len = (unsigned char)dst_len,
			    .rtm_table = (unsigned char)(table < 256 ? table : RT_TABLE_COMPAT),
			    .rtm_type = (unsigned char)type, .rtm_protocol = RTPROT_BOOT,
			    .rtm_scope = RT_SCOPE_UNIVERSE };

	nl_begin(nb, RTM_NEWROUTE, NLM_F_MULTI, seq, pid);
	nl_put(nb, &rt, sizeof(rt));
	nl_attr(nb, RTA_TABLE, &table, 4);
	if (gw) {
		unsigned char a[16];
		int n = family == AF_INET ? 4 : 16;

		inet_pton(family, gw, a);
		nl_attr(nb, RTA_GATEWAY, a, (size_t)n);
	}
	if (metric >= 0) {
		uint32_t m = (uint32_t)metric;

		nl_attr(nb, RTA_PRIORITY, &m, 4);
	}
	if (oif)
		nl_attr(nb, RTA_OIF, &oif, 4);
	nl_end(nb);
}

static void nl_done(struct nlbuf *nb, uint32_t seq, uint32_t pid, int error)
{
	nl_begin(nb, NLMSG_DONE, NLM_F_MULTI, seq, pid);
	nl_put(nb, &error, sizeof(error));
	nl_end(nb);
}

static void test_netlink_parse_dump(void **state)
{
	struct nlbuf nb = { .len = 0 };
	struct natt_route_pick pick;

	(void)state;
	memset(&pick, 0, sizeof(pick));
	nl_route(&nb, SEQ, PID, AF_INET, 0, RTN_UNICAST, RT_TABLE_MAIN, "10.0.0.1", 100, 2);
	nl_route(&nb, SEQ, PID, AF_INET, 0, RTN_UNICAST, RT_TABLE_MAIN, "10.0.0.2", 20, 3);  /* best */
	nl_route(&nb, SEQ, PID, AF_INET, 0, RTN_UNICAST, RT_TABLE_MAIN, "10.0.0.3", 20, 4);  /* tie */
	nl_route(&nb, SEQ, PID, AF_INET, 24, RTN_UNICAST, RT_TABLE_MAIN, "10.0.0.4", 1, 5);  /* not default */
	nl_route(&nb, SEQ, PID, AF_INET, 0, RTN_UNICAST, 100, "10.0.0.5", 1, 6);             /* table 100 */
	nl_route(&nb, SEQ, PID, AF_INET, 0, RTN_UNICAST, 1000, "10.0.0.6", 1, 7);            /* table 1000 */
	nl_route(&nb, SEQ, PID, AF_INET, 0, RTN_UNREACHABLE, RT_TABLE_MAIN, NULL, 1, 0);
	nl_route(&nb, SEQ, PID, AF_INET, 0, RTN_UNICAST, RT_TABLE_MAIN, NULL, 1, 8);         /* no gateway */
	nl_route(&nb, SEQ, PID, AF_INET, 0, RTN_UNICAST, RT_TABLE_MAIN, "0.0.0.0", 1, 8);
	nl_route(&nb, SEQ, PID, AF_INET6, 0, RTN_UNICAST, RT_TABLE_MAIN, "fe80::1", 1, 9);
	nl_route(&nb, SEQ + 1, PID, AF_INET, 0, RTN_UNICAST, RT_TABLE_MAIN, "10.0.0.7", 0, 10); /* not ours */
	nl_route(&nb, SEQ, PID + 1, AF_INET, 0, RTN_UNICAST, RT_TABLE_MAIN, "10.0.0.8", 0, 11);
	/* More datagrams follow: 0. */
	assert_int_equal(natt_route_netlink_parse(nb.u.b, nb.len, SEQ, PID, &pick), 0);
	expect_gateway(&pick, "10.0.0.2", 20);
	assert_int_equal(pick.ifindex, 3);
	assert_string_equal(pick.ifname, "");

	/* The next datagram: a route without RTA_PRIORITY is metric 0 and wins; then the end. */
	nb.len = 0;
	nl_route(&nb, SEQ, PID, AF_INET, 0, RTN_UNICAST, RT_TABLE_MAIN, "192.168.1.1", -1, 12);
	nl_done(&nb, SEQ, PID, 0);
	nl_route(&nb, SEQ, PID, AF_INET, 0, RTN_UNICAST, RT_TABLE_MAIN, "10.0.0.9", 0, 13); /* after DONE */
	assert_int_equal(natt_route_netlink_parse(nb.u.b, nb.len, SEQ, PID, &pick), 1);
	expect_gateway(&pick, "192.168.1.1", 0);
	assert_int_equal(pick.ifindex, 12);
}

static void test_netlink_parse_multipath(void **state)
{
	struct nlbuf nb = { .len = 0 };
	struct natt_route_pick pick;
	struct rtmsg rt = { .rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN, .rtm_type = RTN_UNICAST };
	unsigned char mp[64];
	size_t n = 0;
	struct rtnexthop nh;
	struct rtattr gwattr = { .rta_len = RTA_LENGTH(4), .rta_type = RTA_GATEWAY };
	struct in_addr gw;
	uint32_t metric = 5;

	(void)state;
	/* First next hop without a gateway (a device route), the second via 10.1.1.2 on ifindex 9. */
	memset(&nh, 0, sizeof(nh));
	nh.rtnh_len = sizeof(nh);
	nh.rtnh_ifindex = 8;
	memcpy(mp + n, &nh, sizeof(nh));
	n += RTNH_ALIGN(sizeof(nh));
	nh.rtnh_len = (unsigned short)(RTNH_LENGTH(0) + RTA_LENGTH(4));
	nh.rtnh_ifindex = 9;
	memcpy(mp + n, &nh, sizeof(nh));
	n += RTNH_LENGTH(0);
	memcpy(mp + n, &gwattr, sizeof(gwattr));
	n += RTA_LENGTH(0);
	inet_pton(AF_INET, "10.1.1.2", &gw);
	memcpy(mp + n, &gw, 4);
	n += 4;

	nl_begin(&nb, RTM_NEWROUTE, NLM_F_MULTI, SEQ, PID);
	nl_put(&nb, &rt, sizeof(rt));
	nl_attr(&nb, RTA_PRIORITY, &metric, 4);
	nl_attr(&nb, RTA_MULTIPATH, mp, n);
	nl_end(&nb);
	nl_done(&nb, SEQ, PID, 0);
	memset(&pick, 0, sizeof(pick));
	assert_int_equal(natt_route_netlink_parse(nb.u.b, nb.len, SEQ, PID, &pick), 1);
	expect_gateway(&pick, "10.1.1.2", 5);
	assert_int_equal(pick.ifindex, 9);
}

static void test_netlink_parse_errors(void **state)
{
	struct nlbuf nb = { .len = 0 };
	struct natt_route_pick pick;
	struct nlmsgerr e;

	(void)state;
	memset(&pick, 0, sizeof(pick));
	/* The kernel refused the request. */
	memset(&e, 0, sizeof(e));
	e.error = -EPERM;
	nl_begin(&nb, NLMSG_ERROR, 0, SEQ, PID);
	nl_put(&nb, &e, sizeof(e));
	nl_end(&nb);
	assert_int_equal(natt_route_netlink_parse(nb.u.b, nb.len, SEQ, PID, &pick), -EPERM);
	/* ... but an error for another request is not ours, and an acknowledgement is no error. */
	assert_int_equal(natt_route_netlink_parse(nb.u.b, nb.len, SEQ + 1, PID, &pick), 0);
	nb.len = 0;
	e.error = 0;
	nl_begin(&nb, NLMSG_ERROR, 0, SEQ, PID);
	nl_put(&nb, &e, sizeof(e));
	nl_end(&nb);
	assert_int_equal(natt_route_netlink_parse(nb.u.b, nb.len, SEQ, PID, &pick), 0);

	/* A dump that failed part-way says so in NLMSG_DONE. */
	nb.len = 0;
	nl_done(&nb, SEQ, PID, -EINTR);
	assert_int_equal(natt_route_netlink_parse(nb.u.b, nb.len, SEQ, PID, &pick), -EINTR);

	/* The table changed during the dump: ask again. */
	nb.len = 0;
	nl_route(&nb, SEQ, PID, AF_INET, 0, RTN_UNICAST, RT_TABLE_MAIN, "10.0.0.1", 1, 2);
	((struct nlmsghdr *)nb.u.b)->nlmsg_flags |= NLM_F_DUMP_INTR;
	assert_int_equal(natt_route_netlink_parse(nb.u.b, nb.len, SEQ, PID, &pick), -EAGAIN);

	/* Truncated or malformed messages. */
	nb.len = 0;
	nl_route(&nb, SEQ, PID, AF_INET, 0, RTN_UNICAST, RT_TABLE_MAIN, "10.0.0.1", 1, 2);
	assert_int_equal(natt_route_netlink_parse(nb.u.b, nb.len - 4, SEQ, PID, &pick), -EBADMSG);
	((struct nlmsghdr *)nb.u.b)->nlmsg_len = 8; /* shorter than its own header */
	assert_int_equal(natt_route_netlink_parse(nb.u.b, nb.len, SEQ, PID, &pick), -EBADMSG);
	nb.len = 0;
	nl_begin(&nb, RTM_NEWROUTE, 0, SEQ, PID);
	nl_put(&nb, "abcd", 4); /* shorter than struct rtmsg */
	nl_end(&nb);
	assert_int_equal(natt_route_netlink_parse(nb.u.b, nb.len, SEQ, PID, &pick), -EBADMSG);
	nb.len = 0;
	{
		struct rtmsg rt = { .rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN, .rtm_type = RTN_UNICAST };

		nl_begin(&nb, RTM_NEWROUTE, 0, SEQ, PID);
		nl_put(&nb, &rt, sizeof(rt));
		nl_attr(&nb, RTA_GATEWAY, "abc", 3); /* a 3-byte IPv4 address */
		nl_end(&nb);
	}
	assert_int_equal(natt_route_netlink_parse(nb.u.b, nb.len, SEQ, PID, &pick), -EBADMSG);
	nb.len = 0;
	nl_begin(&nb, NLMSG_ERROR, 0, SEQ, PID);
	nl_put(&nb, "ab", 2);
	nl_end(&nb);
	assert_int_equal(natt_route_netlink_parse(nb.u.b, nb.len, SEQ, PID, &pick), -EBADMSG);
	assert_false(pick.found);
	/* Fewer bytes than a header: nothing to do. */
	assert_int_equal(natt_route_netlink_parse(nb.u.b, 3, SEQ, PID, &pick), 0);
	assert_int_equal(natt_route_netlink_parse(NULL, 0, SEQ, PID, &pick), -EINVAL);
}

/* Random bytes and randomly damaged dumps: the parser answers without reading outside the buffer
 * (valgrind checks that). */
static void test_netlink_parse_fuzz(void **state)
{
	uint32_t x = 99;
	int iter;

	(void)state;
	for (iter = 0; iter < 20000; iter++) {
		struct nlbuf nb = { .len = 0 };
		struct natt_route_pick pick;
		unsigned char *copy;
		size_t i, len;
		int r;

		nl_route(&nb, SEQ, PID, AF_INET, 0, RTN_UNICAST, RT_TABLE_MAIN, "10.0.0.1", 5, 2);
		nl_route(&nb, SEQ, PID, AF_INET, 0, RTN_UNICAST, 1000, "10.0.0.2", 1, 3);
		nl_done(&nb, SEQ, PID, 0);
		for (i = 0; i < (size_t)(1 + iter % 6); i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			nb.u.b[x % nb.len] = (unsigned char)(x >> 8);
		}
		len = iter % 3 == 0 ? nb.len - x % nb.len : nb.len;
		/* An exactly sized heap copy, so any overread is seen. */
		copy = malloc(len ? len : 1);
		assert_non_null(copy);
		memcpy(copy, nb.u.b, len);
		memset(&pick, 0, sizeof(pick));
		r = natt_route_netlink_parse(copy, len, SEQ, PID, &pick);
		assert_true(r == 0 || r == 1 || r < 0);
		free(copy);
	}
}

/* ---- The gateway of this machine ---- */

static void test_gateway_this_machine(void **state)
{
	struct in_addr g_nl = { 0 }, g_proc = { 0 }, g_any = { 0 };
	char if_nl[IF_NAMESIZE] = "?", if_proc[IF_NAMESIZE] = "?", if_any[IF_NAMESIZE] = "?";
	int r_nl, r_proc, r_any;

	(void)state;
	r_nl = natt_gateway_ipv4_netlink(&g_nl, if_nl);
	r_proc = natt_gateway_ipv4_procfs("/proc/net/route", &g_proc, if_proc);
	r_any = natt_gateway_ipv4(&g_any, if_any);
	{
		char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

		print_message("netlink: %d %s %s; /proc/net/route: %d %s %s\n", r_nl,
			      inet_ntop(AF_INET, &g_nl, a, sizeof(a)), if_nl, r_proc,
			      inet_ntop(AF_INET, &g_proc, b, sizeof(b)), if_proc);
	}
	/* With or without a default route, both sources tell the same. */
	assert_true(r_nl == 0 || r_nl == NATT_ERR_NO_GATEWAY);
	assert_int_equal(r_nl, r_proc);
	assert_int_equal(r_any, r_nl);
	if (r_nl == 0) {
		assert_int_equal(g_nl.s_addr, g_proc.s_addr);
		assert_int_equal(g_any.s_addr, g_nl.s_addr);
		assert_string_equal(if_nl, if_proc);
		assert_string_equal(if_any, if_nl);
		assert_true(if_nametoindex(if_nl) > 0);
	}
	assert_int_equal(natt_gateway_ipv4(NULL, NULL), -EINVAL);
	assert_int_equal(natt_gateway_ipv4_netlink(NULL, NULL), -EINVAL);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n++;
	closedir(d);
	return n;
}

/* Inside someone else's program nothing may stay open: every path closes what it opened. */
static void test_no_descriptor_left_open(void **state)
{
	struct natt_interface *list;
	struct in_addr gw, local, peer = { htonl(INADDR_LOOPBACK) };
	char ifname[IF_NAMESIZE];
	size_t n;
	int before = count_fds(), i;

	(void)state;
	for (i = 0; i < 50; i++) {
		natt_gateway_ipv4(&gw, ifname);
		natt_gateway_ipv4_netlink(&gw, ifname);
		natt_gateway_ipv4_procfs("/proc/net/route", &gw, ifname);
		natt_gateway_ipv4_procfs("/nonexistent", &gw, ifname);
		natt_local_address_toward(&peer, &local);
		if (natt_interfaces(&list, &n) == 0)
			natt_interfaces_free(list);
	}
	assert_int_equal(count_fds(), before);
}

/* In a sandbox that forbids netlink sockets (seccomp, as some services run), the lookup falls back on
 * /proc/net/route and still finds the same gateway. The sandbox is made in a child process. */
static void test_gateway_fallback_without_netlink(void **state)
{
#ifdef __NR_socket
	struct {
		int r_nl, r_any, r_proc;
		struct in_addr g_any, g_proc;
	} res;
	int p[2], status;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sock_filter code[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };

		memset(&res, 0, sizeof(res));
		close(p[0]);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
			_exit(3);
		res.r_nl = natt_gateway_ipv4_netlink(&res.g_any, NULL);
		res.r_any = natt_gateway_ipv4(&res.g_any, NULL);
		res.r_proc = natt_gateway_ipv4_procfs("/proc/net/route", &res.g_proc, NULL);
		_exit(write(p[1], &res, sizeof(res)) == (ssize_t)sizeof(res) ? 0 : 4);
	}
	close(p[1]);
	memset(&res, 0, sizeof(res));
	assert_int_equal(read(p[0], &res, sizeof(res)), sizeof(res));
	close(p[0]);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) == 3)
		skip(); /* no seccomp here */
	assert_int_equal(res.r_nl, -EPERM); /* the sandbox works */
	assert_int_equal(res.r_any, res.r_proc);
	assert_true(res.r_any == 0 || res.r_any == NATT_ERR_NO_GATEWAY);
	if (res.r_any == 0)
		assert_int_equal(res.g_any.s_addr, res.g_proc.s_addr);
#else
	(void)state;
	skip();
#endif
}

/* ---- Network namespaces made for the test ---- */

struct ns_result {
	int r_nl, r_proc, r_any, r_local, r_best, r_v6;
	struct in_addr g_nl, g_proc, g_any, local, best;
	struct sockaddr_in6 g_v6;
	unsigned v6_ifindex; /* if_nametoindex("nt0") there, 0 when it has none */
	char if_nl[IF_NAMESIZE], if_proc[IF_NAMESIZE];
	int setup_failed;
};

/* Runs setup (shell commands) in a new network namespace in a child process and looks up the gateway
 * there by every means. Returns false when namespaces or the ip tool are not available here. */
static bool in_namespace(const char *setup, const char *toward, struct ns_result *res)
{
	int p[2], status;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	if (pipe(p) < 0)
		return false;
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		struct ns_result r;
		struct in_addr peer;

		memset(&r, 0, sizeof(r));
		close(p[0]);
		if (unshare(CLONE_NEWNET) < 0)
			_exit(3);
		if (setup && system(setup) != 0)
			r.setup_failed = 1;
		r.r_nl = natt_gateway_ipv4_netlink(&r.g_nl, r.if_nl);
		r.r_proc = natt_gateway_ipv4_procfs("/proc/net/route", &r.g_proc, r.if_proc);
		r.r_any = natt_gateway_ipv4(&r.g_any, NULL);
		inet_pton(AF_INET, toward, &peer);
		r.r_local = natt_local_address_toward(&peer, &r.local);
		r.r_best = natt_best_interface_address(&r.best);
		r.r_v6 = natt_gateway_ipv6(&r.g_v6);
		r.v6_ifindex = if_nametoindex("nt0");
		if (write(p[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(4);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], res, sizeof(*res)) != (ssize_t)sizeof(*res))
		memset(res, 0, sizeof(*res));
	close(p[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void test_gateway_empty_namespace(void **state)
{
	struct ns_result r;

	(void)state;
	if (!in_namespace(NULL, "8.8.8.8", &r))
		skip(); /* not allowed to make namespaces here */
	assert_int_equal(r.r_nl, NATT_ERR_NO_GATEWAY);
	assert_int_equal(r.r_proc, NATT_ERR_NO_GATEWAY);
	assert_int_equal(r.r_any, NATT_ERR_NO_GATEWAY);
	assert_int_equal(r.r_local, -ENETUNREACH);
	assert_int_equal(r.r_v6, NATT_ERR_NO_GATEWAY);
	/* no gateway, no interface address but loopback: 127.0.0.1, as Racket's best-interface-ip-address */
	assert_int_equal(r.r_best, 0);
	assert_int_equal(r.best.s_addr, htonl(INADDR_LOOPBACK));
}

static void test_gateway_namespace_routes(void **state)
{
	/* Defaults through lo (no other device is needed): an unreachable one of metric 1, a plain one of
	 * metric 10, one in another table, a multipath one of metric 5 — which wins — and one worse. */
	static const char setup[] =
		"exec >/dev/null 2>&1; set -e; "
		"ip link set lo up; ip addr add 10.9.0.2/24 dev lo; "
		"ip route add unreachable default metric 1; "
		"ip route add default via 10.9.0.254 dev lo metric 10; "
		"ip route add default via 10.9.0.7 dev lo table 100; "
		"ip route add default via 10.9.0.1 dev lo metric 50; "
		"ip route add default metric 5 nexthop via 10.9.0.5 dev lo nexthop via 10.9.0.6 dev lo";
	struct ns_result r;
	char buf[INET_ADDRSTRLEN];

	(void)state;
	if (system("command -v ip >/dev/null 2>&1") != 0 || !in_namespace(setup, "10.9.0.254", &r))
		skip();
	if (r.setup_failed)
		skip(); /* an ip without multipath or nexthop support */
	assert_int_equal(r.r_nl, 0);
	assert_int_equal(r.r_proc, 0);
	assert_int_equal(r.r_any, 0);
	assert_string_equal(inet_ntop(AF_INET, &r.g_nl, buf, sizeof(buf)), "10.9.0.5");
	assert_string_equal(inet_ntop(AF_INET, &r.g_proc, buf, sizeof(buf)), "10.9.0.5");
	assert_int_equal(r.g_any.s_addr, r.g_nl.s_addr);
	assert_string_equal(r.if_nl, "lo");
	assert_string_equal(r.if_proc, "lo");
	assert_int_equal(r.r_local, 0);
	assert_string_equal(inet_ntop(AF_INET, &r.local, buf, sizeof(buf)), "10.9.0.2");
	/* toward the default gateway, though 10.9.0.2 is on lo (which the interface fallback skips) */
	assert_int_equal(r.r_best, 0);
	assert_string_equal(inet_ntop(AF_INET, &r.best, buf, sizeof(buf)), "10.9.0.2");
}

static void test_gateway_ipv6_namespace_routes(void **state)
{
	/* IPv6 defaults: an unreachable one of metric 1 (no next hop), a global router of metric 20, a
	 * link-local one of metric 10 — which wins, with its interface as scope — and a worse one. */
	static const char setup[] =
		"exec >/dev/null 2>&1; set -e; "
		"sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0; "
		"ip link set lo up; ip link add nt0 type veth peer name nt1; ip link set nt0 up; ip link set nt1 up; "
		"ip -6 addr add 2a01:77:9::2/64 dev nt0 nodad; "
		"ip -6 route add unreachable default metric 1; "
		"ip -6 route add default via 2a01:77:9::1 dev nt0 metric 20; "
		"ip -6 route add default via fe80::1 dev nt0 metric 10; "
		"ip -6 route add default via 2a01:77:9::3 dev nt0 metric 30";
	struct ns_result r;
	char buf[INET6_ADDRSTRLEN];

	(void)state;
	if (system("command -v ip >/dev/null 2>&1") != 0 || !in_namespace(setup, "8.8.8.8", &r))
		skip();
	if (r.setup_failed)
		skip(); /* no IPv6 in this kernel */
	assert_int_equal(r.r_v6, 0);
	assert_int_equal(r.g_v6.sin6_family, AF_INET6);
	assert_string_equal(inet_ntop(AF_INET6, &r.g_v6.sin6_addr, buf, sizeof(buf)), "fe80::1");
	assert_true(r.v6_ifindex != 0);
	assert_int_equal(r.g_v6.sin6_scope_id, r.v6_ifindex);
	assert_int_equal(r.g_v6.sin6_port, 0);
}

static void test_best_interface_address_without_gateway(void **state)
{
	/* No default route: the first private address of an interface that is not loopback — not the
	 * private one on lo, not the public one listed before it. (veth: no dummy module needed.) */
	static const char setup[] =
		"exec >/dev/null 2>&1; set -e; "
		"ip link set lo up; ip addr add 10.1.1.1/8 dev lo; "
		"ip link add nt0 type veth peer name nt1; ip link set nt0 up; "
		"ip addr add 203.0.113.5/24 dev nt0; ip addr add 192.168.77.2/24 dev nt0; "
		"ip addr add 172.16.5.5/16 dev nt0";
	struct ns_result r;
	char buf[INET_ADDRSTRLEN];

	(void)state;
	if (system("command -v ip >/dev/null 2>&1") != 0 || !in_namespace(setup, "8.8.8.8", &r))
		skip();
	if (r.setup_failed)
		skip(); /* no veth here */
	assert_int_equal(r.r_any, NATT_ERR_NO_GATEWAY);
	assert_int_equal(r.r_best, 0);
	assert_string_equal(inet_ntop(AF_INET, &r.best, buf, sizeof(buf)), "192.168.77.2");
}

/* The default IPv4 gateway as the kernel lists it in /proc/net/route (not natt's own lookup). */
static bool kernel_default_gateway(struct in_addr *gw)
{
	FILE *f = fopen("/proc/net/route", "r");
	char line[256], ifname[64];
	unsigned dest, gateway, flags;
	bool found = false;

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %x %x %x", ifname, &dest, &gateway, &flags) == 4 && dest == 0 &&
		    (flags & 0x2 /* RTF_GATEWAY */))
			found = true;
	fclose(f);
	gw->s_addr = gateway; /* in network order already, as the kernel stores it */
	return found;
}

static void test_best_interface_address_here(void **state)
{
	struct in_addr best, gw;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(9) }, from;
	socklen_t len = sizeof(from);

	(void)state;
	assert_int_equal(natt_best_interface_address(NULL), -EINVAL);
	assert_int_equal(natt_best_interface_address(&best), 0);
	if (!kernel_default_gateway(&gw))
		return; /* no default route here: nothing to compare with */
	/* on this machine: the source address the kernel picks toward its gateway (a connected UDP
	 * socket; nothing is sent) */
	to.sin_addr = gw;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof(to)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&from, &len), 0);
	close(fd);
	assert_int_equal(best.s_addr, from.sin_addr.s_addr);
}

static void test_gateway_namespace_nexthop_objects(void **state)
{
	/* Routes through nexthop objects (Linux 5.3+): a group of metric 2 beats a single one of 3. */
	static const char setup[] =
		"exec >/dev/null 2>&1; set -e; "
		"ip link set lo up; ip addr add 10.9.0.2/24 dev lo; "
		"ip route add default via 10.9.0.254 dev lo metric 10; "
		"ip nexthop add id 7 via 10.9.0.77 dev lo; ip route add default nhid 7 metric 3; "
		"ip nexthop add id 8 via 10.9.0.78 dev lo; ip nexthop add id 9 group 8/7; "
		"ip route add default nhid 9 metric 2";
	struct ns_result r;
	char buf[INET_ADDRSTRLEN];

	(void)state;
	if (system("command -v ip >/dev/null 2>&1") != 0 || !in_namespace(setup, "10.9.0.78", &r))
		skip();
	if (r.setup_failed)
		skip();
	assert_int_equal(r.r_nl, 0);
	assert_int_equal(r.r_proc, 0);
	assert_string_equal(inet_ntop(AF_INET, &r.g_nl, buf, sizeof(buf)), "10.9.0.78");
	assert_int_equal(r.g_proc.s_addr, r.g_nl.s_addr);
}

/* A socket of type (SOCK_STREAM: listening; SOCK_DGRAM: bound) on the wildcard address (reachable
 * from outside, as a served port is), port chosen by the kernel. No traffic: it is only looked at in
 * the kernel's tables. */
static int wildcard_socket(int type, unsigned *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	if (type == SOCK_STREAM)
		assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* A child process that holds fd (closed here) until let_go(). */
struct holder {
	pid_t pid;
	int release_fd;
};

static struct holder held_by_child(int fd)
{
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(ready[1]);
		char c;
		ssize_t ignored = read(ready[0], &c, 1);
		(void)ignored;
		_exit(0);
	}
	close(ready[0]);
	close(fd);
	return (struct holder){ child, ready[1] };
}

static void let_go(struct holder h)
{
	close(h.release_fd);
	assert_int_equal(waitpid(h.pid, NULL, 0), h.pid);
}

/* A socket of this process, closed after the tables were read (a program that reuses a freed port at
 * once and closes it again), serves nothing: the mapping of the port must not be kept for it. A
 * socket another process holds does keep it. */
static void test_port_served_elsewhere(void **state)
{
	(void)state;
	unsigned port;
	int fd = wildcard_socket(SOCK_STREAM, &port);
	natt_socket_tables_forget();
	assert_int_equal(natt_port_served_elsewhere(true, port, NULL, 0), 0); /* ours: read into the tables */
	close(fd);
	assert_int_equal(natt_port_served_elsewhere(true, port, NULL, 0), 0);
	assert_int_equal(natt_port_served_elsewhere(false, port, NULL, 0), 0);

	fd = wildcard_socket(SOCK_STREAM, &port);
	struct holder child = held_by_child(fd);
	natt_socket_tables_forget();
	int elsewhere = natt_port_served_elsewhere(true, port, NULL, 0);
	let_go(child);
	assert_int_equal(elsewhere, 1);
}

/* Retiring TCP sockets reads the TCP table alone: the UDP table is read when a UDP port is first asked
 * about in that batch, so a UDP socket made after the TCP question is seen. */
static void test_served_elsewhere_reads_each_protocol_when_asked(void **state)
{
	(void)state;
	unsigned tcp_port, udp_port;
	int tcp_fd = wildcard_socket(SOCK_STREAM, &tcp_port);
	natt_socket_tables_forget();
	assert_int_equal(natt_port_served_elsewhere(true, tcp_port, NULL, 0), 0);

	struct holder child = held_by_child(wildcard_socket(SOCK_DGRAM, &udp_port));
	int elsewhere = natt_port_served_elsewhere(false, udp_port, NULL, 0);
	let_go(child);
	close(tcp_fd);
	assert_int_equal(elsewhere, 1);
}

/* ---- the address a [::] socket publishes through a pinhole ---- */

static struct natt_addr6 addr6(const char *text, unsigned index, unsigned char scope, uint32_t flags)
{
	struct natt_addr6 a = { .index = index, .scope = scope, .flags = flags };
	assert_int_equal(inet_pton(AF_INET6, text, &a.address), 1);
	return a;
}

static void assert_picked(const struct natt_addr6 *list, size_t count, unsigned router_index, const char *source,
                          const char *want)
{
	struct in6_addr src, got;
	char text[INET6_ADDRSTRLEN];
	if (source)
		assert_int_equal(inet_pton(AF_INET6, source, &src), 1);
	assert_int_equal(natt_pick_published_ipv6(list, count, router_index, source ? &src : NULL, &got), 0);
	assert_string_equal(inet_ntop(AF_INET6, &got, text, sizeof(text)), want);
}

static void test_pick_published_ipv6(void **state)
{
	(void)state;
	struct in6_addr out;
	/* Only addresses no pinhole can make reachable: none. */
	struct natt_addr6 unreachable[] = {
		addr6("fe80::1", 2, RT_SCOPE_LINK, IFA_F_PERMANENT),
		addr6("fd77::3", 2, RT_SCOPE_UNIVERSE, IFA_F_PERMANENT),
		addr6("fc00::9", 2, RT_SCOPE_UNIVERSE, 0),
		addr6("::1", 1, RT_SCOPE_HOST, IFA_F_PERMANENT),
		addr6("2001:db8::5", 2, RT_SCOPE_UNIVERSE, IFA_F_TENTATIVE),
		addr6("2001:db8::6", 2, RT_SCOPE_UNIVERSE, IFA_F_DEPRECATED),
		addr6("2001:db8::7", 2, RT_SCOPE_UNIVERSE, IFA_F_DADFAILED),
	};
	assert_int_equal(natt_pick_published_ipv6(unreachable, 7, 2, NULL, &out), -ENOENT);
	assert_int_equal(natt_pick_published_ipv6(NULL, 0, 0, NULL, &out), -ENOENT);

	/* A stable address before a temporary one, even when the kernel would speak from the temporary. */
	struct natt_addr6 privacy[] = {
		addr6("2a01:77:1:0:6e6a:6fb3:b60d:2703", 2, RT_SCOPE_UNIVERSE, IFA_F_TEMPORARY),
		addr6("fe80::2", 2, RT_SCOPE_LINK, IFA_F_PERMANENT),
		addr6("2a01:77:1::50", 2, RT_SCOPE_UNIVERSE, IFA_F_MANAGETEMPADDR),
	};
	assert_picked(privacy, 3, 2, "2a01:77:1:0:6e6a:6fb3:b60d:2703", "2a01:77:1::50");
	/* Temporary addresses alone: one of them rather than nothing. */
	assert_picked(privacy, 2, 2, NULL, "2a01:77:1:0:6e6a:6fb3:b60d:2703");

	/* The router's interface before all: a stable address elsewhere (a VPN, a container bridge) is not
	 * behind the router's firewall; a temporary one on the router's link is. */
	struct natt_addr6 elsewhere[] = {
		addr6("2001:db8:77::1", 5, RT_SCOPE_UNIVERSE, IFA_F_PERMANENT),
		addr6("2a01:77:1::99", 2, RT_SCOPE_UNIVERSE, IFA_F_TEMPORARY),
	};
	assert_picked(elsewhere, 2, 2, NULL, "2a01:77:1::99");

	/* Among stable ones: the router's interface first, then the kernel's source, then the list's order. */
	struct natt_addr6 stable[] = {
		addr6("2001:db8:9::1", 3, RT_SCOPE_UNIVERSE, IFA_F_PERMANENT),
		addr6("2001:db8:1::2", 2, RT_SCOPE_UNIVERSE, IFA_F_PERMANENT),
		addr6("2001:db8:1::3", 2, RT_SCOPE_UNIVERSE, IFA_F_PERMANENT),
	};
	assert_picked(stable, 3, 2, NULL, "2001:db8:1::2");
	assert_picked(stable, 3, 2, "2001:db8:1::3", "2001:db8:1::3");
	assert_picked(stable, 3, 0, NULL, "2001:db8:9::1");
	assert_picked(stable, 3, 0, "2001:db8:1::3", "2001:db8:1::3");
}

/* RTM_NEWADDR of IPv6 with IFA_FLAGS beyond ifa_flags' eight bits; IPv4 skipped; malformed refused. */
static void test_netlink_addr6_parse(void **state)
{
	(void)state;
	struct nlbuf nb = { .len = 0 };
	struct ifaddrmsg ifa = { .ifa_family = AF_INET6, .ifa_prefixlen = 64, .ifa_flags = IFA_F_TEMPORARY,
	                         .ifa_scope = RT_SCOPE_UNIVERSE, .ifa_index = 7 };
	struct in6_addr a;
	inet_pton(AF_INET6, "2a01:77:1::50", &a);
	uint32_t flags = IFA_F_MANAGETEMPADDR | IFA_F_NODAD;
	nl_begin(&nb, RTM_NEWADDR, NLM_F_MULTI, SEQ, PID);
	nl_put(&nb, &ifa, sizeof(ifa));
	nl_attr(&nb, IFA_ADDRESS, &a, 16);
	nl_attr(&nb, IFA_FLAGS, &flags, 4);
	nl_end(&nb);
	struct natt_addr6 out;
	assert_int_equal(natt_netlink_addr6_parse(&nb.u.align, &out), 0);
	assert_memory_equal(&out.address, &a, 16);
	assert_int_equal(out.index, 7);
	assert_int_equal(out.scope, RT_SCOPE_UNIVERSE);
	assert_int_equal(out.flags, flags);

	struct nlbuf v4 = { .len = 0 };
	struct ifaddrmsg ifa4 = { .ifa_family = AF_INET, .ifa_prefixlen = 24, .ifa_index = 2 };
	uint32_t a4 = htonl(0x0a4d0002);
	nl_begin(&v4, RTM_NEWADDR, NLM_F_MULTI, SEQ, PID);
	nl_put(&v4, &ifa4, sizeof(ifa4));
	nl_attr(&v4, IFA_LOCAL, &a4, 4);
	nl_end(&v4);
	assert_int_equal(natt_netlink_addr6_parse(&v4.u.align, &out), 1);

	struct nlbuf bad = { .len = 0 };
	nl_begin(&bad, RTM_NEWADDR, NLM_F_MULTI, SEQ, PID);
	nl_put(&bad, &ifa, sizeof(ifa));
	nl_attr(&bad, IFA_ADDRESS, &a, 8); /* too short for IPv6 */
	nl_end(&bad);
	assert_int_equal(natt_netlink_addr6_parse(&bad.u.align, &out), -EINVAL);
	struct nlbuf none = { .len = 0 };
	nl_begin(&none, RTM_NEWADDR, NLM_F_MULTI, SEQ, PID);
	nl_put(&none, &ifa, sizeof(ifa));
	nl_end(&none);
	assert_int_equal(natt_netlink_addr6_parse(&none.u.align, &out), -EINVAL);
}

/* The kernel's list of this host's IPv6 addresses is /proc/net/if_inet6's, address for address. */
static void test_netlink_ipv6_addresses(void **state)
{
	(void)state;
	struct natt_addr6 *list = NULL;
	size_t count = 0;
	assert_int_equal(natt_netlink_ipv6_addresses(&list, &count, 2000), 0);
	FILE *f = fopen("/proc/net/if_inet6", "r");
	if (!f) {
		free(list);
		skip(); /* IPv6 off in this kernel */
	}
	char hex[33];
	size_t lines = 0;
	unsigned index;
	while (fscanf(f, "%32s %x %*x %*x %*x %*s", hex, &index) == 2) {
		struct in6_addr a;
		for (int i = 0; i < 16; i++) {
			unsigned byte;
			sscanf(hex + 2 * i, "%2x", &byte);
			a.s6_addr[i] = (uint8_t)byte;
		}
		int found = 0;
		for (size_t i = 0; i < count; i++)
			found |= memcmp(&list[i].address, &a, 16) == 0 && list[i].index == index;
		assert_true(found);
		lines++;
	}
	fclose(f);
	assert_int_equal(count, lines);
	free(list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick_published_ipv6),
		cmocka_unit_test(test_netlink_addr6_parse),
		cmocka_unit_test(test_netlink_ipv6_addresses),
		cmocka_unit_test(test_classification_table),
		cmocka_unit_test(test_classification_other_families),
		cmocka_unit_test(test_addr_parse_and_format),
		cmocka_unit_test(test_addr_format_limits),
		cmocka_unit_test(test_interfaces),
		cmocka_unit_test(test_local_address_toward),
		cmocka_unit_test(test_proc_route_sample),
		cmocka_unit_test(test_proc_route_lowest_metric),
		cmocka_unit_test(test_proc_route_ignored_lines),
		cmocka_unit_test(test_proc_route_in_pieces),
		cmocka_unit_test(test_proc_route_file),
		cmocka_unit_test(test_netlink_parse_dump),
		cmocka_unit_test(test_netlink_parse_multipath),
		cmocka_unit_test(test_netlink_parse_errors),
		cmocka_unit_test(test_netlink_parse_fuzz),
		cmocka_unit_test(test_gateway_this_machine),
		cmocka_unit_test(test_no_descriptor_left_open),
		cmocka_unit_test(test_gateway_fallback_without_netlink),
		cmocka_unit_test(test_gateway_empty_namespace),
		cmocka_unit_test(test_gateway_namespace_routes),
		cmocka_unit_test(test_gateway_ipv6_namespace_routes),
		cmocka_unit_test(test_gateway_namespace_nexthop_objects),
		cmocka_unit_test(test_best_interface_address_without_gateway),
		cmocka_unit_test(test_best_interface_address_here),
		cmocka_unit_test(test_port_served_elsewhere),
		cmocka_unit_test(test_served_elsewhere_reads_each_protocol_when_asked),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
