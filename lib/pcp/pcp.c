/* PCP (RFC 6887) client: the MAP/ANNOUNCE codec and blocking MAP exchanges. Debian offers no PCP
 * client library, so this is natt's own, kept to what natt uses: MAP for TCP and UDP, no PEER, no
 * options sent (options received are checked for size and skipped). See natt/pcp.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "util/clock.h"
#include "natt/net.h"
#include "natt/pcp.h"
#include "pcp/pcp_internal.h"
#include "sys/ownfd.h"

#define HEADER_SIZE 24
#define MAP_PAYLOAD_SIZE 36
#define RESPONSE_BIT 0x80
/* NAT-PMP's reply to a version it does not speak: version 0, opcode | 128, 16-bit result 1, epoch. */
#define NATPMP_UNSUPP_VERSION_SIZE 8

static const struct {
	const char *name, *text;
} results[] = {
	[NATT_PCP_SUCCESS] = { "SUCCESS", "success" },
	[NATT_PCP_UNSUPP_VERSION] = { "UNSUPP_VERSION", "the server does not speak this PCP version" },
	[NATT_PCP_NOT_AUTHORIZED] = { "NOT_AUTHORIZED", "not authorized: the server's policy refuses it" },
	[NATT_PCP_MALFORMED_REQUEST] = { "MALFORMED_REQUEST", "the server could not parse the request" },
	[NATT_PCP_UNSUPP_OPCODE] = { "UNSUPP_OPCODE", "the server does not support this operation" },
	[NATT_PCP_UNSUPP_OPTION] = { "UNSUPP_OPTION", "the server does not support a mandatory option" },
	[NATT_PCP_MALFORMED_OPTION] = { "MALFORMED_OPTION", "the server could not parse an option" },
	[NATT_PCP_NETWORK_FAILURE] = { "NETWORK_FAILURE", "the server has a network failure (e.g. no external address)" },
	[NATT_PCP_NO_RESOURCES] = { "NO_RESOURCES", "the server is out of resources" },
	[NATT_PCP_UNSUPP_PROTOCOL] = { "UNSUPP_PROTOCOL", "the server does not support this transport protocol" },
	[NATT_PCP_USER_EX_QUOTA] = { "USER_EX_QUOTA", "this host's quota of mappings is exhausted" },
	[NATT_PCP_CANNOT_PROVIDE_EXTERNAL] = { "CANNOT_PROVIDE_EXTERNAL",
	                                       "the server cannot provide the suggested external port or address" },
	[NATT_PCP_ADDRESS_MISMATCH] = { "ADDRESS_MISMATCH",
	                                "the request's source address differs from the client address in it (a NAT in between)" },
	[NATT_PCP_EXCESSIVE_REMOTE_PEERS] = { "EXCESSIVE_REMOTE_PEERS", "too many remote peers" },
};
#define RESULT_COUNT (sizeof(results) / sizeof(results[0]))

NATT_API const char *natt_pcp_result_name(int result)
{
	return result >= 0 && (size_t)result < RESULT_COUNT ? results[result].name : "UNKNOWN";
}

NATT_API const char *natt_pcp_result_text(int result)
{
	return result >= 0 && (size_t)result < RESULT_COUNT ? results[result].text : "unknown result code";
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_header(uint8_t *buf, uint8_t opcode, uint32_t lifetime, const struct in6_addr *client)
{
	memset(buf, 0, HEADER_SIZE);
	buf[0] = NATT_PCP_VERSION;
	buf[1] = opcode;
	put32(buf + 4, lifetime);
	memcpy(buf + 8, client, 16);
}

NATT_API int natt_pcp_encode_map(const struct natt_pcp_map_request *req, uint8_t *buf, size_t len)
{
	if (!req || !buf || (req->internal_port == 0 && req->protocol != 0))
		return -EINVAL;
	if (len < NATT_PCP_MAP_REQUEST_SIZE)
		return -ENOSPC;
	put_header(buf, NATT_PCP_OP_MAP, req->lifetime, &req->client);
	uint8_t *p = buf + HEADER_SIZE;
	memset(p, 0, MAP_PAYLOAD_SIZE);
	memcpy(p, req->nonce, NATT_PCP_NONCE_SIZE);
	p[12] = req->protocol;
	put16(p + 16, req->internal_port);
	put16(p + 18, req->suggested_external_port);
	memcpy(p + 20, &req->suggested_external, 16);
	return NATT_PCP_MAP_REQUEST_SIZE;
}

NATT_API int natt_pcp_encode_announce(const struct in6_addr *client, uint8_t *buf, size_t len)
{
	if (!client || !buf)
		return -EINVAL;
	if (len < NATT_PCP_ANNOUNCE_REQUEST_SIZE)
		return -ENOSPC;
	put_header(buf, NATT_PCP_OP_ANNOUNCE, 0, client);
	return NATT_PCP_ANNOUNCE_REQUEST_SIZE;
}

/* Options (RFC 6887 7.3): code, reserved, 16-bit length, data padded to 4 bytes; each must fit. */
static int options_fit(const uint8_t *p, size_t len)
{
	while (len > 0) {
		if (len < 4)
			return 0;
		size_t padded = ((size_t)get16(p + 2) + 3) & ~(size_t)3;
		if (padded > len - 4)
			return 0;
		p += 4 + padded;
		len -= 4 + padded;
	}
	return 1;
}

NATT_API int natt_pcp_parse(const uint8_t *buf, size_t len, struct natt_pcp_response *out)
{
	if (!buf || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (len < 4 || !(buf[1] & RESPONSE_BIT))
		return NATT_ERR_BAD_REPLY;
	out->opcode = buf[1] & (uint8_t)~RESPONSE_BIT;
	if (buf[0] == 0) {
		/* A NAT-PMP server refusing version 2 (RFC 6887 9): fall back to NAT-PMP. */
		if (len < NATPMP_UNSUPP_VERSION_SIZE || get16(buf + 2) != NATT_PCP_UNSUPP_VERSION)
			return NATT_ERR_BAD_REPLY;
		out->result = NATT_PCP_UNSUPP_VERSION;
		out->epoch = get32(buf + 4);
		return 0;
	}
	if (len < HEADER_SIZE || len > NATT_PCP_MAX_MESSAGE || len % 4 != 0)
		return NATT_ERR_BAD_REPLY;
	out->version = buf[0];
	out->result = buf[3];
	out->lifetime = get32(buf + 4);
	out->epoch = get32(buf + 8);
	if (out->version != NATT_PCP_VERSION)
		return out->result == NATT_PCP_UNSUPP_VERSION ? 0 : NATT_ERR_BAD_REPLY;
	const uint8_t *p = buf + HEADER_SIZE;
	size_t rest = len - HEADER_SIZE;
	if (out->opcode == NATT_PCP_OP_MAP) {
		if (rest < MAP_PAYLOAD_SIZE) {
			/* Only an error reply may leave out the payload; a grant without it says nothing. */
			return out->result != NATT_PCP_SUCCESS && rest == 0 ? 0 : NATT_ERR_BAD_REPLY;
		}
		out->has_map = 1;
		memcpy(out->nonce, p, NATT_PCP_NONCE_SIZE);
		out->protocol = p[12];
		out->internal_port = get16(p + 16);
		out->external_port = get16(p + 18);
		memcpy(&out->external_address, p + 20, 16);
		p += MAP_PAYLOAD_SIZE;
		rest -= MAP_PAYLOAD_SIZE;
	} else if (out->opcode != NATT_PCP_OP_ANNOUNCE) {
		/* PEER and unknown opcodes: natt sends none; the header alone is what it can use. */
		return out->result != NATT_PCP_SUCCESS ? 0 : NATT_ERR_BAD_REPLY;
	}
	return options_fit(p, rest) ? 0 : NATT_ERR_BAD_REPLY;
}

NATT_API int natt_pcp_address_from_sockaddr(const struct sockaddr *sa, struct in6_addr *out)
{
	if (!sa || !out)
		return -EINVAL;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		memset(out, 0, sizeof(*out));
		out->s6_addr[10] = 0xff;
		out->s6_addr[11] = 0xff;
		memcpy(&out->s6_addr[12], &sin->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		*out = ((const struct sockaddr_in6 *)sa)->sin6_addr;
		return 0;
	}
	return -EINVAL;
}

NATT_API int natt_pcp_address_to_sockaddr(const struct in6_addr *addr, uint16_t port, struct sockaddr_storage *out)
{
	if (!addr || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (IN6_IS_ADDR_V4MAPPED(addr)) {
		struct sockaddr_in *sin = (struct sockaddr_in *)out;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, &addr->s6_addr[12], 4);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = *addr;
	}
	return 0;
}

NATT_API int natt_pcp_new_nonce(uint8_t nonce[NATT_PCP_NONCE_SIZE])
{
	if (!nonce)
		return -EINVAL;
	ssize_t n = getrandom(nonce, NATT_PCP_NONCE_SIZE, GRND_NONBLOCK);
	if (n == NATT_PCP_NONCE_SIZE)
		return 0;
	/* Early boot (entropy pool not ready) or an old kernel: urandom never blocks. */
	int fd = natt_own_open("/dev/urandom", O_RDONLY, 0);
	if (fd < 0)
		return -errno;
	n = read(fd, nonce, NATT_PCP_NONCE_SIZE);
	int saved = errno;
	natt_own_close(fd);
	if (n != NATT_PCP_NONCE_SIZE)
		return n < 0 ? -saved : -EIO;
	return 0;
}

int64_t natt_pcp_next_wait_ms(int64_t previous_ms, double jitter)
{
	if (jitter < -0.1)
		jitter = -0.1;
	if (jitter > 0.1)
		jitter = 0.1;
	int64_t base = NATT_PCP_IRT_MS;
	if (previous_ms > 0)
		base = previous_ms >= NATT_PCP_MRT_MS / 2 ? NATT_PCP_MRT_MS : 2 * previous_ms;
	return (int64_t)((double)base * (1.0 + jitter));
}

NATT_API int natt_pcp_epoch_lost(uint32_t previous_epoch, uint32_t new_epoch, double elapsed_seconds)
{
	double server_delta = (double)new_epoch - (double)previous_epoch;
	if (server_delta < -1.0)
		return 1;
	double client_delta = elapsed_seconds;
	return client_delta + 2.0 < server_delta - server_delta / 16.0 ||
	       server_delta + 2.0 < client_delta - client_delta / 16.0;
}

/* ---- the blocking exchange ---- */

static int from_result(uint8_t result)
{
	switch (result) {
	case NATT_PCP_SUCCESS: return 0;
	case NATT_PCP_UNSUPP_VERSION:
	case NATT_PCP_UNSUPP_OPCODE:
	case NATT_PCP_UNSUPP_OPTION:
	case NATT_PCP_UNSUPP_PROTOCOL: return NATT_ERR_UNSUPPORTED;
	case NATT_PCP_NETWORK_FAILURE: return NATT_ERR_NETWORK;
	case NATT_PCP_NO_RESOURCES:
	case NATT_PCP_USER_EX_QUOTA: return NATT_ERR_RESOURCES;
	}
	return NATT_ERR_REFUSED;
}

/* A jitter in [-0.1, 0.1] from the nonce's random bytes and the attempt number. */
static double jitter_for(const uint8_t *nonce, unsigned attempt)
{
	unsigned v = (unsigned)nonce[attempt % NATT_PCP_NONCE_SIZE] * 257u + attempt * 31u;
	return ((double)(v % 201u) - 100.0) / 1000.0;
}

/* A UDP socket connected to server (so that only its replies and its ICMP errors reach us), bound
 * to internal when given. Fills client with the source address the request must carry. */
static int open_socket(const struct sockaddr *server, const struct sockaddr *internal, struct in6_addr *client)
{
	struct sockaddr_storage to, local;
	socklen_t tolen, locallen = sizeof(local);
	int rc;
	if (server) {
		tolen = server->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
		memcpy(&to, server, tolen);
	} else if (internal && internal->sa_family == AF_INET6) {
		memset(&to, 0, sizeof(to));
		rc = natt_gateway_ipv6((struct sockaddr_in6 *)&to);
		if (rc < 0)
			return rc;
		tolen = sizeof(struct sockaddr_in6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&to;
		memset(&to, 0, sizeof(to));
		sin->sin_family = AF_INET;
		rc = natt_gateway_ipv4(&sin->sin_addr, NULL);
		if (rc < 0)
			return rc;
		tolen = sizeof(*sin);
	}
	if (to.ss_family == AF_INET && ((struct sockaddr_in *)&to)->sin_port == 0)
		((struct sockaddr_in *)&to)->sin_port = htons(NATT_PCP_PORT);
	if (to.ss_family == AF_INET6 && ((struct sockaddr_in6 *)&to)->sin6_port == 0)
		((struct sockaddr_in6 *)&to)->sin6_port = htons(NATT_PCP_PORT);
	if (internal && internal->sa_family != to.ss_family)
		return -EINVAL;
	int fd = socket(to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (internal) {
		memcpy(&local, internal, tolen);
		if (local.ss_family == AF_INET)
			((struct sockaddr_in *)&local)->sin_port = 0;
		else
			((struct sockaddr_in6 *)&local)->sin6_port = 0;
		if (bind(fd, (struct sockaddr *)&local, tolen) < 0)
			goto fail;
	}
	if (connect(fd, (struct sockaddr *)&to, tolen) < 0 ||
	    getsockname(fd, (struct sockaddr *)&local, &locallen) < 0)
		goto fail;
	natt_pcp_address_from_sockaddr((struct sockaddr *)&local, client);
	return fd;
fail:
	rc = -errno;
	close(fd);
	return rc;
}

int natt_pcp_announce_begin(const struct sockaddr_in *server)
{
	struct in6_addr client;
	int fd = open_socket((const struct sockaddr *)server, NULL, &client);
	if (fd < 0)
		return fd;
	uint8_t req[NATT_PCP_ANNOUNCE_REQUEST_SIZE];
	int len = natt_pcp_encode_announce(&client, req, sizeof(req));
	if (len < 0 || send(fd, req, (size_t)len, 0) < 0) {
		int rc = len < 0 ? len : -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int natt_pcp_announce_read(int fd, uint32_t *epoch)
{
	for (;;) {
		uint8_t buf[NATT_PCP_MAX_MESSAGE + 4];
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return errno == ECONNREFUSED ? NATT_ERR_UNSUPPORTED : -errno; /* ICMP: no PCP server there */
		}
		struct natt_pcp_response reply;
		if (natt_pcp_parse(buf, (size_t)got, &reply) < 0)
			continue;
		if (reply.version != NATT_PCP_VERSION)
			return NATT_ERR_UNSUPPORTED; /* a NAT-PMP server's "unsupported version" */
		if (reply.opcode != NATT_PCP_OP_ANNOUNCE)
			continue;
		*epoch = reply.epoch;
		return 1;
	}
}

/* Sends req until a reply with its nonce (or a payload-less error reply) comes, or timeout_ms ends. */
static int exchange(int fd, const uint8_t *req, size_t reqlen, const uint8_t *nonce, uint8_t protocol,
                    uint16_t internal_port, int timeout_ms, struct natt_pcp_response *reply)
{
	int64_t deadline = natt_now_ms() + (timeout_ms > 0 ? timeout_ms : NATT_PCP_DEFAULT_TIMEOUT_MS);
	int64_t wait = 0, next_send = 0;
	unsigned attempt = 0;
	for (;;) {
		int64_t now = natt_now_ms();
		if (now >= deadline)
			return NATT_ERR_NO_GATEWAY;
		if (now >= next_send) {
			if (send(fd, req, reqlen, 0) < 0 && errno != EINTR) {
				/* A previous transmission's ICMP port unreachable shows here too. */
				return errno == ECONNREFUSED ? NATT_ERR_UNSUPPORTED : -errno;
			}
			wait = natt_pcp_next_wait_ms(wait, jitter_for(nonce, attempt++));
			next_send = now + wait;
		}
		int64_t until = next_send < deadline ? next_send : deadline;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int n = poll(&pfd, 1, (int)(until - now));
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n <= 0)
			continue;
		uint8_t buf[NATT_PCP_MAX_MESSAGE + 4];
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		if (got < 0) {
			if (errno == ECONNREFUSED)
				return NATT_ERR_UNSUPPORTED; /* ICMP port unreachable: no PCP server there */
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		if (natt_pcp_parse(buf, (size_t)got, reply) < 0 || reply->opcode != NATT_PCP_OP_MAP)
			continue;
		/* An error reply without payload (or from another version) cannot be matched: it answers
		 * the only request this socket sent. */
		if (!reply->has_map)
			return reply->result == NATT_PCP_SUCCESS ? NATT_ERR_BAD_REPLY : 0;
		if (memcmp(reply->nonce, nonce, NATT_PCP_NONCE_SIZE) != 0 || reply->protocol != protocol ||
		    reply->internal_port != internal_port)
			continue; /* not the answer to this request (RFC 6887 11.4: silently ignored) */
		return 0;
	}
}

static int request_map(const struct sockaddr *server, const struct sockaddr *internal, enum natt_protocol protocol,
                       uint16_t internal_port, uint16_t suggested_port, uint32_t lifetime, const uint8_t *nonce,
                       int timeout_ms, struct natt_pcp_mapping *out, struct natt_pcp_info *info)
{
	if ((protocol != NATT_TCP && protocol != NATT_UDP) || internal_port == 0 || !nonce)
		return -EINVAL;
	if (server && server->sa_family != AF_INET && server->sa_family != AF_INET6)
		return -EINVAL;
	struct natt_pcp_map_request req;
	memset(&req, 0, sizeof(req));
	int fd = open_socket(server, internal, &req.client);
	if (fd < 0)
		return fd;
	memcpy(req.nonce, nonce, NATT_PCP_NONCE_SIZE);
	req.protocol = (uint8_t)protocol;
	req.lifetime = lifetime;
	req.internal_port = internal_port;
	req.suggested_external_port = suggested_port;
	/* No wish for the external address: all zeros in the request's family (RFC 6887 11.1). */
	if (IN6_IS_ADDR_V4MAPPED(&req.client)) {
		req.suggested_external.s6_addr[10] = 0xff;
		req.suggested_external.s6_addr[11] = 0xff;
	}
	uint8_t buf[NATT_PCP_MAP_REQUEST_SIZE];
	int len = natt_pcp_encode_map(&req, buf, sizeof(buf));
	struct natt_pcp_response reply;
	int rc = exchange(fd, buf, (size_t)len, nonce, req.protocol, internal_port, timeout_ms, &reply);
	close(fd);
	if (rc < 0)
		return rc;
	if (info) {
		info->version = reply.version;
		info->result = reply.result;
		info->epoch = reply.epoch;
		info->lifetime = reply.lifetime;
	}
	rc = from_result(reply.result);
	if (rc < 0)
		return rc;
	if (lifetime > 0 && reply.external_port == 0)
		return NATT_ERR_BAD_REPLY;
	if (out) {
		memset(out, 0, sizeof(*out));
		out->protocol = protocol;
		natt_pcp_address_to_sockaddr(&req.client, internal_port, &out->internal);
		natt_pcp_address_to_sockaddr(&reply.external_address, reply.external_port, &out->external);
		out->lifetime = reply.lifetime;
		memcpy(out->nonce, nonce, NATT_PCP_NONCE_SIZE);
	}
	return 0;
}

NATT_API int natt_pcp_map(const struct sockaddr *server, const struct sockaddr *internal, enum natt_protocol protocol,
                          uint16_t internal_port, uint16_t suggested_external_port, uint32_t lifetime,
                          const uint8_t nonce[NATT_PCP_NONCE_SIZE], int timeout_ms, struct natt_pcp_mapping *out,
                          struct natt_pcp_info *info)
{
	if (lifetime == 0)
		return -EINVAL;
	return request_map(server, internal, protocol, internal_port, suggested_external_port, lifetime, nonce,
	                   timeout_ms, out, info);
}

NATT_API int natt_pcp_delete(const struct sockaddr *server, const struct sockaddr *internal,
                             enum natt_protocol protocol, uint16_t internal_port,
                             const uint8_t nonce[NATT_PCP_NONCE_SIZE], int timeout_ms, struct natt_pcp_info *info)
{
	return request_map(server, internal, protocol, internal_port, 0, 0, nonce, timeout_ms, NULL, info);
}

NATT_API int natt_pcp_external_address(const struct sockaddr *server, uint16_t internal_port, int timeout_ms,
                                       struct sockaddr_storage *external, struct natt_pcp_info *info)
{
	if (!external || (server && server->sa_family != AF_INET))
		return -EINVAL;
	uint8_t nonce[NATT_PCP_NONCE_SIZE];
	int rc = natt_pcp_new_nonce(nonce);
	if (rc < 0)
		return rc;
	struct natt_pcp_mapping mapping;
	int64_t start = natt_now_ms();
	rc = natt_pcp_map(server, NULL, NATT_UDP, internal_port, 0, 30, nonce, timeout_ms, &mapping, info);
	if (rc < 0)
		return rc;
	*external = mapping.external;
	if (external->ss_family == AF_INET)
		((struct sockaddr_in *)external)->sin_port = 0;
	else
		((struct sockaddr_in6 *)external)->sin6_port = 0;
	/* The mapping served its purpose; if the delete is lost it ends by itself within 30 s. */
	int left = timeout_ms > 0 ? timeout_ms - (int)(natt_now_ms() - start) : NATT_PCP_DEFAULT_TIMEOUT_MS;
	natt_pcp_delete(server, NULL, NATT_UDP, internal_port, nonce, left > 0 ? left : 1, NULL);
	return 0;
}
