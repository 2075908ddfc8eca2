/* Load and exit of the preload library. Loading costs little: resolve the real functions, register
 * the fork handlers, and look for sockets the process was started with. No thread, file or socket of
 * natt's exists until something is published. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"


static void prepare(void)
{
	natt_engine_atfork_prepare();
}

static void parent(void)
{
	natt_engine_atfork_parent();
}

/* The manager's sockets of an exchange under way at the fork are copies the child has no use for. */
static void close_inherited_own_fds(void)
{
	for (unsigned index = 0; index < NATT_FD_CHUNKS; index++) {
		_Atomic(struct natt_entry *) *chunk = atomic_load(&natt_fd_chunks[index]);
		for (unsigned i = 0; chunk && i < NATT_FD_CHUNK; i++) {
			struct natt_entry *mark = atomic_load(&chunk[i]);
			if (mark == NATTSHIM_OURS) {
				atomic_store(&chunk[i], NULL);
				libc_close((int)(index * NATT_FD_CHUNK + i));
			} else if (mark == NATTSHIM_PENDING) {
				/* The parent's manager was checking it at the fork: it may be the program's.
				 * Left open (a CLOEXEC file of natt's at worst), never settled here. */
				atomic_store(&chunk[i], NULL);
			}
		}
	}
}

static void child(void)
{
	nattshim_signals_after_fork();
	natt_engine_atfork_child(); /* closes the manager's long-lived fds */
	close_inherited_own_fds();
	nattshim_examine_inherited();
	nattshim_after_fork_child();
}

__attribute__((constructor)) static void nattshim_load(void)
{
	nattshim_resolve_libc();
	const char *ephemeral = secure_getenv("NATT_UDP_EPHEMERAL");
	nattshim_publish_ephemeral_udp = ephemeral && strcmp(ephemeral, "1") == 0;
	natt_self_pid(); /* cached now, so a vfork child can tell itself from us */
	natt_engine_fd_hook = nattshim_mark;
	natt_engine_examine_hook = nattshim_examine;
	natt_engine_in_signal_handler = nattshim_in_signal_handler;
	natt_engine_started_hook = nattshim_take_termination_signals;
	natt_engine_fork_hooked = true; /* these handlers call the engine's: it registers none of its own */
	pthread_atfork(prepare, parent, child);
	natt_internal_depth++;
	nattshim_adopt_at_start();
	natt_internal_depth--;
}

void nattshim_before_exit(void)
{
	/* natt_engine_running_here() is false in a vfork child, which shares our memory but must not
	 * end our manager. */
	if (natt_engine_running_here()) {
		natt_internal_depth++;
		natt_engine_shutdown(NATTSHIM_EXIT_CLEANUP_MS);
		natt_internal_depth--;
	}
}

__attribute__((destructor)) static void nattshim_unload(void)
{
	nattshim_before_exit();
}
