/* The router commands: external-ip, map, unmap, unmap-all, list.
 *
 * Every protocol step is the engine's own: NAT-PMP through natt/natpmp.h, UPnP IGD through upnp/igd_client.h
 * (discovery, AddPortMapping, DeletePortMapping, Get*PortMappingEntry). What this file adds is the
 * choice between them and the words the user reads.
 *
 * Choosing the technique (also in natt(1)): without --upnp or --nat-pmp a command asks NAT-PMP first —
 * one datagram, answered at once or refused at once by an ICMP error when the router does not serve
 * it — and turns to UPnP IGD only when NAT-PMP is absent (no answer, or not offered). A router that
 * answers NAT-PMP with a refusal has answered: its refusal is reported, not second-guessed over UPnP.
 *
 * unmap and unmap-all are the exception, because a NAT-PMP delete cannot see UPnP mappings:
 * miniupnpd deletes only mappings made through NAT-PMP and answers "success" even when there was
 * nothing to delete. So they send the NAT-PMP delete and then also look at the UPnP table (when the
 * router offers one) for mappings of this host made through UPnP. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util/clock.h"
#include "upnp/igd_client.h"
#include "natt/natpmp.h"
#include "natt/net.h"

/* NAT-PMP retransmits at 250, 750, 1750 ms within this. A LAN router answers SSDP within tens of
 * milliseconds; natt_igd_discover() returns at the first answer, so only an absent IGD costs the
 * whole time. */
#define NATPMP_TIMEOUT_MS 2000
#define IGD_TIMEOUT_MS 2000
/* unmap/unmap-all after NAT-PMP answered: a shorter look for a UPnP table too. */
#define IGD_SECOND_LOOK_MS 1000
/* list and unmap-all read at most this many entries (each is one SOAP exchange). */
#define MAX_ENTRIES 4096
#define MAPPING_DESCRIPTION "natt map"

struct router {
	const struct natt_cli_cmd *cmd;
	struct in_addr gateway;
	char gateway_text[INET_ADDRSTRLEN];
	struct natt_igd igd;
};

static const char *proto_text(enum natt_protocol protocol)
{
	return protocol == NATT_UDP ? "udp" : "tcp";
}

/* The gateway to ask: -g, else the default route's. Prints why not and returns -1 when there is none. */
static int router_open(const struct natt_cli_cmd *cmd, struct router *r)
{
	memset(r, 0, sizeof(*r));
	r->cmd = cmd;
	r->igd.bootid = -1;
	if (cmd->have_gateway) {
		r->gateway = cmd->gateway;
	} else {
		int rc = natt_gateway_ipv4(&r->gateway, NULL);
		if (rc == NATT_ERR_NO_GATEWAY) {
			natt_cli_error(cmd, "no IPv4 default gateway (give the router's address with -g GATEWAY)");
			return -1;
		}
		if (rc < 0) {
			natt_cli_error(cmd, "cannot read the routing table: %s", natt_strerror(rc));
			return -1;
		}
	}
	inet_ntop(AF_INET, &r->gateway, r->gateway_text, sizeof(r->gateway_text));
	return 0;
}

static void router_close(struct router *r)
{
	natt_igd_close(&r->igd);
}

/* NAT-PMP is not there: no answer in time, or an ICMP error / "unsupported" answer. */
static bool natpmp_absent(int rc)
{
	return rc == NATT_ERR_NO_GATEWAY || rc == NATT_ERR_UNSUPPORTED;
}

/* natpmp_result - the code of a NAT-PMP call that started at started_ms, corrected: libnatpmp reports
 * an ICMP "port unreachable" (the gateway is there but serves no NAT-PMP) as NATPMP_ERR_NOGATEWAYSUPPORT,
 * which lib/natpmp/natpmp.c passes on as NATT_ERR_NO_GATEWAY — the code of a timeout too. The gateway is
 * always named here, and a timeout only ends at the deadline, so a NO_GATEWAY that comes well before
 * it can only be that refusal. */
static int natpmp_result(int rc, int64_t started_ms)
{
	if (rc == NATT_ERR_NO_GATEWAY && natt_now_ms() - started_ms < NATPMP_TIMEOUT_MS - 100)
		return NATT_ERR_UNSUPPORTED;
	return rc;
}

static void natpmp_failure(struct router *r, int rc)
{
	const struct natt_cli_cmd *cmd = r->cmd;
	switch (rc) {
	case NATT_ERR_NO_GATEWAY:
		natt_cli_error(cmd, "no NAT-PMP answer from %s within %d s", r->gateway_text, NATPMP_TIMEOUT_MS / 1000);
		break;
	case NATT_ERR_UNSUPPORTED:
		natt_cli_error(cmd, "the gateway %s does not offer NAT-PMP", r->gateway_text);
		break;
	case NATT_ERR_REFUSED:
		natt_cli_error(cmd, "the router refused: NAT-PMP result 2 (Not Authorized/Refused)");
		break;
	case NATT_ERR_NETWORK:
		natt_cli_error(cmd, "the router refused: NAT-PMP result 3 (Network Failure: its internet side is down)");
		break;
	case NATT_ERR_RESOURCES:
		natt_cli_error(cmd, "the router refused: NAT-PMP result 4 (Out of Resources: no free port or mapping)");
		break;
	case NATT_ERR_BAD_REPLY:
		natt_cli_error(cmd, "the router's NAT-PMP answer could not be understood");
		break;
	default:
		natt_cli_error(cmd, "NAT-PMP: %s", natt_strerror(rc));
		break;
	}
}

static void upnp_failure(struct router *r, int rc, int code)
{
	const struct natt_cli_cmd *cmd = r->cmd;
	if (rc == NATT_ERR_UPNP)
		natt_cli_error(cmd, "the router refused: UPnP error %d (%s)", code, natt_upnp_error_text(code));
	else if (rc == NATT_ERR_NO_IGD)
		natt_cli_error(cmd, "no UPnP IGD answered at %s within %d s", r->gateway_text, IGD_TIMEOUT_MS / 1000);
	else if (rc == -ECONNREFUSED)
		natt_cli_error(cmd, "the router's UPnP control URL %s does not answer", r->igd.control_url);
	else
		natt_cli_error(cmd, "UPnP: %s", natt_strerror(rc));
}

static void neither_failure(struct router *r)
{
	natt_cli_error(r->cmd, "the gateway %s answered neither NAT-PMP nor UPnP IGD", r->gateway_text);
}

static int igd_open(struct router *r, int timeout_ms)
{
	if (r->igd.open)
		return 0;
	int rc = natt_igd_discover(&r->gateway, timeout_ms, &r->igd);
	return rc < 0 ? (rc == -ETIMEDOUT ? NATT_ERR_NO_IGD : rc) : 0;
}

/* A router whose own external address is private or shared sits behind another NAT: what it maps is
 * not reachable from the internet. Worth a line on stderr. */
void natt_cli_note_double_nat(const struct natt_cli_cmd *cmd, struct in_addr external)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = external };
	const struct sockaddr *s = (const struct sockaddr *)&sa;
	char text[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &external, text, sizeof(text));
	if (natt_addr_is_shared(s))
		natt_cli_error(cmd, "note: %s is a shared (carrier-grade NAT) address: the router is itself "
		                       "behind another NAT, so its mappings are not reachable from the internet", text);
	else if (natt_addr_is_private(s))
		natt_cli_error(cmd, "note: %s is a private address: the router is itself behind another NAT, so "
		                       "its mappings are not reachable from the internet", text);
	else if (external.s_addr == htonl(INADDR_ANY))
		natt_cli_error(cmd, "note: the router has no external address (is its internet side down?)");
}

/* ---- external-ip ---- */

int natt_cli_external_ip(const struct natt_cli_cmd *cmd)
{
	if (cmd->via == NATT_CLI_VIA_PCP)
		return natt_cli_pcp_external_ip(cmd);
	struct router r;
	if (router_open(cmd, &r) < 0)
		return NATT_EXIT_FAILED;
	struct in_addr external;
	int rc = 0, code = 0, status = NATT_EXIT_FAILED;
	if (cmd->via != NATT_CLI_VIA_UPNP) {
		int64_t started = natt_now_ms();
		rc = natt_natpmp_external_address(&r.gateway, NATPMP_TIMEOUT_MS, &external, NULL);
		rc = natpmp_result(rc, started);
		if (rc == 0)
			goto found;
		if (cmd->via == NATT_CLI_VIA_NATPMP || !natpmp_absent(rc)) {
			natpmp_failure(&r, rc);
			goto out;
		}
	}
	int natpmp_rc = rc;
	rc = igd_open(&r, IGD_TIMEOUT_MS);
	if (rc == 0)
		rc = natt_igd_external_address(&r.igd, &external, &code);
	if (rc < 0) {
		if (cmd->via == NATT_CLI_VIA_AUTO && rc == NATT_ERR_NO_IGD && natpmp_absent(natpmp_rc))
			neither_failure(&r);
		else
			upnp_failure(&r, rc, code);
		goto out;
	}
found:;
	char text[INET_ADDRSTRLEN];
	printf("%s\n", inet_ntop(AF_INET, &external, text, sizeof(text)));
	natt_cli_note_double_nat(cmd, external);
	status = NATT_EXIT_OK;
out:
	router_close(&r);
	return status;
}

/* ---- map ---- */

struct granted {
	struct in_addr external;
	uint16_t external_port;
	char internal[64];
	uint16_t internal_port;
	uint32_t lifetime; /* 0: permanent */
	const char *technique;
};

static int map_natpmp(struct router *r, struct granted *g)
{
	const struct natt_cli_cmd *cmd = r->cmd;
	struct natt_mapping m;
	int64_t started = natt_now_ms();
	int rc = natt_natpmp_map(&r->gateway, cmd->protocol, cmd->private_port, cmd->public_port, cmd->lifetime,
	                         NATPMP_TIMEOUT_MS, &m, NULL);
	if (rc < 0)
		return natpmp_result(rc, started);
	started = natt_now_ms();
	rc = natt_natpmp_external_address(&r->gateway, NATPMP_TIMEOUT_MS, &g->external, NULL);
	if (rc < 0) {
		/* The mapping exists: this is no absent NAT-PMP, and UPnP must not map the port again. */
		rc = natpmp_result(rc, started);
		return natpmp_absent(rc) ? -ETIMEDOUT : rc;
	}
	/* NAT-PMP maps whoever sent the request: that is our source address toward the gateway. */
	struct in_addr local;
	if (natt_local_address_toward(&r->gateway, &local) == 0)
		inet_ntop(AF_INET, &local, g->internal, sizeof(g->internal));
	else
		snprintf(g->internal, sizeof(g->internal), "this host");
	g->external_port = m.external_port;
	g->internal_port = m.internal_port ? m.internal_port : cmd->private_port;
	g->lifetime = m.lifetime;
	g->technique = "nat-pmp";
	return 0;
}

static int map_upnp(struct router *r, struct granted *g, int *code)
{
	const struct natt_cli_cmd *cmd = r->cmd;
	int rc = igd_open(r, IGD_TIMEOUT_MS);
	if (rc < 0)
		return rc;
	uint32_t lease = cmd->lifetime;
	uint16_t port = 0;
	/* The exact port: over UPnP, map asks for PUBLIC_PORT and fails when another host holds it. The
	 * lease may come back changed (725: permanent; 402 to a permanent one: bounded). */
	rc = natt_igd_map(&r->igd, cmd->protocol, cmd->public_port, r->igd.lan_address, cmd->private_port, &lease,
	                  MAPPING_DESCRIPTION, false, &port, code);
	if (rc < 0)
		return rc;
	rc = natt_igd_external_address(&r->igd, &g->external, code);
	if (rc < 0)
		return rc;
	snprintf(g->internal, sizeof(g->internal), "%s", r->igd.lan_address);
	g->external_port = port;
	g->internal_port = cmd->private_port;
	g->lifetime = lease;
	g->technique = "upnp";
	return 0;
}

int natt_cli_map(const struct natt_cli_cmd *cmd)
{
	if (cmd->via == NATT_CLI_VIA_PCP)
		return natt_cli_pcp_map(cmd);
	if (cmd->ipv6)
		return natt_cli_upnp_pinhole_map(cmd);
	struct router r;
	if (router_open(cmd, &r) < 0)
		return NATT_EXIT_FAILED;
	struct granted g = { 0 };
	int rc = 0, code = 0, status = NATT_EXIT_FAILED;
	if (cmd->via != NATT_CLI_VIA_UPNP) {
		rc = map_natpmp(&r, &g);
		if (rc == 0)
			goto mapped;
		if (cmd->via == NATT_CLI_VIA_NATPMP || !natpmp_absent(rc)) {
			natpmp_failure(&r, rc);
			goto out;
		}
	}
	int natpmp_rc = rc;
	rc = map_upnp(&r, &g, &code);
	if (rc < 0) {
		if (cmd->via == NATT_CLI_VIA_AUTO && rc == NATT_ERR_NO_IGD && natpmp_absent(natpmp_rc))
			neither_failure(&r);
		else
			upnp_failure(&r, rc, code);
		goto out;
	}
mapped:;
	char ext[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &g.external, ext, sizeof(ext));
	printf("%s %s:%u -> %s:%u ", proto_text(cmd->protocol), ext, g.external_port, g.internal, g.internal_port);
	if (g.lifetime)
		printf("lifetime %u (%s)\n", g.lifetime, g.technique);
	else
		printf("permanent (%s)\n", g.technique);
	natt_cli_note_double_nat(cmd, g.external);
	status = NATT_EXIT_OK;
out:
	router_close(&r);
	return status;
}

/* ---- the UPnP table: list, and what unmap/unmap-all delete ---- */

static void print_entry(const char *verb, const struct natt_igd_entry *e, const char *technique, bool details)
{
	if (verb)
		printf("%s ", verb);
	printf("%s %u -> ", proto_text(e->protocol), e->external_port);
	natt_cli_put_text(stdout, e->internal_client);
	printf(":%u", e->internal_port);
	if (details) {
		if (e->lease)
			printf(" lease %u", e->lease);
		else
			printf(" permanent");
		printf(" \"");
		natt_cli_put_text(stdout, e->description);
		printf("\"");
		if (e->remote_host[0]) {
			printf(" from ");
			natt_cli_put_text(stdout, e->remote_host);
		}
		if (!e->enabled)
			printf(" disabled");
	}
	if (technique)
		printf(" (%s)", technique);
	printf("\n");
}

int natt_cli_list(const struct natt_cli_cmd *cmd)
{
	struct router r;
	if (router_open(cmd, &r) < 0) {
		natt_cli_print_pinholes(cmd);
		return NATT_EXIT_FAILED;
	}
	int code = 0, status = NATT_EXIT_FAILED;
	struct natt_igd_entry *table = NULL;
	int rc = igd_open(&r, IGD_TIMEOUT_MS);
	if (rc == 0)
		rc = natt_igd_read_table(&r.igd, MAX_ENTRIES, &table, &code);
	if (rc < 0) {
		upnp_failure(&r, rc, code);
		natt_cli_print_pinholes(cmd); /* (natt's own, from the status file: also without UPnP) */
		goto out;
	}
	for (int i = 0; i < rc; i++)
		print_entry(NULL, &table[i], NULL, true);
	if (rc == MAX_ENTRIES)
		natt_cli_error(cmd, "note: only the first %d entries are shown", MAX_ENTRIES);
	natt_cli_print_pinholes(cmd);
	status = NATT_EXIT_OK;
out:
	free(table);
	router_close(&r);
	return status;
}

/* ---- unmap ---- */

static void print_natpmp_unmapped(const struct natt_cli_cmd *cmd)
{
	printf("unmapped %s local port %u (nat-pmp)\n", proto_text(cmd->protocol), cmd->private_port);
}

/* The UPnP half of unmap: the entry of PUBLIC_PORT, if it is this host's PRIVATE_PORT, is deleted.
 * natpmp_answered: NAT-PMP has already answered, so a missing or foreign entry is no error. */
static int unmap_upnp(struct router *r, bool natpmp_answered)
{
	const struct natt_cli_cmd *cmd = r->cmd;
	struct natt_igd_entry e;
	int code = 0;
	int rc = natt_igd_delete_own(&r->igd, cmd->protocol, cmd->public_port, r->igd.lan_address, cmd->private_port,
	                             &e, &code);
	if (rc == 0) {
		print_entry("unmapped", &e, "upnp", false);
		return NATT_EXIT_OK;
	}
	if ((rc == NATT_ERR_NOT_FOUND || rc == -EPERM) && natpmp_answered) {
		print_natpmp_unmapped(cmd);
		return NATT_EXIT_OK;
	}
	if (rc == NATT_ERR_NOT_FOUND) {
		natt_cli_error(cmd, "the router has no %s mapping of port %u", proto_text(cmd->protocol), cmd->public_port);
	} else if (rc == -EPERM) {
		char shown[sizeof(e.internal_client)];
		snprintf(shown, sizeof(shown), "%s", e.internal_client);
		for (char *c = shown; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
		if (strcmp(e.internal_client, r->igd.lan_address) != 0)
			natt_cli_error(cmd, "%s port %u is mapped to %s:%u, another host (this one is %s)",
			               proto_text(cmd->protocol), cmd->public_port, shown, e.internal_port,
			               r->igd.lan_address);
		else
			natt_cli_error(cmd, "%s port %u is mapped to %s:%u, not to port %u", proto_text(cmd->protocol),
			               cmd->public_port, shown, e.internal_port, cmd->private_port);
	} else {
		upnp_failure(r, rc, code);
	}
	return NATT_EXIT_FAILED;
}

int natt_cli_unmap(const struct natt_cli_cmd *cmd)
{
	if (cmd->via == NATT_CLI_VIA_PCP)
		return natt_cli_pcp_unmap(cmd);
	if (cmd->ipv6)
		return natt_cli_upnp_pinhole_unmap(cmd);
	struct router r;
	if (router_open(cmd, &r) < 0)
		return NATT_EXIT_FAILED;
	int status = NATT_EXIT_FAILED, rc = 0;
	if (cmd->via != NATT_CLI_VIA_UPNP) {
		int64_t started = natt_now_ms();
		rc = natt_natpmp_delete(&r.gateway, cmd->protocol, cmd->private_port, NATPMP_TIMEOUT_MS, NULL);
		rc = natpmp_result(rc, started);
		if (cmd->via == NATT_CLI_VIA_NATPMP || (rc < 0 && !natpmp_absent(rc))) {
			if (rc < 0)
				natpmp_failure(&r, rc);
			else
				print_natpmp_unmapped(cmd);
			status = rc < 0 ? NATT_EXIT_FAILED : NATT_EXIT_OK;
			goto out;
		}
	}
	bool natpmp_answered = cmd->via == NATT_CLI_VIA_AUTO && rc == 0;
	int irc = igd_open(&r, natpmp_answered ? IGD_SECOND_LOOK_MS : IGD_TIMEOUT_MS);
	if (irc < 0) {
		if (natpmp_answered) {
			print_natpmp_unmapped(cmd);
			status = NATT_EXIT_OK;
		} else if (cmd->via == NATT_CLI_VIA_AUTO && irc == NATT_ERR_NO_IGD) {
			neither_failure(&r);
		} else {
			upnp_failure(&r, irc, 0);
		}
		goto out;
	}
	status = unmap_upnp(&r, natpmp_answered);
out:
	router_close(&r);
	return status;
}

/* ---- unmap-all ---- */

/* Deletes every entry of the UPnP table whose internal client is this host (the address the IGD sees
 * us as) and whose protocol is the command's. report_none: say so when there was none. */
static int unmap_all_upnp(struct router *r, bool report_none)
{
	const struct natt_cli_cmd *cmd = r->cmd;
	int code = 0;
	struct natt_igd_entry *table;
	int n = natt_igd_read_table(&r->igd, MAX_ENTRIES, &table, &code);
	if (n < 0) {
		upnp_failure(r, n, code);
		return NATT_EXIT_FAILED;
	}
	/* The whole table first, then the deletions: deleting while walking it by index would skip the
	 * entries that move down into the freed places. */
	int status = NATT_EXIT_OK, deleted = 0;
	for (int i = 0; i < n; i++) {
		const struct natt_igd_entry *e = &table[i];
		if (e->protocol != cmd->protocol || strcmp(e->internal_client, r->igd.lan_address) != 0)
			continue;
		int rc = natt_igd_delete(&r->igd, e->protocol, e->external_port, &code);
		if (rc == NATT_ERR_UPNP && (code == NATT_UPNP_NO_SUCH_ENTRY || code == NATT_UPNP_BAD_INDEX))
			continue; /* gone meanwhile (expired, or deleted by its owner) */
		if (rc < 0) {
			upnp_failure(r, rc, code);
			status = NATT_EXIT_FAILED;
			continue;
		}
		print_entry("unmapped", e, "upnp", false);
		deleted++;
	}
	if (deleted == 0 && report_none && status == NATT_EXIT_OK)
		printf("no %s mapping of %s (upnp)\n", proto_text(cmd->protocol), r->igd.lan_address);
	free(table);
	return status;
}

int natt_cli_unmap_all(const struct natt_cli_cmd *cmd)
{
	struct router r;
	if (router_open(cmd, &r) < 0)
		return NATT_EXIT_FAILED;
	int status = NATT_EXIT_FAILED, rc = 0;
	if (cmd->via != NATT_CLI_VIA_UPNP) {
		int64_t started = natt_now_ms();
		rc = natt_natpmp_unmap_all(&r.gateway, cmd->protocol, NATPMP_TIMEOUT_MS, NULL);
		rc = natpmp_result(rc, started);
		if (rc < 0 && (cmd->via == NATT_CLI_VIA_NATPMP || !natpmp_absent(rc))) {
			natpmp_failure(&r, rc);
			goto out;
		}
		if (rc == 0)
			printf("unmapped every %s port of this host (nat-pmp)\n", proto_text(cmd->protocol));
		if (cmd->via == NATT_CLI_VIA_NATPMP) {
			status = NATT_EXIT_OK;
			goto out;
		}
	}
	bool natpmp_answered = cmd->via == NATT_CLI_VIA_AUTO && rc == 0;
	int irc = igd_open(&r, natpmp_answered ? IGD_SECOND_LOOK_MS : IGD_TIMEOUT_MS);
	if (irc < 0) {
		if (natpmp_answered)
			status = NATT_EXIT_OK;
		else if (cmd->via == NATT_CLI_VIA_AUTO && irc == NATT_ERR_NO_IGD)
			neither_failure(&r);
		else
			upnp_failure(&r, irc, 0);
		goto out;
	}
	status = unmap_all_upnp(&r, !natpmp_answered);
out:
	router_close(&r);
	return status;
}

/* ---- IPv6 pinholes through UPnP IGDv2 (WANIPv6FirewallControl) ---- */

/* The IGD found over IPv4 as for every UPnP command, and the IPv6 router its pinhole requests go to
 * (miniupnpd in secure mode opens a pinhole only for the address a request comes from). */
static int pinhole_open(const struct natt_cli_cmd *cmd, struct router *r, struct sockaddr_in6 *router6,
                        char *router6_text)
{
	if (natt_cli_router6(cmd, router6, router6_text) < 0 || router_open(cmd, r) < 0)
		return -1;
	int rc = igd_open(r, IGD_TIMEOUT_MS);
	if (rc < 0) {
		upnp_failure(r, rc, 0);
		router_close(r);
		return -1;
	}
	if (!r->igd.fc_control_url[0]) {
		natt_cli_error(cmd, "the router's UPnP IGD has no WANIPv6FirewallControl service (IGDv2): no IPv6 pinholes");
		router_close(r);
		return -1;
	}
	return 0;
}

int natt_cli_upnp_pinhole_map(const struct natt_cli_cmd *cmd)
{
	struct router r;
	struct sockaddr_in6 router6;
	char router6_text[INET6_ADDRSTRLEN];
	if (pinhole_open(cmd, &r, &router6, router6_text) < 0)
		return NATT_EXIT_FAILED;
	/* WANIPv6FirewallControl allows leases of at most a day. */
	uint32_t lease = cmd->lifetime > 86400 ? 86400 : cmd->lifetime;
	uint16_t id = cmd->pinhole_id;
	struct in6_addr internal;
	int code = 0, rc;
	if (id) {
		rc = natt_igd_pinhole_update(&r.igd, &router6, NULL, id, lease, &code);
		struct sockaddr_storage local;
		if (rc == 0 && natt_local_sockaddr_toward((struct sockaddr *)&router6, sizeof(router6), &local) == 0)
			internal = ((struct sockaddr_in6 *)&local)->sin6_addr;
		else if (rc == 0)
			rc = -EADDRNOTAVAIL;
	} else {
		rc = natt_igd_pinhole_add(&r.igd, &router6, NULL, cmd->protocol, cmd->private_port, lease, &internal, &id, &code);
	}
	int status = NATT_EXIT_FAILED;
	if (rc < 0) {
		upnp_failure(&r, rc, code);
		goto out;
	}
	char text[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, &internal, text, sizeof(text));
	printf("%s [%s]:%u pinhole lifetime %u (upnp, id %u)\n", proto_text(cmd->protocol), text, cmd->private_port,
	       lease, id);
	status = NATT_EXIT_OK;
out:
	router_close(&r);
	return status;
}

int natt_cli_upnp_pinhole_unmap(const struct natt_cli_cmd *cmd)
{
	struct router r;
	struct sockaddr_in6 router6;
	char router6_text[INET6_ADDRSTRLEN];
	if (pinhole_open(cmd, &r, &router6, router6_text) < 0)
		return NATT_EXIT_FAILED;
	int code = 0, status = NATT_EXIT_FAILED;
	int rc = natt_igd_pinhole_delete(&r.igd, &router6, NULL, cmd->pinhole_id, &code);
	if (rc == NATT_ERR_UPNP && code == 704)
		natt_cli_error(cmd, "the router has no pinhole %u (UPnP error 704, NoSuchEntry)", cmd->pinhole_id);
	else if (rc < 0)
		upnp_failure(&r, rc, code);
	else {
		printf("unmapped pinhole %u (upnp)\n", cmd->pinhole_id);
		status = NATT_EXIT_OK;
	}
	router_close(&r);
	return status;
}
