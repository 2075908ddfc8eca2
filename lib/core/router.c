/* The router work, in the manager thread: the techniques (core/techniques.h) in order of preference,
 * renewals at half the lease, retries with back-off, deletions of what is still ours, the cheap
 * verification, and the reactions to the router's announcements. Exchanges with one gateway are
 * serialized across every natt process of the host by the gateway lock (core/gwlock.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/engine_internal.h"
#include "core/gwlock.h"
#include "core/techniques.h"
#include "natt/net.h"
#include "sys/sockstate.h"
#include "util/clock.h"
#include "util/log.h"

#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 60000
/* A permanent lease is still verified this often (half an hour, as for a lease of an hour). */
#define PERMANENT_RENEW_LEASE_S 3600
/* A socket on [::] of a host without a global IPv6 address looks again this often. */
#define ADDRESS_RECHECK_MS 60000
/* A run of work that waited this long for the gateway lock looks the gateway up again. */
#define GATEWAY_RECHECK_AFTER_WAIT_MS 100

static struct {
	bool have_gateway;
	struct in_addr gateway;
	bool have_gateway6;            /* the IPv6 default router, for pinholes */
	struct sockaddr_in6 gateway6;
	/* The host-wide gateway lock, taken once however deep the calls nest: a record lock is the
	 * process's, and closing a second fd of the lock file would drop the first one's lock. */
	int lock_fd;
	int lock_depth;
	/* The gateway was looked up when this run of work took the lock: the entries of the run use it
	 * (one route dump per run, not two per entry; a run stops taking entries after a second). Looked
	 * up again after a long wait for the lock, and after an entry that no router answered. */
	bool gateway_fresh;
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
		natt_techniques_gateway_changed();
		if (have) {
			char text[INET_ADDRSTRLEN];
			natt_debug("gateway %s", inet_ntop(AF_INET, &gw, text, sizeof(text)));
		}
	}
	bool changed = have != R.have_gateway || (have && gw.s_addr != R.gateway.s_addr);
	R.have_gateway = have;
	R.gateway = gw;
	/* Changed while a batch holds the lock: the new gateway's lock is the one to hold. */
	if (changed && R.lock_depth > 0) {
		/* (-1 until the new one is held: a fork meanwhile must not close in the child a number the
		 * program may have by then) */
		natt_gateway_unlock(&R.lock_fd);
		__atomic_store_n(&R.lock_fd, have ? natt_gateway_lock(cfg()->status_path, &R.gateway) : -1,
		                 __ATOMIC_RELEASE);
	}
}

static void refresh_gateway_unless_fresh(void)
{
	if (!R.gateway_fresh)
		refresh_gateway();
}

const struct in_addr *natt_router_gateway(void)
{
	return R.have_gateway ? &R.gateway : NULL;
}

/* (Read when an IPv6 side is worked on, not before: an IPv4-only program never looks.) */
static void refresh_gateway6(void)
{
	struct sockaddr_in6 gw;
	bool have = natt_gateway_ipv6(&gw) == 0;
	if (have && (!R.have_gateway6 || memcmp(&gw.sin6_addr, &R.gateway6.sin6_addr, 16) != 0)) {
		char text[INET6_ADDRSTRLEN];
		natt_debug("IPv6 router %s", natt_addr_format((const struct sockaddr *)&gw, text, sizeof(text)));
	}
	R.have_gateway6 = have;
	if (have)
		R.gateway6 = gw;
}

const struct sockaddr_in6 *natt_router_gateway6(void)
{
	return R.have_gateway6 ? &R.gateway6 : NULL;
}

/* Makes entries due now: the published ones of technique (all: every published one), and every one
 * that is waiting for a router. */
static void make_due(bool all, enum natt_technique technique)
{
	natt_techniques_address_stale(); /* whatever made us look again may have changed it too */
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

static bool unavailable(int rc)
{
	return rc == NATT_ERR_NO_IGD || rc == NATT_ERR_UNSUPPORTED || rc == NATT_ERR_NO_GATEWAY;
}

/* Processes waiting for the gateway lock take the router's answers to us for progress. */
static void tell_lock_waiters_answered(void)
{
	natt_gateway_answered(__atomic_load_n(&R.lock_fd, __ATOMIC_ACQUIRE));
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
		if (e->pinhole_side)
			e->pinhole_side->due_ms = NATT_DUE_NOW; /* its pinhole goes too, now */
		e->due_ms = NATT_DUE_NEVER;
		natt_manager_changed();
		return;
	}
	refresh_gateway_unless_fresh();
	if (e->pinhole) {
		refresh_gateway6();
		struct in6_addr address;
		char why[192];
		int found = natt_entry_pinhole_address(e, R.have_gateway6 ? &R.gateway6 : NULL, &address, why, sizeof(why));
		if (found == -1) {
			if (e->state == NATT_STATE_PUBLISHED)
				natt_router_unpublish(e); /* its address went away */
			set_outcome(e, NATT_STATE_LOCAL_ONLY, why);
			e->due_ms = now + ADDRESS_RECHECK_MS; /* an address may come (router advertisements) */
			return;
		}
		if (found < 0 && e->state == NATT_STATE_PUBLISHED) {
			address = e->pinhole_address; /* the list could not be read: keep what is open */
		} else if (found < 0) {
			set_outcome(e, NATT_STATE_PENDING, why);
			goto retry;
		}
		if (e->state == NATT_STATE_PUBLISHED && memcmp(&address, &e->pinhole_address, 16) != 0) {
			natt_router_unpublish(e); /* another address to publish: the old one's pinhole goes */
			set_outcome(e, NATT_STATE_PENDING, "the IPv6 address changed");
			e->pcp_nonce_set = false; /* the nonce names the address */
		}
		natt_engine_lock();
		e->pinhole_address = address;
		natt_engine_unlock();
	}
	if (e->pinhole ? !R.have_gateway6 : !R.have_gateway) {
		set_outcome(e, NATT_STATE_PENDING, e->pinhole ? "no IPv6 default router" : "no default gateway");
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
		if (!renewing && R.have_gateway)
			natt_techniques_discover(order, count);

		char reasons[192] = "", refusal[192] = "";
		enum natt_technique previous = e->technique;
		uint16_t previous_port = e->external_port;
		struct in_addr previous_external = e->external;
		for (size_t i = 0; i < count; i++) {
			char why[160] = "";
			int rc = natt_technique_map(order[i], e, why, sizeof(why));
			if (rc == -ENOTSUP)
				continue;
			if (rc == 0) {
				bool moved = !renewing || previous != e->technique || previous_port != e->external_port ||
				             previous_external.s_addr != e->external.s_addr;
				struct sockaddr_in ext = { .sin_family = AF_INET, .sin_addr = e->external };
				natt_engine_lock();
				e->double_nat = !e->pinhole && !natt_addr_is_global((const struct sockaddr *)&ext);
				e->expires = e->granted_lifetime ? time(NULL) + e->granted_lifetime : 0;
				if (moved)
					e->announced = false;
				natt_engine_unlock();
				set_outcome(e, NATT_STATE_PUBLISHED, e->double_nat ? "double-nat" : "");
				natt_manager_changed(); /* the expiry moved */
				tell_lock_waiters_answered();
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
retry:
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
		__atomic_store_n(&R.lock_fd, natt_gateway_lock(cfg()->status_path, &R.gateway), __ATOMIC_RELEASE);
	return true;
}

bool natt_router_lock_for_batch(void)
{
	refresh_gateway();
	int64_t asked = natt_now_ms();
	bool locked = natt_router_lock();
	if (locked && natt_now_ms() - asked >= GATEWAY_RECHECK_AFTER_WAIT_MS)
		refresh_gateway(); /* (a change now moves the hold to the new gateway's lock) */
	R.gateway_fresh = locked;
	return locked;
}

void natt_router_unlock(bool locked)
{
	if (locked && --R.lock_depth == 0) {
		natt_gateway_unlock(&R.lock_fd);
		R.gateway_fresh = false;
	}
}

/* Whether another entry of ours stands for the same mapping (SO_REUSEPORT groups: several sockets on
 * one port are one mapping until the last of them goes). */
static bool mapping_shared(const struct natt_entry *e)
{
	for (const struct natt_entry *o = natt_manager_entries(); o; o = o->next)
		if (o != e && !natt_entry_retiring(o) && o->state == NATT_STATE_PUBLISHED && o->protocol == e->protocol &&
		    o->technique == e->technique && o->external_port == e->external_port && o->pinhole == e->pinhole &&
		    (!e->pinhole || memcmp(&o->pinhole_address, &e->pinhole_address, 16) == 0) &&
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
	if (R.cleanup_deadline_ms) {
		/* The router answering the lock's holders while we waited for it is progress too (see
		 * natt_engine_shutdown). */
		int64_t moved_until = natt_min64(natt_lock_last_answer_ms() + NATT_CLEANUP_IDLE_MS, R.cleanup_cap_ms);
		if (moved_until > R.cleanup_deadline_ms)
			R.cleanup_deadline_ms = moved_until;
		if (natt_now_ms() > R.cleanup_deadline_ms)
			return; /* out of time at a termination signal: the lease ends it */
	}
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
	int rc = natt_technique_delete(e);
	if (rc >= 0 || rc == NATT_ERR_NOT_FOUND)
		tell_lock_waiters_answered();
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
	refresh_gateway_unless_fresh();
	bool locked = natt_router_lock();
	work_on(e);
	if (e->state == NATT_STATE_PENDING && !e->vanished)
		R.gateway_fresh = false; /* no router answered: the gateway may be why; the next entry looks */
	natt_router_unlock(locked);
}

/* (For the routers whose announcements we missed.) */
void natt_router_verify(void)
{
	struct natt_entry *upnp = NULL, *natpmp = NULL, *pcp = NULL;
	for (struct natt_entry *e = natt_manager_entries(); e; e = e->next) {
		if (e->state != NATT_STATE_PUBLISHED || natt_entry_retiring(e))
			continue;
		if (e->pinhole)
			continue; /* (the checks read the IPv4 side; a PCP pinhole's renewal would close it a moment,
			           * and a router's restart is announced to both) */
		if (e->technique == NATT_TECH_UPNP && !upnp)
			upnp = e;
		if (e->technique == NATT_TECH_NATPMP && !natpmp)
			natpmp = e;
		if (e->technique == NATT_TECH_PCP && !pcp)
			pcp = e;
	}
	/* PCP: one renewal now reads the epoch (a loss makes every PCP mapping due) and also makes that
	 * mapping again if the router dropped it without losing its state, which an epoch alone misses. */
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
	natt_techniques_verify(upnp, natpmp);
	natt_router_unlock(locked);
}

void natt_router_natpmp_announced(uint32_t epoch, struct in_addr external)
{
	natt_techniques_natpmp_announced(epoch);
	bool address_known = external.s_addr != htonl(INADDR_ANY);
	for (struct natt_entry *e = natt_manager_entries(); e; e = e->next)
		if (e->state == NATT_STATE_PUBLISHED && !natt_entry_retiring(e) && address_known && !e->pinhole &&
		    e->external.s_addr != external.s_addr)
			e->due_ms = NATT_DUE_NOW; /* the external address changed: renewing reads the new one */
	natt_router_mark_due(NATT_TECH_NATPMP);
	natt_router_mark_due(NATT_TECH_PCP);
}

void natt_router_limit_cleanup(int64_t idle_until, int64_t cap)
{
	R.cleanup_deadline_ms = idle_until;
	R.cleanup_cap_ms = cap;
	natt_lock_waits_end_by(cap);
}

bool natt_router_fd_moved(int from, int to)
{
	return natt_own_fd_moved(&R.lock_fd, from, to);
}

void natt_router_after_fork_child(void)
{
	/* A fork in the middle of an exchange: the parent's lock (a record lock: not the child's) and its
	 * depth must not make the child's manager believe it holds it. */
	natt_close_own_fd(&R.lock_fd);
	natt_lock_waits_after_fork_child();
	R.lock_depth = 0;
	R.gateway_fresh = false;
	R.have_gateway = R.have_gateway6 = false;
	natt_techniques_after_fork_child();
	R.cleanup_deadline_ms = R.cleanup_cap_ms = 0;
}
