/* What desc.c offers beyond natt/upnp.h. */
#ifndef NATT_UPNP_DESC_H
#define NATT_UPNP_DESC_H

#include <netinet/in.h>
#include <stddef.h>

#include "natt/upnp.h"

/* natt_upnp_scan searching at `dest` instead of the multicast group (NULL: the group). */
int natt_upnp_scan_to(const struct sockaddr_in *dest, const char *search_target, const struct in_addr *iface,
                      int timeout_ms, const char *stop_at_type, struct natt_upnp_service **services,
                      size_t *count);

#endif
