/* igdctl — drives libnatt's UPnP IGD calls (natt/igd.h) for tests/bats/20-upnp-lowlevel.bats: finds
 * the IGD once, then runs each command given, in order, on that one handle.
 *
 *   igdctl [-g GATEWAY] [-t MS] COMMAND...
 *     info                                   igd SERVICE_TYPE internal ADDRESS any-port yes|no
 *     external                               external ADDRESS
 *     map tcp|udp INTERNAL EXTERNAL LIFETIME  mapped PROTO EXTERNAL -> ADDRESS:INTERNAL lifetime L
 *     get tcp|udp EXTERNAL                   entry PROTO EXTERNAL -> CLIENT:PORT lease L "DESCRIPTION"
 *     list                                   one entry line each, then: count N
 *     unmap tcp|udp EXTERNAL                 unmapped PROTO EXTERNAL
 *     pinhole tcp|udp PORT LIFETIME          pinhole PROTO [ADDRESS]:PORT id ID (IPv6, default router)
 *     repin ID LIFETIME                      repinned ID lifetime L
 *     unpin ID                               unpinned ID
 *
 * A failing command prints "COMMAND: what went wrong" (with the UPnP code and its meaning when the
 * router refused) and ends the program with status 1; bad usage gives status 2. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <natt.h>

static int timeout_ms = 2000;

/* Says why command failed; returns -2, run()'s "it failed". */
static int fail(const char *command, int rc, int upnp_code)
{
	if (rc == NATT_ERR_UPNP)
		printf("%s: UPnP error %d (%s)\n", command, upnp_code, natt_upnp_error_text(upnp_code));
	else
		printf("%s: %s\n", command, natt_strerror(rc));
	return -2;
}

static const char *proto_text(enum natt_protocol p)
{
	return p == NATT_UDP ? "udp" : "tcp";
}

static int parse_proto(const char *s, enum natt_protocol *p)
{
	if (strcmp(s, "tcp") == 0)
		*p = NATT_TCP;
	else if (strcmp(s, "udp") == 0)
		*p = NATT_UDP;
	else
		return -1;
	return 0;
}

static void print_entry(const struct natt_upnp_igd_entry *e)
{
	printf("entry %s %u -> %s:%u lease %u \"%s\"\n", proto_text(e->mapping.protocol), e->mapping.external_port,
	       e->internal_client, e->mapping.internal_port, e->mapping.lifetime, e->description);
}

/* Runs the command at argv[0]; returns how many words it took, or -1 (usage) / -2 (it failed). */
static int run(struct natt_upnp_igd *igd, int argc, char **argv)
{
	const char *cmd = argv[0];
	int code = 0, rc;
	enum natt_protocol proto;
	char text[INET_ADDRSTRLEN];
	if (strcmp(cmd, "info") == 0) {
		struct natt_upnp_igd_info info;
		if ((rc = natt_upnp_igd_info(igd, &info)) < 0)
			return fail(cmd, rc, 0);
		printf("igd %s internal %s any-port %s\n", info.service_type,
		       inet_ntop(AF_INET, &info.internal, text, sizeof(text)), info.any_port ? "yes" : "no");
		return 1;
	}
	if (strcmp(cmd, "external") == 0) {
		struct in_addr ext;
		if ((rc = natt_upnp_igd_external_address(igd, timeout_ms, &ext, &code)) < 0)
			return fail(cmd, rc, code);
		printf("external %s\n", inet_ntop(AF_INET, &ext, text, sizeof(text)));
		return 1;
	}
	if (strcmp(cmd, "list") == 0) {
		struct natt_upnp_igd_entry *entries;
		size_t n;
		if ((rc = natt_upnp_igd_list(igd, timeout_ms, &entries, &n, &code)) < 0)
			return fail(cmd, rc, code);
		for (size_t i = 0; i < n; i++)
			print_entry(&entries[i]);
		printf("count %zu\n", n);
		free(entries);
		return 1;
	}
	if (strcmp(cmd, "repin") == 0 && argc >= 3) {
		uint16_t id = (uint16_t)atoi(argv[1]);
		uint32_t lifetime = (uint32_t)strtoul(argv[2], NULL, 10);
		if ((rc = natt_upnp_igd_update_pinhole(igd, NULL, id, lifetime, timeout_ms, &code)) < 0)
			return fail(cmd, rc, code);
		printf("repinned %u lifetime %u\n", id, lifetime);
		return 3;
	}
	if (strcmp(cmd, "unpin") == 0 && argc >= 2) {
		uint16_t id = (uint16_t)atoi(argv[1]);
		if ((rc = natt_upnp_igd_delete_pinhole(igd, NULL, id, timeout_ms, &code)) < 0)
			return fail(cmd, rc, code);
		printf("unpinned %u\n", id);
		return 2;
	}
	if (argc < 3 || parse_proto(argv[1], &proto) < 0)
		return -1;
	if (strcmp(cmd, "pinhole") == 0 && argc >= 4) {
		struct in6_addr internal;
		uint16_t id;
		char text6[INET6_ADDRSTRLEN];
		rc = natt_upnp_igd_add_pinhole(igd, NULL, proto, (uint16_t)atoi(argv[2]), (uint32_t)strtoul(argv[3], NULL, 10),
		                               timeout_ms, &internal, &id, &code);
		if (rc < 0)
			return fail(cmd, rc, code);
		printf("pinhole %s [%s]:%s id %u\n", proto_text(proto), inet_ntop(AF_INET6, &internal, text6, sizeof(text6)),
		       argv[2], id);
		return 4;
	}
	uint16_t external = (uint16_t)atoi(argv[strcmp(cmd, "map") == 0 ? 3 : 2]);
	if (strcmp(cmd, "get") == 0) {
		struct natt_upnp_igd_entry e;
		if ((rc = natt_upnp_igd_get_mapping(igd, proto, external, timeout_ms, &e, &code)) < 0)
			return fail(cmd, rc, code);
		print_entry(&e);
		return 3;
	}
	if (strcmp(cmd, "unmap") == 0) {
		if ((rc = natt_upnp_igd_unmap(igd, proto, external, timeout_ms, &code)) < 0)
			return fail(cmd, rc, code);
		printf("unmapped %s %u\n", proto_text(proto), external);
		return 3;
	}
	if (strcmp(cmd, "map") == 0 && argc >= 5) {
		struct natt_mapping m;
		rc = natt_upnp_igd_map(igd, proto, (uint16_t)atoi(argv[2]), external, (uint32_t)strtoul(argv[4], NULL, 10),
		                       "igdctl", timeout_ms, &m, &code);
		if (rc < 0)
			return fail(cmd, rc, code);
		printf("mapped %s %u -> %s:%u lifetime %u\n", proto_text(m.protocol), m.external_port,
		       inet_ntop(AF_INET, &((struct sockaddr_in *)&m.internal_address)->sin_addr, text, sizeof(text)),
		       m.internal_port, m.lifetime);
		return 5;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct in_addr gateway;
	const struct in_addr *gw = NULL;
	int opt;
	while ((opt = getopt(argc, argv, "g:t:")) != -1) {
		if (opt == 'g' && inet_pton(AF_INET, optarg, &gateway) == 1)
			gw = &gateway;
		else if (opt == 't' && atoi(optarg) > 0)
			timeout_ms = atoi(optarg);
		else
			return 2;
	}
	if (optind == argc)
		return 2;
	struct natt_upnp_igd *igd;
	int rc = natt_upnp_igd_find(gw, timeout_ms, &igd);
	if (rc < 0) {
		fail("find", rc, 0);
		return 1;
	}
	int status = 0;
	for (int i = optind; i < argc && status == 0;) {
		int used = run(igd, argc - i, argv + i);
		if (used == -1) {
			fprintf(stderr, "igdctl: bad command at \"%s\"\n", argv[i]);
			status = 2;
		} else if (used < 0) {
			status = 1;
		} else {
			i += used;
		}
		fflush(stdout);
	}
	natt_upnp_igd_close(igd);
	return status;
}
