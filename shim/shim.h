/* libnattpreload: hooks that only observe. Each hooked call is a trio, as in socket_wrapper:
 * libc_X() calls the real function, nattshim_X() holds the logic, the exported X() forwards.
 * The hooks never change a call's result or errno and never wait on the network. */
#ifndef NATT_SHIM_H
#define NATT_SHIM_H

#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/engine_shim.h"

#define NATT_EXPORT __attribute__((visibility("default")))

/* ---- the real functions (libc.c) */
int libc_bind(int fd, const struct sockaddr *addr, socklen_t len);
int libc_connect(int fd, const struct sockaddr *addr, socklen_t len);
int libc_listen(int fd, int backlog);
int libc_close(int fd);
int libc_close_range(unsigned first, unsigned last, int flags);
void libc_closefrom(int lowfd);
int libc_dup(int fd);
int libc_dup2(int oldfd, int newfd);
int libc_dup3(int oldfd, int newfd, int flags);
int libc_fcntl(int fd, int cmd, void *arg);
int libc_fcntl64(int fd, int cmd, void *arg);
int libc_sigaction(int sig, const struct sigaction *act, struct sigaction *old);
int libc_raise(int sig);
int libc_kill(pid_t pid, int sig);
int libc_socket(int domain, int type, int protocol);
int libc_fclose(FILE *stream);
pid_t libc_fork(void);
int libc_daemon(int nochdir, int noclose);
int libc_execve(const char *path, char *const argv[], char *const envp[]);
int libc_execv(const char *path, char *const argv[]);
int libc_execvp(const char *file, char *const argv[]);
int libc_execvpe(const char *file, char *const argv[], char *const envp[]);
int libc_fexecve(int fd, char *const argv[], char *const envp[]);
int libc_posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                     const posix_spawnattr_t *attr, char *const argv[], char *const envp[]);
int libc_posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                      const posix_spawnattr_t *attr, char *const argv[], char *const envp[]);
__attribute__((noreturn)) void libc__exit(int status);
__attribute__((noreturn)) void libc__Exit(int status);
void nattshim_resolve_libc(void);
/* POSIX dropped bsd_signal and glibc no longer declares it, but still exports it. */
sighandler_t bsd_signal(int sig, sighandler_t handler);

/* ---- the engine (engine_link.c): loaded when a socket is first to be published */
/* Whether the engine is there, loading it if need be (false when it is not loaded yet and this is a
 * signal handler of the program's, or when it cannot be loaded: then nothing is published). */
bool nattshim_engine_ready(void);
/* The same without waiting for it: true only when it is there; else its load begins in a thread of
 * natt's (at most once), which publishes what waited for it (nattshim_defer) once it is loaded. */
bool nattshim_engine_ready_soon(void);
/* Small state read at every start or exit, or on hot paths, lives beside the relocated table of the
 * library's calls into libc: a page the loader has written anyway, so reading it costs no page fault. */
#define NATTSHIM_HOT_DATA __attribute__((section(".data.nattshim")))
/* The hooks of calls every program makes often (close, dup*, fcntl, socket, connect) and their calls on
 * to libc share one page of code (shim/layout.ld). Where the kernel isolates its page tables without
 * PCID, every system call empties the TLB, and each page a hook touches between two calls costs a
 * page walk: close() and dup() touch this page and the hot data's, and pass the call on as their last
 * act (nothing of theirs runs after the system call). */
#define NATTSHIM_HOT_TEXT __attribute__((section(".text.nattshim")))
extern atomic_bool nattshim_engine_present;
static inline bool nattshim_engine_loaded(void)
{
	return atomic_load_explicit(&nattshim_engine_present, memory_order_acquire);
}
/* A load of the engine in natt's thread, or the publishes after it, under way. */
extern atomic_bool nattshim_loader_busy;
static inline bool nattshim_engine_loaded_or_loading(void)
{
	return nattshim_engine_loaded() || atomic_load_explicit(&nattshim_loader_busy, memory_order_acquire);
}
/* Waits while natt's thread loads the engine and publishes what waited for it (bounded): before a
 * fork, an exec or posix_spawn (a child must not get half of it), the process's end, and a dup() or
 * connect() of a socket whose publish waits. Never in natt's own calls or a signal handler. */
void nattshim_engine_settle(void);
/* At the process's end: what still waits for the engine is left unpublished; a load under way is
 * waited for. The first alone in a signal handler (which cannot wait). */
void nattshim_engine_before_exit(void);
void nattshim_engine_exiting(void);
/* In a fork child: the parent's deferred publishes are the parent's. */
void nattshim_forget_deferred(void);
/* The fork handlers (init.c): registered when the engine is loaded. */
void nattshim_register_fork_handlers(void);
/* getpid() by its system call: libc's function lies on a page of code a program has seldom touched
 * before, and its fault (10 µs on a virtual machine) would be the first publish's. */
static inline pid_t nattshim_getpid(void)
{
#if defined(__x86_64__)
	long pid;
	__asm__ volatile("syscall" : "=a"(pid) : "0"((long)SYS_getpid) : "rcx", "r11", "memory");
	return (pid_t)pid;
#else
	return getpid();
#endif
}
/* This process's pid once noted (0 before: nothing of natt's in the process yet). */
pid_t nattshim_noted_pid(void);
/* Takes this process's pid for natt_self_pid(): before the fd table first holds anything. */
void nattshim_note_pid(void);
void nattshim_pid_after_fork(void);

/* ---- fd table (fdtable.c): fd -> published entry, readable without a lock. */
#define NATT_FD_CHUNK_BITS 10
#define NATT_FD_CHUNK (1u << NATT_FD_CHUNK_BITS)
#define NATT_FD_CHUNKS 1024u /* fds below 2^20 are tracked */
/* The chunks' addresses. Chunk 0's (fds 0-1023: a program's sockets, almost always) is kept apart, among
 * the library's hot data, and natt_fd_chunks[0] is unused: a program's close() reads no page of the
 * table's until it has a chunk above. */
extern _Atomic(struct natt_entry *) *_Atomic natt_fd_chunk0;
extern _Atomic(struct natt_entry *) *_Atomic natt_fd_chunks[NATT_FD_CHUNKS];
static inline _Atomic(struct natt_entry *) *_Atomic *nattshim_chunk_ref(unsigned index)
{
	return index ? &natt_fd_chunks[index] : &natt_fd_chunk0;
}

/* Marks natt's own long-lived fds in the table: close() on them fails with EBADF, as if they were
 * never open, and close_range()/closefrom() step around them. */
#define NATTSHIM_OURS ((struct natt_entry *)(uintptr_t)1)
/* Claimed by natt while it checks the fd is the one it opened (NATT_FD_CLAIM), or while the manager
 * looks at a socket listen() handed over: for a moment. */
#define NATTSHIM_PENDING ((struct natt_entry *)(uintptr_t)2)
/* Bound by the program to an IP address other than loopback, not published (yet): a listen() on it
 * needs no system call to know it may be one to publish. */
#define NATTSHIM_IP_BOUND ((struct natt_entry *)(uintptr_t)3)

static inline bool nattshim_is_entry(const struct natt_entry *entry)
{
	return (uintptr_t)entry > (uintptr_t)NATTSHIM_IP_BOUND;
}

/* The close() fast path: one bounds check and at most two loads when nothing is tracked. */
static inline struct natt_entry *nattshim_tracked(int fd)
{
	if ((unsigned)fd >= NATT_FD_CHUNK * NATT_FD_CHUNKS)
		return NULL;
	_Atomic(struct natt_entry *) *chunk =
	        atomic_load_explicit(nattshim_chunk_ref((unsigned)fd >> NATT_FD_CHUNK_BITS), memory_order_acquire);
	if (__builtin_expect(chunk == NULL, 1))
		return NULL;
	return atomic_load_explicit(&chunk[(unsigned)fd & (NATT_FD_CHUNK - 1)], memory_order_acquire);
}

/* A vfork child (or posix_spawn's) shares our memory, fd table included, but not our descriptors:
 * what it closes or copies is its own, so it must leave the table alone. A system call: only on the
 * rare paths, for fds the table knows. */
static inline bool nattshim_in_vfork_child(void)
{
	pid_t self = nattshim_noted_pid(); /* (not noted: no fd of the table's, no thread of natt's yet) */
	return self && nattshim_getpid() != self;
}

/* Stores entry at fd (NULL clears); returns what was there. May map a chunk. Async-signal-safe. */
struct natt_entry *nattshim_fd_exchange(int fd, struct natt_entry *entry);
/* Stores entry at fd if fd holds expected; whether it did. May map a chunk. Async-signal-safe. */
bool nattshim_fd_replace(int fd, struct natt_entry *expected, struct natt_entry *entry);
/* Clears fd's slot once no claim is on it, returning what it held; natt's own fd (NATTSHIM_OURS) is
 * left as it is. For the program's close of fd. */
struct natt_entry *nattshim_detach(int fd);
/* A fd that holds entry, or -1 (a walk over the table: for rare paths). */
int nattshim_fd_of(const struct natt_entry *entry);
/* What fd's slot holds once natt's check of a claimed fd, or its close of its own, is over (a few
 * system calls away). */
struct natt_entry *nattshim_settled(int fd);
/* Marks fd pending in the calling thread (returns what its slot held). */
struct natt_entry *nattshim_pend(int fd);
/* Marks fd pending only if its slot holds expected; whether it did. */
bool nattshim_pend_if(int fd, struct natt_entry *expected);
/* Settles a pending fd to `settled`, unless something else was written over the mark meanwhile (a
 * copy of the program's at the number natt's close just freed): then false, and that stays. */
bool nattshim_unpend(int fd, struct natt_entry *settled);
/* The claim protocol of enum natt_fd_mark, for the thread that makes the claim. */
void nattshim_mark(int fd, enum natt_fd_mark how);
/* Drops one holder of entry; the last one retires it. Async-signal-safe. */
void nattshim_release(struct natt_entry *entry);
/* Calls fn(fd, entry) for every fd that holds an entry (natt's own fds and notes excluded; a socket the
 * manager is looking at is waited for). */
void nattshim_each_tracked(void (*fn)(int fd, struct natt_entry *entry, void *ctx), void *ctx);
/* Whether any fd in [first, last] is tracked (cheap for sparse tables). */
bool nattshim_any_tracked(unsigned first, unsigned last);
/* One round of a short wait for another thread of natt's or the program's: the first 64 rounds
 * yield, later ones sleep 100 µs; false once limit_ms have passed since the first sleep (*deadline_ms
 * starts at 0). Neither a cancellation point nor a change of errno; async-signal-safe. */
bool nattshim_wait_a_moment(unsigned round, int64_t *deadline_ms, int limit_ms);
/* Around natt's making of an fd of its own (from the system call that gives the number to its mark)
 * and around the program's close of a range of fds (from its look at the table to its last close):
 * neither runs while the other is under way (bounded waits). The fork child takes its own counts. */
void nattshim_own_opening(void);
void nattshim_own_opened(void);
void nattshim_range_close_begin(void);
void nattshim_range_close_end(void);
void nattshim_keep_out_after_fork(void);

/* Set in a forked child that holds published sockets of its parent: the child takes them over once
 * the parent is gone (adopt.c). Checked by close() first: a load and a compare. */
extern atomic_bool nattshim_inherited;
void nattshim_check_adoption(void);
void nattshim_after_fork_child(void);
/* In a forked child, once fork() (or daemon()) has returned: starts watching the owners noted. */
void nattshim_watch_owners(void);
/* The variables the constructor reads, found in one pass over the environment (getenv() would make
 * one pass per name, in every process of a wrapped tree): values, or NULL. */
struct nattshim_start_env {
	const char *ephemeral, *inherited, *listen_fds, *listen_pid;
};
/* Publishes the listening sockets a process starts with (exec, inetd, socket activation). */
void nattshim_adopt_at_start(const struct nattshim_start_env *env);
/* Before exec: retires what exec will close; if exec fails, publishes it again. */
void nattshim_before_exec(void);
/* Set by nattshim_before_exec: published sockets survive this exec. */
extern bool nattshim_exec_passes_sockets;
void nattshim_after_failed_exec(void);
/* Before posix_spawn: the child keeps what is not CLOEXEC (sets nattshim_exec_passes_sockets). */
void nattshim_before_spawn(void);
/* Before _exit(): the same clean-up as exit(). */
void nattshim_before_exit(void);
/* Time the manager gets at exit to delete the mappings; a router that does not answer at all costs
 * this once, after which the leases expire on their own. */
#define NATTSHIM_EXIT_CLEANUP_MS 3000

/* ---- publishing (publish.c) */
enum nattshim_event { NATTSHIM_AFTER_BIND, NATTSHIM_AFTER_LISTEN };
/* NATT_UDP_EPHEMERAL=1: UDP sockets bound to port 0 are published too (bind.c). */
extern bool nattshim_publish_ephemeral_udp;
/* Publishes the socket at fd if it is one to publish: loading the engine first if need be. */
void nattshim_consider(int fd, enum nattshim_event event);
/* The same from bind() and listen(): never waits for the engine to load (the publish waits). */
void nattshim_consider_soon(int fd, enum nattshim_event event);
/* After a bind() of fd to bound_to (an IP address with its port set; NULL: port 0), as the one above. */
void nattshim_consider_bound(int fd, const struct sockaddr *bound_to);
/* A publish the engine cannot take yet: it is loading in the background, or was not loaded and a
 * signal handler cannot load it. Done once it is loaded, or at the next publish outside a handler
 * (engine_link.c). socket_id: the socket's inode, or 0 for a listen() (checked to listen still). False
 * when it is not kept: no room left, or the engine came meanwhile (the caller publishes now). The fd is
 * noted NATTSHIM_IP_BOUND before. */
bool nattshim_defer(int fd, enum nattshim_event event, uint64_t socket_id);
/* The publish of a socket kept by nattshim_defer, once the engine is there. */
void nattshim_publish_kept(int fd, enum nattshim_event event, uint64_t socket_id);
/* After a successful bind(): notes an IP socket (NATTSHIM_IP_BOUND) for a listen() to come. */
void nattshim_note_bound(int fd, const struct sockaddr *addr, socklen_t len);
/* listen() on a noted socket: publishes it with no system call (the manager looks at it); false when
 * the slow way must decide (nattshim_consider). */
bool nattshim_listen_quickly(int fd);
/* natt_engine_examine_hook; and in a forked child, the inherited entries not yet looked at. */
bool nattshim_examine(struct natt_entry *entry);
void nattshim_examine_inherited(void);

/* ---- signals (signal.c) */
void nattshim_take_termination_signals(void);
void nattshim_signals_after_fork(void);
/* Whether this thread is inside a signal handler of the program's: then natt starts no thread and
 * takes no lock (what bind() or listen() there would need waits for the next call outside). */
bool nattshim_in_signal_handler(void);

#endif
