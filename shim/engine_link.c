/* The hooks' half of the link to the engine (see engine_link.h): the engine is loaded the first time
 * a socket is to be published, and every engine function the hooks call goes through here. Until
 * then nothing of natt's runs in the process but the hooks' checks. */
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static _Atomic pid_t self_pid;

pid_t natt_self_pid(void)
{
	pid_t pid = atomic_load_explicit(&self_pid, memory_order_relaxed);
	return pid ? pid : getpid();
}

void nattshim_note_pid(void)
{
	if (!atomic_load_explicit(&self_pid, memory_order_relaxed))
		atomic_store_explicit(&self_pid, getpid(), memory_order_relaxed);
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
/* The process that is loading it (0 for a moment after the load began): a fork child of a process
 * caught loading (a fork the hooks did not see) never gets the engine. */
static _Atomic pid_t loading_pid;
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
	void *handle = dlopen(path, RTLD_LAZY | RTLD_LOCAL | RTLD_NODELETE);
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

/* Waits while another thread of this process loads the engine; the state once it is done, or
 * ENGINE_LOADING after WAIT_FOR_LOAD_MS (the waiter may hold what the loader needs: a library's
 * constructor that binds while dlopen() runs it holds the loader's lock; its publish then waits in
 * the deferred slots). */
#define WAIT_FOR_LOAD_MS 2000

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_for_load(void)
{
	int state, round = 0;
	int64_t deadline = 0;
	while ((state = atomic_load_explicit(&engine_state, memory_order_acquire)) == ENGINE_LOADING) {
		pid_t loader = atomic_load(&loading_pid);
		if (loader != getpid()) {
			/* copied mid-load by a fork the hooks did not see: the loader's memory is half here */
			atomic_store(&engine_state, ENGINE_UNAVAILABLE);
			return ENGINE_UNAVAILABLE;
		}
		if (++round < 64) {
			sched_yield();
			continue;
		}
		/* (a sleep, not a yield: a real-time waiter would keep the loader off its CPU) */
		if (!deadline)
			deadline = monotonic_ms() + WAIT_FOR_LOAD_MS;
		else if (monotonic_ms() > deadline)
			return ENGINE_LOADING;
		nanosleep(&(struct timespec){ 0, 100000 }, NULL);
	}
	return state;
}

bool nattshim_engine_ready(void)
{
	int state = atomic_load_explicit(&engine_state, memory_order_acquire);
	if (__builtin_expect(state == ENGINE_LOADED, 1))
		return true;
	/* dlopen() allocates and takes the loader's lock: never in a signal handler of the program's
	 * (nor may a handler wait for the thread it interrupted). */
	if (state == ENGINE_UNAVAILABLE || loading_here || nattshim_in_signal_handler())
		return false;
	/* (The pid first: a fork right after the exchange copies it too. Every thread of a process
	 * stores the same.) */
	if (state == ENGINE_ABSENT)
		atomic_store(&loading_pid, getpid());
	if (state == ENGINE_ABSENT && atomic_compare_exchange_strong(&engine_state, &state, ENGINE_LOADING)) {
		loading_here = true;
		int saved_errno = errno;
		natt_internal_depth++;
		const struct natt_engine_ops *ops = load_engine();
		natt_internal_depth--;
		errno = saved_errno;
		if (ops) {
			nattshim_note_pid();
			nattshim_register_fork_handlers();
			atomic_store(&engine, ops);
			atomic_store(&nattshim_engine_present, true);
		}
		atomic_store_explicit(&engine_state, ops ? ENGINE_LOADED : ENGINE_UNAVAILABLE, memory_order_release);
		loading_here = false;
		if (ops)
			publish_deferred(); /* what a signal handler could not publish before */
		return ops != NULL;
	}
	/* Another thread is loading it: a moment (never the network). */
	return wait_for_load() == ENGINE_LOADED;
}

void nattshim_engine_settle(void)
{
	if (atomic_load_explicit(&engine_state, memory_order_acquire) == ENGINE_LOADING && !loading_here &&
	    !nattshim_in_signal_handler())
		wait_for_load();
}

static inline const struct natt_engine_ops *loaded(void)
{
	return atomic_load_explicit(&engine, memory_order_acquire);
}

/* ---- what a signal handler would have published before the engine was there: published at the next
 * publishing hook outside a handler (as a publish in a handler starts no thread until then). Each is
 * kept with its socket's inode: a number closed and reused meanwhile is not taken for it. */

#define DEFERRED_MAX 64
enum { SLOT_FREE, SLOT_WRITING, SLOT_HELD };
static struct {
	atomic_int state;
	int fd;
	enum nattshim_event event;
	uint64_t socket_id;
} deferred[DEFERRED_MAX];
/* How many slots are held or being written: the usual answer, none, costs one load. */
static atomic_int deferred_count;

static bool socket_id_of(int fd, uint64_t *id)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return false;
	*id = (uint64_t)st.st_ino;
	return true;
}

void nattshim_defer(int fd, enum nattshim_event event)
{
	uint64_t id;
	if (atomic_load(&engine_state) == ENGINE_UNAVAILABLE || !socket_id_of(fd, &id))
		return;
	for (unsigned i = 0; i < DEFERRED_MAX; i++) {
		int expected = SLOT_FREE;
		if (!atomic_compare_exchange_strong(&deferred[i].state, &expected, SLOT_WRITING))
			continue;
		atomic_fetch_add(&deferred_count, 1);
		deferred[i].fd = fd;
		deferred[i].event = event;
		deferred[i].socket_id = id;
		atomic_store(&deferred[i].state, SLOT_HELD);
		return;
	}
}

static void publish_deferred(void)
{
	if (atomic_load_explicit(&deferred_count, memory_order_acquire) == 0)
		return;
	for (unsigned i = 0; i < DEFERRED_MAX; i++) {
		int expected = SLOT_HELD;
		if (!atomic_compare_exchange_strong(&deferred[i].state, &expected, SLOT_WRITING))
			continue;
		int fd = deferred[i].fd;
		enum nattshim_event event = deferred[i].event;
		uint64_t want = deferred[i].socket_id, id;
		atomic_store(&deferred[i].state, SLOT_FREE);
		atomic_fetch_sub(&deferred_count, 1);
		if (socket_id_of(fd, &id) && id == want)
			nattshim_consider(fd, event);
	}
}

void nattshim_forget_deferred(void)
{
	for (unsigned i = 0; i < DEFERRED_MAX; i++)
		atomic_store(&deferred[i].state, SLOT_FREE);
	atomic_store(&deferred_count, 0);
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
