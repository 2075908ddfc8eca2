/* fork(): the handlers the shim installs (or the engine itself, for a program using libnatt alone).
 * Around the fork the engine's locks are held, so the child gets them in a known state; in the child
 * each unit forgets what was the parent's: its thread, sockets, router knowledge and entries. The
 * inherited entries describe the parent's mappings: the child neither renews nor deletes them (its
 * copies of the sockets are tracked by the shim, which decides what to do with them). */
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#include "core/engine_internal.h"

#if defined(__SANITIZE_ADDRESS__)
/* AddressSanitizer's allocator (GCC 12's, and clang 16's) is not locked around fork(): a child forked
 * while the manager was inside malloc() inherits a held allocator lock and hangs at its first malloc.
 * glibc's malloc has no such problem; in AddressSanitizer builds the fork waits until the manager has
 * stopped between two pieces of work. */
static atomic_int fork_pause_asked;
static atomic_bool manager_paused;

void natt_fork_pause_point(void)
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
	natt_engine_wake();
	for (int waited_ms = 0; !atomic_load(&manager_paused) && natt_engine_running() && waited_ms < 10000; waited_ms++)
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
