/* natt — PCP (Port Control Protocol, RFC 6887) client: the successor of NAT-PMP on the same UDP port
 * 5351. One MAP request makes an IPv4 mapping through a NAT (the addresses travel as IPv4-mapped IPv6,
 * ::ffff:a.b.c.d) or, sent over IPv6, an inbound firewall pinhole (internal address = external
 * address). Replies are matched by the 12-byte mapping nonce the client chose; the same nonce must be
 * given again to refresh or to delete the mapping (servers refuse a delete with another nonce).
 *
 * Two layers:
 *   - the codec (natt_pcp_encode_*, natt_pcp_parse): pure functions on buffers, no I/O;
 *   - blocking calls (natt_pcp_map, natt_pcp_delete, natt_pcp_external_address): one request/response
 *     exchange each, on a socket of their own, retransmitted as RFC 6887 8.1.1 asks (first after about
 *     3 s, then doubling, each with +-10 % jitter) until a reply comes or timeout_ms runs out. Use them
 *     from a thread that may wait.
 * Everything here is thread-safe: no state is kept between calls. */
#ifndef NATT_PCP_H
#define NATT_PCP_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "natt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NATT_PCP_PORT 5351
#define NATT_PCP_VERSION 2
#define NATT_PCP_NONCE_SIZE 12
#define NATT_PCP_MAX_MESSAGE 1100        /* RFC 6887 7: no PCP message is longer */
#define NATT_PCP_MAP_REQUEST_SIZE 60     /* common header 24 + MAP payload 36, no options */
#define NATT_PCP_ANNOUNCE_REQUEST_SIZE 24
/* PCP's first retransmission comes after 3 s (RFC 6887 8.1.1): 7 s allow two transmissions. */
#define NATT_PCP_DEFAULT_TIMEOUT_MS 7000
/* The port where clients hear a server's unsolicited ANNOUNCE (224.0.0.1 and ff02::1). */
#define NATT_PCP_CLIENT_PORT 5350

enum natt_pcp_opcode {
	NATT_PCP_OP_ANNOUNCE = 0,
	NATT_PCP_OP_MAP = 1,
	NATT_PCP_OP_PEER = 2,
};

/* Result codes of RFC 6887 7.4. */
enum natt_pcp_result {
	NATT_PCP_SUCCESS = 0,
	NATT_PCP_UNSUPP_VERSION = 1,
	NATT_PCP_NOT_AUTHORIZED = 2,
	NATT_PCP_MALFORMED_REQUEST = 3,
	NATT_PCP_UNSUPP_OPCODE = 4,
	NATT_PCP_UNSUPP_OPTION = 5,
	NATT_PCP_MALFORMED_OPTION = 6,
	NATT_PCP_NETWORK_FAILURE = 7,
	NATT_PCP_NO_RESOURCES = 8,
	NATT_PCP_UNSUPP_PROTOCOL = 9,
	NATT_PCP_USER_EX_QUOTA = 10,
	NATT_PCP_CANNOT_PROVIDE_EXTERNAL = 11,
	NATT_PCP_ADDRESS_MISMATCH = 12,
	NATT_PCP_EXCESSIVE_REMOTE_PEERS = 13,
};

/* natt_pcp_result_name - the RFC's name of a result code: "NOT_AUTHORIZED"; "UNKNOWN" for a code the
 * RFC does not define. natt_pcp_result_text - what it means, in a few words ("not authorized: the
 * server's policy refuses this mapping"); "unknown result code" likewise. Never NULL; static strings.
 * No errors. Thread-safe. */
NATT_API const char *natt_pcp_result_name(int result);
NATT_API const char *natt_pcp_result_text(int result);

/* The fields of a MAP request. Addresses are 16-byte IPv6; an IPv4 address is written IPv4-mapped
 * (::ffff:a.b.c.d, see natt_pcp_address_from_sockaddr). */
struct natt_pcp_map_request {
	uint8_t nonce[NATT_PCP_NONCE_SIZE];
	uint8_t protocol;                    /* IPPROTO_TCP, IPPROTO_UDP (0: all protocols) */
	uint32_t lifetime;                   /* seconds; 0 deletes */
	struct in6_addr client;              /* the PCP client's address: the request's source address */
	uint16_t internal_port;              /* 0 with protocol 0 only */
	uint16_t suggested_external_port;    /* 0: no wish */
	struct in6_addr suggested_external;  /* :: or ::ffff:0.0.0.0: no wish */
};

/* A parsed response (natt_pcp_parse). */
struct natt_pcp_response {
	uint8_t version;    /* 2; 0 for a NAT-PMP server's "unsupported version" reply */
	uint8_t opcode;     /* enum natt_pcp_opcode, without the response bit */
	uint8_t result;     /* enum natt_pcp_result (any value 0-255 as received) */
	uint32_t lifetime;  /* granted lifetime; on an error, how long the error is expected to last */
	uint32_t epoch;     /* the server's epoch time, seconds */
	int has_map;        /* 1 when the MAP payload below was present (opcode MAP, 60 bytes or more) */
	uint8_t nonce[NATT_PCP_NONCE_SIZE];
	uint8_t protocol;
	uint16_t internal_port;
	uint16_t external_port;           /* assigned */
	struct in6_addr external_address; /* assigned; IPv4-mapped for IPv4 */
};

/* natt_pcp_encode_map - writes a MAP request (NATT_PCP_MAP_REQUEST_SIZE bytes, no options) into buf.
 * req: the fields; buf, len: room for the message.
 * Returns the number of bytes written; -EINVAL (NULL argument, internal_port 0 with a protocol other
 * than 0), -ENOSPC (len < NATT_PCP_MAP_REQUEST_SIZE). Pure, thread-safe. */
NATT_API int natt_pcp_encode_map(const struct natt_pcp_map_request *req, uint8_t *buf, size_t len);

/* natt_pcp_encode_announce - writes an ANNOUNCE request from client (24 bytes) into buf: a server
 * answers with its epoch (RFC 6887 14.1). Returns 24, -EINVAL, -ENOSPC. Pure, thread-safe. */
NATT_API int natt_pcp_encode_announce(const struct in6_addr *client, uint8_t *buf, size_t len);

/* natt_pcp_parse - parses a message received from a PCP server (a reply, or an unsolicited
 * ANNOUNCE/MAP). Checks: the response bit, version 2, a length of 24 to 1100 bytes and a multiple of 4,
 * and that every option fits. A NAT-PMP server's 8-byte "unsupported version" reply (version 0, result
 * 1) is accepted as version 0, result NATT_PCP_UNSUPP_VERSION; a PCP server of another version that
 * answers UNSUPP_VERSION is accepted likewise. An error reply may omit the MAP payload (has_map 0).
 * buf, len: the datagram. out: receives the fields (zeroed first).
 * Returns 0; NATT_ERR_BAD_REPLY for anything else (out is then unspecified); -EINVAL for NULL
 * arguments. Pure, thread-safe; never reads outside buf[0..len). */
NATT_API int natt_pcp_parse(const uint8_t *buf, size_t len, struct natt_pcp_response *out);

/* natt_pcp_address_from_sockaddr - the 16-byte form of an AF_INET (as ::ffff:a.b.c.d) or AF_INET6
 * socket address. natt_pcp_address_to_sockaddr - the reverse: an IPv4-mapped address gives AF_INET,
 * anything else AF_INET6; port is set (host order). Return 0 or -EINVAL (NULL, another family). Pure,
 * thread-safe. */
NATT_API int natt_pcp_address_from_sockaddr(const struct sockaddr *sa, struct in6_addr *out);
NATT_API int natt_pcp_address_to_sockaddr(const struct in6_addr *addr, uint16_t port,
                                          struct sockaddr_storage *out);

/* natt_pcp_new_nonce - fills nonce with random bytes (getrandom; /dev/urandom when that is not
 * ready). Returns 0 or -errno. Thread-safe. */
NATT_API int natt_pcp_new_nonce(uint8_t nonce[NATT_PCP_NONCE_SIZE]);

/* What a reply told, also when it was a refusal. */
struct natt_pcp_info {
	uint8_t version;   /* the server's version: 2, or 0 for a NAT-PMP-only server (fall back to it) */
	uint8_t result;    /* the result code (NATT_PCP_SUCCESS when the call returned 0) */
	uint32_t epoch;    /* the server's epoch time */
	uint32_t lifetime; /* on a refusal: seconds the server expects the condition to last */
};

/* A mapping the server granted. */
struct natt_pcp_mapping {
	enum natt_protocol protocol;
	struct sockaddr_storage internal;  /* the mapped address and port of this host */
	struct sockaddr_storage external;  /* assigned address and port: AF_INET through a NAT, AF_INET6
	                                      for a pinhole (then the same address as internal) */
	uint32_t lifetime;                 /* seconds granted (0: deleted) */
	uint8_t nonce[NATT_PCP_NONCE_SIZE];
};

/* natt_pcp_map - create or refresh a mapping (IPv4 through a NAT) or a pinhole (IPv6) with a MAP
 * request, and wait for the reply that carries its nonce.
 * server: the PCP server, AF_INET or AF_INET6, port 0 meaning 5351; NULL: the default router of
 *   internal's family (IPv4 when internal is NULL) as natt_gateway_ipv4() / natt_gateway_ipv6() find
 *   it (natt/net.h). Its family decides what is made: IPv4 asks for a mapping of an IPv4 address of
 *   this host, IPv6 for a pinhole of an IPv6 address.
 * internal: the local address to map (same family as server; its port is ignored); NULL: the source
 *   address the kernel picks toward server. The request is sent from that address, as PCP requires.
 * protocol: NATT_TCP or NATT_UDP. internal_port: 1-65535. suggested_external_port: 0 or a wish; the
 *   server may grant another port, which out->external tells. lifetime: seconds, >= 1 (0 is
 *   natt_pcp_delete). nonce: the mapping's nonce (natt_pcp_new_nonce for a new one; the same again to
 *   refresh). timeout_ms: total time to wait (<= 0: NATT_PCP_DEFAULT_TIMEOUT_MS).
 * out: receives the mapping granted; may be NULL. info: receives what any reply told, also on a
 *   refusal; may be NULL.
 * Returns 0; -EINVAL (bad argument); NATT_ERR_NO_GATEWAY (server NULL and no IPv4 default route, or no
 * reply within timeout_ms); NATT_ERR_UNSUPPORTED (no PCP there: ICMP port unreachable; result
 * UNSUPP_VERSION — info->version 0 means a NAT-PMP server: use natt/natpmp.h —, UNSUPP_OPCODE,
 * UNSUPP_OPTION or UNSUPP_PROTOCOL); NATT_ERR_REFUSED (NOT_AUTHORIZED, MALFORMED_REQUEST,
 * MALFORMED_OPTION, CANNOT_PROVIDE_EXTERNAL, ADDRESS_MISMATCH — a NAT between this host and the server
 * —, EXCESSIVE_REMOTE_PEERS or an undefined code: info->result says which); NATT_ERR_NETWORK
 * (NETWORK_FAILURE); NATT_ERR_RESOURCES (NO_RESOURCES, USER_EX_QUOTA); NATT_ERR_BAD_REPLY (a success
 * reply without an assigned port); -errno of socket calls (e.g. -EADDRNOTAVAIL: internal is not an
 * address of this host). Thread-safe. */
NATT_API int natt_pcp_map(const struct sockaddr *server, const struct sockaddr *internal,
                          enum natt_protocol protocol, uint16_t internal_port,
                          uint16_t suggested_external_port, uint32_t lifetime,
                          const uint8_t nonce[NATT_PCP_NONCE_SIZE], int timeout_ms,
                          struct natt_pcp_mapping *out, struct natt_pcp_info *info);

/* natt_pcp_delete - delete a mapping or pinhole: a MAP request with lifetime 0 and the nonce it was
 * made with. Arguments and errors as natt_pcp_map(); a server refuses (NATT_ERR_REFUSED,
 * NOT_AUTHORIZED) a nonce other than the mapping's. RFC 6887 15 wants SUCCESS when there was no such
 * mapping; miniupnpd 2.3.1 answers NO_RESOURCES (NATT_ERR_RESOURCES) instead. Thread-safe. */
NATT_API int natt_pcp_delete(const struct sockaddr *server, const struct sockaddr *internal,
                             enum natt_protocol protocol, uint16_t internal_port,
                             const uint8_t nonce[NATT_PCP_NONCE_SIZE], int timeout_ms,
                             struct natt_pcp_info *info);

/* natt_pcp_external_address - the server's external IPv4 address. PCP has no request for it alone:
 * this makes a short MAP (UDP, internal_port, 30 s, a fresh nonce), reads the address from the reply
 * and deletes the mapping again.
 * server, timeout_ms, info: as natt_pcp_map() (server IPv4 or NULL). internal_port: 1-65535, a port
 * that no mapping of this host uses (its mapping is deleted afterwards). external: receives the
 * address (IPv4-mapped replies give AF_INET). Returns 0 or the errors of natt_pcp_map().
 * Thread-safe. */
NATT_API int natt_pcp_external_address(const struct sockaddr *server, uint16_t internal_port, int timeout_ms,
                                       struct sockaddr_storage *external, struct natt_pcp_info *info);

/* natt_pcp_epoch_lost - RFC 6887 8.5: true (1) when a reply's epoch shows that the server lost its
 * state since the previous reply: the new epoch is more than 1 s below the previous one, or the server's
 * and the client's elapsed times differ by more than 2 s plus 1/16 of either.
 * previous_epoch, new_epoch: the epochs of two replies (seconds). elapsed_seconds: the client's time
 * between the two replies. No errors. Pure, thread-safe. */
NATT_API int natt_pcp_epoch_lost(uint32_t previous_epoch, uint32_t new_epoch, double elapsed_seconds);

#ifdef __cplusplus
}
#endif
#endif
