/* Unit tests of the PCP codec (lib/pcp/pcp.c): MAP and ANNOUNCE requests byte by byte, every way a reply
 * can be malformed, NAT-PMP's "unsupported version" reply, result code words, the IPv4-mapped address
 * form, the RFC 6887 retransmission schedule and epoch rule. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "natt/pcp.h"
#include "pcp/pcp_internal.h"

static const uint8_t nonce[NATT_PCP_NONCE_SIZE] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

static struct in6_addr addr6(const char *text)
{
	struct in6_addr a;
	assert_int_equal(inet_pton(AF_INET6, text, &a), 1);
	return a;
}

/* A MAP success reply as miniupnpd sends it, for TCP 9555 -> 100.130.0.1:9555, epoch 77. */
static size_t map_reply(uint8_t *buf, uint8_t result)
{
	memset(buf, 0, 60);
	buf[0] = 2;
	buf[1] = 0x81;
	buf[3] = result;
	buf[7] = 120;   /* lifetime */
	buf[11] = 77;   /* epoch */
	memcpy(buf + 24, nonce, 12);
	buf[36] = 6;
	buf[40] = 0x25; buf[41] = 0x53; /* 9555 */
	buf[42] = 0x25; buf[43] = 0x53;
	struct in6_addr ext = addr6("::ffff:100.130.0.1");
	memcpy(buf + 44, &ext, 16);
	return 60;
}

static void test_encode_map(void **state)
{
	(void)state;
	struct natt_pcp_map_request req = { .protocol = 6, .lifetime = 3600, .internal_port = 8000,
	                                    .suggested_external_port = 8001 };
	memcpy(req.nonce, nonce, sizeof(nonce));
	req.client = addr6("::ffff:10.77.0.2");
	req.suggested_external = addr6("::ffff:0.0.0.0");
	uint8_t buf[64];
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(natt_pcp_encode_map(&req, buf, sizeof(buf)), 60);
	const uint8_t header[24] = { 2, 1, 0, 0, 0, 0, 0x0e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 77, 0, 2 };
	assert_memory_equal(buf, header, 24);
	assert_memory_equal(buf + 24, nonce, 12);
	const uint8_t rest[24] = { 6, 0, 0, 0, 0x1f, 0x40, 0x1f, 0x41, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0 };
	assert_memory_equal(buf + 36, rest, 24);
	assert_int_equal(buf[60], 0xee); /* nothing written beyond */
	assert_int_equal(natt_pcp_encode_map(&req, buf, 59), -ENOSPC);
	assert_int_equal(natt_pcp_encode_map(NULL, buf, 60), -EINVAL);
	req.internal_port = 0;
	assert_int_equal(natt_pcp_encode_map(&req, buf, 60), -EINVAL);
	req.protocol = 0; /* every protocol, every port: allowed (a delete-all) */
	assert_int_equal(natt_pcp_encode_map(&req, buf, 60), 60);
}

static void test_encode_announce(void **state)
{
	(void)state;
	struct in6_addr client = addr6("2001:db8:1::2");
	uint8_t buf[24];
	assert_int_equal(natt_pcp_encode_announce(&client, buf, sizeof(buf)), 24);
	assert_int_equal(buf[0], 2);
	assert_int_equal(buf[1], 0);
	assert_memory_equal(buf + 8, &client, 16);
	assert_int_equal(natt_pcp_encode_announce(&client, buf, 23), -ENOSPC);
}

static void test_parse_map_success(void **state)
{
	(void)state;
	uint8_t buf[NATT_PCP_MAX_MESSAGE + 8];
	size_t len = map_reply(buf, 0);
	struct natt_pcp_response r;
	assert_int_equal(natt_pcp_parse(buf, len, &r), 0);
	assert_int_equal(r.version, 2);
	assert_int_equal(r.opcode, NATT_PCP_OP_MAP);
	assert_int_equal(r.result, NATT_PCP_SUCCESS);
	assert_int_equal(r.lifetime, 120);
	assert_int_equal(r.epoch, 77);
	assert_true(r.has_map);
	assert_memory_equal(r.nonce, nonce, 12);
	assert_int_equal(r.protocol, 6);
	assert_int_equal(r.internal_port, 9555);
	assert_int_equal(r.external_port, 9555);
	struct sockaddr_storage ss;
	assert_int_equal(natt_pcp_address_to_sockaddr(&r.external_address, r.external_port, &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(((struct sockaddr_in *)&ss)->sin_addr.s_addr, inet_addr("100.130.0.1"));
	assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9555);

	/* Options after the payload: one of 4 data bytes, one empty, both fit. */
	const uint8_t opts[12] = { 0x80, 0, 0, 4, 1, 2, 3, 4, 0x01, 0, 0, 0 };
	memcpy(buf + 60, opts, sizeof(opts));
	assert_int_equal(natt_pcp_parse(buf, 72, &r), 0);
	/* Data length 5 pads to 8: the first option takes all 12 bytes. */
	buf[63] = 5;
	assert_int_equal(natt_pcp_parse(buf, 72, &r), 0);
	/* Data length 9 pads to 12: past the end. */
	buf[63] = 9;
	assert_int_equal(natt_pcp_parse(buf, 72, &r), NATT_ERR_BAD_REPLY);
	/* An option whose data runs past the end of the datagram. */
	buf[63] = 4;
	assert_int_equal(natt_pcp_parse(buf, 64, &r), NATT_ERR_BAD_REPLY);
	/* Length 0xffff must not wrap anything around. */
	buf[62] = 0xff;
	buf[63] = 0xff;
	assert_int_equal(natt_pcp_parse(buf, 72, &r), NATT_ERR_BAD_REPLY);
}

static void test_parse_rejects(void **state)
{
	(void)state;
	uint8_t buf[NATT_PCP_MAX_MESSAGE + 8];
	struct natt_pcp_response r;
	size_t len = map_reply(buf, 0);
	assert_int_equal(natt_pcp_parse(NULL, len, &r), -EINVAL);
	assert_int_equal(natt_pcp_parse(buf, len, NULL), -EINVAL);
	/* Every length below the header, and not a multiple of 4. */
	for (size_t n = 0; n < 24; n++)
		assert_int_equal(natt_pcp_parse(buf, n, &r), NATT_ERR_BAD_REPLY);
	assert_int_equal(natt_pcp_parse(buf, 59, &r), NATT_ERR_BAD_REPLY);
	/* A success without the whole MAP payload. */
	assert_int_equal(natt_pcp_parse(buf, 24, &r), NATT_ERR_BAD_REPLY);
	assert_int_equal(natt_pcp_parse(buf, 56, &r), NATT_ERR_BAD_REPLY);
	/* Longer than any PCP message. */
	memset(buf + 60, 0, sizeof(buf) - 60);
	assert_int_equal(natt_pcp_parse(buf, NATT_PCP_MAX_MESSAGE + 4, &r), NATT_ERR_BAD_REPLY);
	/* A request (no response bit), our own echo. */
	map_reply(buf, 0);
	buf[1] = 1;
	assert_int_equal(natt_pcp_parse(buf, len, &r), NATT_ERR_BAD_REPLY);
	/* Another version with a success result. */
	map_reply(buf, 0);
	buf[0] = 1;
	assert_int_equal(natt_pcp_parse(buf, len, &r), NATT_ERR_BAD_REPLY);
	/* A PEER success: natt asked for none. */
	map_reply(buf, 0);
	buf[1] = 0x82;
	assert_int_equal(natt_pcp_parse(buf, len, &r), NATT_ERR_BAD_REPLY);
	/* A NAT-PMP reply other than "unsupported version" (an external address answer). */
	const uint8_t natpmp[12] = { 0, 0x80, 0, 0, 0, 0, 0, 9, 100, 130, 0, 1 };
	assert_int_equal(natt_pcp_parse(natpmp, sizeof(natpmp), &r), NATT_ERR_BAD_REPLY);
}

static void test_parse_errors_and_fallback(void **state)
{
	(void)state;
	uint8_t buf[64];
	struct natt_pcp_response r;
	/* An error reply with the payload copied from the request. */
	size_t len = map_reply(buf, NATT_PCP_NOT_AUTHORIZED);
	assert_int_equal(natt_pcp_parse(buf, len, &r), 0);
	assert_int_equal(r.result, NATT_PCP_NOT_AUTHORIZED);
	assert_true(r.has_map);
	/* An error reply of the header alone. */
	assert_int_equal(natt_pcp_parse(buf, 24, &r), 0);
	assert_false(r.has_map);
	assert_int_equal(r.result, NATT_PCP_NOT_AUTHORIZED);
	/* A NAT-PMP-only server (RFC 6886 3.5): version 0, opcode 1 + 128, result 1, epoch 300. */
	const uint8_t natpmp[8] = { 0, 0x81, 0, 1, 0, 0, 0x01, 0x2c };
	assert_int_equal(natt_pcp_parse(natpmp, sizeof(natpmp), &r), 0);
	assert_int_equal(r.version, 0);
	assert_int_equal(r.result, NATT_PCP_UNSUPP_VERSION);
	assert_int_equal(r.epoch, 300);
	assert_int_equal(natt_pcp_parse(natpmp, 7, &r), NATT_ERR_BAD_REPLY);
	/* A PCP server of version 1 refusing version 2. */
	map_reply(buf, NATT_PCP_UNSUPP_VERSION);
	buf[0] = 1;
	assert_int_equal(natt_pcp_parse(buf, 24, &r), 0);
	assert_int_equal(r.version, 1);
	assert_int_equal(r.result, NATT_PCP_UNSUPP_VERSION);
}

static void test_parse_announce(void **state)
{
	(void)state;
	/* miniupnpd's unsolicited ANNOUNCE after a start: opcode 0 | 128, epoch 0. */
	uint8_t buf[24] = { 2, 0x80 };
	struct natt_pcp_response r;
	assert_int_equal(natt_pcp_parse(buf, sizeof(buf), &r), 0);
	assert_int_equal(r.opcode, NATT_PCP_OP_ANNOUNCE);
	assert_int_equal(r.epoch, 0);
	assert_false(r.has_map);
}

static void test_result_words(void **state)
{
	(void)state;
	const char *names[] = { "SUCCESS", "UNSUPP_VERSION", "NOT_AUTHORIZED", "MALFORMED_REQUEST", "UNSUPP_OPCODE",
	                        "UNSUPP_OPTION", "MALFORMED_OPTION", "NETWORK_FAILURE", "NO_RESOURCES",
	                        "UNSUPP_PROTOCOL", "USER_EX_QUOTA", "CANNOT_PROVIDE_EXTERNAL", "ADDRESS_MISMATCH",
	                        "EXCESSIVE_REMOTE_PEERS" };
	for (int i = 0; i < 14; i++) {
		assert_string_equal(natt_pcp_result_name(i), names[i]);
		assert_true(strlen(natt_pcp_result_text(i)) > 5);
	}
	assert_string_equal(natt_pcp_result_name(14), "UNKNOWN");
	assert_string_equal(natt_pcp_result_name(-1), "UNKNOWN");
	assert_string_equal(natt_pcp_result_text(255), "unknown result code");
}

static void test_addresses(void **state)
{
	(void)state;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = inet_addr("10.77.0.2") };
	struct in6_addr a;
	assert_int_equal(natt_pcp_address_from_sockaddr((struct sockaddr *)&sin, &a), 0);
	struct in6_addr want = addr6("::ffff:10.77.0.2");
	assert_memory_equal(&a, &want, 16);
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_addr = addr6("2001:db8:1::2") };
	assert_int_equal(natt_pcp_address_from_sockaddr((struct sockaddr *)&sin6, &a), 0);
	assert_memory_equal(&a, &sin6.sin6_addr, 16);
	struct sockaddr_storage ss;
	assert_int_equal(natt_pcp_address_to_sockaddr(&a, 9600, &ss), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 9600);
	struct sockaddr bad = { .sa_family = AF_UNIX };
	assert_int_equal(natt_pcp_address_from_sockaddr(&bad, &a), -EINVAL);
}

static void test_retransmission_schedule(void **state)
{
	(void)state;
	/* RFC 6887 8.1.1: IRT 3 s, doubling, at most MRT 1024 s, each +-10 %. */
	assert_int_equal(natt_pcp_next_wait_ms(0, 0.0), 3000);
	assert_int_equal(natt_pcp_next_wait_ms(0, 0.1), 3300);
	assert_int_equal(natt_pcp_next_wait_ms(0, -0.5), 2700); /* clamped */
	assert_int_equal(natt_pcp_next_wait_ms(3000, 0.0), 6000);
	assert_int_equal(natt_pcp_next_wait_ms(600000, 0.0), 1024000);
	assert_int_equal(natt_pcp_next_wait_ms(1024000, -0.1), 921600);
	int64_t wait = 0;
	for (int i = 0; i < 40; i++) {
		int64_t next = natt_pcp_next_wait_ms(wait, 0.1);
		assert_true(next <= 1126400);
		assert_true(next >= wait || wait > 900000);
		wait = next;
	}
}

static void test_epoch_rule(void **state)
{
	(void)state;
	assert_false(natt_pcp_epoch_lost(100, 160, 60.0));
	assert_false(natt_pcp_epoch_lost(100, 101, 0.0)); /* a second's rounding */
	assert_true(natt_pcp_epoch_lost(3600, 5, 60.0));  /* rebooted */
	assert_true(natt_pcp_epoch_lost(100, 98, 0.0));   /* more than 1 s backwards */
	/* The server's clock ran much faster, or much slower, than ours. */
	assert_true(natt_pcp_epoch_lost(100, 200, 60.0));
	assert_true(natt_pcp_epoch_lost(100, 120, 60.0));
	/* Within 2 s + 1/16. */
	assert_false(natt_pcp_epoch_lost(0, 1000, 1000 - 60.0));
}

static void test_nonce(void **state)
{
	(void)state;
	uint8_t a[12], b[12];
	assert_int_equal(natt_pcp_new_nonce(a), 0);
	assert_int_equal(natt_pcp_new_nonce(b), 0);
	assert_memory_not_equal(a, b, 12);
	assert_int_equal(natt_pcp_new_nonce(NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_map),
		cmocka_unit_test(test_encode_announce),
		cmocka_unit_test(test_parse_map_success),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_parse_errors_and_fallback),
		cmocka_unit_test(test_parse_announce),
		cmocka_unit_test(test_result_words),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_retransmission_schedule),
		cmocka_unit_test(test_epoch_rule),
		cmocka_unit_test(test_nonce),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
