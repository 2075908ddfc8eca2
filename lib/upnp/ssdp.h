/* What ssdp.c offers beyond natt/upnp.h. */
#ifndef NATT_UPNP_SSDP_H
#define NATT_UPNP_SSDP_H

#include <netinet/in.h>

#include "natt/upnp.h"

/* natt_ssdp_search with another destination than 239.255.255.250:1900 (the unit tests use a
 * responder on loopback). */
int natt_ssdp_search_to(const struct sockaddr_in *dest, const char *search_target, const struct in_addr *iface,
                        int timeout_ms, int (*on_reply)(const struct natt_ssdp_reply *reply, void *ctx),
                        void *ctx);

#endif
