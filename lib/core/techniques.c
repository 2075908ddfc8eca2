/* The techniques, each an exchange with the gateway router.c found, in the manager thread: UPnP IGD
 * (its discovery shared with the host's other natt processes beside the status file), NAT-PMP and PCP.
 * What each knows of the router (its IGD, its epoch, whether it answered lately) is kept here; router.c
 * decides when and in which order they are asked. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/discovery.h"
#include "core/engine_internal.h"
#include "core/gwlock.h"
#include "core/techniques.h"
#include "natpmp/natpmp_internal.h"
#include "natt/natpmp.h"
#include "natt/net.h"
#include "natt/pcp.h"
#include "upnp/http.h"
#include "upnp/igd_client.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/parse.h"
#include "util/siphash.h"

/* How long one attempt may wait for a router that does not answer. The SSDP answer of a LAN router
 * comes within tens of milliseconds; NAT-PMP retransmits at 250 and 750 ms within this budget. */
#define DISCOVERY_TIMEOUT_MS 1200
/* Before a discovery: the description another process found, if the router answers at once. */
#define CACHED_IGD_TIMEOUT_MS 500
#define NATPMP_TIMEOUT_MS 1800
/* PCP retransmits first after 3 s (RFC 6887 8.1.1): long enough for one retransmission. */
#define PCP_TIMEOUT_MS 3500
/* After a technique found nothing, wait this long before asking the same gateway again (other
 * techniques are still tried at once). */
#define ABSENT_RECHECK_MS 3000
/* A technique that stayed silent through the grace while a less preferred one answered (or was known)
 * is not asked again for this long: each new socket would wait out the grace again. The router's
 * announcements (SSDP NOTIFY, NAT-PMP/PCP) still bring it back at once. */
#define PASSED_OVER_RECHECK_MS 60000
/* A bounded, deterministic search when an IGDv1 says the external port is taken. */
#define CONFLICT_SEARCH_PORTS 16
/* The external address UPnP gave is asked again after this long (once per burst of mappings). */
#define UPNP_EXTERNAL_REUSE_MS 5000
/* NAT-PMP's address from the discovery serves the mapping that follows it. */
#define NATPMP_EXTERNAL_REUSE_MS 1000

static struct {
	struct natt_igd igd;
	/* Which opening of the IGD this is, unique to this process: a mapping made or renewed under the
	 * same one, with its lease running, is ours at the router (see natt_technique_delete). */
	uint64_t igd_generation;
	uint32_t igd_openings;
	int64_t upnp_absent_until;
	struct in_addr upnp_external;  /* GetExternalIPAddress, reused for a few seconds */
	int64_t upnp_external_at;
	struct natt_igd_answer found;  /* the discovery's SSDP answer, opened at the next UPnP exchange */
	char stale_cached[512];        /* the IGD URL of the host's cache that did not open here */
	bool igd_as_cached;            /* T.igd opened from the cache's services, its description not read */
	bool cached_services_failed;   /* an IGD so opened failed us: its description is read from now on */
	bool igd_announced_away;       /* the IGD closed at its byebye or restart: reopened as it announces */
	int64_t natpmp_absent_until;
	int64_t pcp_absent_until;
	int64_t pcp6_absent_until;     /* PCP over IPv6 (a server may listen on one family only) */
	bool natpmp_seen, pcp_seen;    /* answered since the gateway last changed or went silent */
	struct in_addr natpmp_external; /* the discovery's, for the mapping that follows */
	int64_t natpmp_external_at;
	int pcp_key_state;             /* 0: not read yet; 1: pcp_key holds the user's key; -1: none */
	uint8_t pcp_key[NATT_PCP_KEY_SIZE];
	struct epoch {                 /* NAT-PMP/PCP epoch of the last reply, and when it came */
		bool known;
		uint32_t value;
		int64_t at_ms;
	} epoch, epoch6;               /* the gateway's; the IPv6 router's (PCP over IPv6) */
} T;

static const struct natt_config *cfg(void)
{
	return natt_engine_config();
}

/* The gateway router.c found (asked only while there is one). */
static const struct in_addr *gateway(void)
{
	static const struct in_addr none;
	const struct in_addr *gw = natt_router_gateway();
	return gw ? gw : &none;
}

/* The IGD another natt process of this host found (the cache beside the status file), where a search
 * waits for the router's answer (about 50 ms from miniupnpd): as that process found it when the cache
 * names its services (asking the external address there, as natt does first anyway), else through
 * its description, which the cache then keeps for the next process. A stale one (the router
 * restarted on another port) fails at once. */
static int open_cached_igd(int timeout_ms)
{
	struct natt_igd cached;
	if (natt_igd_cache_read(cfg()->status_path, gateway(), &cached) != 0)
		return -ENOENT;
	/* One that failed here is not tried again until another process writes another. */
	if (strcmp(cached.location, T.stale_cached) == 0)
		return -ESTALE;
	T.upnp_external_at = 0;
	int rc = -EINVAL;
	bool have_external = false;
	if (cached.control_url[0] && !T.cached_services_failed)
		rc = natt_igd_open_known(&cached, timeout_ms, &T.igd, &T.upnp_external, &have_external);
	T.igd_as_cached = rc == 0;
	if (have_external)
		T.upnp_external_at = natt_now_ms(); /* (the opening's answer serves the first mapping) */
	if (rc == -EINVAL) {
		rc = natt_igd_open_url_within(cached.location, timeout_ms, &T.igd);
		if (rc == 0) {
			T.igd.bootid = cached.bootid;
			if (!natt_igd_cache_holds(&cached, &T.igd))
				natt_igd_cache_write(cfg()->status_path, gateway(), &T.igd);
		}
	}
	if (rc < 0)
		snprintf(T.stale_cached, sizeof(T.stale_cached), "%s", cached.location);
	return rc;
}

static void igd_opened(void)
{
	T.igd_announced_away = false;
	T.igd_generation = (uint64_t)getpid() << 32 | ++T.igd_openings;
}

static int ensure_igd(char *why, size_t len)
{
	if (T.igd.open)
		return 0;
	if (natt_now_ms() < T.upnp_absent_until) {
		snprintf(why, len, "no UPnP IGD answered");
		return NATT_ERR_NO_IGD;
	}
	T.upnp_external_at = 0;
	T.igd_as_cached = false;
	int rc = -ENOENT;
	if (T.found.location[0]) {
		rc = natt_igd_open_url(T.found.location, &T.igd);
		if (rc == 0) {
			T.igd.bootid = T.found.bootid;
			natt_igd_cache_write(cfg()->status_path, gateway(), &T.igd);
		}
		T.found.location[0] = '\0';
	}
	if (rc < 0)
		rc = open_cached_igd(NATT_UPNP_IGD_TIMEOUT_MS);
	if (rc < 0) {
		rc = natt_igd_discover(gateway(), DISCOVERY_TIMEOUT_MS, &T.igd);
		if (rc == 0)
			natt_igd_cache_write(cfg()->status_path, gateway(), &T.igd);
	}
	if (rc < 0) {
		T.upnp_absent_until = natt_now_ms() + ABSENT_RECHECK_MS;
		snprintf(why, len, "no UPnP IGD answered");
		return NATT_ERR_NO_IGD;
	}
	igd_opened();
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
	return natt_igd_map(&T.igd, e->protocol, requested, client, natt_entry_local_port(e), lease, description, any,
	                    granted, code);
}

/* After -ECONNREFUSED from the control URL (the router restarted on a new HTTP port), or an answer
 * that says the cache beside the status file was wrong (cached_services_wrong): finds the IGD again,
 * 0, or NATT_ERR_NO_IGD (why says why). */
static int refind_igd(char *why, size_t len)
{
	natt_igd_close(&T.igd);
	return ensure_igd(why, len) < 0 ? NATT_ERR_NO_IGD : 0;
}

/* Whether another entry has external port published through UPnP for e's protocol. */
static bool upnp_port_published(const struct natt_entry *e, uint16_t external_port)
{
	for (const struct natt_entry *o = natt_manager_entries(); o; o = o->next)
		if (o != e && o->state == NATT_STATE_PUBLISHED && o->technique == NATT_TECH_UPNP && !o->pinhole &&
		    o->protocol == e->protocol && o->external_port == external_port)
			return true;
	return false;
}

/* An answer that says the IGD is not what the cache said (its description was not read): a service
 * that does not know the action, or no UPnP answer at all. Its description is read from then on. */
static bool cached_services_wrong(int rc, int code)
{
	bool wrong = T.igd_as_cached &&
	             (rc == NATT_ERR_BAD_REPLY || (rc == NATT_ERR_UPNP && code == NATT_UPNP_INVALID_ACTION));
	if (wrong)
		T.cached_services_failed = true;
	return wrong;
}

/* AddPortMapping of requested, and on a conflict AddAnyPortMapping (IGDv2) or the next ports. */
static int upnp_add_somewhere(struct natt_entry *e, const char *client, uint16_t requested, uint32_t *lease,
                              uint16_t *granted, int *code)
{
	int rc = upnp_add(e, client, requested, lease, false, granted, code);
	if (rc == NATT_ERR_UPNP && (*code == NATT_UPNP_CONFLICT || *code == NATT_UPNP_CONFLICT_OTHER)) {
		if (T.igd.v2) {
			rc = upnp_add(e, client, requested, lease, true, granted, code);
		} else {
			for (unsigned i = 1; i <= CONFLICT_SEARCH_PORTS && rc == NATT_ERR_UPNP &&
			                     (*code == NATT_UPNP_CONFLICT || *code == NATT_UPNP_CONFLICT_OTHER);
			     i++) {
				uint16_t next = (uint16_t)(1024 + (requested - 1024 + i) % (65536 - 1024));
				rc = upnp_add(e, client, next, lease, false, granted, code);
			}
		}
	}
	return rc;
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
		snprintf(client, sizeof(client), "%s", T.igd.lan_address);

	uint16_t requested = requested_port(e);
	uint32_t lease = lifetime_of(e);
	uint16_t granted = 0;
	int code = 0;
	rc = upnp_add_somewhere(e, client, requested, &lease, &granted, &code);
	if (rc == -ECONNREFUSED || cached_services_wrong(rc, code)) {
		if (refind_igd(why, len) < 0)
			return NATT_ERR_NO_IGD;
		rc = upnp_add_somewhere(e, client, requested, &lease, &granted, &code);
	}
	if (rc < 0) {
		describe_upnp_failure(rc, code, why, len);
		return rc == -ECONNREFUSED ? NATT_ERR_NO_IGD : rc;
	}
	/* Ask for the external address once per burst of mappings, not once per mapping. (After the add:
	 * a router that refuses mappings says why there, e.g. 501 for a reserved external address, where
	 * it answers this question with an empty address.) */
	struct in_addr external = T.upnp_external;
	if (!T.upnp_external_at || natt_now_ms() - T.upnp_external_at > UPNP_EXTERNAL_REUSE_MS) {
		rc = natt_igd_external_address(&T.igd, &external, &code);
		if (rc == 0) {
			T.upnp_external = external;
			T.upnp_external_at = natt_now_ms();
		} else if (e->state == NATT_STATE_PUBLISHED && e->technique == NATT_TECH_UPNP) {
			external = e->external; /* renewed all the same; the address is asked again next time */
		} else {
			describe_upnp_failure(rc, code, why, len);
			/* Not published, so not to be left at the router either (unless the add only renewed
			 * what another socket on the port published). */
			if (!upnp_port_published(e, granted)) {
				int deleted = natt_igd_delete(&T.igd, e->protocol, granted, NULL);
				if (deleted < 0)
					natt_info("deleting %s port %u: %s", natt_protocol_text(e->protocol), granted,
					          natt_strerror(deleted));
			}
			return rc;
		}
	}
	natt_engine_lock();
	e->technique = NATT_TECH_UPNP;
	e->upnp_generation = T.igd_generation;
	e->external = external;
	e->external_port = granted;
	e->granted_lifetime = lease;
	snprintf(e->internal_client, sizeof(e->internal_client), "%s", client);
	natt_engine_unlock();
	return 0;
}

/* RFC 6886 3.6 (and RFC 6887 8.5, the same server here): an epoch that fell behind means the server
 * lost its mappings. The IPv6 router's is kept apart: it may be another device, whose epoch compared
 * with the gateway's would look like a reboot at every reply. */
static void note_epoch_of(struct epoch *known, uint32_t epoch, const char *who)
{
	int64_t now = natt_now_ms();
	double elapsed = (double)(now - known->at_ms) / 1000.0;
	if (known->known)
		natt_debug("%s epoch %u, was %u %.1f s ago", who, epoch, known->value, elapsed);
	if (known->known && natt_natpmp_epoch_behind(known->value, epoch, elapsed, NATT_EPOCH_SLACK)) {
		natt_info("%s epoch went from %u to %u: the router lost its mappings", who, known->value, epoch);
		if (known == &T.epoch)
			natt_router_mark_due(NATT_TECH_NATPMP);
		natt_router_mark_due(NATT_TECH_PCP);
	}
	known->known = true;
	known->value = epoch;
	known->at_ms = now;
}

static void note_epoch(uint32_t epoch)
{
	note_epoch_of(&T.epoch, epoch, "NAT-PMP/PCP");
}

static void natpmp_absent_for(int64_t ms)
{
	T.natpmp_absent_until = natt_now_ms() + ms;
	T.natpmp_seen = false;
}

static void pcp_absent_for(int64_t ms)
{
	T.pcp_absent_until = natt_now_ms() + ms;
	T.pcp_seen = false;
}

static void natpmp_absent(void)
{
	natpmp_absent_for(ABSENT_RECHECK_MS);
}

static void pcp_absent(void)
{
	pcp_absent_for(ABSENT_RECHECK_MS);
}

static int try_natpmp(struct natt_entry *e, char *why, size_t len)
{
	if (natt_now_ms() < T.natpmp_absent_until) {
		snprintf(why, len, "no NAT-PMP answer");
		return NATT_ERR_UNSUPPORTED;
	}
	/* The external address first: a failure after the mapping would leave one at the router that
	 * nothing here remembers. */
	struct in_addr external;
	struct natt_natpmp_info info;
	int rc;
	if (T.natpmp_external_at && natt_now_ms() - T.natpmp_external_at < NATPMP_EXTERNAL_REUSE_MS) {
		external = T.natpmp_external;
		info.epoch = T.epoch.value;
		rc = 0;
	} else {
		rc = natt_natpmp_external_address(gateway(), NATPMP_TIMEOUT_MS, &external, &info);
	}
	T.natpmp_external_at = 0;
	if (rc == NATT_ERR_NO_GATEWAY || rc == NATT_ERR_UNSUPPORTED) {
		natpmp_absent();
		snprintf(why, len, "no NAT-PMP answer");
		return NATT_ERR_UNSUPPORTED;
	}
	T.natpmp_seen = true;
	if (rc < 0 && e->state == NATT_STATE_PUBLISHED && e->technique == NATT_TECH_NATPMP) {
		external = e->external; /* renewing: the mapping is ours; the address is asked again next time */
	} else if (rc < 0) {
		snprintf(why, len, "NAT-PMP external address: %s", natt_strerror(rc));
		return rc;
	} else {
		note_epoch(info.epoch);
	}
	struct natt_mapping m;
	rc = natt_natpmp_map(gateway(), e->protocol, natt_entry_local_port(e), requested_port(e), lifetime_of(e),
	                     NATPMP_TIMEOUT_MS, &m, &info);
	if (rc == NATT_ERR_NO_GATEWAY || rc == NATT_ERR_UNSUPPORTED) {
		natpmp_absent();
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
	if (natt_local_address_toward(gateway(), &source) == 0)
		inet_ntop(AF_INET, &source, e->internal_client, sizeof(e->internal_client));
	natt_engine_unlock();
	return 0;
}

/* The PCP server (the gateway, port 5351) and, for a socket bound to one IPv4 address, that address
 * (else the one the kernel picks toward the gateway). */
static void pcp_addresses(const struct natt_entry *e, struct sockaddr_in *server, struct sockaddr_in *internal,
                          bool *specific)
{
	*server = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr = *gateway() };
	*internal = (struct sockaddr_in){ .sin_family = AF_INET };
	*specific = natt_entry_specific_ipv4(e, &internal->sin_addr);
}

/* The nonce of e's mapping, from the user's PCP key and what names the mapping at the router (the
 * gateway, protocol, internal address when the socket has one, internal port): every natt process of
 * the user that comes to hold the socket (the program's next image after exec, a child, nginx's new
 * master) renews and deletes that mapping with it, and sockets on one port (SO_REUSEPORT) share it.
 * Unpredictable without the key, as RFC 6887 wants of a nonce. id: those names, its last byte free
 * (two hashes make the 12 bytes). -1 without a key. */
static int derive_pcp_nonce(uint8_t *id, size_t len, uint8_t *nonce)
{
	if (T.pcp_key_state == 0) {
		int rc = natt_pcp_key(cfg()->status_path, T.pcp_key);
		if (rc < 0)
			natt_info("no PCP key beside the status file (%s): PCP mappings get random nonces, which "
			          "another process taking the socket over cannot renew or delete", natt_strerror(rc));
		T.pcp_key_state = rc == 0 ? 1 : -1;
	}
	if (T.pcp_key_state < 0)
		return -1;
	id[len - 1] = 0;
	uint64_t a = natt_siphash24(T.pcp_key, id, len);
	id[len - 1] = 1;
	uint64_t b = natt_siphash24(T.pcp_key, id, len);
	for (int i = 0; i < 8; i++)
		nonce[i] = (uint8_t)(a >> (8 * i));
	for (int i = 0; i < 4; i++)
		nonce[8 + i] = (uint8_t)(b >> (8 * i));
	return 0;
}

/* An IPv4 mapping's names: gateway, internal address (0 when none is given), port, protocol. */
static int derive_pcp_nonce4(const struct natt_entry *e, const struct in_addr *internal, uint8_t *nonce)
{
	uint8_t id[16] = { 0 };
	uint16_t port = htons(natt_entry_local_port(e));
	memcpy(id, gateway(), 4);
	if (internal)
		memcpy(id + 4, internal, 4);
	memcpy(id + 8, &port, 2);
	id[10] = (uint8_t)e->protocol;
	return derive_pcp_nonce(id, sizeof(id), nonce);
}

/* A pinhole's: the IPv6 router, the host address, port, protocol. */
static int derive_pcp_nonce6(const struct natt_entry *e, const struct in6_addr *server, const struct in6_addr *internal,
                             uint8_t *nonce)
{
	uint8_t id[40] = { 0 };
	uint16_t port = htons(natt_entry_local_port(e));
	memcpy(id, server, 16);
	memcpy(id + 16, internal, 16);
	memcpy(id + 32, &port, 2);
	id[34] = (uint8_t)e->protocol;
	return derive_pcp_nonce(id, sizeof(id), nonce);
}

/* Without the key: a random nonce (the mapping then ends with its lease in another process). */
static int random_pcp_nonce(struct natt_entry *e, char *why, size_t len)
{
	int rc = natt_pcp_new_nonce(e->pcp_nonce);
	if (rc < 0)
		snprintf(why, len, "PCP nonce: %s", natt_strerror(rc));
	return rc;
}

/* PCP (RFC 6887) MAP through the NAT for the socket's IPv4 side. The reply carries the external
 * address and port, so nothing is asked before or after it. */
static int try_pcp(struct natt_entry *e, char *why, size_t len)
{
	if (natt_now_ms() < T.pcp_absent_until) {
		snprintf(why, len, "no PCP answer");
		return NATT_ERR_UNSUPPORTED;
	}
	struct sockaddr_in server, internal;
	bool specific;
	pcp_addresses(e, &server, &internal, &specific);
	if (!e->pcp_nonce_set && derive_pcp_nonce4(e, specific ? &internal.sin_addr : NULL, e->pcp_nonce) == 0)
		e->pcp_nonce_set = true;
	if (!e->pcp_nonce_set) {
		/* Without the key: sockets on one port (SO_REUSEPORT) are one mapping at the router, which
		 * knows it by its nonce: they share one, or the last to renew would hold a nonce the others'
		 * delete lacks. */
		const struct natt_entry *sibling = NULL;
		for (const struct natt_entry *o = natt_manager_entries(); o && !sibling; o = o->next)
			if (o != e && o->pcp_nonce_set && o->protocol == e->protocol &&
			    natt_entry_local_port(o) == natt_entry_local_port(e))
				sibling = o;
		if (sibling) {
			memcpy(e->pcp_nonce, sibling->pcp_nonce, sizeof(e->pcp_nonce));
		} else {
			int rc = random_pcp_nonce(e, why, len);
			if (rc < 0)
				return rc;
		}
		e->pcp_nonce_set = true;
	}
	struct natt_pcp_mapping m;
	struct natt_pcp_info info = { 0 };
	int rc = natt_pcp_map((struct sockaddr *)&server, specific ? (struct sockaddr *)&internal : NULL, e->protocol,
	                      natt_entry_local_port(e), requested_port(e), lifetime_of(e), e->pcp_nonce,
	                      PCP_TIMEOUT_MS, &m, &info);
	if (rc == NATT_ERR_NO_GATEWAY || rc == NATT_ERR_UNSUPPORTED) {
		pcp_absent();
		if (rc == NATT_ERR_UNSUPPORTED && info.version == 0 && info.result)
			snprintf(why, len, "no PCP (the router speaks NAT-PMP only)");
		else
			snprintf(why, len, "no PCP answer");
		return NATT_ERR_UNSUPPORTED;
	}
	T.pcp_seen = true;
	if (rc < 0 && info.result != NATT_PCP_SUCCESS) {
		note_epoch(info.epoch);
		snprintf(why, len, "PCP: %s (%s)", natt_pcp_result_name(info.result), natt_pcp_result_text(info.result));
		return rc;
	}
	if (rc == 0 && m.external.ss_family != AF_INET) {
		/* An IPv6 external address for an IPv4 mapping: not usable, and not to be left there. */
		natt_pcp_delete((struct sockaddr *)&server, specific ? (struct sockaddr *)&internal : NULL, e->protocol,
		                natt_entry_local_port(e), e->pcp_nonce, PCP_TIMEOUT_MS, NULL);
		rc = NATT_ERR_BAD_REPLY;
	}
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

/* ---- IPv6 pinholes ---- */

/* The PCP server over IPv6 (the IPv6 default router, port 5351) and the pinhole's host address. */
static void pcp6_addresses(const struct natt_entry *e, struct sockaddr_in6 *server, struct sockaddr_in6 *internal)
{
	*server = *natt_router_gateway6();
	server->sin6_port = 0;
	*internal = (struct sockaddr_in6){ .sin6_family = AF_INET6, .sin6_addr = e->pinhole_address };
}

/* PCP MAP sent over IPv6 from the pinhole's address: the server opens its firewall for that address
 * and port (RFC 6887: internal address = external address). */
static int try_pcp_pinhole(struct natt_entry *e, char *why, size_t len)
{
	if (natt_now_ms() < T.pcp6_absent_until) {
		snprintf(why, len, "no PCP answer over IPv6");
		return NATT_ERR_UNSUPPORTED;
	}
	struct sockaddr_in6 server, internal;
	pcp6_addresses(e, &server, &internal);
	if (!e->pcp_nonce_set) {
		if (derive_pcp_nonce6(e, &server.sin6_addr, &internal.sin6_addr, e->pcp_nonce) < 0) {
			int rc = random_pcp_nonce(e, why, len);
			if (rc < 0)
				return rc;
		}
		e->pcp_nonce_set = true;
	}
	struct natt_pcp_mapping m;
	struct natt_pcp_info info = { 0 };
	uint16_t port = natt_entry_local_port(e);
	/* Made afresh each time, not renewed in place: miniupnpd before 2.3.4 (Debian 12 has 2.3.1)
	 * answers a MAP for a pinhole it has by adding a second firewall rule without the nonce, after
	 * which it refuses the delete (NOT_AUTHORIZED) and the pinhole outlives the program. A delete
	 * first (accepted with our nonce; a success when there is none) costs one more exchange of a
	 * millisecond, during which a new connection's first SYN may be dropped and is sent again. */
	int rc = natt_pcp_delete((struct sockaddr *)&server, (struct sockaddr *)&internal, e->protocol, port,
	                         e->pcp_nonce, PCP_TIMEOUT_MS, &info);
	if (rc != NATT_ERR_NO_GATEWAY && rc != NATT_ERR_UNSUPPORTED) {
		info = (struct natt_pcp_info){ 0 };
		rc = natt_pcp_map((struct sockaddr *)&server, (struct sockaddr *)&internal, e->protocol, port, port,
		                  lifetime_of(e), e->pcp_nonce, PCP_TIMEOUT_MS, &m, &info);
	}
	if (rc == NATT_ERR_NO_GATEWAY || rc == NATT_ERR_UNSUPPORTED) {
		T.pcp6_absent_until = natt_now_ms() + ABSENT_RECHECK_MS;
		snprintf(why, len, "no PCP answer over IPv6");
		return NATT_ERR_UNSUPPORTED;
	}
	if (rc < 0 && info.result != NATT_PCP_SUCCESS) {
		note_epoch_of(&T.epoch6, info.epoch, "PCP (IPv6)");
		snprintf(why, len, "PCP: %s (%s)", natt_pcp_result_name(info.result), natt_pcp_result_text(info.result));
		return rc;
	}
	if (rc == 0 && m.external.ss_family != AF_INET6) {
		natt_pcp_delete((struct sockaddr *)&server, (struct sockaddr *)&internal, e->protocol, port, e->pcp_nonce,
		                PCP_TIMEOUT_MS, NULL);
		rc = NATT_ERR_BAD_REPLY;
	}
	if (rc < 0) {
		snprintf(why, len, "PCP: %s", natt_strerror(rc));
		return rc;
	}
	note_epoch_of(&T.epoch6, info.epoch, "PCP (IPv6)");
	natt_engine_lock();
	e->technique = NATT_TECH_PCP;
	e->external_port = ntohs(((const struct sockaddr_in6 *)&m.external)->sin6_port);
	e->granted_lifetime = m.lifetime;
	inet_ntop(AF_INET6, &e->pinhole_address, e->internal_client, sizeof(e->internal_client));
	natt_engine_unlock();
	return 0;
}

/* UPnP IGDv2 WANIPv6FirewallControl: the IGD found over IPv4, its pinhole actions sent to the router's
 * IPv6 address from the pinhole's (miniupnpd's secure mode opens pinholes for the address asking only).
 * A renewal is UpdatePinhole of the pinhole's ID; a pinhole the router lost is added again. */
static int try_upnp_pinhole(struct natt_entry *e, char *why, size_t len)
{
	if (!natt_router_gateway()) {
		snprintf(why, len, "UPnP: no IPv4 gateway to find the IGD at");
		return NATT_ERR_NO_IGD;
	}
	int rc = ensure_igd(why, len);
	if (rc < 0)
		return rc;
	if (!T.igd.fc_control_url[0]) {
		snprintf(why, len, "the UPnP IGD has no IPv6 firewall control (IGDv2 WANIPv6FirewallControl)");
		return NATT_ERR_UNSUPPORTED;
	}
	uint32_t lease = lifetime_of(e) > 86400 ? 86400 : lifetime_of(e); /* the service's maximum */
	const struct sockaddr_in6 *router = natt_router_gateway6();
	uint16_t port = natt_entry_local_port(e);
	int code = 0;
	rc = -ENOENT;
	if (e->state == NATT_STATE_PUBLISHED && e->technique == NATT_TECH_UPNP && e->upnp_pinhole_id) {
		rc = natt_igd_pinhole_update(&T.igd, router, &e->pinhole_address, e->upnp_pinhole_id, lease, &code);
		if (rc < 0 && rc != -ECONNREFUSED)
			natt_debug("UpdatePinhole %u: %s: adding it again", e->upnp_pinhole_id, natt_strerror(rc));
	}
	uint16_t id = e->upnp_pinhole_id;
	for (int attempt = 0; rc < 0 && attempt < 2; attempt++) {
		rc = natt_igd_pinhole_add(&T.igd, router, &e->pinhole_address, e->protocol, port, lease, NULL, &id, &code);
		if (attempt > 0 || (rc != -ECONNREFUSED && !cached_services_wrong(rc, code)))
			break;
		if (refind_igd(why, len) < 0)
			return NATT_ERR_NO_IGD;
		if (!T.igd.fc_control_url[0]) {
			snprintf(why, len, "the UPnP IGD has no IPv6 firewall control (IGDv2 WANIPv6FirewallControl)");
			return NATT_ERR_UNSUPPORTED;
		}
		rc = -ENOENT;
	}
	if (rc < 0) {
		describe_upnp_failure(rc, code, why, len);
		return rc == -ECONNREFUSED ? NATT_ERR_NO_IGD : rc;
	}
	natt_engine_lock();
	e->technique = NATT_TECH_UPNP;
	e->upnp_pinhole_id = id;
	e->external_port = port;
	e->granted_lifetime = lease;
	inet_ntop(AF_INET6, &e->pinhole_address, e->internal_client, sizeof(e->internal_client));
	natt_engine_unlock();
	return 0;
}

static int delete_pinhole(struct natt_entry *e)
{
	int rc = 0;
	if (e->technique == NATT_TECH_PCP) {
		struct sockaddr_in6 server, internal;
		pcp6_addresses(e, &server, &internal);
		rc = natt_pcp_delete((struct sockaddr *)&server, (struct sockaddr *)&internal, e->protocol,
		                     natt_entry_local_port(e), e->pcp_nonce, PCP_TIMEOUT_MS, NULL);
		if (rc == NATT_ERR_RESOURCES)
			rc = NATT_ERR_NOT_FOUND;
	} else if (e->technique == NATT_TECH_UPNP) {
		if (!T.igd.open && natt_router_gateway())
			ensure_igd((char[64]){ 0 }, 64);
		int code = 0;
		rc = T.igd.open ? natt_igd_pinhole_delete(&T.igd, natt_router_gateway6(), &e->pinhole_address,
		                                          e->upnp_pinhole_id, &code)
		                : NATT_ERR_NO_IGD;
		if (rc == -ECONNREFUSED && refind_igd((char[64]){ 0 }, 64) == 0)
			rc = natt_igd_pinhole_delete(&T.igd, natt_router_gateway6(), &e->pinhole_address, e->upnp_pinhole_id,
			                             &code);
		if (rc == NATT_ERR_UPNP && code == NATT_UPNP_NO_SUCH_PINHOLE)
			rc = NATT_ERR_NOT_FOUND;
	}
	return rc;
}

/* 1: the technique answered here since the gateway last changed; -1: it did not answer lately; 0: not
 * known. */
static int presence(enum natt_technique t, int64_t now)
{
	switch (t) {
	case NATT_TECH_UPNP:
		if (T.igd.open || T.found.location[0])
			return 1;
		/* (Another process's IGD beside the status file may be stale: the search is asked too.) */
		return now < T.upnp_absent_until ? -1 : 0;
	case NATT_TECH_NATPMP:
		return now < T.natpmp_absent_until ? -1 : T.natpmp_seen ? 1 : 0;
	case NATT_TECH_PCP:
		return now < T.pcp_absent_until ? -1 : T.pcp_seen ? 1 : 0;
	default:
		return -1;
	}
}

/* What the discovery found of t; absent_ms > 0: t is not asked again for that long. */
static void learn(const struct natt_discovery *d, enum natt_technique t, int64_t now, int64_t absent_ms)
{
	bool absent = absent_ms > 0;
	if (t == NATT_TECH_UPNP) {
		if (d->answer[t] == NATT_DISCOVERY_ANSWERED) {
			snprintf(T.found.location, sizeof(T.found.location), "%s", d->igd_location);
			T.found.bootid = d->igd_bootid;
		} else if (absent) {
			T.upnp_absent_until = now + absent_ms;
		}
	} else if (t == NATT_TECH_NATPMP) {
		if (d->answer[t] == NATT_DISCOVERY_ANSWERED) {
			T.natpmp_seen = true;
			if (d->natpmp_has_address) {
				note_epoch(d->natpmp_epoch);
				T.natpmp_external = d->natpmp_external;
				T.natpmp_external_at = now;
			}
		} else if (absent) {
			natpmp_absent_for(absent_ms);
		}
	} else if (t == NATT_TECH_PCP) {
		if (d->answer[t] == NATT_DISCOVERY_ANSWERED) {
			T.pcp_seen = true;
			note_epoch(d->pcp_epoch);
		} else if (absent) {
			pcp_absent_for(absent_ms);
		}
	}
}

void natt_techniques_discover(enum natt_technique *order, size_t count)
{
	int64_t now = natt_now_ms();
	struct natt_discovery d = { 0 };
	int known[NATT_TECH_COUNT] = { 0 };
	for (size_t i = 0; i < count; i++) {
		/* UPnP first in order, and another process of this host found the IGD: opened now, nothing
		 * else is asked (the search is for when it cannot be). */
		if (i == 0 && order[i] == NATT_TECH_UPNP && presence(NATT_TECH_UPNP, now) == 0 &&
		    open_cached_igd(CACHED_IGD_TIMEOUT_MS) == 0)
			igd_opened();
		known[order[i]] = presence(order[i], now);
	}
	for (size_t i = 0; i < count && !d.fallback_known; i++) {
		if (known[order[i]] == 0)
			d.order[d.count++] = order[i];
		/* The preferred technique known to be there: nothing after it is asked. */
		d.fallback_known = known[order[i]] > 0;
	}
	/* One technique alone and nothing to fall back on: its own exchange is its discovery. */
	if (d.count == 0 || (d.count == 1 && !d.fallback_known))
		return;
	natt_discovery_run(gateway(), DISCOVERY_TIMEOUT_MS, &d);
	now = natt_now_ms();
	size_t chosen = 0;
	while (chosen < d.count && d.answer[d.order[chosen]] != NATT_DISCOVERY_ANSWERED)
		chosen++;
	for (size_t i = 0; i < d.count; i++) {
		enum natt_technique t = d.order[i];
		int64_t absent_ms = 0;
		if (d.answer[t] == NATT_DISCOVERY_ABSENT || (d.answer[t] == NATT_DISCOVERY_SILENT && d.timed_out))
			absent_ms = ABSENT_RECHECK_MS;
		else if (d.answer[t] == NATT_DISCOVERY_SILENT && i < chosen)
			absent_ms = PASSED_OVER_RECHECK_MS; /* passed over after the grace */
		learn(&d, t, now, absent_ms);
		known[t] = d.answer[t] == NATT_DISCOVERY_ANSWERED ? 1 : absent_ms ? -1 : 0;
		if (d.answer[t] == NATT_DISCOVERY_ANSWERED)
			natt_debug("discovery: %s answered in %lld ms", natt_technique_name(t), (long long)d.answered_after_ms[t]);
		else
			natt_debug("discovery: %s %s", natt_technique_name(t),
			           d.answer[t] == NATT_DISCOVERY_ABSENT ? "refused" : "silent");
	}
	/* Those there first, then those not heard from, then those not there (their reasons still count),
	 * each group in the order of preference. */
	enum natt_technique sorted[NATT_TECH_COUNT + 1];
	size_t n = 0;
	for (int want = 1; want >= -1; want--)
		for (size_t i = 0; i < count; i++)
			if (known[order[i]] == want)
				sorted[n++] = order[i];
	memcpy(order, sorted, n * sizeof(*order));
}

int natt_technique_map(enum natt_technique technique, struct natt_entry *e, char *why, size_t len)
{
	if (e->pinhole) {
		if (!natt_router_gateway6())
			return NATT_ERR_NO_GATEWAY;
		switch (technique) {
		case NATT_TECH_UPNP: return try_upnp_pinhole(e, why, len);
		case NATT_TECH_PCP: return try_pcp_pinhole(e, why, len);
		case NATT_TECH_NATPMP:
			snprintf(why, len, "NAT-PMP opens no IPv6 pinholes");
			return NATT_ERR_UNSUPPORTED;
		default: return -ENOTSUP;
		}
	}
	if (!natt_router_gateway())
		return NATT_ERR_NO_GATEWAY;
	switch (technique) {
	case NATT_TECH_UPNP: return try_upnp(e, why, len);
	case NATT_TECH_NATPMP: return try_natpmp(e, why, len);
	case NATT_TECH_PCP: return try_pcp(e, why, len);
	default: return -ENOTSUP;
	}
}

int natt_technique_delete(struct natt_entry *e)
{
	if (e->pinhole)
		return natt_router_gateway6() ? delete_pinhole(e) : NATT_ERR_NO_GATEWAY;
	if (!natt_router_gateway())
		return NATT_ERR_NO_GATEWAY;
	int rc = 0, code = 0;
	if (e->technique == NATT_TECH_UPNP) {
		if (!T.igd.open)
			ensure_igd((char[64]){ 0 }, 64);
		/* Made or renewed at this opening of the IGD, its lease running: the router still holds it
		 * for us (it refuses another host a port we hold), so it is deleted at once. Otherwise (the
		 * router restarted, was found again, or the lease ran out) the port may have gone to another
		 * client since: deleted only if the router still names this host and port. */
		bool ours = T.igd.open && e->upnp_generation == T.igd_generation &&
		            (e->expires == 0 || e->expires > time(NULL));
		if (ours) {
			rc = natt_igd_delete(&T.igd, e->protocol, e->external_port, &code);
			if (rc == -ECONNREFUSED) {
				ours = false; /* the router restarted: found again, and asked first */
				refind_igd((char[64]){ 0 }, 64);
			}
		}
		if (!ours) {
			struct natt_igd_entry current;
			rc = T.igd.open ? natt_igd_get_entry(&T.igd, e->protocol, e->external_port, &current, &code)
			                : NATT_ERR_NO_IGD;
			if (rc == -ECONNREFUSED && refind_igd((char[64]){ 0 }, 64) == 0)
				rc = natt_igd_get_entry(&T.igd, e->protocol, e->external_port, &current, &code);
			if (rc == 0 && current.internal_port == natt_entry_local_port(e) &&
			    strcmp(current.internal_client, e->internal_client) == 0)
				rc = natt_igd_delete(&T.igd, e->protocol, e->external_port, &code);
			else if (rc == 0)
				natt_info("not deleting %s port %u: now held by %s:%u", natt_protocol_text(e->protocol),
				          e->external_port, current.internal_client, current.internal_port);
		}
	} else if (e->technique == NATT_TECH_NATPMP) {
		rc = natt_natpmp_delete(gateway(), e->protocol, natt_entry_local_port(e), NATPMP_TIMEOUT_MS, NULL);
	} else if (e->technique == NATT_TECH_PCP) {
		struct sockaddr_in server, internal;
		bool specific;
		pcp_addresses(e, &server, &internal, &specific);
		rc = natt_pcp_delete((struct sockaddr *)&server, specific ? (struct sockaddr *)&internal : NULL,
		                     e->protocol, natt_entry_local_port(e), e->pcp_nonce, PCP_TIMEOUT_MS, NULL);
		if (rc == NATT_ERR_RESOURCES)
			rc = NATT_ERR_NOT_FOUND; /* miniupnpd's answer for a mapping it no longer has */
	}
	return rc;
}

void natt_techniques_verify(const struct natt_entry *upnp, const struct natt_entry *natpmp)
{
	if (natpmp) {
		struct in_addr external;
		struct natt_natpmp_info info;
		if (natt_natpmp_external_address(gateway(), NATPMP_TIMEOUT_MS, &external, &info) < 0)
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
		int rc = T.igd.open ? natt_igd_get_entry(&T.igd, upnp->protocol, upnp->external_port, &current, NULL)
		                    : -ECONNREFUSED;
		if (rc == -ECONNREFUSED)
			natt_igd_close(&T.igd);
		if (rc < 0 || current.internal_port != natt_entry_local_port(upnp) ||
		    natt_igd_external_address(&T.igd, &external, NULL) < 0 || external.s_addr != upnp->external.s_addr)
			natt_router_mark_due(NATT_TECH_UPNP);
	}
}

/* What the discovery learnt of the gateway, forgotten. */
static void forget_gateway(void)
{
	T.upnp_absent_until = T.natpmp_absent_until = T.pcp_absent_until = T.pcp6_absent_until = 0;
	T.natpmp_seen = T.pcp_seen = false;
	T.found.location[0] = '\0';
	T.stale_cached[0] = '\0';
	T.cached_services_failed = false;
	T.natpmp_external_at = 0;
}

void natt_techniques_gateway_changed(void)
{
	natt_igd_close(&T.igd);
	forget_gateway();
}

void natt_techniques_igd_announced(const char *location, int bootid, bool byebye)
{
	if (byebye) {
		T.igd_announced_away = T.igd_announced_away || T.igd.open;
		natt_igd_close(&T.igd);
		return;
	}
	bool restarted = T.igd.open && (strcmp(location, T.igd.location) != 0 ||
	                                (bootid >= 0 && T.igd.bootid >= 0 && bootid != T.igd.bootid));
	if (restarted) {
		natt_info("the router's UPnP device restarted (%s)", location);
		natt_igd_close(&T.igd);
		T.igd_announced_away = true;
	}
	if (!T.igd.open) {
		/* One the announcements took away is opened again through the description it announces now
		 * (its services may have changed), and kept beside the status file with its BOOTID: the
		 * file's is from before. (Before natt opened one, the file is as good.) */
		if (T.igd_announced_away && strlen(location) < sizeof(T.found.location) &&
		    natt_url_on_host(location, gateway())) {
			snprintf(T.found.location, sizeof(T.found.location), "%s", location);
			T.found.bootid = bootid;
		}
		T.upnp_absent_until = 0;
		natt_router_mark_due(NATT_TECH_UPNP);
	}
}

bool natt_techniques_igd_is(const char *location, long bootid)
{
	return T.igd.open && strcmp(location, T.igd.location) == 0 &&
	       !(bootid >= 0 && T.igd.bootid >= 0 && bootid != T.igd.bootid);
}

void natt_techniques_natpmp_announced(uint32_t epoch)
{
	/* (The same server answers both: its announcement speaks for PCP too.) */
	T.natpmp_absent_until = T.pcp_absent_until = T.pcp6_absent_until = 0;
	note_epoch(epoch);
}

void natt_techniques_address_stale(void)
{
	T.upnp_external_at = 0;
}

void natt_techniques_close(void)
{
	natt_igd_close(&T.igd);
}

void natt_techniques_after_fork_child(void)
{
	memset(&T.igd, 0, sizeof(T.igd)); /* the parent's IGD: the child finds its own */
	forget_gateway();
	T.epoch.known = T.epoch6.known = false;
}
