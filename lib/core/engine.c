/* The engine's front: configuration, starting the manager thread, the inbox through which front
 * ends (the shim, the listener API, the outside watcher) hand entries over, shutdown, and the library's
 * callbacks. The other units are listed in engine_internal.h.
 *
 * The inbox is lock-free (push by CAS, pop-all by exchange — no ABA problem with a single consumer) and
 * wakes the manager through an eventfd. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/engine_internal.h"
#include "core/gwlock.h"
#include "core/entry_pool.h"
#include "sys/ownfd.h"
#include "util/clock.h"
#include "util/log.h"

/* pthread_attr_setsigmask_np(): glibc 2.32 and later. */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
#define NATT_THREAD_SIGMASK_ATTR 1
#else
#define NATT_THREAD_SIGMASK_ATTR 0
#define pthread_attr_setsigmask_np(attr, set) ((void)(attr), (void)(set), ENOSYS)
#endif

__thread int natt_internal_depth __attribute__((tls_model("initial-exec")));
__thread bool natt_manager_thread __attribute__((tls_model("initial-exec")));
void (*natt_engine_fd_hook)(int fd, enum natt_fd_mark mark);
void (*natt_engine_started_hook)(void);
bool (*natt_engine_examine_hook)(struct natt_entry *entry);
bool (*natt_engine_in_signal_handler)(void);
bool natt_engine_fork_hooked;

static struct {
	pthread_mutex_t lock;       /* entry fields read by other threads; see engine.h */
	pthread_mutex_t start_lock; /* starting the thread, configuring */
	pthread_cond_t changed;     /* broadcast after retirements and at shutdown */
	struct natt_config cfg;
	atomic_bool configured;
	atomic_bool running;
	atomic_bool stopped;        /* manager finished its shutdown */
	atomic_bool start_wanted;   /* a publish in a signal handler could not start the manager */
	int wake_fd;
	bool wake_fd_lost;          /* wake_fd was closed under natt: the loop polls instead */
	pthread_t thread;
	bool thread_unjoined;       /* a manager thread was started and not joined yet */
	bool thread_offered;        /* offered_thread may become the manager (natt_engine_offer_thread) */
	pthread_t offered_thread;
	atomic_bool manage_here;    /* the manager's start took the offered thread: it runs the loop next */
	pid_t pid;                  /* the process the manager runs in */
	_Atomic(struct natt_entry *) inbox;
	atomic_bool shutdown;
	atomic_int exit_signal;
	void (*after_signal)(int);
	atomic_bool ever_forked;    /* sockets may be shared with other processes */
	atomic_uint flush_asked;    /* natt_engine_flush: requests and acknowledgements */
	atomic_uint flush_done;
	atomic_uint cleanup_progress; /* deletions the router answered (see cleanup_progress()) */
	bool end_pending;           /* natt_engine_end timed out: the next start joins the thread */
} E = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.start_lock = PTHREAD_MUTEX_INITIALIZER,
	.changed = PTHREAD_COND_INITIALIZER,
	.wake_fd = -1,
};

void natt_engine_lock(void)
{
	pthread_mutex_lock(&E.lock);
}

void natt_engine_unlock(void)
{
	pthread_mutex_unlock(&E.lock);
}

void natt_engine_broadcast(void)
{
	pthread_cond_broadcast(&E.changed);
}

void natt_engine_wait_changed(void)
{
	pthread_cond_wait(&E.changed, &E.lock);
}

int natt_own_fd(int fd)
{
	if (fd >= 0 && natt_engine_fd_hook)
		natt_engine_fd_hook(fd, NATT_FD_MARK);
	return fd;
}

/* Under the shim, close() lets natt close what it marked only at natt_internal_depth > 0 (and takes
 * the mark away with it). The number is forgotten before the close: once closed, it may be the
 * program's at once, and a fork by another thread in between would have the child close it again
 * (a child closes the numbers natt keeps). */
void natt_close_own_fd(int *fd)
{
	int closing = __atomic_exchange_n(fd, -1, __ATOMIC_SEQ_CST);
	if (closing < 0)
		return;
	natt_internal_depth++;
	close(closing);
	natt_internal_depth--;
}

/* Only if *fd still holds `from`: natt's thread may be closing that fd (natt_close_own_fd takes the
 * number out first), and must not find it written back after. */
bool natt_own_fd_moved(int *fd, int from, int to)
{
	return __atomic_compare_exchange_n(fd, &from, to, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/* ---------------------------------------------------------------- configuration, start-up */

void natt_engine_configure(const struct natt_config *cfg)
{
	pthread_mutex_lock(&E.start_lock);
	if (!atomic_load(&E.configured)) {
		E.cfg = *cfg;
		atomic_store(&E.configured, true);
	}
	pthread_mutex_unlock(&E.start_lock);
}

const struct natt_config *natt_engine_config(void)
{
	/* Read straight into place: no copy of several pages on the stack (each page touched first is a
	 * fault on the first listen()'s path). */
	if (!atomic_load(&E.configured)) {
		pthread_mutex_lock(&E.start_lock);
		if (!atomic_load(&E.configured)) {
			natt_config_from_env(&E.cfg);
			atomic_store(&E.configured, true);
		}
		pthread_mutex_unlock(&E.start_lock);
	}
	return &E.cfg;
}

void natt_engine_note_shared(void)
{
	atomic_store(&E.ever_forked, true);
}

bool natt_engine_sockets_shared(void)
{
	return atomic_load(&E.ever_forked);
}

bool natt_engine_running(void)
{
	return atomic_load(&E.running);
}

/* getpid() is a system call; hooks ask often. Set again in the fork child handler. (Atomic: the
 * first publishes of several threads may fill it at once, each with the same value.) */
static _Atomic pid_t self_pid;

pid_t natt_self_pid(void)
{
	pid_t pid = atomic_load_explicit(&self_pid, memory_order_relaxed);
	if (!pid) {
		pid = getpid();
		atomic_store_explicit(&self_pid, pid, memory_order_relaxed);
	}
	return pid;
}

bool natt_engine_running_here(void)
{
	/* A vfork child shares our memory, self_pid included: only the system call can tell. */
	return atomic_load(&E.running) && E.pid == getpid();
}

static bool wait_until_ms(bool (*done)(const void *arg), const void *arg, int64_t deadline)
{
	pthread_mutex_lock(&E.lock);
	while (!done(arg)) {
		int64_t left = deadline - natt_now_ms();
		if (left <= 0)
			break;
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += left / 1000;
		until.tv_nsec += (long)(left % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&E.changed, &E.lock, &until);
	}
	bool result = done(arg);
	pthread_mutex_unlock(&E.lock);
	return result;
}

static bool flushed(const void *arg)
{
	(void)arg;
	return atomic_load(&E.flush_done) >= atomic_load(&E.flush_asked) || atomic_load(&E.stopped);
}

void natt_engine_flush(int timeout_ms)
{
	if (!natt_engine_running_here())
		return;
	atomic_fetch_add(&E.flush_asked, 1);
	natt_engine_wake();
	wait_until_ms(flushed, NULL, natt_now_ms() + timeout_ms);
}

unsigned natt_engine_flush_asked(void)
{
	return atomic_load(&E.flush_asked);
}

bool natt_engine_flush_answered(unsigned asked)
{
	return atomic_load(&E.flush_done) == asked;
}

void natt_engine_flush_answer(unsigned asked)
{
	pthread_mutex_lock(&E.lock);
	atomic_store(&E.flush_done, asked);
	pthread_cond_broadcast(&E.changed);
	pthread_mutex_unlock(&E.lock);
}

/* A manager that ended by itself (after a termination signal the program survived) is still leaving:
 * the next one must not run on the stack before that thread is gone. */
static void join_previous_manager(void)
{
	if (E.thread_unjoined) {
		pthread_join(E.thread, NULL);
		E.thread_unjoined = false;
	}
}


static void register_fork_handlers(void)
{
	if (!natt_engine_fork_hooked)
		pthread_atfork(natt_engine_atfork_prepare, natt_engine_atfork_parent, natt_engine_atfork_child);
}

/* Must be called with start_lock held. */
static int start_manager_locked(void)
{
	if (atomic_load(&E.running))
		return 0;
	/* A program using libnatt alone (no preload) gets the engine's own fork handlers, once. (The
	 * preload library's are registered at load: no once, whose end is a futex wake-up, on its first
	 * listen().) */
	if (!natt_engine_fork_hooked) {
		static pthread_once_t fork_handlers = PTHREAD_ONCE_INIT;
		pthread_once(&fork_handlers, register_fork_handlers);
	}
	/* (Atomic: a thread publishing meanwhile wakes the manager without the lock.) */
	natt_own_fds_opening();
	__atomic_store_n(&E.wake_fd, natt_own_fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), __ATOMIC_RELEASE);
	natt_own_fds_opened();
	if (E.wake_fd < 0)
		return -errno;
	/* The manager must never take the application's signals: it starts with all blocked. glibc
	 * sets the new thread's mask itself (it blocks everything around clone() anyway), sparing two
	 * system calls here. */
	join_previous_manager();
	/* Before the thread exists: it reads them from its first loop on. */
	E.pid = getpid();
	E.wake_fd_lost = false;
	int rc = 0;
	if (E.thread_offered && pthread_equal(E.offered_thread, pthread_self())) {
		E.thread = E.offered_thread; /* (natt_manager_main blocks its signals, as in any manager) */
		atomic_store(&E.manage_here, true);
	} else {
		sigset_t all, old;
		sigfillset(&all);
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		bool mask_in_attr = NATT_THREAD_SIGMASK_ATTR && pthread_attr_setsigmask_np(&attr, &all) == 0;
		if (!mask_in_attr)
			pthread_sigmask(SIG_SETMASK, &all, &old);
		rc = -natt_manager_set_stack(&attr);
		if (rc == 0)
			rc = pthread_create(&E.thread, &attr, natt_manager_main, NULL);
		pthread_attr_destroy(&attr);
		if (!mask_in_attr)
			pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	E.thread_offered = false;
	if (rc == 0)
		E.thread_unjoined = true;
	if (rc != 0) {
		natt_close_own_fd(&E.wake_fd);
		return -rc;
	}
	atomic_store(&E.stopped, false);
	atomic_store(&E.running, true);
	return 0;
}

void natt_engine_wake(void)
{
	/* eventfd write is async-signal-safe; a full counter (EAGAIN) still means "awake". */
	uint64_t one = 1;
	int saved = errno;
	int wake_fd = __atomic_load_n(&E.wake_fd, __ATOMIC_ACQUIRE);
	if (wake_fd >= 0) {
		ssize_t ignored = write(wake_fd, &one, sizeof(one));
		(void)ignored;
	}
	errno = saved;
}

static void push_inbox(struct natt_entry *entry, unsigned op)
{
	atomic_fetch_or(&entry->ops, op);
	if (atomic_exchange(&entry->queued, true))
		return; /* already waiting in the inbox; the manager will see the new op */
	struct natt_entry *head = atomic_load(&E.inbox);
	do
		entry->inbox_next = head;
	while (!atomic_compare_exchange_weak(&E.inbox, &head, entry));
	/* A non-empty inbox already has a wake-up on its way: whoever pushed first wrote it, and the
	 * manager takes the whole list when it reads. */
	if (!head)
		natt_engine_wake();
}

/* (An offer not taken is not withdrawn: no other thread can get the offered one's id, since its stack,
 * natt's own, is never unmapped.) */
void natt_engine_offer_thread(void)
{
	pthread_mutex_lock(&E.start_lock);
	E.offered_thread = pthread_self();
	E.thread_offered = !atomic_load(&E.running);
	pthread_mutex_unlock(&E.start_lock);
}

bool natt_engine_manage_here(void)
{
	/* No lock: a program's thread holding start_lock may be the one a signal handler's _exit() runs
	 * in, waiting for the manager to clean up. (E.thread was written before the flag.) */
	bool here = atomic_exchange(&E.manage_here, false) && pthread_equal(E.thread, pthread_self());
	if (here)
		natt_manager_main(NULL);
	return here;
}

int natt_engine_start_manager(void)
{
	pthread_mutex_lock(&E.start_lock);
	int rc = start_manager_locked();
	pthread_mutex_unlock(&E.start_lock);
	return rc;
}

static bool in_signal_handler(void)
{
	return natt_engine_in_signal_handler && natt_engine_in_signal_handler();
}

void natt_engine_start_if_wanted(void)
{
	if (!atomic_load(&E.start_wanted) || in_signal_handler() || !atomic_exchange(&E.start_wanted, false))
		return;
	int rc = natt_engine_start_manager();
	if (rc < 0)
		natt_warn("cannot start the manager thread: %s", natt_strerror(rc));
	else
		natt_engine_wake();
}

struct natt_entry *natt_engine_publish(enum natt_protocol protocol, const struct sockaddr_storage *local,
                                       bool dual_stack, uint64_t socket_id, natt_change_fn on_change, void *ctx,
                                       struct natt_listener *listener)
{
	return natt_engine_publish_with(protocol, local, dual_stack, socket_id, on_change, ctx, listener, NULL, NULL);
}

struct natt_entry *natt_engine_publish_with(enum natt_protocol protocol, const struct sockaddr_storage *local,
                                            bool dual_stack, uint64_t socket_id, natt_change_fn on_change,
                                            void *ctx, struct natt_listener *listener,
                                            void (*prepare)(struct natt_entry *entry, void *arg), void *arg)
{
	natt_engine_config();
	struct natt_entry *entry = natt_entry_alloc();
	if (!entry)
		return NULL;
	/* A new entry is all zero (pending, no technique): only what differs is written, since every cache
	 * line written here is one more miss for a hook (the manager zeroed the memory). */
	entry->protocol = protocol;
	entry->owner = natt_self_pid();
	if (local)
		entry->local = *local;
	if (dual_stack)
		entry->dual_stack = dual_stack;
	if (socket_id)
		entry->socket_id = socket_id;
	if (on_change || ctx || listener) {
		entry->on_change = on_change;
		entry->ctx = ctx;
		entry->listener = listener;
	}

	/* Once the manager runs, publishing takes no lock (it may happen in a signal handler that
	 * interrupted a thread holding one, e.g. in a fork handler). In a signal handler no thread can be
	 * started: the entry waits in the inbox for the next call. */
	if (!atomic_load(&E.running)) {
		int rc = in_signal_handler() ? 0 : natt_engine_start_manager();
		if (rc < 0) {
			natt_warn("cannot start the manager thread: %s", natt_strerror(rc));
			natt_entry_free(entry);
			return NULL;
		}
		if (!atomic_load(&E.running))
			atomic_store(&E.start_wanted, true);
	}
	/* Last, so that what prepare() hands out is never freed here. */
	if (prepare)
		prepare(entry, arg);
	push_inbox(entry, NATT_OP_PUBLISH);
	return entry;
}

struct unexamined {
	int fd;
	void (*ready)(struct natt_entry *entry, void *ctx);
	void *ctx;
};

static void prepare_unexamined(struct natt_entry *entry, void *arg)
{
	const struct unexamined *u = arg;
	entry->examine_fd = u->fd;
	atomic_store(&entry->unexamined, true);
	u->ready(entry, u->ctx);
}

struct natt_entry *natt_engine_publish_unexamined(int fd, void (*ready)(struct natt_entry *entry, void *ctx),
                                                  void *ctx)
{
	struct unexamined u = { fd, ready, ctx };
	return natt_engine_publish_with(NATT_TCP, NULL, false, 0, NULL, NULL, NULL, prepare_unexamined, &u);
}

void natt_engine_refresh(struct natt_entry *entry)
{
	if (entry)
		push_inbox(entry, NATT_OP_REFRESH);
}

void natt_engine_retire(struct natt_entry *entry)
{
	if (entry)
		push_inbox(entry, NATT_OP_RETIRE);
}

static bool entry_retired(const void *arg)
{
	const struct natt_entry *entry = arg;
	return atomic_load(&entry->retired) || atomic_load(&E.stopped);
}

int natt_engine_wait_retired(struct natt_entry *entry, int timeout_ms)
{
	wait_until_ms(entry_retired, entry, natt_now_ms() + timeout_ms);
	return atomic_load(&entry->retired) ? 0 : -ETIMEDOUT;
}

void natt_engine_request_signal_exit(int sig, void (*after_cleanup)(int sig))
{
	E.after_signal = after_cleanup;
	atomic_store(&E.exit_signal, sig);
	natt_engine_wake();
}

static bool manager_stopped(const void *arg)
{
	(void)arg;
	return atomic_load(&E.stopped);
}

/* Whether the clean-up moves: the router answers our deletions, or, while they wait for the gateway
 * lock, its holders' requests (fifty processes ending at once queue at the router, and the last ones
 * wait longer than a silent router is given). */
static unsigned cleanup_progress(void)
{
	return atomic_load(&E.cleanup_progress) + natt_lock_answers_seen();
}

/* The end of the wait for the clean-up begun at start: until, or timeout_ms from now when it moved
 * since *seen (within the cap). Async-signal-safe. */
static int64_t cleanup_wait_end(int64_t start, int64_t now, int64_t until, int timeout_ms, unsigned *seen)
{
	unsigned progress = cleanup_progress();
	if (progress == *seen)
		return until;
	*seen = progress;
	return natt_min64(now + timeout_ms, start + NATT_CLEANUP_CAP_MS);
}

void natt_engine_shutdown(int timeout_ms)
{
	if (!natt_engine_running_here())
		return;
	int64_t start = natt_now_ms();
	natt_lock_waits_end_by(start + NATT_CLEANUP_CAP_MS); /* (the manager's waits end with ours) */
	atomic_store(&E.shutdown, true);
	natt_engine_wake();
	unsigned seen = cleanup_progress();
	bool stopped;
	/* Wait on while the clean-up moves: many mappings take long on a slow router, a silent one gets
	 * timeout_ms. */
	int64_t until = natt_min64(start + timeout_ms, start + NATT_CLEANUP_CAP_MS);
	for (;;) {
		if ((stopped = wait_until_ms(manager_stopped, NULL, until)))
			break;
		int64_t now = natt_now_ms();
		until = cleanup_wait_end(start, now, until, timeout_ms, &seen);
		if (now >= until)
			break;
	}
	if (stopped) {
		pthread_join(E.thread, NULL);
		E.thread_unjoined = false;
		natt_close_own_fd(&E.wake_fd);
	} else
		natt_warn("exiting before the router confirmed the deletions; they expire with their lease");
}

void natt_engine_shutdown_from_handler(int timeout_ms)
{
	if (!natt_engine_running_here())
		return;
	/* Only atomics, a write and nanosleep: the handler may have interrupted a thread holding any lock
	 * (if the manager needs that one, the deadline ends the wait; the leases do the rest). */
	int64_t start = natt_now_ms(), until = start + timeout_ms;
	natt_lock_waits_end_by(start + NATT_CLEANUP_CAP_MS);
	atomic_store(&E.shutdown, true);
	natt_engine_wake();
	unsigned seen = cleanup_progress();
	for (;;) {
		if (atomic_load(&E.stopped))
			return;
		int64_t now = natt_now_ms();
		until = cleanup_wait_end(start, now, until, timeout_ms, &seen); /* (as natt_engine_shutdown) */
		if (now >= until)
			return;
		const struct timespec step = { 0, 5 * 1000 * 1000 };
		nanosleep(&step, NULL);
	}
}

/* ---------------------------------------------------------------- for the loop */

bool natt_engine_inbox_waiting(void)
{
	return atomic_load(&E.inbox) != NULL;
}

struct natt_entry *natt_engine_take_inbox(void)
{
	return atomic_exchange(&E.inbox, NULL);
}

int natt_engine_wake_fd(void)
{
	return E.wake_fd_lost ? -1 : E.wake_fd;
}

void natt_engine_wake_fd_lost(void)
{
	E.wake_fd_lost = true;
}

void natt_engine_drain_wake(void)
{
	uint64_t count;
	ssize_t ignored = read(E.wake_fd, &count, sizeof(count));
	(void)ignored;
}

int natt_engine_take_exit_signal(void)
{
	return atomic_exchange(&E.exit_signal, 0);
}

bool natt_engine_shutdown_asked(void)
{
	return atomic_load(&E.shutdown);
}

bool natt_engine_stopping(void)
{
	return atomic_load(&E.shutdown) || atomic_load(&E.exit_signal);
}

void natt_engine_after_signal(int sig)
{
	if (E.after_signal)
		E.after_signal(sig); /* re-raises: normally the process ends here */
}

void natt_engine_cleanup_progressed(void)
{
	atomic_fetch_add(&E.cleanup_progress, 1);
}

void natt_engine_manager_ended(void)
{
	pthread_mutex_lock(&E.lock);
	atomic_store(&E.stopped, true);
	atomic_store(&E.running, false);
	pthread_cond_broadcast(&E.changed);
	pthread_mutex_unlock(&E.lock);
}

bool natt_engine_fd_moved(int from, int to)
{
	return natt_own_fd_moved(&E.wake_fd, from, to) || natt_announcements_fd_moved(from, to) ||
	       natt_pidwatch_fd_moved(from, to) || natt_lock_waits_fd_moved(from, to) ||
	       natt_router_fd_moved(from, to);
}

int natt_engine_watch_pid(pid_t pid, void (*on_exit)(pid_t pid))
{
	natt_engine_config();
	int rc = natt_engine_start_manager();
	if (rc == 0)
		rc = natt_pidwatch_add(pid, on_exit);
	if (rc == -ESRCH && on_exit)
		on_exit(pid); /* already gone */
	else if (rc == 0)
		natt_engine_wake();
	return rc == -ESRCH ? 0 : rc;
}

void natt_engine_adopt(struct natt_entry *entry, pid_t from)
{
	/* A child whose parent is gone takes over the parent's mapping for the socket it still serves:
	 * it renews it from now on, and deletes it when the last holder closes it. close() and the
	 * manager's owner watch may both get here: only the one that changes the owner goes on. */
	pid_t expected = from;
	if (!__atomic_compare_exchange_n(&entry->owner, &expected, natt_self_pid(), false, __ATOMIC_SEQ_CST,
	                                 __ATOMIC_SEQ_CST))
		return;
	entry->active = false;
	entry->inbox_next = NULL;
	atomic_store(&entry->queued, false);
	atomic_store(&entry->ops, 0);
	entry->last_said = 0;
	if (natt_engine_start_manager() == 0)
		push_inbox(entry, NATT_OP_PUBLISH);
}

/* ---------------------------------------------------------------- fork */

void natt_engine_lock_for_fork(void)
{
	pthread_mutex_lock(&E.start_lock);
	pthread_mutex_lock(&E.lock);
}

void natt_engine_unlock_after_fork(void)
{
	atomic_store(&E.ever_forked, true);
	pthread_mutex_unlock(&E.lock);
	pthread_mutex_unlock(&E.start_lock);
}

void natt_engine_after_fork_child(void)
{
	atomic_store_explicit(&self_pid, getpid(), memory_order_relaxed);
	pthread_mutex_init(&E.lock, NULL);
	pthread_mutex_init(&E.start_lock, NULL);
	pthread_cond_init(&E.changed, NULL);
	/* The wake-up eventfd is shared with the parent's manager: ours to close, never to use. */
	if (atomic_load(&E.running))
		natt_close_own_fd(&E.wake_fd);
	E.wake_fd = -1;
	E.wake_fd_lost = false;
	atomic_store(&E.ever_forked, true);
	atomic_store(&E.running, false);
	atomic_store(&E.stopped, false);
	atomic_store(&E.shutdown, false);
	atomic_store(&E.exit_signal, 0);
	atomic_store(&E.inbox, NULL);
	E.thread_unjoined = false; /* (the parent's thread) */
	E.thread_offered = false;
	atomic_store(&E.manage_here, false);
}

/* Callers of these are serialized (listener.c's lock). */
static void join_ended_manager(void)
{
	pthread_join(E.thread, NULL);
	E.thread_unjoined = false;
	natt_close_own_fd(&E.wake_fd);
	atomic_store(&E.shutdown, false); /* the next publish starts a manager that stays */
	E.end_pending = false;
}

int natt_engine_end(int timeout_ms)
{
	if (!natt_engine_running_here())
		return 0;
	atomic_store(&E.shutdown, true);
	natt_engine_wake();
	if (!wait_until_ms(manager_stopped, NULL, natt_now_ms() + (timeout_ms > 0 ? timeout_ms : 0))) {
		E.end_pending = true;
		return -ETIMEDOUT;
	}
	join_ended_manager();
	return 0;
}

void natt_engine_prepare_start(void)
{
	if (!E.end_pending)
		return;
	/* Still deleting at a slow router: each of its exchanges is bounded, so this ends. */
	while (!wait_until_ms(manager_stopped, NULL, natt_now_ms() + 60000))
		;
	join_ended_manager();
}
