/* persistent — drives libnatt's persistent mappings from stdin for the tests.
 *     persistent tcp|udp LOCAL_PORT nat-pmp|pcp|upnp|any LIFETIME REFRESH [REQUESTED_PORT|any]
 * The callback prints "mapping EXTERNAL_PORT LIFETIME EXTERNAL_ADDRESS", or "unmapped" when the
 * mapping is lost or stopped. Commands, one reply line each:
 *     current   "current EXTERNAL_PORT EXTERNAL_ADDRESS" or "none"
 *     refresh   "ok"
 *     stop      "stopped RC" (after the callback's "unmapped" when a mapping was reported); the program
 *               goes on reading commands
 *     threads   "threads N": the threads of this process (1 once natt's thread has ended)
 *     exit      returns from main without stopping (natt deletes the mapping at exit) */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <natt.h>

#include "threads.h"

static void on_mapping(struct natt_persistent *p, const struct natt_mapping *m, const struct in_addr *external,
                       void *ctx)
{
	(void)p;
	(void)ctx;
	char address[INET_ADDRSTRLEN] = "?";
	if (!m || !external) {
		printf("unmapped\n");
	} else {
		inet_ntop(AF_INET, external, address, sizeof(address));
		printf("mapping %u %u %s\n", m->external_port, m->lifetime, address);
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: persistent tcp|udp PORT nat-pmp|pcp|upnp|any LIFETIME REFRESH [REQUESTED|any]\n");
		return 2;
	}
	struct natt_persistent_options o = {
		.lifetime = (uint32_t)atoi(argv[4]),
		.refresh_interval = (uint32_t)atoi(argv[5]),
		.requested_port = argc > 6 && strcmp(argv[6], "any") ? (uint16_t)atoi(argv[6]) : NATT_PORT_ANY,
		.technique = !strcmp(argv[3], "nat-pmp") ? NATT_TECH_NATPMP
		             : !strcmp(argv[3], "pcp")   ? NATT_TECH_PCP
		             : !strcmp(argv[3], "upnp")  ? NATT_TECH_UPNP
		                                         : NATT_TECH_LOCAL,
	};
	struct natt_persistent *p;
	int rc = natt_persistent_create(!strcmp(argv[1], "udp") ? NATT_UDP : NATT_TCP, (uint16_t)atoi(argv[2]), &o,
	                                on_mapping, NULL, &p);
	if (rc < 0) {
		printf("error %s\n", natt_strerror(rc));
		return 1;
	}
	char line[64];
	while (fgets(line, sizeof(line), stdin)) {
		if (!strncmp(line, "current", 7)) {
			struct natt_mapping m;
			struct in_addr external;
			char address[INET_ADDRSTRLEN];
			if (p && natt_persistent_current(p, &m, &external) == 0)
				printf("current %u %s\n", m.external_port,
				       inet_ntop(AF_INET, &external, address, sizeof(address)));
			else
				printf("none\n");
		} else if (!strncmp(line, "refresh", 7)) {
			/* "ok" goes out first: the callback the refresh causes comes after it */
			printf("%s\n", p ? "ok" : "error");
			fflush(stdout);
			natt_persistent_refresh(p);
		} else if (!strncmp(line, "stop", 4)) {
			printf("stopped %d\n", natt_persistent_stop(p, 5000));
			p = NULL;
		} else if (!strncmp(line, "threads", 7)) {
			printf("threads %d\n", thread_count());
		} else if (!strncmp(line, "exit", 4)) {
			return 0;
		}
		fflush(stdout);
	}
	return 0;
}
