/* NAT-PMP client calls on top of libnatpmp's non-blocking state machine, with our own deadline:
 * libnatpmp alone retransmits for about two minutes before it gives up. */
#include <errno.h>
#include <fcntl.h>
#include <natpmp.h>
#include <poll.h>
#include <string.h>
#include <time.h>

#include "natpmp/natpmp_internal.h"
#include "natt/natpmp.h"
#include "natt/net.h"
#include "util/clock.h"

static int from_natpmp_error(int rc, int saved_errno)
{
	switch (rc) {
	case NATPMP_ERR_CANNOTGETGATEWAY: return NATT_ERR_NO_GATEWAY;
	/* libnatpmp says this for ICMP port unreachable (the gateway serves no NAT-PMP); after its nine
	 * tries too, but our deadline ends the exchange long before. */
	case NATPMP_ERR_NOGATEWAYSUPPORT: return NATT_ERR_UNSUPPORTED;
	case NATPMP_ERR_UNSUPPORTEDVERSION:
	case NATPMP_ERR_UNSUPPORTEDOPCODE: return NATT_ERR_UNSUPPORTED;
	case NATPMP_ERR_NOTAUTHORIZED: return NATT_ERR_REFUSED;
	case NATPMP_ERR_NETWORKFAILURE: return NATT_ERR_NETWORK;
	case NATPMP_ERR_OUTOFRESOURCES: return NATT_ERR_RESOURCES;
	case NATPMP_ERR_UNDEFINEDERROR: return NATT_ERR_BAD_REPLY;
	case NATPMP_ERR_RECVFROM:
		/* ICMP port unreachable: the gateway is there but serves no NAT-PMP. */
		if (saved_errno == ECONNREFUSED)
			return NATT_ERR_UNSUPPORTED;
		return saved_errno ? -saved_errno : -EIO;
	case NATPMP_ERR_SENDERR:
	case NATPMP_ERR_SOCKETERROR:
	case NATPMP_ERR_CONNECTERR:
		return saved_errno ? -saved_errno : -EIO;
	}
	return NATT_ERR_BAD_REPLY;
}

static int open_session(natpmp_t *session, const struct in_addr *gateway)
{
	/* The default gateway as natt finds it everywhere else (rtnetlink, lowest metric), not through
	 * libnatpmp's own lookup. */
	struct in_addr found;
	if (!gateway) {
		int rc = natt_gateway_ipv4(&found, NULL);
		if (rc < 0)
			return rc;
		gateway = &found;
	}
	int rc = initnatpmp(session, 1, gateway->s_addr);
	if (rc < 0)
		return from_natpmp_error(rc, errno);
	/* libnatpmp does not ask for CLOEXEC; a program that execs must not inherit our socket. */
	fcntl(session->s, F_SETFD, FD_CLOEXEC);
	return 0;
}

/* How long until libnatpmp's next retransmission of the pending request (ms, rounded up); -1 when it
 * cannot say. */
static int64_t retransmission_in_ms(natpmp_t *session)
{
	struct timeval tv;
	if (getnatpmprequesttimeout(session, &tv) < 0)
		return -1;
	return (int64_t)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
}

/* Waits for the reply to the request already sent, retransmitting on libnatpmp's schedule, until
 * deadline_ms (monotonic). */
static int await_reply(natpmp_t *session, int64_t deadline_ms, int expected_type, natpmpresp_t *reply)
{
	for (;;) {
		int64_t wait = retransmission_in_ms(session);
		if (wait < 0)
			return NATT_ERR_BAD_REPLY;
		int64_t now = natt_now_ms();
		if (now >= deadline_ms)
			return NATT_ERR_NO_GATEWAY;
		if (wait > deadline_ms - now)
			wait = deadline_ms - now;
		struct pollfd pfd = { .fd = session->s, .events = POLLIN };
		if (poll(&pfd, 1, (int)wait) < 0 && errno != EINTR)
			return -errno;
		errno = 0;
		int rc = readnatpmpresponseorretry(session, reply);
		if (rc == NATPMP_TRYAGAIN)
			continue;
		if (rc < 0)
			return from_natpmp_error(rc, errno);
		if (reply->type != expected_type)
			continue; /* a late reply to another request of ours */
		return 0;
	}
}

static int effective_timeout(int timeout_ms)
{
	return timeout_ms > 0 ? timeout_ms : NATT_NATPMP_DEFAULT_TIMEOUT_MS;
}

NATT_API int natt_natpmp_external_address(const struct in_addr *gateway, int timeout_ms,
                                          struct in_addr *external, struct natt_natpmp_info *info)
{
	int64_t deadline = natt_now_ms() + effective_timeout(timeout_ms);
	natpmp_t session;
	natpmpresp_t reply;
	int rc = open_session(&session, gateway);
	if (rc < 0)
		return rc;
	rc = sendpublicaddressrequest(&session);
	if (rc < 0)
		rc = from_natpmp_error(rc, errno);
	else
		rc = await_reply(&session, deadline, NATPMP_RESPTYPE_PUBLICADDRESS, &reply);
	closenatpmp(&session);
	if (rc < 0)
		return rc;
	if (external)
		*external = reply.pnu.publicaddress.addr;
	if (info)
		info->epoch = reply.epoch;
	return 0;
}

int natt_natpmp_query_begin(struct natt_natpmp_query *query, const struct in_addr *gateway)
{
	query->open = false;
	int rc = open_session(&query->session, gateway);
	if (rc < 0)
		return rc;
	if (sendpublicaddressrequest(&query->session) < 0) {
		rc = from_natpmp_error(NATPMP_ERR_SENDERR, errno);
		closenatpmp(&query->session);
		return rc;
	}
	query->open = true;
	return 0;
}

int natt_natpmp_query_fd(const struct natt_natpmp_query *query)
{
	return query->open ? query->session.s : -1;
}

int64_t natt_natpmp_query_next_ms(struct natt_natpmp_query *query)
{
	int64_t in_ms = query->open ? retransmission_in_ms(&query->session) : -1;
	return natt_now_ms() + (in_ms > 0 ? in_ms : 0);
}

int natt_natpmp_query_read(struct natt_natpmp_query *query, struct in_addr *external, uint32_t *epoch)
{
	natpmpresp_t reply;
	errno = 0;
	int rc = readnatpmpresponseorretry(&query->session, &reply);
	if (rc == NATPMP_TRYAGAIN)
		return 0;
	if (rc < 0)
		return from_natpmp_error(rc, errno);
	/* (libnatpmp takes only the answer to the request pending, and none after it.) */
	if (reply.type != NATPMP_RESPTYPE_PUBLICADDRESS)
		return NATT_ERR_BAD_REPLY;
	*external = reply.pnu.publicaddress.addr;
	*epoch = reply.epoch;
	return 1;
}

void natt_natpmp_query_end(struct natt_natpmp_query *query)
{
	if (query->open)
		closenatpmp(&query->session);
	query->open = false;
}

static int request_mapping(const struct in_addr *gateway, enum natt_protocol protocol, uint16_t private_port,
                           uint16_t public_port, uint32_t lifetime, int timeout_ms, natpmpresp_t *reply)
{
	int64_t deadline = natt_now_ms() + effective_timeout(timeout_ms);
	if (protocol != NATT_TCP && protocol != NATT_UDP)
		return -EINVAL;
	int type = protocol == NATT_TCP ? NATPMP_PROTOCOL_TCP : NATPMP_PROTOCOL_UDP;
	natpmp_t session;
	int rc = open_session(&session, gateway);
	if (rc < 0)
		return rc;
	rc = sendnewportmappingrequest(&session, type, private_port, public_port, lifetime);
	if (rc < 0)
		rc = from_natpmp_error(rc, errno);
	else
		rc = await_reply(&session, deadline, type == NATPMP_PROTOCOL_TCP ? NATPMP_RESPTYPE_TCPPORTMAPPING
		                                                                  : NATPMP_RESPTYPE_UDPPORTMAPPING,
		                 reply);
	closenatpmp(&session);
	return rc;
}

NATT_API int natt_natpmp_map(const struct in_addr *gateway, enum natt_protocol protocol,
                             uint16_t private_port, uint16_t requested_public_port, uint32_t lifetime,
                             int timeout_ms, struct natt_mapping *out, struct natt_natpmp_info *info)
{
	if (private_port == 0)
		return -EINVAL;
	natpmpresp_t reply;
	int rc = request_mapping(gateway, protocol, private_port, requested_public_port, lifetime, timeout_ms,
	                         &reply);
	if (rc < 0)
		return rc;
	if (out) {
		memset(out, 0, sizeof(*out));
		out->protocol = protocol;
		out->internal_address.ss_family = AF_UNSPEC;
		out->internal_port = reply.pnu.newportmapping.privateport;
		out->external_port = reply.pnu.newportmapping.mappedpublicport;
		out->lifetime = reply.pnu.newportmapping.lifetime;
	}
	if (info)
		info->epoch = reply.epoch;
	return 0;
}

NATT_API int natt_natpmp_delete(const struct in_addr *gateway, enum natt_protocol protocol,
                                uint16_t private_port, int timeout_ms, struct natt_natpmp_info *info)
{
	if (private_port == 0)
		return -EINVAL;
	natpmpresp_t reply;
	int rc = request_mapping(gateway, protocol, private_port, 0, 0, timeout_ms, &reply);
	if (rc == 0 && info)
		info->epoch = reply.epoch;
	return rc;
}

NATT_API int natt_natpmp_unmap_all(const struct in_addr *gateway, enum natt_protocol protocol,
                                   int timeout_ms, struct natt_natpmp_info *info)
{
	natpmpresp_t reply;
	int rc = request_mapping(gateway, protocol, 0, 0, 0, timeout_ms, &reply);
	if (rc == 0 && info)
		info->epoch = reply.epoch;
	return rc;
}

int natt_natpmp_epoch_behind(uint32_t previous_epoch, uint32_t new_epoch, double elapsed_seconds, double slack)
{
	double expected = (double)previous_epoch + elapsed_seconds * 7.0 / 8.0 - slack;
	return (double)new_epoch < expected;
}

NATT_API int natt_natpmp_epoch_lost(uint32_t previous_epoch, uint32_t new_epoch, double elapsed_seconds)
{
	return natt_natpmp_epoch_behind(previous_epoch, new_epoch, elapsed_seconds, 2.0);
}
