/* Sockets that cross process boundaries: inherited by fork (a child takes its parent's mappings over
 * once the parent is gone), kept across exec (the new image publishes what it starts with), and sockets
 * that exec closes (their mappings go before the exec). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "shim.h"

atomic_bool nattshim_inherited NATTSHIM_HOT_DATA;

void nattshim_each_tracked(void (*fn)(int fd, struct natt_entry *entry, void *ctx), void *ctx)
{
	for (unsigned index = 0; index < NATT_FD_CHUNKS; index++) {
		_Atomic(struct natt_entry *) *chunk = atomic_load(nattshim_chunk_ref(index));
		if (!chunk)
			continue;
		for (unsigned i = 0; i < NATT_FD_CHUNK; i++) {
			int fd = (int)(index * NATT_FD_CHUNK + i);
			struct natt_entry *entry = atomic_load(&chunk[i]);
			if (entry == NATTSHIM_PENDING)
				entry = nattshim_settled(fd); /* the manager looks at a socket: a moment */
			if (nattshim_is_entry(entry))
				fn(fd, entry, ctx);
		}
	}
}

struct owners {
	pid_t pids[8];
	int count;
};

static void note_owner(int fd, struct natt_entry *entry, void *ctx)
{
	(void)fd;
	struct owners *o = ctx;
	for (int i = 0; i < o->count; i++)
		if (o->pids[i] == entry->owner)
			return;
	if (o->count < 8)
		o->pids[o->count++] = entry->owner;
}

static void owner_gone(pid_t pid);

/* A child that inherited published sockets watches their owners: when an owner ends (a server that
 * daemonized, a master killed under its workers) the child takes the mappings over at once, whether
 * or not it ever calls a hooked function again. The fork handler only notes them: a thread must not
 * be started there (the child of a threaded process may only make async-signal-safe calls until fork
 * returns), so the watch starts when fork() or daemon() returns in the child (fork.c), or at the next
 * adoption check for the other ways to fork. */
static struct owners unwatched;

void nattshim_after_fork_child(void)
{
	unwatched.count = 0;
	nattshim_each_tracked(note_owner, &unwatched);
	atomic_store(&nattshim_inherited, unwatched.count > 0);
}

void nattshim_watch_owners(void)
{
	if (unwatched.count == 0)
		return;
	struct owners o = unwatched;
	unwatched.count = 0;
	int saved_errno = errno;
	natt_internal_depth++;
	for (int i = 0; i < o.count; i++)
		natt_engine_watch_pid(o.pids[i], owner_gone);
	natt_internal_depth--;
	errno = saved_errno;
}

static int64_t coarse_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct adoption {
	pid_t self;
	pid_t gone;   /* an owner known to have ended (its pidfd said so; kill() would still see a zombie) */
	bool waiting; /* some owner is still alive */
};

static void adopt_if_orphaned(int fd, struct natt_entry *entry, void *ctx)
{
	(void)fd;
	struct adoption *a = ctx;
	pid_t owner = __atomic_load_n(&entry->owner, __ATOMIC_SEQ_CST);
	/* (Not looked at even here, after fork, or set aside: not a socket to publish.) */
	if (owner == a->self || atomic_load(&entry->unexamined) || atomic_load(&entry->ignored))
		return;
	if (owner != a->gone && (kill(owner, 0) == 0 || errno == EPERM)) {
		a->waiting = true; /* the owner still renews it */
		return;
	}
	natt_engine_adopt(entry, owner);
}

/* Rate-limited: a pre-fork worker whose parent lives on pays one clock read per close(). */
void nattshim_check_adoption(void)
{
	static _Atomic int64_t next_check;
	int64_t now = coarse_ms();
	if (now < atomic_load(&next_check))
		return;
	atomic_store(&next_check, now + 250);
	nattshim_watch_owners();
	int saved_errno = errno;
	natt_internal_depth++;
	struct adoption a = { .self = getpid() };
	nattshim_each_tracked(adopt_if_orphaned, &a);
	if (!a.waiting)
		atomic_store(&nattshim_inherited, false);
	natt_internal_depth--;
	errno = saved_errno;
}

/* From the manager thread, when a watched owner ended. */
static void owner_gone(pid_t pid)
{
	struct adoption a = { .self = getpid(), .gone = pid };
	nattshim_each_tracked(adopt_if_orphaned, &a);
	if (!a.waiting)
		atomic_store(&nattshim_inherited, false);
}

/* ---- start-up: sockets handed to us already listening (exec of a server that kept its socket,
 * inetd, systemd socket activation, a supervisor). */
static void adopt_fd(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return;
	int listening = 0, type = 0;
	socklen_t len = sizeof(listening);
	getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);
	len = sizeof(type);
	getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
	enum nattshim_event event;
	if (listening) {
		event = NATTSHIM_AFTER_LISTEN;
	} else if (type == SOCK_DGRAM) {
		/* A bound, unconnected UDP socket is a server's; a connected one is a client's. */
		struct sockaddr_storage peer;
		len = sizeof(peer);
		if (getpeername(fd, (struct sockaddr *)&peer, &len) == 0 || errno != ENOTCONN)
			return;
		event = NATTSHIM_AFTER_BIND;
	} else {
		return;
	}
	nattshim_consider(fd, event);
	/* Whoever handed it over may hold it still (systemd does; a parent that spawned us may): said
	 * once published (before, the engine may not be there, and need not be for a socket natt leaves
	 * alone). */
	natt_engine_note_shared();
}

/* Every process of a wrapped tree loads us, so the common case must stay cheap: the full walk over
 * /proc/self/fd happens only where sockets can have been handed over — after the exec of a process
 * that had published sockets (our exec hook sets NATT_INHERITED) or under systemd socket activation
 * (LISTEN_FDS). inetd hands its socket over as standard input: fd 0 alone is always looked at. */
/* sd_listen_fds(3): the sockets are ours only when LISTEN_PID names this process. */
static bool socket_activated(const struct nattshim_start_env *env)
{
	if (!env->listen_fds)
		return false;
	return !env->listen_pid || strtol(env->listen_pid, NULL, 10) == (long)getpid();
}

/* Whether fd is a socket, asked of the kernel itself where the system call is known: glibc's fstat() is
 * fstatat(fd, "", ...), whose code and empty string are two pages of libc's that a program which
 * never stats a file would not touch, at every start. */
static bool is_socket(int fd)
{
	struct stat st;
#if defined(__x86_64__)
	long rc;
	__asm__ volatile("syscall" : "=a"(rc) : "0"((long)SYS_fstat), "D"((long)fd), "S"(&st) : "rcx", "r11", "memory");
	return rc == 0 && S_ISSOCK(st.st_mode);
#else
	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
#endif
}

void nattshim_adopt_at_start(const struct nattshim_start_env *env)
{
	if (!env->inherited && !socket_activated(env)) {
		if (is_socket(0))
			adopt_fd(0);
		return;
	}
	if (env->inherited)
		unsetenv("NATT_INHERITED"); /* ours, not the program's; its own children start afresh */
	DIR *dir = opendir("/proc/self/fd");
	if (!dir)
		return;
	int skip = dirfd(dir);
	struct dirent *d;
	while ((d = readdir(dir))) {
		char *end;
		long fd = strtol(d->d_name, &end, 10);
		if (*end || fd < 0 || fd == skip || fd > 1 << 20)
			continue;
		adopt_fd((int)fd);
	}
	closedir(dir);
}

/* ---- exec */

struct exec_plan {
	int fds[256];
	unsigned count;
};

static bool survives_exec(int fd)
{
	int flags = libc_fcntl(fd, F_GETFD, NULL);
	return flags >= 0 && !(flags & FD_CLOEXEC);
}

static void mark_cloexec_holders(int fd, struct natt_entry *entry, void *ctx)
{
	(void)entry;
	struct exec_plan *plan = ctx;
	if (!survives_exec(fd) || plan->count >= sizeof(plan->fds) / sizeof(plan->fds[0]))
		return;
	/* This fd survives, so its socket does: keep every entry that has such an fd. */
	plan->fds[plan->count++] = fd;
}

static struct exec_plan closing;

static void collect_closing(int fd, struct natt_entry *entry, void *ctx)
{
	struct exec_plan *survivors = ctx;
	for (unsigned i = 0; i < survivors->count; i++)
		if (nattshim_tracked(survivors->fds[i]) == entry)
			return;
	if (closing.count < sizeof(closing.fds) / sizeof(closing.fds[0]))
		closing.fds[closing.count++] = fd;
}

bool nattshim_exec_passes_sockets;

/* The fds of published sockets that a new image (exec, posix_spawn) keeps: the image is told to look
 * for them (see nattshim_adopt_at_start), and they are shared from now on (also after a vfork child's
 * exec, unseen by the fork handlers). */
static void note_survivors(struct exec_plan *survivors)
{
	survivors->count = 0;
	nattshim_each_tracked(mark_cloexec_holders, survivors);
	nattshim_exec_passes_sockets = survivors->count > 0;
	if (survivors->count > 0)
		natt_engine_note_shared();
}

void nattshim_before_exec(void)
{
	nattshim_engine_settle(); /* (a load under way, and what waited for it, is done first) */
	struct exec_plan survivors;
	note_survivors(&survivors);
	if (!natt_engine_running_here())
		return;
	int saved_errno = errno;
	natt_internal_depth++;
	closing.count = 0;
	nattshim_each_tracked(collect_closing, &survivors);
	/* The sockets exec closes are gone for good unless exec fails: retire them now, the way close()
	 * would, and wait (bounded) until the router was told. Surviving sockets keep their mappings; a
	 * preloaded new image publishes them again at start-up. */
	for (unsigned i = 0; i < closing.count; i++)
		nattshim_release(nattshim_detach(closing.fds[i]));
	if (closing.count)
		natt_engine_flush(2000);
	natt_internal_depth--;
	errno = saved_errno;
}

void nattshim_before_spawn(void)
{
	nattshim_engine_settle(); /* (a socket whose publish waits for the engine's load is passed on too) */
	struct exec_plan survivors;
	note_survivors(&survivors);
}

void nattshim_after_failed_exec(void)
{
	int saved_errno = errno;
	natt_internal_depth++;
	for (unsigned i = 0; i < closing.count; i++) {
		int type = 0;
		socklen_t len = sizeof(type);
		if (getsockopt(closing.fds[i], SOL_SOCKET, SO_TYPE, &type, &len) == 0)
			nattshim_consider(closing.fds[i], type == SOCK_DGRAM ? NATTSHIM_AFTER_BIND : NATTSHIM_AFTER_LISTEN);
	}
	closing.count = 0;
	natt_internal_depth--;
	errno = saved_errno;
}
