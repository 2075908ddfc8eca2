/* natt — high level: publish a socket and be told its public names (Racket nat-traversal's
 * udp-bind!/public, tcp-listen/public and mapping-change-listener, in C).
 *
 * A listener owns the router mappings of one local socket or (protocol, address, port). The work
 * happens in one background thread per process, shared by all listeners, started by the first
 * natt_listener_publish*(); nothing here blocks on the network. */
#ifndef NATT_LISTENER_H
#define NATT_LISTENER_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "natt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One name under which the socket can be reached: a local interface address (technique
 * NATT_TECH_LOCAL) or an address and port the router made (UPnP, NAT-PMP). */
struct natt_assignment {
	enum natt_protocol protocol;
	char address[46];               /* numeric, INET6_ADDRSTRLEN */
	uint16_t port;
	enum natt_technique technique;
	uint32_t lifetime;              /* router-made: lease in seconds (0 = permanent); local: 0 */
	time_t expires;                 /* router-made: wall-clock end of the lease (0 = never) */
};

/* The listener's state, as in the status file. */
enum natt_listener_state {
	NATT_STATE_PENDING = 0,   /* asking, or no router answered yet: retried with back-off */
	NATT_STATE_PUBLISHED = 1, /* a router mapping exists */
	NATT_STATE_FAILED = 2,    /* the router refused; retried later */
	NATT_STATE_LOCAL_ONLY = 3,/* nothing a router can map (e.g. an IPv6-only socket) */
};

struct natt_listener;

/* Called from natt's background thread each time the set of assignments changes, with the complete
 * set (local names first). The array is valid only during the call. Do not call natt_listener_stop()
 * on this listener from inside the callback. */
typedef void (*natt_change_fn)(struct natt_listener *listener, const struct natt_assignment *assignments,
                               size_t count, void *ctx);

/* natt_listener_publish_socket - publish an already bound UDP socket or listening TCP socket.
 * The socket stays the caller's: natt only reads its address (getsockname) and type.
 * on_change may be NULL. Returns the listener through *out, or -EINVAL (not an AF_INET/AF_INET6
 * TCP/UDP socket, not bound), -ENOTSOCK, -ENOMEM, -EADDRNOTAVAIL (bound to loopback). Thread-safe. */
NATT_API int natt_listener_publish_socket(int fd, natt_change_fn on_change, void *ctx,
                                          struct natt_listener **out);

/* natt_listener_publish - publish (protocol, local address, port) without a socket, e.g. for a
 * server in another process. local: AF_INET or AF_INET6 address with the port set. Errors as above. */
NATT_API int natt_listener_publish(enum natt_protocol protocol, const struct sockaddr *local,
                                   natt_change_fn on_change, void *ctx, struct natt_listener **out);

/* natt_listener_assignments - copy the current assignments into list (at most max); returns the
 * total count (which may exceed max), never fails for a live listener. Thread-safe. */
NATT_API size_t natt_listener_assignments(struct natt_listener *listener, struct natt_assignment *list,
                                          size_t max);

/* natt_listener_state - the state, and the reason in words when not published (error may be NULL;
 * error_len bytes are written, NUL-terminated). Thread-safe. */
NATT_API enum natt_listener_state natt_listener_state(struct natt_listener *listener, char *error,
                                                      size_t error_len);

/* natt_listener_stop - delete the router mappings and free the listener. Waits (at most about
 * timeout_ms; <= 0: 5000) until the router was told. Returns 0, or -ETIMEDOUT if the background thread
 * did not finish in time (the mappings then expire with their lease). Do not use the listener
 * afterwards. Thread-safe, but not from inside its own callback. */
NATT_API int natt_listener_stop(struct natt_listener *listener, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
