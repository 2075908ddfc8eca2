/* natt — high level: publish a socket and be told its public names (Racket nat-traversal's
 * udp-bind!/public, tcp-listen/public and mapping-change-listener, in C).
 *
 * A listener owns the router mappings of one local socket or (protocol, address, port). The work
 * happens in one background thread per process, shared by all listeners (and persistent mappings),
 * started by the first natt_listener_publish*() and ended by the last natt_listener_stop(); nothing
 * here blocks on the network but natt_listener_stop(). */
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
 * NATT_TECH_LOCAL), an address and port the router made (UPnP, NAT-PMP, PCP), or, for a socket with
 * an IPv6 side, this host's IPv6 address that the router's firewall lets the internet reach through a
 * pinhole (UPnP IGDv2 or PCP; the address has a colon; a dual-stack [::] socket has both). */
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
	NATT_STATE_LOCAL_ONLY = 3,/* nothing a router can open (an IPv6-only socket, no global IPv6 address) */
};

struct natt_listener;

/* Called from natt's background thread each time the set of assignments changes, with the complete
 * set (local names first): listener as natt_listener_publish*() returned it, assignments[0..count-1]
 * valid only during the call, ctx as given. It may call natt_listener_assignments() and
 * natt_listener_state() (of any listener), but not natt_listener_stop() nor natt_persistent_stop()
 * (they return -EDEADLK there). Callbacks of one process run one at a time, in natt's one thread: a
 * callback that blocks delays every other listener's work. */
typedef void (*natt_change_fn)(struct natt_listener *listener, const struct natt_assignment *assignments,
                               size_t count, void *ctx);

/* natt_listener_publish_socket - publish an already bound UDP socket or listening TCP socket (Racket's
 * udp-bind!/public, tcp-listen/public).
 * fd: the socket; it stays the caller's: natt only reads its address (getsockname), type and inode,
 *   never reads from it, writes to it or closes it. Close it after natt_listener_stop().
 * on_change: may be NULL (then ask natt_listener_assignments()). ctx: passed to on_change as is.
 * out: receives the listener, to stop with natt_listener_stop().
 * Returns 0; -EINVAL (out NULL; not an AF_INET/AF_INET6 TCP or UDP socket; not bound; a TCP socket
 * that does not listen), -EBADF (fd is not open), -ENOTSOCK (fd is no socket), -EADDRNOTAVAIL (bound
 * to loopback: no router can forward there), -ENOMEM, or an error of starting the background thread
 * (-EAGAIN, -EMFILE...). Never waits on the network (the first mapping comes through on_change), but
 * may wait for a natt_listener_stop() of another thread that is ending the background thread.
 * Thread-safe. */
NATT_API int natt_listener_publish_socket(int fd, natt_change_fn on_change, void *ctx,
                                          struct natt_listener **out);

/* natt_listener_publish - publish (protocol, local address, port) without a socket, e.g. for a server
 * in another process of this host.
 * protocol: NATT_TCP or NATT_UDP. local: an AF_INET or AF_INET6 address with the port set (wildcard
 *   or one of this host's addresses; [::] stands for IPv4 too); copied. on_change, ctx, out: as for
 *   natt_listener_publish_socket().
 * Returns 0; -EINVAL (local or out NULL, another family or protocol, port 0), -EADDRNOTAVAIL
 * (loopback), -ENOMEM, or an error of starting the background thread. Waits as
 * natt_listener_publish_socket() does. Thread-safe. */
NATT_API int natt_listener_publish(enum natt_protocol protocol, const struct sockaddr *local,
                                   natt_change_fn on_change, void *ctx, struct natt_listener **out);

/* natt_listener_assignments - copy the current assignments (local names first, as on_change gets
 * them) into list[0..max-1]. list may be NULL when max is 0 (to learn the count).
 * Returns the total count, which may exceed max (then only max were copied); 0 when listener is NULL.
 * Thread-safe, also from a callback. */
NATT_API size_t natt_listener_assignments(struct natt_listener *listener, struct natt_assignment *list,
                                          size_t max);

/* natt_listener_state - the listener's state (an enum natt_listener_state value), and the reason in
 * words when not published, e.g. "no UPnP IGD answered; no NAT-PMP answer".
 * error: may be NULL; otherwise receives the reason ("" when there is none), cut to error_len bytes
 *   and NUL-terminated.
 * Returns the state (>= 0), or -EINVAL when listener is NULL (error then gets ""). Thread-safe, also
 * from a callback. */
NATT_API int natt_listener_state(struct natt_listener *listener, char *error, size_t error_len);

/* natt_listener_stop - delete the listener's router mappings and free it (Racket's
 * mapping-change-listener-stop!). Waits at most about timeout_ms (<= 0: 5000) until the router was
 * told, and for an on_change call under way to return (that one whatever the timeout). No callback
 * runs after it returns, even on -ETIMEDOUT: do not use the listener afterwards. When the last
 * listener of the process is stopped, natt's background thread ends and closes its sockets (the next
 * publish starts it again).
 * Returns 0; -ETIMEDOUT when the router was not told in time (the mappings are then deleted when the
 * background thread gets to them, or end with their lease); -EINVAL when listener is NULL; -EDEADLK
 * from inside a natt callback (nothing is done then). Thread-safe: from any thread but natt's own,
 * once per listener.
 *
 * A program that exits (return from main, exit()) with listeners it did not stop has their mappings
 * deleted at exit, waiting at most 3 s for the router. */
NATT_API int natt_listener_stop(struct natt_listener *listener, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
