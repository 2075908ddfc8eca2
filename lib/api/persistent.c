/* Persistent mappings: an engine entry for (protocol, 0.0.0.0:port) with its own lease, refresh
 * interval and techniques, and a callback that fires when the external port or address changes and
 * when the mapping is lost or stopped. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "api/listener_internal.h"
#include "core/config.h"
#include "natt/listener.h"
#include "natt/persistent.h"

struct natt_persistent {
	struct natt_listener *listener;
	struct natt_persistent_options options;
	enum natt_protocol protocol;
	uint16_t local_port;
	natt_mapping_fn on_mapping;
	void *ctx;
	/* What on_mapping was told last: the background thread's, then natt_persistent_stop's once no
	 * callback can run any more. */
	bool reported;
	uint16_t reported_port;
	struct in_addr reported_external;
};

/* The router-made assignment among list, as a mapping and the router's external address. */
static int current_from(const struct natt_persistent *p, const struct natt_assignment *list, size_t n,
                        struct natt_mapping *out, struct in_addr *external)
{
	for (size_t i = 0; i < n; i++) {
		struct in_addr address;
		if (list[i].technique == NATT_TECH_LOCAL || inet_pton(AF_INET, list[i].address, &address) != 1)
			continue;
		memset(out, 0, sizeof(*out));
		out->protocol = p->protocol;
		out->internal_address.ss_family = AF_UNSPEC;
		out->internal_port = p->local_port;
		out->external_port = list[i].port;
		out->lifetime = list[i].lifetime;
		if (external)
			*external = address;
		return 0;
	}
	return -EAGAIN;
}

static void changed(struct natt_listener *listener, const struct natt_assignment *list, size_t n, void *ctx)
{
	(void)listener;
	struct natt_persistent *p = ctx;
	struct natt_mapping m;
	struct in_addr external;
	bool granted = current_from(p, list, n, &m, &external) == 0;
	if (granted && p->reported && m.external_port == p->reported_port &&
	    external.s_addr == p->reported_external.s_addr)
		return; /* a refresh: nothing new */
	if (!granted && !p->reported)
		return;
	p->reported = granted;
	p->reported_port = granted ? m.external_port : 0;
	p->reported_external = granted ? external : (struct in_addr){ 0 };
	if (p->on_mapping)
		p->on_mapping(p, granted ? &m : NULL, granted ? &external : NULL, p->ctx);
}

NATT_API int natt_persistent_create(enum natt_protocol protocol, uint16_t local_port,
                                    const struct natt_persistent_options *options, natt_mapping_fn on_mapping,
                                    void *ctx, struct natt_persistent **out)
{
	if (!out || local_port == 0 || (protocol != NATT_TCP && protocol != NATT_UDP))
		return -EINVAL;
	struct natt_persistent_options defaults = { 0 };
	if (!options)
		options = &defaults;
	if (options->technique != NATT_TECH_LOCAL && options->technique != NATT_TECH_NATPMP &&
	    options->technique != NATT_TECH_PCP && options->technique != NATT_TECH_UPNP)
		return -EINVAL;
	/* A refresh that comes after the lease ran out would leave the port unmapped in between. */
	if (options->lifetime > NATT_MAX_LIFETIME ||
	    (options->lifetime && options->refresh_interval >= options->lifetime))
		return -EINVAL;
	struct natt_persistent *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->options = *options;
	p->protocol = protocol;
	p->local_port = local_port;
	p->on_mapping = on_mapping;
	p->ctx = ctx;
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons(local_port) };
	int rc = natt_listener_publish_persistent(protocol, (const struct sockaddr *)&any, &p->options, changed, p,
	                                          &p->listener);
	if (rc < 0) {
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

NATT_API int natt_persistent_current(struct natt_persistent *p, struct natt_mapping *out, struct in_addr *external)
{
	if (!p || !out)
		return -EINVAL;
	struct natt_assignment list[32];
	size_t n = natt_listener_assignments(p->listener, list, 32);
	return current_from(p, list, n < 32 ? n : 32, out, external);
}

NATT_API int natt_persistent_refresh(struct natt_persistent *p)
{
	if (!p)
		return -EINVAL;
	natt_listener_refresh(p->listener);
	return 0;
}

NATT_API int natt_persistent_stop(struct natt_persistent *p, int timeout_ms)
{
	if (!p)
		return -EINVAL;
	int rc = natt_listener_stop(p->listener, timeout_ms);
	if (rc == -EDEADLK)
		return rc; /* from a callback: nothing was done, the handle stays valid */
	/* natt_listener_stop detached the callback and waited for a call under way: p is ours alone. */
	if (p->reported && p->on_mapping)
		p->on_mapping(p, NULL, NULL, p->ctx);
	free(p);
	return rc;
}
