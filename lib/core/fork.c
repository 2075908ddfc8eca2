/* fork(): the handlers the shim installs (or the engine itself, for a program using libnatt alone).
 * Around the fork the engine's locks are held, so the child gets them in a known state; in the child
 * each unit forgets what was the parent's: its thread, sockets, router knowledge and entries. The
 * inherited entries describe the parent's mappings: the child neither renews nor deletes them (its
 * copies of the sockets are tracked by the shim, which decides what to do with them). */
#include <stdatomic.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <unistd.h>

#include "core/engine_internal.h"

#if defined(__SANITIZE_ADDRESS__)
/* AddressSanitizer's allocator (GCC 12's, and clang 16's) is not locked around fork(): a child forked
 * while the manager was inside malloc() inherits a held allocator lock and hangs at its first malloc.
 * glibc's malloc has no such problem; in AddressSanitizer builds the fork waits until the manager has
 * stopped between two pieces of work, and until no other thread is allocating an entry. */
static atomic_int fork_pause_asked;
static atomic_bool manager_paused;

void natt_fork_pause_point(void)
{
	/* The question is asked again after "paused" is cleared: a fork that came meanwhile and saw it
	 * still set from the last one finds the manager staying put. */
	while (atomic_load(&fork_pause_asked)) {
		atomic_store(&manager_paused, true);
		while (atomic_load(&fork_pause_asked))
			usleep(200);
		atomic_store(&manager_paused, false);
	}
}

/* Entries are malloc()ed in AddressSanitizer builds, by the program's threads too (a listen()): the
 * fork waits for allocations under way, and new ones wait for the fork. Signals are blocked meanwhile:
 * a handler's hook in between could wait for a fork that waits for the thread it interrupted. */
static atomic_int allocating;
static atomic_int forking;
static __thread bool forking_here;
static __thread sigset_t mask_before_alloc;

void natt_fork_alloc_enter(void)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &mask_before_alloc);
	for (;;) {
		/* (The forking thread itself, from a handler of its own: the fork waits for it.) */
		while (atomic_load(&forking) && !forking_here)
			usleep(100);
		atomic_fetch_add(&allocating, 1);
		if (!atomic_load(&forking) || forking_here)
			return;
		atomic_fetch_sub(&allocating, 1);
	}
}

void natt_fork_alloc_leave(void)
{
	atomic_fetch_sub(&allocating, 1);
	pthread_sigmask(SIG_SETMASK, &mask_before_alloc, NULL);
}

/* After the engine's locks: a thread allocating holds none of them. */
static void wait_allocations_for_fork(void)
{
	forking_here = true;
	atomic_fetch_add(&forking, 1);
	while (atomic_load(&allocating))
		sched_yield();
}

static void pause_manager_for_fork(void)
{
	if (!natt_engine_running_here() || natt_manager_thread)
		return;
	atomic_fetch_add(&fork_pause_asked, 1);
	natt_engine_wake();
	for (int waited_ms = 0; !atomic_load(&manager_paused) && natt_engine_running() && waited_ms < 10000; waited_ms++)
		usleep(1000); /* the manager may be in the middle of an exchange: bounded */
}

static void resume_manager_after_fork(bool child)
{
	forking_here = false;
	if (child) {
		atomic_store(&forking, 0);
		atomic_store(&allocating, 0);
		atomic_store(&fork_pause_asked, 0);
		atomic_store(&manager_paused, false);
	} else {
		atomic_fetch_sub(&forking, 1);
		if (atomic_load(&fork_pause_asked) > 0)
			atomic_fetch_sub(&fork_pause_asked, 1);
	}
}
#else
void natt_fork_alloc_enter(void)
{
}
void natt_fork_alloc_leave(void)
{
}
static void wait_allocations_for_fork(void)
{
}
void natt_fork_pause_point(void)
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
	natt_engine_lock_for_fork();
	wait_allocations_for_fork();
}

void natt_engine_atfork_parent(void)
{
	resume_manager_after_fork(false);
	natt_engine_unlock_after_fork();
}

void natt_engine_atfork_child(void)
{
	resume_manager_after_fork(true);
	bool manager_was_running = natt_engine_running();
	natt_engine_after_fork_child(); /* first: this process's pid, and locks the others may take */
	natt_announcements_after_fork_child(manager_was_running);
	natt_router_after_fork_child();
	natt_pidwatch_after_fork_child();
	natt_manager_after_fork_child();
	for (size_t i = 0; i < natt_observer_count; i++)
		if (natt_observers[i]->after_fork_child)
			natt_observers[i]->after_fork_child();
}
