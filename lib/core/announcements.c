/* The router's own announcements, heard by the manager: SSDP NOTIFY (239.255.255.250:1900: the UPnP
 * device restarted, or says goodbye) and NAT-PMP/PCP announcements (224.0.0.1:5350: the router
 * restarted, or its external address changed). Only those from the gateway's address count; what they
 * mean for the mappings is the router work's (router.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>

#include "core/engine_internal.h"
#include "core/techniques.h"
#include "core/watch.h"
#include "util/log.h"

static struct {
	int ssdp_fd;   /* -1 when not open */
	int natpmp_fd;
} A = { .ssdp_fd = -1, .natpmp_fd = -1 };

void natt_announcements_open(void)
{
	struct in_addr any = { .s_addr = htonl(INADDR_ANY) };
	if (A.ssdp_fd < 0)
		A.ssdp_fd = natt_own_fd(natt_watch_open_ssdp(any));
	if (A.natpmp_fd < 0)
		A.natpmp_fd = natt_own_fd(natt_watch_open_natpmp(any));
	if (A.ssdp_fd < 0 || A.natpmp_fd < 0)
		natt_debug("router announcements: ssdp %s, nat-pmp %s", A.ssdp_fd < 0 ? "off" : "on",
		           A.natpmp_fd < 0 ? "off" : "on");
}

void natt_announcements_close(void)
{
	natt_close_own_fd(&A.ssdp_fd);
	natt_close_own_fd(&A.natpmp_fd);
}

static bool from_gateway(struct in_addr from)
{
	const struct in_addr *gateway = natt_router_gateway();
	return gateway && from.s_addr == gateway->s_addr;
}

/* A read error ends the batch (an ICMP error on a UDP socket is one: the next datagram comes through
 * poll again). A descriptor that is no longer open (a program closed every descriptor, natt's too:
 * libnatt has no hook to keep them) is forgotten, never closed: its number may be the program's now. */
static void watcher_failed(int *fd, int rc)
{
	if (rc == -EBADF) {
		natt_debug("a router announcement socket was closed under natt: no longer listening on it");
		*fd = -1;
	}
}

static void on_ssdp_datagrams(void)
{
	struct natt_ssdp_reply reply;
	struct in_addr from;
	int kind, rc;
	while ((rc = natt_watch_read_ssdp(A.ssdp_fd, &from, &reply, &kind)) != -EAGAIN) {
		if (rc < 0) {
			watcher_failed(&A.ssdp_fd, rc);
			break;
		}
		if (rc == 0 || !from_gateway(from))
			continue;
		natt_techniques_igd_announced(reply.location, reply.bootid, kind == NATT_SSDP_BYEBYE);
	}
}

static void on_natpmp_announcements(void)
{
	struct in_addr from, external;
	uint32_t epoch;
	int rc;
	while ((rc = natt_watch_read_natpmp(A.natpmp_fd, &from, &epoch, &external)) != -EAGAIN) {
		if (rc < 0) {
			watcher_failed(&A.natpmp_fd, rc);
			break;
		}
		if (rc == 0 || !from_gateway(from))
			continue;
		natt_router_natpmp_announced(epoch, external);
	}
}

void natt_announcements_pollfds(struct pollfd fds[2])
{
	fds[0] = (struct pollfd){ .fd = A.ssdp_fd, .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = A.natpmp_fd, .events = POLLIN };
}

void natt_announcements_handle(const struct pollfd fds[2])
{
	if (fds[0].revents)
		on_ssdp_datagrams();
	if (fds[1].revents)
		on_natpmp_announcements();
}

bool natt_announcements_fd_moved(int from, int to)
{
	int *fds[] = { &A.ssdp_fd, &A.natpmp_fd };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] == from) {
			*fds[i] = to;
			return true;
		}
	}
	return false;
}

void natt_announcements_after_fork_child(bool manager_was_running)
{
	/* Shared with the parent's manager: ours to close, never to use. */
	if (manager_was_running) {
		natt_close_own_fd(&A.ssdp_fd);
		natt_close_own_fd(&A.natpmp_fd);
	}
	A.ssdp_fd = A.natpmp_fd = -1;
}
