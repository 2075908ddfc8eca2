/* The UPnP Internet Gateway Device as the engine and the CLI use it: found fast (first SSDP answer from
 * the gateway, no fixed window), then port mapping actions through miniupnpc. One implementation of each
 * step, shared by every front end. Not thread-safe per object: one thread uses one struct natt_igd. */
#ifndef NATT_IGD_H
#define NATT_IGD_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include <miniupnpc/miniupnpc.h>

#include "natt/common.h"

struct natt_igd {
	struct UPNPUrls urls;
	struct IGDdatas data;
	char lan_address[64];   /* our address as the IGD sees it (from the description fetch) */
	char location[512];     /* description URL, for re-opening without discovery */
	long bootid;            /* BOOTID.UPNP.ORG of the answer, -1 if none */
	bool v2;                /* WANIPConnection:2 — has AddAnyPortMapping */
	bool open;
};

/* UPnP errors the engine reacts to. */
enum {
	NATT_UPNP_INVALID_ARGS = 402,
	NATT_UPNP_ACTION_FAILED = 501,
	NATT_UPNP_NOT_AUTHORIZED = 606,
	NATT_UPNP_NO_SUCH_ENTRY = 714,
	NATT_UPNP_CONFLICT = 718,
	NATT_UPNP_SAME_PORT_REQUIRED = 724,
	NATT_UPNP_ONLY_PERMANENT = 725,
	NATT_UPNP_WILDCARD_ONLY = 727,
	NATT_UPNP_NO_PORT_MAPS = 728,
	NATT_UPNP_CONFLICT_OTHER = 729,
};

/* Finds the IGD answering SSDP from `gateway` (NULL: any) within timeout_ms and opens it.
 * Returns 0, NATT_ERR_NO_IGD, or -errno. */
int natt_igd_discover(const struct in_addr *gateway, int timeout_ms, struct natt_igd *igd);

/* Opens the IGD at a known description URL (no discovery). 0 or NATT_ERR_NO_IGD. */
int natt_igd_open_url(const char *location, struct natt_igd *igd);

void natt_igd_close(struct natt_igd *igd);

/* All actions: return 0; NATT_ERR_UPNP with *upnp_code set to the router's error code;
 * -ECONNREFUSED when the control URL does not answer (router restarted: discover again);
 * NATT_ERR_BAD_REPLY. upnp_code may be NULL. */
int natt_igd_external_address(struct natt_igd *igd, struct in_addr *external, int *upnp_code);

/* AddPortMapping (or AddAnyPortMapping when any_port and the IGD is v2). *granted receives the
 * external port the router gave. */
int natt_igd_add(struct natt_igd *igd, enum natt_protocol protocol, uint16_t external_port,
                 const char *internal_client, uint16_t internal_port, uint32_t lease,
                 const char *description, bool any_port, uint16_t *granted, int *upnp_code);

int natt_igd_delete(struct natt_igd *igd, enum natt_protocol protocol, uint16_t external_port,
                    int *upnp_code);

struct natt_igd_entry {
	enum natt_protocol protocol;
	uint16_t external_port;
	uint16_t internal_port;
	char internal_client[64];
	char description[96];
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

/* The host-wide cache of the IGD's description URL, a file beside the status file named after the
 * gateway, so a second natt process skips discovery. read: 0 or -errno; write: best effort. */
int natt_igd_cache_read(const char *status_path, const struct in_addr *gateway, char *location, size_t len);
void natt_igd_cache_write(const char *status_path, const struct in_addr *gateway, const char *location);

/* A short English meaning of a UPnP IGD error code ("ConflictInMappingEntry: ..."). */
const char *natt_upnp_error_text(int upnp_code);

#endif
