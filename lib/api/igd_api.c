/* libnatt's port mapping calls (natt/igd.h): thin wrappers over lib/upnp/igd_client.c, the code the engine and the
 * natt command use, so that each protocol step exists once. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "upnp/igd_client.h"
#include "natt/net.h"

#define TABLE_MAX 4096
#define DEFAULT_DESCRIPTION "libnatt"

struct natt_upnp_igd {
	struct natt_igd igd;
};

/* The handle ready for a call with this timeout, or NULL. */
static struct natt_igd *use(struct natt_upnp_igd *h, int timeout_ms, int *upnp_code)
{
	if (upnp_code)
		*upnp_code = 0;
	if (!h)
		return NULL;
	h->igd.timeout_ms = timeout_ms > 0 ? timeout_ms : NATT_UPNP_IGD_TIMEOUT_MS;
	return &h->igd;
}

/* The header's rule: *upnp_code is 0 unless the result is NATT_ERR_UPNP (igd_client.c keeps the code of a
 * 714 that it turned into NATT_ERR_NOT_FOUND). */
static int done(int rc, int *upnp_code)
{
	if (upnp_code && rc != NATT_ERR_UPNP)
		*upnp_code = 0;
	return rc;
}

static bool usable_protocol(enum natt_protocol protocol)
{
	return protocol == NATT_TCP || protocol == NATT_UDP;
}

NATT_API int natt_upnp_igd_find(const struct in_addr *gateway, int timeout_ms, struct natt_upnp_igd **igd)
{
	if (!igd)
		return -EINVAL;
	*igd = NULL;
	if (timeout_ms <= 0)
		return -EINVAL;
	struct in_addr gw;
	if (gateway) {
		gw = *gateway;
	} else {
		int rc = natt_gateway_ipv4(&gw, NULL);
		if (rc < 0)
			return rc;
	}
	struct natt_upnp_igd *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	int rc = natt_igd_discover(&gw, timeout_ms, &h->igd);
	if (rc < 0) {
		free(h);
		return rc;
	}
	*igd = h;
	return 0;
}

NATT_API int natt_upnp_igd_info(const struct natt_upnp_igd *igd, struct natt_upnp_igd_info *info)
{
	if (!igd || !info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	snprintf(info->location, sizeof(info->location), "%s", igd->igd.location);
	snprintf(info->control_url, sizeof(info->control_url), "%s", igd->igd.control_url);
	snprintf(info->service_type, sizeof(info->service_type), "%s", igd->igd.service_type);
	inet_pton(AF_INET, igd->igd.lan_address, &info->internal);
	info->any_port = igd->igd.v2;
	return 0;
}

NATT_API int natt_upnp_igd_external_address(struct natt_upnp_igd *igd, int timeout_ms, struct in_addr *external,
                                            int *upnp_code)
{
	struct natt_igd *g = use(igd, timeout_ms, upnp_code);
	if (!g || !external)
		return -EINVAL;
	return done(natt_igd_external_address(g, external, upnp_code), upnp_code);
}

NATT_API int natt_upnp_igd_map(struct natt_upnp_igd *igd, enum natt_protocol protocol, uint16_t internal_port,
                               uint16_t external_port, uint32_t lifetime, const char *description,
                               int timeout_ms, struct natt_mapping *out, int *upnp_code)
{
	struct natt_igd *g = use(igd, timeout_ms, upnp_code);
	if (!g || !out || !usable_protocol(protocol) || internal_port == 0)
		return -EINVAL;
	uint32_t lease = lifetime;
	uint16_t granted = 0;
	bool any = external_port == 0;
	int rc = natt_igd_map(g, protocol, any ? internal_port : external_port, g->lan_address, internal_port, &lease,
	                      description ? description : DEFAULT_DESCRIPTION, any, &granted, upnp_code);
	if (rc < 0)
		return done(rc, upnp_code);
	memset(out, 0, sizeof(*out));
	out->protocol = protocol;
	struct sockaddr_in *in = (struct sockaddr_in *)&out->internal_address;
	in->sin_family = AF_INET;
	inet_pton(AF_INET, g->lan_address, &in->sin_addr);
	out->internal_port = internal_port;
	out->external_port = granted;
	out->lifetime = lease;
	return 0;
}

NATT_API int natt_upnp_igd_unmap(struct natt_upnp_igd *igd, enum natt_protocol protocol, uint16_t external_port,
                                 int timeout_ms, int *upnp_code)
{
	struct natt_igd *g = use(igd, timeout_ms, upnp_code);
	if (!g || !usable_protocol(protocol) || external_port == 0)
		return -EINVAL;
	return done(natt_igd_delete_own(g, protocol, external_port, g->lan_address, 0, NULL, upnp_code), upnp_code);
}

/* The public form of an entry: the mapping record, the internal client as an address when it is one. */
static void public_entry(const struct natt_igd_entry *e, struct natt_upnp_igd_entry *out)
{
	memset(out, 0, sizeof(*out));
	out->mapping.protocol = e->protocol;
	struct sockaddr_in *in = (struct sockaddr_in *)&out->mapping.internal_address;
	if (inet_pton(AF_INET, e->internal_client, &in->sin_addr) == 1)
		in->sin_family = AF_INET;
	else
		out->mapping.internal_address.ss_family = AF_UNSPEC;
	out->mapping.internal_port = e->internal_port;
	out->mapping.external_port = e->external_port;
	out->mapping.lifetime = e->lease;
	snprintf(out->internal_client, sizeof(out->internal_client), "%s", e->internal_client);
	snprintf(out->description, sizeof(out->description), "%s", e->description);
	snprintf(out->remote_host, sizeof(out->remote_host), "%s", e->remote_host);
	out->enabled = e->enabled;
}

NATT_API int natt_upnp_igd_get_mapping(struct natt_upnp_igd *igd, enum natt_protocol protocol,
                                       uint16_t external_port, int timeout_ms, struct natt_upnp_igd_entry *entry,
                                       int *upnp_code)
{
	struct natt_igd *g = use(igd, timeout_ms, upnp_code);
	if (!g || !entry || !usable_protocol(protocol))
		return -EINVAL;
	struct natt_igd_entry e;
	int rc = natt_igd_get_entry(g, protocol, external_port, &e, upnp_code);
	if (rc == 0)
		public_entry(&e, entry);
	return done(rc, upnp_code);
}

NATT_API int natt_upnp_igd_list(struct natt_upnp_igd *igd, int timeout_ms, struct natt_upnp_igd_entry **entries,
                                size_t *count, int *upnp_code)
{
	if (entries)
		*entries = NULL;
	if (count)
		*count = 0;
	struct natt_igd *g = use(igd, timeout_ms, upnp_code);
	if (!g || !entries || !count)
		return -EINVAL;
	struct natt_igd_entry *table;
	int n = natt_igd_read_table(g, TABLE_MAX, &table, upnp_code);
	if (n <= 0)
		return done(n, upnp_code);
	struct natt_upnp_igd_entry *out = calloc((size_t)n, sizeof(*out));
	if (!out) {
		free(table);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++)
		public_entry(&table[i], &out[i]);
	free(table);
	*entries = out;
	*count = (size_t)n;
	return n;
}

/* The handle ready for a pinhole call, and the router it goes to (the caller's, or the IPv6 default
 * router) in *r. NULL with *rc set when either is missing. */
static struct natt_igd *use_pinhole(struct natt_upnp_igd *igd, int timeout_ms, const struct sockaddr_in6 *router,
                                    struct sockaddr_in6 *r, int *rc, int *upnp_code)
{
	struct natt_igd *g = use(igd, timeout_ms, upnp_code);
	*rc = -EINVAL;
	if (!g || (router && router->sin6_family != AF_INET6))
		return NULL;
	if (router)
		*r = *router;
	else if ((*rc = natt_gateway_ipv6(r)) < 0)
		return NULL;
	return g;
}

NATT_API int natt_upnp_igd_add_pinhole(struct natt_upnp_igd *igd, const struct sockaddr_in6 *router,
                                       enum natt_protocol protocol, uint16_t port, uint32_t lifetime,
                                       int timeout_ms, struct in6_addr *internal, uint16_t *unique_id,
                                       int *upnp_code)
{
	struct sockaddr_in6 r;
	int rc;
	struct natt_igd *g = use_pinhole(igd, timeout_ms, router, &r, &rc, upnp_code);
	if (!g || !usable_protocol(protocol))
		return g ? -EINVAL : rc;
	return done(natt_igd_pinhole_add(g, &r, NULL, protocol, port, lifetime, internal, unique_id, upnp_code), upnp_code);
}

NATT_API int natt_upnp_igd_update_pinhole(struct natt_upnp_igd *igd, const struct sockaddr_in6 *router,
                                          uint16_t unique_id, uint32_t lifetime, int timeout_ms, int *upnp_code)
{
	struct sockaddr_in6 r;
	int rc;
	struct natt_igd *g = use_pinhole(igd, timeout_ms, router, &r, &rc, upnp_code);
	return g ? done(natt_igd_pinhole_update(g, &r, NULL, unique_id, lifetime, upnp_code), upnp_code) : rc;
}

NATT_API int natt_upnp_igd_delete_pinhole(struct natt_upnp_igd *igd, const struct sockaddr_in6 *router,
                                          uint16_t unique_id, int timeout_ms, int *upnp_code)
{
	struct sockaddr_in6 r;
	int rc;
	struct natt_igd *g = use_pinhole(igd, timeout_ms, router, &r, &rc, upnp_code);
	return g ? done(natt_igd_pinhole_delete(g, &r, NULL, unique_id, upnp_code), upnp_code) : rc;
}

NATT_API void natt_upnp_igd_close(struct natt_upnp_igd *igd)
{
	free(igd);
}
