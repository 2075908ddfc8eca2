/* natt, the command: shared declarations of its parts.
 *
 *   args.c         the command line, parsed into a struct natt_cli_cmd without any I/O (unit-tested)
 *   classify.c     the address class words shown by `natt interfaces` (unit-tested)
 *   help.c         the help texts
 *   main.c         main(): parse, then run the command
 *   cmd_router.c   external-ip, map, unmap, unmap-all, list: NAT-PMP and UPnP IGD through the
 *                  engine's own steps (natt/natpmp.h, upnp/igd_client.h) — the command adds no
 *                  protocol code of its own
 *   cmd_pcp.c      the same commands over PCP (natt/pcp.h), IPv4 mappings and IPv6 pinholes
 *   cmd_upnp.c     discover, call: the UPnP low level of natt/upnp.h
 *   cmd_status.c   status: a status file as a table
 *   cmd_follow.c   wait, status --follow: a status file's changes as they happen (inotify)
 *   cmd_netinfo.c  gateway, interfaces
 *   cmd_watch.c    watch: publishing another process's sockets from outside it (lib/outside/)
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
	NATT_CLI_WAIT,
	NATT_CLI_GATEWAY,
	NATT_CLI_INTERFACES,
	NATT_CLI_WATCH,
	NATT_CLI_COMMAND_COUNT
};

/* Which technique a router command uses: AUTO tries NAT-PMP first, UPnP IGD when the gateway does not
 * answer NAT-PMP (see natt(1), "Choosing the technique"); an IPv6 pinhole (-6) is PCP's. */
enum natt_cli_via {
	NATT_CLI_VIA_AUTO = 0,
	NATT_CLI_VIA_UPNP,
	NATT_CLI_VIA_NATPMP,
	NATT_CLI_VIA_PCP,
};

#define NATT_CLI_MAX_PAIRS 32
#define NATT_CLI_DEFAULT_LIFETIME 3600
#define NATT_CLI_MAX_LIFETIME 604800  /* the longest lease IGDv2 allows; NAT-PMP uses the same bound */
#define NATT_CLI_DEFAULT_TIMEOUT_MS 2000
#define NATT_CLI_MAX_TIMEOUT_MS 600000
#define NATT_CLI_MAX_WAIT_MS 86400000 /* natt wait --timeout: one day */

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
	bool have_gateway;           /* -g given with an IPv4 address */
	struct in_addr gateway;
	bool have_gateway6;          /* -g given with an IPv6 address (only with -6) */
	struct in6_addr gateway6;
	enum natt_cli_via via;       /* --upnp, --nat-pmp, --pcp */
	bool ipv6;                   /* -6: an IPv6 pinhole (public port = private port) */
	uint16_t pinhole_id;         /* --id: a UPnP pinhole's UniqueID (0: none given) */
	bool have_nonce;             /* --nonce given */
	uint8_t nonce[12];           /* PCP mapping nonce */
	uint16_t public_port;
	uint16_t private_port;
	int timeout_ms;              /* -t; wait: 0 when not given (no limit) */
	const char *service;         /* call: a service type URN or a short name ("WANIPConnection") */
	const char *action;          /* call */
	size_t npairs;
	struct natt_cli_pair pairs[NATT_CLI_MAX_PAIRS];
	bool json;                   /* status --json */
	bool follow;                 /* status --follow */
	bool have_port;              /* wait --port given */
	uint16_t port;               /* wait --port: the local port of the socket waited for */
	const char *status_file;     /* status, wait FILE; NULL: the default path; "-": standard input;
	                                watch --status */
	/* watch: --pid PID, or a command to start (natt-run's way in) */
	long watch_pid;              /* 0: none */
	char **exec_argv;            /* the command and its arguments (NULL-terminated, in argv) */
	bool verbose;                /* -v */
	bool outside;                /* --outside: from outside even where LD_PRELOAD would work */
	bool no_seccomp;             /* --no-seccomp: learn of sockets by looking only */
	const char *shim;            /* --shim LIB: the preload library for the programs it can enter */
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
/* The IPv6 pinholes natt's processes keep open, from the status file (natt list). */
void natt_cli_print_pinholes(const struct natt_cli_cmd *cmd);
int natt_cli_discover(const struct natt_cli_cmd *cmd);
int natt_cli_call(const struct natt_cli_cmd *cmd);
int natt_cli_status(const struct natt_cli_cmd *cmd);
int natt_cli_wait(const struct natt_cli_cmd *cmd);
int natt_cli_follow(const struct natt_cli_cmd *cmd);

/* cmd_status.c, for cmd_follow.c: the file the command reads (FILE, $NATT_STATUS_FILE, else natt-run's
 * default; buf holds the default), and a whole file read into text (0 or -errno; -EFBIG beyond 16 MiB). */
struct natt_buf;
const char *natt_cli_status_path(const struct natt_cli_cmd *cmd, char *buf, size_t len);
int natt_cli_read_fd(int fd, struct natt_buf *text);
/* Whether the process pid is known to be gone (a stale entry of the status file). */
bool natt_cli_process_gone(long long pid);
int natt_cli_gateway(const struct natt_cli_cmd *cmd);
int natt_cli_interfaces(const struct natt_cli_cmd *cmd);
int natt_cli_watch(const struct natt_cli_cmd *cmd);

/* SIGPIPE's disposition as natt found it (main.c sets the default): what a command started by natt
 * watch gets back. */
#include <signal.h>
extern struct sigaction natt_cli_sigpipe_at_start;

/* cmd_pcp.c: the router commands over PCP (--pcp, -6), called by those of cmd_router.c. */
int natt_cli_pcp_external_ip(const struct natt_cli_cmd *cmd);
int natt_cli_pcp_map(const struct natt_cli_cmd *cmd);
int natt_cli_pcp_unmap(const struct natt_cli_cmd *cmd);

/* cmd_router.c: IPv6 pinholes through UPnP IGDv2 (map -6 --upnp, unmap -6 --upnp). */
int natt_cli_upnp_pinhole_map(const struct natt_cli_cmd *cmd);
int natt_cli_upnp_pinhole_unmap(const struct natt_cli_cmd *cmd);

/* cmd_pcp.c: the IPv6 router to talk to for -6: -g, else the IPv6 default router. Prints why not and
 * returns -1. text receives it printable (INET6_ADDRSTRLEN bytes). */
int natt_cli_router6(const struct natt_cli_cmd *cmd, struct sockaddr_in6 *router, char *text);

/* cmd_router.c: a line on stderr when the router's external address is private or shared (the router
 * is itself behind another NAT) or 0.0.0.0. */
void natt_cli_note_double_nat(const struct natt_cli_cmd *cmd, struct in_addr external);

/* Writes s to f with every control character (and DEL) shown as '?': text from the network or from a
 * file must not drive the terminal. */
void natt_cli_put_text(FILE *f, const char *s);

/* "natt: COMMAND: <message>\n" on stderr. */
__attribute__((format(printf, 2, 3))) void natt_cli_error(const struct natt_cli_cmd *cmd, const char *fmt, ...);

#endif
