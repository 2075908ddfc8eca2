/* connect(): a UDP socket that connects to one peer is a client's; a published one is retired (its
 * mapping deleted), whatever NATT_UDP_EPHEMERAL says. A socket the table does not know when the call
 * begins costs a look at the table, and the call is passed on as the hook's last act. */
#include <errno.h>

#include "shim.h"

static void nattshim_connected(int fd, const struct sockaddr *addr)
{
	int saved_errno = errno;
	struct natt_entry *entry = nattshim_tracked(fd);
	if (entry == NATTSHIM_IP_BOUND) {
		/* (Its publish may wait for the engine's load: it comes first. One made meanwhile by
		 * another thread looks at the socket again once placed, and takes itself back.) */
		nattshim_engine_settle();
		entry = nattshim_settled(fd);
	}
	/* AF_UNSPEC dissolves the association: the socket is what it was. */
	if (nattshim_is_entry(entry) && entry->protocol == NATT_UDP && addr && addr->sa_family != AF_UNSPEC &&
	    !nattshim_in_vfork_child()) {
		natt_internal_depth++;
		nattshim_release(nattshim_fd_exchange(fd, NULL));
		natt_internal_depth--;
	}
	errno = saved_errno;
}

__attribute__((noinline)) static int connect_tracked(int fd, const struct sockaddr *addr, socklen_t len)
{
	int rc = libc_connect(fd, addr, len);
	if (rc == 0 && !natt_internal_depth)
		nattshim_connected(fd, addr);
	return rc;
}

NATT_EXPORT NATTSHIM_HOT_TEXT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	if (__builtin_expect(nattshim_tracked(fd) == NULL, 1))
		return libc_connect(fd, addr, len);
	return connect_tracked(fd, addr, len);
}
