/* Load and exit of the preload library. Loading does nothing that costs: resolve the real functions
 * and register the fork handlers. No thread, file or socket exists until something is published. */
#include <pthread.h>

#include "shim.h"

/* Time the manager gets at exit to delete the mappings; a router that does not answer at all costs
 * this once, after which the leases expire on their own. */
#define EXIT_CLEANUP_MS 3000

static void prepare(void)
{
	natt_engine_atfork_prepare();
}

static void parent(void)
{
	natt_engine_atfork_parent();
}

static void child(void)
{
	natt_engine_atfork_child();
}

__attribute__((constructor)) static void nattshim_load(void)
{
	nattshim_resolve_libc();
	pthread_atfork(prepare, parent, child);
}

__attribute__((destructor)) static void nattshim_unload(void)
{
	if (natt_engine_running()) {
		natt_internal_depth++;
		natt_engine_shutdown(EXIT_CLEANUP_MS);
		natt_internal_depth--;
	}
}
