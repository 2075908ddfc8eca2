/* natt — publish sockets behind a NAT router (UPnP IGD, NAT-PMP, PCP), keep the mappings alive, and learn
 * your public address. Include this header and link with `pkg-config --libs natt`.
 *
 *   natt/listener.h    high level: publish a socket, get its assignments, callbacks on change
 *   natt/persistent.h  persistent mappings kept refreshed, with a callback on every new external
 *                      address and port, and when the mapping is lost or stopped
 *   natt/natpmp.h      NAT-PMP (RFC 6886) calls
 *   natt/pcp.h         PCP (RFC 6887): IPv4 mappings and IPv6 pinholes, its codec
 *   natt/igd.h         UPnP IGD port mappings: find the router's IGD, external address, map, unmap,
 *                      query and list the mappings
 *   natt/upnp.h        SSDP search, UPnP services and actions, generic action calls
 *   natt/net.h         gateway, interfaces, the best interface address, address classification
 *   natt/common.h      error codes, natt_strerror(), protocols and techniques */
#ifndef NATT_H
#define NATT_H

#include "natt/common.h"
#include "natt/igd.h"
#include "natt/listener.h"
#include "natt/mapping.h"
#include "natt/natpmp.h"
#include "natt/net.h"
#include "natt/pcp.h"
#include "natt/persistent.h"
#include "natt/upnp.h"

#endif
