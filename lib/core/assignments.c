/* An entry's assignments: its local addresses (every interface's for a wildcard bind) and, once
 * published, its public address, as natt_listener_assignments() and the status file show them. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine_internal.h"
#include "natt/net.h"
#include "sys/netlink.h"

const char *natt_protocol_text(enum natt_protocol protocol)
{
	return protocol == NATT_UDP ? "udp" : "tcp";
}

static bool is_ipv4_family(const struct natt_entry *e)
{
	return e->local.ss_family == AF_INET;
}

uint16_t natt_entry_local_port(const struct natt_entry *e)
{
	if (e->local.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&e->local)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)&e->local)->sin6_port);
}

bool natt_entry_specific_ipv4(const struct natt_entry *e, struct in_addr *out)
{
	if (natt_addr_is_wildcard((const struct sockaddr *)&e->local))
		return false;
	if (e->local.ss_family == AF_INET) {
		*out = ((const struct sockaddr_in *)&e->local)->sin_addr;
		return true;
	}
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)&e->local)->sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(a6)) {
		memcpy(out, &a6->s6_addr[12], 4);
		return true;
	}
	return false;
}

bool natt_entry_has_ipv4_side(const struct natt_entry *e)
{
	struct in_addr dummy;
	if (is_ipv4_family(e) || e->dual_stack)
		return true;
	return natt_entry_specific_ipv4(e, &dummy);
}

bool natt_entry_wants_pinhole(const struct natt_entry *e)
{
	if (e->local.ss_family != AF_INET6)
		return false;
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)&e->local)->sin6_addr;
	return !IN6_IS_ADDR_V4MAPPED(a6);
}

int natt_entry_pinhole_address(const struct natt_entry *e, const struct sockaddr_in6 *router, struct in6_addr *out,
                               char *why, size_t len)
{
	const struct sockaddr *bound = (const struct sockaddr *)&e->local;
	if (!natt_addr_is_wildcard(bound)) {
		if (natt_addr_is_link_local(bound) || natt_addr_is_loopback(bound)) {
			snprintf(why, len, "bound to a link-local IPv6 address: no pinhole reaches it");
			return -1;
		}
		if (natt_addr_is_ula(bound)) {
			snprintf(why, len, "bound to a unique local IPv6 address (fc00::/7): not routed on the internet");
			return -1;
		}
		*out = ((const struct sockaddr_in6 *)bound)->sin6_addr;
		return 0;
	}
	struct natt_addr6 *list = NULL;
	size_t count = 0;
	int rc = natt_netlink_ipv6_addresses(&list, &count, 1000);
	if (rc < 0) {
		snprintf(why, len, "cannot list the IPv6 addresses: %s", natt_strerror(rc));
		return -2;
	}
	struct sockaddr_storage source;
	bool have_source = router && natt_local_sockaddr_toward((const struct sockaddr *)router, sizeof(*router),
	                                                        &source) == 0 && source.ss_family == AF_INET6;
	unsigned index = 0;
	for (size_t i = 0; have_source && i < count && !index; i++)
		if (memcmp(&list[i].address, &((struct sockaddr_in6 *)&source)->sin6_addr, 16) == 0)
			index = list[i].index;
	rc = natt_pick_published_ipv6(list, count, index,
	                              have_source ? &((struct sockaddr_in6 *)&source)->sin6_addr : NULL, out);
	free(list);
	if (rc < 0) {
		snprintf(why, len, "no global IPv6 address on this host (link-local or unique local ones only): no "
		                   "pinhole can make it reachable");
		return -1;
	}
	return 0;
}

static void add_local(struct natt_assignment *list, size_t max, size_t *n, enum natt_protocol protocol,
                      const struct sockaddr *sa, uint16_t port)
{
	if (*n < max) {
		struct natt_assignment *a = &list[*n];
		memset(a, 0, sizeof(*a));
		a->protocol = protocol;
		natt_addr_format(sa, a->address, sizeof(a->address));
		a->port = port;
		a->technique = NATT_TECH_LOCAL;
	}
	(*n)++;
}

/* e's public assignment, when published: the router's address and port, or a pinhole's host address. */
static void add_public(const struct natt_entry *e, struct natt_assignment *list, size_t max, size_t *n)
{
	if (e->state != NATT_STATE_PUBLISHED)
		return;
	if (*n < max) {
		struct natt_assignment *a = &list[*n];
		memset(a, 0, sizeof(*a));
		a->protocol = e->protocol;
		if (e->pinhole)
			inet_ntop(AF_INET6, &e->pinhole_address, a->address, sizeof(a->address));
		else
			inet_ntop(AF_INET, &e->external, a->address, sizeof(a->address));
		a->port = e->external_port;
		a->technique = e->technique;
		a->lifetime = e->granted_lifetime;
		a->expires = e->expires;
	}
	(*n)++;
}

void natt_host_interfaces_release(struct natt_host_interfaces *host)
{
	natt_interfaces_free(host->list);
	*host = (struct natt_host_interfaces){ 0 };
}

size_t natt_entry_assignments_among(struct natt_entry *e, struct natt_host_interfaces *host,
                                    struct natt_assignment *list, size_t max)
{
	size_t n = 0;
	uint16_t port = natt_entry_local_port(e);
	if (natt_addr_is_wildcard((const struct sockaddr *)&e->local)) {
		if (!host->asked) {
			host->asked = true;
			host->listed = natt_interfaces(&host->list, &host->count) == 0;
		}
		for (size_t i = 0; host->listed && i < host->count; i++) {
			const struct sockaddr *sa = (const struct sockaddr *)&host->list[i].address;
			if (natt_addr_is_loopback(sa) || natt_addr_is_link_local(sa))
				continue;
			bool v4 = sa->sa_family == AF_INET;
			bool wanted = e->local.ss_family == AF_INET ? v4 : (!v4 || e->dual_stack);
			if (wanted)
				add_local(list, max, &n, e->protocol, sa, port);
		}
	} else {
		add_local(list, max, &n, e->protocol, (const struct sockaddr *)&e->local, port);
	}
	add_public(e, list, max, &n);
	if (e->pinhole_side)
		add_public(e->pinhole_side, list, max, &n);
	return n;
}

size_t natt_entry_assignments(struct natt_entry *e, struct natt_assignment *list, size_t max)
{
	struct natt_host_interfaces host = { 0 };
	size_t n = natt_entry_assignments_among(e, &host, list, max);
	natt_host_interfaces_release(&host);
	return n;
}

size_t natt_engine_assignments(struct natt_entry *e, struct natt_assignment *list, size_t max)
{
	natt_engine_lock();
	size_t n = natt_entry_assignments(e, list, max);
	natt_engine_unlock();
	return n;
}

enum natt_listener_state natt_engine_state(struct natt_entry *e, char *error, size_t len)
{
	natt_engine_lock();
	enum natt_listener_state state = e->state;
	if (error && len)
		snprintf(error, len, "%s", e->error);
	natt_engine_unlock();
	return state;
}
