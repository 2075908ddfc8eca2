#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <miniupnpc/upnpcommands.h>

#include "igd.h"
#include "log.h"
#include "natt/upnp.h"

static const char *const igd_types[] = {
	"urn:schemas-upnp-org:device:InternetGatewayDevice:1",
	"urn:schemas-upnp-org:device:InternetGatewayDevice:2",
};

struct first_answer {
	const struct in_addr *gateway;
	char location[512];
	long bootid;
};

static int take_gateway_answer(const struct natt_ssdp_reply *reply, void *ctx)
{
	struct first_answer *want = ctx;
	if (want->gateway && reply->from.sin_addr.s_addr != want->gateway->s_addr)
		return 0; /* another device on the LAN; only the gateway can map for us */
	if (!reply->location[0])
		return 0;
	snprintf(want->location, sizeof(want->location), "%s", reply->location);
	want->bootid = reply->bootid;
	return 1;
}

int natt_igd_discover(const struct in_addr *gateway, int timeout_ms, struct natt_igd *igd)
{
	struct first_answer want = { .gateway = gateway, .bootid = -1 };
	/* IGD:1 is answered by v1 and v2 devices alike (v2 must stay compatible), so one search type
	 * is enough and the first answer ends the wait. */
	int rc = natt_ssdp_search(igd_types[0], NULL, timeout_ms, take_gateway_answer, &want);
	if (rc < 0)
		return rc;
	if (!want.location[0])
		return NATT_ERR_NO_IGD;
	rc = natt_igd_open_url(want.location, igd);
	if (rc == 0)
		igd->bootid = want.bootid;
	return rc;
}

int natt_igd_open_url(const char *location, struct natt_igd *igd)
{
	memset(igd, 0, sizeof(*igd));
	igd->bootid = -1;
	if (!UPNP_GetIGDFromUrl(location, &igd->urls, &igd->data, igd->lan_address, sizeof(igd->lan_address))) {
		natt_debug("no IGD at %s", location);
		return NATT_ERR_NO_IGD;
	}
	if (!igd->urls.controlURL || !igd->urls.controlURL[0] || !igd->data.first.servicetype[0]) {
		FreeUPNPUrls(&igd->urls);
		return NATT_ERR_NO_IGD;
	}
	snprintf(igd->location, sizeof(igd->location), "%s", location);
	igd->v2 = strstr(igd->data.first.servicetype, "WANIPConnection:2") != NULL;
	igd->open = true;
	natt_debug("IGD at %s: %s, lan address %s", location, igd->data.first.servicetype, igd->lan_address);
	return 0;
}

void natt_igd_close(struct natt_igd *igd)
{
	if (igd->open)
		FreeUPNPUrls(&igd->urls);
	memset(igd, 0, sizeof(*igd));
	igd->bootid = -1;
}

static int from_upnp(int rc, int *upnp_code)
{
	if (upnp_code)
		*upnp_code = rc > 0 ? rc : 0;
	if (rc == UPNPCOMMAND_SUCCESS)
		return 0;
	if (rc > 0)
		return NATT_ERR_UPNP;
	if (rc == UPNPCOMMAND_HTTP_ERROR)
		return -ECONNREFUSED;
	if (rc == UPNPCOMMAND_MEM_ALLOC_ERROR)
		return -ENOMEM;
	if (rc == UPNPCOMMAND_INVALID_ARGS)
		return -EINVAL;
	/* UNKNOWN_ERROR covers an empty reply too, which is what a vanished server gives. */
	return rc == UPNPCOMMAND_UNKNOWN_ERROR ? -ECONNREFUSED : NATT_ERR_BAD_REPLY;
}

static const char *proto_name(enum natt_protocol protocol)
{
	return protocol == NATT_UDP ? "UDP" : "TCP"; /* upper case: some routers reject "tcp" */
}

int natt_igd_external_address(struct natt_igd *igd, struct in_addr *external, int *upnp_code)
{
	char text[40] = "";
	int rc = from_upnp(UPNP_GetExternalIPAddress(igd->urls.controlURL, igd->data.first.servicetype, text),
	                   upnp_code);
	if (rc < 0)
		return rc;
	struct in_addr addr;
	if (inet_pton(AF_INET, text, &addr) != 1)
		return NATT_ERR_BAD_REPLY;
	if (external)
		*external = addr;
	return 0;
}

int natt_igd_add(struct natt_igd *igd, enum natt_protocol protocol, uint16_t external_port,
                 const char *internal_client, uint16_t internal_port, uint32_t lease,
                 const char *description, bool any_port, uint16_t *granted, int *upnp_code)
{
	char ext[8], in[8], dur[16], reserved[8] = "";
	snprintf(ext, sizeof(ext), "%u", external_port);
	snprintf(in, sizeof(in), "%u", internal_port);
	snprintf(dur, sizeof(dur), "%u", lease);
	int rc;
	if (any_port && igd->v2) {
		rc = from_upnp(UPNP_AddAnyPortMapping(igd->urls.controlURL, igd->data.first.servicetype, ext, in,
		                                      internal_client, description, proto_name(protocol), NULL,
		                                      dur, reserved),
		               upnp_code);
		if (rc == 0) {
			char *end;
			unsigned long port = strtoul(reserved, &end, 10);
			if (end == reserved || *end || port == 0 || port > 65535)
				return NATT_ERR_BAD_REPLY;
			if (granted)
				*granted = (uint16_t)port;
		}
		return rc;
	}
	rc = from_upnp(UPNP_AddPortMapping(igd->urls.controlURL, igd->data.first.servicetype, ext, in,
	                                   internal_client, description, proto_name(protocol), NULL, dur),
	               upnp_code);
	if (rc == 0 && granted)
		*granted = external_port;
	return rc;
}

int natt_igd_delete(struct natt_igd *igd, enum natt_protocol protocol, uint16_t external_port, int *upnp_code)
{
	char ext[8];
	snprintf(ext, sizeof(ext), "%u", external_port);
	return from_upnp(UPNP_DeletePortMapping(igd->urls.controlURL, igd->data.first.servicetype, ext,
	                                        proto_name(protocol), NULL),
	                 upnp_code);
}

static int parse_port(const char *text, uint16_t *port)
{
	char *end;
	unsigned long value = strtoul(text, &end, 10);
	if (end == text || *end || value > 65535)
		return NATT_ERR_BAD_REPLY;
	*port = (uint16_t)value;
	return 0;
}

int natt_igd_get_entry(struct natt_igd *igd, enum natt_protocol protocol, uint16_t external_port,
                       struct natt_igd_entry *entry, int *upnp_code)
{
	char ext[8], client[64] = "", port[8] = "", desc[96] = "", enabled[8] = "", duration[16] = "";
	snprintf(ext, sizeof(ext), "%u", external_port);
	int rc = from_upnp(UPNP_GetSpecificPortMappingEntry(igd->urls.controlURL, igd->data.first.servicetype,
	                                                    ext, proto_name(protocol), NULL, client, port, desc,
	                                                    enabled, duration),
	                   upnp_code);
	if (rc == NATT_ERR_UPNP && upnp_code && (*upnp_code == NATT_UPNP_NO_SUCH_ENTRY || *upnp_code == 713))
		return NATT_ERR_NOT_FOUND;
	if (rc < 0)
		return rc;
	memset(entry, 0, sizeof(*entry));
	entry->protocol = protocol;
	entry->external_port = external_port;
	snprintf(entry->internal_client, sizeof(entry->internal_client), "%s", client);
	snprintf(entry->description, sizeof(entry->description), "%s", desc);
	entry->enabled = strcmp(enabled, "0") != 0;
	entry->lease = (uint32_t)strtoul(duration, NULL, 10);
	return parse_port(port, &entry->internal_port);
}

int natt_igd_get_entry_at(struct natt_igd *igd, unsigned index, struct natt_igd_entry *entry, int *upnp_code)
{
	char idx[16], ext[8] = "", client[64] = "", port[8] = "", proto[8] = "", desc[96] = "", enabled[8] = "",
	                  rhost[64] = "", duration[16] = "";
	snprintf(idx, sizeof(idx), "%u", index);
	int rc = from_upnp(UPNP_GetGenericPortMappingEntry(igd->urls.controlURL, igd->data.first.servicetype, idx,
	                                                   ext, client, port, proto, desc, enabled, rhost,
	                                                   duration),
	                   upnp_code);
	/* 713 SpecifiedArrayIndexInvalid ends the table; some routers say 714 or 402 instead. */
	if (rc == NATT_ERR_UPNP && upnp_code &&
	    (*upnp_code == 713 || *upnp_code == NATT_UPNP_NO_SUCH_ENTRY || *upnp_code == NATT_UPNP_INVALID_ARGS))
		return NATT_ERR_NOT_FOUND;
	if (rc < 0)
		return rc;
	memset(entry, 0, sizeof(*entry));
	entry->protocol = strcasecmp(proto, "UDP") == 0 ? NATT_UDP : NATT_TCP;
	snprintf(entry->internal_client, sizeof(entry->internal_client), "%s", client);
	snprintf(entry->description, sizeof(entry->description), "%s", desc);
	snprintf(entry->remote_host, sizeof(entry->remote_host), "%s", rhost);
	entry->enabled = strcmp(enabled, "0") != 0;
	entry->lease = (uint32_t)strtoul(duration, NULL, 10);
	if (parse_port(ext, &entry->external_port) < 0)
		return NATT_ERR_BAD_REPLY;
	return parse_port(port, &entry->internal_port);
}

const char *natt_upnp_error_text(int code)
{
	switch (code) {
	case 401: return "Invalid Action: the router does not offer this action";
	case 402: return "Invalid Args: the router rejected the arguments";
	case 501: return "Action Failed";
	case 606: return "Action not authorized: the router's policy refuses this mapping";
	case 713: return "SpecifiedArrayIndexInvalid";
	case 714: return "NoSuchEntryInArray: no such mapping";
	case 715: return "WildCardNotPermittedInSrcIP";
	case 716: return "WildCardNotPermittedInExtPort";
	case 718: return "ConflictInMappingEntry: the external port is held by another client";
	case 724: return "SamePortValuesRequired: external and internal ports must be equal";
	case 725: return "OnlyPermanentLeasesSupported";
	case 726: return "RemoteHostOnlySupportsWildcard";
	case 727: return "ExternalPortOnlySupportsWildcard";
	case 728: return "NoPortMapsAvailable: the router has no free mapping";
	case 729: return "ConflictWithOtherMechanisms";
	case 732: return "WildCardNotPermittedInIntPort";
	}
	return "UPnP error";
}
