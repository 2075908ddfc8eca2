/* _exit() and _Exit() skip atexit handlers and destructors; a server ending that way would leave its
 * mappings behind until their lease ends. Both get the clean-up exit() gets. */
#include <stdlib.h>
#include <unistd.h>

#include "shim.h"

NATT_EXPORT void _exit(int status)
{
	nattshim_before_exit();
	libc__exit(status);
}

NATT_EXPORT void _Exit(int status)
{
	nattshim_before_exit();
	libc__Exit(status);
}
