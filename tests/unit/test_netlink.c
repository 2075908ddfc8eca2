/* Unit tests of lib/sys/netlink.c: the RTM_NEWLINK and RTM_NEWADDR parsers on messages built here, and
 * natt_netlink_interfaces() against this machine's kernel, checked against glibc's getifaddrs(). */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/rtnetlink.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "sys/netlink.h"

/* A message under construction: header, fixed part, attributes. */
struct message {
	union {
		struct nlmsghdr nh;
		char bytes[1024];
	};
};

static void *begin(struct message *m, uint16_t type, size_t fixed)
{
	memset(m, 0, sizeof(*m));
	m->nh.nlmsg_type = type;
	m->nh.nlmsg_len = (uint32_t)NLMSG_LENGTH(fixed);
	return NLMSG_DATA(&m->nh);
}

static void attr(struct message *m, uint16_t type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)(m->bytes + NLMSG_ALIGN(m->nh.nlmsg_len));
	a->rta_type = type;
	a->rta_len = (uint16_t)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	m->nh.nlmsg_len = (uint32_t)(NLMSG_ALIGN(m->nh.nlmsg_len) + RTA_ALIGN(a->rta_len));
}

static void test_link(void **state)
{
	(void)state;
	struct message m;
	struct ifinfomsg *ifi = begin(&m, RTM_NEWLINK, sizeof(*ifi));
	ifi->ifi_index = 7;
	ifi->ifi_flags = IFF_UP | IFF_RUNNING;
	attr(&m, IFLA_MTU, &(uint32_t){ 1500 }, 4);
	attr(&m, IFLA_IFNAME, "eth0", 5);
	struct natt_link link;
	assert_int_equal(natt_netlink_link_parse(&m.nh, &link), 0);
	assert_int_equal(link.index, 7);
	assert_int_equal(link.flags, IFF_UP | IFF_RUNNING);
	assert_string_equal(link.name, "eth0");

	/* no name, a name too long, a message too short, another type: refused */
	begin(&m, RTM_NEWLINK, sizeof(*ifi));
	assert_int_equal(natt_netlink_link_parse(&m.nh, &link), -EINVAL);
	begin(&m, RTM_NEWLINK, sizeof(*ifi));
	attr(&m, IFLA_IFNAME, "a-name-of-twenty-chars", 23);
	assert_int_equal(natt_netlink_link_parse(&m.nh, &link), -EINVAL);
	begin(&m, RTM_NEWLINK, 4);
	assert_int_equal(natt_netlink_link_parse(&m.nh, &link), -EINVAL);
	begin(&m, RTM_NEWADDR, sizeof(*ifi));
	assert_int_equal(natt_netlink_link_parse(&m.nh, &link), -EINVAL);
}

static void test_address_ipv4(void **state)
{
	(void)state;
	struct message m;
	struct ifaddrmsg *ifa = begin(&m, RTM_NEWADDR, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = 24;
	ifa->ifa_index = 3;
	struct in_addr mine, peer;
	inet_pton(AF_INET, "10.77.0.2", &mine);
	inet_pton(AF_INET, "10.77.0.9", &peer);
	/* point-to-point: IFA_ADDRESS is the peer, IFA_LOCAL ours, in either order */
	attr(&m, IFA_ADDRESS, &peer, 4);
	attr(&m, IFA_LOCAL, &mine, 4);
	attr(&m, IFA_LABEL, "eth0:1", 7);
	struct natt_interface out;
	assert_int_equal(natt_netlink_addr_parse(&m.nh, &out), 0);
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&out.address;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(sin->sin_addr.s_addr, mine.s_addr);
	assert_int_equal(sin->sin_port, 0);
	assert_int_equal(out.prefix_len, 24);
	assert_int_equal(out.index, 3);
	assert_string_equal(out.name, "eth0:1");

	/* IFA_ADDRESS alone is the address */
	ifa = begin(&m, RTM_NEWADDR, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	attr(&m, IFA_ADDRESS, &peer, 4);
	assert_int_equal(natt_netlink_addr_parse(&m.nh, &out), 0);
	assert_int_equal(((const struct sockaddr_in *)&out.address)->sin_addr.s_addr, peer.s_addr);
	assert_string_equal(out.name, "");

	/* an address of the wrong size, or none */
	ifa = begin(&m, RTM_NEWADDR, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	attr(&m, IFA_LOCAL, "0123456789abcdef", 16);
	assert_int_equal(natt_netlink_addr_parse(&m.nh, &out), -EINVAL);
	ifa = begin(&m, RTM_NEWADDR, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	assert_int_equal(natt_netlink_addr_parse(&m.nh, &out), -EINVAL);
}

static void test_address_ipv6_and_others(void **state)
{
	(void)state;
	struct message m;
	struct ifaddrmsg *ifa = begin(&m, RTM_NEWADDR, sizeof(*ifa));
	ifa->ifa_family = AF_INET6;
	ifa->ifa_prefixlen = 64;
	ifa->ifa_index = 5;
	struct in6_addr link_local, ula;
	inet_pton(AF_INET6, "fe80::1", &link_local);
	inet_pton(AF_INET6, "fd00::2", &ula);
	attr(&m, IFA_ADDRESS, &link_local, 16);
	struct natt_interface out;
	assert_int_equal(natt_netlink_addr_parse(&m.nh, &out), 0);
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&out.address;
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_memory_equal(&sin6->sin6_addr, &link_local, 16);
	assert_int_equal(sin6->sin6_scope_id, 5); /* link-local: the interface is part of the address */
	assert_int_equal(out.prefix_len, 64);

	ifa = begin(&m, RTM_NEWADDR, sizeof(*ifa));
	ifa->ifa_family = AF_INET6;
	ifa->ifa_index = 5;
	attr(&m, IFA_ADDRESS, &ula, 16);
	assert_int_equal(natt_netlink_addr_parse(&m.nh, &out), 0);
	assert_int_equal(((const struct sockaddr_in6 *)&out.address)->sin6_scope_id, 0);

	/* other families are skipped, not errors */
	ifa = begin(&m, RTM_NEWADDR, sizeof(*ifa));
	ifa->ifa_family = AF_PACKET;
	assert_int_equal(natt_netlink_addr_parse(&m.nh, &out), 1);
}

/* The same addresses as glibc's getifaddrs, for the interfaces that are up. */
static bool listed(const struct natt_interface *list, size_t count, const struct ifaddrs *i)
{
	for (size_t k = 0; k < count; k++) {
		const struct sockaddr *a = (const struct sockaddr *)&list[k].address;
		if (a->sa_family != i->ifa_addr->sa_family || strcmp(list[k].name, i->ifa_name) != 0)
			continue;
		if (a->sa_family == AF_INET &&
		    ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		            ((const struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr)
			return list[k].flags == i->ifa_flags;
		if (a->sa_family == AF_INET6 &&
		    memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		           &((const struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16) == 0)
			return list[k].flags == i->ifa_flags;
	}
	return false;
}

static void test_interfaces_match_getifaddrs(void **state)
{
	(void)state;
	struct natt_interface *list;
	size_t count;
	assert_int_equal(natt_netlink_interfaces(&list, &count, 2000), 0);
	struct ifaddrs *all;
	assert_int_equal(getifaddrs(&all), 0);
	size_t expected = 0;
	for (struct ifaddrs *i = all; i; i = i->ifa_next) {
		if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6) ||
		    !(i->ifa_flags & IFF_UP))
			continue;
		expected++;
		char text[64];
		natt_addr_format(i->ifa_addr, text, sizeof(text));
		if (!listed(list, count, i))
			fail_msg("%s %s (flags %#x) from getifaddrs is not in natt's list", i->ifa_name, text, i->ifa_flags);
	}
	freeifaddrs(all);
	assert_int_equal(count, expected);
	assert_true(count > 0); /* loopback at least */
	free(list);
}

/* A last attribute whose length is not a multiple of 4, at the very end of readable memory: the walk
 * stops there (an unsigned remaining length wrapped, and the next "attribute" was read past the end). */
static void test_unaligned_last_attribute(void **state)
{
	(void)state;
	long page = sysconf(_SC_PAGESIZE);
	char *mem = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(mem != MAP_FAILED);
	assert_int_equal(mprotect(mem + page, (size_t)page, PROT_NONE), 0);
	size_t len = NLMSG_LENGTH(sizeof(struct ifinfomsg)) + RTA_LENGTH(5); /* 41 bytes */
	struct nlmsghdr *nh = (struct nlmsghdr *)(mem + page - NLMSG_ALIGN(len));
	memset(nh, 0, NLMSG_ALIGN(len));
	nh->nlmsg_type = RTM_NEWLINK;
	nh->nlmsg_len = (uint32_t)len;
	struct rtattr *a = IFLA_RTA((struct ifinfomsg *)NLMSG_DATA(nh));
	a->rta_type = IFLA_IFNAME;
	a->rta_len = (uint16_t)RTA_LENGTH(5);
	memcpy(RTA_DATA(a), "eth0", 5);
	struct natt_link link;
	assert_int_equal(natt_netlink_link_parse(nh, &link), 0);
	assert_string_equal(link.name, "eth0");
	/* the same for an address message */
	len = NLMSG_LENGTH(sizeof(struct ifaddrmsg)) + RTA_LENGTH(4) + RTA_LENGTH(5);
	nh = (struct nlmsghdr *)(mem + page - NLMSG_ALIGN(len));
	memset(nh, 0, NLMSG_ALIGN(len));
	nh->nlmsg_type = RTM_NEWADDR;
	nh->nlmsg_len = (uint32_t)len;
	struct ifaddrmsg *ifa = NLMSG_DATA(nh);
	ifa->ifa_family = AF_INET;
	a = IFA_RTA(ifa);
	a->rta_type = IFA_LOCAL;
	a->rta_len = (uint16_t)RTA_LENGTH(4);
	memcpy(RTA_DATA(a), "\x0a\x00\x00\x02", 4);
	a = (struct rtattr *)((char *)a + RTA_LENGTH(4));
	a->rta_type = IFA_LABEL;
	a->rta_len = (uint16_t)RTA_LENGTH(5);
	memcpy(RTA_DATA(a), "eth0", 5);
	struct natt_interface itf;
	assert_int_equal(natt_netlink_addr_parse(nh, &itf), 0);
	assert_string_equal(itf.name, "eth0");
	munmap(mem, (size_t)page * 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link),
		cmocka_unit_test(test_unaligned_last_attribute),
		cmocka_unit_test(test_address_ipv4),
		cmocka_unit_test(test_address_ipv6_and_others),
		cmocka_unit_test(test_interfaces_match_getifaddrs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
