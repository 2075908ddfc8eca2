/* Every technique asked at once. One after the other, a router that speaks only the last technique
 * in order costs the timeouts of all the others (1.2 s of SSDP silence on a router with UPnP off);
 * asked together, it costs its own exchange: the others end with ICMP port unreachable or
 * "unsupported version" (absent, at once) or stay silent, and silence only matters for techniques
 * preferred to one that answered, for a short grace. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "core/discovery.h"
#include "natpmp/natpmp_internal.h"
#include "natt/pcp.h"
#include "pcp/pcp_internal.h"
#include "upnp/igd_client.h"
#include "upnp/ssdp.h"
#include "util/clock.h"

struct asking {
	struct natt_ssdp_search ssdp;
	/* The same search sent to the gateway alone, on a connected socket: a gateway without UPnP refuses
	 * it (ICMP port unreachable) at once, where the multicast search only meets silence. */
	struct natt_ssdp_search ssdp_gateway;
	bool ssdp_gateway_open;
	struct natt_igd_answer igd;
	struct natt_natpmp_query natpmp;
	int pcp_fd;
	bool open[NATT_TECH_COUNT];
};

static void begin(struct asking *a, const struct in_addr *gateway, enum natt_technique t, struct natt_discovery *d)
{
	int rc = -EINVAL;
	if (t == NATT_TECH_UPNP) {
		rc = natt_igd_search_begin(&a->ssdp, NULL);
		a->ssdp_gateway_open = rc >= 0 && natt_igd_search_begin(&a->ssdp_gateway, gateway) == 0;
	} else if (t == NATT_TECH_NATPMP) {
		rc = natt_natpmp_query_begin(&a->natpmp, gateway);
	} else if (t == NATT_TECH_PCP) {
		struct sockaddr_in server = { .sin_family = AF_INET, .sin_addr = *gateway };
		rc = a->pcp_fd = natt_pcp_announce_begin(&server);
	}
	a->open[t] = rc >= 0;
	/* A request that cannot leave (no route, no multicast) is as good as refused. */
	d->answer[t] = rc >= 0 ? NATT_DISCOVERY_SILENT : NATT_DISCOVERY_ABSENT;
}

static void end(struct asking *a, enum natt_technique t)
{
	if (!a->open[t])
		return;
	if (t == NATT_TECH_UPNP) {
		natt_ssdp_search_end(&a->ssdp);
		if (a->ssdp_gateway_open)
			natt_ssdp_search_end(&a->ssdp_gateway);
	} else if (t == NATT_TECH_NATPMP)
		natt_natpmp_query_end(&a->natpmp);
	else if (t == NATT_TECH_PCP)
		close(a->pcp_fd);
	a->open[t] = false;
}

static int fd_of(const struct asking *a, enum natt_technique t)
{
	if (t == NATT_TECH_UPNP)
		return a->ssdp.fd;
	if (t == NATT_TECH_NATPMP)
		return natt_natpmp_query_fd(&a->natpmp);
	return a->pcp_fd;
}

/* Reads what came for t (and sends again what is due); returns t's answer so far. */
static enum natt_discovery_answer read_answer(struct asking *a, enum natt_technique t, struct natt_discovery *d)
{
	int rc = 0;
	if (t == NATT_TECH_UPNP) {
		rc = natt_ssdp_search_read(&a->ssdp, natt_igd_take_answer, &a->igd);
		if (rc == 0 && a->ssdp_gateway_open)
			rc = natt_ssdp_search_read(&a->ssdp_gateway, natt_igd_take_answer, &a->igd);
		if (rc == 1) {
			memcpy(d->igd_location, a->igd.location, sizeof(d->igd_location));
			d->igd_bootid = a->igd.bootid;
		}
	} else if (t == NATT_TECH_NATPMP) {
		rc = natt_natpmp_query_read(&a->natpmp, &d->natpmp_external, &d->natpmp_epoch);
		d->natpmp_has_address = rc == 1;
		/* A refusal (e.g. result 3, no external address) still proves NAT-PMP is spoken there: the
		 * mapping exchange will say what the router objects to. */
		if (rc < 0 && rc != NATT_ERR_UNSUPPORTED && rc != NATT_ERR_NO_GATEWAY)
			rc = 1;
	} else if (t == NATT_TECH_PCP) {
		rc = natt_pcp_announce_read(a->pcp_fd, &d->pcp_epoch);
	}
	if (rc == 1)
		return NATT_DISCOVERY_ANSWERED;
	return rc < 0 ? NATT_DISCOVERY_ABSENT : NATT_DISCOVERY_SILENT;
}

/* Whether waiting longer cannot change the choice: the first technique in order that is not absent
 * has answered, or every one is absent. */
static bool settled(const struct natt_discovery *d)
{
	for (size_t i = 0; i < d->count; i++)
		if (d->answer[d->order[i]] != NATT_DISCOVERY_ABSENT)
			return d->answer[d->order[i]] == NATT_DISCOVERY_ANSWERED;
	return true;
}

void natt_discovery_run(const struct in_addr *gateway, int timeout_ms, struct natt_discovery *d)
{
	int64_t start = natt_now_ms();
	int64_t deadline = start + timeout_ms;
	int64_t grace_end = d->fallback_known ? start + NATT_DISCOVERY_GRACE_MIN_MS : deadline;
	struct asking a = { .igd = { .gateway = gateway, .bootid = -1 }, .pcp_fd = -1 };
	d->igd_bootid = -1;
	for (size_t i = 0; i < d->count; i++)
		begin(&a, gateway, d->order[i], d);

	while (!settled(d)) {
		int64_t now = natt_now_ms();
		int64_t until = grace_end < deadline ? grace_end : deadline;
		if (now >= until) {
			d->timed_out = now >= deadline;
			break;
		}
		struct pollfd pfds[NATT_TECH_COUNT + 1];
		enum natt_technique polled[NATT_TECH_COUNT + 1];
		nfds_t n = 0;
		for (size_t i = 0; i < d->count; i++) {
			enum natt_technique t = d->order[i];
			if (!a.open[t] || d->answer[t] != NATT_DISCOVERY_SILENT)
				continue;
			/* Retransmissions (SSDP's and NAT-PMP's own schedules; PCP's first comes after 3 s). */
			int64_t next = t == NATT_TECH_UPNP ? natt_ssdp_search_resend(&a.ssdp, now)
			               : t == NATT_TECH_NATPMP ? natt_natpmp_query_next_ms(&a.natpmp)
			                                        : until;
			if (t == NATT_TECH_UPNP && a.ssdp_gateway_open) {
				natt_ssdp_search_resend(&a.ssdp_gateway, now);
				pfds[n] = (struct pollfd){ .fd = a.ssdp_gateway.fd, .events = POLLIN };
				polled[n++] = t;
			}
			if (next < until)
				until = next > now ? next : now;
			pfds[n] = (struct pollfd){ .fd = fd_of(&a, t), .events = POLLIN };
			polled[n++] = t;
		}
		if (poll(pfds, n, (int)(until - now)) < 0 && errno != EINTR)
			break;
		now = natt_now_ms();
		for (nfds_t i = 0; i < n; i++) {
			enum natt_technique t = polled[i];
			/* NAT-PMP reads also when nothing came: libnatpmp retransmits from its read. */
			if ((!pfds[i].revents && t != NATT_TECH_NATPMP) || d->answer[t] != NATT_DISCOVERY_SILENT)
				continue;
			d->answer[t] = read_answer(&a, t, d);
			if (d->answer[t] == NATT_DISCOVERY_ANSWERED) {
				d->answered_after_ms[t] = now - start;
				int64_t grace = 2 * (now - start);
				if (grace < NATT_DISCOVERY_GRACE_MIN_MS)
					grace = NATT_DISCOVERY_GRACE_MIN_MS;
				if (now + grace < grace_end)
					grace_end = now + grace;
			}
		}
	}
	for (size_t i = 0; i < d->count; i++)
		end(&a, d->order[i]);
}
