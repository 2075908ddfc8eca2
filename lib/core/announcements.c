/* The router's own announcements, heard by the manager: SSDP NOTIFY (239.255.255.250:1900: the UPnP
 * device restarted, or says goodbye) and NAT-PMP/PCP announcements (224.0.0.1:5350: the router
 * restarted, or its external address changed). Only those from the gateway's address count; what they
 * mean for the mappings is the router work's (router.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "core/engine_internal.h"
#include "core/techniques.h"
#include "core/watch.h"
#include "util/log.h"

static struct {
	int ssdp_fd;   /* -1 when not open */
	int natpmp_fd;
	bool filtered;             /* the sockets' filters let only `filtered_from` through */
	struct in_addr filtered_from;
	/* The SSDP filter drops the router's periodic repeats of an announcement of the IGD natt has
	 * open (a burst of a dozen NOTIFYs, twice, every 30 s or so for miniupnpd): while it stays so. */
	bool repeats_dropped;
	bool repeats_refused; /* the kernel took no such filter for this announcement: not asked again */
	char repeated_location[sizeof(((struct natt_ssdp_reply *)0)->location)];
	long repeated_bootid;
} A = { .ssdp_fd = -1, .natpmp_fd = -1 };

void natt_announcements_open(void)
{
	struct in_addr any = { .s_addr = htonl(INADDR_ANY) };
	if (A.ssdp_fd < 0 || A.natpmp_fd < 0)
		A.filtered = A.repeats_dropped = A.repeats_refused = false; /* a new socket has no filter yet */
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

/* From the first announcement that changed nothing, its repeats are dropped in the kernel: a repeat
 * holds the same LOCATION, BOOTID and NTS, byte for byte, so it could change nothing either. */
static void drop_repeats_of(const struct natt_ssdp_repeat *repeat, const struct natt_ssdp_reply *reply)
{
	if (!A.filtered)
		return;
	if (natt_watch_only_news(A.ssdp_fd, &A.filtered_from, repeat) == 0)
		A.repeats_dropped = true;
	else
		A.repeats_refused = true;
	snprintf(A.repeated_location, sizeof(A.repeated_location), "%s", reply->location);
	A.repeated_bootid = reply->bootid;
}

/* Once an announcement like those dropped could matter again (the IGD closed or changed), every one
 * from the gateway wakes the manager again. */
static void keep_repeats_if_they_matter(void)
{
	if ((!A.repeats_dropped && !A.repeats_refused) || natt_techniques_igd_is(A.repeated_location, A.repeated_bootid))
		return;
	A.repeats_refused = false;
	if (!A.repeats_dropped)
		return;
	A.repeats_dropped = false;
	if (A.ssdp_fd >= 0 && natt_watch_only_from(A.ssdp_fd, &A.filtered_from) < 0) {
		natt_watch_only_from(A.ssdp_fd, NULL);
		A.filtered = false;
	}
}

/* An alive of the gateway's IGD (its device or one of its WAN devices and services), not of another
 * device the router runs (a media server announces its own LOCATION, at its own times). The IGD's root
 * device and uuid alives say nothing that these do not. (Any byebye of the gateway's closes the IGD:
 * opened again, it costs a request.) */
static bool of_the_igd(const char *nt)
{
	return strstr(nt, ":device:InternetGatewayDevice:") || strstr(nt, ":device:WAN") || strstr(nt, ":service:WAN");
}

static void on_ssdp_datagrams(void)
{
	struct natt_ssdp_reply reply;
	struct natt_ssdp_repeat repeat;
	struct in_addr from;
	int kind, rc;
	while ((rc = natt_watch_read_ssdp(A.ssdp_fd, &from, &reply, &kind, &repeat)) != -EAGAIN) {
		if (rc < 0) {
			watcher_failed(&A.ssdp_fd, rc);
			break;
		}
		if (rc == 0 || !from_gateway(from))
			continue;
		if (kind == NATT_SSDP_BYEBYE || of_the_igd(reply.st))
			natt_techniques_igd_announced(reply.location, (int)reply.bootid, kind == NATT_SSDP_BYEBYE);
		/* (At once: a byebye read now lets the next alive through, even one like those dropped. One
		 * that came with it, before this read, was dropped already: the next burst tells.) */
		keep_repeats_if_they_matter();
		if (kind == NATT_SSDP_ALIVE && !A.repeats_dropped && !A.repeats_refused && repeat.usable &&
		    natt_techniques_igd_is(reply.location, reply.bootid))
			drop_repeats_of(&repeat, &reply);
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

/* Only the gateway's datagrams reach the sockets (a kernel filter, set again when the gateway
 * changes): other hosts' announcements and every LAN host's SSDP searches to port 1900 never wake the
 * manager. Without a gateway, nothing counts anyway: the filter stays as it was. */
static void follow_gateway(void)
{
	keep_repeats_if_they_matter();
	const struct in_addr *gateway = natt_router_gateway();
	if (!gateway || (A.filtered && A.filtered_from.s_addr == gateway->s_addr))
		return;
	bool all = true;
	if (A.ssdp_fd >= 0)
		all = natt_watch_only_from(A.ssdp_fd, gateway) == 0 && all;
	if (A.natpmp_fd >= 0)
		all = natt_watch_only_from(A.natpmp_fd, gateway) == 0 && all;
	A.repeats_dropped = A.repeats_refused = false;
	/* (A socket that refused a filter still works: from_gateway() judges what comes.) */
	if (!all)
		natt_debug("router announcements: no kernel filter; every datagram to the groups wakes natt");
	A.filtered = true;
	A.filtered_from = *gateway;
}

void natt_announcements_pollfds(struct pollfd fds[2])
{
	follow_gateway();
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
	return natt_own_fd_moved(&A.ssdp_fd, from, to) || natt_own_fd_moved(&A.natpmp_fd, from, to);
}

void natt_announcements_after_fork_child(bool manager_was_running)
{
	/* Shared with the parent's manager: ours to close, never to use. */
	if (manager_was_running) {
		natt_close_own_fd(&A.ssdp_fd);
		natt_close_own_fd(&A.natpmp_fd);
	}
	A.ssdp_fd = A.natpmp_fd = -1;
	A.filtered = A.repeats_dropped = A.repeats_refused = false;
}
