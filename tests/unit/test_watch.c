/* Unit tests of lib/core/watch.c: the NAT-PMP announcement reader (only datagrams from the server's port
 * 5351 count, and at most one a second: each costs a request per mapping; needs to bind port 5351 on
 * loopback), and the kernel filter that drops the repeats of an SSDP NOTIFY (on loopback). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/watch.h"

static int udp_on(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void send_announcement(int from, int to)
{
	struct sockaddr_in dest;
	socklen_t len = sizeof(dest);
	assert_int_equal(getsockname(to, (struct sockaddr *)&dest, &len), 0);
	/* version 0, opcode 128, result 0, epoch 7, external 100.130.0.1 */
	static const unsigned char packet[12] = { 0, 128, 0, 0, 0, 0, 0, 7, 100, 130, 0, 1 };
	assert_int_equal(sendto(from, packet, sizeof(packet), 0, (struct sockaddr *)&dest, sizeof(dest)), 12);
	usleep(20000);
}

static int read_one(int fd)
{
	struct in_addr from, external;
	uint32_t epoch = 0;
	int rc = natt_watch_read_natpmp(fd, &from, &epoch, &external);
	if (rc == 1) {
		assert_int_equal(epoch, 7);
		assert_int_equal(external.s_addr, inet_addr("100.130.0.1"));
	}
	return rc;
}

static void test_announcement_source_and_rate(void **state)
{
	(void)state;
	int server = udp_on(NATT_NATPMP_SERVER_PORT);
	if (server < 0)
		skip(); /* port 5351 in use on this host */
	int other = udp_on(0), watch = udp_on(0);
	/* another port of the gateway's address: ignored */
	send_announcement(other, watch);
	assert_int_equal(read_one(watch), 0);
	/* from 5351: taken; at once again: ignored; a second later: taken */
	send_announcement(server, watch);
	assert_int_equal(read_one(watch), 1);
	for (int i = 0; i < 5; i++) {
		send_announcement(server, watch);
		assert_int_equal(read_one(watch), 0);
	}
	usleep(1100 * 1000);
	send_announcement(server, watch);
	assert_int_equal(read_one(watch), 1);
	close(server);
	close(other);
	close(watch);
}

/* A NOTIFY as miniupnpd sends it: NT and USN vary within a burst; the rest is the same. */
static size_t notify(char *buf, size_t size, const char *nt, const char *nts, unsigned bootid)
{
	int n = snprintf(buf, size,
	                 "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=120\r\n"
	                 "LOCATION: http://127.0.0.1:40000/rootDesc.xml\r\nSERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\n"
	                 "NT: %s\r\nUSN: uuid:0e0781cc-c04a-9375-e2ea-877af54a7a17::%s\r\nNTS: %s\r\n"
	                 "OPT: \"http://schemas.upnp.org/upnp/1/0/\"; ns=01\r\n01-NLS: %u\r\n"
	                 "BOOTID.UPNP.ORG: %u\r\nCONFIGID.UPNP.ORG: 1337\r\n\r\n",
	                 nt, nt, nts, bootid, bootid);
	assert_true(n > 0 && (size_t)n < size);
	return (size_t)n;
}

/* Whether natt_ssdp_repeat_of finds the shape it drops repeats of in datagram (a string). */
static bool repeat_shape_in(const char *datagram, struct natt_ssdp_repeat *r)
{
	natt_ssdp_repeat_of(datagram, strlen(datagram), r);
	return r->usable;
}

static void test_repeat_shape(void **state)
{
	(void)state;
	char buf[1024];
	struct natt_ssdp_repeat r;
	size_t n = notify(buf, sizeof(buf), "upnp:rootdevice", "ssdp:alive", 7);
	natt_ssdp_repeat_of(buf, n, &r);
	assert_true(r.usable);
	/* the head ends where the NT line begins, the tail begins after the USN line */
	assert_int_equal(r.head_len, (size_t)(strstr(buf, "NT: ") - buf));
	assert_int_equal(r.tail_len, n - (size_t)(strstr(buf, "NTS: ") - buf));
	assert_memory_equal(r.tail, "NTS: ssdp:alive\r\n", 17);
	/* NT and USN apart (another header between them): nothing can be dropped safely */
	assert_false(repeat_shape_in("NOTIFY * HTTP/1.1\r\nNT: a\r\nLOCATION: http://x/\r\nUSN: b\r\n\r\n", &r));
	/* USN first is the same shape; NT twice, or no USN, is not */
	assert_true(repeat_shape_in("NOTIFY * HTTP/1.1\r\nUSN: b\r\nNt: a\r\nLOCATION: http://x/\r\n\r\n", &r));
	assert_int_equal(r.head_len, 19);
	assert_false(repeat_shape_in("NOTIFY * HTTP/1.1\r\nNT: a\r\nUSN: b\r\nNT: c\r\n\r\n", &r));
	assert_false(repeat_shape_in("NOTIFY * HTTP/1.1\r\nNT: a\r\nNTS: ssdp:alive\r\n\r\n", &r));
}

static void send_to(int from, int to, const char *buf, size_t len)
{
	struct sockaddr_in dest;
	socklen_t slen = sizeof(dest);
	assert_int_equal(getsockname(to, (struct sockaddr *)&dest, &slen), 0);
	assert_int_equal(sendto(from, buf, len, 0, (struct sockaddr *)&dest, sizeof(dest)), (ssize_t)len);
}

/* The datagrams that reached fd, by their NT line: "nt1,nt2,". */
static void received(int fd, char *out, size_t size)
{
	out[0] = '\0';
	usleep(20000);
	char buf[2048];
	ssize_t n;
	while ((n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
		buf[n] = '\0';
		const char *nt = strstr(buf, "\r\nNT: ");
		size_t used = strlen(out);
		snprintf(out + used, size - used, "%.*s,", nt ? (int)strcspn(nt + 6, "\r") : 5, nt ? nt + 6 : "short");
	}
}

static void test_repeats_dropped_in_the_kernel(void **state)
{
	(void)state;
	int router = udp_on(0), watch = udp_on(0);
	char buf[1024], got[512];
	size_t n = notify(buf, sizeof(buf), "upnp:rootdevice", "ssdp:alive", 7);
	struct natt_ssdp_repeat r;
	natt_ssdp_repeat_of(buf, n, &r);
	assert_true(r.usable);
	struct in_addr loopback = { .s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(natt_watch_only_news(watch, &loopback, &r), 0);

	/* the same, and the rest of its burst (other NT and USN, other lengths): dropped */
	send_to(router, watch, buf, n);
	const char *burst[] = { "urn:schemas-upnp-org:device:InternetGatewayDevice:2", "uuid:0e0781cc",
		                "urn:schemas-upnp-org:service:WANIPConnection:2" };
	for (size_t i = 0; i < sizeof(burst) / sizeof(burst[0]); i++)
		send_to(router, watch, buf, notify(buf, sizeof(buf), burst[i], "ssdp:alive", 7));
	received(watch, got, sizeof(got));
	assert_string_equal(got, "");
	/* a new BOOTID (a restart), a byebye, a datagram shorter than head and tail: kept */
	send_to(router, watch, buf, notify(buf, sizeof(buf), "upnp:rootdevice", "ssdp:alive", 8));
	send_to(router, watch, buf, notify(buf, sizeof(buf), "byebye", "ssdp:byebye", 7));
	send_to(router, watch, "NOTIFY", 6);
	/* one byte changed in the head (another port in LOCATION): kept */
	n = notify(buf, sizeof(buf), "moved", "ssdp:alive", 7);
	*strstr(buf, "40000") = '5';
	send_to(router, watch, buf, n);
	received(watch, got, sizeof(got));
	assert_string_equal(got, "upnp:rootdevice,byebye,short,moved,");
	/* back to the address filter alone: the repeats come through again */
	assert_int_equal(natt_watch_only_from(watch, &loopback), 0);
	send_to(router, watch, buf, notify(buf, sizeof(buf), "again", "ssdp:alive", 7));
	received(watch, got, sizeof(got));
	assert_string_equal(got, "again,");
	close(router);
	close(watch);
}

/* Sends buf (n bytes) with byte `at` changed, then puts it back. */
static void send_changed(int from, int to, char *buf, size_t n, size_t at)
{
	char was = buf[at];
	buf[at] = was == 'x' ? 'y' : 'x';
	send_to(from, to, buf, n);
	buf[at] = was;
}

/* A head and tail as long as allowed: the program stays within what the kernel takes, its jumps within
 * reach; a repeat is dropped, and a change in any word of either is kept (every "keep" on the way). */
static void test_repeat_filter_at_its_largest(void **state)
{
	(void)state;
	int router = udp_on(0), watch = udp_on(0);
	static char buf[NATT_SSDP_REPEAT_MAX * 2 + 64];
	char got[2048];
	/* head: a line of 'h' ending in CRLF; tail: a line of 't', CRLF, the empty line */
	memset(buf, 'h', NATT_SSDP_REPEAT_MAX - 2);
	size_t n = NATT_SSDP_REPEAT_MAX - 2;
	n += (size_t)sprintf(buf + n, "\r\nNT: big\r\nUSN: u\r\n");
	size_t tail_at = n;
	memset(buf + n, 't', NATT_SSDP_REPEAT_MAX - 4);
	n += NATT_SSDP_REPEAT_MAX - 4;
	memcpy(buf + n, "\r\n\r\n", 4);
	n += 4;
	struct natt_ssdp_repeat r;
	natt_ssdp_repeat_of(buf, n, &r);
	assert_true(r.usable);
	assert_int_equal(r.head_len, NATT_SSDP_REPEAT_MAX);
	assert_int_equal(r.tail_len, NATT_SSDP_REPEAT_MAX);
	struct in_addr loopback = { .s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(natt_watch_only_news(watch, &loopback, &r), 0);
	send_to(router, watch, buf, n);
	received(watch, got, sizeof(got));
	assert_string_equal(got, "");
	/* one byte changed in each word of the head, then of the tail (a few at a time: the socket's
	 * buffer holds a few dozen) */
	size_t changes[NATT_SSDP_REPEAT_MAX / 2], count = 0;
	for (size_t at = 0; at < NATT_SSDP_REPEAT_MAX - 2; at += 4)
		changes[count++] = at;
	for (size_t at = tail_at + 1; at < tail_at + NATT_SSDP_REPEAT_MAX - 4; at += 4)
		changes[count++] = at;
	changes[count++] = n - 1; /* (the last byte too) */
	char expected[2048];
	for (size_t i = 0; i < count; i += 16) {
		expected[0] = '\0';
		for (size_t j = i; j < count && j < i + 16; j++) {
			send_changed(router, watch, buf, n, changes[j]);
			strcat(expected, "big,");
		}
		received(watch, got, sizeof(got));
		assert_string_equal(got, expected);
	}
	close(router);
	close(watch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_announcement_source_and_rate),
		cmocka_unit_test(test_repeat_shape),
		cmocka_unit_test(test_repeats_dropped_in_the_kernel),
		cmocka_unit_test(test_repeat_filter_at_its_largest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
