/* _exit() and _Exit() skip atexit handlers and destructors; a server ending that way would leave its
 * mappings behind until their lease ends. Both get the clean-up exit() gets. */
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "shim.h"

typedef void (*exit_fn)(int) __attribute__((noreturn));

static exit_fn real_exit_(const char *name)
{
	exit_fn fn = (exit_fn)dlsym(RTLD_NEXT, name);
	return fn;
}

NATT_EXPORT void _exit(int status)
{
	static exit_fn real;
	nattshim_before_exit();
	if (!real)
		real = real_exit_("_exit");
	if (real)
		real(status);
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}

NATT_EXPORT void _Exit(int status)
{
	static exit_fn real;
	nattshim_before_exit();
	if (!real)
		real = real_exit_("_Exit");
	if (real)
		real(status);
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}
