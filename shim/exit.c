/* _exit() and _Exit() skip atexit handlers and destructors; a server ending that way would leave its
 * mappings behind until their lease ends. Both get the clean-up exit() gets; called from a signal
 * handler (where _exit() is the one way out a handler may take), an async-signal-safe form of it. */
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "shim.h"

static void before_exit(void)
{
	if (nattshim_in_signal_handler()) {
		nattshim_engine_exiting();
		natt_internal_depth++;
		natt_engine_shutdown_from_handler(NATTSHIM_EXIT_CLEANUP_MS);
		natt_internal_depth--;
	} else {
		nattshim_before_exit();
	}
}

NATT_EXPORT void _exit(int status)
{
	before_exit();
	libc__exit(status);
}

NATT_EXPORT void _Exit(int status)
{
	before_exit();
	libc__Exit(status);
}
