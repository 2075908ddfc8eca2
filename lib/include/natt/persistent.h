/* natt — persistent mappings (the Racket library's persistent NAT-PMP mappings, over any technique):
 * a mapping of a local port that natt keeps refreshed, telling the caller its external port each time
 * it changes. Work happens in natt's background thread; no call here waits on the network except
 * natt_persistent_stop. */
#ifndef NATT_PERSISTENT_H
#define NATT_PERSISTENT_H

#include <stdint.h>

#include "natt/common.h"
#include "natt/mapping.h"

#ifdef __cplusplus
extern "C" {
#endif

struct natt_persistent;

/* Called from natt's background thread with the mapping each time its external port changes,
 * including the first time one is granted. */
typedef void (*natt_mapping_fn)(struct natt_persistent *mapping, const struct natt_mapping *current, void *ctx);

struct natt_persistent_options {
	uint32_t lifetime;          /* lease asked for, seconds (0: 3600) */
	uint32_t refresh_interval;  /* seconds between refreshes (0: half the lease granted) */
	uint16_t requested_port;    /* external port wished for (0: the local port) */
	enum natt_technique technique; /* NATT_TECH_NATPMP or NATT_TECH_UPNP; NATT_TECH_LOCAL: NAT-PMP,
	                                  then UPnP */
};

/* natt_persistent_create - start keeping a mapping of (protocol, local_port) on this host.
 * options may be NULL (all defaults). on_mapping may be NULL. Returns 0 and the handle in *out, or
 * -EINVAL (port 0, bad protocol or technique), -ENOMEM. Thread-safe. */
NATT_API int natt_persistent_create(enum natt_protocol protocol, uint16_t local_port,
                                    const struct natt_persistent_options *options, natt_mapping_fn on_mapping,
                                    void *ctx, struct natt_persistent **out);

/* natt_persistent_current - the mapping as it stands. Returns 0, or -EAGAIN while none is granted
 * (not yet, or lost and being re-made). Thread-safe. */
NATT_API int natt_persistent_current(struct natt_persistent *mapping, struct natt_mapping *out);

/* natt_persistent_refresh - refresh at the router now (asynchronously). Thread-safe. */
NATT_API void natt_persistent_refresh(struct natt_persistent *mapping);

/* natt_persistent_stop - delete the mapping at the router and free the handle; waits at most timeout_ms
 * (<= 0: 5000). Returns 0 or -ETIMEDOUT. Not from inside its own callback. */
NATT_API int natt_persistent_stop(struct natt_persistent *mapping, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
