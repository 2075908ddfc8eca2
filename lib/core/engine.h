/* The engine: one manager thread per process owns every protocol exchange and all mapping state.
 * Front ends (the shim, the listener API) only create entries and ask for them to be retired.
 *
 * Locking: `natt_engine.lock` guards the entry fields that readers outside the manager look at
 * (state, error, mapping); it is never held across network I/O. Requests reach the manager through a
 * lock-free inbox, so retiring is async-signal-safe (close() may run in a signal handler). */
#ifndef NATT_ENGINE_H
#define NATT_ENGINE_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "natt/common.h"
#include "natt/listener.h"
#include "core/config.h"

enum {
	NATT_OP_PUBLISH = 1u,
	NATT_OP_RETIRE = 2u,
	NATT_OP_REFRESH = 4u,
};

struct natt_entry {
	/* Fixed at creation; first and together, as is what a hook writes (one cache line to fetch). */
	enum natt_protocol protocol;
	pid_t owner;                    /* process that published it; a forked child does not own it */
	/* Copies of the socket held by this process's fds (maintained by the shim). */
	atomic_int holders;
	/* Inbox plumbing (lock-free). */
	atomic_bool queued;
	atomic_uint ops;
	struct natt_entry *inbox_next;
	/* Published from listen() without a look at the socket (the shim's quick path): the manager has
	 * natt_engine_examine_hook fill in local, dual_stack and socket_id, from examine_fd or another fd
	 * that holds the entry, before anything else. ignored: examined and not one to publish (or gone
	 * before it was examined); it is freed when the shim lets go of it. */
	atomic_bool unexamined;
	int examine_fd;
	atomic_bool ignored;

	struct sockaddr_storage local;  /* address and port as bound */
	bool dual_stack;                /* [::] with IPV6_V6ONLY off: publish the IPv4 side too */
	uint64_t socket_id;             /* st_ino of the socket, 0 for address-only listeners */
	natt_change_fn on_change;
	void *ctx;
	struct natt_listener *listener; /* handle given to on_change */
	/* Per-entry choices of the library API (0 / count 0: the configuration's). */
	uint32_t lifetime;              /* lease to ask for */
	uint32_t refresh_interval;      /* seconds between renewals (default: half the lease) */
	uint16_t requested_port;        /* external port wished for (default: the local port) */
	enum natt_technique order[NATT_TECH_COUNT];
	size_t order_count;

	/* IPv6: the entry opens an inbound pinhole in the router's firewall for the socket's IPv6 side
	 * (internal address = external address) instead of an IPv4 mapping. A dual-stack [::] socket has
	 * two entries: its own, for IPv4, and a pinhole entry the manager adds (pinhole_side; that one's
	 * pinhole_of names the first, whose observers speak for both). Both links under the lock. */
	bool pinhole;
	struct natt_entry *pinhole_side;
	struct natt_entry *pinhole_of;
	bool side_told_published;       /* the owner's listener was last told of this side published */

	/* Manager-owned; readers outside the manager take natt_engine.lock. */
	struct natt_entry *next;
	bool active;                    /* in the manager's list */
	enum natt_listener_state state;
	char error[192];
	enum natt_technique technique;  /* of the current mapping, or LOCAL */
	/* PCP: the mapping's nonce, made at the first request and kept: the server knows the mapping by
	 * it, for renewals and for the delete (also a forked child's, that takes the mapping over). */
	uint8_t pcp_nonce[12];
	bool pcp_nonce_set;
	struct in_addr external;
	struct in6_addr pinhole_address; /* a pinhole's: the host address it lets the internet reach */
	uint16_t upnp_pinhole_id;        /* a UPnP pinhole's UniqueID */
	uint64_t upnp_generation;        /* the opening of the IGD that made or last renewed it */
	uint16_t external_port;
	uint32_t granted_lifetime;      /* granted; 0 = permanent */
	time_t expires;                 /* wall clock; 0 = never */
	char internal_client[64];
	bool double_nat;                /* external address is private or shared: not the internet */
	int64_t due_ms;                 /* next work: publish retry or renewal */
	int64_t backoff_ms;
	bool announced;                 /* -v line printed for the current mapping */
	uint64_t last_said;             /* hash of the last line told (0: none): only a change is told */

	/* Closed here but still held by another process (a worker, a daemon child): we keep renewing it
	 * until that process lets go too. 0 when not lingering. */
	pid_t lingering_holder;
	/* The kernel no longer has the socket (closed behind our back): mapping deleted, left out of the
	 * status file, kept in memory until the shim lets go of it. */
	bool vanished;
	/* Retired: freed at this time (see ENTRY_GRACE_MS in engine.c). */
	int64_t free_at_ms;

	/* Completion of a stop request from the listener API. */
	atomic_bool retired;
};

/* The engine's slack: epochs are whole seconds (readings of a steady router differ from the elapsed
 * time by less than 1 s) and a LAN router answers within milliseconds. The RFC's 2 s misses a reboot
 * that comes within about 3 s of the router's previous start; a false alarm costs one renewal. */
#define NATT_EPOCH_SLACK 1.1

/* Set the configuration; called before the first publish (later calls are ignored). */
void natt_engine_configure(const struct natt_config *cfg);
const struct natt_config *natt_engine_config(void);

/* Like natt_engine_publish (engine_shim.h; local NULL: not known yet, AF_UNSPEC), with the entry's own choices (lifetime, refresh interval, requested
 * port, techniques) filled in by prepare(entry, ctx) before the manager sees it. */
struct natt_entry *natt_engine_publish_with(enum natt_protocol protocol, const struct sockaddr_storage *local,
                                            bool dual_stack, uint64_t socket_id, natt_change_fn on_change,
                                            void *ctx, struct natt_listener *listener,
                                            void (*prepare)(struct natt_entry *entry, void *arg), void *arg);

/* Asks the manager to renew the entry's mapping now. */
void natt_engine_refresh(struct natt_entry *entry);

/* Asks the manager to delete the entry's mapping and free it. Async-signal-safe. */
void natt_engine_retire(struct natt_entry *entry);

/* Waits until a retired entry has been handled (for natt_listener_stop); the entry is freed by the
 * caller afterwards. 0 or -ETIMEDOUT. */
int natt_engine_wait_retired(struct natt_entry *entry, int timeout_ms);

/* Deletes every mapping and stops the manager. Waits as long as the router keeps answering the
 * deletions, but no more than timeout_ms without an answer, and 30 s in all. Used at process exit. */
void natt_engine_shutdown(int timeout_ms);

/* Snapshot of an entry's assignments (local names first). Takes the lock. */
size_t natt_engine_assignments(struct natt_entry *entry, struct natt_assignment *list, size_t max);
enum natt_listener_state natt_engine_state(struct natt_entry *entry, char *error, size_t len);

/* True in the manager thread and wherever natt itself is working: the shim passes such calls
 * straight through (miniupnpc's own bind()/close() must not be taken for the application's). */
/* (initial-exec: read in signal handlers, where a first access of dynamic TLS may allocate; the
 * engine's five bytes come from the loader's reserve for such libraries when it is dlopen()ed.) */
extern __thread int natt_internal_depth __attribute__((tls_model("initial-exec")));
/* True only in the manager thread, which runs with every signal blocked. The sockets natt's libraries
 * open are the manager's; natt_internal_depth alone cannot tell them apart, because a signal handler
 * that interrupts an application thread inside natt runs at that thread's depth. */
extern __thread bool natt_manager_thread __attribute__((tls_model("initial-exec")));

/* After natt_engine_retire (and natt_engine_wait_retired, whatever it returned): detaches the entry's
 * callback, waits for a call of it under way to return, and lets go of the entry: freed now when the
 * manager is done with it, else by the manager when it retires it. The entry must not be used
 * afterwards. Not from the manager thread. */
void natt_engine_release(struct natt_entry *entry);

/* Ends the manager (its thread and sockets) of a process where nothing is published any more,
 * deleting whatever is left; waits at most timeout_ms (0 or -ETIMEDOUT: then it ends on its own).
 * natt_engine_prepare_start must run before the next natt_engine_publish*, so that it starts a new
 * manager. Both for the library only (the shim's entries have no listener), serialized by the caller. */
int natt_engine_end(int timeout_ms);
void natt_engine_prepare_start(void);

#endif
