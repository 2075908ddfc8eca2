/* _exit() and _Exit() skip atexit handlers and destructors; a server ending that way would leave its
 * mappings behind until their lease ends. Both get the clean-up exit() gets; called from a signal
 * handler (where _exit() is the one way out a handler may take), an async-signal-safe form of it. */
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "shim.h"

typedef void (*exit_fn)(int) __attribute__((noreturn));

/* Resolved at load: dlsym() allocates, which an _exit() in a signal handler must not. */
static exit_fn real_exit, real_Exit;

__attribute__((constructor)) static void resolve_exits(void)
{
	real_exit = (exit_fn)dlsym(RTLD_NEXT, "_exit");
	real_Exit = (exit_fn)dlsym(RTLD_NEXT, "_Exit");
}

static void before_exit(void)
{
	if (nattshim_in_signal_handler()) {
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
	if (real_exit)
		real_exit(status);
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}

NATT_EXPORT void _Exit(int status)
{
	before_exit();
	if (real_Exit)
		real_Exit(status);
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}
