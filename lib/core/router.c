/* The router work, in the manager thread: the techniques in order of preference, renewals at half the
 * lease, retries with back-off, deletions of what is still ours, the cheap verification, and the
 * reactions to the router's announcements. Exchanges with one gateway are serialized across every natt
 * process of the host by the gateway lock (core/gwlock.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/engine_internal.h"
#include "core/gwlock.h"
#include "natpmp/natpmp_internal.h"
#include "natt/natpmp.h"
#include "natt/net.h"
#include "natt/pcp.h"
#include "sys/sockstate.h"
#include "upnp/igd_client.h"
#include "util/clock.h"
#include "util/log.h"

/* How long one attempt may wait for a router that does not answer. The SSDP answer of a LAN router
 * comes within tens of milliseconds; NAT-PMP retransmits at 250 and 750 ms within this budget. */
#define DISCOVERY_TIMEOUT_MS 1200
#define NATPMP_TIMEOUT_MS 1800
/* After a technique found nothing, wait this long before asking the same gateway again (other
 * techniques are still tried at once). */
#define ABSENT_RECHECK_MS 3000
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 60000
/* A bounded, deterministic search when an IGDv1 says the external port is taken. */
#define CONFLICT_SEARCH_PORTS 16
/* The external address UPnP gave is asked again after this long (once per burst of mappings). */
#define UPNP_EXTERNAL_REUSE_MS 5000
/* A permanent lease is still verified this often (half an hour, as for a lease of an hour). */
#define PERMANENT_RENEW_LEASE_S 3600

static struct {
	bool have_gateway;
	struct in_addr gateway;
	struct natt_igd igd;
	int64_t upnp_absent_until;
	struct in_addr upnp_external;  /* GetExternalIPAddress, reused for a few seconds */
	int64_t upnp_external_at;
	int64_t natpmp_absent_until;
	int64_t pcp_absent_until;
	bool have_epoch;               /* NAT-PMP/PCP epoch of the last reply, and when it came */
	uint32_t epoch;
	int64_t epoch_at_ms;
	/* The host-wide gateway lock, taken once however deep the calls nest: a record lock is the
	 * process's, and closing a second fd of the lock file would drop the first one's lock. */
	int lock_fd;
	int lock_depth;
	int64_t cleanup_deadline_ms;   /* at a termination signal: no router request after this */
	int64_t cleanup_cap_ms;
} R = { .lock_fd = -1 };

static const struct natt_config *cfg(void)
{
	return natt_engine_config();
}

static void refresh_gateway(void)
{
	struct in_addr gw;
	bool have;
	if (cfg()->have_gateway) {
		gw = cfg()->gateway;
		have = true;
	} else {
		have = natt_gateway_ipv4(&gw, NULL) == 0;
	}
	if (have != R.have_gateway || (have && gw.s_addr != R.gateway.s_addr)) {
		/* Another router: nothing known about the old one holds. */
		natt_igd_close(&R.igd);
		R.upnp_absent_until = R.natpmp_absent_until = R.pcp_absent_until = 0;
		if (have) {
			char text[INET_ADDRSTRLEN];
			natt_debug("gateway %s", inet_ntop(AF_INET, &gw, text, sizeof(text)));
		}
	}
	R.have_gateway = have;
	R.gateway = gw;
}

const struct in_addr *natt_router_gateway(void)
{
	return R.have_gateway ? &R.gateway : NULL;
}

static int ensure_igd(char *why, size_t len)
{
	if (R.igd.open)
		return 0;
	if (natt_now_ms() < R.upnp_absent_until) {
		snprintf(why, len, "no UPnP IGD answered");
		return NATT_ERR_NO_IGD;
	}
	R.upnp_external_at = 0;
	/* Another natt process of this host may have found the IGD already: its description URL is
	 * beside the status file. A stale one (router restarted) fails fast and we discover again. */
	char cached[512];
	int rc = -ENOENT;
	if (natt_igd_cache_read(cfg()->status_path, &R.gateway, cached, sizeof(cached)) == 0)
		rc = natt_igd_open_url(cached, &R.igd);
	if (rc < 0) {
		rc = natt_igd_discover(&R.gateway, DISCOVERY_TIMEOUT_MS, &R.igd);
		if (rc == 0)
			natt_igd_cache_write(cfg()->status_path, &R.gateway, R.igd.location);
	}
	if (rc < 0) {
		R.upnp_absent_until = natt_now_ms() + ABSENT_RECHECK_MS;
		snprintf(why, len, "no UPnP IGD answered");
		return NATT_ERR_NO_IGD;
	}
	return 0;
}

static void describe_upnp_failure(int rc, int code, char *why, size_t len)
{
	if (rc == NATT_ERR_UPNP)
		snprintf(why, len, "UPnP error %d (%s)", code, natt_upnp_error_text(code));
	else
		snprintf(why, len, "UPnP: %s", natt_strerror(rc));
}

static uint32_t lifetime_of(const struct natt_entry *e)
{
	return e->lifetime ? e->lifetime : cfg()->lifetime;
}

/* The port we hold keeps being asked for; before that, the one wished for, else the local port. */
static uint16_t requested_port(const struct natt_entry *e)
{
	if (e->external_port)
		return e->external_port;
	return e->requested_port ? e->requested_port : natt_entry_local_port(e);
}

/* *lease: the lease asked for, and on success the one granted (natt_igd_map's lease policy: 725 →
 * permanent, 402 to a permanent one → a bounded lease). */
static int upnp_add(struct natt_entry *e, const char *client, uint16_t requested, uint32_t *lease, bool any,
                    uint16_t *granted, int *code)
{
	char description[64];
	snprintf(description, sizeof(description), "natt %s pid %d", natt_protocol_text(e->protocol), (int)getpid());
	return natt_igd_map(&R.igd, e->protocol, requested, client, natt_entry_local_port(e), lease, description, any,
	                    granted, code);
}

/* After -ECONNREFUSED from the cached control URL: the router restarted (new HTTP port). Finds the
 * IGD again: 0, or NATT_ERR_NO_IGD (why says why). */
static int refind_igd(char *why, size_t len)
{
	natt_igd_close(&R.igd);
	return ensure_igd(why, len) < 0 ? NATT_ERR_NO_IGD : 0;
}

/* Maps e through UPnP. 0 on success; NATT_ERR_NO_IGD when there is no IGD (try the next technique);
 * another negative code when the router refused (why says why). */
static int try_upnp(struct natt_entry *e, char *why, size_t len)
{
	int rc = ensure_igd(why, len);
	if (rc < 0)
		return rc;
	struct in_addr specific;
	char client[64];
	if (natt_entry_specific_ipv4(e, &specific))
		inet_ntop(AF_INET, &specific, client, sizeof(client));
	else
		snprintf(client, sizeof(client), "%s", R.igd.lan_address);

	uint16_t requested = requested_port(e);
	uint32_t lease = lifetime_of(e);
	uint16_t granted = 0;
	int code = 0;
	rc = upnp_add(e, client, requested, &lease, false, &granted, &code);
	if (rc == -ECONNREFUSED) {
		if (refind_igd(why, len) < 0)
			return NATT_ERR_NO_IGD;
		rc = upnp_add(e, client, requested, &lease, false, &granted, &code);
	}
	if (rc == NATT_ERR_UPNP && (code == NATT_UPNP_CONFLICT || code == NATT_UPNP_CONFLICT_OTHER)) {
		if (R.igd.v2) {
			rc = upnp_add(e, client, requested, &lease, true, &granted, &code);
		} else {
			for (unsigned i = 1; i <= CONFLICT_SEARCH_PORTS && rc == NATT_ERR_UPNP &&
			                     (code == NATT_UPNP_CONFLICT || code == NATT_UPNP_CONFLICT_OTHER);
			     i++) {
				uint16_t next = (uint16_t)(1024 + (requested - 1024 + i) % (65536 - 1024));
				rc = upnp_add(e, client, next, &lease, false, &granted, &code);
			}
		}
	}
	if (rc < 0) {
		describe_upnp_failure(rc, code, why, len);
		return rc == -ECONNREFUSED ? NATT_ERR_NO_IGD : rc;
	}
	/* Ask for the external address once per burst of mappings, not once per mapping. (After the add:
	 * a router that refuses mappings says why there, e.g. 501 for a reserved external address, where
	 * it answers this question with an empty address.) */
	struct in_addr external = R.upnp_external;
	if (!R.upnp_external_at || natt_now_ms() - R.upnp_external_at > UPNP_EXTERNAL_REUSE_MS) {
		rc = natt_igd_external_address(&R.igd, &external, &code);
		if (rc == 0) {
			R.upnp_external = external;
			R.upnp_external_at = natt_now_ms();
		} else if (e->state == NATT_STATE_PUBLISHED && e->technique == NATT_TECH_UPNP) {
			external = e->external; /* renewed all the same; the address is asked again next time */
		} else {
			describe_upnp_failure(rc, code, why, len);
			/* Not published, so not to be left at the router either. */
			natt_igd_delete(&R.igd, e->protocol, granted, NULL);
			return rc;
		}
	}
	natt_engine_lock();
	e->technique = NATT_TECH_UPNP;
	e->external = external;
	e->external_port = granted;
	e->granted_lifetime = lease;
	snprintf(e->internal_client, sizeof(e->internal_client), "%s", client);
	natt_engine_unlock();
	return 0;
}

/* Makes entries due now: the published ones of technique (all: every published one), and every one
 * that is waiting for a router. */
static void make_due(bool all, enum natt_technique technique)
{
	R.upnp_external_at = 0; /* whatever made us look again may have changed the address too */
	for (struct natt_entry *e = natt_manager_entries(); e; e = e->next) {
		if (natt_entry_retiring(e))
			continue;
		if (e->state != NATT_STATE_PUBLISHED || all || e->technique == technique)
			e->due_ms = NATT_DUE_NOW;
	}
}

void natt_router_mark_due(enum natt_technique technique)
{
	make_due(false, technique);
}

void natt_router_mark_all_due(void)
{
	make_due(true, NATT_TECH_LOCAL);
}

/* RFC 6886 3.6 (and RFC 6887 8.5, the same server here): an epoch that fell behind means the gateway
 * lost its mappings. */
static void note_epoch(uint32_t epoch)
{
	int64_t now = natt_now_ms();
	double elapsed = (double)(now - R.epoch_at_ms) / 1000.0;
	if (R.have_epoch)
		natt_debug("NAT-PMP/PCP epoch %u, was %u %.1f s ago", epoch, R.epoch, elapsed);
	if (R.have_epoch && natt_natpmp_epoch_behind(R.epoch, epoch, elapsed, NATT_EPOCH_SLACK)) {
		natt_info("NAT-PMP/PCP epoch went from %u to %u: the router lost its mappings", R.epoch, epoch);
		natt_router_mark_due(NATT_TECH_NATPMP);
		natt_router_mark_due(NATT_TECH_PCP);
	}
	R.have_epoch = true;
	R.epoch = epoch;
	R.epoch_at_ms = now;
}

static int try_natpmp(struct natt_entry *e, char *why, size_t len)
{
	if (natt_now_ms() < R.natpmp_absent_until) {
		snprintf(why, len, "no NAT-PMP answer");
		return NATT_ERR_UNSUPPORTED;
	}
	/* The external address first: a failure after the mapping would leave one at the router that
	 * nothing here remembers. */
	struct in_addr external;
	struct natt_natpmp_info info;
	int rc = natt_natpmp_external_address(&R.gateway, NATPMP_TIMEOUT_MS, &external, &info);
	if (rc == NATT_ERR_NO_GATEWAY || rc == NATT_ERR_UNSUPPORTED) {
		R.natpmp_absent_until = natt_now_ms() + ABSENT_RECHECK_MS;
		snprintf(why, len, "no NAT-PMP answer");
		return NATT_ERR_UNSUPPORTED;
	}
	if (rc < 0) {
		snprintf(why, len, "NAT-PMP external address: %s", natt_strerror(rc));
		return rc;
	}
	note_epoch(info.epoch);
	struct natt_mapping m;
	rc = natt_natpmp_map(&R.gateway, e->protocol, natt_entry_local_port(e), requested_port(e), lifetime_of(e),
	                     NATPMP_TIMEOUT_MS, &m, &info);
	if (rc == NATT_ERR_NO_GATEWAY || rc == NATT_ERR_UNSUPPORTED) {
		R.natpmp_absent_until = natt_now_ms() + ABSENT_RECHECK_MS;
		snprintf(why, len, "no NAT-PMP answer");
		return NATT_ERR_UNSUPPORTED;
	}
	if (rc < 0) {
		snprintf(why, len, "NAT-PMP: %s", natt_strerror(rc));
		return rc;
	}
	note_epoch(info.epoch);
	struct in_addr source;
	natt_engine_lock();
	e->technique = NATT_TECH_NATPMP;
	e->external = external;
	e->external_port = m.external_port;
	e->granted_lifetime = m.lifetime;
	if (natt_local_address_toward(&R.gateway, &source) == 0)
		inet_ntop(AF_INET, &source, e->internal_client, sizeof(e->internal_client));
	natt_engine_unlock();
	return 0;
}

/* The PCP server (the gateway, port 5351) and, for a socket bound to one IPv4 address, that address
 * (else the one the kernel picks toward the gateway). */
static void pcp_addresses(const struct natt_entry *e, struct sockaddr_in *server, struct sockaddr_in *internal,
                          bool *specific)
{
	*server = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr = R.gateway };
	*internal = (struct sockaddr_in){ .sin_family = AF_INET };
	*specific = natt_entry_specific_ipv4(e, &internal->sin_addr);
}

/* PCP (RFC 6887) MAP through the NAT for the socket's IPv4 side. The reply carries the external
 * address and port, so nothing is asked before or after it. */
static int try_pcp(struct natt_entry *e, char *why, size_t len)
{
	if (natt_now_ms() < R.pcp_absent_until) {
		snprintf(why, len, "no PCP answer");
		return NATT_ERR_UNSUPPORTED;
	}
	if (!e->pcp_nonce_set) {
		int rc = natt_pcp_new_nonce(e->pcp_nonce);
		if (rc < 0) {
			snprintf(why, len, "PCP nonce: %s", natt_strerror(rc));
			return rc;
		}
		e->pcp_nonce_set = true;
	}
	struct sockaddr_in server, internal;
	bool specific;
	pcp_addresses(e, &server, &internal, &specific);
	struct natt_pcp_mapping m;
	struct natt_pcp_info info = { 0 };
	int rc = natt_pcp_map((struct sockaddr *)&server, specific ? (struct sockaddr *)&internal : NULL, e->protocol,
	                      natt_entry_local_port(e), requested_port(e), lifetime_of(e), e->pcp_nonce,
	                      NATPMP_TIMEOUT_MS, &m, &info);
	if (rc == NATT_ERR_NO_GATEWAY || rc == NATT_ERR_UNSUPPORTED) {
		R.pcp_absent_until = natt_now_ms() + ABSENT_RECHECK_MS;
		if (rc == NATT_ERR_UNSUPPORTED && info.version == 0 && info.result)
			snprintf(why, len, "no PCP (the router speaks NAT-PMP only)");
		else
			snprintf(why, len, "no PCP answer");
		return NATT_ERR_UNSUPPORTED;
	}
	if (rc < 0 && info.result != NATT_PCP_SUCCESS) {
		note_epoch(info.epoch);
		snprintf(why, len, "PCP: %s (%s)", natt_pcp_result_name(info.result), natt_pcp_result_text(info.result));
		return rc;
	}
	if (rc == 0 && m.external.ss_family != AF_INET)
		rc = NATT_ERR_BAD_REPLY; /* an IPv6 external address for an IPv4 mapping */
	if (rc < 0) {
		snprintf(why, len, "PCP: %s", natt_strerror(rc));
		return rc;
	}
	note_epoch(info.epoch);
	const struct sockaddr_in *external = (const struct sockaddr_in *)&m.external;
	natt_engine_lock();
	e->technique = NATT_TECH_PCP;
	e->external = external->sin_addr;
	e->external_port = ntohs(external->sin_port);
	e->granted_lifetime = m.lifetime;
	inet_ntop(AF_INET, &((const struct sockaddr_in *)&m.internal)->sin_addr, e->internal_client,
	          sizeof(e->internal_client));
	natt_engine_unlock();
	return 0;
}

static bool unavailable(int rc)
{
	return rc == NATT_ERR_NO_IGD || rc == NATT_ERR_UNSUPPORTED || rc == NATT_ERR_NO_GATEWAY;
}

static void set_outcome(struct natt_entry *e, enum natt_listener_state state, const char *error)
{
	natt_engine_lock();
	if (e->state != state || strcmp(e->error, error) != 0)
		natt_manager_changed();
	if (e->state != state)
		e->announced = false;
	e->state = state;
	snprintf(e->error, sizeof(e->error), "%s", error);
	natt_engine_unlock();
}

static void work_on(struct natt_entry *e)
{
	int64_t now = natt_now_ms();
	if (e->state == NATT_STATE_PUBLISHED && e->socket_id && natt_socket_exists(e->socket_id) == 0) {
		/* Closed where we could not see it: renewing would keep a dead port forwarded. */
		natt_info("%s port %u: the socket is gone; deleting its mapping", natt_protocol_text(e->protocol),
		          natt_entry_local_port(e));
		natt_router_unpublish(e);
		natt_manager_tell_retired(e);
		set_outcome(e, NATT_STATE_PENDING, "the socket was closed");
		e->vanished = true;
		e->due_ms = NATT_DUE_NEVER;
		natt_manager_changed();
		return;
	}
	if (!natt_entry_has_ipv4_side(e)) {
		set_outcome(e, NATT_STATE_LOCAL_ONLY, "IPv6-only socket: no IPv4 router mapping applies");
		e->due_ms = NATT_DUE_NEVER;
		return;
	}
	refresh_gateway();
	if (!R.have_gateway) {
		set_outcome(e, NATT_STATE_PENDING, "no default gateway");
	} else {
		enum natt_technique order[NATT_TECH_COUNT + 1];
		size_t count = 0;
		bool renewing = e->state == NATT_STATE_PUBLISHED;
		if (renewing)
			order[count++] = e->technique;
		const enum natt_technique *preferred = e->order_count ? e->order : cfg()->order;
		size_t preferred_count = e->order_count ? e->order_count : cfg()->order_count;
		for (size_t i = 0; i < preferred_count; i++)
			if (!renewing || preferred[i] != e->technique)
				order[count++] = preferred[i];

		char reasons[192] = "", refusal[192] = "";
		enum natt_technique previous = e->technique;
		uint16_t previous_port = e->external_port;
		struct in_addr previous_external = e->external;
		for (size_t i = 0; i < count; i++) {
			char why[160] = "";
			int rc;
			if (order[i] == NATT_TECH_UPNP)
				rc = try_upnp(e, why, sizeof(why));
			else if (order[i] == NATT_TECH_NATPMP)
				rc = try_natpmp(e, why, sizeof(why));
			else if (order[i] == NATT_TECH_PCP)
				rc = try_pcp(e, why, sizeof(why));
			else
				continue;
			if (rc == 0) {
				bool moved = !renewing || previous != e->technique || previous_port != e->external_port ||
				             previous_external.s_addr != e->external.s_addr;
				struct sockaddr_in ext = { .sin_family = AF_INET, .sin_addr = e->external };
				natt_engine_lock();
				e->double_nat = !natt_addr_is_global((const struct sockaddr *)&ext);
				e->expires = e->granted_lifetime ? time(NULL) + e->granted_lifetime : 0;
				if (moved)
					e->announced = false;
				natt_engine_unlock();
				set_outcome(e, NATT_STATE_PUBLISHED, e->double_nat ? "double-nat" : "");
				natt_manager_changed(); /* the expiry moved */
				e->backoff_ms = 0;
				/* Renew at half the lease (RFC 6886 recommends it; UPnP leases alike). A
				 * permanent lease is still verified every half hour. */
				uint32_t lease = e->granted_lifetime ? e->granted_lifetime : PERMANENT_RENEW_LEASE_S;
				int64_t period = e->refresh_interval ? (int64_t)e->refresh_interval * 1000 : (int64_t)lease * 500;
				e->due_ms = natt_now_ms() + period;
				return;
			}
			size_t used = strlen(reasons);
			snprintf(reasons + used, sizeof(reasons) - used, "%s%s", used ? "; " : "", why);
			if (!unavailable(rc) && !refusal[0])
				snprintf(refusal, sizeof(refusal), "%s", why);
		}
		if (renewing) {
			/* The mapping is gone or unreachable; it is no longer true that we are published. */
			natt_engine_lock();
			e->external_port = 0;
			natt_engine_unlock();
		}
		if (refusal[0])
			set_outcome(e, NATT_STATE_FAILED, refusal);
		else
			set_outcome(e, NATT_STATE_PENDING, reasons[0] ? reasons : "no technique configured");
	}
	e->backoff_ms = e->backoff_ms ? e->backoff_ms * 2 : BACKOFF_FIRST_MS;
	if (e->backoff_ms > BACKOFF_MAX_MS)
		e->backoff_ms = BACKOFF_MAX_MS;
	e->due_ms = now + e->backoff_ms;
}

bool natt_router_lock(void)
{
	if (!R.have_gateway)
		return false;
	if (R.lock_depth++ == 0)
		R.lock_fd = natt_gateway_lock(cfg()->status_path, &R.gateway);
	return true;
}

void natt_router_unlock(bool locked)
{
	if (locked && --R.lock_depth == 0) {
		natt_gateway_unlock(R.lock_fd);
		R.lock_fd = -1;
	}
}

/* Whether another entry of ours stands for the same mapping (SO_REUSEPORT groups: several sockets on
 * one port are one mapping until the last of them goes). */
static bool mapping_shared(const struct natt_entry *e)
{
	for (const struct natt_entry *o = natt_manager_entries(); o; o = o->next)
		if (o != e && !natt_entry_retiring(o) && o->state == NATT_STATE_PUBLISHED && o->protocol == e->protocol &&
		    o->technique == e->technique && o->external_port == e->external_port &&
		    natt_entry_local_port(o) == natt_entry_local_port(e))
			return true;
	return false;
}

pid_t natt_router_other_holder(const struct natt_entry *e)
{
	if (!e->socket_id || !natt_engine_sockets_shared())
		return 0; /* only fork shares a socket between processes, in practice */
	pid_t holder = natt_socket_other_holder(e->socket_id);
	if (holder > 0)
		natt_info("%s port %u: pid %d still holds the socket", natt_protocol_text(e->protocol), natt_entry_local_port(e),
		          (int)holder);
	return holder > 0 ? holder : 0;
}

void natt_router_unpublish(struct natt_entry *e)
{
	if (e->state != NATT_STATE_PUBLISHED || mapping_shared(e))
		return;
	if (R.cleanup_deadline_ms && natt_now_ms() > R.cleanup_deadline_ms)
		return; /* out of time at a termination signal: the lease ends it */
	if (natt_router_other_holder(e) > 0)
		return; /* at exit: the holder (a daemon child) takes the mapping over */
	uint64_t mine[64];
	size_t count = 0;
	for (const struct natt_entry *o = natt_manager_entries(); o && count < 64; o = o->next)
		if (o->socket_id && o->protocol == e->protocol && natt_entry_local_port(o) == natt_entry_local_port(e))
			mine[count++] = o->socket_id;
	if (e->socket_id && count < 64 && (count == 0 || mine[count - 1] != e->socket_id))
		mine[count++] = e->socket_id;
	if (e->socket_id && natt_port_served_elsewhere(e->protocol == NATT_TCP, natt_entry_local_port(e), mine, count)) {
		/* Another socket serves this port (SO_REUSEPORT in another process): it keeps the mapping. */
		natt_info("%s port %u is still served by another socket: mapping kept", natt_protocol_text(e->protocol),
		          natt_entry_local_port(e));
		return;
	}
	bool locked = natt_router_lock();
	int rc = 0, code = 0;
	if (e->technique == NATT_TECH_UPNP) {
		if (!R.igd.open)
			ensure_igd((char[64]){ 0 }, 64);
		/* Never delete what is not ours: the port may have gone to another client since. */
		struct natt_igd_entry current;
		rc = R.igd.open ? natt_igd_get_entry(&R.igd, e->protocol, e->external_port, &current, &code)
		                : NATT_ERR_NO_IGD;
		if (rc == -ECONNREFUSED) {
			natt_igd_close(&R.igd);
			if (ensure_igd((char[64]){ 0 }, 64) == 0)
				rc = natt_igd_get_entry(&R.igd, e->protocol, e->external_port, &current, &code);
		}
		if (rc == 0 && current.internal_port == natt_entry_local_port(e) &&
		    strcmp(current.internal_client, e->internal_client) == 0)
			rc = natt_igd_delete(&R.igd, e->protocol, e->external_port, &code);
		else if (rc == 0)
			natt_info("not deleting %s port %u: now held by %s:%u", natt_protocol_text(e->protocol), e->external_port,
			          current.internal_client, current.internal_port);
	} else if (e->technique == NATT_TECH_NATPMP) {
		rc = natt_natpmp_delete(&R.gateway, e->protocol, natt_entry_local_port(e), NATPMP_TIMEOUT_MS, NULL);
	} else if (e->technique == NATT_TECH_PCP) {
		struct sockaddr_in server, internal;
		bool specific;
		pcp_addresses(e, &server, &internal, &specific);
		rc = natt_pcp_delete((struct sockaddr *)&server, specific ? (struct sockaddr *)&internal : NULL,
		                     e->protocol, natt_entry_local_port(e), e->pcp_nonce, NATPMP_TIMEOUT_MS, NULL);
		if (rc == NATT_ERR_RESOURCES)
			rc = NATT_ERR_NOT_FOUND; /* miniupnpd's answer for a mapping it no longer has */
	}
	natt_router_unlock(locked);
	if (rc < 0 && rc != NATT_ERR_NOT_FOUND) {
		natt_info("deleting %s port %u: %s", natt_protocol_text(e->protocol), e->external_port, natt_strerror(rc));
		return;
	}
	/* The router answers: whoever waits for the clean-up (exit, a termination signal) gives it more
	 * time, however many mappings there are (see natt_engine_shutdown). */
	natt_engine_cleanup_progressed();
	if (R.cleanup_deadline_ms)
		R.cleanup_deadline_ms = natt_min64(natt_now_ms() + NATT_CLEANUP_IDLE_MS, R.cleanup_cap_ms);
}

void natt_router_work_on(struct natt_entry *e)
{
	refresh_gateway();
	bool locked = natt_router_lock();
	work_on(e);
	natt_router_unlock(locked);
}

/* (For the routers whose announcements we missed.) */
void natt_router_verify(void)
{
	struct natt_entry *upnp = NULL, *natpmp = NULL, *pcp = NULL;
	for (struct natt_entry *e = natt_manager_entries(); e; e = e->next) {
		if (e->state != NATT_STATE_PUBLISHED || natt_entry_retiring(e))
			continue;
		if (e->technique == NATT_TECH_UPNP && !upnp)
			upnp = e;
		if (e->technique == NATT_TECH_NATPMP && !natpmp)
			natpmp = e;
		if (e->technique == NATT_TECH_PCP && !pcp)
			pcp = e;
	}
	/* PCP has no cheap question: one renewal now reads the epoch (a loss makes every PCP mapping due)
	 * and makes that mapping again if the router dropped it. */
	if (pcp)
		pcp->due_ms = NATT_DUE_NOW;
	if (!upnp && !natpmp)
		return;
	refresh_gateway();
	if (!R.have_gateway) {
		natt_router_mark_all_due();
		return;
	}
	bool locked = natt_router_lock();
	if (natpmp) {
		struct in_addr external;
		struct natt_natpmp_info info;
		if (natt_natpmp_external_address(&R.gateway, NATPMP_TIMEOUT_MS, &external, &info) < 0)
			natt_router_mark_due(NATT_TECH_NATPMP);
		else {
			note_epoch(info.epoch);
			if (external.s_addr != natpmp->external.s_addr)
				natt_router_mark_due(NATT_TECH_NATPMP);
		}
	}
	if (upnp) {
		struct natt_igd_entry current;
		struct in_addr external;
		int rc = R.igd.open ? natt_igd_get_entry(&R.igd, upnp->protocol, upnp->external_port, &current, NULL)
		                    : -ECONNREFUSED;
		if (rc == -ECONNREFUSED)
			natt_igd_close(&R.igd);
		if (rc < 0 || current.internal_port != natt_entry_local_port(upnp) ||
		    natt_igd_external_address(&R.igd, &external, NULL) < 0 || external.s_addr != upnp->external.s_addr)
			natt_router_mark_due(NATT_TECH_UPNP);
	}
	natt_router_unlock(locked);
}

void natt_router_igd_announced(const char *location, int bootid, bool byebye)
{
	if (byebye) {
		natt_igd_close(&R.igd);
		return;
	}
	bool restarted = R.igd.open && (strcmp(location, R.igd.location) != 0 ||
	                                (bootid >= 0 && R.igd.bootid >= 0 && bootid != R.igd.bootid));
	if (restarted) {
		natt_info("the router's UPnP device restarted (%s)", location);
		natt_igd_close(&R.igd);
		natt_router_mark_due(NATT_TECH_UPNP);
	} else if (!R.igd.open) {
		R.upnp_absent_until = 0;
		natt_router_mark_due(NATT_TECH_UPNP);
	}
}

void natt_router_natpmp_announced(uint32_t epoch, struct in_addr external)
{
	/* (The same server answers both: its announcement speaks for PCP too.) */
	R.natpmp_absent_until = R.pcp_absent_until = 0;
	note_epoch(epoch);
	bool address_known = external.s_addr != htonl(INADDR_ANY);
	for (struct natt_entry *e = natt_manager_entries(); e; e = e->next)
		if (e->state == NATT_STATE_PUBLISHED && !natt_entry_retiring(e) && address_known &&
		    e->external.s_addr != external.s_addr)
			e->due_ms = NATT_DUE_NOW; /* the external address changed: renewing reads the new one */
	natt_router_mark_due(NATT_TECH_NATPMP);
	natt_router_mark_due(NATT_TECH_PCP);
}

void natt_router_limit_cleanup(int64_t idle_until, int64_t cap)
{
	R.cleanup_deadline_ms = idle_until;
	R.cleanup_cap_ms = cap;
}

void natt_router_close(void)
{
	natt_igd_close(&R.igd);
}

void natt_router_after_fork_child(void)
{
	/* A fork in the middle of an exchange: the parent's lock (a record lock: not the child's) and its
	 * depth must not make the child's manager believe it holds it. */
	natt_close_own_fd(&R.lock_fd);
	R.lock_depth = 0;
	R.have_gateway = false;
	memset(&R.igd, 0, sizeof(R.igd)); /* the parent's IGD: the child finds its own */
	R.upnp_absent_until = R.natpmp_absent_until = R.pcp_absent_until = 0;
	R.have_epoch = false;
	R.cleanup_deadline_ms = R.cleanup_cap_ms = 0;
}
