/* The router commands over PCP (RFC 6887): external-ip --pcp, map --pcp, unmap --pcp, and IPv6
 * pinholes (-6). Every protocol step is libnatt's (natt/pcp.h); this file picks the server and
 * says what happened in words.
 *
 * PCP knows a mapping by its nonce: map prints it, and unmap must give it back (--nonce), since a
 * server refuses to delete a mapping for anyone else. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "natt/net.h"
#include "natt/pcp.h"

/* A LAN server answers within milliseconds; 7 s leave room for PCP's one retransmission at ~3 s. */
#define PCP_TIMEOUT_MS NATT_PCP_DEFAULT_TIMEOUT_MS

struct server {
	struct sockaddr_storage addr;
	char text[INET6_ADDRSTRLEN];
};

static const char *proto_text(enum natt_protocol protocol)
{
	return protocol == NATT_UDP ? "udp" : "tcp";
}

static int routing_failure(const struct natt_cli_cmd *cmd, int rc)
{
	if (rc == NATT_ERR_NO_GATEWAY)
		natt_cli_error(cmd, "no %s default gateway (give the router's address with -g GATEWAY)",
		               cmd->ipv6 ? "IPv6" : "IPv4");
	else
		natt_cli_error(cmd, "cannot read the routing table: %s", natt_strerror(rc));
	return -1;
}

int natt_cli_router6(const struct natt_cli_cmd *cmd, struct sockaddr_in6 *router, char *text)
{
	memset(router, 0, sizeof(*router));
	int rc = 0;
	if (cmd->have_gateway6) {
		router->sin6_family = AF_INET6;
		router->sin6_addr = cmd->gateway6;
	} else {
		rc = natt_gateway_ipv6(router);
	}
	if (rc < 0)
		return routing_failure(cmd, rc);
	natt_addr_format((struct sockaddr *)router, text, INET6_ADDRSTRLEN);
	return 0;
}

/* -g, else the default router of the family asked for. Prints why not and returns -1. */
static int server_open(const struct natt_cli_cmd *cmd, struct server *s)
{
	memset(s, 0, sizeof(*s));
	int rc = 0;
	if (cmd->ipv6) {
		return natt_cli_router6(cmd, (struct sockaddr_in6 *)&s->addr, s->text);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&s->addr;
		sin->sin_family = AF_INET;
		if (cmd->have_gateway)
			sin->sin_addr = cmd->gateway;
		else
			rc = natt_gateway_ipv4(&sin->sin_addr, NULL);
	}
	if (rc < 0)
		return routing_failure(cmd, rc);
	natt_addr_format((struct sockaddr *)&s->addr, s->text, sizeof(s->text));
	return 0;
}

static void pcp_failure(const struct natt_cli_cmd *cmd, const struct server *s, int rc,
                        const struct natt_pcp_info *info)
{
	if (rc == NATT_ERR_NO_GATEWAY) {
		natt_cli_error(cmd, "no PCP answer from %s within %d s", s->text, PCP_TIMEOUT_MS / 1000);
	} else if (rc == NATT_ERR_UNSUPPORTED && info->result == NATT_PCP_SUCCESS) {
		natt_cli_error(cmd, "the gateway %s does not offer PCP", s->text);
	} else if (rc == NATT_ERR_UNSUPPORTED && info->result == NATT_PCP_UNSUPP_VERSION && info->version == 0) {
		natt_cli_error(cmd, "the gateway %s speaks NAT-PMP, not PCP (PCP result UNSUPP_VERSION): use --nat-pmp",
		               s->text);
	} else if (rc <= NATT_ERR_NO_GATEWAY && rc >= NATT_ERR_STOPPED && rc != NATT_ERR_BAD_REPLY) {
		natt_cli_error(cmd, "the router refused: PCP result %u %s (%s)", info->result,
		               natt_pcp_result_name(info->result), natt_pcp_result_text(info->result));
	} else if (rc == NATT_ERR_BAD_REPLY) {
		natt_cli_error(cmd, "the router's PCP answer could not be understood");
	} else {
		natt_cli_error(cmd, "PCP: %s", natt_strerror(rc));
	}
}

static void format_nonce(const uint8_t *nonce, char *out)
{
	for (int i = 0; i < NATT_PCP_NONCE_SIZE; i++)
		sprintf(out + 2 * i, "%02x", nonce[i]);
}

/* A local port nobody uses right now (the kernel's choice for an unbound UDP socket), for the
 * short mapping external-ip makes. */
static uint16_t unused_udp_port(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	uint16_t port = 0;
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	if (fd >= 0)
		close(fd);
	return port ? port : 9;
}

int natt_cli_pcp_external_ip(const struct natt_cli_cmd *cmd)
{
	struct server s;
	if (server_open(cmd, &s) < 0)
		return NATT_EXIT_FAILED;
	struct sockaddr_storage external;
	struct natt_pcp_info info = { 0 };
	int rc = natt_pcp_external_address((struct sockaddr *)&s.addr, unused_udp_port(), PCP_TIMEOUT_MS, &external,
	                                   &info);
	if (rc < 0) {
		pcp_failure(cmd, &s, rc, &info);
		return NATT_EXIT_FAILED;
	}
	char text[INET6_ADDRSTRLEN];
	printf("%s\n", natt_addr_format((struct sockaddr *)&external, text, sizeof(text)));
	if (external.ss_family == AF_INET) {
		natt_cli_note_double_nat(cmd, ((struct sockaddr_in *)&external)->sin_addr);
	}
	return NATT_EXIT_OK;
}

int natt_cli_pcp_map(const struct natt_cli_cmd *cmd)
{
	struct server s;
	if (server_open(cmd, &s) < 0)
		return NATT_EXIT_FAILED;
	uint8_t nonce[NATT_PCP_NONCE_SIZE];
	if (cmd->have_nonce) {
		memcpy(nonce, cmd->nonce, sizeof(nonce));
	} else {
		int rc = natt_pcp_new_nonce(nonce);
		if (rc < 0) {
			natt_cli_error(cmd, "no random nonce: %s", natt_strerror(rc));
			return NATT_EXIT_FAILED;
		}
	}
	struct natt_pcp_mapping m;
	struct natt_pcp_info info = { 0 };
	int rc = natt_pcp_map((struct sockaddr *)&s.addr, NULL, cmd->protocol, cmd->private_port,
	                      cmd->ipv6 ? 0 : cmd->public_port, cmd->lifetime, nonce, PCP_TIMEOUT_MS, &m, &info);
	if (rc < 0) {
		pcp_failure(cmd, &s, rc, &info);
		return NATT_EXIT_FAILED;
	}
	char ext[INET6_ADDRSTRLEN], internal[INET6_ADDRSTRLEN], hex[2 * NATT_PCP_NONCE_SIZE + 1];
	natt_addr_format((struct sockaddr *)&m.external, ext, sizeof(ext));
	natt_addr_format((struct sockaddr *)&m.internal, internal, sizeof(internal));
	format_nonce(nonce, hex);
	uint16_t ext_port = m.external.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&m.external)->sin_port)
	                                                     : ntohs(((struct sockaddr_in6 *)&m.external)->sin6_port);
	if (cmd->ipv6)
		printf("%s [%s]:%u pinhole lifetime %u (pcp, nonce %s)\n", proto_text(cmd->protocol), internal, ext_port,
		       m.lifetime, hex);
	else
		printf("%s %s:%u -> %s:%u lifetime %u (pcp, nonce %s)\n", proto_text(cmd->protocol), ext, ext_port,
		       internal, cmd->private_port, m.lifetime, hex);
	if (m.external.ss_family == AF_INET)
		natt_cli_note_double_nat(cmd, ((struct sockaddr_in *)&m.external)->sin_addr);
	return NATT_EXIT_OK;
}

int natt_cli_pcp_unmap(const struct natt_cli_cmd *cmd)
{
	struct server s;
	if (server_open(cmd, &s) < 0)
		return NATT_EXIT_FAILED;
	struct natt_pcp_info info = { 0 };
	int rc = natt_pcp_delete((struct sockaddr *)&s.addr, NULL, cmd->protocol, cmd->private_port, cmd->nonce,
	                         PCP_TIMEOUT_MS, &info);
	if (rc == NATT_ERR_RESOURCES && info.result == NATT_PCP_NO_RESOURCES) {
		/* miniupnpd's answer when it has no such mapping (RFC 6887 would say SUCCESS). */
		natt_cli_error(cmd, "the router has no %s %s of local port %u (PCP result 8 NO_RESOURCES)",
		               proto_text(cmd->protocol), cmd->ipv6 ? "pinhole" : "mapping", cmd->private_port);
		return NATT_EXIT_FAILED;
	}
	if (rc == NATT_ERR_REFUSED && info.result == NATT_PCP_NOT_AUTHORIZED) {
		natt_cli_error(cmd, "the router refused: PCP result 2 NOT_AUTHORIZED (the %s of local port %u was "
		                    "made with another nonce)", cmd->ipv6 ? "pinhole" : "mapping", cmd->private_port);
		return NATT_EXIT_FAILED;
	}
	if (rc < 0) {
		pcp_failure(cmd, &s, rc, &info);
		return NATT_EXIT_FAILED;
	}
	printf("unmapped %s local port %u (pcp%s)\n", proto_text(cmd->protocol), cmd->private_port,
	       cmd->ipv6 ? ", ipv6 pinhole" : "");
	return NATT_EXIT_OK;
}
