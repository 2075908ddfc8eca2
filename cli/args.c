/* The command line of natt, parsed without I/O so that tests/unit/test_cli.c can check every case.
 *
 * Syntax (py-natpmp's client for map): options and operands may be mixed; short options cluster
 * ("-ul 1800") and take their value attached or as the next word ("-l1800", "-l 1800"); long options
 * take it after '=' or as the next word; "--" ends the options. -h/--help anywhere asks for the
 * command's help instead of running it. */
#include <arpa/inet.h>
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
	[NATT_CLI_GATEWAY] = "gateway",
	[NATT_CLI_INTERFACES] = "interfaces",
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
	{ OPT_TIMEOUT, 't', "timeout", true, BIT(NATT_CLI_DISCOVER) | BIT(NATT_CLI_CALL) },
	{ OPT_JSON, 0, "json", false, BIT(NATT_CLI_STATUS) },
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
	bool via_upnp, via_natpmp;
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
		if (inet_pton(AF_INET, value, &cmd->gateway) != 1)
			return usage_error(p, "\"%s\" is not an IPv4 address (%s GATEWAY)", value, shown);
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
	case OPT_TIMEOUT:
		if (natt_cli_parse_seconds(value, NATT_CLI_MAX_TIMEOUT_MS, &cmd->timeout_ms) < 0)
			return usage_error(p, "\"%s\" is not a time in seconds (such as 2 or 0.5; at most %d)", value,
			            NATT_CLI_MAX_TIMEOUT_MS / 1000);
		break;
	case OPT_JSON:
		cmd->json = true;
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
			continue;
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
	if (p.via_upnp && p.via_natpmp)
		return usage_error(&p, "--upnp and --nat-pmp exclude each other");
	return parse_operands(&p, operands, noperands);
}
