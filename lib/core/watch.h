/* Listening for what routers announce: SSDP NOTIFY (239.255.255.250:1900: ssdp:alive with a new
 * BOOTID or LOCATION after a restart, ssdp:byebye at shutdown) and NAT-PMP's address announcements
 * (224.0.0.1:5350, sent at start-up and when the external address changes). The manager polls these
 * sockets next to its wake-up fd; both are optional (a failure to open one only costs latency). */
#ifndef NATT_WATCH_H
#define NATT_WATCH_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "natt/upnp.h"

/* Open a non-blocking, CLOEXEC UDP socket bound to the group's port (shared with other listeners on
 * the host through SO_REUSEADDR) and joined to the group on the interface with address iface
 * (INADDR_ANY: the kernel's choice). Return the fd or -errno. */
int natt_watch_open_ssdp(struct in_addr iface);
int natt_watch_open_natpmp(struct in_addr iface);

/* Lets only datagrams from source (IPv4) reach fd, by a kernel socket filter: the others never wake a
 * poll() on it. NULL removes the filter. 0 or -errno. */
int natt_watch_only_from(int fd, const struct in_addr *source);

/* What a router's periodic NOTIFY repeats: the bytes before its NT and USN lines (next to each other)
 * and the bytes after them. Every header natt reads (LOCATION, NTS, BOOTID.UPNP.ORG) is in one or the
 * other, so a datagram with both, byte for byte, tells nothing the one they came from did not. */
/* (A kernel charges a filter's size to net.core.optmem_max: 20 KiB on older ones holds this.) */
#define NATT_SSDP_REPEAT_MAX 384
struct natt_ssdp_repeat {
	bool usable; /* false: the NOTIFY had no such shape (or was too long) */
	uint16_t head_len, tail_len;
	unsigned char head[NATT_SSDP_REPEAT_MAX], tail[NATT_SSDP_REPEAT_MAX];
};
void natt_ssdp_repeat_of(const char *datagram, size_t len, struct natt_ssdp_repeat *repeat);

/* As natt_watch_only_from(source), and drops the datagrams from source that repeat `repeat` as well.
 * 0 or -errno. */
int natt_watch_only_news(int fd, const struct in_addr *source, const struct natt_ssdp_repeat *repeat);

/* The parser of natt_watch_read_natpmp(): 1 with *epoch and *external (INADDR_ANY for PCP) from an
 * announcement of n bytes, 0 for anything else. */
int natt_watch_parse_natpmp(const unsigned char *buf, size_t n, uint32_t *epoch, struct in_addr *external);

#define NATT_NATPMP_SERVER_PORT 5351
#define NATT_WATCH_NATPMP_INTERVAL_MS 1000

/* Read one pending datagram. Return 1 when one was read and understood, 0 when one was read but is
 * not for us (ignored), -EAGAIN when none is pending. A PCP ANNOUNCE counts as a NAT-PMP announcement
 * whose external address is unknown (INADDR_ANY). A NAT-PMP/PCP announcement counts only from source
 * port 5351, and only one per NATT_WATCH_NATPMP_INTERVAL_MS of each format, NAT-PMP and PCP (the
 * others read and ignored). */
/* natt_watch_read_ssdp fills *repeat (when not NULL) for a NOTIFY that was understood. */
int natt_watch_read_ssdp(int fd, struct in_addr *from, struct natt_ssdp_reply *reply, int *kind,
                         struct natt_ssdp_repeat *repeat);
int natt_watch_read_natpmp(int fd, struct in_addr *from, uint32_t *epoch, struct in_addr *external);

#endif
