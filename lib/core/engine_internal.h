/* What the engine's units (lib/core/) share among themselves, and nobody else sees.
 *
 *   engine.c        the front: configuration, starting the manager, the inbox, publish/retire,
 *                   shutdown (engine.h, engine_shim.h)
 *   callbacks.c     the library's listener callbacks, one at a time, never after a stop
 *   fork.c          fork handlers: each unit forgets, in the child, what was the parent's
 *   manager.c       the manager thread's loop and its list of entries
 *   router.c        the router work: techniques in order, renewals, deletions, verification
 *   techniques.c    UPnP IGD, NAT-PMP and PCP exchanges, and what each knows of the router
 *   announcements.c the router's own announcements (SSDP NOTIFY, NAT-PMP/PCP ANNOUNCE)
 *   pidwatch.c      processes the manager waits for (a parent that goes, another holder of a socket)
 *   assignments.c   an entry's local and public addresses, as callers and the status file see them
 *   report.c        observers of the changes: the status file, -v lines, the on-change command,
 *                   the library's listener callbacks (the other units neither print nor spawn)
 *
 * Everything here runs in the manager thread unless said otherwise. */
#ifndef NATT_ENGINE_INTERNAL_H
#define NATT_ENGINE_INTERNAL_H

#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/engine.h"
#include "core/engine_shim.h"

/* entry->due_ms: when the manager works on the entry next (monotonic ms), or one of these. */
#define NATT_DUE_NOW 0             /* at the next turn of the loop */
#define NATT_DUE_RETIRE (-1)       /* retire it (delete its mapping) at the next turn */
#define NATT_DUE_NEVER INT64_MAX   /* nothing until something happens (a refresh, a router event) */

static inline bool natt_entry_retiring(const struct natt_entry *e)
{
	return e->due_ms < 0;
}

static inline int64_t natt_min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Clean-up at exit or at a termination signal goes on while the router answers, for at most
 * NATT_CLEANUP_CAP_MS in all; a router silent for NATT_CLEANUP_IDLE_MS is left to the leases. */
#define NATT_CLEANUP_IDLE_MS 3000
#define NATT_CLEANUP_CAP_MS 30000

/* ---- engine.c ------------------------------------------------------------------------------- */

/* The lock of the entry fields others read (see engine.h), and the condition broadcast after
 * retirements and at the manager's end (natt_engine_broadcast: with the lock held). */
void natt_engine_lock(void);
void natt_engine_unlock(void);
void natt_engine_broadcast(void);
/* Waits for that broadcast (the lock held). */
void natt_engine_wait_changed(void);
/* fd natt keeps (marked for the shim, so that a program closing every descriptor cannot close it);
 * natt_close_own_fd sets it to -1, then closes what it held. Any thread. */
int natt_own_fd(int fd);
void natt_close_own_fd(int *fd);
/* The program's dup2() onto natt's number moved that fd: *fd becomes `to` if it held `from` (whether
 * it did). Any thread. */
bool natt_own_fd_moved(int *fd, int from, int to);
/* Whether another process may hold our sockets (a fork, an exec or spawn that kept them). */
bool natt_engine_sockets_shared(void);
/* Wakes the manager up (async-signal-safe). */
void natt_engine_wake(void);
/* Starts the manager if it is not running; 0 or -errno. Any thread but the manager. */
int natt_engine_start_manager(void);
/* For the loop: the inbox (newest first), the wake-up fd (-1 once lost: closed under natt), what
 * the program asked for (a termination signal, a shutdown), flush requests and their answers. */
struct natt_entry *natt_engine_take_inbox(void);
/* Whether requests wait in the inbox (the manager will take them at its next round). */
bool natt_engine_inbox_waiting(void);
int natt_engine_wake_fd(void);
void natt_engine_wake_fd_lost(void);
void natt_engine_drain_wake(void);
int natt_engine_take_exit_signal(void);
bool natt_engine_shutdown_asked(void);
/* A shutdown asked for, or a termination signal. */
bool natt_engine_stopping(void);
void natt_engine_after_signal(int sig);
unsigned natt_engine_flush_asked(void);
void natt_engine_flush_answer(unsigned asked);
bool natt_engine_flush_answered(unsigned asked);
/* Deletions the router answered (shutdown waits on while they go on). */
void natt_engine_cleanup_progressed(void);
/* The manager's last act: running no more, waiters woken. */
void natt_engine_manager_ended(void);
/* Fork: locks taken around fork(), the front's state forgotten in the child. */
void natt_engine_lock_for_fork(void);
void natt_engine_unlock_after_fork(void);
void natt_engine_after_fork_child(void);

/* ---- callbacks.c ---------------------------------------------------------------------------- */

/* Takes the entry's callback under the lock and marks it running (false: no callback); then says when
 * it returned. */
bool natt_engine_callback_begin(struct natt_entry *entry, natt_change_fn *on_change, void **ctx,
                                struct natt_listener **listener);
void natt_engine_callback_end(void);

/* ---- fork.c ---------------------------------------------------------------------------------- */

/* Where the manager may stop for a fork (AddressSanitizer builds only; nothing otherwise). */
void natt_fork_pause_point(void);
/* Around an entry's allocation or release, which a fork waits for (AddressSanitizer builds only). */
void natt_fork_alloc_enter(void);
void natt_fork_alloc_leave(void);

/* ---- manager.c ------------------------------------------------------------------------------- */

void *natt_manager_main(void *arg);
/* The stack the manager thread runs on (natt's own; reused once the previous manager is joined). */
int natt_manager_set_stack(pthread_attr_t *attr);
/* The manager's entries (the published, the pending, the retiring), linked by next. */
struct natt_entry *natt_manager_entries(void);
/* Something the observers tell changed (the status file is written again). */
void natt_manager_changed(void);
/* e retired or its socket vanished: the observers say so now. */
void natt_manager_tell_retired(struct natt_entry *e);
void natt_manager_after_fork_child(void);

/* ---- router.c -------------------------------------------------------------------------------- */

/* Publishes or renews e (with the host-wide gateway lock held). */
void natt_router_work_on(struct natt_entry *e);
/* Deletes e's mapping at the router, if it is still ours and nobody else serves on it. */
void natt_router_unpublish(struct natt_entry *e);
/* Another process holding e's socket (pre-fork workers, a daemonized child), or 0. */
pid_t natt_router_other_holder(const struct natt_entry *e);
/* The cheap check that the router still has our mappings (one request per technique in use). */
void natt_router_verify(void);
/* The host-wide gateway lock around a batch of exchanges (nested calls take it once); the gateway
 * known at all. */
bool natt_router_lock(void);
/* The same after a fresh look at the gateway: for a run of work on several entries, which then changes
 * hands between processes once. */
bool natt_router_lock_for_batch(void);
void natt_router_unlock(bool locked);
/* The gateway in use, or NULL; the IPv6 default router pinholes are asked of, or NULL. */
const struct in_addr *natt_router_gateway(void);
const struct sockaddr_in6 *natt_router_gateway6(void);
/* Makes entries due now: the published ones of technique (all of them: natt_router_mark_all_due),
 * and every one that is waiting for a router. */
void natt_router_mark_due(enum natt_technique technique);
void natt_router_mark_all_due(void);
/* Reaction to the router's NAT-PMP/PCP announcement, from the gateway's address only (its SSDP ones go
 * to core/techniques.h). */
void natt_router_natpmp_announced(uint32_t epoch, struct in_addr external);
/* At a termination signal: no router request after idle_until (pushed on by each answer), nor cap. */
void natt_router_limit_cleanup(int64_t idle_until, int64_t cap);
void natt_router_after_fork_child(void);
/* The program's dup2() onto the gateway lock's number moved it to `to`: whether it was that one (the
 * lock itself is gone with the file the dup2 closed: a record lock ends at any close of the file;
 * the batch goes on unserialized, as without a lock). Any thread. */
bool natt_router_fd_moved(int from, int to);

/* ---- announcements.c ------------------------------------------------------------------------- */

void natt_announcements_open(void);
void natt_announcements_close(void);
/* Fills two pollfds (SSDP, NAT-PMP; fd -1 when closed) and handles what they report. */
void natt_announcements_pollfds(struct pollfd fds[2]);
void natt_announcements_handle(const struct pollfd fds[2]);
bool natt_announcements_fd_moved(int from, int to);
void natt_announcements_after_fork_child(bool manager_was_running);

/* ---- pidwatch.c ------------------------------------------------------------------------------ */

/* Watches pid until it ends, then calls on_exit(pid) (NULL: a holder of a lingering entry, see
 * natt_router_other_holder). 0, -ESRCH (already gone) or -ENOSPC. Any thread. */
int natt_pidwatch_add(pid_t pid, void (*on_exit)(pid_t pid));
/* Fills pollfds (at most max) for the watched processes; lowers *timeout_ms for those polled. */
int natt_pidwatch_pollfds(struct pollfd *fds, int max, int *timeout_ms);
/* Handles the processes that ended (fds: what poll returned for natt_pidwatch_pollfds, count 0 when
 * poll said nothing). */
void natt_pidwatch_check(const struct pollfd *fds, int count);
bool natt_pidwatch_fd_moved(int from, int to);
void natt_pidwatch_after_fork_child(void);

/* ---- assignments.c --------------------------------------------------------------------------- */

uint16_t natt_entry_local_port(const struct natt_entry *e);
/* The IPv4 address a router should forward to, if the socket is bound to one (not a wildcard). */
bool natt_entry_specific_ipv4(const struct natt_entry *e, struct in_addr *out);
/* Whether the socket has an IPv4 side a router can map (bound to 0.0.0.0, to an IPv4 address, or
 * dual-stack [::]). */
bool natt_entry_has_ipv4_side(const struct natt_entry *e);
/* Whether the socket has an IPv6 side a pinhole could open (bound to [::] or to an IPv6 address). */
bool natt_entry_wants_pinhole(const struct natt_entry *e);
/* The address a pinhole entry opens: the one it is bound to, else the one natt_pick_published_ipv6
 * chooses toward router. 0; -1 with why said when there is none (link-local or ULA only...); -2 with
 * why said when the addresses could not be listed (try again later). */
int natt_entry_pinhole_address(const struct natt_entry *e, const struct sockaddr_in6 *router, struct in6_addr *out,
                               char *why, size_t len);
/* The entry's assignments, local ones first; the count there are (may exceed max). With the engine
 * lock held, or from the manager. */
size_t natt_entry_assignments(struct natt_entry *e, struct natt_assignment *list, size_t max);
/* The host's interfaces, listed at most once for a pass over many entries: a wildcard socket's local
 * addresses are the host's, and a status write lists every socket (two netlink dumps per socket at
 * every write before). Zeroed before the pass, released after it. */
struct natt_host_interfaces {
	struct natt_interface *list;
	size_t count;
	bool asked;
	bool listed;
};
size_t natt_entry_assignments_among(struct natt_entry *e, struct natt_host_interfaces *host,
                                    struct natt_assignment *list, size_t max);
void natt_host_interfaces_release(struct natt_host_interfaces *host);
const char *natt_protocol_text(enum natt_protocol protocol);

/* ---- report.c -------------------------------------------------------------------------------- */

/* An observer of the manager's changes. */
struct natt_observer {
	/* e's state or mapping changed since it was last told (not for a vanished entry). */
	void (*changed)(struct natt_entry *e);
	/* e retired (its mapping deleted), or its socket vanished. */
	void (*retired)(struct natt_entry *e);
	/* After a batch of changes: what is written once per batch. */
	void (*batch_done)(void);
	/* When batch_done wants to run again with no change (it failed): NATT_DUE_NEVER when not. */
	int64_t (*retry_due_ms)(void);
	void (*after_fork_child)(void);
};

/* In the order they are told: status file, -v lines and on-change command; listener callbacks. */
extern const struct natt_observer *const natt_observers[];
extern const size_t natt_observer_count;

#endif
