/* Persistent mappings: an engine entry for (protocol, 0.0.0.0:port) with its own lease, refresh
 * interval and techniques, and a callback that fires when the external port changes. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "natt/listener.h"
#include "natt/persistent.h"

struct natt_persistent {
	struct natt_listener *listener;
	struct natt_persistent_options options;
	enum natt_protocol protocol;
	uint16_t local_port;
	natt_mapping_fn on_mapping;
	void *ctx;
	uint16_t last_external; /* background thread only */
};

static int current_from(struct natt_persistent *p, const struct natt_assignment *list, size_t n,
                        struct natt_mapping *out)
{
	for (size_t i = 0; i < n; i++) {
		if (list[i].technique == NATT_TECH_LOCAL)
			continue;
		memset(out, 0, sizeof(*out));
		out->protocol = p->protocol;
		out->internal_address.ss_family = AF_UNSPEC;
		out->internal_port = p->local_port;
		out->external_port = list[i].port;
		out->lifetime = list[i].lifetime;
		return 0;
	}
	return -EAGAIN;
}

static void changed(struct natt_listener *listener, const struct natt_assignment *list, size_t n, void *ctx)
{
	(void)listener;
	struct natt_persistent *p = ctx;
	struct natt_mapping m;
	if (current_from(p, list, n, &m) < 0 || m.external_port == p->last_external)
		return;
	p->last_external = m.external_port;
	if (p->on_mapping)
		p->on_mapping(p, &m, p->ctx);
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
	    options->technique != NATT_TECH_UPNP)
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

NATT_API int natt_persistent_current(struct natt_persistent *p, struct natt_mapping *out)
{
	struct natt_assignment list[32];
	size_t n = natt_listener_assignments(p->listener, list, 32);
	return current_from(p, list, n < 32 ? n : 32, out);
}

NATT_API void natt_persistent_refresh(struct natt_persistent *p)
{
	natt_listener_refresh(p->listener);
}

NATT_API int natt_persistent_stop(struct natt_persistent *p, int timeout_ms)
{
	int rc = natt_listener_stop(p->listener, timeout_ms);
	free(p);
	return rc;
}
