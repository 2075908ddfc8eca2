/* SSDP: parsing search replies and NOTIFYs; searching against a responder on loopback (never the
 * real multicast group: test traffic stays on this host). */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "natt/upnp.h"
#include "upnp/ssdp.h"

static int parse(const char *dg, struct natt_ssdp_reply *r, int *kind)
{
	return natt_ssdp_parse(dg, strlen(dg), r, kind);
}

static void test_parse_search_reply(void **state)
{
	(void)state;
	struct natt_ssdp_reply r;
	int kind = -1;
	const char *dg = "HTTP/1.1 200 OK\r\n"
	                 "CACHE-CONTROL: max-age=120\r\n"
	                 "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
	                 "USN: uuid:abc::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
	                 "EXT:\r\n"
	                 "SERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\n"
	                 "LOCATION: http://10.77.0.1:41113/rootDesc.xml\r\n"
	                 "OPT: \"http://schemas.upnp.org/upnp/1/0/\"; ns=01\r\n"
	                 "01-NLS: 1700000000\r\n"
	                 "BOOTID.UPNP.ORG: 1700000000\r\n"
	                 "CONFIGID.UPNP.ORG: 1337\r\n"
	                 "\r\n";
	assert_int_equal(parse(dg, &r, &kind), 0);
	assert_int_equal(kind, NATT_SSDP_SEARCH_REPLY);
	assert_string_equal(r.location, "http://10.77.0.1:41113/rootDesc.xml");
	assert_string_equal(r.st, NATT_SSDP_ST_IGD1);
	assert_string_equal(r.usn, "uuid:abc::urn:schemas-upnp-org:device:InternetGatewayDevice:1");
	assert_string_equal(r.server, "Debian/12 UPnP/1.1 MiniUPnPd/2.3.1");
	assert_int_equal(r.bootid, 1700000000L);
	assert_int_equal(r.from.sin_family, 0);

	/* LF only, odd case, spaces around values, no BOOTID, kind may be NULL */
	dg = "HTTP/1.0 200 OK\nlocation:http://1.2.3.4/d.xml  \nSt :  upnp:rootdevice\nusn:\tuuid:x\n";
	assert_int_equal(parse(dg, &r, NULL), 0);
	assert_string_equal(r.location, "http://1.2.3.4/d.xml");
	assert_string_equal(r.st, "upnp:rootdevice");
	assert_string_equal(r.usn, "uuid:x");
	assert_string_equal(r.server, "");
	assert_int_equal(r.bootid, -1);

	/* headers after the blank line are body, not headers */
	dg = "HTTP/1.1 200 OK\r\nST: a\r\n\r\nLOCATION: http://1.2.3.4/\r\n";
	assert_int_equal(parse(dg, &r, &kind), -EINVAL);
}

static void test_parse_notify(void **state)
{
	(void)state;
	struct natt_ssdp_reply r;
	int kind = -1;
	const char *alive = "NOTIFY * HTTP/1.1\r\n"
	                    "HOST: 239.255.255.250:1900\r\n"
	                    "CACHE-CONTROL: max-age=120\r\n"
	                    "LOCATION: http://10.77.0.1:5000/rootDesc.xml\r\n"
	                    "NT: urn:schemas-upnp-org:service:WANIPConnection:1\r\n"
	                    "NTS: ssdp:alive\r\n"
	                    "USN: uuid:abc::urn:schemas-upnp-org:service:WANIPConnection:1\r\n"
	                    "BOOTID.UPNP.ORG: 7\r\n\r\n";
	assert_int_equal(parse(alive, &r, &kind), 0);
	assert_int_equal(kind, NATT_SSDP_ALIVE);
	assert_string_equal(r.st, NATT_UPNP_WANIP1); /* NT goes into st */
	assert_string_equal(r.location, "http://10.77.0.1:5000/rootDesc.xml");
	assert_int_equal(r.bootid, 7);

	const char *bye = "NOTIFY * HTTP/1.1\nNT: upnp:rootdevice\nnts: SSDP:BYEBYE\nUSN: uuid:abc::upnp:rootdevice\n";
	assert_int_equal(parse(bye, &r, &kind), 0);
	assert_int_equal(kind, NATT_SSDP_BYEBYE);
	assert_string_equal(r.location, "");
	assert_string_equal(r.usn, "uuid:abc::upnp:rootdevice");

	const char *update = "NOTIFY * HTTP/1.1\r\nLOCATION: http://1.2.3.4/\r\nNT: upnp:rootdevice\r\n"
	                     "NTS: ssdp:update\r\nUSN: uuid:u\r\nBOOTID.UPNP.ORG: 1\r\nNEXTBOOTID.UPNP.ORG: 2\r\n\r\n";
	assert_int_equal(parse(update, &r, &kind), 0);
	assert_int_equal(kind, NATT_SSDP_UPDATE);
	assert_int_equal(r.bootid, 1);

	/* alive without LOCATION, unknown NTS, no USN */
	assert_int_equal(parse("NOTIFY * HTTP/1.1\r\nNT: a\r\nNTS: ssdp:alive\r\nUSN: u\r\n\r\n", &r, &kind), -EINVAL);
	assert_int_equal(parse("NOTIFY * HTTP/1.1\r\nNT: a\r\nNTS: ssdp:other\r\nUSN: u\r\n\r\n", &r, &kind), -EINVAL);
	assert_int_equal(parse("NOTIFY * HTTP/1.1\r\nNT: a\r\nNTS: ssdp:byebye\r\n\r\n", &r, &kind), -EINVAL);
}

static void test_parse_rejects(void **state)
{
	(void)state;
	struct natt_ssdp_reply r;
	int kind;
	static const char *const bad[] = {
		"",
		"HTTP/1.1 200 OK",                                          /* no line end */
		"HTTP/1.1 404 Not Found\r\nST: a\r\nLOCATION: http://x/\r\n\r\n",
		"HTTP/1.1 2000 OK\r\nST: a\r\nLOCATION: http://x/\r\n\r\n",
		"HTTP/1.1 200 OK\r\nST: a\r\n\r\n",                       /* no LOCATION */
		"HTTP/1.1 200 OK\r\nLOCATION: http://x/\r\n\r\n",         /* no ST */
		"HTTP/1.1 200 OK\r\nST:\r\nLOCATION: http://x/\r\n\r\n",  /* empty ST */
		"M-SEARCH * HTTP/1.1\r\nST: a\r\nLOCATION: http://x/\r\n\r\n",
		"HTTP/1.1 200 OK\r\nST: a\r\nLOCATION: http://x/\x01y\r\n\r\n", /* control character */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &r, &kind) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
	assert_int_equal(natt_ssdp_parse(NULL, 0, &r, &kind), -EINVAL);
	assert_int_equal(natt_ssdp_parse("x", 1, NULL, &kind), -EINVAL);

	/* a LOCATION longer than the field is refused (a cut URL would be wrong), SERVER is cut */
	char dg[2048];
	char longv[600];
	memset(longv, 'a', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	snprintf(dg, sizeof(dg), "HTTP/1.1 200 OK\r\nST: a\r\nLOCATION: http://x/%s\r\n\r\n", longv);
	assert_int_equal(parse(dg, &r, &kind), -EINVAL);
	snprintf(dg, sizeof(dg), "HTTP/1.1 200 OK\r\nST: a\r\nLOCATION: http://x/\r\nSERVER: %s\x01\r\n\r\n", longv);
	assert_int_equal(parse(dg, &r, &kind), 0);
	assert_int_equal(strlen(r.server), sizeof(r.server) - 1);
	snprintf(dg, sizeof(dg), "HTTP/1.1 200 OK\r\nST: a\r\nLOCATION: http://x/\r\nSERVER: a\x01z\r\n\r\n");
	assert_int_equal(parse(dg, &r, &kind), 0);
	assert_string_equal(r.server, "a?z");

	/* bad BOOTIDs read as absent */
	static const char *const ids[] = { "x", "-1", "1x", "99999999999", "" };
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		snprintf(dg, sizeof(dg), "HTTP/1.1 200 OK\r\nST: a\r\nLOCATION: http://x/\r\nBOOTID.UPNP.ORG: %s\r\n\r\n",
		         ids[i]);
		assert_int_equal(parse(dg, &r, &kind), 0);
		assert_int_equal(r.bootid, -1);
	}

	/* not NUL-terminated, embedded NULs, random bytes: no crash */
	unsigned seed = 7;
	char buf[300];
	for (int round = 0; round < 20000; round++) {
		size_t len = (size_t)rand_r(&seed) % sizeof(buf);
		for (size_t i = 0; i < len; i++)
			buf[i] = (char)(rand_r(&seed) % 4 ? "HTTP/1.1 200 OK\r\nST:LOCATION:\n"[rand_r(&seed) % 30]
			                                  : rand_r(&seed));
		natt_ssdp_parse(buf, len, &r, &kind);
	}
}

/* ---- Searching against a loopback responder ------------------------------------------------------ */

enum script { ANSWER_ALL, ANSWER_SECOND_ONLY, SILENT, ANSWER_JUNK };

struct responder {
	int fd;
	struct sockaddr_in addr;
	enum script script;
	int life_ms;
	int searches; /* M-SEARCHes received */
	char last[1024];
	pthread_t thread;
};

static void send_to(int fd, const struct sockaddr_in *to, const char *msg)
{
	sendto(fd, msg, strlen(msg), 0, (const struct sockaddr *)to, sizeof(*to));
}

static void *responder_main(void *arg)
{
	struct responder *rs = arg;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		long elapsed = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
		if (elapsed >= rs->life_ms)
			break;
		struct pollfd pfd = { .fd = rs->fd, .events = POLLIN };
		if (poll(&pfd, 1, (int)(rs->life_ms - elapsed)) <= 0)
			continue;
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(rs->fd, rs->last, sizeof(rs->last) - 1, 0, (struct sockaddr *)&from, &flen);
		if (n <= 0)
			continue;
		rs->last[n] = '\0';
		rs->searches++;
		switch (rs->script) {
		case ANSWER_ALL:
			/* the same device twice (as after a retransmission), and a second device */
			for (int i = 0; i < 2; i++)
				send_to(rs->fd, &from, "HTTP/1.1 200 OK\r\nST: " NATT_SSDP_ST_IGD1 "\r\n"
				                       "LOCATION: http://127.0.0.1:1/a.xml\r\nUSN: uuid:one::x\r\n\r\n");
			send_to(rs->fd, &from, "HTTP/1.1 200 OK\r\nST: " NATT_SSDP_ST_IGD1 "\r\n"
			                       "LOCATION: http://127.0.0.1:1/b.xml\r\nUSN: uuid:two::x\r\n\r\n");
			break;
		case ANSWER_SECOND_ONLY:
			if (rs->searches == 2)
				send_to(rs->fd, &from, "HTTP/1.1 200 OK\r\nST: upnp:rootdevice\r\n"
				                       "LOCATION: http://127.0.0.1:1/c.xml\r\nUSN: uuid:three\r\n\r\n");
			break;
		case ANSWER_JUNK:
			send_to(rs->fd, &from, "garbage");
			send_to(rs->fd, &from, "NOTIFY * HTTP/1.1\r\nNT: a\r\nNTS: ssdp:byebye\r\nUSN: u\r\n\r\n");
			send_to(rs->fd, &from, "HTTP/1.1 500 Oops\r\nST: a\r\nLOCATION: http://1.2.3.4/\r\n\r\n");
			break;
		case SILENT:
			break;
		}
	}
	return NULL;
}

static void responder_start(struct responder *rs, enum script script, int life_ms)
{
	memset(rs, 0, sizeof(*rs));
	rs->script = script;
	rs->life_ms = life_ms;
	rs->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(rs->fd >= 0);
	rs->addr.sin_family = AF_INET;
	rs->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(rs->fd, (struct sockaddr *)&rs->addr, sizeof(rs->addr)), 0);
	socklen_t len = sizeof(rs->addr);
	getsockname(rs->fd, (struct sockaddr *)&rs->addr, &len);
	assert_int_equal(pthread_create(&rs->thread, NULL, responder_main, rs), 0);
}

static void responder_stop(struct responder *rs)
{
	pthread_join(rs->thread, NULL);
	close(rs->fd);
}

struct collected {
	int n;
	int stop_after;
	char locations[8][512];
	long long first_ms;
};

static long long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int collect(const struct natt_ssdp_reply *r, void *ctx)
{
	struct collected *c = ctx;
	assert_int_equal(r->from.sin_family, AF_INET);
	assert_int_equal(r->from.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
	if (c->n < 8)
		snprintf(c->locations[c->n], sizeof(c->locations[0]), "%s", r->location);
	if (c->n == 0)
		c->first_ms = now_ms();
	c->n++;
	return c->stop_after && c->n >= c->stop_after;
}

static void test_search_dedup_and_message(void **state)
{
	(void)state;
	struct responder rs;
	responder_start(&rs, ANSWER_ALL, 700);
	struct collected c = { 0 };
	int rc = natt_ssdp_search_to(&rs.addr, NULL, NULL, 500, collect, &c);
	responder_stop(&rs);
	/* 0 and 200 ms searches, each answered three times: two distinct (sender, USN) pairs */
	assert_int_equal(rc, 2);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.locations[0], "http://127.0.0.1:1/a.xml");
	assert_string_equal(c.locations[1], "http://127.0.0.1:1/b.xml");
	assert_int_equal(rs.searches, 2);
	assert_non_null(strstr(rs.last, "M-SEARCH * HTTP/1.1\r\n"));
	assert_non_null(strstr(rs.last, "HOST: 239.255.255.250:1900\r\n"));
	assert_non_null(strstr(rs.last, "MAN: \"ssdp:discover\"\r\n"));
	assert_non_null(strstr(rs.last, "MX: 1\r\n"));
	assert_non_null(strstr(rs.last, "ST: " NATT_SSDP_ST_IGD1 "\r\n"));
	assert_non_null(strstr(rs.last, "\r\n\r\n"));
}

static void test_search_stops_at_first(void **state)
{
	(void)state;
	struct responder rs;
	responder_start(&rs, ANSWER_ALL, 300);
	struct collected c = { .stop_after = 1 };
	long long t0 = now_ms();
	int rc = natt_ssdp_search_to(&rs.addr, NATT_SSDP_ST_ROOT, NULL, 5000, collect, &c);
	long long took = now_ms() - t0;
	responder_stop(&rs);
	assert_int_equal(rc, 1);
	assert_int_equal(c.n, 1);
	assert_true(took < 1000); /* no waiting out the 5 s window: the first answer ends it */
	assert_non_null(strstr(rs.last, "ST: upnp:rootdevice\r\n"));
}

static void test_search_retransmits(void **state)
{
	(void)state;
	struct responder rs;
	responder_start(&rs, ANSWER_SECOND_ONLY, 600);
	struct collected c = { .stop_after = 1 };
	int rc = natt_ssdp_search_to(&rs.addr, NATT_SSDP_ST_ROOT, NULL, 1000, collect, &c);
	responder_stop(&rs);
	assert_int_equal(rc, 1); /* the first search was "lost"; the retransmission was answered */
	assert_string_equal(c.locations[0], "http://127.0.0.1:1/c.xml");
	assert_int_equal(rs.searches, 2);
}

static void test_search_timeout_bound(void **state)
{
	(void)state;
	struct responder rs;
	responder_start(&rs, SILENT, 900);
	struct collected c = { 0 };
	long long t0 = now_ms();
	int rc = natt_ssdp_search_to(&rs.addr, NULL, NULL, 700, collect, &c);
	long long took = now_ms() - t0;
	responder_stop(&rs);
	assert_int_equal(rc, 0);
	assert_int_equal(c.n, 0);
	assert_true(took >= 690 && took < 700 + 300);
	assert_int_equal(rs.searches, 3); /* at 0, 200, 600 ms */

	/* timeout 0: one send, no wait */
	responder_start(&rs, SILENT, 200);
	t0 = now_ms();
	assert_int_equal(natt_ssdp_search_to(&rs.addr, NULL, NULL, 0, collect, &c), 0);
	assert_true(now_ms() - t0 < 150); /* (a wait would be the 200 ms of a retransmission) */
	responder_stop(&rs);
	assert_int_equal(rs.searches, 1);
}

static void test_search_ignores_junk(void **state)
{
	(void)state;
	struct responder rs;
	responder_start(&rs, ANSWER_JUNK, 400);
	struct collected c = { 0 };
	assert_int_equal(natt_ssdp_search_to(&rs.addr, NULL, NULL, 300, collect, &c), 0);
	responder_stop(&rs);
	assert_int_equal(c.n, 0);
	assert_int_equal(natt_ssdp_search_to(&rs.addr, NULL, NULL, 0, NULL, NULL), 0); /* NULL callback */
}

static void test_search_bad_arguments(void **state)
{
	(void)state;
	struct sockaddr_in lo = { .sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(natt_ssdp_search_to(&lo, "a\r\nX: y", NULL, 10, NULL, NULL), -EINVAL);
	assert_int_equal(natt_ssdp_search_to(&lo, "", NULL, 10, NULL, NULL), -EINVAL);
	assert_int_equal(natt_ssdp_search_to(&lo, NULL, NULL, -1, NULL, NULL), -EINVAL);
	char longst[300];
	memset(longst, 'a', sizeof(longst) - 1);
	longst[sizeof(longst) - 1] = '\0';
	assert_int_equal(natt_ssdp_search(longst, NULL, 10, NULL, NULL), -EINVAL);
	/* an interface address we do not have */
	struct in_addr none = { .s_addr = inet_addr("192.0.2.123") };
	assert_true(natt_ssdp_search_to(&lo, NULL, &none, 10, NULL, NULL) < 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_search_reply),
		cmocka_unit_test(test_parse_notify),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_search_dedup_and_message),
		cmocka_unit_test(test_search_stops_at_first),
		cmocka_unit_test(test_search_retransmits),
		cmocka_unit_test(test_search_timeout_bound),
		cmocka_unit_test(test_search_ignores_junk),
		cmocka_unit_test(test_search_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
