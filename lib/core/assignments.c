/* An entry's assignments: its local addresses (every interface's for a wildcard bind) and, once
 * published, its public address, as natt_listener_assignments() and the status file show them. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "core/engine_internal.h"
#include "natt/net.h"

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

size_t natt_entry_assignments(struct natt_entry *e, struct natt_assignment *list, size_t max)
{
	size_t n = 0;
	uint16_t port = natt_entry_local_port(e);
	if (natt_addr_is_wildcard((const struct sockaddr *)&e->local)) {
		struct natt_interface *ifs = NULL;
		size_t count = 0;
		if (natt_interfaces(&ifs, &count) == 0) {
			for (size_t i = 0; i < count; i++) {
				const struct sockaddr *sa = (const struct sockaddr *)&ifs[i].address;
				if (natt_addr_is_loopback(sa) || natt_addr_is_link_local(sa))
					continue;
				bool v4 = sa->sa_family == AF_INET;
				bool wanted = e->local.ss_family == AF_INET ? v4 : (!v4 || e->dual_stack);
				if (wanted)
					add_local(list, max, &n, e->protocol, sa, port);
			}
			natt_interfaces_free(ifs);
		}
	} else {
		add_local(list, max, &n, e->protocol, (const struct sockaddr *)&e->local, port);
	}
	if (e->state == NATT_STATE_PUBLISHED) {
		if (n < max) {
			struct natt_assignment *a = &list[n];
			memset(a, 0, sizeof(*a));
			a->protocol = e->protocol;
			inet_ntop(AF_INET, &e->external, a->address, sizeof(a->address));
			a->port = e->external_port;
			a->technique = e->technique;
			a->lifetime = e->granted_lifetime;
			a->expires = e->expires;
		}
		n++;
	}
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
