/* The engine as the preload library (shim/) sees it: publishing at bind()/listen(), fork and exec,
 * signals and exit, and the fds natt keeps for itself; the watcher outside a process (lib/outside/)
 * publishes through it too. The library API (lib/api/) uses engine.h only. */
#ifndef NATT_ENGINE_SHIM_H
#define NATT_ENGINE_SHIM_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "core/engine.h"

/* Creates an entry (state pending) and hands it to the manager, starting the manager thread if
 * needed. Never blocks on the network. Returns NULL on allocation failure. */
struct natt_entry *natt_engine_publish(enum natt_protocol protocol, const struct sockaddr_storage *local,
                                       bool dual_stack, uint64_t socket_id, natt_change_fn on_change, void *ctx,
                                       struct natt_listener *listener);

/* Publishes the TCP socket at fd, on which listen() just succeeded, without a system call: the
 * manager looks at the socket itself (natt_engine_examine_hook). ready(entry, ctx) runs before the
 * manager can see the entry (the shim puts it in its fd table there). NULL on allocation failure. */
struct natt_entry *natt_engine_publish_unexamined(int fd, void (*ready)(struct natt_entry *entry, void *ctx),
                                                  void *ctx);
/* Set by the shim, run by the manager thread: fills an unexamined entry in from a fd that holds its
 * socket (and keeps that fd from being closed meanwhile). False when the socket is not one to publish
 * (not IP, loopback, a port left out) or no fd holds it any more. */
extern bool (*natt_engine_examine_hook)(struct natt_entry *entry);

/* Async-signal-safe: asks the manager to delete every mapping, then call after_cleanup(sig) from the
 * manager thread (which re-raises the signal). */
void natt_engine_request_signal_exit(int sig, void (*after_cleanup)(int sig));

/* natt_engine_shutdown() from a signal handler (an _exit() there): async-signal-safe, no lock, no join;
 * waits at most timeout_ms for the manager to delete the mappings, polling with nanosleep(). */
void natt_engine_shutdown_from_handler(int timeout_ms);

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
 * the number is natt's; after it, possibly the program's again); OPENING and OPENED (fd -1): around
 * the making of an fd of natt's, from before the system call that makes it to its mark, which no
 * close_range() or closefrom() of the program's overlaps. */
enum natt_fd_mark {
	NATT_FD_MARK,
	NATT_FD_CLAIM,
	NATT_FD_CONFIRM,
	NATT_FD_DISOWN,
	NATT_FD_CLOSING,
	NATT_FD_CLOSED,
	NATT_FD_OPENING,
	NATT_FD_OPENED
};
extern void (*natt_engine_fd_hook)(int fd, enum natt_fd_mark mark);
/* Set by the shim: whether the calling thread is inside a signal handler of the program's; publishing
 * there starts no thread (natt_engine_start_if_wanted does, later). */
extern bool (*natt_engine_in_signal_handler)(void);
/* Starts the manager if a publish in a signal handler could not (nothing when called in one). */
void natt_engine_start_if_wanted(void);

/* A thread of natt's offers itself as the manager (the preload library's loader, which has just
 * loaded the engine and publishes what waited for it): a manager started by this thread is this
 * thread, rather than one more made for it, saving the program's first publish a thread's start and
 * its wake-up. The thread must be joinable, have every signal blocked and a stack of
 * NATT_MANAGER_STACK_BYTES of its own (not from glibc's cache: see natt_manager_set_stack). It then
 * calls natt_engine_manage_here(), which runs the manager's loop if the offer was taken (returning
 * when the manager ends; the thread is then joined as the manager) and returns false otherwise (the
 * thread is not the engine's: it detaches itself). */
void natt_engine_offer_thread(void);
bool natt_engine_manage_here(void);
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define NATT_MANAGER_STACK_BYTES (4 * 1024 * 1024) /* the sanitizers' runtimes want far more */
#else
#define NATT_MANAGER_STACK_BYTES (256 * 1024)
#endif
#define NATT_STACK_GUARD_BYTES 4096

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

#endif
