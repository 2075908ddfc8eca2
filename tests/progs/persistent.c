/* persistent — drives libnatt's persistent mappings from stdin for the tests.
 *     persistent tcp|udp LOCAL_PORT nat-pmp|upnp|any LIFETIME REFRESH [REQUESTED_PORT]
 * prints "mapping EXTERNAL_PORT LIFETIME" from the callback; commands: current, refresh, stop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <natt.h>

static void on_mapping(struct natt_persistent *p, const struct natt_mapping *m, void *ctx)
{
	(void)p;
	(void)ctx;
	printf("mapping %u %u\n", m->external_port, m->lifetime);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: persistent tcp|udp PORT nat-pmp|upnp|any LIFETIME REFRESH [REQUESTED]\n");
		return 2;
	}
	struct natt_persistent_options o = {
		.lifetime = (uint32_t)atoi(argv[4]),
		.refresh_interval = (uint32_t)atoi(argv[5]),
		.requested_port = argc > 6 ? (uint16_t)atoi(argv[6]) : 0,
		.technique = !strcmp(argv[3], "nat-pmp") ? NATT_TECH_NATPMP
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
			if (natt_persistent_current(p, &m) == 0)
				printf("current %u\n", m.external_port);
			else
				printf("none\n");
		} else if (!strncmp(line, "refresh", 7)) {
			natt_persistent_refresh(p);
			printf("ok\n");
		} else if (!strncmp(line, "stop", 4)) {
			printf("stopped %d\n", natt_persistent_stop(p, 5000));
			return 0;
		}
		fflush(stdout);
	}
	return 0;
}
