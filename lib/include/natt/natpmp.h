/* natt — NAT-PMP (RFC 6886) client calls. Each call is one request/response exchange with the gateway,
 * retransmitted as the RFC asks (250 ms, doubling) until a reply comes or timeout_ms runs out. All are
 * blocking: use them from a thread that may wait (the natt engine calls them from its manager thread).
 * All functions are thread-safe: each call uses its own socket. With gateway NULL they ask the default
 * gateway, found as natt_gateway_ipv4() finds it (natt/net.h). */
#ifndef NATT_NATPMP_H
#define NATT_NATPMP_H

#include <netinet/in.h>
#include <stdint.h>

#include "natt/common.h"
#include "natt/mapping.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NATT_NATPMP_DEFAULT_TIMEOUT_MS 2000

/* What a reply also tells: the gateway's seconds since its epoch start. A client detects a router reboot
 * when this falls behind (see natt_natpmp_epoch_lost). */
struct natt_natpmp_info {
	uint32_t epoch;
};

/* natt_natpmp_external_address - ask the gateway for its external IPv4 address.
 * gateway: the gateway's address, or NULL for the IPv4 default gateway as natt_gateway_ipv4() finds it
 *   (natt/net.h). timeout_ms: total time to wait (<= 0: NATT_NATPMP_DEFAULT_TIMEOUT_MS).
 * external: receives the address; may be NULL. info: receives the reply's epoch; may be NULL.
 * Returns 0; NATT_ERR_NO_GATEWAY (gateway NULL and no IPv4 default route, or no reply in time),
 * NATT_ERR_UNSUPPORTED (the gateway serves no NAT-PMP: ICMP port unreachable, or result 1 or 5),
 * NATT_ERR_REFUSED (result 2), NATT_ERR_NETWORK (result 3), NATT_ERR_RESOURCES (result 4),
 * NATT_ERR_BAD_REPLY (another result code or an odd reply), or -errno (socket errors; with gateway
 * NULL, an error of natt_gateway_ipv4() when the routing table cannot be read). Thread-safe. */
NATT_API int natt_natpmp_external_address(const struct in_addr *gateway, int timeout_ms,
                                          struct in_addr *external, struct natt_natpmp_info *info);

/* natt_natpmp_map - create or refresh a mapping of this host's private_port (py-natpmp's
 * map_port, Racket's nat-pmp-map-port!).
 * gateway, timeout_ms, info: as for natt_natpmp_external_address(). protocol: NATT_TCP or NATT_UDP.
 * private_port: the local port, 1-65535. requested_public_port: the external port wished for (0: no
 * wish); the gateway may grant another, which out->external_port tells. lifetime: seconds (0 deletes;
 * see natt_natpmp_delete). out: receives the mapping granted (internal_address is AF_UNSPEC: NAT-PMP
 * maps the sender); may be NULL.
 * A refresh is the same call with the port granted before as requested_public_port.
 * Returns 0; -EINVAL (private_port 0, another protocol), or the errors of
 * natt_natpmp_external_address(). Thread-safe. */
NATT_API int natt_natpmp_map(const struct in_addr *gateway, enum natt_protocol protocol,
                             uint16_t private_port, uint16_t requested_public_port, uint32_t lifetime,
                             int timeout_ms, struct natt_mapping *out, struct natt_natpmp_info *info);

/* natt_natpmp_delete - delete the mapping of private_port (a map request with lifetime 0).
 * gateway, timeout_ms, info: as for natt_natpmp_external_address(). protocol: NATT_TCP or NATT_UDP.
 * private_port: 1-65535 (0 would delete them all: see natt_natpmp_unmap_all).
 * Returns 0 (also when there was no such mapping: NAT-PMP does not tell); -EINVAL (private_port 0,
 * another protocol), or the errors of natt_natpmp_external_address(). Thread-safe. */
NATT_API int natt_natpmp_delete(const struct in_addr *gateway, enum natt_protocol protocol,
                                uint16_t private_port, int timeout_ms, struct natt_natpmp_info *info);

/* natt_natpmp_unmap_all - delete every mapping of this host for protocol (private and public port 0,
 * lifetime 0; Racket's nat-pmp-unmap-all-ports!).
 * gateway, timeout_ms, info: as for natt_natpmp_external_address(). protocol: NATT_TCP or NATT_UDP.
 * Returns 0; -EINVAL (another protocol), or the errors of natt_natpmp_external_address().
 * Thread-safe. */
NATT_API int natt_natpmp_unmap_all(const struct in_addr *gateway, enum natt_protocol protocol,
                                   int timeout_ms, struct natt_natpmp_info *info);

/* natt_natpmp_epoch_lost - RFC 6886 3.6: true (1) when a reply's epoch shows that the gateway lost its
 * state since the previous reply: new < previous + elapsed * 7/8 - 2 s; else 0.
 * previous_epoch, new_epoch: the epochs of two replies (seconds). elapsed_seconds: the client's time
 * between the two replies. No errors. Pure function, thread-safe. */
NATT_API int natt_natpmp_epoch_lost(uint32_t previous_epoch, uint32_t new_epoch, double elapsed_seconds);

#ifdef __cplusplus
}
#endif
#endif
