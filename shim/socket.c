/* socket(): the sockets natt's manager opens for its own exchanges (miniupnpc, libnatpmp, SSDP) are
 * marked as natt's, so a program closing every descriptor in another thread cannot pull them away
 * mid-exchange. For the program's own calls this is one thread-local test. Only the manager thread's
 * count: a signal handler that interrupted a hook makes the program's sockets, not natt's. */
#include "shim.h"

NATT_EXPORT int socket(int domain, int type, int protocol)
{
	int fd = libc_socket(domain, type, protocol);
	if (__builtin_expect(natt_manager_thread, 0) && fd >= 0)
		nattshim_release(nattshim_fd_exchange(fd, NATTSHIM_OURS));
	return fd;
}
