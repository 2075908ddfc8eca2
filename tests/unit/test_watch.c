/* Unit tests of lib/core/watch.c's NAT-PMP announcement reader: only datagrams from the server's port 5351
 * count, and at most one a second (each costs a request per mapping). Needs to bind port 5351 on
 * loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_announcement_source_and_rate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
