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
#include "parse.h"

#define NATT_DEFAULT_LIFETIME 3600
#define NATT_MAX_LIFETIME 604800

struct natt_config {
	char status_path[4096];       /* "" = no status file */
	uint32_t lifetime;            /* requested lease, seconds */
	enum natt_technique order[NATT_TECH_COUNT];
	size_t order_count;
	struct natt_port_set ports;   /* empty = every port */
	bool have_gateway;            /* NATT_GATEWAY given */
	struct in_addr gateway;
	bool verbose;                 /* human lines on stderr for each change */
	char on_change[1024];         /* command run on each change ("" = none) */
	uint32_t verify_interval;     /* seconds between checks that the router still has our
	                                 mappings (0 = only announcements and renewals) */
};

#define NATT_DEFAULT_VERIFY_INTERVAL 300

/* Fills cfg from NATT_* environment variables; each bad value is reported once on stderr (the user set
 * it, so they asked to hear about it) and replaced by its default. Never fails. */
void natt_config_from_env(struct natt_config *cfg);
void natt_config_defaults(struct natt_config *cfg);
/* Default status file: $XDG_RUNTIME_DIR/natt/status.json, else /tmp/natt-UID/status.json. */
void natt_default_status_path(char *buf, size_t len);

enum {
	NATT_OP_PUBLISH = 1u,
	NATT_OP_RETIRE = 2u,
	NATT_OP_REFRESH = 4u,
};

struct natt_entry {
	/* Fixed at creation. */
	enum natt_protocol protocol;
	struct sockaddr_storage local;  /* address and port as bound */
	bool dual_stack;                /* [::] with IPV6_V6ONLY off: publish the IPv4 side too */
	uint64_t socket_id;             /* st_ino of the socket, 0 for address-only listeners */
	natt_change_fn on_change;
	void *ctx;
	struct natt_listener *listener; /* handle given to on_change */
	pid_t owner;                    /* process that published it; a forked child does not own it */
	/* Per-entry choices of the library API (0 / count 0: the configuration's). */
	uint32_t lifetime;              /* lease to ask for */
	uint32_t refresh_interval;      /* seconds between renewals (default: half the lease) */
	uint16_t requested_port;        /* external port wished for (default: the local port) */
	enum natt_technique order[NATT_TECH_COUNT];
	size_t order_count;

	/* Copies of the socket held by this process's fds (maintained by the shim). */
	atomic_int holders;

	/* Inbox plumbing (lock-free). */
	struct natt_entry *inbox_next;
	atomic_bool queued;
	atomic_uint ops;

	/* Manager-owned; readers outside the manager take natt_engine.lock. */
	struct natt_entry *next;
	bool active;                    /* in the manager's list */
	enum natt_listener_state state;
	char error[192];
	enum natt_technique technique;  /* of the current mapping, or LOCAL */
	struct in_addr external;
	uint16_t external_port;
	uint32_t granted_lifetime;      /* granted; 0 = permanent */
	time_t expires;                 /* wall clock; 0 = never */
	char internal_client[64];
	bool double_nat;                /* external address is private or shared: not the internet */
	int64_t due_ms;                 /* next work: publish retry or renewal */
	int64_t backoff_ms;
	bool announced;                 /* -v line printed for the current mapping */
	char last_said[512];

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

/* The epoch rule of RFC 6886 3.6 with the given slack in seconds (the RFC's is 2): true when new_epoch
 * is below previous_epoch + elapsed_seconds * 7/8 - slack. */
int natt_natpmp_epoch_behind(uint32_t previous_epoch, uint32_t new_epoch, double elapsed_seconds, double slack);
/* The engine's slack: epochs are whole seconds (readings of a steady router differ from the elapsed
 * time by less than 1 s) and a LAN router answers within milliseconds. The RFC's 2 s misses a reboot
 * that comes within about 3 s of the router's previous start; a false alarm costs one renewal. */
#define NATT_EPOCH_SLACK 1.1

/* Set the configuration; called before the first publish (later calls are ignored). */
void natt_engine_configure(const struct natt_config *cfg);
const struct natt_config *natt_engine_config(void);

/* Creates an entry (state pending) and hands it to the manager, starting the manager thread if
 * needed. Never blocks on the network. Returns NULL on allocation failure. */
struct natt_entry *natt_engine_publish(enum natt_protocol protocol, const struct sockaddr_storage *local,
                                       bool dual_stack, uint64_t socket_id, natt_change_fn on_change, void *ctx,
                                       struct natt_listener *listener);

/* Like natt_engine_publish, with the entry's own choices (lifetime, refresh interval, requested
 * port, techniques) filled in by prepare(entry, ctx) before the manager sees it. */
struct natt_entry *natt_engine_publish_with(enum natt_protocol protocol, const struct sockaddr_storage *local,
                                            bool dual_stack, uint64_t socket_id, natt_change_fn on_change,
                                            void *ctx, struct natt_listener *listener,
                                            void (*prepare)(struct natt_entry *entry, void *arg), void *arg);

/* For persistent.c: a listener with per-entry options (listener.c), and an immediate renewal. */
struct natt_persistent_options;
int natt_listener_publish_persistent(enum natt_protocol protocol, const struct sockaddr *local,
                                     const struct natt_persistent_options *options, natt_change_fn on_change,
                                     void *ctx, struct natt_listener **out);
void natt_listener_refresh(struct natt_listener *listener);

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
/* The same from a signal handler (an _exit() there): async-signal-safe, no lock, no join; waits at most
 * timeout_ms for the manager to delete the mappings, polling with nanosleep(). */
void natt_engine_shutdown_from_handler(int timeout_ms);

/* Async-signal-safe: asks the manager to delete every mapping, then call after_cleanup(sig) from the
 * manager thread (which re-raises the signal). */
void natt_engine_request_signal_exit(int sig, void (*after_cleanup)(int sig));

/* Snapshot of an entry's assignments (local names first). Takes the lock. */
size_t natt_engine_assignments(struct natt_entry *entry, struct natt_assignment *list, size_t max);
enum natt_listener_state natt_engine_state(struct natt_entry *entry, char *error, size_t len);

/* True in the manager thread and wherever natt itself is working: the shim passes such calls
 * straight through (miniupnpc's own bind()/close() must not be taken for the application's). */
extern __thread int natt_internal_depth;
/* True only in the manager thread, which runs with every signal blocked. The sockets natt's libraries
 * open are the manager's; natt_internal_depth alone cannot tell them apart, because a signal handler
 * that interrupts an application thread inside natt runs at that thread's depth. */
extern __thread bool natt_manager_thread;

/* fork handling: the shim's pthread_atfork handlers call these; without the shim (a program using
 * libnatt alone) the engine registers them itself when it first starts its manager, unless
 * natt_engine_fork_hooked says the shim's handlers do it. */
extern bool natt_engine_fork_hooked;
void natt_engine_atfork_prepare(void);
void natt_engine_atfork_parent(void);
void natt_engine_atfork_child(void);

/* A forked child takes over an inherited entry (its parent is gone, the child still serves on the
 * socket): the child's manager renews it from now on. */
void natt_engine_adopt(struct natt_entry *entry, pid_t from);

/* How natt tells the shim about its own fds, so that a program closing every descriptor cannot close
 * natt's (close() on them fails with EBADF, as if never open):
 * MARK: a long-lived fd of natt's; CLAIM: natt's if the check that follows says so, meanwhile the
 * program's close() of that number waits (the program may have closed it and opened its own between
 * natt's open() and the claim); CONFIRM or DISOWN: that check's outcome (claims are made and settled
 * by one thread, one at a time); CLOSING and CLOSED: around a close of natt's that the shim's close()
 * does not see (fclose, closedir), during which the program's close() of that number waits (before it,
 * the number is natt's; after it, possibly the program's again). */
enum natt_fd_mark { NATT_FD_MARK, NATT_FD_CLAIM, NATT_FD_CONFIRM, NATT_FD_DISOWN, NATT_FD_CLOSING, NATT_FD_CLOSED };
extern void (*natt_engine_fd_hook)(int fd, enum natt_fd_mark mark);
/* Set by the shim: whether the calling thread is inside a signal handler of the program's; publishing
 * there starts no thread (natt_engine_start_if_wanted does, later). */
extern bool (*natt_engine_in_signal_handler)(void);
/* Starts the manager if a publish in a signal handler could not (nothing when called in one). */
void natt_engine_start_if_wanted(void);

/* Set by the shim: run by the manager thread when it starts (taking the termination signals there
 * keeps that work out of the program's first listen()). */
extern void (*natt_engine_started_hook)(void);

/* One of the manager's long-lived fds now lives at another number (the shim moved it out of the way
 * of a dup2() onto it). False when from is none of them. */
bool natt_engine_fd_moved(int from, int to);

/* Another process may hold our sockets from now on (the shim saw an exec or spawn with sockets that
 * survive it, in a child that the fork handlers never saw). Async-signal-safe. */
void natt_engine_note_shared(void);

/* This process's pid, without a system call after the first. */
pid_t natt_self_pid(void);

/* Calls on_exit(pid) from the manager thread when process pid has ended (pidfd, else polled), starting
 * the manager if needed. A forked child uses it to take its parent's mappings over when the parent
 * goes. Returns 0 or -errno. */
int natt_engine_watch_pid(pid_t pid, void (*on_exit)(pid_t pid));

/* Whether the manager is running (cheap), and whether it is this process's (false in a vfork child,
 * which shares the parent's memory). */
bool natt_engine_running(void);
bool natt_engine_running_here(void);

/* Waits (at most timeout_ms) until the manager has handled every retirement asked for so far. */
void natt_engine_flush(int timeout_ms);

/* For the library (listener.c): notify_listener takes the entry's callback under the lock and marks it
 * running (false: no callback), then says when it returned. */
bool natt_engine_callback_begin(struct natt_entry *entry, natt_change_fn *on_change, void **ctx,
                                struct natt_listener **listener);
void natt_engine_callback_end(void);

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
