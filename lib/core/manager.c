/* The manager thread: one poll() loop that owns every exchange with the router. It takes the entries
 * the front ends hand over, publishes new ones, renews leases at half their lifetime, retries failures
 * with back-off, deletes the mappings of retired entries (router.c does the talking), and then lets
 * the observers (report.c) tell what changed. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include "core/engine_internal.h"
#include "core/gwlock.h"
#include "core/entry_pool.h"
#include "core/techniques.h"
#include "sys/run_command.h"
#include "sys/sockstate.h"
#include "util/clock.h"
#include "util/log.h"

/* A retired entry is freed this long after the manager let go of it: a hook in another thread (or a
 * signal handler) that read the entry from the fd table just before its last fd closed may still be
 * looking at it, for the few instructions a hook takes. */
#define ENTRY_GRACE_MS 10000
/* With the wake-up fd lost (closed under natt), the loop looks at its inbox this often. */
#define WAKE_LOST_POLL_MS 200
/* A running on-change command is looked at this often, to be reaped. */
#define REAP_POLL_MS 1000
/* While more requests wait in the inbox (a program opening or closing many sockets), the status file
 * and the other observers hear of the changes once that work is done, not between batches: but not
 * later than this after the first of them. */
#define TELL_DEFER_MAX_MS 200
/* The longest a run of work on entries holds the gateway lock before others get their turn. */
#define BATCH_HOLD_MAX_MS 1000
#define BATCH_HANDOVER_US 5000

static struct {
	struct natt_entry *entries;
	struct natt_entry *limbo;   /* retired, freed at their free_at_ms (linked by next) */
	bool dirty;                 /* something the observers tell changed */
	int64_t dirty_since_ms;
	int64_t verify_due_ms;
} M;

struct natt_entry *natt_manager_entries(void)
{
	return M.entries;
}

void natt_manager_changed(void)
{
	if (!M.dirty)
		M.dirty_since_ms = natt_now_ms();
	M.dirty = true;
}

void natt_manager_tell_retired(struct natt_entry *e)
{
	for (size_t i = 0; i < natt_observer_count; i++)
		if (natt_observers[i]->retired)
			natt_observers[i]->retired(e);
}

/* The manager runs on a stack of natt's own rather than one from glibc's cache: in a forked child,
 * glibc hands the cached stack of the parent's manager (which the child does not have) to the next
 * thread, under the same thread id, and ThreadSanitizer takes that for one thread started twice.
 * Reused by later managers of this process (once the previous one is joined); a forked child maps
 * its own. */
#define MANAGER_STACK_BYTES NATT_MANAGER_STACK_BYTES
#define STACK_GUARD_BYTES NATT_STACK_GUARD_BYTES
static char *manager_stack;

int natt_manager_set_stack(pthread_attr_t *attr)
{
#if defined(__SANITIZE_ADDRESS__)
	/* AddressSanitizer leaves the poison of the previous thread's frames on a stack it did not
	 * allocate: a new thread there would be reported for writes into them. */
	if (manager_stack)
		__asan_unpoison_memory_region(manager_stack, MANAGER_STACK_BYTES);
#endif
	if (!manager_stack) {
		void *m = mmap(NULL, MANAGER_STACK_BYTES + STACK_GUARD_BYTES, PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
		if (m == MAP_FAILED)
			return -errno;
		mprotect(m, STACK_GUARD_BYTES, PROT_NONE); /* an overflow faults instead of writing below */
		manager_stack = (char *)m + STACK_GUARD_BYTES;
	}
	return -pthread_attr_setstack(attr, manager_stack, MANAGER_STACK_BYTES);
}

void natt_manager_after_fork_child(void)
{
	manager_stack = NULL; /* the parent's manager's: this process gets a stack of its own */
	M.entries = NULL;
	M.limbo = NULL; /* the parent frees its own */
	M.dirty = false;
}

static void free_later(struct natt_entry *e)
{
	e->free_at_ms = natt_now_ms() + ENTRY_GRACE_MS;
	e->next = M.limbo;
	M.limbo = e;
}

/* Frees the entries whose grace has ended; returns when the next one is due (NATT_DUE_NEVER: none). */
static int64_t free_expired(int64_t now)
{
	int64_t next = NATT_DUE_NEVER;
	for (struct natt_entry **p = &M.limbo; *p;) {
		struct natt_entry *e = *p;
		if (e->free_at_ms <= now) {
			*p = e->next;
			natt_entry_free(e);
			continue;
		}
		if (e->free_at_ms < next)
			next = e->free_at_ms;
		p = &e->next;
	}
	return next;
}

/* The IPv6 side of e: e itself when the socket has no IPv4 side; for a dual-stack [::] socket, a
 * pinhole entry of the manager's own, right after e in the list (the IPv4 mapping goes first). */
static void add_ipv6_side(struct natt_entry *e)
{
	natt_engine_lock();
	e->pinhole_side = NULL; /* (an entry taken over after fork: the parent's side is the parent's) */
	e->pinhole = natt_entry_wants_pinhole(e) && !natt_entry_has_ipv4_side(e);
	natt_engine_unlock();
	if (!natt_entry_wants_pinhole(e) || e->pinhole)
		return;
	struct natt_entry *p = natt_entry_alloc();
	if (!p) {
		natt_info("%s port %u: out of memory: no IPv6 pinhole", natt_protocol_text(e->protocol),
		          natt_entry_local_port(e));
		return;
	}
	p->protocol = e->protocol;
	p->local = e->local;
	p->dual_stack = true; /* (the socket's; the entry does the IPv6 side only) */
	p->socket_id = e->socket_id;
	p->owner = e->owner;
	p->lifetime = e->lifetime;
	p->refresh_interval = e->refresh_interval;
	memcpy(p->order, e->order, sizeof(p->order));
	p->order_count = e->order_count;
	p->pinhole = true;
	p->active = true;
	p->due_ms = NATT_DUE_NOW;
	natt_engine_lock();
	p->pinhole_of = e;
	e->pinhole_side = p;
	p->next = e->next;
	e->next = p;
	natt_engine_unlock();
}

/* A socket published without a look at it, looked at now (unless it is closed already: retire); set
 * aside (ignored) when it is not one to publish. Under the lock, which fork() takes first: a child
 * never inherits the socket held pending meanwhile, nor an entry half decided. */
static void examine(struct natt_entry *e, bool retire)
{
	natt_engine_lock();
	if (retire || !natt_engine_examine_hook || !natt_engine_examine_hook(e))
		atomic_store(&e->ignored, true);
	natt_engine_unlock();
}

static void take_inbox(void)
{
	struct natt_entry *list = natt_engine_take_inbox();
	struct natt_entry *fifo = NULL;
	while (list) { /* the stack is newest first; handle in arrival order */
		struct natt_entry *next = list->inbox_next;
		list->inbox_next = fifo;
		fifo = list;
		list = next;
	}
	for (struct natt_entry *e = fifo; e;) {
		struct natt_entry *next = e->inbox_next;
		atomic_store(&e->queued, false);
		unsigned ops = atomic_exchange(&e->ops, 0);
		if (e->owner != getpid()) {
			/* Inherited across fork: the parent's mapping, not ours to delete. */
			if ((ops & NATT_OP_RETIRE) && !e->listener)
				free_later(e);
			e = next;
			continue;
		}
		/* (A retirement may come first: the shim puts the entry in its table before publishing it.) */
		if (!e->active && atomic_load(&e->unexamined) && !atomic_load(&e->ignored))
			examine(e, ops & NATT_OP_RETIRE);
		if (atomic_load(&e->ignored)) {
			if (ops & NATT_OP_RETIRE)
				free_later(e);
			e = next;
			continue;
		}
		if ((ops & NATT_OP_PUBLISH) && !e->active) {
			e->active = true;
			e->due_ms = NATT_DUE_NOW;
			natt_engine_lock();
			e->next = M.entries;
			M.entries = e;
			natt_engine_unlock();
			add_ipv6_side(e);
		}
		struct natt_entry *side = e->pinhole_side;
		if ((ops & NATT_OP_REFRESH) && !natt_entry_retiring(e)) {
			e->due_ms = NATT_DUE_NOW;
			if (side)
				side->due_ms = NATT_DUE_NOW;
		}
		if (ops & NATT_OP_RETIRE) {
			e->due_ms = NATT_DUE_RETIRE;
			if (side)
				side->due_ms = NATT_DUE_RETIRE;
		}
		e = next;
	}
}

static void retire_entry(struct natt_entry *e)
{
	/* Closed here, still open in another process: keep it published (and renewed) until that
	 * process lets go too. Not at exit: then a daemon child takes it over (unpublish leaves it). */
	if (e->state == NATT_STATE_PUBLISHED && !natt_engine_stopping()) {
		pid_t holder = natt_router_other_holder(e);
		if (holder > 0) {
			if (natt_pidwatch_add(holder, NULL) == 0) {
				e->lingering_holder = holder;
				e->due_ms = natt_now_ms() + 1000;
				return;
			}
		}
	}
	natt_router_unpublish(e);
	natt_manager_tell_retired(e);
	natt_engine_lock();
	for (struct natt_entry **p = &M.entries; *p; p = &(*p)->next) {
		if (*p == e) {
			*p = e->next;
			break;
		}
	}
	e->active = false;
	e->state = NATT_STATE_PENDING;
	if (e->pinhole_side)
		e->pinhole_side->pinhole_of = NULL;
	if (e->pinhole_of)
		e->pinhole_of->pinhole_side = NULL;
	e->pinhole_side = e->pinhole_of = NULL;
	bool owned_by_listener = e->listener != NULL;
	atomic_store(&e->retired, true);
	natt_engine_broadcast();
	natt_engine_unlock();
	natt_manager_changed();
	if (!owned_by_listener)
		free_later(e);
}

/* Whether the next round has work already: requests in the inbox, or an entry due now. */
static bool work_waiting(void)
{
	if (natt_engine_inbox_waiting())
		return true;
	int64_t now = natt_now_ms();
	for (const struct natt_entry *e = M.entries; e; e = e->next)
		if (e->due_ms <= now)
			return true;
	return false;
}

static void tell_changes(void)
{
	for (struct natt_entry *e = M.entries; e; e = e->next) {
		if (!e->announced && !e->vanished) {
			for (size_t i = 0; i < natt_observer_count; i++)
				if (natt_observers[i]->changed)
					natt_observers[i]->changed(e);
			e->announced = true;
		}
	}
	for (size_t i = 0; i < natt_observer_count; i++)
		if (natt_observers[i]->batch_done)
			natt_observers[i]->batch_done();
	M.dirty = false;
}

/* When an observer wants its batch_done again without a change (NATT_DUE_NEVER: none). */
static int64_t observers_retry_due(void)
{
	int64_t due = NATT_DUE_NEVER;
	for (size_t i = 0; i < natt_observer_count; i++)
		if (natt_observers[i]->retry_due_ms)
			due = natt_min64(due, natt_observers[i]->retry_due_ms());
	return due;
}

static bool any_retiring(void)
{
	for (const struct natt_entry *e = M.entries; e; e = e->next)
		if (natt_entry_retiring(e))
			return true;
	return false;
}

/* Retires every entry marked NATT_DUE_RETIRE (all of them when all): one look at the kernel's socket
 * tables and one hold of the gateway lock for the whole batch, however many there are. */
static void retire_marked(bool all)
{
	bool any = false;
	for (struct natt_entry *e = M.entries; e; e = e->next) {
		if (all)
			e->due_ms = NATT_DUE_RETIRE; /* all marked first: no shared mapping is kept for one that goes too */
		any |= natt_entry_retiring(e);
	}
	if (!any)
		return;
	bool locked = natt_router_lock();
	/* Closes that came in meanwhile (a program closing many sockets) join this hold of the lock (a
	 * few rounds at most: the rest waits for the loop's next turn). */
	for (int round = 0; round < 8 && (round == 0 || any_retiring()); round++) {
		natt_socket_tables_forget();
		for (struct natt_entry *e = M.entries, *next; e; e = next) {
			next = e->next;
			if (natt_entry_retiring(e))
				retire_entry(e);
		}
		take_inbox();
	}
	natt_router_unlock(locked);
}

static void retire_everything(void)
{
	retire_marked(true);
	for (size_t i = 0; i < natt_observer_count; i++)
		if (natt_observers[i]->batch_done)
			natt_observers[i]->batch_done();
}

void *natt_manager_main(void *arg)
{
	(void)arg;
	/* Blocked from the start by the thread's attributes, and again here: a sanitizer's
	 * pthread_create() gives the new thread its creator's mask back. */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	natt_internal_depth = 1;
	natt_manager_thread = true;
	pthread_setname_np(pthread_self(), "natt");
	natt_entry_pool_prepare(); /* before the program's next listen() needs it */
	if (natt_engine_started_hook)
		natt_engine_started_hook(); /* work the first hook need not do itself */
	natt_announcements_open();
	const struct natt_config *cfg = natt_engine_config();
	M.verify_due_ms = natt_now_ms() + (int64_t)cfg->verify_interval * 1000;
	for (;;) {
		natt_fork_pause_point();
		take_inbox();
		natt_entry_pool_prepare();
		int sig = natt_engine_take_exit_signal();
		if (sig || natt_engine_shutdown_asked()) {
			/* The signal must end the process soon: the same time as at exit (see
			 * natt_engine_shutdown), then the leases take over. */
			if (sig)
				natt_router_limit_cleanup(natt_now_ms() + NATT_CLEANUP_IDLE_MS,
				                          natt_now_ms() + NATT_CLEANUP_CAP_MS);
			take_inbox();
			if (M.dirty)
				tell_changes(); /* what was published meanwhile is told before it goes */
			retire_everything();
			if (sig)
				natt_engine_after_signal(sig);
			break;
		}
		/* Retirements first: they free ports that new entries may want. */
		unsigned flush_asked = natt_engine_flush_asked();
		retire_marked(false);
		if (!natt_engine_flush_answered(flush_asked)) {
			if (M.dirty)
				tell_changes();
			natt_engine_flush_answer(flush_asked);
		}
		int64_t now = natt_now_ms();
		if (cfg->verify_interval && now >= M.verify_due_ms) {
			natt_router_verify();
			M.verify_due_ms = now + (int64_t)cfg->verify_interval * 1000;
		}
		/* The entries due, under one hold of the gateway lock (up to BATCH_HOLD_MAX_MS): the lock
		 * changes hands between processes once, not once per entry. */
		bool batch = false, batch_locked = false;
		int64_t batch_since = 0;
		for (struct natt_entry *e = M.entries; e; e = e->next) {
			if (!natt_entry_retiring(e) && e->due_ms <= now) {
				natt_fork_pause_point();
				if (batch && natt_now_ms() - batch_since >= BATCH_HOLD_MAX_MS) {
					natt_router_unlock(batch_locked);
					batch = false;
					/* (fcntl locks keep no queue: a moment for a waiter, woken by our
					 * close, to take it first) */
					usleep(BATCH_HANDOVER_US);
				}
				if (!batch) {
					batch_locked = natt_router_lock_for_batch();
					batch = true;
					batch_since = natt_now_ms();
				}
				natt_router_work_on(e);
				take_inbox(); /* a retirement may have come in while we talked to the router */
				if (natt_engine_stopping())
					break;
			}
		}
		if (batch)
			natt_router_unlock(batch_locked);
		if (natt_engine_stopping())
			continue;
		if (M.dirty && (!work_waiting() || natt_now_ms() - M.dirty_since_ms >= TELL_DEFER_MAX_MS))
			tell_changes();

		int64_t next_due = free_expired(natt_now_ms());
		int64_t retry = observers_retry_due();
		if (retry <= natt_now_ms())
			tell_changes();
		else
			next_due = natt_min64(next_due, retry);
		bool any_published = false;
		for (struct natt_entry *e = M.entries; e; e = e->next) {
			if (e->due_ms < next_due)
				next_due = e->due_ms;
			any_published |= e->state == NATT_STATE_PUBLISHED;
		}
		if (any_published && cfg->verify_interval && M.verify_due_ms < next_due)
			next_due = M.verify_due_ms;
		now = natt_now_ms();
		int timeout = -1;
		if (next_due != NATT_DUE_NEVER)
			timeout = next_due <= now ? 0 : (int)(next_due - now > 3600000 ? 3600000 : next_due - now);
		if (natt_spawn_reap() > 0 && (timeout < 0 || timeout > REAP_POLL_MS))
			timeout = REAP_POLL_MS; /* an on-change command is still running: reap it soon */
		int wake_fd = natt_engine_wake_fd();
		if (wake_fd < 0 && (timeout < 0 || timeout > WAKE_LOST_POLL_MS))
			timeout = WAKE_LOST_POLL_MS;
		struct pollfd pfd[3 + 32] = { { .fd = wake_fd, .events = POLLIN } };
		natt_announcements_pollfds(&pfd[1]);
		int nfds = 3 + natt_pidwatch_pollfds(&pfd[3], 32, &timeout);
		if (timeout != 0)
			natt_lock_waits_close(); /* (the lock waits of this round are over: see gwlock.c) */
		int ready = poll(pfd, (nfds_t)nfds, timeout);
		natt_pidwatch_check(&pfd[3], ready > 0 ? nfds - 3 : 0);
		if (ready > 0) {
			if (pfd[0].revents & POLLNVAL) {
				/* The wake-up eventfd was closed under natt (a program that closes every
				 * descriptor): polled from now on at most every WAKE_LOST_POLL_MS instead of
				 * spinning on it. */
				natt_debug("the wake-up descriptor was closed under natt: polling instead");
				natt_engine_wake_fd_lost();
			} else if (pfd[0].revents) {
				natt_engine_drain_wake();
			}
			natt_announcements_handle(&pfd[1]);
		}
	}
	natt_techniques_close();
	natt_announcements_close();
	natt_lock_waits_close();
	natt_engine_manager_ended();
	return NULL;
}
