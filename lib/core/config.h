/* The configuration of the engine: NATT_* environment variables read once (config.c). */
#ifndef NATT_CONFIG_H
#define NATT_CONFIG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "natt/common.h"
#include "util/parse.h"

#define NATT_DEFAULT_LIFETIME 3600
#define NATT_MAX_LIFETIME 604800

struct natt_config {
	char status_path[4096];       /* "" = no status file */
	uint32_t lifetime;            /* requested lease, seconds */
	enum natt_technique order[NATT_TECH_COUNT];
	size_t order_count;
	struct natt_port_set ports;   /* empty = every port */
	bool have_gateway;            /* NATT_GATEWAY given */
	struct in_addr gateway;
	bool verbose;                 /* human lines on stderr for each change */
	char on_change[1024];         /* command run on each change ("" = none) */
	uint32_t verify_interval;     /* seconds between checks that the router still has our
	                                 mappings (0 = only announcements and renewals) */
};

#define NATT_DEFAULT_VERIFY_INTERVAL 300

/* Fills cfg from NATT_* environment variables; each bad value is reported once on stderr (the user set
 * it, so they asked to hear about it) and replaced by its default. Never fails. */
void natt_config_from_env(struct natt_config *cfg);
void natt_config_defaults(struct natt_config *cfg);
/* Default status file: $XDG_RUNTIME_DIR/natt/status.json, else /tmp/natt-UID/status.json. */
void natt_default_status_path(char *buf, size_t len);

#endif
