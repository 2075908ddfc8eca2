/* natt, the command: shared declarations of its parts.
 *
 *   args.c     the command line, parsed into a struct natt_cli_cmd without any I/O (unit-tested)
 *   classify.c the address class words shown by `natt interfaces` (unit-tested)
 *   help.c     the help texts
 *   main.c     main(): parse, then run the command
 *   cmd_router.c   external-ip, map, unmap, unmap-all, list: NAT-PMP and UPnP IGD through the
 *                  engine's own steps (natt/natpmp.h, upnp/igd_client.h) — the command adds no
 *                  protocol code of its own
 *   cmd_upnp.c     discover, call: the UPnP low level of natt/upnp.h
 *   cmd_status.c   status: a status file as a table
 *   cmd_netinfo.c  gateway, interfaces
 *
 * Exit status of every command: 0 done, 1 the network or the router did not go along (no gateway, no
 * answer, a refusal), 2 the command line itself is wrong. */
#ifndef NATT_CLI_H
#define NATT_CLI_H

#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "natt/common.h"

enum {
	NATT_EXIT_OK = 0,
	NATT_EXIT_FAILED = 1,
	NATT_EXIT_USAGE = 2,
};

enum natt_cli_command {
	NATT_CLI_HELP = 0, /* `natt help [COMMAND]`, `natt --help`, `natt COMMAND --help` */
	NATT_CLI_VERSION,
	NATT_CLI_EXTERNAL_IP,
	NATT_CLI_MAP,
	NATT_CLI_UNMAP,
	NATT_CLI_UNMAP_ALL,
	NATT_CLI_LIST,
	NATT_CLI_DISCOVER,
	NATT_CLI_CALL,
	NATT_CLI_STATUS,
	NATT_CLI_GATEWAY,
	NATT_CLI_INTERFACES,
	NATT_CLI_COMMAND_COUNT
};

/* Which technique a router command uses: AUTO tries NAT-PMP first, UPnP IGD when the gateway does not
 * answer NAT-PMP (see natt(1), "Choosing the technique"). */
enum natt_cli_via {
	NATT_CLI_VIA_AUTO = 0,
	NATT_CLI_VIA_UPNP,
	NATT_CLI_VIA_NATPMP,
};

#define NATT_CLI_MAX_PAIRS 32
#define NATT_CLI_DEFAULT_LIFETIME 3600
#define NATT_CLI_MAX_LIFETIME 604800  /* the longest lease IGDv2 allows; NAT-PMP uses the same bound */
#define NATT_CLI_DEFAULT_TIMEOUT_MS 2000
#define NATT_CLI_MAX_TIMEOUT_MS 600000

/* NAME=VALUE of `natt call`; both point into argv (name is not NUL-terminated: name_len bytes). */
struct natt_cli_pair {
	const char *name;
	size_t name_len;
	const char *value;
};

/* A parsed command line. Strings point into argv. */
struct natt_cli_cmd {
	enum natt_cli_command command;
	enum natt_cli_command topic; /* HELP: whose help (NATT_CLI_HELP: the overview) */
	enum natt_protocol protocol; /* -u: UDP; TCP otherwise */
	uint32_t lifetime;           /* -l, seconds */
	bool have_gateway;           /* -g given */
	struct in_addr gateway;
	enum natt_cli_via via;       /* --upnp, --nat-pmp */
	uint16_t public_port;
	uint16_t private_port;
	int timeout_ms;              /* -t */
	const char *service;         /* call: a service type URN or a short name ("WANIPConnection") */
	const char *action;          /* call */
	size_t npairs;
	struct natt_cli_pair pairs[NATT_CLI_MAX_PAIRS];
	bool json;                   /* status --json */
	const char *status_file;     /* status FILE; NULL: the default path; "-": standard input */
};

/* natt_cli_parse - reads argv (argv[0] is the program) into *out. No I/O, no global state.
 * Returns 0, or -EINVAL with a one-line English message in err (no "natt: " prefix, no newline), e.g.
 *     map: "70000" is not a port (1-65535)
 * The caller prints it as "natt: <err>" and exits with NATT_EXIT_USAGE. err must hold errlen bytes
 * (errlen > 0). */
int natt_cli_parse(int argc, char **argv, struct natt_cli_cmd *out, char *err, size_t errlen);

/* The command's name as typed ("unmap-all"), or NULL for a value outside the enum. */
const char *natt_cli_command_name(enum natt_cli_command command);

/* natt_cli_parse_seconds - a duration such as "2", "0.5", "1.25" (digits, optionally a point and one
 * to three more digits) into milliseconds within [1, max_ms]. 0 or -EINVAL. */
int natt_cli_parse_seconds(const char *text, int max_ms, int *ms);

/* natt_cli_is_xml_name - whether the len bytes at s form a name as UPnP uses for actions and
 * arguments: an ASCII letter or '_' first, then letters, digits, '_', '-' or '.'. */
bool natt_cli_is_xml_name(const char *s, size_t len);

/* natt_cli_address_class - one word for the kind of address: "wildcard", "loopback", "private"
 * (RFC 1918), "shared" (RFC 6598, carrier-grade NAT), "link-local", "ula" (fc00::/7), "global", or
 * "reserved" (anything else: documentation, multicast, ...). */
const char *natt_cli_address_class(const struct sockaddr *sa);

/* help.c */
void natt_cli_print_help(enum natt_cli_command topic);

/* The commands (main.c dispatches). Each returns an exit status. */
int natt_cli_external_ip(const struct natt_cli_cmd *cmd);
int natt_cli_map(const struct natt_cli_cmd *cmd);
int natt_cli_unmap(const struct natt_cli_cmd *cmd);
int natt_cli_unmap_all(const struct natt_cli_cmd *cmd);
int natt_cli_list(const struct natt_cli_cmd *cmd);
int natt_cli_discover(const struct natt_cli_cmd *cmd);
int natt_cli_call(const struct natt_cli_cmd *cmd);
int natt_cli_status(const struct natt_cli_cmd *cmd);
int natt_cli_gateway(const struct natt_cli_cmd *cmd);
int natt_cli_interfaces(const struct natt_cli_cmd *cmd);

/* Writes s to f with every control character (and DEL) shown as '?': text from the network or from a
 * file must not drive the terminal. */
void natt_cli_put_text(FILE *f, const char *s);

/* "natt: COMMAND: <message>\n" on stderr. */
__attribute__((format(printf, 2, 3))) void natt_cli_error(const struct natt_cli_cmd *cmd, const char *fmt, ...);

#endif
