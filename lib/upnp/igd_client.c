/* The UPnP IGD steps of igd_client.h: discovery (ssdp.c), the WAN connection service from the description
 * (desc.c), and each port mapping action as one natt_upnp_call() — named arguments in the order
 * of the IGD's SCPD, named results — whose SOAP goes through miniupnpc. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "util/clock.h"
#include "upnp/http.h"
#include "upnp/igd_client.h"
#include "util/log.h"
#include "natt/net.h"
#include "natt/upnp.h"
#include "upnp/http.h"

static const char *const igd_types[] = {
	"urn:schemas-upnp-org:device:InternetGatewayDevice:1",
	"urn:schemas-upnp-org:device:InternetGatewayDevice:2",
};

int natt_igd_take_answer(const struct natt_ssdp_reply *reply, void *ctx)
{
	struct natt_igd_answer *want = ctx;
	if (want->gateway && reply->from.sin_addr.s_addr != want->gateway->s_addr)
		return 0; /* another device on the LAN; only the gateway can map for us */
	/* The description must be on the address that answered (the gateway): never a third host. */
	if (!reply->location[0] || !natt_url_on_host(reply->location, &reply->from.sin_addr))
		return 0;
	snprintf(want->location, sizeof(want->location), "%s", reply->location);
	want->bootid = reply->bootid;
	return 1;
}

int natt_igd_search_begin(struct natt_ssdp_search *search, const struct in_addr *to)
{
	struct sockaddr_in dest = { .sin_family = AF_INET, .sin_port = htons(1900) };
	if (to)
		dest.sin_addr = *to;
	return natt_ssdp_search_begin(search, to ? &dest : NULL, igd_types[0], NULL, to != NULL);
}

int natt_igd_discover(const struct in_addr *gateway, int timeout_ms, struct natt_igd *igd)
{
	struct natt_igd_answer want = { .gateway = gateway, .bootid = -1 };
	/* IGD:1 is answered by v1 and v2 devices alike (v2 must stay compatible), so one search type
	 * is enough and the first answer ends the wait. */
	int rc = natt_ssdp_search(igd_types[0], NULL, timeout_ms, natt_igd_take_answer, &want);
	if (rc < 0)
		return rc;
	if (!want.location[0])
		return NATT_ERR_NO_IGD;
	rc = natt_igd_open_url(want.location, igd);
	if (rc == 0)
		igd->bootid = want.bootid;
	return rc;
}

/* The services that map ports, in the order miniupnpc prefers them. A type matches its version and
 * later ones (natt_upnp_service_type_matches), so a WANIPConnection:2 is found first. */
static const char *const wan_services[] = { NATT_UPNP_WANIP2, NATT_UPNP_WANIP1, NATT_UPNP_WANPPP1 };

#define FIREWALL_SERVICE "urn:schemas-upnp-org:service:WANIPv6FirewallControl:1"

static const struct natt_upnp_service *wan_service(const struct natt_upnp_service *services, size_t count)
{
	for (size_t t = 0; t < sizeof(wan_services) / sizeof(wan_services[0]); t++)
		for (size_t i = 0; i < count; i++)
			if (natt_upnp_service_type_matches(services[i].service_type, wan_services[t]) &&
			    services[i].control_url[0])
				return &services[i];
	return NULL;
}

int natt_igd_open_url(const char *location, struct natt_igd *igd)
{
	return natt_igd_open_url_within(location, NATT_UPNP_IGD_TIMEOUT_MS, igd);
}

static bool wan_service_type(const char *type)
{
	for (size_t t = 0; t < sizeof(wan_services) / sizeof(wan_services[0]); t++)
		if (natt_upnp_service_type_matches(type, wan_services[t]))
			return true;
	return false;
}

/* A firewall service natt calls: on the description's host, as the WAN service's must be (pinhole
 * calls go to the router's IPv6 address, taking only the port and the path from this URL). */
static bool firewall_usable(const char *control_url, const char *type, const struct in_addr *host,
                            const struct natt_igd *igd)
{
	return natt_upnp_service_type_matches(type, FIREWALL_SERVICE) && natt_url_on_host(control_url, host) &&
	       strlen(control_url) < sizeof(igd->fc_control_url) && strlen(type) < sizeof(igd->fc_service_type);
}

/* The IGD described at location, with its WAN connection service at control_url and its firewall
 * service at fc_url ("" when none, or one natt does not call), into igd, or NATT_ERR_NO_IGD when
 * natt does not call that control URL. */
static int take_services(const char *location, const char *control_url, const char *service_type,
                         const char *fc_url, const char *fc_type, struct natt_igd *igd)
{
	struct natt_http_url control, described;
	struct in_addr local;
	if (strlen(service_type) >= sizeof(igd->service_type) || strlen(location) >= sizeof(igd->location) ||
	    strlen(control_url) >= sizeof(igd->control_url) || natt_http_url_parse(control_url, &control) < 0 ||
	    natt_http_url_parse(location, &described) < 0 || described.addr.sin_family != AF_INET ||
	    !natt_url_on_host(control_url, &described.addr.sin_addr) ||
	    natt_local_address_toward(&control.addr.sin_addr, &local) < 0) {
		natt_debug("IGD at %s: unusable control URL %s (natt only calls the host of the description)",
		           location, control_url);
		return NATT_ERR_NO_IGD;
	}
	snprintf(igd->control_url, sizeof(igd->control_url), "%s", control_url);
	snprintf(igd->service_type, sizeof(igd->service_type), "%s", service_type);
	snprintf(igd->location, sizeof(igd->location), "%s", location);
	inet_ntop(AF_INET, &local, igd->lan_address, sizeof(igd->lan_address));
	igd->v2 = natt_upnp_service_type_matches(service_type, NATT_UPNP_WANIP2);
	igd->timeout_ms = NATT_UPNP_IGD_TIMEOUT_MS;
	igd->open = true;
	if (fc_url[0] && firewall_usable(fc_url, fc_type, &described.addr.sin_addr, igd)) {
		snprintf(igd->fc_control_url, sizeof(igd->fc_control_url), "%s", fc_url);
		snprintf(igd->fc_service_type, sizeof(igd->fc_service_type), "%s", fc_type);
	}
	return 0;
}

int natt_igd_open_url_within(const char *location, int timeout_ms, struct natt_igd *igd)
{
	natt_igd_close(igd);
	struct natt_upnp_service *services;
	size_t count;
	int rc = natt_upnp_describe(location, timeout_ms, &services, &count);
	if (rc < 0) {
		natt_debug("no IGD at %s: %s", location, natt_strerror(rc));
		return NATT_ERR_NO_IGD;
	}
	const struct natt_upnp_service *wan = wan_service(services, count);
	rc = NATT_ERR_NO_IGD;
	if (!wan) {
		natt_debug("no IGD at %s: no WAN connection service", location);
	} else {
		struct natt_http_url described;
		bool on_ipv4 = natt_http_url_parse(location, &described) == 0 && described.addr.sin_family == AF_INET;
		const struct natt_upnp_service *firewall = NULL;
		for (size_t i = 0; on_ipv4 && i < count && !firewall; i++)
			if (firewall_usable(services[i].control_url, services[i].service_type, &described.addr.sin_addr, igd))
				firewall = &services[i];
		rc = take_services(location, wan->control_url, wan->service_type, firewall ? firewall->control_url : "",
		                   firewall ? firewall->service_type : "", igd);
	}
	if (rc == 0)
		natt_debug("IGD at %s: %s, lan address %s", location, igd->service_type, igd->lan_address);
	natt_upnp_services_free(services, count);
	return rc;
}

void natt_igd_close(struct natt_igd *igd)
{
	memset(igd, 0, sizeof(*igd));
	igd->bootid = -1;
}

/* ---- Actions -------------------------------------------------------------------------------------- */

/* One action. Every transport failure (no connection, nothing answered in time, the connection
 * dropped) means "the control URL does not answer": -ECONNREFUSED, the engine's cue to discover the
 * router again. *code receives the UPnP error code, 0 for any other result. */
static int call_at(struct natt_igd *igd, const char *control_url, const char *service_type, const char *action,
                   const struct natt_upnp_arg *args, size_t nargs, struct natt_upnp_value **results,
                   size_t *nresults, int *code)
{
	struct natt_upnp_error error;
	*code = 0;
	if (!igd->open)
		return NATT_ERR_NO_IGD;
	int rc = natt_upnp_call(control_url, service_type, action, args, nargs,
	                        igd->timeout_ms > 0 ? igd->timeout_ms : NATT_UPNP_IGD_TIMEOUT_MS, results, nresults,
	                        &error);
	switch (rc) {
	case NATT_ERR_UPNP:
		*code = error.upnp_code;
		return rc;
	case 0:
	case NATT_ERR_BAD_REPLY:
	case -ENOMEM:
	case -EINVAL:
	case -EMSGSIZE:
		return rc;
	}
	natt_debug("UPnP %s at %s: %s", action, control_url, natt_strerror(rc));
	return -ECONNREFUSED;
}

static int igd_call(struct natt_igd *igd, const char *action, const struct natt_upnp_arg *args, size_t nargs,
                    struct natt_upnp_value **results, size_t *nresults, int *code)
{
	return call_at(igd, igd->control_url, igd->service_type, action, args, nargs, results, nresults, code);
}

/* upnp_code may be NULL for the callers: this points at theirs or at a local one. */
#define CODE_OUT(upnp_code) ((upnp_code) ? (upnp_code) : &(int){ 0 })

static const char *proto_name(enum natt_protocol protocol)
{
	return protocol == NATT_UDP ? "UDP" : "TCP"; /* upper case: some routers reject "tcp" */
}

/* A result, "" when the router left it out. */
static const char *result(const struct natt_upnp_value *results, size_t n, const char *name)
{
	const char *value = natt_upnp_value_get(results, n, name);
	return value ? value : "";
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

/* GetExternalIPAddress: the call's result; *have_address tells whether an answer held an address (a
 * router whose external address is of no use answers with an empty one), then in *external. */
static int ask_external_address(struct natt_igd *igd, struct in_addr *external, bool *have_address, int *code)
{
	struct natt_upnp_value *res = NULL;
	size_t n = 0;
	struct in_addr addr;
	int rc = igd_call(igd, "GetExternalIPAddress", NULL, 0, &res, &n, code);
	*have_address = rc == 0 && inet_pton(AF_INET, result(res, n, "NewExternalIPAddress"), &addr) == 1;
	natt_upnp_values_free(res, n);
	if (*have_address && external)
		*external = addr;
	return rc;
}

int natt_igd_external_address(struct natt_igd *igd, struct in_addr *external, int *upnp_code)
{
	bool have_address;
	int rc = ask_external_address(igd, external, &have_address, CODE_OUT(upnp_code));
	return rc == 0 && !have_address ? NATT_ERR_BAD_REPLY : rc;
}

int natt_igd_open_known(const struct natt_igd *known, int timeout_ms, struct natt_igd *igd,
                        struct in_addr *external, bool *have_external)
{
	natt_igd_close(igd);
	*have_external = false;
	if (!wan_service_type(known->service_type) ||
	    (known->fc_control_url[0] && !natt_upnp_service_type_matches(known->fc_service_type, FIREWALL_SERVICE)) ||
	    take_services(known->location, known->control_url, known->service_type, known->fc_control_url,
	                  known->fc_service_type, igd) < 0) {
		natt_igd_close(igd);
		return -EINVAL;
	}
	/* The question natt asks first anyway, so that its answer costs nothing more. */
	int code = 0;
	igd->timeout_ms = timeout_ms;
	int64_t asked = natt_now_ms();
	int rc = ask_external_address(igd, external, have_external, &code);
	igd->timeout_ms = NATT_UPNP_IGD_TIMEOUT_MS;
	/* Refused, or the connection ended unanswered: stale. (Out of time: a slow router is not a stale
	 * one; its description settles it.) */
	if (rc == -ECONNREFUSED && natt_now_ms() - asked < timeout_ms) {
		natt_debug("no IGD at %s: its control URL does not answer", known->location);
		natt_igd_close(igd);
		return NATT_ERR_NO_IGD;
	}
	/* Any SOAP answer is the service there: an address, none (a router whose external address is of
	 * no use answers with an empty one), a UPnP error; but for a service that knows no such action,
	 * anything else is for the description to settle. */
	if (rc != 0 && !(rc == NATT_ERR_UPNP && code != NATT_UPNP_INVALID_ACTION)) {
		natt_debug("IGD at %s: the control URL kept beside the status file answered %s", known->location,
		           rc == NATT_ERR_UPNP ? "UPnP error 401 (invalid action)" : natt_strerror(rc));
		natt_igd_close(igd);
		return -EINVAL;
	}
	igd->bootid = known->bootid;
	natt_debug("IGD at %s: %s, lan address %s (as found before)", igd->location, igd->service_type,
	           igd->lan_address);
	return 0;
}

int natt_igd_add(struct natt_igd *igd, enum natt_protocol protocol, uint16_t external_port,
                 const char *internal_client, uint16_t internal_port, uint32_t lease,
                 const char *description, bool any_port, uint16_t *granted, int *upnp_code)
{
	char ext[8], in[8], dur[16];
	snprintf(ext, sizeof(ext), "%u", external_port);
	snprintf(in, sizeof(in), "%u", internal_port);
	snprintf(dur, sizeof(dur), "%u", lease);
	const struct natt_upnp_arg args[] = {
		{ "NewRemoteHost", "" },
		{ "NewExternalPort", ext },
		{ "NewProtocol", proto_name(protocol) },
		{ "NewInternalPort", in },
		{ "NewInternalClient", internal_client },
		{ "NewEnabled", "1" },
		{ "NewPortMappingDescription", description ? description : "" },
		{ "NewLeaseDuration", dur },
	};
	bool any = any_port && igd->v2;
	struct natt_upnp_value *res = NULL;
	size_t n = 0;
	int rc = igd_call(igd, any ? "AddAnyPortMapping" : "AddPortMapping", args, sizeof(args) / sizeof(args[0]),
	                  any ? &res : NULL, any ? &n : NULL, CODE_OUT(upnp_code));
	uint16_t port = external_port;
	if (rc == 0 && any && (parse_port(result(res, n, "NewReservedPort"), &port) < 0 || port == 0))
		rc = NATT_ERR_BAD_REPLY;
	natt_upnp_values_free(res, n);
	if (rc == 0 && granted)
		*granted = port;
	return rc;
}

bool natt_igd_lease_fallback(uint32_t asked, int upnp_code, uint32_t *next)
{
	if (upnp_code == NATT_UPNP_ONLY_PERMANENT && asked != 0) {
		*next = 0;
		return true;
	}
	if (upnp_code == NATT_UPNP_INVALID_ARGS && asked == 0) {
		*next = NATT_DEFAULT_LIFETIME;
		return true;
	}
	return false;
}

int natt_igd_with_lease_policy(uint32_t *lease, int (*add)(uint32_t lease, int *upnp_code, void *ctx), void *ctx,
                               int *upnp_code)
{
	uint32_t asked[3]; /* the first lease, 0, NATT_DEFAULT_LIFETIME: at most three different ones */
	size_t n = 0;
	uint32_t ask = *lease;
	int code = 0, rc;
	for (;;) {
		rc = add(ask, &code, ctx);
		asked[n++] = ask;
		uint32_t next;
		if (rc != NATT_ERR_UPNP || n == sizeof(asked) / sizeof(asked[0]) || !natt_igd_lease_fallback(ask, code, &next))
			break;
		bool again = false;
		for (size_t i = 0; i < n; i++)
			again |= asked[i] == next;
		if (again)
			break;
		natt_debug("UPnP error %d to a lease of %u s: asking for %u s", code, ask, next);
		ask = next;
	}
	if (upnp_code)
		*upnp_code = rc == NATT_ERR_UPNP ? code : 0;
	if (rc == 0)
		*lease = ask;
	return rc;
}

struct add_request {
	struct natt_igd *igd;
	enum natt_protocol protocol;
	uint16_t external_port, internal_port;
	const char *internal_client, *description;
	bool any_port;
	uint16_t *granted;
};

static int add_once(uint32_t lease, int *upnp_code, void *ctx)
{
	const struct add_request *r = ctx;
	return natt_igd_add(r->igd, r->protocol, r->external_port, r->internal_client, r->internal_port, lease,
	                    r->description, r->any_port, r->granted, upnp_code);
}

int natt_igd_map(struct natt_igd *igd, enum natt_protocol protocol, uint16_t external_port,
                 const char *internal_client, uint16_t internal_port, uint32_t *lease, const char *description,
                 bool any_port, uint16_t *granted, int *upnp_code)
{
	struct add_request r = { igd, protocol, external_port, internal_port, internal_client, description, any_port,
		                 granted };
	return natt_igd_with_lease_policy(lease, add_once, &r, upnp_code);
}

int natt_igd_delete(struct natt_igd *igd, enum natt_protocol protocol, uint16_t external_port, int *upnp_code)
{
	char ext[8];
	snprintf(ext, sizeof(ext), "%u", external_port);
	const struct natt_upnp_arg args[] = {
		{ "NewRemoteHost", "" },
		{ "NewExternalPort", ext },
		{ "NewProtocol", proto_name(protocol) },
	};
	return igd_call(igd, "DeletePortMapping", args, 3, NULL, NULL, CODE_OUT(upnp_code));
}

/* The results both entry actions return; the generic one also names the entry's key. */
static int read_entry(const struct natt_upnp_value *res, size_t n, bool generic, struct natt_igd_entry *e)
{
	snprintf(e->internal_client, sizeof(e->internal_client), "%s", result(res, n, "NewInternalClient"));
	snprintf(e->description, sizeof(e->description), "%s", result(res, n, "NewPortMappingDescription"));
	e->enabled = strcmp(result(res, n, "NewEnabled"), "0") != 0;
	e->lease = (uint32_t)strtoul(result(res, n, "NewLeaseDuration"), NULL, 10);
	if (generic) {
		snprintf(e->remote_host, sizeof(e->remote_host), "%s", result(res, n, "NewRemoteHost"));
		e->protocol = strcasecmp(result(res, n, "NewProtocol"), "UDP") == 0 ? NATT_UDP : NATT_TCP;
		if (parse_port(result(res, n, "NewExternalPort"), &e->external_port) < 0)
			return NATT_ERR_BAD_REPLY;
	}
	return parse_port(result(res, n, "NewInternalPort"), &e->internal_port);
}

int natt_igd_get_entry(struct natt_igd *igd, enum natt_protocol protocol, uint16_t external_port,
                       struct natt_igd_entry *entry, int *upnp_code)
{
	int *code = CODE_OUT(upnp_code);
	char ext[8];
	snprintf(ext, sizeof(ext), "%u", external_port);
	const struct natt_upnp_arg args[] = {
		{ "NewRemoteHost", "" },
		{ "NewExternalPort", ext },
		{ "NewProtocol", proto_name(protocol) },
	};
	struct natt_upnp_value *res = NULL;
	size_t n = 0;
	int rc = igd_call(igd, "GetSpecificPortMappingEntry", args, 3, &res, &n, code);
	if (rc == NATT_ERR_UPNP && (*code == NATT_UPNP_NO_SUCH_ENTRY || *code == NATT_UPNP_BAD_INDEX))
		return NATT_ERR_NOT_FOUND;
	if (rc == 0) {
		memset(entry, 0, sizeof(*entry));
		entry->protocol = protocol;
		entry->external_port = external_port;
		rc = read_entry(res, n, false, entry);
	}
	natt_upnp_values_free(res, n);
	return rc;
}

int natt_igd_get_entry_at(struct natt_igd *igd, unsigned index, struct natt_igd_entry *entry, int *upnp_code)
{
	int *code = CODE_OUT(upnp_code);
	char idx[16];
	snprintf(idx, sizeof(idx), "%u", index);
	const struct natt_upnp_arg args[] = { { "NewPortMappingIndex", idx } };
	struct natt_upnp_value *res = NULL;
	size_t n = 0;
	int rc = igd_call(igd, "GetGenericPortMappingEntry", args, 1, &res, &n, code);
	/* 713 SpecifiedArrayIndexInvalid ends the table; some routers say 714 or 402 instead. */
	if (rc == NATT_ERR_UPNP &&
	    (*code == NATT_UPNP_BAD_INDEX || *code == NATT_UPNP_NO_SUCH_ENTRY || *code == NATT_UPNP_INVALID_ARGS))
		return NATT_ERR_NOT_FOUND;
	if (rc == 0) {
		memset(entry, 0, sizeof(*entry));
		rc = read_entry(res, n, true, entry);
	}
	natt_upnp_values_free(res, n);
	return rc;
}

int natt_igd_read_table(struct natt_igd *igd, size_t max, struct natt_igd_entry **entries, int *upnp_code)
{
	struct natt_igd_entry *list = NULL;
	size_t n = 0, cap = 0;
	*entries = NULL;
	while (n < max) {
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			struct natt_igd_entry *grown = realloc(list, cap * sizeof(*list));
			if (!grown) {
				free(list);
				return -ENOMEM;
			}
			list = grown;
		}
		int rc = natt_igd_get_entry_at(igd, (unsigned)n, &list[n], upnp_code);
		if (rc == NATT_ERR_NOT_FOUND)
			break;
		if (rc < 0) {
			free(list);
			return rc;
		}
		n++;
	}
	if (n == 0) {
		free(list);
		list = NULL;
	}
	*entries = list;
	return (int)n;
}

int natt_igd_delete_own(struct natt_igd *igd, enum natt_protocol protocol, uint16_t external_port,
                        const char *internal_client, uint16_t internal_port, struct natt_igd_entry *found,
                        int *upnp_code)
{
	int *code = CODE_OUT(upnp_code);
	struct natt_igd_entry e;
	int rc = natt_igd_get_entry(igd, protocol, external_port, &e, code);
	if (rc < 0)
		return rc;
	if (found)
		*found = e;
	if (strcmp(e.internal_client, internal_client) != 0 || (internal_port && e.internal_port != internal_port))
		return -EPERM;
	rc = natt_igd_delete(igd, protocol, external_port, code);
	if (rc == NATT_ERR_UPNP && (*code == NATT_UPNP_NO_SUCH_ENTRY || *code == NATT_UPNP_BAD_INDEX))
		return NATT_ERR_NOT_FOUND; /* gone meanwhile: expired, or deleted by its owner */
	return rc;
}

NATT_API const char *natt_upnp_error_text(int code)
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

/* ---- IPv6 pinholes (WANIPv6FirewallControl) -------------------------------------------------------- */

/* The firewall service's control URL with its host replaced by [router] (port and path kept), so that
 * the request comes from this host's IPv6 address. */
static int firewall_url(const struct natt_igd *igd, const struct sockaddr_in6 *router, char *out, size_t len)
{
	struct natt_http_url u;
	char addr[INET6_ADDRSTRLEN], zone[IF_NAMESIZE + 4] = "";
	if (!igd->fc_control_url[0])
		return NATT_ERR_UNSUPPORTED;
	if (!router || router->sin6_family != AF_INET6 || natt_http_url_parse(igd->fc_control_url, &u) < 0 ||
	    !inet_ntop(AF_INET6, &router->sin6_addr, addr, sizeof(addr)))
		return -EINVAL;
	if (router->sin6_scope_id) {
		char name[IF_NAMESIZE];
		if (!if_indextoname(router->sin6_scope_id, name))
			return -EINVAL;
		snprintf(zone, sizeof(zone), "%%25%s", name);
	}
	int n = snprintf(out, len, "http://[%s%s]:%u%s", addr, zone, ntohs(u.addr.sin_port), u.path);
	return n < 0 || (size_t)n >= len ? -EINVAL : 0;
}

static int firewall_call(struct natt_igd *igd, const struct sockaddr_in6 *router, const struct in6_addr *from,
                         const char *action, const struct natt_upnp_arg *args, size_t nargs,
                         struct natt_upnp_value **results, size_t *nresults, int *code)
{
	char url[NATT_UPNP_URL_MAX];
	*code = 0;
	int rc = firewall_url(igd, router, url, sizeof(url));
	if (rc < 0)
		return rc;
	natt_http_set_source6(from);
	rc = call_at(igd, url, igd->fc_service_type, action, args, nargs, results, nresults, code);
	natt_http_set_source6(NULL);
	return rc;
}

int natt_igd_pinhole_add(struct natt_igd *igd, const struct sockaddr_in6 *router, const struct in6_addr *from,
                         enum natt_protocol protocol, uint16_t port, uint32_t lease, struct in6_addr *internal,
                         uint16_t *unique_id, int *upnp_code)
{
	struct sockaddr_storage local;
	char client[INET6_ADDRSTRLEN], in[8], dur[16], proto[4];
	if (!router || port == 0 || lease == 0 || lease > 86400 || (protocol != NATT_TCP && protocol != NATT_UDP))
		return -EINVAL;
	int rc = 0;
	if (from) {
		memset(&local, 0, sizeof(local));
		((struct sockaddr_in6 *)&local)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&local)->sin6_addr = *from;
	} else {
		rc = natt_local_sockaddr_toward((const struct sockaddr *)router, sizeof(*router), &local);
	}
	if (rc < 0)
		return rc;
	inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&local)->sin6_addr, client, sizeof(client));
	snprintf(in, sizeof(in), "%u", port);
	snprintf(dur, sizeof(dur), "%u", lease);
	snprintf(proto, sizeof(proto), "%d", (int)protocol);
	const struct natt_upnp_arg args[] = {
		{ "RemoteHost", "" }, { "RemotePort", "0" }, { "InternalClient", client },
		{ "InternalPort", in }, { "Protocol", proto }, { "LeaseTime", dur },
	};
	struct natt_upnp_value *res = NULL;
	size_t n = 0;
	rc = firewall_call(igd, router, from, "AddPinhole", args, sizeof(args) / sizeof(args[0]), &res, &n,
	                   CODE_OUT(upnp_code));
	uint16_t id = 0;
	if (rc == 0)
		rc = parse_port(result(res, n, "UniqueID"), &id);
	natt_upnp_values_free(res, n);
	if (rc < 0)
		return rc;
	if (unique_id)
		*unique_id = id;
	if (internal)
		*internal = ((struct sockaddr_in6 *)&local)->sin6_addr;
	return 0;
}

int natt_igd_pinhole_update(struct natt_igd *igd, const struct sockaddr_in6 *router, const struct in6_addr *from,
                            uint16_t unique_id, uint32_t lease, int *upnp_code)
{
	char id[8], dur[16];
	if (lease == 0 || lease > 86400)
		return -EINVAL;
	snprintf(id, sizeof(id), "%u", unique_id);
	snprintf(dur, sizeof(dur), "%u", lease);
	const struct natt_upnp_arg args[] = { { "UniqueID", id }, { "NewLeaseTime", dur } };
	return firewall_call(igd, router, from, "UpdatePinhole", args, 2, NULL, NULL, CODE_OUT(upnp_code));
}

int natt_igd_pinhole_delete(struct natt_igd *igd, const struct sockaddr_in6 *router, const struct in6_addr *from,
                            uint16_t unique_id, int *upnp_code)
{
	char id[8];
	snprintf(id, sizeof(id), "%u", unique_id);
	const struct natt_upnp_arg args[] = { { "UniqueID", id } };
	return firewall_call(igd, router, from, "DeletePinhole", args, 1, NULL, NULL, CODE_OUT(upnp_code));
}
