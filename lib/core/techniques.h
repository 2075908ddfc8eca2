/* The techniques (UPnP IGD, NAT-PMP, PCP): one exchange with the gateway each, in the manager thread,
 * holding the gateway lock (router.c takes it). */
#ifndef NATT_CORE_TECHNIQUES_H
#define NATT_CORE_TECHNIQUES_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "natt/common.h"

struct natt_entry;

/* Maps (or renews) e through technique and fills in its mapping. 0; NATT_ERR_NO_IGD,
 * NATT_ERR_UNSUPPORTED or NATT_ERR_NO_GATEWAY when the technique is not there (try the next one);
 * -ENOTSUP for a technique that is none; another negative code when the router refused (why says why,
 * in words). */
int natt_technique_map(enum natt_technique technique, struct natt_entry *e, char *why, size_t len);

/* When order (most preferred first) starts with techniques not known to be there, asks them of the
 * gateway at once (core/discovery.h) and sorts order: those that answered or are known there first,
 * then those not heard from, then those not there, each group in the order of preference. */
void natt_techniques_discover(enum natt_technique *order, size_t count);

/* Deletes e's mapping through the technique that made it (over UPnP only while the router still names
 * this host and port). 0, NATT_ERR_NOT_FOUND (nothing there) or another negative code. */
int natt_technique_delete(struct natt_entry *e);

/* The cheap check for routers whose announcements were missed: one external-address request per
 * technique for one published entry of each (NULL: none); what looks lost is made due. */
void natt_techniques_verify(const struct natt_entry *upnp, const struct natt_entry *natpmp);

/* Another gateway (or none): nothing known about the old one holds. */
void natt_techniques_gateway_changed(void);
/* The router's announcements: SSDP (a new LOCATION or BOOTID: the device restarted; byebye: it left)
 * and NAT-PMP/PCP (its epoch). */
void natt_techniques_igd_announced(const char *location, int bootid, bool byebye);
void natt_techniques_natpmp_announced(uint32_t epoch);
/* Whether an ssdp:alive with this LOCATION and BOOTID would change nothing: the IGD is open, and is it. */
bool natt_techniques_igd_is(const char *location, long bootid);
/* The external address UPnP gave is asked again at the next mapping. */
void natt_techniques_address_stale(void);

void natt_techniques_close(void);
void natt_techniques_after_fork_child(void);

#endif
