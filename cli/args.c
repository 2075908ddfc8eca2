/* The command line of natt, parsed without I/O so that tests/unit/test_cli.c can check every case.
 *
 * Syntax (py-natpmp's client for map): options and operands may be mixed; short options cluster
 * ("-ul 1800") and take their value attached or as the next word ("-l1800", "-l 1800"); long options
 * take it after '=' or as the next word; "--" ends the options. -h/--help anywhere asks for the
 * command's help instead of running it. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "util/parse.h"

#define BIT(c) (1u << (c))
#define ALL_COMMANDS (BIT(NATT_CLI_COMMAND_COUNT) - 1u)
#define ROUTER_COMMANDS (BIT(NATT_CLI_EXTERNAL_IP) | BIT(NATT_CLI_MAP) | BIT(NATT_CLI_UNMAP) | BIT(NATT_CLI_UNMAP_ALL))

static const char *const command_names[NATT_CLI_COMMAND_COUNT] = {
	[NATT_CLI_HELP] = "help",
	[NATT_CLI_VERSION] = "version",
	[NATT_CLI_EXTERNAL_IP] = "external-ip",
	[NATT_CLI_MAP] = "map",
	[NATT_CLI_UNMAP] = "unmap",
	[NATT_CLI_UNMAP_ALL] = "unmap-all",
	[NATT_CLI_LIST] = "list",
	[NATT_CLI_DISCOVER] = "discover",
	[NATT_CLI_CALL] = "call",
	[NATT_CLI_STATUS] = "status",
	[NATT_CLI_WAIT] = "wait",
	[NATT_CLI_GATEWAY] = "gateway",
	[NATT_CLI_INTERFACES] = "interfaces",
	[NATT_CLI_WATCH] = "watch",
};

enum option_id {
	OPT_HELP,
	OPT_UDP,
	OPT_LIFETIME,
	OPT_GATEWAY,
	OPT_UPNP,
	OPT_NATPMP,
	OPT_TIMEOUT,
	OPT_JSON,
	OPT_FOLLOW,
	OPT_PORT,
	OPT_PID,
	OPT_STATUS,
	OPT_VERBOSE,
	OPT_OUTSIDE,
	OPT_NO_SECCOMP,
	OPT_SHIM,
	OPT_PCP,
	OPT_IPV6,
	OPT_NONCE,
	OPT_ID,
};

struct option_spec {
	enum option_id id;
	char short_name;       /* 0: none */
	const char *long_name;
	bool takes_value;
	unsigned commands;     /* BIT() of the commands that accept it */
};

static const struct option_spec option_specs[] = {
	{ OPT_HELP, 'h', "help", false, ALL_COMMANDS },
	{ OPT_UDP, 'u', "udp", false, BIT(NATT_CLI_MAP) | BIT(NATT_CLI_UNMAP) | BIT(NATT_CLI_UNMAP_ALL) },
	{ OPT_LIFETIME, 'l', "lifetime", true, BIT(NATT_CLI_MAP) },
	{ OPT_GATEWAY, 'g', "gateway", true, ROUTER_COMMANDS | BIT(NATT_CLI_LIST) },
	{ OPT_UPNP, 0, "upnp", false, ROUTER_COMMANDS },
	{ OPT_NATPMP, 0, "nat-pmp", false, ROUTER_COMMANDS },
	{ OPT_NATPMP, 0, "natpmp", false, ROUTER_COMMANDS },
	{ OPT_TIMEOUT, 't', "timeout", true, BIT(NATT_CLI_DISCOVER) | BIT(NATT_CLI_CALL) | BIT(NATT_CLI_WAIT) },
	{ OPT_JSON, 0, "json", false, BIT(NATT_CLI_STATUS) },
	{ OPT_FOLLOW, 'f', "follow", false, BIT(NATT_CLI_STATUS) },
	{ OPT_PORT, 'p', "port", true, BIT(NATT_CLI_WAIT) },
	{ OPT_PID, 0, "pid", true, BIT(NATT_CLI_WATCH) },
	{ OPT_STATUS, 0, "status", true, BIT(NATT_CLI_WATCH) | BIT(NATT_CLI_LIST) },
	{ OPT_VERBOSE, 'v', "verbose", false, BIT(NATT_CLI_WATCH) },
	{ OPT_OUTSIDE, 0, "outside", false, BIT(NATT_CLI_WATCH) },
	{ OPT_NO_SECCOMP, 0, "no-seccomp", false, BIT(NATT_CLI_WATCH) },
	{ OPT_SHIM, 0, "shim", true, BIT(NATT_CLI_WATCH) },
	{ OPT_PCP, 0, "pcp", false, BIT(NATT_CLI_EXTERNAL_IP) | BIT(NATT_CLI_MAP) | BIT(NATT_CLI_UNMAP) },
	{ OPT_IPV6, '6', "ipv6", false, BIT(NATT_CLI_MAP) | BIT(NATT_CLI_UNMAP) },
	{ OPT_NONCE, 0, "nonce", true, BIT(NATT_CLI_MAP) | BIT(NATT_CLI_UNMAP) },
	{ OPT_ID, 0, "id", true, BIT(NATT_CLI_MAP) | BIT(NATT_CLI_UNMAP) },
};
#define OPTION_COUNT (sizeof(option_specs) / sizeof(option_specs[0]))

const char *natt_cli_command_name(enum natt_cli_command command)
{
	if ((unsigned)command >= NATT_CLI_COMMAND_COUNT)
		return NULL;
	return command_names[command];
}

bool natt_cli_is_xml_name(const char *s, size_t len)
{
	if (!s || len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
		bool other = (c >= '0' && c <= '9') || c == '-' || c == '.';
		if (!letter && (i == 0 || !other))
			return false;
	}
	return true;
}

int natt_cli_parse_seconds(const char *text, int max_ms, int *ms)
{
	if (!text || !ms)
		return -EINVAL;
	const char *point = strchr(text, '.');
	size_t whole_len = point ? (size_t)(point - text) : strlen(text);
	char whole[16];
	if (whole_len == 0 || whole_len >= sizeof(whole))
		return -EINVAL;
	memcpy(whole, text, whole_len);
	whole[whole_len] = '\0';
	unsigned long seconds;
	if (natt_parse_ulong(whole, 0, (unsigned long)max_ms / 1000 + 1, &seconds) < 0)
		return -EINVAL;
	unsigned long millis = 0;
	if (point) {
		const char *frac = point + 1;
		size_t n = strlen(frac);
		if (n < 1 || n > 3 || natt_parse_ulong(frac, 0, 999, &millis) < 0)
			return -EINVAL;
		for (size_t i = n; i < 3; i++)
			millis *= 10;
	}
	unsigned long total = seconds * 1000 + millis;
	if (total < 1 || total > (unsigned long)max_ms)
		return -EINVAL;
	*ms = (int)total;
	return 0;
}

/* ---- the parser's state and its error messages ---- */

struct parser {
	struct natt_cli_cmd *cmd;
	const char *name; /* the command's name, prefix of every message */
	char *err;
	size_t errlen;
	bool via_upnp, via_natpmp, via_pcp;
};

__attribute__((format(printf, 2, 3))) static int usage_error(struct parser *p, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (p->name)
		snprintf(p->err, p->errlen, "%s: %s", p->name, text);
	else
		snprintf(p->err, p->errlen, "%s", text);
	return -EINVAL;
}

static int unknown_option(struct parser *p, const char *word)
{
	return usage_error(p, "unknown option \"%s\" (see natt %s --help)", word, p->name);
}

static int parse_port(struct parser *p, const char *text, uint16_t *port)
{
	unsigned long value;
	if (natt_parse_ulong(text, 1, 65535, &value) < 0)
		return usage_error(p, "\"%s\" is not a port (1-65535)", text);
	*port = (uint16_t)value;
	return 0;
}

static int apply_option(struct parser *p, const struct option_spec *opt, const char *shown, const char *value)
{
	struct natt_cli_cmd *cmd = p->cmd;
	unsigned long number;
	switch (opt->id) {
	case OPT_HELP:
		break; /* handled by the caller */
	case OPT_UDP:
		cmd->protocol = NATT_UDP;
		break;
	case OPT_LIFETIME:
		if (natt_parse_ulong(value, 1, NATT_CLI_MAX_LIFETIME, &number) < 0)
			return usage_error(p, "\"%s\" is not a lifetime (1-%u seconds)", value, NATT_CLI_MAX_LIFETIME);
		cmd->lifetime = (uint32_t)number;
		break;
	case OPT_GATEWAY:
		if (inet_pton(AF_INET6, value, &cmd->gateway6) == 1) {
			if (IN6_IS_ADDR_UNSPECIFIED(&cmd->gateway6) || IN6_IS_ADDR_MULTICAST(&cmd->gateway6) ||
			    IN6_IS_ADDR_V4MAPPED(&cmd->gateway6) || IN6_IS_ADDR_LINKLOCAL(&cmd->gateway6))
				return usage_error(p, "\"%s\" cannot be a gateway's address (a link-local router is "
				                      "found by itself: leave out %s)", value, shown);
			cmd->have_gateway6 = true;
			break;
		}
		if (inet_pton(AF_INET, value, &cmd->gateway) != 1)
			return usage_error(p, "\"%s\" is not an IP address (%s GATEWAY)", value, shown);
		if (cmd->gateway.s_addr == htonl(INADDR_ANY) || cmd->gateway.s_addr == htonl(INADDR_BROADCAST) ||
		    IN_MULTICAST(ntohl(cmd->gateway.s_addr)))
			return usage_error(p, "\"%s\" cannot be a gateway's address", value);
		cmd->have_gateway = true;
		break;
	case OPT_UPNP:
		p->via_upnp = true;
		cmd->via = NATT_CLI_VIA_UPNP;
		break;
	case OPT_NATPMP:
		p->via_natpmp = true;
		cmd->via = NATT_CLI_VIA_NATPMP;
		break;
	case OPT_TIMEOUT: {
		int max_ms = cmd->command == NATT_CLI_WAIT ? NATT_CLI_MAX_WAIT_MS : NATT_CLI_MAX_TIMEOUT_MS;
		if (natt_cli_parse_seconds(value, max_ms, &cmd->timeout_ms) < 0)
			return usage_error(p, "\"%s\" is not a time in seconds (such as 2 or 0.5; at most %d)", value,
			            max_ms / 1000);
		break;
	}
	case OPT_JSON:
		cmd->json = true;
		break;
	case OPT_FOLLOW:
		cmd->follow = true;
		break;
	case OPT_PORT:
		if (parse_port(p, value, &cmd->port) < 0)
			return -EINVAL;
		cmd->have_port = true;
		break;
	case OPT_PID:
		if (natt_parse_ulong(value, 1, 0x7fffffff, &number) < 0)
			return usage_error(p, "\"%s\" is not a process id", value);
		cmd->watch_pid = (long)number;
		break;
	case OPT_STATUS:
		if (!value[0])
			return usage_error(p, "the status file name is empty");
		cmd->status_file = value;
		break;
	case OPT_VERBOSE:
		cmd->verbose = true;
		break;
	case OPT_OUTSIDE:
		cmd->outside = true;
		break;
	case OPT_NO_SECCOMP:
		cmd->no_seccomp = true;
		break;
	case OPT_SHIM:
		cmd->shim = value;
		break;
	case OPT_PCP:
		p->via_pcp = true;
		cmd->via = NATT_CLI_VIA_PCP;
		break;
	case OPT_IPV6:
		cmd->ipv6 = true;
		break;
	case OPT_ID:
		if (natt_parse_ulong(value, 1, 65535, &number) < 0)
			return usage_error(p, "\"%s\" is not a pinhole ID (1-65535)", value);
		cmd->pinhole_id = (uint16_t)number;
		break;
	case OPT_NONCE:
		if (strlen(value) != 2 * sizeof(cmd->nonce))
			return usage_error(p, "\"%s\" is not a nonce (%zu hex digits)", value, 2 * sizeof(cmd->nonce));
		for (size_t i = 0; i < sizeof(cmd->nonce); i++) {
			unsigned byte;
			if (!isxdigit((unsigned char)value[2 * i]) || !isxdigit((unsigned char)value[2 * i + 1]) ||
			    sscanf(value + 2 * i, "%2x", &byte) != 1)
				return usage_error(p, "\"%s\" is not a nonce (%zu hex digits)", value,
				                   2 * sizeof(cmd->nonce));
			cmd->nonce[i] = (uint8_t)byte;
		}
		cmd->have_nonce = true;
		break;
	}
	return 0;
}

static const struct option_spec *find_long(const char *name, size_t len)
{
	for (size_t i = 0; i < OPTION_COUNT; i++)
		if (strlen(option_specs[i].long_name) == len && memcmp(option_specs[i].long_name, name, len) == 0)
			return &option_specs[i];
	return NULL;
}

static const struct option_spec *find_short(char c)
{
	for (size_t i = 0; i < OPTION_COUNT; i++)
		if (option_specs[i].short_name == c)
			return &option_specs[i];
	return NULL;
}

static bool accepts(const struct parser *p, const struct option_spec *opt)
{
	return opt && (opt->commands & BIT(p->cmd->command));
}

/* One option word at argv[*i] (which starts with '-' and is not "-" or "--"). *help is set for -h.
 * May consume the next word as the value. */
static int parse_option_word(struct parser *p, int argc, char **argv, int *i, bool *help)
{
	const char *word = argv[*i];
	if (word[1] == '-') {
		const char *name = word + 2;
		const char *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		const struct option_spec *opt = find_long(name, len);
		if (!accepts(p, opt)) {
			char shown[64];
			snprintf(shown, sizeof(shown), "--%.*s", (int)(len < 40 ? len : 40), name);
			return unknown_option(p, eq ? shown : word);
		}
		if (opt->id == OPT_HELP) {
			*help = true;
			return 0;
		}
		char shown[48];
		snprintf(shown, sizeof(shown), "--%s", opt->long_name);
		const char *value = NULL;
		if (opt->takes_value) {
			if (eq) {
				value = eq + 1;
			} else if (*i + 1 < argc) {
				value = argv[++*i];
			} else {
				return usage_error(p, "option %s needs a value", shown);
			}
		} else if (eq) {
			return usage_error(p, "option %s takes no value", shown);
		}
		return apply_option(p, opt, shown, value);
	}
	for (const char *c = word + 1; *c; c++) {
		const struct option_spec *opt = find_short(*c);
		char shown[3] = { '-', *c, '\0' };
		if (!accepts(p, opt))
			return unknown_option(p, shown);
		if (opt->id == OPT_HELP) {
			*help = true;
			return 0;
		}
		if (!opt->takes_value) {
			int rc = apply_option(p, opt, shown, NULL);
			if (rc < 0)
				return rc;
			continue;
		}
		const char *value;
		if (c[1]) {
			value = c + 1;
		} else if (*i + 1 < argc) {
			value = argv[++*i];
		} else {
			return usage_error(p, "option %s needs a value", shown);
		}
		return apply_option(p, opt, shown, value);
	}
	return 0;
}

/* ---- operands ---- */

static int parse_pair(struct parser *p, const char *word)
{
	struct natt_cli_cmd *cmd = p->cmd;
	const char *eq = strchr(word, '=');
	if (!eq)
		return usage_error(p, "\"%s\" is not NAME=VALUE", word);
	size_t len = (size_t)(eq - word);
	if (!natt_cli_is_xml_name(word, len))
		return usage_error(p, "\"%.*s\" is not an argument name (in \"%s\")", (int)len, word, word);
	for (size_t i = 0; i < cmd->npairs; i++)
		if (cmd->pairs[i].name_len == len && memcmp(cmd->pairs[i].name, word, len) == 0)
			return usage_error(p, "argument %.*s is given twice", (int)len, word);
	if (cmd->npairs == NATT_CLI_MAX_PAIRS)
		return usage_error(p, "too many arguments (at most %d NAME=VALUE)", NATT_CLI_MAX_PAIRS);
	cmd->pairs[cmd->npairs++] = (struct natt_cli_pair){ .name = word, .name_len = len, .value = eq + 1 };
	return 0;
}

/* A service as `natt call` takes it: a URN "urn:DOMAIN:service:NAME:VERSION" (version optional) or a
 * short name such as WANIPConnection. */
static bool service_ok(const char *s)
{
	if (!s[0])
		return false;
	bool urn = strncasecmp(s, "urn:", 4) == 0;
	size_t colons = 0;
	for (const char *c = s; *c; c++) {
		unsigned char ch = (unsigned char)*c;
		if (ch == ':')
			colons++;
		else if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		           ch == '_' || ch == '.'))
			return false;
	}
	if (!urn)
		return colons == 0;
	return (colons == 3 || colons == 4) && s[strlen(s) - 1] != ':' && strstr(s, "::") == NULL;
}

static int parse_operands(struct parser *p, char **words, size_t n)
{
	struct natt_cli_cmd *cmd = p->cmd;
	size_t max = 0;
	switch (cmd->command) {
	case NATT_CLI_MAP:
	case NATT_CLI_UNMAP:
		if (cmd->ipv6 && (n == 1 || n == 2)) {
			/* A pinhole opens the port itself: one PORT, or the same port twice. */
			if (parse_port(p, words[0], &cmd->public_port) < 0 ||
			    parse_port(p, words[n - 1], &cmd->private_port) < 0)
				return -EINVAL;
			if (cmd->public_port != cmd->private_port)
				return usage_error(p, "an IPv6 pinhole opens the port itself: PUBLIC_PORT %u must equal "
				                      "PRIVATE_PORT %u (or give one PORT)", cmd->public_port, cmd->private_port);
			max = 2;
			break;
		}
		if (n == 0)
			return usage_error(p, "missing PUBLIC_PORT and PRIVATE_PORT (see natt %s --help)", p->name);
		if (n == 1)
			return usage_error(p, "missing PRIVATE_PORT after PUBLIC_PORT %s (see natt %s --help)", words[0], p->name);
		if (parse_port(p, words[0], &cmd->public_port) < 0 || parse_port(p, words[1], &cmd->private_port) < 0)
			return -EINVAL;
		max = 2;
		break;
	case NATT_CLI_CALL:
		if (n == 0)
			return usage_error(p, "missing SERVICE and ACTION (see natt call --help)");
		if (n == 1)
			return usage_error(p, "missing ACTION after SERVICE %s (see natt call --help)", words[0]);
		if (!service_ok(words[0]))
			return usage_error(p, "\"%s\" is neither a service type (urn:schemas-upnp-org:service:NAME:VERSION) "
			               "nor a short name such as WANIPConnection", words[0]);
		if (!natt_cli_is_xml_name(words[1], strlen(words[1])))
			return usage_error(p, "\"%s\" is not an action name", words[1]);
		cmd->service = words[0];
		cmd->action = words[1];
		for (size_t i = 2; i < n; i++)
			if (parse_pair(p, words[i]) < 0)
				return -EINVAL;
		return 0;
	case NATT_CLI_STATUS:
	case NATT_CLI_WAIT:
		if (n >= 1) {
			if (!words[0][0])
				return usage_error(p, "the status file name is empty");
			cmd->status_file = words[0];
		}
		max = 1;
		break;
	default:
		break;
	}
	if (n > max)
		return usage_error(p, "unexpected argument \"%s\" (see natt %s --help)", words[max], p->name);
	return 0;
}

static int lookup_command(const char *word)
{
	for (int c = 0; c < NATT_CLI_COMMAND_COUNT; c++)
		if (strcmp(command_names[c], word) == 0)
			return c;
	return -1;
}

int natt_cli_parse(int argc, char **argv, struct natt_cli_cmd *out, char *err, size_t errlen)
{
	struct parser p = { .cmd = out, .err = err, .errlen = errlen };
	memset(out, 0, sizeof(*out));
	out->command = NATT_CLI_HELP;
	out->topic = NATT_CLI_HELP;
	out->protocol = NATT_TCP;
	out->lifetime = NATT_CLI_DEFAULT_LIFETIME;
	out->via = NATT_CLI_VIA_AUTO;
	out->timeout_ms = NATT_CLI_DEFAULT_TIMEOUT_MS;
	if (errlen)
		err[0] = '\0';

	if (argc < 2 || !argv[1])
		return usage_error(&p, "no command given (see natt help)");
	const char *first = argv[1];
	if (strcmp(first, "-h") == 0 || strcmp(first, "--help") == 0) {
		if (argc > 2)
			return usage_error(&p, "unexpected argument \"%s\" after %s", argv[2], first);
		return 0;
	}
	if (strcmp(first, "--version") == 0 || strcmp(first, "-V") == 0) {
		if (argc > 2)
			return usage_error(&p, "unexpected argument \"%s\" after %s", argv[2], first);
		out->command = NATT_CLI_VERSION;
		return 0;
	}
	if (first[0] == '-')
		return usage_error(&p, "unknown option \"%s\" (see natt help)", first);
	int command = lookup_command(first);
	if (command < 0)
		return usage_error(&p, "\"%s\" is not a natt command (see natt help)", first);
	out->command = (enum natt_cli_command)command;
	p.name = command_names[command];
	if (out->command == NATT_CLI_WAIT)
		out->timeout_ms = 0; /* no limit unless --timeout */

	if (out->command == NATT_CLI_HELP) {
		if (argc > 3)
			return usage_error(&p, "unexpected argument \"%s\"", argv[3]);
		if (argc == 3 && strcmp(argv[2], "-h") != 0 && strcmp(argv[2], "--help") != 0) {
			int topic = lookup_command(argv[2]);
			if (topic < 0)
				return usage_error(&p, "\"%s\" is not a natt command", argv[2]);
			out->topic = (enum natt_cli_command)topic;
		}
		return 0;
	}

	/* -h or --help anywhere among the options wins over every other word: "natt map 70000 --help"
	 * shows the help rather than complaining about the port. */
	for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			out->topic = out->command;
			out->command = NATT_CLI_HELP;
			return 0;
		}
	}

	char *operands[64 + NATT_CLI_MAX_PAIRS];
	size_t noperands = 0;
	bool options_done = false;
	for (int i = 2; i < argc; i++) {
		char *word = argv[i];
		if (!options_done && strcmp(word, "--") == 0) {
			options_done = true;
			if (out->command == NATT_CLI_WATCH) {
				out->exec_argv = argv + i + 1; /* the command's own words, whatever they look like */
				break;
			}
			continue;
		}
		if (out->command == NATT_CLI_WATCH && !(word[0] == '-' && word[1])) {
			out->exec_argv = argv + i;
			break;
		}
		if (!options_done && word[0] == '-' && word[1]) {
			bool help = false;
			if (parse_option_word(&p, argc, argv, &i, &help) < 0)
				return -EINVAL;
			if (help) {
				out->topic = out->command;
				out->command = NATT_CLI_HELP;
				return 0;
			}
			continue;
		}
		if (noperands == sizeof(operands) / sizeof(operands[0]))
			return usage_error(&p, "too many arguments");
		operands[noperands++] = word;
	}
	if (p.via_upnp + p.via_natpmp + p.via_pcp > 1)
		return usage_error(&p, "--upnp, --nat-pmp and --pcp exclude each other");
	if (out->ipv6 && out->via == NATT_CLI_VIA_AUTO)
		out->via = NATT_CLI_VIA_PCP; /* one datagram; UPnP IGDv2 pinholes when asked with --upnp */
	if (out->ipv6 && out->via == NATT_CLI_VIA_NATPMP)
		return usage_error(&p, "-6 (an IPv6 pinhole) goes through PCP or UPnP IGDv2, not NAT-PMP");
	if (out->pinhole_id && !(out->ipv6 && out->via == NATT_CLI_VIA_UPNP))
		return usage_error(&p, "--id goes with -6 --upnp");
	if (out->command == NATT_CLI_UNMAP && out->ipv6 && out->via == NATT_CLI_VIA_UPNP && !out->pinhole_id)
		return usage_error(&p, "deleting a UPnP pinhole needs its --id N (natt map -6 --upnp prints it)");
	if (out->have_gateway6 && !out->ipv6)
		return usage_error(&p, "an IPv6 GATEWAY is for IPv6 pinholes (-6)");
	if (out->have_gateway && out->ipv6)
		return usage_error(&p, "-6 needs the router's IPv6 address as GATEWAY");
	if (out->have_gateway6 && out->ipv6 && out->via == NATT_CLI_VIA_UPNP)
		return usage_error(&p, "-6 --upnp finds the router through the IPv4 default route; -g is for PCP");
	if (out->have_nonce && out->via != NATT_CLI_VIA_PCP)
		return usage_error(&p, "--nonce goes with --pcp (or -6)");
	if (out->command == NATT_CLI_UNMAP && out->via == NATT_CLI_VIA_PCP && !out->have_nonce)
		return usage_error(&p, "deleting over PCP needs the mapping's --nonce HEX (natt map --pcp prints it)");
	if (out->command == NATT_CLI_WATCH) {
		if (out->exec_argv && !out->exec_argv[0])
			out->exec_argv = NULL;
		if (!out->watch_pid == !out->exec_argv)
			return usage_error(&p, out->watch_pid ? "--pid and a command exclude each other"
			                                      : "give --pid PID or a command (see natt watch --help)");
		if (out->watch_pid && (out->outside || out->no_seccomp || out->shim))
			return usage_error(&p, "--outside, --no-seccomp and --shim are for a command it starts");
	}
	int rc = parse_operands(&p, operands, noperands);
	if (rc == 0 && (out->command == NATT_CLI_WAIT || out->follow) && out->status_file &&
	    strcmp(out->status_file, "-") == 0)
		return usage_error(&p, "standard input (\"-\") cannot be watched: give the status file's path");
	return rc;
}
