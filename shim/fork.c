/* fork() and daemon(): in the child, once the call has returned, natt starts watching the owners of
 * the published sockets it inherited (see nattshim_watch_owners). glibc's daemon() forks with its
 * internal fork, which no hook sees: hooked itself. Both first wait for a load of the engine under way
 * in another thread: a child must not get half of it. */
#include <errno.h>
#include <unistd.h>

#include "shim.h"

NATT_EXPORT pid_t fork(void)
{
	nattshim_engine_settle();
	pid_t pid = libc_fork();
	if (pid == 0) {
		nattshim_pid_after_fork(); /* (the fork handlers do it too, once there are any) */
		nattshim_keep_out_after_fork();
		nattshim_forget_deferred();
	}
	if (pid == 0 && !nattshim_in_signal_handler()) /* else at the next adoption check */
		nattshim_watch_owners();
	return pid;
}

NATT_EXPORT int daemon(int nochdir, int noclose)
{
	nattshim_engine_settle();
	int rc = libc_daemon(nochdir, noclose);
	if (rc == 0) {
		nattshim_pid_after_fork();
		nattshim_keep_out_after_fork();
		nattshim_forget_deferred();
		nattshim_watch_owners();
	}
	return rc;
}
