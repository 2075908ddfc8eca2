/* Every technique asked at once: the SSDP search, a NAT-PMP external-address request and a PCP
 * ANNOUNCE leave together, and the wait ends as soon as the most preferred technique still possible
 * has answered. */
#ifndef NATT_CORE_DISCOVERY_H
#define NATT_CORE_DISCOVERY_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "natt/common.h"

enum natt_discovery_answer {
	NATT_DISCOVERY_SILENT = 0,    /* nothing came (yet) */
	NATT_DISCOVERY_ANSWERED = 1,  /* the router speaks it */
	NATT_DISCOVERY_ABSENT = -1,   /* ICMP port unreachable, "unsupported version", or it could not be sent */
};

struct natt_discovery {
	/* In: the techniques to ask, most preferred first; whether a technique less preferred than all of
	 * them is known to be there (the grace for these starts at once). */
	enum natt_technique order[NATT_TECH_COUNT];
	size_t count;
	bool fallback_known;
	/* Out, indexed by technique. */
	enum natt_discovery_answer answer[NATT_TECH_COUNT];
	int64_t answered_after_ms[NATT_TECH_COUNT];
	bool timed_out;           /* the whole timeout passed: the silent ones did not answer in it */
	char igd_location[512];   /* UPnP: the gateway's description URL, and its BOOTID (-1: none) */
	long igd_bootid;
	uint32_t natpmp_epoch;    /* NAT-PMP, when it answered with an address */
	struct in_addr natpmp_external;
	bool natpmp_has_address;
	uint32_t pcp_epoch;
};

/* Asks d->order's techniques of the gateway at once and waits until the first of them in order that
 * is not absent has answered; after any first answer (or at once with fallback_known), preferred ones
 * still silent get a grace of max(NATT_DISCOVERY_GRACE_MIN_MS, twice the first answer's time);
 * never longer than timeout_ms. Fills d's out fields. */
/* (An SSDP answer comes after the router's deliberate delay: 50 ms from miniupnpd.) */
#define NATT_DISCOVERY_GRACE_MIN_MS 100
void natt_discovery_run(const struct in_addr *gateway, int timeout_ms, struct natt_discovery *d);

#endif
