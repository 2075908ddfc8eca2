/* natt — persistent mappings (the Racket library's make-persistent-mapping / on-mapping, over NAT-PMP
 * or UPnP IGD): a mapping of a local port that natt keeps refreshed at an interval, telling the caller
 * the external address and port each time they change, and when the mapping is lost or stopped.
 * Work happens in natt's background thread (shared with natt/listener.h); no call here waits on the
 * network except natt_persistent_stop. */
#ifndef NATT_PERSISTENT_H
#define NATT_PERSISTENT_H

#include <netinet/in.h>
#include <stdint.h>

#include "natt/common.h"
#include "natt/mapping.h"

#ifdef __cplusplus
extern "C" {
#endif

struct natt_persistent;

/* Called each time the mapping changes, as Racket's on-mapping:
 *   - current and external not NULL: a mapping is granted (the first time, and again after each change
 *     of its external port or of the router's external address; not on a mere refresh). current->
 *     external_port is the port granted (which may differ from the one requested), current->lifetime
 *     the lease granted; external is the router's external IPv4 address. Both are valid only during
 *     the call. Called from natt's background thread.
 *   - current and external NULL: the mapping reported before is gone — lost (the router refused a
 *     refresh, or stopped answering; natt keeps trying and reports the next grant as above), or
 *     stopped (natt_persistent_stop calls it once, from the caller's thread, before it returns).
 * From the background thread it must not call natt_persistent_stop() nor natt_listener_stop() (they
 * return -EDEADLK there). */
typedef void (*natt_mapping_fn)(struct natt_persistent *mapping, const struct natt_mapping *current,
                                const struct in_addr *external, void *ctx);

/* requested_port: no wish — routers take the requested port as a suggestion only (RFC 6886's
 * "requested external port", UPnP's AddAnyPortMapping hint); with this value natt suggests the local
 * port, which routers grant when it is free, and takes whatever port the router gives. */
#define NATT_PORT_ANY 0

struct natt_persistent_options {
	uint32_t lifetime;          /* lease asked for, seconds, at most 604800 (0: natt's default, 3600
	                               unless NATT_LIFETIME says otherwise) */
	uint32_t refresh_interval;  /* seconds between refreshes, less than lifetime (0: half the lease
	                               granted) */
	uint16_t requested_port;    /* external port wished for, or NATT_PORT_ANY; the router may grant
	                               another (reported through the callback) */
	enum natt_technique technique; /* NATT_TECH_NATPMP, NATT_TECH_PCP or NATT_TECH_UPNP;
	                                  NATT_TECH_LOCAL: any, all asked at once, preferring UPnP,
	                                  then PCP, then NAT-PMP (natt-run's default order) */
};

/* natt_persistent_create - start keeping a mapping of (protocol, local_port) of this host (the router
 * forwards to whichever address of this host it sees the requests from).
 * protocol: NATT_TCP or NATT_UDP. local_port: 1-65535. options: may be NULL (all defaults).
 * on_mapping: may be NULL. ctx: passed to on_mapping as is. out: receives the handle.
 * Returns 0, or -EINVAL (out NULL, port 0, bad protocol or technique, lifetime above 604800, a
 * refresh_interval not below an explicit lifetime), -ENOMEM, or an error of starting the background
 * thread (-EAGAIN, -EMFILE...). Never waits on the network: the first grant comes through on_mapping.
 * Thread-safe. */
NATT_API int natt_persistent_create(enum natt_protocol protocol, uint16_t local_port,
                                    const struct natt_persistent_options *options, natt_mapping_fn on_mapping,
                                    void *ctx, struct natt_persistent **out);

/* natt_persistent_current - the mapping as it stands (Racket's current-persistent-mapping).
 * out: receives the mapping (internal_address AF_UNSPEC, internal_port the local port). external:
 * receives the router's external address; may be NULL.
 * Returns 0; -EAGAIN while none is granted (not yet, or lost and being re-made); -EINVAL when mapping
 * or out is NULL. Thread-safe, also from on_mapping. */
NATT_API int natt_persistent_current(struct natt_persistent *mapping, struct natt_mapping *out,
                                     struct in_addr *external);

/* natt_persistent_refresh - ask the background thread to refresh the mapping at the router now (Racket's
 * refresh-persistent-mapping!); the regular refreshes go on from then. Returns at once: 0, or -EINVAL
 * when mapping is NULL. Thread-safe, also from on_mapping. */
NATT_API int natt_persistent_refresh(struct natt_persistent *mapping);

/* natt_persistent_stop - delete the mapping at the router, stop refreshing it and free the handle
 * (Racket's stop-persistent-mapping!). Waits at most about timeout_ms (<= 0: 5000) for the router to
 * be told, and for an on_mapping call under way to return (that one whatever the timeout); then calls
 * on_mapping(mapping, NULL, NULL, ctx) from this thread when a mapping had been reported. No callback
 * runs after it returns, even on -ETIMEDOUT: do not use the handle afterwards.
 * Returns 0; -ETIMEDOUT when the router was not told in time (the mapping then ends with its lease, or
 * is deleted when the background thread gets to it); -EINVAL when mapping is NULL; -EDEADLK from
 * inside a natt callback (nothing is done then). Thread-safe: from any thread but natt's own, once
 * per handle. */
NATT_API int natt_persistent_stop(struct natt_persistent *mapping, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
