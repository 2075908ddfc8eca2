/* bind(): a UDP socket is published when bind() succeeds. */
#include <errno.h>

#include "shim.h"

static void nattshim_bind(int fd)
{
	int saved_errno = errno;
	natt_internal_depth++;
	nattshim_consider(fd, NATTSHIM_AFTER_BIND);
	natt_internal_depth--;
	errno = saved_errno;
}

NATT_EXPORT int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	int rc = libc_bind(fd, addr, len);
	if (rc == 0 && !natt_internal_depth)
		nattshim_bind(fd);
	return rc;
}
