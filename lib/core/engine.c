/* The manager thread: one poll() loop that owns every exchange with the router.
 *
 * Front ends hand entries over through a lock-free inbox (push by CAS, pop-all by exchange — no ABA
 * problem with a single consumer) and wake the loop through an eventfd. The loop publishes new
 * entries, renews leases at half their lifetime, retries failures with back-off, deletes the mappings
 * of retired entries, and then writes what changed: the status file, listener callbacks, -v lines. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/clock.h"
#include "core/engine.h"
#include "core/engine_shim.h"
#include "upnp/igd_client.h"
#include "util/log.h"
#include "natpmp/natpmp_internal.h"
#include "natt/natpmp.h"
#include "natt/net.h"
#include "core/entry_pool.h"
#include "core/gwlock.h"
#include "sys/sockstate.h"
#include "sys/run_command.h"
#include "core/status_file.h"
#include "core/watch.h"

__thread int natt_internal_depth __attribute__((tls_model("initial-exec")));
__thread bool natt_manager_thread __attribute__((tls_model("initial-exec")));
void (*natt_engine_fd_hook)(int fd, enum natt_fd_mark mark);
void (*natt_engine_started_hook)(void);
bool (*natt_engine_in_signal_handler)(void);
static atomic_bool start_wanted;
static void wake_manager(void);
static bool stopping(void);
static void announce(struct natt_entry *e, bool retired);

/* The host-wide gateway lock the manager holds around an exchange (lock_gateway). */
static int gateway_lock_fd = -1;
static int gateway_lock_depth;

static int own_fd(int fd)
{
	if (fd >= 0 && natt_engine_fd_hook)
		natt_engine_fd_hook(fd, NATT_FD_MARK);
	return fd;
}

/* Under the shim, close() lets natt close what it marked only at natt_internal_depth > 0 (and takes
 * the mark away with it). */
static void close_own_fd(int *fd)
{
	if (*fd < 0)
		return;
	natt_internal_depth++;
	close(*fd);
	natt_internal_depth--;
	*fd = -1;
}

/* How long one attempt may wait for a router that does not answer. The SSDP answer of a LAN router
 * comes within tens of milliseconds; NAT-PMP retransmits at 250 and 750 ms within this budget. */
#define DISCOVERY_TIMEOUT_MS 1200
#define NATPMP_TIMEOUT_MS 1800
/* After a technique found nothing, wait this long before asking the same gateway again (other
 * techniques are still tried at once). */
#define ABSENT_RECHECK_MS 3000
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 60000
/* A bounded, deterministic search when an IGDv1 says the external port is taken. */
#define CONFLICT_SEARCH_PORTS 16
/* A retired entry is freed this long after the manager let go of it: a hook in another thread (or a
 * signal handler) that read the entry from the fd table just before its last fd closed may still be
 * looking at it, for the few instructions a hook takes. */
#define ENTRY_GRACE_MS 10000
/* Clean-up at exit or at a termination signal goes on while the router answers, for at most
 * CLEANUP_CAP_MS in all; a router silent for CLEANUP_IDLE_MS is left to the leases. */
#define CLEANUP_IDLE_MS 3000
#define CLEANUP_CAP_MS 30000

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static struct {
	pthread_mutex_t lock;       /* entry fields read by other threads; see engine.h */
	pthread_mutex_t start_lock; /* starting the thread, configuring */
	pthread_cond_t changed;     /* broadcast after retirements and at shutdown */
	struct natt_config cfg;
	atomic_bool configured;
	atomic_bool running;
	atomic_bool stopped;        /* manager finished its shutdown */
	int wake_fd;
	pthread_t thread;
	_Atomic(struct natt_entry *) inbox;
	atomic_bool shutdown;
	atomic_int exit_signal;
	void (*after_signal)(int);

	/* Manager-only state. */
	struct natt_entry *entries;
	struct natt_entry *limbo;   /* retired, freed at their free_at_ms (linked by next) */
	bool have_gateway;
	struct in_addr gateway;
	struct natt_igd igd;
	int64_t upnp_absent_until;
	struct in_addr upnp_external;  /* GetExternalIPAddress, reused for a few seconds */
	int64_t upnp_external_at;
	int64_t natpmp_absent_until;
	bool dirty;
	int ssdp_fd;                /* router announcements; -1 when not open */
	bool wake_fd_lost;          /* wake_fd was closed under natt: the loop polls instead */
	int natpmp_fd;
	bool have_epoch;            /* NAT-PMP epoch of the last reply, and when it came */
	uint32_t epoch;
	int64_t epoch_at_ms;
	int64_t verify_due_ms;
	int64_t status_retry_ms;    /* when to write the status file again after a failure (0: no) */
	int64_t cleanup_deadline_ms; /* at a termination signal: no router request after this */
	int64_t cleanup_cap_ms;
	atomic_uint cleanup_progress; /* deletions the router answered */
	atomic_bool ever_forked;    /* sockets may be shared with other processes */
	pid_t pid;                  /* the process the manager runs in */
	atomic_uint flush_asked;    /* natt_engine_flush: requests and acknowledgements */
	atomic_uint flush_done;
	struct pid_watch {
		pid_t pid;
		int fd;                          /* pidfd, or -1: polled with kill(pid, 0) */
		void (*on_exit)(pid_t pid);      /* NULL: a holder of a lingering entry */
	} watches[32];
	int watch_count;                         /* guarded by start_lock */
	char pending_summaries[16][512]; /* on-change lines waiting for the status file to be written */
	int pending_count;
} E = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.start_lock = PTHREAD_MUTEX_INITIALIZER,
	.changed = PTHREAD_COND_INITIALIZER,
	.wake_fd = -1,
	.ssdp_fd = -1,
	.natpmp_fd = -1,
};

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
	if (!atomic_load(&E.configured)) {
		struct natt_config cfg;
		natt_config_from_env(&cfg);
		natt_engine_configure(&cfg);
	}
	return &E.cfg;
}

void natt_engine_note_shared(void)
{
	atomic_store(&E.ever_forked, true);
}

bool natt_engine_running(void)
{
	return atomic_load(&E.running);
}

/* getpid() is a system call; hooks ask often. Set again in the fork child handler. */
static pid_t self_pid;

pid_t natt_self_pid(void)
{
	if (!self_pid)
		self_pid = getpid();
	return self_pid;
}

bool natt_engine_running_here(void)
{
	/* A vfork child shares our memory, self_pid included: only the system call can tell. */
	return atomic_load(&E.running) && E.pid == getpid();
}

/* Waits on E.changed until done(arg) holds or the monotonic deadline passes; returns done(arg). */
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
	wake_manager();
	wait_until_ms(flushed, NULL, natt_now_ms() + timeout_ms);
}

static void *manager_main(void *arg);

/* The manager runs on a stack of natt's own rather than one from glibc's cache: in a forked child,
 * glibc hands the cached stack of the parent's manager (which the child does not have) to the next
 * thread, under the same thread id, and ThreadSanitizer takes that for one thread started twice.
 * Reused by later managers of this process; a forked child maps its own. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define MANAGER_STACK_BYTES (4 * 1024 * 1024) /* the sanitizers' runtimes want far more */
#else
#define MANAGER_STACK_BYTES (256 * 1024)
#endif
#define STACK_GUARD_BYTES 4096
static char *manager_stack;

static int set_manager_stack(pthread_attr_t *attr)
{
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

bool natt_engine_fork_hooked;

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
	/* A program using libnatt alone (no preload) gets the engine's own fork handlers, once. */
	static pthread_once_t fork_handlers = PTHREAD_ONCE_INIT;
	pthread_once(&fork_handlers, register_fork_handlers);
	E.wake_fd = own_fd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	if (E.wake_fd < 0)
		return -errno;
	/* The manager must never take the application's signals: create it with all blocked. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	int rc = -set_manager_stack(&attr);
	if (rc == 0)
		rc = pthread_create(&E.thread, &attr, manager_main, NULL);
	pthread_attr_destroy(&attr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		close_own_fd(&E.wake_fd);
		return -rc;
	}
	E.pid = getpid();
	atomic_store(&E.stopped, false);
	atomic_store(&E.running, true);
	return 0;
}

static void wake_manager(void)
{
	/* eventfd write is async-signal-safe; a full counter (EAGAIN) still means "awake". */
	uint64_t one = 1;
	int saved = errno;
	if (E.wake_fd >= 0) {
		ssize_t ignored = write(E.wake_fd, &one, sizeof(one));
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
		wake_manager();
}

static int start_manager(void)
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
	if (!atomic_load(&start_wanted) || in_signal_handler() || !atomic_exchange(&start_wanted, false))
		return;
	int rc = start_manager();
	if (rc < 0)
		natt_warn("cannot start the manager thread: %s", natt_strerror(rc));
	else
		wake_manager();
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
	entry->protocol = protocol;
	entry->local = *local;
	entry->dual_stack = dual_stack;
	entry->socket_id = socket_id;
	entry->on_change = on_change;
	entry->ctx = ctx;
	entry->listener = listener;
	entry->state = NATT_STATE_PENDING;
	entry->technique = NATT_TECH_LOCAL;
	entry->owner = natt_self_pid();
	if (prepare)
		prepare(entry, arg);

	/* Once the manager runs, publishing takes no lock (it may happen in a signal handler that
	 * interrupted a thread holding one, e.g. in a fork handler). */
	int rc = 0;
	if (!atomic_load(&E.running)) {
		if (in_signal_handler()) {
			/* No thread can be started here: the entry waits in the inbox for the next call. */
			atomic_store(&start_wanted, true);
			push_inbox(entry, NATT_OP_PUBLISH);
			return entry;
		}
		rc = start_manager();
	}
	if (rc < 0) {
		natt_warn("cannot start the manager thread: %s", natt_strerror(rc));
		natt_entry_free(entry);
		return NULL;
	}
	push_inbox(entry, NATT_OP_PUBLISH);
	return entry;
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
	wake_manager();
}

static bool manager_stopped(const void *arg)
{
	(void)arg;
	return atomic_load(&E.stopped);
}

void natt_engine_shutdown(int timeout_ms)
{
	if (!natt_engine_running_here())
		return;
	atomic_store(&E.shutdown, true);
	wake_manager();
	int64_t start = natt_now_ms();
	unsigned seen = atomic_load(&E.cleanup_progress);
	bool stopped;
	/* Wait on while the router keeps answering deletions: many mappings take long on a slow router,
	 * a silent one gets timeout_ms. */
	for (;;) {
		int64_t until = min64(natt_now_ms() + timeout_ms, start + CLEANUP_CAP_MS);
		if ((stopped = wait_until_ms(manager_stopped, NULL, until)))
			break;
		unsigned progress = atomic_load(&E.cleanup_progress);
		if (progress == seen || natt_now_ms() >= start + CLEANUP_CAP_MS)
			break;
		seen = progress;
	}
	if (stopped) {
		pthread_join(E.thread, NULL);
		close_own_fd(&E.wake_fd);
	} else
		natt_warn("exiting before the router confirmed the deletions; they expire with their lease");
}

void natt_engine_shutdown_from_handler(int timeout_ms)
{
	if (!natt_engine_running_here())
		return;
	atomic_store(&E.shutdown, true);
	wake_manager();
	/* Only atomics, a write and nanosleep: the handler may have interrupted a thread holding any lock
	 * (if the manager needs that one, the deadline ends the wait; the leases do the rest). */
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	int64_t until = (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000 + timeout_ms;
	for (;;) {
		if (atomic_load(&E.stopped))
			return;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000 >= until)
			return;
		const struct timespec step = { 0, 5 * 1000 * 1000 };
		nanosleep(&step, NULL);
	}
}

/* ---------------------------------------------------------------- fork */

#if defined(__SANITIZE_ADDRESS__)
/* AddressSanitizer's allocator (GCC 12's, and clang 16's) is not locked around fork(): a child forked
 * while the manager was inside malloc() inherits a held allocator lock and hangs at its first malloc.
 * glibc's malloc has no such problem; in AddressSanitizer builds the fork waits until the manager has
 * stopped between two pieces of work. */
static atomic_int fork_pause_asked;
static atomic_bool manager_paused;

static void pause_point(void)
{
	if (!atomic_load(&fork_pause_asked))
		return;
	atomic_store(&manager_paused, true);
	while (atomic_load(&fork_pause_asked))
		usleep(200);
	atomic_store(&manager_paused, false);
}

static void pause_manager_for_fork(void)
{
	if (!natt_engine_running_here() || natt_manager_thread)
		return;
	atomic_fetch_add(&fork_pause_asked, 1);
	wake_manager();
	for (int waited_ms = 0; !atomic_load(&manager_paused) && atomic_load(&E.running) && waited_ms < 10000; waited_ms++)
		usleep(1000); /* the manager may be in the middle of an exchange: bounded */
}

static void resume_manager_after_fork(bool child)
{
	if (child) {
		atomic_store(&fork_pause_asked, 0);
		atomic_store(&manager_paused, false);
	} else if (atomic_load(&fork_pause_asked) > 0) {
		atomic_fetch_sub(&fork_pause_asked, 1);
	}
}
#else
static void pause_point(void)
{
}
static void pause_manager_for_fork(void)
{
}
static void resume_manager_after_fork(bool child)
{
	(void)child;
}
#endif

void natt_engine_atfork_prepare(void)
{
	pause_manager_for_fork();
	pthread_mutex_lock(&E.start_lock);
	pthread_mutex_lock(&E.lock);
}

void natt_engine_atfork_parent(void)
{
	resume_manager_after_fork(false);
	atomic_store(&E.ever_forked, true);
	pthread_mutex_unlock(&E.lock);
	pthread_mutex_unlock(&E.start_lock);
}

void natt_engine_atfork_child(void)
{
	resume_manager_after_fork(true);
	self_pid = getpid();
	/* The child has the parent's memory but not its thread. The inherited entries describe the
	 * parent's mappings: the child neither renews nor deletes them (its copies of the sockets are
	 * tracked by the shim, which decides what to do with them). The wake-up eventfd is shared with the
	 * parent, so the child must never write to it again. */
	pthread_mutex_init(&E.lock, NULL);
	pthread_mutex_init(&E.start_lock, NULL);
	pthread_cond_init(&E.changed, NULL);
	if (atomic_load(&E.running)) {
		/* Shared with the parent's manager: ours to close, never to use. */
		close_own_fd(&E.wake_fd);
		close_own_fd(&E.ssdp_fd);
		close_own_fd(&E.natpmp_fd);
	}
	E.wake_fd = E.ssdp_fd = E.natpmp_fd = -1;
	E.wake_fd_lost = false;
	/* A fork in the middle of an exchange: the parent's lock (a record lock: not the child's) and its
	 * depth must not make the child's manager believe it holds it. */
	close_own_fd(&gateway_lock_fd);
	gateway_lock_depth = 0;
	for (int i = 0; i < E.watch_count; i++)
		close_own_fd(&E.watches[i].fd);
	E.watch_count = 0;
	E.have_epoch = false;
	E.pending_count = 0;
	atomic_store(&E.ever_forked, true);
	atomic_store(&E.running, false);
	atomic_store(&E.stopped, false);
	atomic_store(&E.shutdown, false);
	atomic_store(&E.exit_signal, 0);
	atomic_store(&E.inbox, NULL);
	E.entries = NULL;
	E.limbo = NULL; /* the parent frees its own */
	manager_stack = NULL; /* the parent's manager's: this process gets a stack of its own */
	E.have_gateway = false;
	memset(&E.igd, 0, sizeof(E.igd)); /* the parent's IGD: the child finds its own */
	E.upnp_absent_until = E.natpmp_absent_until = 0;
	E.status_retry_ms = E.cleanup_deadline_ms = E.cleanup_cap_ms = 0;
	E.dirty = false;
}

/* ---------------------------------------------------------------- assignments */

static bool is_ipv4_family(const struct natt_entry *e)
{
	return e->local.ss_family == AF_INET;
}

static uint16_t local_port(const struct natt_entry *e)
{
	if (e->local.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&e->local)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&e->local)->sin6_port);
}

/* The IPv4 address a router should forward to, if the socket is bound to one (not wildcard). */
static bool specific_ipv4(const struct natt_entry *e, struct in_addr *out)
{
	if (natt_addr_is_wildcard((const struct sockaddr *)&e->local))
		return false;
	if (e->local.ss_family == AF_INET) {
		*out = ((const struct sockaddr_in *)&e->local)->sin_addr;
		return true;
	}
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)&e->local)->sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(a6)) {
		memcpy(out, &a6->s6_addr[12], 4);
		return true;
	}
	return false;
}

/* Whether a router can map this entry at all: techniques here are IPv4. */
static bool has_ipv4_side(const struct natt_entry *e)
{
	struct in_addr dummy;
	if (is_ipv4_family(e) || e->dual_stack)
		return true;
	return specific_ipv4(e, &dummy);
}

static void add_local(struct natt_assignment *list, size_t max, size_t *n, enum natt_protocol protocol,
                      const struct sockaddr *sa, uint16_t port)
{
	if (*n < max) {
		struct natt_assignment *a = &list[*n];
		memset(a, 0, sizeof(*a));
		a->protocol = protocol;
		natt_addr_format(sa, a->address, sizeof(a->address));
		a->port = port;
		a->technique = NATT_TECH_LOCAL;
	}
	(*n)++;
}

/* Must be called with E.lock held (or from the manager). */
static size_t collect_assignments(struct natt_entry *e, struct natt_assignment *list, size_t max)
{
	size_t n = 0;
	uint16_t port = local_port(e);
	if (natt_addr_is_wildcard((const struct sockaddr *)&e->local)) {
		struct natt_interface *ifs = NULL;
		size_t count = 0;
		if (natt_interfaces(&ifs, &count) == 0) {
			for (size_t i = 0; i < count; i++) {
				const struct sockaddr *sa = (const struct sockaddr *)&ifs[i].address;
				if (natt_addr_is_loopback(sa) || natt_addr_is_link_local(sa))
					continue;
				bool v4 = sa->sa_family == AF_INET;
				bool wanted = e->local.ss_family == AF_INET ? v4 : (!v4 || e->dual_stack);
				if (wanted)
					add_local(list, max, &n, e->protocol, sa, port);
			}
			natt_interfaces_free(ifs);
		}
	} else {
		add_local(list, max, &n, e->protocol, (const struct sockaddr *)&e->local, port);
	}
	if (e->state == NATT_STATE_PUBLISHED) {
		if (n < max) {
			struct natt_assignment *a = &list[n];
			memset(a, 0, sizeof(*a));
			a->protocol = e->protocol;
			inet_ntop(AF_INET, &e->external, a->address, sizeof(a->address));
			a->port = e->external_port;
			a->technique = e->technique;
			a->lifetime = e->granted_lifetime;
			a->expires = e->expires;
		}
		n++;
	}
	return n;
}

size_t natt_engine_assignments(struct natt_entry *e, struct natt_assignment *list, size_t max)
{
	pthread_mutex_lock(&E.lock);
	size_t n = collect_assignments(e, list, max);
	pthread_mutex_unlock(&E.lock);
	return n;
}

enum natt_listener_state natt_engine_state(struct natt_entry *e, char *error, size_t len)
{
	pthread_mutex_lock(&E.lock);
	enum natt_listener_state state = e->state;
	if (error && len)
		snprintf(error, len, "%s", e->error);
	pthread_mutex_unlock(&E.lock);
	return state;
}

/* ---------------------------------------------------------------- router work (manager only) */

static const char *proto_text(enum natt_protocol p)
{
	return p == NATT_UDP ? "udp" : "tcp";
}

static void refresh_gateway(void)
{
	struct in_addr gw;
	bool have;
	if (E.cfg.have_gateway) {
		gw = E.cfg.gateway;
		have = true;
	} else {
		have = natt_gateway_ipv4(&gw, NULL) == 0;
	}
	if (have != E.have_gateway || (have && gw.s_addr != E.gateway.s_addr)) {
		/* Another router: nothing known about the old one holds. */
		natt_igd_close(&E.igd);
		E.upnp_absent_until = E.natpmp_absent_until = 0;
		if (have) {
			char text[INET_ADDRSTRLEN];
			natt_debug("gateway %s", inet_ntop(AF_INET, &gw, text, sizeof(text)));
		}
	}
	E.have_gateway = have;
	E.gateway = gw;
}

static int ensure_igd(char *why, size_t len)
{
	if (E.igd.open)
		return 0;
	if (natt_now_ms() < E.upnp_absent_until) {
		snprintf(why, len, "no UPnP IGD answered");
		return NATT_ERR_NO_IGD;
	}
	E.upnp_external_at = 0;
	/* Another natt process of this host may have found the IGD already: its description URL is
	 * beside the status file. A stale one (router restarted) fails fast and we discover again. */
	char cached[512];
	int rc = -ENOENT;
	if (natt_igd_cache_read(E.cfg.status_path, &E.gateway, cached, sizeof(cached)) == 0)
		rc = natt_igd_open_url(cached, &E.igd);
	if (rc < 0) {
		rc = natt_igd_discover(&E.gateway, DISCOVERY_TIMEOUT_MS, &E.igd);
		if (rc == 0)
			natt_igd_cache_write(E.cfg.status_path, &E.gateway, E.igd.location);
	}
	if (rc < 0) {
		E.upnp_absent_until = natt_now_ms() + ABSENT_RECHECK_MS;
		snprintf(why, len, "no UPnP IGD answered");
		return NATT_ERR_NO_IGD;
	}
	return 0;
}

static void describe_upnp_failure(int rc, int code, char *why, size_t len)
{
	if (rc == NATT_ERR_UPNP)
		snprintf(why, len, "UPnP error %d (%s)", code, natt_upnp_error_text(code));
	else
		snprintf(why, len, "UPnP: %s", natt_strerror(rc));
}

static uint32_t lifetime_of(const struct natt_entry *e)
{
	return e->lifetime ? e->lifetime : E.cfg.lifetime;
}

/* The port we hold keeps being asked for; before that, the one wished for, else the local port. */
static uint16_t requested_port(const struct natt_entry *e)
{
	if (e->external_port)
		return e->external_port;
	return e->requested_port ? e->requested_port : local_port(e);
}

/* *lease: the lease asked for, and on success the one granted (natt_igd_map's lease policy: 725 →
 * permanent, 402 to a permanent one → a bounded lease). */
static int upnp_add(struct natt_entry *e, const char *client, uint16_t requested, uint32_t *lease, bool any,
                    uint16_t *granted, int *code)
{
	char description[64];
	snprintf(description, sizeof(description), "natt %s pid %d", proto_text(e->protocol), (int)getpid());
	return natt_igd_map(&E.igd, e->protocol, requested, client, local_port(e), lease, description, any,
	                    granted, code);
}

/* Maps e through UPnP. 0 on success; NATT_ERR_NO_IGD when there is no IGD (try the next technique);
 * another negative code when the router refused (why says why). */
static int try_upnp(struct natt_entry *e, char *why, size_t len)
{
	int rc = ensure_igd(why, len);
	if (rc < 0)
		return rc;
	struct in_addr specific;
	char client[64];
	if (specific_ipv4(e, &specific))
		inet_ntop(AF_INET, &specific, client, sizeof(client));
	else
		snprintf(client, sizeof(client), "%s", E.igd.lan_address);

	uint16_t requested = requested_port(e);
	uint32_t lease = lifetime_of(e);
	uint16_t granted = 0;
	int code = 0;
	rc = upnp_add(e, client, requested, &lease, false, &granted, &code);
	if (rc == -ECONNREFUSED) {
		/* The cached control URL no longer answers: the router restarted (new HTTP port). */
		natt_igd_close(&E.igd);
		if (ensure_igd(why, len) < 0)
			return NATT_ERR_NO_IGD;
		rc = upnp_add(e, client, requested, &lease, false, &granted, &code);
	}
	if (rc == NATT_ERR_UPNP && (code == NATT_UPNP_CONFLICT || code == NATT_UPNP_CONFLICT_OTHER)) {
		if (E.igd.v2) {
			rc = upnp_add(e, client, requested, &lease, true, &granted, &code);
		} else {
			for (unsigned i = 1; i <= CONFLICT_SEARCH_PORTS && rc == NATT_ERR_UPNP &&
			                     (code == NATT_UPNP_CONFLICT || code == NATT_UPNP_CONFLICT_OTHER);
			     i++) {
				uint16_t next = (uint16_t)(1024 + (requested - 1024 + i) % (65536 - 1024));
				rc = upnp_add(e, client, next, &lease, false, &granted, &code);
			}
		}
	}
	if (rc < 0) {
		describe_upnp_failure(rc, code, why, len);
		return rc == -ECONNREFUSED ? NATT_ERR_NO_IGD : rc;
	}
	/* Ask for the external address once per burst of mappings, not once per mapping. */
	struct in_addr external = E.upnp_external;
	if (!E.upnp_external_at || natt_now_ms() - E.upnp_external_at > 5000) {
		rc = natt_igd_external_address(&E.igd, &external, &code);
		if (rc < 0) {
			describe_upnp_failure(rc, code, why, len);
			return rc;
		}
		E.upnp_external = external;
		E.upnp_external_at = natt_now_ms();
	}
	pthread_mutex_lock(&E.lock);
	e->technique = NATT_TECH_UPNP;
	e->external = external;
	e->external_port = granted;
	e->granted_lifetime = lease;
	snprintf(e->internal_client, sizeof(e->internal_client), "%s", client);
	pthread_mutex_unlock(&E.lock);
	return 0;
}

/* Makes entries due now: the published ones of technique (NATT_TECH_COUNT: all), and every one that
 * is waiting for a router. */
static void mark_due(enum natt_technique technique)
{
	E.upnp_external_at = 0; /* whatever made us look again may have changed the address too */
	for (struct natt_entry *e = E.entries; e; e = e->next) {
		if (e->due_ms < 0)
			continue;
		if (e->state != NATT_STATE_PUBLISHED || technique == NATT_TECH_COUNT || e->technique == technique)
			e->due_ms = 0;
	}
}

/* RFC 6886 3.6: an epoch that fell behind means the gateway lost its mappings. */
static void note_epoch(uint32_t epoch)
{
	int64_t now = natt_now_ms();
	double elapsed = (double)(now - E.epoch_at_ms) / 1000.0;
	if (E.have_epoch)
		natt_debug("NAT-PMP epoch %u, was %u %.1f s ago", epoch, E.epoch, elapsed);
	if (E.have_epoch && natt_natpmp_epoch_behind(E.epoch, epoch, elapsed, NATT_EPOCH_SLACK)) {
		natt_info("NAT-PMP epoch went from %u to %u: the router lost its mappings", E.epoch, epoch);
		mark_due(NATT_TECH_NATPMP);
	}
	E.have_epoch = true;
	E.epoch = epoch;
	E.epoch_at_ms = now;
}

static int try_natpmp(struct natt_entry *e, char *why, size_t len)
{
	if (natt_now_ms() < E.natpmp_absent_until) {
		snprintf(why, len, "no NAT-PMP answer");
		return NATT_ERR_UNSUPPORTED;
	}
	struct natt_mapping m;
	uint16_t requested = requested_port(e);
	struct natt_natpmp_info info;
	int rc = natt_natpmp_map(&E.gateway, e->protocol, local_port(e), requested, lifetime_of(e), NATPMP_TIMEOUT_MS,
	                         &m, &info);
	if (rc == NATT_ERR_NO_GATEWAY || rc == NATT_ERR_UNSUPPORTED) {
		E.natpmp_absent_until = natt_now_ms() + ABSENT_RECHECK_MS;
		snprintf(why, len, "no NAT-PMP answer");
		return NATT_ERR_UNSUPPORTED;
	}
	if (rc < 0) {
		snprintf(why, len, "NAT-PMP: %s", natt_strerror(rc));
		return rc;
	}
	note_epoch(info.epoch);
	struct in_addr external;
	rc = natt_natpmp_external_address(&E.gateway, NATPMP_TIMEOUT_MS, &external, NULL);
	if (rc < 0) {
		snprintf(why, len, "NAT-PMP external address: %s", natt_strerror(rc));
		return rc;
	}
	struct in_addr source;
	pthread_mutex_lock(&E.lock);
	e->technique = NATT_TECH_NATPMP;
	e->external = external;
	e->external_port = m.external_port;
	e->granted_lifetime = m.lifetime;
	if (natt_local_address_toward(&E.gateway, &source) == 0)
		inet_ntop(AF_INET, &source, e->internal_client, sizeof(e->internal_client));
	pthread_mutex_unlock(&E.lock);
	return 0;
}

static bool unavailable(int rc)
{
	return rc == NATT_ERR_NO_IGD || rc == NATT_ERR_UNSUPPORTED || rc == NATT_ERR_NO_GATEWAY;
}

static void set_outcome(struct natt_entry *e, enum natt_listener_state state, const char *error)
{
	pthread_mutex_lock(&E.lock);
	if (e->state != state || strcmp(e->error, error) != 0)
		E.dirty = true;
	if (e->state != state)
		e->announced = false;
	e->state = state;
	snprintf(e->error, sizeof(e->error), "%s", error);
	pthread_mutex_unlock(&E.lock);
}

/* Publishes or renews e with the techniques in order of preference; a renewal first asks the technique
 * that made the current mapping, so the external port stays where it is. */
static void unpublish(struct natt_entry *e);

static void work_on(struct natt_entry *e)
{
	int64_t now = natt_now_ms();
	if (e->state == NATT_STATE_PUBLISHED && e->socket_id && natt_socket_exists(e->socket_id) == 0) {
		/* Closed where we could not see it: renewing would keep a dead port forwarded. */
		natt_info("%s port %u: the socket is gone; deleting its mapping", proto_text(e->protocol), local_port(e));
		unpublish(e);
		announce(e, true);
		set_outcome(e, NATT_STATE_PENDING, "the socket was closed");
		e->vanished = true;
		e->due_ms = INT64_MAX;
		E.dirty = true;
		return;
	}
	if (!has_ipv4_side(e)) {
		set_outcome(e, NATT_STATE_LOCAL_ONLY, "IPv6-only socket: no IPv4 router mapping applies");
		e->due_ms = INT64_MAX;
		return;
	}
	refresh_gateway();
	if (!E.have_gateway) {
		set_outcome(e, NATT_STATE_PENDING, "no default gateway");
	} else {
		enum natt_technique order[NATT_TECH_COUNT + 1];
		size_t count = 0;
		bool renewing = e->state == NATT_STATE_PUBLISHED;
		if (renewing)
			order[count++] = e->technique;
		const enum natt_technique *preferred = e->order_count ? e->order : E.cfg.order;
		size_t preferred_count = e->order_count ? e->order_count : E.cfg.order_count;
		for (size_t i = 0; i < preferred_count; i++)
			if (!renewing || preferred[i] != e->technique)
				order[count++] = preferred[i];

		char reasons[192] = "", refusal[192] = "";
		enum natt_technique previous = e->technique;
		uint16_t previous_port = e->external_port;
		struct in_addr previous_external = e->external;
		for (size_t i = 0; i < count; i++) {
			char why[160] = "";
			int rc;
			if (order[i] == NATT_TECH_UPNP)
				rc = try_upnp(e, why, sizeof(why));
			else if (order[i] == NATT_TECH_NATPMP)
				rc = try_natpmp(e, why, sizeof(why));
			else
				continue; /* PCP: not yet offered */
			if (rc == 0) {
				bool moved = !renewing || previous != e->technique || previous_port != e->external_port ||
				             previous_external.s_addr != e->external.s_addr;
				struct sockaddr_in ext = { .sin_family = AF_INET, .sin_addr = e->external };
				pthread_mutex_lock(&E.lock);
				e->double_nat = !natt_addr_is_global((const struct sockaddr *)&ext);
				e->expires = e->granted_lifetime ? time(NULL) + e->granted_lifetime : 0;
				if (moved)
					e->announced = false;
				pthread_mutex_unlock(&E.lock);
				set_outcome(e, NATT_STATE_PUBLISHED, e->double_nat ? "double-nat" : "");
				E.dirty = true; /* the expiry moved */
				e->backoff_ms = 0;
				/* Renew at half the lease (RFC 6886 recommends it; UPnP leases alike). A
				 * permanent lease is still verified every half hour. */
				uint32_t lease = e->granted_lifetime ? e->granted_lifetime : 3600;
				int64_t period = e->refresh_interval ? (int64_t)e->refresh_interval * 1000 : (int64_t)lease * 500;
				e->due_ms = natt_now_ms() + period;
				return;
			}
			size_t used = strlen(reasons);
			snprintf(reasons + used, sizeof(reasons) - used, "%s%s", used ? "; " : "", why);
			if (!unavailable(rc) && !refusal[0])
				snprintf(refusal, sizeof(refusal), "%s", why);
		}
		if (renewing) {
			/* The mapping is gone or unreachable; it is no longer true that we are published. */
			pthread_mutex_lock(&E.lock);
			e->external_port = 0;
			pthread_mutex_unlock(&E.lock);
		}
		if (refusal[0])
			set_outcome(e, NATT_STATE_FAILED, refusal);
		else
			set_outcome(e, NATT_STATE_PENDING, reasons[0] ? reasons : "no technique configured");
	}
	e->backoff_ms = e->backoff_ms ? e->backoff_ms * 2 : BACKOFF_FIRST_MS;
	if (e->backoff_ms > BACKOFF_MAX_MS)
		e->backoff_ms = BACKOFF_MAX_MS;
	e->due_ms = now + e->backoff_ms;
}

/* The host-wide gateway lock, taken once however deep the manager's calls nest: a record lock is the
 * process's, and closing a second fd of the lock file would drop the first one's lock. */

static int lock_gateway(void)
{
	if (gateway_lock_depth++ == 0)
		gateway_lock_fd = natt_gateway_lock(E.cfg.status_path, &E.gateway);
	return gateway_lock_fd;
}

static void unlock_gateway(int fd)
{
	(void)fd;
	if (--gateway_lock_depth == 0) {
		natt_gateway_unlock(gateway_lock_fd);
		gateway_lock_fd = -1;
	}
}

/* Whether another entry of ours stands for the same mapping (SO_REUSEPORT groups: several sockets on
 * one port are one mapping until the last of them goes). */
static bool mapping_shared(const struct natt_entry *e)
{
	for (const struct natt_entry *o = E.entries; o; o = o->next)
		if (o != e && o->due_ms >= 0 && o->state == NATT_STATE_PUBLISHED && o->protocol == e->protocol &&
		    o->technique == e->technique && o->external_port == e->external_port &&
		    local_port(o) == local_port(e))
			return true;
	return false;
}

/* Another process holding e's socket (pre-fork workers, a daemonized child), or 0. */
static pid_t other_holder(const struct natt_entry *e)
{
	if (!e->socket_id || !atomic_load(&E.ever_forked))
		return 0; /* only fork shares a socket between processes, in practice */
	pid_t holder = natt_socket_other_holder(e->socket_id);
	if (holder > 0)
		natt_info("%s port %u: pid %d still holds the socket", proto_text(e->protocol), local_port(e),
		          (int)holder);
	return holder > 0 ? holder : 0;
}

/* Deletes e's mapping at the router, if we still hold it and nobody else serves on it. */
static void unpublish(struct natt_entry *e)
{
	if (e->state != NATT_STATE_PUBLISHED || mapping_shared(e))
		return;
	if (E.cleanup_deadline_ms && natt_now_ms() > E.cleanup_deadline_ms)
		return; /* out of time at a termination signal: the lease ends it */
	if (other_holder(e) > 0)
		return; /* at exit: the holder (a daemon child) takes the mapping over */
	uint64_t mine[64];
	size_t count = 0;
	for (const struct natt_entry *o = E.entries; o && count < 64; o = o->next)
		if (o->socket_id && o->protocol == e->protocol && local_port(o) == local_port(e))
			mine[count++] = o->socket_id;
	if (e->socket_id && count < 64 && (count == 0 || mine[count - 1] != e->socket_id))
		mine[count++] = e->socket_id;
	if (e->socket_id && natt_port_served_elsewhere(e->protocol == NATT_TCP, local_port(e), mine, count)) {
		/* Another socket serves this port (SO_REUSEPORT in another process): it keeps the mapping. */
		natt_info("%s port %u is still served by another socket: mapping kept", proto_text(e->protocol),
		          local_port(e));
		return;
	}
	int lock = lock_gateway();
	int rc = 0, code = 0;
	if (e->technique == NATT_TECH_UPNP) {
		if (!E.igd.open)
			ensure_igd((char[64]){ 0 }, 64);
		/* Never delete what is not ours: the port may have gone to another client since. */
		struct natt_igd_entry current;
		rc = E.igd.open ? natt_igd_get_entry(&E.igd, e->protocol, e->external_port, &current, &code)
		                : NATT_ERR_NO_IGD;
		if (rc == -ECONNREFUSED) {
			natt_igd_close(&E.igd);
			if (ensure_igd((char[64]){ 0 }, 64) == 0)
				rc = natt_igd_get_entry(&E.igd, e->protocol, e->external_port, &current, &code);
		}
		if (rc == 0 && current.internal_port == local_port(e) &&
		    strcmp(current.internal_client, e->internal_client) == 0)
			rc = natt_igd_delete(&E.igd, e->protocol, e->external_port, &code);
		else if (rc == 0)
			natt_info("not deleting %s port %u: now held by %s:%u", proto_text(e->protocol), e->external_port,
			          current.internal_client, current.internal_port);
	} else if (e->technique == NATT_TECH_NATPMP) {
		rc = natt_natpmp_delete(&E.gateway, e->protocol, local_port(e), NATPMP_TIMEOUT_MS, NULL);
	}
	unlock_gateway(lock);
	if (rc < 0 && rc != NATT_ERR_NOT_FOUND) {
		natt_info("deleting %s port %u: %s", proto_text(e->protocol), e->external_port, natt_strerror(rc));
		return;
	}
	/* The router answers: whoever waits for the clean-up (exit, a termination signal) gives it more
	 * time, however many mappings there are (see natt_engine_shutdown). */
	atomic_fetch_add(&E.cleanup_progress, 1);
	if (E.cleanup_deadline_ms)
		E.cleanup_deadline_ms = min64(natt_now_ms() + CLEANUP_IDLE_MS, E.cleanup_cap_ms);
}

static void work_on_serialized(struct natt_entry *e)
{
	refresh_gateway();
	bool locked = E.have_gateway;
	int lock = locked ? lock_gateway() : -1;
	work_on(e);
	if (locked)
		unlock_gateway(lock);
}

/* ---------------------------------------------------------------- telling the world */

static void describe_local(const struct natt_entry *e, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];
	natt_addr_format((const struct sockaddr *)&e->local, addr, sizeof(addr));
	if (e->local.ss_family == AF_INET6)
		snprintf(buf, len, "%s [%s]:%u", proto_text(e->protocol), addr, local_port(e));
	else
		snprintf(buf, len, "%s %s:%u", proto_text(e->protocol), addr, local_port(e));
}

/* The one-line summary of e's state: printed with -v and given to the on-change command. */
static void describe_state(const struct natt_entry *e, bool retired, char *line, size_t len)
{
	char local[96], ext[INET_ADDRSTRLEN];
	describe_local(e, local, sizeof(local));
	inet_ntop(AF_INET, &e->external, ext, sizeof(ext));
	const char *tech = natt_technique_name(e->technique);
	if (retired && e->state == NATT_STATE_PUBLISHED)
		snprintf(line, len, "%s retired (was %s:%u, %s)", local, ext, e->external_port, tech);
	else if (retired)
		snprintf(line, len, "%s retired", local);
	else if (e->state == NATT_STATE_PUBLISHED)
		snprintf(line, len, "%s published as %s:%u (%s%s)", local, ext, e->external_port, tech,
		         e->double_nat ? ", double NAT: not reachable from the internet" : "");
	else if (e->state == NATT_STATE_LOCAL_ONLY)
		snprintf(line, len, "%s local only: %s", local, e->error);
	else
		snprintf(line, len, "%s not published: %s", local, e->error);
}

/* Prints the -v line and queues the on-change command when e's summary changed. */
static void announce(struct natt_entry *e, bool retired)
{
	char line[512];
	describe_state(e, retired, line, sizeof(line));
	if (!retired && strcmp(line, e->last_said) == 0)
		return;
	snprintf(e->last_said, sizeof(e->last_said), "%s", line);
	if (E.cfg.verbose)
		natt_say("%s", line);
	if (E.cfg.on_change[0]) {
		if (E.pending_count < (int)(sizeof(E.pending_summaries) / sizeof(E.pending_summaries[0])))
			snprintf(E.pending_summaries[E.pending_count++], sizeof(E.pending_summaries[0]), "%s", line);
	}
}

/* Runs the on-change command once per queued summary, after the status file says the same. */
static void run_on_change(void)
{
	natt_spawn_reap();
	for (int i = 0; i < E.pending_count; i++) {
		char summary[600], status[4200];
		snprintf(summary, sizeof(summary), "NATT_SUMMARY=%s", E.pending_summaries[i]);
		snprintf(status, sizeof(status), "NATT_STATUS_FILE=%s", E.cfg.status_path);
		char *env[] = { summary, status, NULL };
		int rc = natt_spawn_shell(E.cfg.on_change, env);
		if (rc < 0)
			natt_warn("cannot run the on-change command: %s", natt_strerror(rc));
	}
	E.pending_count = 0;
}

static void notify_listener(struct natt_entry *e)
{
	/* The callback is read under the lock and marked running: a stop detaches it and waits for the
	 * call to return (natt_engine_release), so it never runs on a listener that is gone. */
	natt_change_fn on_change;
	void *ctx;
	struct natt_listener *listener;
	if (!natt_engine_callback_begin(e, &on_change, &ctx, &listener))
		return;
	struct natt_assignment list[64];
	size_t n = natt_engine_assignments(e, list, 64);
	on_change(listener, list, n < 64 ? n : 64, ctx);
	natt_engine_callback_end();
}

/* A status file that could not be written is tried again this long after (not at once: the cause,
 * a full disk or a stuck lock holder, rarely goes away in a moment). */
#define STATUS_RETRY_MS 5000

static void write_status(void)
{
	if (E.cfg.status_path[0]) {
		int rc = natt_status_write(E.cfg.status_path, E.entries, collect_assignments,
		                           E.have_gateway ? &E.gateway : NULL);
		E.status_retry_ms = 0;
		if (rc == -EPERM) {
			/* A directory refused as unsafe (said once, with the reason): no status file, no retries;
			 * the next change tries again. */
		} else if (rc < 0) {
			natt_warn("cannot write the status file %s: %s", E.cfg.status_path, natt_strerror(rc));
			E.status_retry_ms = natt_now_ms() + STATUS_RETRY_MS;
		}
	}
	run_on_change();
}

/* ---------------------------------------------------------------- router events */

/* A cheap check that the router still has our mappings and the same external address, for the
 * routers whose announcements we missed: one request per technique in use, not one per mapping. */
static void verify_mappings(void)
{
	struct natt_entry *upnp = NULL, *natpmp = NULL;
	for (struct natt_entry *e = E.entries; e; e = e->next) {
		if (e->state != NATT_STATE_PUBLISHED || e->due_ms < 0)
			continue;
		if (e->technique == NATT_TECH_UPNP && !upnp)
			upnp = e;
		if (e->technique == NATT_TECH_NATPMP && !natpmp)
			natpmp = e;
	}
	if (!upnp && !natpmp)
		return;
	refresh_gateway();
	if (!E.have_gateway) {
		mark_due(NATT_TECH_COUNT);
		return;
	}
	int lock = lock_gateway();
	if (natpmp) {
		struct in_addr external;
		struct natt_natpmp_info info;
		if (natt_natpmp_external_address(&E.gateway, NATPMP_TIMEOUT_MS, &external, &info) < 0)
			mark_due(NATT_TECH_NATPMP);
		else {
			note_epoch(info.epoch);
			if (external.s_addr != natpmp->external.s_addr)
				mark_due(NATT_TECH_NATPMP);
		}
	}
	if (upnp) {
		struct natt_igd_entry current;
		struct in_addr external;
		int rc = E.igd.open ? natt_igd_get_entry(&E.igd, upnp->protocol, upnp->external_port, &current, NULL)
		                    : -ECONNREFUSED;
		if (rc == -ECONNREFUSED)
			natt_igd_close(&E.igd);
		if (rc < 0 || current.internal_port != local_port(upnp) ||
		    natt_igd_external_address(&E.igd, &external, NULL) < 0 || external.s_addr != upnp->external.s_addr)
			mark_due(NATT_TECH_UPNP);
	}
	unlock_gateway(lock);
}

static bool from_gateway(struct in_addr from)
{
	return E.have_gateway && from.s_addr == E.gateway.s_addr;
}

/* A read error ends the batch (an ICMP error on a UDP socket is one: the next datagram comes through
 * poll again). A descriptor that is no longer open (a program closed every descriptor, natt's too:
 * libnatt has no hook to keep them) is forgotten, never closed: its number may be the program's now. */
static void watcher_failed(int *fd, int rc)
{
	if (rc == -EBADF) {
		natt_debug("a router announcement socket was closed under natt: no longer listening on it");
		*fd = -1;
	}
}

static void on_ssdp_datagrams(void)
{
	struct natt_ssdp_reply reply;
	struct in_addr from;
	int kind, rc;
	while ((rc = natt_watch_read_ssdp(E.ssdp_fd, &from, &reply, &kind)) != -EAGAIN) {
		if (rc < 0) {
			watcher_failed(&E.ssdp_fd, rc);
			break;
		}
		if (rc == 0 || !from_gateway(from))
			continue;
		if (kind == NATT_SSDP_BYEBYE) {
			natt_igd_close(&E.igd);
			continue;
		}
		bool restarted = E.igd.open && (strcmp(reply.location, E.igd.location) != 0 ||
		                                 (reply.bootid >= 0 && E.igd.bootid >= 0 && reply.bootid != E.igd.bootid));
		if (restarted) {
			natt_info("the router's UPnP device restarted (%s)", reply.location);
			natt_igd_close(&E.igd);
			mark_due(NATT_TECH_UPNP);
		} else if (!E.igd.open) {
			E.upnp_absent_until = 0;
			mark_due(NATT_TECH_UPNP);
		}
	}
}

static void on_natpmp_announcements(void)
{
	struct in_addr from, external;
	uint32_t epoch;
	int rc;
	while ((rc = natt_watch_read_natpmp(E.natpmp_fd, &from, &epoch, &external)) != -EAGAIN) {
		if (rc < 0) {
			watcher_failed(&E.natpmp_fd, rc);
			break;
		}
		if (rc == 0 || !from_gateway(from))
			continue;
		E.natpmp_absent_until = 0;
		note_epoch(epoch);
		bool address_known = external.s_addr != htonl(INADDR_ANY);
		for (struct natt_entry *e = E.entries; e; e = e->next)
			if (e->state == NATT_STATE_PUBLISHED && address_known && e->external.s_addr != external.s_addr)
				e->due_ms = 0; /* the external address changed: renewing reads the new one */
		mark_due(NATT_TECH_NATPMP);
	}
}

static void open_watchers(void)
{
	struct in_addr any = { .s_addr = htonl(INADDR_ANY) };
	if (E.ssdp_fd < 0)
		E.ssdp_fd = own_fd(natt_watch_open_ssdp(any));
	if (E.natpmp_fd < 0)
		E.natpmp_fd = own_fd(natt_watch_open_natpmp(any));
	if (E.ssdp_fd < 0 || E.natpmp_fd < 0)
		natt_debug("router announcements: ssdp %s, nat-pmp %s", E.ssdp_fd < 0 ? "off" : "on",
		           E.natpmp_fd < 0 ? "off" : "on");
}

static void close_watchers(void)
{
	close_own_fd(&E.ssdp_fd);
	close_own_fd(&E.natpmp_fd);
}

/* ---------------------------------------------------------------- the loop */

#define WAKE_LOST_POLL_MS 200

static void free_later(struct natt_entry *e)
{
	e->free_at_ms = natt_now_ms() + ENTRY_GRACE_MS;
	e->next = E.limbo;
	E.limbo = e;
}

/* Frees the entries whose grace has ended; returns when the next one is due (INT64_MAX: none). */
static int64_t free_expired(int64_t now)
{
	int64_t next = INT64_MAX;
	for (struct natt_entry **p = &E.limbo; *p;) {
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

static void take_inbox(void)
{
	struct natt_entry *list = atomic_exchange(&E.inbox, NULL);
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
		if ((ops & NATT_OP_PUBLISH) && !e->active) {
			e->active = true;
			e->due_ms = 0;
			pthread_mutex_lock(&E.lock);
			e->next = E.entries;
			E.entries = e;
			pthread_mutex_unlock(&E.lock);
		}
		if ((ops & NATT_OP_REFRESH) && e->due_ms >= 0)
			e->due_ms = 0;
		if (ops & NATT_OP_RETIRE)
			e->due_ms = -1; /* marks "retire now" */
		e = next;
	}
}

/* ---------------------------------------------------------------- processes we wait for */

static int add_watch_locked(pid_t pid, void (*on_exit)(pid_t))
{
	for (int i = 0; i < E.watch_count; i++)
		if (E.watches[i].pid == pid && E.watches[i].on_exit == on_exit)
			return 0;
	if (E.watch_count == (int)(sizeof(E.watches) / sizeof(E.watches[0])))
		return -ENOSPC;
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0 && errno == ESRCH)
		return -ESRCH;
	if (fd >= 0) {
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		own_fd(fd);
	}
	E.watches[E.watch_count++] = (struct pid_watch){ .pid = pid, .fd = fd, .on_exit = on_exit };
	return 0;
}

bool natt_engine_fd_moved(int from, int to)
{
	int *fds[] = { &E.wake_fd, &E.ssdp_fd, &E.natpmp_fd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] == from) {
			*fds[i] = to;
			return true;
		}
	}
	for (int i = 0; i < E.watch_count; i++) {
		if (E.watches[i].fd == from) {
			E.watches[i].fd = to;
			return true;
		}
	}
	return false;
}

int natt_engine_watch_pid(pid_t pid, void (*on_exit)(pid_t pid))
{
	natt_engine_config();
	pthread_mutex_lock(&E.start_lock);
	int rc = start_manager_locked();
	if (rc == 0)
		rc = add_watch_locked(pid, on_exit);
	pthread_mutex_unlock(&E.start_lock);
	if (rc == -ESRCH && on_exit)
		on_exit(pid); /* already gone */
	else if (rc == 0)
		wake_manager();
	return rc == -ESRCH ? 0 : rc;
}

static void holder_gone(pid_t pid)
{
	for (struct natt_entry *e = E.entries; e; e = e->next) {
		if (e->lingering_holder != pid)
			continue;
		pid_t next = natt_socket_other_holder(e->socket_id);
		pthread_mutex_lock(&E.start_lock);
		bool watching = next > 0 && add_watch_locked(next, NULL) == 0;
		pthread_mutex_unlock(&E.start_lock);
		e->lingering_holder = watching ? next : 0;
		if (!watching)
			e->due_ms = -1; /* the last holder is gone: retire it now */
	}
}

/* Handles watched processes that ended; returns the poll timeout they need (-1: none). */
static int check_watches(struct pollfd *fds, int nfds_used)
{
	int timeout = -1;
	for (int i = 0; i < E.watch_count;) {
		struct pid_watch *w = &E.watches[i];
		bool ended;
		if (w->fd >= 0) {
			ended = false;
			for (int j = 0; j < nfds_used; j++)
				if (fds[j].fd == w->fd && fds[j].revents)
					ended = true;
		} else {
			ended = kill(w->pid, 0) < 0 && errno == ESRCH;
			timeout = 1000;
		}
		if (!ended) {
			i++;
			continue;
		}
		struct pid_watch done = *w;
		pthread_mutex_lock(&E.start_lock);
		close_own_fd(&w->fd);
		E.watches[i] = E.watches[--E.watch_count];
		pthread_mutex_unlock(&E.start_lock);
		if (done.on_exit)
			done.on_exit(done.pid);
		else
			holder_gone(done.pid);
	}
	return timeout;
}

static void retire_entry(struct natt_entry *e)
{
	/* Closed here, still open in another process: keep it published (and renewed) until that
	 * process lets go too. Not at exit: then a daemon child takes it over (unpublish leaves it). */
	if (e->state == NATT_STATE_PUBLISHED && !stopping()) {
		pid_t holder = other_holder(e);
		if (holder > 0) {
			pthread_mutex_lock(&E.start_lock);
			int rc = add_watch_locked(holder, NULL);
			pthread_mutex_unlock(&E.start_lock);
			if (rc == 0) {
				e->lingering_holder = holder;
				e->due_ms = natt_now_ms() + 1000;
				return;
			}
		}
	}
	unpublish(e);
	announce(e, true);
	pthread_mutex_lock(&E.lock);
	for (struct natt_entry **p = &E.entries; *p; p = &(*p)->next) {
		if (*p == e) {
			*p = e->next;
			break;
		}
	}
	e->active = false;
	e->state = NATT_STATE_PENDING;
	bool owned_by_listener = e->listener != NULL;
	atomic_store(&e->retired, true);
	pthread_cond_broadcast(&E.changed);
	pthread_mutex_unlock(&E.lock);
	E.dirty = true;
	if (!owned_by_listener)
		free_later(e);
}

static void tell_changes(void)
{
	for (struct natt_entry *e = E.entries; e; e = e->next) {
		if (!e->announced && !e->vanished) {
			announce(e, false);
			notify_listener(e);
			e->announced = true;
		}
	}
	write_status();
	E.dirty = false;
}

/* Retires every entry marked due_ms < 0 (all of them when all): one look at the kernel's socket
 * tables and one hold of the gateway lock for the whole batch, however many there are. */
static void retire_marked(bool all)
{
	bool any = false;
	for (struct natt_entry *e = E.entries; e; e = e->next) {
		if (all)
			e->due_ms = -1; /* all marked first: no shared mapping is kept for one that goes too */
		any |= e->due_ms < 0;
	}
	if (!any)
		return;
	natt_socket_tables_forget();
	bool locked = E.have_gateway;
	int lock = locked ? lock_gateway() : -1;
	for (struct natt_entry *e = E.entries, *next; e; e = next) {
		next = e->next;
		if (e->due_ms < 0)
			retire_entry(e);
	}
	if (locked)
		unlock_gateway(lock);
}

static void retire_everything(void)
{
	retire_marked(true);
	write_status();
}

static bool stopping(void)
{
	return atomic_load(&E.shutdown) || atomic_load(&E.exit_signal);
}

static void *manager_main(void *arg)
{
	(void)arg;
	natt_internal_depth = 1;
	natt_manager_thread = true;
	pthread_setname_np(pthread_self(), "natt");
	if (natt_engine_started_hook)
		natt_engine_started_hook(); /* work the first hook need not do itself */
	open_watchers();
	E.verify_due_ms = natt_now_ms() + (int64_t)E.cfg.verify_interval * 1000;
	for (;;) {
		pause_point();
		take_inbox();
		int sig = atomic_exchange(&E.exit_signal, 0);
		if (sig || atomic_load(&E.shutdown)) {
			/* The signal must end the process soon: the same time as at exit (see
			 * natt_engine_shutdown), then the leases take over. */
			if (sig) {
				E.cleanup_deadline_ms = natt_now_ms() + CLEANUP_IDLE_MS;
				E.cleanup_cap_ms = natt_now_ms() + CLEANUP_CAP_MS;
			}
			take_inbox();
			retire_everything();
			if (sig && E.after_signal)
				E.after_signal(sig); /* re-raises: normally the process ends here */
			break;
		}
		/* Retirements first: they free ports that new entries may want. */
		unsigned flush_asked = atomic_load(&E.flush_asked);
		retire_marked(false);
		if (flush_asked != atomic_load(&E.flush_done)) {
			if (E.dirty)
				tell_changes();
			pthread_mutex_lock(&E.lock);
			atomic_store(&E.flush_done, flush_asked);
			pthread_cond_broadcast(&E.changed);
			pthread_mutex_unlock(&E.lock);
		}
		int64_t now = natt_now_ms();
		if (E.cfg.verify_interval && now >= E.verify_due_ms) {
			verify_mappings();
			E.verify_due_ms = now + (int64_t)E.cfg.verify_interval * 1000;
		}
		for (struct natt_entry *e = E.entries; e; e = e->next) {
			if (e->due_ms >= 0 && e->due_ms <= now) {
				pause_point();
				work_on_serialized(e);
				take_inbox(); /* a retirement may have come in while we talked to the router */
				if (stopping())
					break;
			}
		}
		if (stopping())
			continue;
		if (E.dirty)
			tell_changes();

		int64_t next_due = free_expired(natt_now_ms());
		if (E.status_retry_ms && E.status_retry_ms <= natt_now_ms())
			tell_changes();
		else if (E.status_retry_ms)
			next_due = E.status_retry_ms;
		bool any_published = false;
		for (struct natt_entry *e = E.entries; e; e = e->next) {
			if (e->due_ms < next_due)
				next_due = e->due_ms;
			any_published |= e->state == NATT_STATE_PUBLISHED;
		}
		if (any_published && E.cfg.verify_interval && E.verify_due_ms < next_due)
			next_due = E.verify_due_ms;
		now = natt_now_ms();
		int timeout = -1;
		if (next_due != INT64_MAX)
			timeout = next_due <= now ? 0 : (int)(next_due - now > 3600000 ? 3600000 : next_due - now);
		if (natt_spawn_reap() > 0 && (timeout < 0 || timeout > 1000))
			timeout = 1000; /* an on-change command is still running: reap it soon */
		if (E.wake_fd_lost && (timeout < 0 || timeout > WAKE_LOST_POLL_MS))
			timeout = WAKE_LOST_POLL_MS;
		struct pollfd pfd[3 + 32] = {
			{ .fd = E.wake_fd_lost ? -1 : E.wake_fd, .events = POLLIN },
			{ .fd = E.ssdp_fd, .events = POLLIN },
			{ .fd = E.natpmp_fd, .events = POLLIN },
		};
		int nfds = 3;
		pthread_mutex_lock(&E.start_lock);
		for (int i = 0; i < E.watch_count; i++) {
			if (E.watches[i].fd >= 0)
				pfd[nfds++] = (struct pollfd){ .fd = E.watches[i].fd, .events = POLLIN };
			else if (timeout < 0 || timeout > 1000)
				timeout = 1000; /* no pidfd: look again in a second */
		}
		pthread_mutex_unlock(&E.start_lock);
		int ready = poll(pfd, (nfds_t)nfds, timeout);
		check_watches(pfd, ready > 0 ? nfds : 0);
		if (ready > 0) {
			if (pfd[0].revents & POLLNVAL) {
				/* The wake-up eventfd was closed under natt (see watcher_failed): polled from
				 * now on at most every WAKE_LOST_POLL_MS instead of spinning on it. */
				natt_debug("the wake-up descriptor was closed under natt: polling instead");
				E.wake_fd_lost = true;
			} else if (pfd[0].revents) {
				uint64_t count;
				ssize_t ignored = read(E.wake_fd, &count, sizeof(count));
				(void)ignored;
			}
			if (pfd[1].revents)
				on_ssdp_datagrams();
			if (pfd[2].revents)
				on_natpmp_announcements();
		}
	}
	natt_igd_close(&E.igd);
	close_watchers();
	pthread_mutex_lock(&E.lock);
	atomic_store(&E.stopped, true);
	atomic_store(&E.running, false);
	pthread_cond_broadcast(&E.changed);
	pthread_mutex_unlock(&E.lock);
	return NULL;
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
	entry->last_said[0] = '\0';
	if (start_manager() == 0)
		push_inbox(entry, NATT_OP_PUBLISH);
}

/* ---------------------------------------------------------------- the library's listeners */

/* The entry whose callback the manager is running, or NULL, and the process it runs in (a child forked
 * meanwhile has no such call under way). Guarded by E.lock. */
static struct natt_entry *calling;
static pid_t calling_pid;

bool natt_engine_callback_begin(struct natt_entry *e, natt_change_fn *on_change, void **ctx,
                                struct natt_listener **listener)
{
	pthread_mutex_lock(&E.lock);
	*on_change = e->on_change;
	*ctx = e->ctx;
	*listener = e->listener;
	if (*on_change) {
		calling = e;
		calling_pid = natt_self_pid();
	}
	pthread_mutex_unlock(&E.lock);
	return *on_change != NULL;
}

void natt_engine_callback_end(void)
{
	pthread_mutex_lock(&E.lock);
	calling = NULL;
	pthread_cond_broadcast(&E.changed);
	pthread_mutex_unlock(&E.lock);
}

void natt_engine_release(struct natt_entry *e)
{
	pthread_mutex_lock(&E.lock);
	e->on_change = NULL;
	e->ctx = NULL;
	while (calling == e && calling_pid == natt_self_pid())
		pthread_cond_wait(&E.changed, &E.lock);
	/* retire_entry decides under this lock whether the entry is still owned: once it has run, the
	 * entry is ours to free; before, an entry without listener is the manager's to free. */
	bool retired = atomic_load(&e->retired);
	if (!retired)
		e->listener = NULL;
	pthread_mutex_unlock(&E.lock);
	if (retired)
		natt_entry_free(e);
}

/* natt_engine_end asked the manager to end and it had not ended in time: the next start joins it.
 * Callers are serialized (listener.c's lock). */
static bool end_pending;

static void join_ended_manager(void)
{
	pthread_join(E.thread, NULL);
	close_own_fd(&E.wake_fd);
	atomic_store(&E.shutdown, false); /* the next publish starts a manager that stays */
	end_pending = false;
}

int natt_engine_end(int timeout_ms)
{
	if (!natt_engine_running_here())
		return 0;
	atomic_store(&E.shutdown, true);
	wake_manager();
	if (!wait_until_ms(manager_stopped, NULL, natt_now_ms() + (timeout_ms > 0 ? timeout_ms : 0))) {
		end_pending = true;
		return -ETIMEDOUT;
	}
	join_ended_manager();
	return 0;
}

void natt_engine_prepare_start(void)
{
	if (!end_pending)
		return;
	/* Still deleting at a slow router: each of its exchanges is bounded, so this ends. */
	while (!wait_until_ms(manager_stopped, NULL, natt_now_ms() + 60000))
		;
	join_ended_manager();
}
