/* Configuration from NATT_* environment variables (set by natt-run, or by hand). natt-run checks
 * every value before it starts the program; here a bad value is reported once and replaced by its
 * default, because the program must run whatever the environment says. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "util/log.h"

/* Environment variables are not trusted in a program that gained privileges (setuid, file
 * capabilities: AT_SECURE), where the shim may run through /etc/ld.so.preload: there secure_getenv()
 * says "unset" and natt keeps its defaults. */
void natt_default_status_path(char *buf, size_t len)
{
	/* Another user's runtime directory (sudo keeps XDG_RUNTIME_DIR) is not ours to write in. */
	const char *runtime = secure_getenv("XDG_RUNTIME_DIR");
	struct stat st;
	if (runtime && runtime[0] == '/' && stat(runtime, &st) == 0 && S_ISDIR(st.st_mode) &&
	    st.st_uid == geteuid() && snprintf(buf, len, "%s/natt/status.json", runtime) < (int)len)
		return;
	snprintf(buf, len, "/tmp/natt-%u/status.json", (unsigned)geteuid());
}

void natt_config_defaults(struct natt_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->lifetime = NATT_DEFAULT_LIFETIME;
	/* All are asked at once and the order chooses among those that answer (README, "Which technique").
	 * UPnP first: miniupnpd (2.3.1) renews a NAT-PMP or PCP mapping by replacing it, and drops the
	 * firewall rule of the port's other protocol on the way, so a server on one port over TCP and UDP
	 * loses one at its first renewal; UPnP renews in place. PCP before NAT-PMP: one exchange a
	 * mapping, deletes bound to the mapping's nonce. */
	cfg->order[0] = NATT_TECH_UPNP;
	cfg->order[1] = NATT_TECH_PCP;
	cfg->order[2] = NATT_TECH_NATPMP;
	cfg->order_count = 3;
	cfg->verify_interval = NATT_DEFAULT_VERIFY_INTERVAL;
}

static void bad_value(const char *name, const char *value, const char *why)
{
	/* Printed whatever NATT_LOG says: the user set the variable and would otherwise never learn
	 * that it had no effect. */
	natt_say("ignoring %s=\"%s\": %s", name, value, why);
}

static void bad_value_long(const char *name, size_t max)
{
	natt_say("ignoring %s: longer than %zu bytes", name, max);
}

static const char *set_value(const char *name)
{
	const char *value = secure_getenv(name);
	return value && value[0] ? value : NULL;
}

void natt_config_from_env(struct natt_config *cfg)
{
	natt_config_defaults(cfg);
	const char *v;
	struct natt_parse_error err;

	if ((v = set_value("NATT_LOG"))) {
		int level = natt_parse_log_level(v);
		if (level < 0)
			bad_value("NATT_LOG", v, "expected error, warn, info or debug");
		else
			natt_log_set_level(level);
	}
	/* A value too long for its buffer is refused, never cut: a shortened path or command is another
	 * one than the user wrote. */
	if ((v = set_value("NATT_STATUS_FILE")) && strlen(v) >= sizeof(cfg->status_path)) {
		bad_value_long("NATT_STATUS_FILE", sizeof(cfg->status_path) - 1);
		v = NULL;
	}
	if (v)
		snprintf(cfg->status_path, sizeof(cfg->status_path), "%s", v);
	else
		natt_default_status_path(cfg->status_path, sizeof(cfg->status_path));
	if ((v = set_value("NATT_LIFETIME"))) {
		unsigned long lifetime;
		if (natt_parse_ulong(v, 1, NATT_MAX_LIFETIME, &lifetime) < 0)
			bad_value("NATT_LIFETIME", v, "expected seconds from 1 to 604800");
		else
			cfg->lifetime = (uint32_t)lifetime;
	}
	if ((v = set_value("NATT_PROTOCOLS"))) {
		enum natt_technique order[NATT_TECH_COUNT];
		size_t count = 0;
		if (natt_parse_techniques_ex(v, order, NATT_TECH_COUNT, &count, &err) < 0) {
			bad_value("NATT_PROTOCOLS", v, err.reason ? err.reason : "expected a list such as upnp,pcp,nat-pmp");
		} else {
			memcpy(cfg->order, order, count * sizeof(order[0]));
			cfg->order_count = count;
		}
	}
	if ((v = set_value("NATT_PORTS"))) {
		if (natt_port_set_parse_ex(v, &cfg->ports, &err) < 0) {
			bad_value("NATT_PORTS", v, err.reason ? err.reason : "expected a list such as 8000,9000-9010");
			cfg->ports.count = 0;
		}
	}
	if ((v = set_value("NATT_GATEWAY"))) {
		if (inet_pton(AF_INET, v, &cfg->gateway) != 1)
			bad_value("NATT_GATEWAY", v, "expected an IPv4 address");
		else
			cfg->have_gateway = true;
	}
	if ((v = set_value("NATT_VERIFY_INTERVAL"))) {
		unsigned long seconds;
		if (natt_parse_ulong(v, 0, 86400, &seconds) < 0)
			bad_value("NATT_VERIFY_INTERVAL", v, "expected seconds from 0 to 86400");
		else
			cfg->verify_interval = (uint32_t)seconds;
	}
	if ((v = set_value("NATT_VERBOSE")))
		cfg->verbose = strcmp(v, "0") != 0;
	if ((v = set_value("NATT_ON_CHANGE"))) {
		if (strlen(v) >= sizeof(cfg->on_change))
			bad_value_long("NATT_ON_CHANGE", sizeof(cfg->on_change) - 1);
		else
			snprintf(cfg->on_change, sizeof(cfg->on_change), "%s", v);
	}
}
