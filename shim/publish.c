/* Deciding whether a socket is one to publish, after bind() or listen() succeeded. */
#include <errno.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include "util/log.h"
#include "natt/net.h"
#include "shim.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

/* One getsockopt: SO_PROTOCOL tells TCP (or MPTCP) from UDP, which fixes the socket type too; and
 * SOCK_CLOEXEC/SOCK_NONBLOCK, which live on the fd, never get in the way. */
static bool socket_kind(int fd, enum nattshim_event event, enum natt_protocol *protocol)
{
	int proto = 0;
	socklen_t len = sizeof(proto);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) < 0)
		return false; /* not a socket */
	if (event == NATTSHIM_AFTER_LISTEN && (proto == IPPROTO_TCP || proto == IPPROTO_MPTCP)) {
		*protocol = NATT_TCP;
		return true;
	}
	if (event == NATTSHIM_AFTER_BIND && proto == IPPROTO_UDP) {
		*protocol = NATT_UDP;
		return true;
	}
	return false;
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

void nattshim_consider(int fd, enum nattshim_event event)
{
	natt_engine_start_if_wanted(); /* for what a signal handler published before */
	enum natt_protocol protocol;
	if (!socket_kind(fd, event, &protocol))
		return;
	/* The port comes from the kernel: bind(port 0) and listen() without bind() both get one there. */
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	if (getsockname(fd, (struct sockaddr *)&local, &len) < 0)
		return;
	if (local.ss_family != AF_INET && local.ss_family != AF_INET6)
		return;
	uint16_t port = port_of(&local);
	if (port == 0 || natt_addr_is_loopback((const struct sockaddr *)&local))
		return;
	const struct natt_config *cfg = natt_engine_config();
	if (!natt_port_set_contains(&cfg->ports, port))
		return;
	bool dual_stack = false;
	if (local.ss_family == AF_INET6 && natt_addr_is_wildcard((const struct sockaddr *)&local)) {
		int v6only = 1;
		len = sizeof(v6only);
		if (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len) == 0)
			dual_stack = v6only == 0;
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		return;

	struct natt_entry *known = nattshim_settled(fd);
	if (known == NATTSHIM_OURS)
		return;
	if (known && known->socket_id == (uint64_t)st.st_ino)
		return; /* listen() again on a published socket */

	struct natt_entry *entry =
	        natt_engine_publish(protocol, &local, dual_stack, (uint64_t)st.st_ino, NULL, NULL, NULL);
	if (!entry)
		return;
	atomic_store(&entry->holders, 1);
	/* A stale entry at this fd number belongs to a socket closed behind our back (a path we do not
	 * hook): it is gone from this fd, so this fd's hold on it ends. */
	nattshim_release(nattshim_fd_exchange(fd, entry));
}
