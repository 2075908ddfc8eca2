/* natt — publish sockets behind a NAT router (UPnP IGD, NAT-PMP), keep the mappings alive, and learn
 * your public address. Include this header and link with `pkg-config --libs natt`.
 *
 *   natt/listener.h    high level: publish a socket, get its assignments, callbacks on change
 *   natt/persistent.h  persistent mappings kept refreshed, with a callback on every new external port
 *   natt/natpmp.h      NAT-PMP (RFC 6886) calls
 *   natt/upnp.h        SSDP search, UPnP services and actions, generic action calls
 *   natt/net.h         gateway, interfaces, address classification
 *   natt/common.h      error codes, natt_strerror(), protocols and techniques */
#ifndef NATT_H
#define NATT_H

#include "natt/common.h"
#include "natt/listener.h"
#include "natt/mapping.h"
#include "natt/natpmp.h"
#include "natt/net.h"
#include "natt/persistent.h"
#include "natt/upnp.h"

#endif
