/* The hooks' half of the link to the engine (see engine_link.h): the engine is loaded the first time
 * a socket is to be published — by a thread of natt's, while the hook that asked returns and keeps its
 * publish for it — and every engine function the hooks call goes through here. Until then nothing of
 * natt's runs in the process but the hooks' checks. */
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"
#include "engine_link.h"

/* The engine's code in a program's thread always runs at depth > 0 (calls from here raise it), and its
 * thread marks itself when it starts: the hooks pass natt's own calls straight through. */
__thread int natt_internal_depth __attribute__((tls_model("initial-exec")));
__thread bool natt_manager_thread __attribute__((tls_model("initial-exec")));

/* ---- this process's pid, for the vfork-child test. Taken in the parent before the table holds
 * anything (a vfork child shares our memory and must not put its own pid here), again in a fork child. */

static _Atomic pid_t self_pid NATTSHIM_HOT_DATA; /* (taken on the first publish's path: no page of its own) */

pid_t nattshim_noted_pid(void)
{
	return atomic_load_explicit(&self_pid, memory_order_relaxed);
}

pid_t natt_self_pid(void)
{
	pid_t pid = atomic_load_explicit(&self_pid, memory_order_relaxed);
	return pid ? pid : getpid();
}

static void note_pid_as(pid_t pid)
{
	if (!atomic_load_explicit(&self_pid, memory_order_relaxed))
		atomic_store_explicit(&self_pid, pid, memory_order_relaxed);
}

void nattshim_note_pid(void)
{
	if (!atomic_load_explicit(&self_pid, memory_order_relaxed))
		note_pid_as(nattshim_getpid());
}

void nattshim_pid_after_fork(void)
{
	if (atomic_load_explicit(&self_pid, memory_order_relaxed))
		atomic_store_explicit(&self_pid, getpid(), memory_order_relaxed);
}

/* ---- loading */

enum { ENGINE_ABSENT, ENGINE_LOADING, ENGINE_LOADED, ENGINE_UNAVAILABLE };
static atomic_int engine_state NATTSHIM_HOT_DATA;
static const struct natt_engine_ops *_Atomic engine NATTSHIM_HOT_DATA;
atomic_bool nattshim_engine_present NATTSHIM_HOT_DATA;
/* The process that is loading it: a fork child of a process caught loading (a fork the hooks did not
 * see) never gets the engine, and waits for no loader. */
static _Atomic pid_t loading_pid NATTSHIM_HOT_DATA;
/* Set in the thread that loads it, for a hook the load itself might reach. */
static __thread bool loading_here __attribute__((tls_model("initial-exec")));

static void say_unavailable(const char *what, const char *why)
{
	const char *log = secure_getenv("NATT_LOG");
	if (log && *log)
		dprintf(2, "natt[%d] error: %s: %s; nothing is published\n", (int)getpid(), what,
		        why ? why : "?");
}

static void started_in_manager(void)
{
	natt_internal_depth = 1;
	natt_manager_thread = true;
	nattshim_take_termination_signals(); /* work the first hook need not do itself */
}

/* The engine's file beside this library, by an absolute path: the directory the loader found this
 * library in (made absolute at load time, before any chdir() of the program). Not "$ORIGIN", which
 * a setuid program's loader expands only to trusted directories. */
static bool engine_path(char *path, size_t size)
{
	Dl_info info;
	struct link_map *self = NULL;
	char origin[PATH_MAX];
	if (!dladdr1((void *)engine_path, &info, (void **)&self, RTLD_DL_LINKMAP) || !self ||
	    dlinfo(self, RTLD_DI_ORIGIN, origin) != 0)
		return false;
	int n = snprintf(path, size, "%s/%s", origin, NATT_PRELOAD_ENGINE_FILE);
	return n > 0 && (size_t)n < size;
}

static const struct natt_engine_ops *load_engine(void)
{
	char path[PATH_MAX + sizeof(NATT_PRELOAD_ENGINE_FILE) + 1];
	if (!engine_path(path, sizeof(path))) {
		say_unavailable("cannot find the directory of libnattpreload.so", dlerror());
		return NULL;
	}
	/* (Again if it fails: a thread of the program's that closes every fd it does not know of can
	 * close the one dlopen() reads the file by, which is not natt's to protect.) */
	void *handle = NULL;
	for (int attempt = 0; !handle && attempt < 3; attempt++)
		handle = dlopen(path, RTLD_LAZY | RTLD_LOCAL | RTLD_NODELETE);
	if (!handle) {
		say_unavailable("cannot load " NATT_PRELOAD_ENGINE_FILE, dlerror());
		return NULL;
	}
	natt_preload_engine_attach_fn attach;
	*(void **)&attach = dlsym(handle, NATT_PRELOAD_ENGINE_ATTACH);
	/* (On the stack: a table of function pointers in this library would be relocated at every
	 * program's start.) */
	struct natt_shim_side side = {
		.version = NATT_PRELOAD_LINK_VERSION,
		.size = sizeof(side),
		.fd_hook = nattshim_mark,
		.examine = nattshim_examine,
		.in_signal_handler = nattshim_in_signal_handler,
		.started = started_in_manager,
	};
	const struct natt_engine_ops *ops = attach ? attach(&side) : NULL;
	if (!ops || ops->version != NATT_PRELOAD_LINK_VERSION || ops->size != sizeof(*ops)) {
		say_unavailable(path, "not from this build of natt");
		return NULL;
	}
	return ops;
}

static void publish_deferred(void);

/* A load in the background, and the publishes waiting for it: a fork, an exec or the process's end
 * waits for both (bounded), so that nothing of it is half done there, nor published after. */
atomic_bool nattshim_loader_busy NATTSHIM_HOT_DATA;
/* Set at the process's end: what still waits for the engine is not published then. */
static atomic_bool exiting;

/* Waits while another thread of this process loads the engine (and publishes what waited for it);
 * the state once it is done, or ENGINE_LOADING after WAIT_FOR_LOAD_MS (the waiter may hold what the
 * loader needs: a library's constructor that binds while dlopen() runs it holds the loader's lock;
 * its publish then waits in the deferred slots). */
#define WAIT_FOR_LOAD_MS 2000

static int wait_for_load(bool with_publishes)
{
	int state;
	unsigned round = 0;
	int64_t deadline = 0;
	pid_t self = getpid();
	while ((state = atomic_load_explicit(&engine_state, memory_order_acquire)) == ENGINE_LOADING ||
	       (with_publishes && atomic_load(&nattshim_loader_busy))) {
		/* Another process's load: a vfork child's parent's (memory shared: the child leaves it
		 * alone), or the copy a fork the hooks did not see made mid-load (no loader here: the engine
		 * never comes, what waits for it is not published). */
		if (atomic_load(&loading_pid) != self)
			return state;
		if (!nattshim_wait_a_moment(round++, &deadline, WAIT_FOR_LOAD_MS))
			return ENGINE_LOADING;
	}
	return state;
}

/* In the thread that set ENGINE_LOADING. */
static bool finish_load(void)
{
	loading_here = true;
	int saved_errno = errno;
	natt_internal_depth++;
	const struct natt_engine_ops *ops = load_engine();
	natt_internal_depth--;
	errno = saved_errno;
	if (ops) {
		nattshim_register_fork_handlers();
		atomic_store(&engine, ops);
		atomic_store(&nattshim_engine_present, true);
	}
	/* (sequentially consistent: see nattshim_defer) */
	atomic_store(&engine_state, ops ? ENGINE_LOADED : ENGINE_UNAVAILABLE);
	loading_here = false;
	return ops != NULL;
}

/* The state moves from ENGINE_ABSENT to ENGINE_LOADING here, once per process. (The pid first: a fork
 * right after the exchange copies it too. Every thread of a process stores the same.) */
static bool begin_load(int state)
{
	pid_t pid = nattshim_getpid(); /* (one system call for both) */
	note_pid_as(pid);
	atomic_store(&loading_pid, pid);
	return atomic_compare_exchange_strong(&engine_state, &state, ENGINE_LOADING);
}

/* The loading thread: natt's own, with every signal blocked (no handler of the program's runs on it).
 * Once the engine is loaded, it goes on as the manager that its publishes start (unless another
 * thread started one first): a second thread's start and wake-up were half a millisecond of each
 * process's first publish here. */
static void *load_in_background(void *unused)
{
	(void)unused;
	natt_internal_depth = 1;
	/* A new thread may take the CPU of the thread that made it, here for the whole load (a
	 * millisecond); the program's thread goes on first. */
	sched_yield();
	/* Before dlopen() holds the loader's lock: a program's thread finding a libc function of ours at
	 * its first call (dlsym) would wait for the whole load. */
	nattshim_resolve_libc();
	const struct natt_engine_ops *ops = finish_load() ? atomic_load(&engine) : NULL;
	if (ops && !atomic_load(&exiting)) {
		ops->offer_thread();
		publish_deferred();
	}
	atomic_store(&nattshim_loader_busy, false);
	if (!ops || !ops->manage_here())
		pthread_detach(pthread_self()); /* (the manager is joined at its end; this one is not) */
	return NULL;
}

/* The loading thread's stack is natt's own, as the manager's is (see natt_manager_set_stack). Not
 * unmapped when another thread's publish started the manager first and the loading thread ends (the
 * pages dlopen() and the publishes wrote stay, once per process), nor after it ended as the manager
 * (a later manager of the process maps its own). (Not the program's default size, which may be
 * small: dlopen() runs here.) */
static void *loader_stack(void)
{
	char *m = mmap(NULL, NATT_MANAGER_STACK_BYTES + NATT_STACK_GUARD_BYTES, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	mprotect(m, NATT_STACK_GUARD_BYTES, PROT_NONE); /* an overflow faults instead of writing below */
	return m + NATT_STACK_GUARD_BYTES;
}

static bool start_loader(void)
{
	pthread_attr_t attr;
	sigset_t all;
	sigfillset(&all);
	pthread_attr_init(&attr);
	void *stack = loader_stack();
	int rc = stack ? pthread_attr_setstack(&attr, stack, NATT_MANAGER_STACK_BYTES) : ENOMEM;
	if (rc == 0)
		rc = pthread_attr_setsigmask_np(&attr, &all);
	pthread_t thread;
	atomic_store(&nattshim_loader_busy, true);
	natt_internal_depth++;
	if (rc == 0)
		rc = pthread_create(&thread, &attr, load_in_background, NULL);
	natt_internal_depth--;
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		if (stack)
			munmap((char *)stack - NATT_STACK_GUARD_BYTES, NATT_MANAGER_STACK_BYTES + NATT_STACK_GUARD_BYTES);
		atomic_store(&nattshim_loader_busy, false);
	}
	return rc == 0;
}

bool nattshim_engine_ready(void)
{
	int state = atomic_load_explicit(&engine_state, memory_order_acquire);
	if (__builtin_expect(state == ENGINE_LOADED, 1))
		return true;
	/* dlopen() allocates and takes the loader's lock: never in a signal handler of the program's
	 * (nor may a handler wait for the thread it interrupted). */
	if (state == ENGINE_UNAVAILABLE || loading_here || nattshim_in_signal_handler() ||
	    nattshim_in_vfork_child())
		return false;
	if (state == ENGINE_ABSENT && begin_load(state)) {
		bool loaded_now = finish_load();
		if (loaded_now)
			publish_deferred(); /* what a signal handler could not publish before */
		return loaded_now;
	}
	/* Another thread is loading it: a moment (never the network). */
	return wait_for_load(false) == ENGINE_LOADED;
}

bool nattshim_engine_ready_soon(void)
{
	int state = atomic_load_explicit(&engine_state, memory_order_acquire);
	if (__builtin_expect(state == ENGINE_LOADED, 1))
		return true;
	/* (A vfork child shares its parent's memory: it must not start a thread there.) */
	if (state != ENGINE_ABSENT || loading_here || nattshim_in_signal_handler() || nattshim_in_vfork_child())
		return false;
	if (!begin_load(state))
		return false;
	int saved_errno = errno;
	bool started = start_loader();
	errno = saved_errno;
	if (started)
		return false;
	/* No thread to be had (a limit on them, a filter): loaded here, as it would be without one. */
	bool loaded_now = finish_load();
	if (loaded_now)
		publish_deferred();
	return loaded_now;
}

void nattshim_engine_settle(void)
{
	if ((atomic_load_explicit(&engine_state, memory_order_acquire) == ENGINE_LOADING ||
	     atomic_load(&nattshim_loader_busy)) &&
	    !loading_here && !natt_internal_depth && !natt_manager_thread && !nattshim_in_signal_handler()) {
		/* (natt's own calls, the loader's among them, never wait for it) */
		int saved_errno = errno;
		wait_for_load(true);
		errno = saved_errno;
	}
}

void nattshim_engine_exiting(void)
{
	if (atomic_load(&nattshim_loader_busy) && getpid() == natt_self_pid())
		atomic_store(&exiting, true);
}

void nattshim_engine_before_exit(void)
{
	/* (not for a vfork child's exit: the load and its publishes are its parent's) */
	nattshim_engine_exiting();
	nattshim_engine_settle();
}

static inline const struct natt_engine_ops *loaded(void)
{
	return atomic_load_explicit(&engine, memory_order_acquire);
}

/* ---- publishes that wait for the engine: made while it loads in the background, or in a signal handler
 * before it was there (a handler cannot load it). Published once it is loaded, or at the next publish
 * outside a handler. Each is kept with its socket's inode (or, for a listen() that has none at hand, is
 * checked to be listening still): a number closed and reused meanwhile is not taken for it. */

#define DEFERRED_MAX 64
enum { SLOT_FREE, SLOT_WRITING, SLOT_HELD };
static struct {
	atomic_int state;
	int fd;
	enum nattshim_event event;
	uint64_t socket_id;
} deferred[DEFERRED_MAX] NATTSHIM_HOT_DATA; /* (the first listen() keeps its socket here: no page of its own) */
/* How many slots are held or being written: the usual answer, none, costs one load. */
static atomic_int deferred_count NATTSHIM_HOT_DATA;
static atomic_uint next_slot NATTSHIM_HOT_DATA;

bool nattshim_defer(int fd, enum nattshim_event event, uint64_t socket_id)
{
	if (atomic_load(&engine_state) == ENGINE_UNAVAILABLE)
		return true; /* (nothing is published) */
	/* (From the slot after the last one taken: a burst of publishes during the load finds a free
	 * one at once.) */
	unsigned first = atomic_fetch_add_explicit(&next_slot, 1, memory_order_relaxed);
	for (unsigned n = 0; n < DEFERRED_MAX; n++) {
		unsigned i = (first + n) % DEFERRED_MAX;
		int expected = SLOT_FREE;
		if (atomic_load_explicit(&deferred[i].state, memory_order_relaxed) != SLOT_FREE ||
		    !atomic_compare_exchange_strong(&deferred[i].state, &expected, SLOT_WRITING))
			continue;
		atomic_fetch_add(&deferred_count, 1);
		deferred[i].fd = fd;
		deferred[i].event = event;
		deferred[i].socket_id = socket_id;
		atomic_store(&deferred[i].state, SLOT_HELD);
		/* The loader may have published what waited just before this was put here (all these
		 * accesses are sequentially consistent, as are its store of the state and its read of the
		 * count: one of the two sees the other). Then it is taken back, and published by the caller. */
		if (atomic_load(&engine_state) == ENGINE_LOADED && !nattshim_in_signal_handler()) {
			expected = SLOT_HELD;
			if (atomic_compare_exchange_strong(&deferred[i].state, &expected, SLOT_FREE)) {
				atomic_fetch_sub(&deferred_count, 1);
				return false;
			}
		}
		return true;
	}
	return false;
}

/* With every signal blocked: a replay in a program's thread (what a signal handler kept) takes the
 * engine's locks, which a handler interrupting it might want. */
static void publish_deferred(void)
{
	if (atomic_load(&deferred_count) == 0)
		return;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int saved_errno = errno;
	for (unsigned i = 0; i < DEFERRED_MAX && !atomic_load(&exiting); i++) {
		int expected = SLOT_HELD;
		if (!atomic_compare_exchange_strong(&deferred[i].state, &expected, SLOT_WRITING))
			continue;
		int fd = deferred[i].fd;
		enum nattshim_event event = deferred[i].event;
		uint64_t want = deferred[i].socket_id;
		atomic_store(&deferred[i].state, SLOT_FREE);
		atomic_fetch_sub(&deferred_count, 1);
		/* (Not noted any more: closed, or published by now.) */
		if (nattshim_tracked(fd) == NATTSHIM_IP_BOUND)
			nattshim_publish_kept(fd, event, want);
	}
	errno = saved_errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void nattshim_forget_deferred(void)
{
	for (unsigned i = 0; i < DEFERRED_MAX; i++)
		atomic_store(&deferred[i].state, SLOT_FREE);
	atomic_store(&deferred_count, 0);
	atomic_store(&exiting, false);
}

/* ---- the engine's functions, as the hooks know them (engine_shim.h). Before the engine is loaded
 * there is nothing of its to ask or to end. */

#define ENGINE_CALL(call) \
	do { \
		natt_internal_depth++; \
		call; \
		natt_internal_depth--; \
	} while (0)

struct natt_entry *natt_engine_publish(enum natt_protocol protocol, const struct sockaddr_storage *local,
                                       bool dual_stack, uint64_t socket_id, natt_change_fn on_change, void *ctx,
                                       struct natt_listener *listener)
{
	struct natt_entry *entry = NULL;
	if (nattshim_engine_ready())
		ENGINE_CALL(entry = loaded()->publish(protocol, local, dual_stack, socket_id, on_change, ctx,
		                                           listener));
	return entry;
}

struct natt_entry *natt_engine_publish_unexamined(int fd, void (*ready)(struct natt_entry *entry, void *ctx),
                                                  void *ctx)
{
	struct natt_entry *entry = NULL;
	if (nattshim_engine_ready())
		ENGINE_CALL(entry = loaded()->publish_unexamined(fd, ready, ctx));
	return entry;
}

void natt_engine_retire(struct natt_entry *entry)
{
	const struct natt_engine_ops *ops = loaded();
	if (ops)
		ENGINE_CALL(ops->retire(entry));
}

void natt_engine_adopt(struct natt_entry *entry, pid_t from)
{
	const struct natt_engine_ops *ops = loaded();
	if (ops)
		ENGINE_CALL(ops->adopt(entry, from));
}

int natt_engine_watch_pid(pid_t pid, void (*on_exit)(pid_t pid))
{
	int rc = -ENOSYS;
	if (nattshim_engine_ready())
		ENGINE_CALL(rc = loaded()->watch_pid(pid, on_exit));
	return rc;
}

void natt_engine_note_shared(void)
{
	const struct natt_engine_ops *ops = loaded();
	if (ops)
		ENGINE_CALL(ops->note_shared());
}

bool natt_engine_fd_moved(int from, int to)
{
	const struct natt_engine_ops *ops = loaded();
	bool moved = false;
	if (ops)
		ENGINE_CALL(moved = ops->fd_moved(from, to));
	return moved;
}

void natt_engine_flush(int timeout_ms)
{
	const struct natt_engine_ops *ops = loaded();
	if (ops)
		ENGINE_CALL(ops->flush(timeout_ms));
}

void natt_engine_shutdown(int timeout_ms)
{
	const struct natt_engine_ops *ops = loaded();
	if (ops)
		ENGINE_CALL(ops->shutdown(timeout_ms));
}

void natt_engine_shutdown_from_handler(int timeout_ms)
{
	const struct natt_engine_ops *ops = loaded();
	if (ops)
		ENGINE_CALL(ops->shutdown_from_handler(timeout_ms));
}

void natt_engine_request_signal_exit(int sig, void (*after_cleanup)(int sig))
{
	const struct natt_engine_ops *ops = loaded();
	if (ops)
		ENGINE_CALL(ops->request_signal_exit(sig, after_cleanup));
	else
		after_cleanup(sig);
}

bool natt_engine_running(void)
{
	const struct natt_engine_ops *ops = loaded();
	return ops && ops->running();
}

bool natt_engine_running_here(void)
{
	const struct natt_engine_ops *ops = loaded();
	return ops && ops->running_here();
}

void natt_engine_start_if_wanted(void)
{
	const struct natt_engine_ops *ops = loaded();
	if (!ops)
		return;
	ENGINE_CALL(ops->start_if_wanted());
	if (!nattshim_in_signal_handler())
		publish_deferred();
}

void natt_engine_atfork_prepare(void)
{
	const struct natt_engine_ops *ops = loaded();
	if (ops)
		ENGINE_CALL(ops->atfork_prepare());
}

void natt_engine_atfork_parent(void)
{
	const struct natt_engine_ops *ops = loaded();
	if (ops)
		ENGINE_CALL(ops->atfork_parent());
}

void natt_engine_atfork_child(void)
{
	const struct natt_engine_ops *ops = loaded();
	if (ops)
		ENGINE_CALL(ops->atfork_child());
}

/* Asked only once the engine is loaded (nattshim_engine_ready() before); an empty configuration
 * otherwise, which publishes nothing on its own. */
const struct natt_config *natt_engine_config(void)
{
	static const struct natt_config none;
	const struct natt_engine_ops *ops = loaded();
	return ops ? ops->config() : &none;
}

bool natt_port_set_contains(const struct natt_port_set *set, uint16_t port)
{
	const struct natt_engine_ops *ops = loaded();
	return ops && ops->port_set_contains(set, port);
}
