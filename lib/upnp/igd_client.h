/* The UPnP Internet Gateway Device as the engine, the CLI and libnatt's natt/igd.h use it: found fast
 * (first SSDP answer from the gateway, no fixed window), its description read by natt's own parser
 * (desc.c), then each port mapping action as one natt_upnp_call() with named arguments and results
 * (natt's own SOAP and HTTP: upnp/call.c, upnp/http.c). One implementation of each step, shared by
 * every front end. Not thread-safe per object: one thread uses one struct natt_igd. */
#ifndef NATT_LIB_IGD_H
#define NATT_LIB_IGD_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "natt/common.h"
#include "natt/igd.h"
#include "natt/upnp.h"
#include "upnp/ssdp.h"

/* Holds no pointers: a copy (or one zeroed after fork) is safe. */
struct natt_igd {
	char control_url[NATT_UPNP_URL_MAX]; /* of the WAN connection service */
	char service_type[256];              /* that service's type, as the device wrote it */
	char lan_address[64];   /* our address toward the IGD (natt_local_address_toward the control host) */
	char location[512];     /* description URL, for re-opening without discovery */
	long bootid;            /* BOOTID.UPNP.ORG of the answer, -1 if none */
	int timeout_ms;         /* each action's bound (natt_upnp_call); <= 0: NATT_UPNP_IGD_TIMEOUT_MS */
	bool v2;                /* WANIPConnection:2 or later — has AddAnyPortMapping */
	bool open;
	/* IGDv2's WANIPv6FirewallControl, "" when the device has none: IPv6 pinholes. */
	char fc_control_url[NATT_UPNP_URL_MAX];
	char fc_service_type[128];
};

/* UPnP errors the engine reacts to. */
enum {
	NATT_UPNP_INVALID_ACTION = 401,
	NATT_UPNP_INVALID_ARGS = 402,
	NATT_UPNP_NO_SUCH_PINHOLE = 704, /* WANIPv6FirewallControl's NoSuchEntry */
	NATT_UPNP_ACTION_FAILED = 501,
	NATT_UPNP_NOT_AUTHORIZED = 606,
	NATT_UPNP_BAD_INDEX = 713,
	NATT_UPNP_NO_SUCH_ENTRY = 714,
	NATT_UPNP_CONFLICT = 718,
	NATT_UPNP_SAME_PORT_REQUIRED = 724,
	NATT_UPNP_ONLY_PERMANENT = 725,
	NATT_UPNP_WILDCARD_ONLY = 727,
	NATT_UPNP_NO_PORT_MAPS = 728,
	NATT_UPNP_CONFLICT_OTHER = 729,
};

/* The first usable answer of an IGD search: from `gateway` (NULL: any host), with a description URL on
 * the address that answered. natt_igd_take_answer is the natt_ssdp_search callback that fills it. */
struct natt_igd_answer {
	const struct in_addr *gateway;
	char location[512];
	long bootid;
};
int natt_igd_take_answer(const struct natt_ssdp_reply *reply, void *ctx);

/* Begins the SSDP search natt_igd_discover makes (IGD:1), for a caller that waits on other sockets too
 * (upnp/ssdp.h): to the multicast group (to NULL), or to one host's port 1900 on a socket connected to
 * it (its refusal seen). 0 or a negative code. */
int natt_igd_search_begin(struct natt_ssdp_search *search, const struct in_addr *to);

/* Finds the IGD answering SSDP from `gateway` (NULL: any) within timeout_ms and opens it.
 * Returns 0, NATT_ERR_NO_IGD, or -errno. */
int natt_igd_discover(const struct in_addr *gateway, int timeout_ms, struct natt_igd *igd);

/* Opens the IGD at a known description URL (no discovery): its WANIPConnection:2, else :1, else
 * WANPPPConnection:1 (the first of a type in document order). 0 or NATT_ERR_NO_IGD. */
int natt_igd_open_url(const char *location, struct natt_igd *igd);
/* The same, the description fetched within timeout_ms (not NATT_UPNP_IGD_TIMEOUT_MS). */
int natt_igd_open_url_within(const char *location, int timeout_ms, struct natt_igd *igd);

/* Opens the IGD an earlier opening found (the host-wide cache: its description URL, WAN connection
 * service and firewall service, as natt_igd_open_url() took them) without fetching the description:
 * the same checks on what it names (a WAN connection service's type; control URLs on the description's
 * host), then one GetExternalIPAddress within timeout_ms, which tells that the service still answers
 * there (a restarted miniupnpd listens on another port) and gives *external (*have_external true
 * when it did). 0 (also when the service answered with a UPnP error or no address); NATT_ERR_NO_IGD
 * when nothing answers there; -EINVAL when what it names is not an IGD natt calls, or what answered
 * is no such service, or nothing answered within timeout_ms (its description may tell otherwise). */
int natt_igd_open_known(const struct natt_igd *known, int timeout_ms, struct natt_igd *igd,
                        struct in_addr *external, bool *have_external);

void natt_igd_close(struct natt_igd *igd);

/* All actions: return 0; NATT_ERR_UPNP with *upnp_code set to the router's error code;
 * -ECONNREFUSED when the control URL does not answer (router restarted: discover again);
 * NATT_ERR_BAD_REPLY. upnp_code may be NULL. */
int natt_igd_external_address(struct natt_igd *igd, struct in_addr *external, int *upnp_code);

/* AddPortMapping (or AddAnyPortMapping when any_port and the IGD is v2), one request. *granted
 * receives the external port the router gave. */
int natt_igd_add(struct natt_igd *igd, enum natt_protocol protocol, uint16_t external_port,
                 const char *internal_client, uint16_t internal_port, uint32_t lease,
                 const char *description, bool any_port, uint16_t *granted, int *upnp_code);

/* The lease policy for routers that refuse the lease asked for, after AddPortMapping with `asked`
 * failed with UPnP error upnp_code: 725 OnlyPermanentLeasesSupported → 0 (permanent); 402 Invalid Args
 * to a lease of 0 (IGDv2 forbids it) → NATT_DEFAULT_LIFETIME. Returns true with *next set when the
 * request is worth repeating with *next. Pure function. */
bool natt_igd_lease_fallback(uint32_t asked, int upnp_code, uint32_t *next);

/* Runs add(lease) with the lease policy: asks *lease, then what natt_igd_lease_fallback() says, never
 * the same lease twice (a router that answers 725 to any lease and 402 to 0 gets three requests). On
 * 0, *lease is the lease granted. add returns as natt_igd_add() and sets its *upnp_code. */
int natt_igd_with_lease_policy(uint32_t *lease, int (*add)(uint32_t lease, int *upnp_code, void *ctx), void *ctx,
                               int *upnp_code);

/* natt_igd_add() with the lease policy: *lease is the lease asked for, and on 0 the lease granted.
 * Used by the engine, the CLI and natt_upnp_igd_map(). */
int natt_igd_map(struct natt_igd *igd, enum natt_protocol protocol, uint16_t external_port,
                 const char *internal_client, uint16_t internal_port, uint32_t *lease, const char *description,
                 bool any_port, uint16_t *granted, int *upnp_code);

int natt_igd_delete(struct natt_igd *igd, enum natt_protocol protocol, uint16_t external_port,
                    int *upnp_code);

struct natt_igd_entry {
	enum natt_protocol protocol;
	uint16_t external_port;
	uint16_t internal_port;
	char internal_client[64];
	char description[256];
	char remote_host[64];
	uint32_t lease;
	bool enabled;
};

/* GetSpecificPortMappingEntry: the entry of (protocol, external_port). NATT_ERR_NOT_FOUND if none. */
int natt_igd_get_entry(struct natt_igd *igd, enum natt_protocol protocol, uint16_t external_port,
                       struct natt_igd_entry *entry, int *upnp_code);

/* GetGenericPortMappingEntry: entry number index. NATT_ERR_NOT_FOUND past the end. */
int natt_igd_get_entry_at(struct natt_igd *igd, unsigned index, struct natt_igd_entry *entry,
                          int *upnp_code);

/* The whole table: entries 0, 1, ... until the router says there is no more, at most max. *entries:
 * a new array to free() (NULL when empty). Returns the number of entries or a negative code. */
int natt_igd_read_table(struct natt_igd *igd, size_t max, struct natt_igd_entry **entries, int *upnp_code);

/* Deletes the mapping of (protocol, external_port) only if the router's entry names internal_client
 * (and internal_port, unless 0): never what another host holds. *found (may be NULL) receives the entry
 * read. Returns 0 when deleted; NATT_ERR_NOT_FOUND (no such entry); -EPERM (the entry is another's:
 * *found says whose); or an action's error. */
int natt_igd_delete_own(struct natt_igd *igd, enum natt_protocol protocol, uint16_t external_port,
                        const char *internal_client, uint16_t internal_port, struct natt_igd_entry *found,
                        int *upnp_code);

/* IPv6 pinholes (WANIPv6FirewallControl:1 of an IGDv2). A router in secure mode (miniupnpd's default)
 * opens a pinhole only for the address the request comes from: so these go to the service's control
 * path at the router's IPv6 address `router` (a link-local one with its scope id), from `from` (NULL:
 * this host's source address toward it), which is the pinhole's internal client (*internal receives
 * it, may be NULL). lease: seconds, 1-86400. Return 0; NATT_ERR_UNSUPPORTED when the IGD has no such
 * service; -EINVAL; or an action's error (NATT_ERR_UPNP: 606 not authorized, 704 no such pinhole...). */
int natt_igd_pinhole_add(struct natt_igd *igd, const struct sockaddr_in6 *router, const struct in6_addr *from,
                         enum natt_protocol protocol, uint16_t port, uint32_t lease, struct in6_addr *internal,
                         uint16_t *unique_id, int *upnp_code);
int natt_igd_pinhole_update(struct natt_igd *igd, const struct sockaddr_in6 *router, const struct in6_addr *from,
                            uint16_t unique_id, uint32_t lease, int *upnp_code);
int natt_igd_pinhole_delete(struct natt_igd *igd, const struct sockaddr_in6 *router, const struct in6_addr *from,
                            uint16_t unique_id, int *upnp_code);

/* The host-wide cache of the IGD found, a file beside the status file named after the gateway, so a
 * second natt process skips discovery and the description's fetch: its description URL, BOOTID and
 * the services natt_igd_open_url() took (written by natt_igd_cache_write from an open IGD). read
 * fills location, bootid (-1: none) and, when the file names them, control_url and service_type
 * (else "") and fc_control_url and fc_service_type (else ""), no value the writer would not write
 * (a space or a control character); it opens nothing (natt_igd_open_known or natt_igd_open_url do).
 * read: 0 or -errno; write: best effort. */
int natt_igd_cache_read(const char *status_path, const struct in_addr *gateway, struct natt_igd *cached);
void natt_igd_cache_write(const char *status_path, const struct in_addr *gateway, const struct natt_igd *igd);
/* Whether cached (as natt_igd_cache_read filled it) names igd: its URL, BOOTID and services, so that
 * writing igd would change nothing. */
bool natt_igd_cache_holds(const struct natt_igd *cached, const struct natt_igd *igd);

#endif
