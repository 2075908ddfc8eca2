/* listen(): a TCP socket is published when listen() succeeds (with or without an earlier bind()). */
#include <errno.h>

#include "shim.h"

static void nattshim_listen(int fd)
{
	int saved_errno = errno;
	natt_internal_depth++;
	if (!nattshim_listen_quickly(fd))
		nattshim_consider_soon(fd, NATTSHIM_AFTER_LISTEN);
	natt_internal_depth--;
	errno = saved_errno;
}

NATT_EXPORT int listen(int fd, int backlog)
{
	int rc = libc_listen(fd, backlog);
	if (rc == 0 && !natt_internal_depth)
		nattshim_listen(fd);
	return rc;
}
