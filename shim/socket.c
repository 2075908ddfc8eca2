/* socket(): the sockets natt's manager opens for its own exchanges (miniupnpc, libnatpmp, SSDP) are
 * marked as natt's, so a program closing every descriptor in another thread cannot pull them away
 * mid-exchange. For the program's own calls this is one thread-local test. Only the manager thread's
 * count: a signal handler that interrupted a hook makes the program's sockets, not natt's. */
#include <errno.h>
#include <netinet/in.h>

#include "shim.h"

/* Whether fd still is the socket socket() just made: a program closing every descriptor may have
 * closed it before the mark, and the number may be one of its own sockets already. A new socket is
 * of the domain and type asked for, and bound to nothing yet. */
static bool still_fresh(int fd, int domain, int type)
{
	int got_domain = -1, got_type = -1;
	socklen_t len = sizeof(got_domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &got_domain, &len) < 0 || got_domain != domain)
		return false;
	len = sizeof(got_type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &got_type, &len) < 0 ||
	    got_type != (type & ~(SOCK_CLOEXEC | SOCK_NONBLOCK)))
		return false;
	if (domain != AF_INET && domain != AF_INET6)
		return true;
	struct sockaddr_in6 local; /* the larger of the two; the port is at the same place in both */
	len = sizeof(local);
	return getsockname(fd, (struct sockaddr *)&local, &len) == 0 && local.sin6_port == 0;
}

__attribute__((noinline)) static int nattshim_manager_socket(int domain, int type, int protocol)
{
	/* miniupnpc opens its sockets without SOCK_CLOEXEC: a program that forks and execs while the
	 * manager talks to the router must not pass them on. */
	type |= SOCK_CLOEXEC;
	for (int attempt = 0; attempt < 3; attempt++) {
		nattshim_own_opening();
		int fd = libc_socket(domain, type, protocol);
		if (fd < 0) {
			int saved_errno = errno;
			nattshim_own_opened();
			errno = saved_errno;
			return fd;
		}
		nattshim_mark(fd, NATT_FD_CLAIM);
		/* (not fresh: the program's now, left alone) */
		bool fresh = still_fresh(fd, domain, type);
		nattshim_mark(fd, fresh ? NATT_FD_CONFIRM : NATT_FD_DISOWN);
		nattshim_own_opened();
		if (fresh)
			return fd;
	}
	errno = EMFILE;
	return -1;
}

NATT_EXPORT NATTSHIM_HOT_TEXT int socket(int domain, int type, int protocol)
{
	if (__builtin_expect(natt_manager_thread, 0))
		return nattshim_manager_socket(domain, type, protocol);
	return libc_socket(domain, type, protocol);
}
