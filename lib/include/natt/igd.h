/* natt — port mappings at the router through UPnP IGD: what Racket's nat-traversal offers as
 * upnp-external-ip-address, upnp-map-port!, upnp-delete-mapping! and its mapping queries, over the very
 * code natt's engine and the natt command use (the first SSDP answer from the gateway, the IGD's
 * description read by natt, SOAP actions over natt's bounded HTTP).
 *
 * A struct natt_upnp_igd is one router's WAN connection service — WANIPConnection:2, else :1, else
 * WANPPPConnection:1 — found once and then used for any number of calls. For any other action of any
 * service, see natt/upnp.h.
 *
 * Common rules:
 * - Every call blocks: use them from a thread that may wait. timeout_ms (<= 0: NATT_UPNP_IGD_TIMEOUT_MS)
 *   bounds each SOAP exchange, answer included (see natt/upnp.h).
 * - Thread-safety: different handles may be used in parallel; one handle must not be used by two
 *   threads at once (serialize its calls yourself); natt_upnp_igd_close() is its last call.
 * - Errors every call may return: NATT_ERR_UPNP when the router answered with a UPnP error (*upnp_code
 *   says which; natt_upnp_error_text() gives its meaning); -ECONNREFUSED when the control URL does not
 *   answer (the router restarted, perhaps on another port: close the handle and find the IGD again);
 *   NATT_ERR_BAD_REPLY; -EINVAL for a NULL handle or a bad argument; -ENOMEM. upnp_code may be NULL; it
 *   is set to 0 whenever the result is not NATT_ERR_UPNP.
 * - Every socket is closed before the call returns. natt prints nothing. */
#ifndef NATT_IGD_H
#define NATT_IGD_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "natt/common.h"
#include "natt/mapping.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NATT_UPNP_IGD_TIMEOUT_MS 3000

struct natt_upnp_igd;

/* What a handle talks to. Strings are NUL-terminated. */
struct natt_upnp_igd_info {
	char location[512];      /* the description URL (the SSDP answer's LOCATION) */
	char control_url[1024];  /* where the actions go */
	char service_type[256];  /* e.g. "urn:schemas-upnp-org:service:WANIPConnection:2" */
	struct in_addr internal; /* this host's address toward the router: the mappings' internal client */
	bool any_port;           /* IGDv2 (AddAnyPortMapping): the router may pick another external port */
};

/* One entry of the router's mapping table. */
struct natt_upnp_igd_entry {
	struct natt_mapping mapping; /* internal_address is AF_INET, or AF_UNSPEC when the router names no
	                                IPv4 address; lifetime: the lease the router reports (miniupnpd: the
	                                seconds left), 0 for a permanent mapping */
	char internal_client[64];    /* the internal client as the router wrote it */
	char description[256];
	char remote_host[64];        /* "" when any remote host may use the mapping */
	bool enabled;
};

/* natt_upnp_igd_find - finds the router's IGD: an SSDP search whose first answer from the gateway
 * ends the wait (no fixed window), then the IGD's description.
 *
 * gateway: the router's address; NULL for the default route's gateway. Answers from other hosts are
 *   ignored: only the gateway can map ports for us.
 * timeout_ms: how long to wait for the SSDP answer (> 0); the description fetch follows.
 * igd: receives a new handle; free it with natt_upnp_igd_close().
 *
 * Returns 0; NATT_ERR_NO_GATEWAY (no default route, gateway NULL); NATT_ERR_NO_IGD (no answer in time,
 * or the description names no WAN connection service); -EINVAL; -ENOMEM; another -errno when the
 * search could not be sent. Thread-safe. */
NATT_API int natt_upnp_igd_find(const struct in_addr *gateway, int timeout_ms, struct natt_upnp_igd **igd);

/* natt_upnp_igd_info - copies what the handle talks to into *info. Returns 0 or -EINVAL. */
NATT_API int natt_upnp_igd_info(const struct natt_upnp_igd *igd, struct natt_upnp_igd_info *info);

/* natt_upnp_igd_external_address - GetExternalIPAddress: the router's external IPv4 address. A private
 * or shared (RFC 1918 / 6598) one means the router is itself behind another NAT. Errors: the common
 * ones. */
NATT_API int natt_upnp_igd_external_address(struct natt_upnp_igd *igd, int timeout_ms, struct in_addr *external,
                                            int *upnp_code);

/* natt_upnp_igd_map - maps external_port on the router to internal_port of this host (the address in
 * natt_upnp_igd_info().internal).
 *
 * external_port: the port wished for; 0 means "any": the internal port is asked for, and on an IGDv2 the
 *   router may grant another one when that is taken (AddAnyPortMapping). Otherwise exactly that port,
 *   or the router's refusal (UPnP 718 ConflictInMappingEntry when another host holds it). Asking again
 *   for a port this host holds renews the mapping.
 * lifetime: the lease in seconds (0 asks for a permanent mapping). A router that only keeps permanent
 *   mappings (UPnP 725) is asked again with 0; one that refuses 0 (UPnP 402, as IGDv2 does) with 3600 s.
 * description: shown in the router's table; NULL means "libnatt".
 * out: receives the mapping granted: the external port, and the lease granted in out->lifetime.
 *
 * Errors: the common ones, and -EINVAL for a port 0 or a protocol other than NATT_TCP / NATT_UDP. */
NATT_API int natt_upnp_igd_map(struct natt_upnp_igd *igd, enum natt_protocol protocol, uint16_t internal_port,
                               uint16_t external_port, uint32_t lifetime, const char *description,
                               int timeout_ms, struct natt_mapping *out, int *upnp_code);

/* natt_upnp_igd_unmap - deletes the mapping of external_port, if it is this host's: the entry is read
 * first, and an entry whose internal client is another host is left alone.
 * Returns 0; NATT_ERR_NOT_FOUND when the router has no such mapping; -EPERM when it maps to another
 * host (nothing is deleted); the common errors. */
NATT_API int natt_upnp_igd_unmap(struct natt_upnp_igd *igd, enum natt_protocol protocol, uint16_t external_port,
                                 int timeout_ms, int *upnp_code);

/* natt_upnp_igd_get_mapping - GetSpecificPortMappingEntry: the entry of (protocol, external_port),
 * whoever holds it. Returns 0; NATT_ERR_NOT_FOUND when there is none; the common errors. */
NATT_API int natt_upnp_igd_get_mapping(struct natt_upnp_igd *igd, enum natt_protocol protocol,
                                       uint16_t external_port, int timeout_ms, struct natt_upnp_igd_entry *entry,
                                       int *upnp_code);

/* natt_upnp_igd_list - the router's whole mapping table (GetGenericPortMappingEntry 0, 1, ... until the
 * router says there is no more; at most 4096 entries, one exchange each; timeout_ms applies to each).
 * entries, count: receive a new array (NULL when the table is empty); release it with free().
 * Returns the number of entries (>= 0) or an error: the common ones. */
NATT_API int natt_upnp_igd_list(struct natt_upnp_igd *igd, int timeout_ms, struct natt_upnp_igd_entry **entries,
                                size_t *count, int *upnp_code);

/* IPv6 pinholes through the IGDv2 service WANIPv6FirewallControl:1: the router lets connections from
 * the internet through its firewall to port of this host's IPv6 address (no NAT: the address stays).
 * The handle is found over IPv4 as for mappings; each pinhole request then goes to the same service at
 * the router's IPv6 address, because a router in secure mode (miniupnpd's default) opens a pinhole
 * only for the address the request comes from.
 * router: the router's IPv6 address (a link-local one with its scope id); NULL: the IPv6 default
 *   router as natt_gateway_ipv6() finds it (natt/net.h).
 * Errors of all three: the common ones; NATT_ERR_UNSUPPORTED when the IGD has no
 *   WANIPv6FirewallControl service (an IGDv1) or its control URL is not on the host the description
 *   came from (the request keeps only that URL's port and path); NATT_ERR_NO_GATEWAY (router NULL, no IPv6 default
 *   route); NATT_ERR_UPNP with *upnp_code, e.g. 606 (not authorized), 702 (firewall closed), 704
 *   (no such pinhole; miniupnpd 2.3.1 says 402 for an ID it does not have). */

/* natt_upnp_igd_add_pinhole - AddPinhole for any remote host: protocol NATT_TCP or NATT_UDP, port
 * 1-65535 of this host, lifetime 1-86400 s (the service's bound). internal: receives this host's
 * address the pinhole opens (the source address toward router); may be NULL. unique_id: receives
 * the router's ID of the pinhole, needed to renew or delete it. */
NATT_API int natt_upnp_igd_add_pinhole(struct natt_upnp_igd *igd, const struct sockaddr_in6 *router,
                                       enum natt_protocol protocol, uint16_t port, uint32_t lifetime,
                                       int timeout_ms, struct in6_addr *internal, uint16_t *unique_id,
                                       int *upnp_code);

/* natt_upnp_igd_update_pinhole - UpdatePinhole: a new lifetime (1-86400 s) for pinhole unique_id. */
NATT_API int natt_upnp_igd_update_pinhole(struct natt_upnp_igd *igd, const struct sockaddr_in6 *router,
                                          uint16_t unique_id, uint32_t lifetime, int timeout_ms,
                                          int *upnp_code);

/* natt_upnp_igd_delete_pinhole - DeletePinhole of pinhole unique_id. */
NATT_API int natt_upnp_igd_delete_pinhole(struct natt_upnp_igd *igd, const struct sockaddr_in6 *router,
                                          uint16_t unique_id, int timeout_ms, int *upnp_code);

/* natt_upnp_igd_close - frees a handle (NULL is allowed). Nothing is sent to the router: mappings stay
 * until their lease ends or they are unmapped. */
NATT_API void natt_upnp_igd_close(struct natt_upnp_igd *igd);

/* natt_upnp_error_text - a short English meaning of a UPnP IGD error code, e.g. 718 →
 * "ConflictInMappingEntry: the external port is held by another client"; "UPnP error" for a code it
 * does not know. Never NULL. Thread-safe: static strings. */
NATT_API const char *natt_upnp_error_text(int upnp_code);

#ifdef __cplusplus
}
#endif
#endif
