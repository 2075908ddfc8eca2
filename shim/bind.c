/* bind(): a UDP socket is published when bind() succeeds, if it is a server's: one bound to a port the
 * program chose. Bound to port 0 (the kernel picks one) it is a client's, as most UDP sockets of
 * clients are, and is published only with NATT_UDP_EPHEMERAL=1 (read once, at load). */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "shim.h"

bool nattshim_publish_ephemeral_udp NATTSHIM_HOT_DATA;

static void nattshim_bind(int fd, const struct sockaddr *bound_to)
{
	int saved_errno = errno;
	natt_internal_depth++;
	nattshim_consider_bound(fd, bound_to);
	natt_internal_depth--;
	errno = saved_errno;
}

/* The port the program asked for (0 also for what is not an IP address). */
static unsigned requested_port(const struct sockaddr *addr, socklen_t len)
{
	if (!addr)
		return 0;
	if (addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in))
		return ntohs(((const struct sockaddr_in *)addr)->sin_port);
	if (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6))
		return ntohs(((const struct sockaddr_in6 *)addr)->sin6_port);
	return 0;
}

NATT_EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	int rc = libc_bind(fd, addr, len);
	/* (TCP is looked at in listen(): a listening socket serves whichever way it got its port.) */
	if (rc == 0 && !natt_internal_depth) {
		bool port_given = requested_port(addr, len) != 0;
		if (nattshim_publish_ephemeral_udp || port_given)
			nattshim_bind(fd, port_given ? addr : NULL);
		nattshim_note_bound(fd, addr, len); /* for a listen() to come */
	}
	return rc;
}
