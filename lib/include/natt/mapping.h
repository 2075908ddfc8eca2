/* natt — the port mapping record shared by every technique. */
#ifndef NATT_MAPPING_H
#define NATT_MAPPING_H

#include <stdint.h>
#include <sys/socket.h>

#include "natt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A mapping made at a router: external_port on the router's external address forwards to
 * internal_port on internal_address. internal_address.ss_family is AF_UNSPEC where the technique does not
 * say (NAT-PMP maps to whichever host sent the request). lifetime is in seconds; 0 means permanent
 * (UPnP routers that only support permanent leases). */
struct natt_mapping {
	enum natt_protocol protocol;
	struct sockaddr_storage internal_address;
	uint16_t internal_port;
	uint16_t external_port;
	uint32_t lifetime;
};

#ifdef __cplusplus
}
#endif
#endif
