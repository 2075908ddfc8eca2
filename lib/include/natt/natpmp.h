/* natt — NAT-PMP (RFC 6886) client calls. Each call is one request/response exchange with the gateway,
 * retransmitted as the RFC asks (250 ms, doubling) until a reply comes or timeout_ms runs out. All are
 * blocking: use them from a thread that may wait (the natt engine calls them from its manager thread).
 * All functions are thread-safe: each call uses its own socket. */
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
 * gateway: the gateway's address, or NULL for the default gateway. timeout_ms: total time to wait
 * (<= 0: NATT_NATPMP_DEFAULT_TIMEOUT_MS). external: receives the address. info: may be NULL.
 * Returns 0; NATT_ERR_NO_GATEWAY (no default route, or no reply in time), NATT_ERR_UNSUPPORTED,
 * NATT_ERR_REFUSED, NATT_ERR_NETWORK, NATT_ERR_RESOURCES, NATT_ERR_BAD_REPLY, or -errno. */
NATT_API int natt_natpmp_external_address(const struct in_addr *gateway, int timeout_ms,
                                          struct in_addr *external, struct natt_natpmp_info *info);

/* natt_natpmp_map - create or refresh a mapping of this host's private_port.
 * requested_public_port: the external port wished for (0: any); the gateway may grant another, which
 * out->external_port tells. lifetime: seconds (0 deletes; see natt_natpmp_delete). out receives the
 * mapping granted (internal_address is AF_UNSPEC: NAT-PMP maps the sender). Errors as above.
 * A refresh is the same call with the port granted before as requested_public_port. */
NATT_API int natt_natpmp_map(const struct in_addr *gateway, enum natt_protocol protocol,
                             uint16_t private_port, uint16_t requested_public_port, uint32_t lifetime,
                             int timeout_ms, struct natt_mapping *out, struct natt_natpmp_info *info);

/* natt_natpmp_delete - delete the mapping of private_port (lifetime 0). Errors as above. */
NATT_API int natt_natpmp_delete(const struct in_addr *gateway, enum natt_protocol protocol,
                                uint16_t private_port, int timeout_ms, struct natt_natpmp_info *info);

/* natt_natpmp_unmap_all - delete every mapping of this host for protocol (private and public port 0,
 * lifetime 0). Errors as above. */
NATT_API int natt_natpmp_unmap_all(const struct in_addr *gateway, enum natt_protocol protocol,
                                   int timeout_ms, struct natt_natpmp_info *info);

/* natt_natpmp_epoch_lost - RFC 6886 3.6: true when a reply's epoch shows that the gateway lost its
 * state since the previous reply: new < previous + elapsed * 7/8 - 2 s (both in seconds; elapsed is the
 * client's time between the two replies). Pure function, thread-safe. */
NATT_API int natt_natpmp_epoch_lost(uint32_t previous_epoch, uint32_t new_epoch, double elapsed_seconds);

#ifdef __cplusplus
}
#endif
#endif
