/* Unit tests of the natt command's argument parsing (cli/args.c) and address classes
 * (cli/classify.c): every error case gives exit-2 material (a -EINVAL and one clear line), and
 * py-natpmp's client command lines mean what they meant there.
 *
 * The build links unit tests with libnatt.a only, so the two cli sources are compiled in here. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../cli/args.c"
#include "../../cli/classify.c"

#define MAX_WORDS 64

/* Parses a NULL-terminated list of words after "natt"; copies them so that argv is writable as
 * main()'s is. */
struct line {
	char storage[MAX_WORDS][128];
	char *argv[MAX_WORDS + 2];
	int argc;
	struct natt_cli_cmd cmd;
	char err[640];
	int rc;
};

static struct line L;

static int parse_words(const char *const *words)
{
	memset(&L, 0, sizeof(L));
	L.argv[L.argc++] = (char *)"natt";
	for (size_t i = 0; words[i]; i++) {
		assert_true(i < MAX_WORDS);
		snprintf(L.storage[i], sizeof(L.storage[i]), "%s", words[i]);
		L.argv[L.argc++] = L.storage[i];
	}
	L.argv[L.argc] = NULL;
	memset(L.err, 'x', sizeof(L.err) - 1);
	L.rc = natt_cli_parse(L.argc, L.argv, &L.cmd, L.err, sizeof(L.err));
	return L.rc;
}

#define PARSE(...) parse_words((const char *const[]){ __VA_ARGS__, NULL })
#define PARSE_NOTHING() parse_words((const char *const[]){ NULL })

/* The line must be accepted. */
#define OK(...)                                                                                    \
	do {                                                                                       \
		if (PARSE(__VA_ARGS__) != 0)                                                       \
			fail_msg("refused: %s", L.err);                                            \
		assert_string_equal(L.err, "");                                                    \
	} while (0)

/* The line must be refused with exactly this message. */
#define BAD(message, ...)                                                                          \
	do {                                                                                       \
		assert_int_equal(PARSE(__VA_ARGS__), -EINVAL);                                     \
		assert_string_equal(L.err, message);                                               \
	} while (0)

/* The line must be refused; its message must contain this text (and be one line). */
#define BAD_LIKE(part, ...)                                                                        \
	do {                                                                                       \
		assert_int_equal(PARSE(__VA_ARGS__), -EINVAL);                                     \
		if (!strstr(L.err, part))                                                          \
			fail_msg("message \"%s\" lacks \"%s\"", L.err, part);                      \
		assert_null(strchr(L.err, '\n'));                                                  \
	} while (0)

static const char *gateway_text(void)
{
	static char text[INET_ADDRSTRLEN];
	return inet_ntop(AF_INET, &L.cmd.gateway, text, sizeof(text));
}

/* ---- py-natpmp's client lines ---- */

static void test_py_natpmp_examples(void **state)
{
	(void)state;
	/* natpmp-client.py -u -l 1800 60009 60009 */
	OK("map", "-u", "-l", "1800", "60009", "60009");
	assert_int_equal(L.cmd.command, NATT_CLI_MAP);
	assert_int_equal(L.cmd.protocol, NATT_UDP);
	assert_int_equal(L.cmd.lifetime, 1800);
	assert_int_equal(L.cmd.public_port, 60009);
	assert_int_equal(L.cmd.private_port, 60009);
	assert_false(L.cmd.have_gateway);
	assert_int_equal(L.cmd.via, NATT_CLI_VIA_AUTO);

	/* natpmp-client.py -g 10.0.1.1 60011 60022 */
	OK("map", "-g", "10.0.1.1", "60011", "60022");
	assert_int_equal(L.cmd.protocol, NATT_TCP);
	assert_int_equal(L.cmd.lifetime, NATT_CLI_DEFAULT_LIFETIME);
	assert_true(L.cmd.have_gateway);
	assert_string_equal(gateway_text(), "10.0.1.1");
	assert_int_equal(L.cmd.public_port, 60011);
	assert_int_equal(L.cmd.private_port, 60022);
}

static void test_map_defaults(void **state)
{
	(void)state;
	OK("map", "8000", "8001");
	assert_int_equal(L.cmd.protocol, NATT_TCP);
	assert_int_equal(L.cmd.lifetime, 3600);
	assert_int_equal(L.cmd.via, NATT_CLI_VIA_AUTO);
	assert_false(L.cmd.have_gateway);
	assert_int_equal(L.cmd.public_port, 8000);
	assert_int_equal(L.cmd.private_port, 8001);
	OK("map", "1", "65535"); /* both ends of the range */
	assert_int_equal(L.cmd.public_port, 1);
	assert_int_equal(L.cmd.private_port, 65535);
	OK("map", "00080", "080"); /* leading zeros are decimal */
	assert_int_equal(L.cmd.public_port, 80);
	assert_int_equal(L.cmd.private_port, 80);
}

static void test_option_spellings(void **state)
{
	(void)state;
	/* Clustered, attached, separate, long with '=' and with the next word: all the same. */
	static const char *const forms[][5] = {
		{ "-ul1800", NULL },
		{ "-ul", "1800", NULL },
		{ "-u", "-l1800", NULL },
		{ "--udp", "--lifetime=1800", NULL },
		{ "--udp", "--lifetime", "1800", NULL },
	};
	for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
		const char *words[10] = { "map" };
		size_t n = 1;
		for (size_t i = 0; forms[f][i]; i++)
			words[n++] = forms[f][i];
		words[n++] = "5000";
		words[n++] = "5001";
		words[n] = NULL;
		if (parse_words(words) != 0)
			fail_msg("form %zu refused: %s", f, L.err);
		assert_int_equal(L.cmd.protocol, NATT_UDP);
		assert_int_equal(L.cmd.lifetime, 1800);
		assert_int_equal(L.cmd.public_port, 5000);
	}
	/* Options after the operands (optparse allows it), and "--" ends the options. */
	OK("map", "5000", "5001", "-u", "--gateway=192.168.1.1");
	assert_int_equal(L.cmd.protocol, NATT_UDP);
	assert_string_equal(gateway_text(), "192.168.1.1");
	OK("map", "-g", "192.168.1.1", "--", "5000", "5001");
	assert_int_equal(L.cmd.public_port, 5000);
	BAD("map: \"-u\" is not a port (1-65535)", "map", "--", "-u", "5001");
	/* The last value wins. */
	OK("map", "-l", "10", "-l", "20", "1", "2");
	assert_int_equal(L.cmd.lifetime, 20);
	OK("map", "-l", "604800", "1", "2");
	assert_int_equal(L.cmd.lifetime, 604800);
	OK("map", "-l", "1", "1", "2");
	assert_int_equal(L.cmd.lifetime, 1);
}

static void test_technique_options(void **state)
{
	(void)state;
	OK("map", "--upnp", "1", "2");
	assert_int_equal(L.cmd.via, NATT_CLI_VIA_UPNP);
	OK("map", "--nat-pmp", "1", "2");
	assert_int_equal(L.cmd.via, NATT_CLI_VIA_NATPMP);
	OK("map", "--natpmp", "1", "2");
	assert_int_equal(L.cmd.via, NATT_CLI_VIA_NATPMP);
	OK("external-ip", "--upnp");
	assert_int_equal(L.cmd.command, NATT_CLI_EXTERNAL_IP);
	assert_int_equal(L.cmd.via, NATT_CLI_VIA_UPNP);
	OK("external-ip", "-g", "10.0.0.138", "--nat-pmp");
	assert_int_equal(L.cmd.via, NATT_CLI_VIA_NATPMP);
	assert_string_equal(gateway_text(), "10.0.0.138");
	OK("unmap", "-u", "--upnp", "1", "2");
	assert_int_equal(L.cmd.command, NATT_CLI_UNMAP);
	assert_int_equal(L.cmd.protocol, NATT_UDP);
	OK("unmap-all", "-u", "-g", "10.0.0.1");
	assert_int_equal(L.cmd.command, NATT_CLI_UNMAP_ALL);
	assert_int_equal(L.cmd.protocol, NATT_UDP);
	OK("unmap-all", "--nat-pmp");
	assert_int_equal(L.cmd.protocol, NATT_TCP);
	OK("list", "-g", "10.0.0.1");
	assert_int_equal(L.cmd.command, NATT_CLI_LIST);
	BAD("map: --upnp, --nat-pmp and --pcp exclude each other", "map", "--upnp", "--nat-pmp", "1", "2");
	BAD("external-ip: --upnp, --nat-pmp and --pcp exclude each other", "external-ip", "--natpmp", "--upnp");
}

static void test_pcp_options(void **state)
{
	(void)state;
	OK("map", "--pcp", "8000", "8001");
	assert_int_equal(L.cmd.via, NATT_CLI_VIA_PCP);
	assert_false(L.cmd.ipv6);
	assert_false(L.cmd.have_nonce);
	assert_int_equal(L.cmd.public_port, 8000);
	assert_int_equal(L.cmd.private_port, 8001);
	OK("external-ip", "--pcp", "-g", "10.0.0.1");
	assert_int_equal(L.cmd.via, NATT_CLI_VIA_PCP);
	/* -6 alone means PCP; one PORT, or the same twice. */
	OK("map", "-6", "9600");
	assert_int_equal(L.cmd.via, NATT_CLI_VIA_PCP);
	assert_true(L.cmd.ipv6);
	assert_int_equal(L.cmd.public_port, 9600);
	assert_int_equal(L.cmd.private_port, 9600);
	OK("map", "--ipv6", "-u", "--pcp", "9600", "9600");
	assert_int_equal(L.cmd.protocol, NATT_UDP);
	OK("map", "-6", "-g", "2001:db8:1::1", "9600");
	assert_true(L.cmd.have_gateway6);
	assert_false(L.cmd.have_gateway);
	char text[INET6_ADDRSTRLEN];
	assert_string_equal(inet_ntop(AF_INET6, &L.cmd.gateway6, text, sizeof(text)), "2001:db8:1::1");
	OK("unmap", "-6", "--nonce", "0102030405060708090a0B0c", "9600");
	assert_true(L.cmd.have_nonce);
	const uint8_t want[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	assert_memory_equal(L.cmd.nonce, want, 12);
	OK("unmap", "--pcp", "--nonce=ffffffffffffffffffffffff", "1", "2");
	BAD("map: --upnp, --nat-pmp and --pcp exclude each other", "map", "--pcp", "--nat-pmp", "1", "2");
	BAD("map: -6 (an IPv6 pinhole) goes through PCP or UPnP IGDv2, not NAT-PMP", "map", "-6", "--nat-pmp", "1");
	OK("map", "-6", "--upnp", "9600");
	assert_int_equal(L.cmd.via, NATT_CLI_VIA_UPNP);
	assert_int_equal(L.cmd.pinhole_id, 0);
	OK("map", "-6", "--upnp", "--id", "7", "9600");
	assert_int_equal(L.cmd.pinhole_id, 7);
	OK("unmap", "-6", "--upnp", "--id=65535", "9600");
	assert_int_equal(L.cmd.pinhole_id, 65535);
	BAD("unmap: deleting a UPnP pinhole needs its --id N (natt map -6 --upnp prints it)", "unmap", "-6", "--upnp",
	    "9600");
	BAD("map: --id goes with -6 --upnp", "map", "--id", "7", "1", "2");
	BAD("map: --id goes with -6 --upnp", "map", "-6", "--id", "7", "1");
	BAD("map: \"0\" is not a pinhole ID (1-65535)", "map", "-6", "--upnp", "--id", "0", "1");
	BAD("map: -6 --upnp finds the router through the IPv4 default route; -g is for PCP", "map", "-6", "--upnp",
	    "-g", "2001:db8::1", "1");
	BAD("map: -6 needs the router's IPv6 address as GATEWAY", "map", "-6", "-g", "10.0.0.1", "1");
	BAD("map: an IPv6 GATEWAY is for IPv6 pinholes (-6)", "map", "--pcp", "-g", "2001:db8::1", "1", "2");
	BAD("map: --nonce goes with --pcp (or -6)", "map", "--nonce", "0102030405060708090a0b0c", "1", "2");
	BAD("unmap: deleting over PCP needs the mapping's --nonce HEX (natt map --pcp prints it)", "unmap", "-6",
	    "9600");
	BAD("map: \"0102\" is not a nonce (24 hex digits)", "map", "--pcp", "--nonce", "0102", "1", "2");
	BAD("map: \"01020304050607080910111g\" is not a nonce (24 hex digits)", "map", "--pcp", "--nonce",
	    "01020304050607080910111g", "1", "2");
	BAD("map: \"0x02030405060708091011121\" is not a nonce (24 hex digits)", "map", "--pcp", "--nonce",
	    "0x02030405060708091011121", "1", "2");
	BAD("map: an IPv6 pinhole opens the port itself: PUBLIC_PORT 9600 must equal PRIVATE_PORT 9601 (or give one "
	    "PORT)", "map", "-6", "9600", "9601");
	BAD("map: missing PRIVATE_PORT after PUBLIC_PORT 1 (see natt map --help)", "map", "--pcp", "1");
	BAD("unmap-all: unknown option \"--pcp\" (see natt unmap-all --help)", "unmap-all", "--pcp");
	BAD("list: unknown option \"-6\" (see natt list --help)", "list", "-6");
}

/* ---- the error cases of the router commands ---- */

static void test_bad_ports(void **state)
{
	(void)state;
	BAD("map: \"70000\" is not a port (1-65535)", "map", "70000", "80");
	BAD("map: \"70000\" is not a port (1-65535)", "map", "80", "70000");
	BAD("map: \"0\" is not a port (1-65535)", "map", "0", "80");
	BAD("map: \"65536\" is not a port (1-65535)", "map", "65536", "80");
	BAD("map: \"http\" is not a port (1-65535)", "map", "http", "80");
	BAD("map: \"80x\" is not a port (1-65535)", "map", "80x", "80");
	BAD("map: \"\" is not a port (1-65535)", "map", "", "80");
	BAD("map: \" 80\" is not a port (1-65535)", "map", " 80", "80");
	BAD("map: \"+80\" is not a port (1-65535)", "map", "+80", "80");
	BAD("map: \"0x50\" is not a port (1-65535)", "map", "0x50", "80");
	BAD("map: \"99999999999999999999999\" is not a port (1-65535)", "map", "99999999999999999999999", "1");
	BAD("unmap: \"70000\" is not a port (1-65535)", "unmap", "1", "70000");
	/* A negative number looks like an option. */
	BAD("map: unknown option \"-1\" (see natt map --help)", "map", "-1", "80");
}

static void test_bad_lifetimes(void **state)
{
	(void)state;
	BAD("map: \"0\" is not a lifetime (1-604800 seconds)", "map", "-l", "0", "1", "2");
	BAD("map: \"604801\" is not a lifetime (1-604800 seconds)", "map", "-l", "604801", "1", "2");
	BAD("map: \"1h\" is not a lifetime (1-604800 seconds)", "map", "-l", "1h", "1", "2");
	BAD("map: \"-5\" is not a lifetime (1-604800 seconds)", "map", "-l", "-5", "1", "2");
	BAD("map: \"\" is not a lifetime (1-604800 seconds)", "map", "--lifetime=", "1", "2");
	BAD("map: \"1.5\" is not a lifetime (1-604800 seconds)", "map", "-l1.5", "1", "2");
}

static void test_bad_gateways(void **state)
{
	(void)state;
	BAD("map: \"10.0.1\" is not an IP address (-g GATEWAY)", "map", "-g", "10.0.1", "1", "2");
	BAD("map: \"router.lan\" is not an IP address (--gateway GATEWAY)", "map", "--gateway", "router.lan", "1",
	    "2");
	BAD("external-ip: \"fe80::1\" cannot be a gateway's address (a link-local router is found by itself: "
	    "leave out -g)", "external-ip", "-g", "fe80::1");
	BAD("external-ip: an IPv6 GATEWAY is for IPv6 pinholes (-6)", "external-ip", "-g", "2001:db8::1");
	BAD("list: an IPv6 GATEWAY is for IPv6 pinholes (-6)", "list", "-g", "2001:db8::1");
	BAD("map: \"::\" cannot be a gateway's address (a link-local router is found by itself: leave out -g)",
	    "map", "-6", "-g", "::", "1");
	BAD("map: \"ff02::1\" cannot be a gateway's address (a link-local router is found by itself: leave out -g)",
	    "map", "-6", "-g", "ff02::1", "1");
	BAD("list: \"10.0.0.256\" is not an IP address (-g GATEWAY)", "list", "-g", "10.0.0.256");
	BAD("map: \" 10.0.0.1\" is not an IP address (-g GATEWAY)", "map", "-g", " 10.0.0.1", "1", "2");
	BAD("map: \"0.0.0.0\" cannot be a gateway's address", "map", "-g", "0.0.0.0", "1", "2");
	BAD("map: \"255.255.255.255\" cannot be a gateway's address", "map", "-g", "255.255.255.255", "1", "2");
	BAD("map: \"239.255.255.250\" cannot be a gateway's address", "map", "-g", "239.255.255.250", "1", "2");
}

static void test_missing_and_extra_words(void **state)
{
	(void)state;
	BAD("map: missing PUBLIC_PORT and PRIVATE_PORT (see natt map --help)", "map");
	BAD("map: missing PRIVATE_PORT after PUBLIC_PORT 8000 (see natt map --help)", "map", "8000");
	BAD("unmap: missing PUBLIC_PORT and PRIVATE_PORT (see natt unmap --help)", "unmap", "-u");
	BAD("map: unexpected argument \"3\" (see natt map --help)", "map", "1", "2", "3");
	BAD("map: option -l needs a value", "map", "1", "2", "-l");
	BAD("map: option --lifetime needs a value", "map", "1", "2", "--lifetime");
	BAD("map: option -g needs a value", "map", "1", "2", "-ug");
	BAD("external-ip: unexpected argument \"now\" (see natt external-ip --help)", "external-ip", "now");
	BAD("unmap-all: unexpected argument \"8000\" (see natt unmap-all --help)", "unmap-all", "8000");
	BAD("list: unexpected argument \"all\" (see natt list --help)", "list", "all");
	BAD("gateway: unexpected argument \"eth0\" (see natt gateway --help)", "gateway", "eth0");
	BAD("interfaces: unexpected argument \"-\" (see natt interfaces --help)", "interfaces", "-");
	BAD("discover: unexpected argument \"WANIPConnection\" (see natt discover --help)", "discover",
	    "WANIPConnection");
}

static void test_unknown_options(void **state)
{
	(void)state;
	BAD("map: unknown option \"--foo\" (see natt map --help)", "map", "--foo", "1", "2");
	BAD("map: unknown option \"--foo\" (see natt map --help)", "map", "--foo=bar", "1", "2");
	BAD("map: unknown option \"-x\" (see natt map --help)", "map", "-x", "1", "2");
	BAD("map: unknown option \"-x\" (see natt map --help)", "map", "-ux", "1", "2");
	BAD("map: unknown option \"--UPNP\" (see natt map --help)", "map", "--UPNP", "1", "2");
	/* Options of other commands. */
	BAD("list: unknown option \"-u\" (see natt list --help)", "list", "-u");
	BAD("list: unknown option \"--upnp\" (see natt list --help)", "list", "--upnp");
	BAD("unmap: unknown option \"-l\" (see natt unmap --help)", "unmap", "-l", "60", "1", "2");
	BAD("external-ip: unknown option \"-u\" (see natt external-ip --help)", "external-ip", "-u");
	BAD("status: unknown option \"-g\" (see natt status --help)", "status", "-g", "10.0.0.1");
	BAD("map: unknown option \"--json\" (see natt map --help)", "map", "--json", "1", "2");
	BAD("discover: unknown option \"-g\" (see natt discover --help)", "discover", "-g", "10.0.0.1");
	BAD("gateway: unknown option \"--verbose\" (see natt gateway --help)", "gateway", "--verbose");
	BAD("map: option --upnp takes no value", "map", "--upnp=yes", "1", "2");
	BAD("status: option --json takes no value", "status", "--json=1");
}

static void test_commands(void **state)
{
	(void)state;
	BAD("no command given (see natt help)", NULL);
	BAD("\"mapp\" is not a natt command (see natt help)", "mapp");
	BAD("\"MAP\" is not a natt command (see natt help)", "MAP");
	BAD("\"\" is not a natt command (see natt help)", "");
	BAD("unknown option \"-u\" (see natt help)", "-u", "map", "1", "2");
	BAD("unknown option \"--gateway\" (see natt help)", "--gateway", "10.0.0.1", "list");

	static const struct {
		const char *word;
		enum natt_cli_command command;
	} plain[] = {
		{ "external-ip", NATT_CLI_EXTERNAL_IP }, { "unmap-all", NATT_CLI_UNMAP_ALL },
		{ "list", NATT_CLI_LIST },               { "discover", NATT_CLI_DISCOVER },
		{ "status", NATT_CLI_STATUS },           { "gateway", NATT_CLI_GATEWAY },
		{ "interfaces", NATT_CLI_INTERFACES },
	};
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		OK(plain[i].word);
		assert_int_equal(L.cmd.command, plain[i].command);
		assert_string_equal(natt_cli_command_name(plain[i].command), plain[i].word);
	}
	for (int c = 0; c < NATT_CLI_COMMAND_COUNT; c++)
		assert_non_null(natt_cli_command_name((enum natt_cli_command)c));
	assert_null(natt_cli_command_name(NATT_CLI_COMMAND_COUNT));
}

static void test_help_and_version(void **state)
{
	(void)state;
	OK("--version");
	assert_int_equal(L.cmd.command, NATT_CLI_VERSION);
	OK("-V");
	assert_int_equal(L.cmd.command, NATT_CLI_VERSION);
	BAD("unexpected argument \"map\" after --version", "--version", "map");
	OK("version");
	assert_int_equal(L.cmd.command, NATT_CLI_VERSION);

	OK("help");
	assert_int_equal(L.cmd.command, NATT_CLI_HELP);
	assert_int_equal(L.cmd.topic, NATT_CLI_HELP);
	OK("--help");
	assert_int_equal(L.cmd.command, NATT_CLI_HELP);
	assert_int_equal(L.cmd.topic, NATT_CLI_HELP);
	OK("-h");
	assert_int_equal(L.cmd.topic, NATT_CLI_HELP);
	OK("help", "map");
	assert_int_equal(L.cmd.command, NATT_CLI_HELP);
	assert_int_equal(L.cmd.topic, NATT_CLI_MAP);
	OK("help", "unmap-all");
	assert_int_equal(L.cmd.topic, NATT_CLI_UNMAP_ALL);
	BAD("help: \"mapp\" is not a natt command", "help", "mapp");
	BAD("help: unexpected argument \"unmap\"", "help", "map", "unmap");

	/* COMMAND --help: that command's help, whatever else the line holds. */
	static const char *const commands[] = { "external-ip", "map", "unmap", "unmap-all", "list", "discover",
		                                "call", "status", "wait", "gateway", "interfaces" };
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		OK(commands[i], "--help");
		assert_int_equal(L.cmd.command, NATT_CLI_HELP);
		assert_string_equal(natt_cli_command_name(L.cmd.topic), commands[i]);
		OK(commands[i], "-h");
		assert_string_equal(natt_cli_command_name(L.cmd.topic), commands[i]);
	}
	OK("map", "70000", "--help");
	assert_int_equal(L.cmd.topic, NATT_CLI_MAP);
	OK("map", "-uh");
	assert_int_equal(L.cmd.topic, NATT_CLI_MAP);
	/* After "--", --help is an operand. */
	BAD("map: \"--help\" is not a port (1-65535)", "map", "--", "--help", "1");
}

/* ---- call, discover, status ---- */

static void test_call(void **state)
{
	(void)state;
	OK("call", "WANIPConnection", "GetExternalIPAddress");
	assert_int_equal(L.cmd.command, NATT_CLI_CALL);
	assert_string_equal(L.cmd.service, "WANIPConnection");
	assert_string_equal(L.cmd.action, "GetExternalIPAddress");
	assert_int_equal(L.cmd.npairs, 0);
	assert_int_equal(L.cmd.timeout_ms, NATT_CLI_DEFAULT_TIMEOUT_MS);

	OK("call", "-t", "0.5", "urn:schemas-upnp-org:service:WANIPConnection:1", "GetSpecificPortMappingEntry",
	   "NewRemoteHost=", "NewExternalPort=8000", "NewProtocol=TCP", "NewPortMappingDescription=a=b c");
	assert_int_equal(L.cmd.timeout_ms, 500);
	assert_string_equal(L.cmd.service, "urn:schemas-upnp-org:service:WANIPConnection:1");
	assert_int_equal(L.cmd.npairs, 4);
	assert_int_equal(L.cmd.pairs[0].name_len, strlen("NewRemoteHost"));
	assert_memory_equal(L.cmd.pairs[0].name, "NewRemoteHost", strlen("NewRemoteHost"));
	assert_string_equal(L.cmd.pairs[0].value, "");
	assert_string_equal(L.cmd.pairs[1].value, "8000");
	assert_memory_equal(L.cmd.pairs[3].name, "NewPortMappingDescription", L.cmd.pairs[3].name_len);
	assert_string_equal(L.cmd.pairs[3].value, "a=b c"); /* split at the first '=' */

	OK("call", "urn:schemas-upnp-org:service:WANIPConnection", "GetStatusInfo"); /* any version */
	OK("call", "urn:dslforum-org:service:WANPPPConnection:1", "GetInfo");

	BAD("call: missing SERVICE and ACTION (see natt call --help)", "call");
	BAD("call: missing ACTION after SERVICE WANIPConnection (see natt call --help)", "call", "WANIPConnection");
	BAD_LIKE("\"WAN IP\" is neither a service type", "call", "WAN IP", "GetStatusInfo");
	BAD_LIKE("\"urn:WANIPConnection\" is neither a service type", "call", "urn:WANIPConnection", "X");
	BAD_LIKE("\"foo:bar\" is neither a service type", "call", "foo:bar", "X");
	BAD_LIKE("is neither a service type", "call", "urn:a:service:b:", "X");
	BAD_LIKE("is neither a service type", "call", "", "X");
	BAD("call: \"Get IP\" is not an action name", "call", "WANIPConnection", "Get IP");
	BAD("call: \"1Action\" is not an action name", "call", "WANIPConnection", "1Action");
	BAD("call: \"NewProtocol\" is not NAME=VALUE", "call", "WANIPConnection", "X", "NewProtocol");
	BAD("call: \"\" is not an argument name (in \"=TCP\")", "call", "WANIPConnection", "X", "=TCP");
	BAD("call: \"1New\" is not an argument name (in \"1New=3\")", "call", "WANIPConnection", "X", "1New=3");
	BAD("call: \"a b\" is not an argument name (in \"a b=3\")", "call", "WANIPConnection", "X", "a b=3");
	BAD("call: argument NewProtocol is given twice", "call", "WANIPConnection", "X", "NewProtocol=TCP",
	    "NewProtocol=UDP");
	BAD("call: \"0\" is not a time in seconds (such as 2 or 0.5; at most 600)", "call", "-t", "0",
	    "WANIPConnection", "X");
	BAD("call: unknown option \"-u\" (see natt call --help)", "call", "-u", "WANIPConnection", "X");

	/* At most NATT_CLI_MAX_PAIRS arguments. */
	const char *words[NATT_CLI_MAX_PAIRS + 8] = { "call", "S", "A" };
	char names[NATT_CLI_MAX_PAIRS + 1][16];
	size_t n = 3;
	for (int i = 0; i < NATT_CLI_MAX_PAIRS; i++) {
		snprintf(names[i], sizeof(names[i]), "A%d=%d", i, i);
		words[n++] = names[i];
	}
	words[n] = NULL;
	assert_int_equal(parse_words(words), 0);
	assert_int_equal(L.cmd.npairs, NATT_CLI_MAX_PAIRS);
	snprintf(names[NATT_CLI_MAX_PAIRS], sizeof(names[0]), "Z=1");
	words[n++] = names[NATT_CLI_MAX_PAIRS];
	words[n] = NULL;
	assert_int_equal(parse_words(words), -EINVAL);
	assert_string_equal(L.err, "call: too many arguments (at most 32 NAME=VALUE)");
}

static void test_discover(void **state)
{
	(void)state;
	OK("discover");
	assert_int_equal(L.cmd.command, NATT_CLI_DISCOVER);
	assert_int_equal(L.cmd.timeout_ms, 2000);
	OK("discover", "-t", "5");
	assert_int_equal(L.cmd.timeout_ms, 5000);
	OK("discover", "-t0.25");
	assert_int_equal(L.cmd.timeout_ms, 250);
	OK("discover", "--timeout=600");
	assert_int_equal(L.cmd.timeout_ms, 600000);
	static const char *const bad[] = { "0", "0.0", "601", "600.001", "-1", ".5", "5.", "1.2345", "1,5", "2s", "",
		                           "1e3", "0x10" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char expect[160];
		snprintf(expect, sizeof(expect), "discover: \"%s\" is not a time in seconds (such as 2 or 0.5; at most 600)",
		         bad[i]);
		BAD(expect, "discover", "-t", bad[i]);
	}
}

static void test_status(void **state)
{
	(void)state;
	OK("status");
	assert_int_equal(L.cmd.command, NATT_CLI_STATUS);
	assert_null(L.cmd.status_file);
	assert_false(L.cmd.json);
	OK("status", "--json");
	assert_true(L.cmd.json);
	OK("status", "/run/user/1000/natt/status.json");
	assert_string_equal(L.cmd.status_file, "/run/user/1000/natt/status.json");
	OK("status", "/tmp/s.json", "--json");
	assert_true(L.cmd.json);
	assert_string_equal(L.cmd.status_file, "/tmp/s.json");
	OK("status", "-");
	assert_string_equal(L.cmd.status_file, "-");
	OK("status", "--", "--json");
	assert_string_equal(L.cmd.status_file, "--json");
	assert_false(L.cmd.json);
	BAD("status: unexpected argument \"b.json\" (see natt status --help)", "status", "a.json", "b.json");
	BAD("status: the status file name is empty", "status", "");
	OK("status", "--follow", "/tmp/s.json");
	assert_true(L.cmd.follow);
	OK("status", "-f", "--json");
	assert_true(L.cmd.follow);
	assert_true(L.cmd.json);
	OK("status");
	assert_false(L.cmd.follow);
	BAD("status: standard input (\"-\") cannot be watched: give the status file's path", "status", "-f", "-");
	BAD("status: option --follow takes no value", "status", "--follow=yes");
}

static void test_wait(void **state)
{
	(void)state;
	OK("wait");
	assert_int_equal(L.cmd.command, NATT_CLI_WAIT);
	assert_false(L.cmd.have_port);
	assert_int_equal(L.cmd.timeout_ms, 0); /* no limit */
	assert_null(L.cmd.status_file);
	OK("wait", "--port", "8000", "--timeout", "30", "/run/natt-web/status.json");
	assert_true(L.cmd.have_port);
	assert_int_equal(L.cmd.port, 8000);
	assert_int_equal(L.cmd.timeout_ms, 30000);
	assert_string_equal(L.cmd.status_file, "/run/natt-web/status.json");
	OK("wait", "-p8000", "-t", "0.25");
	assert_int_equal(L.cmd.port, 8000);
	assert_int_equal(L.cmd.timeout_ms, 250);
	OK("wait", "--timeout=86400");
	assert_int_equal(L.cmd.timeout_ms, 86400000);
	BAD("wait: \"86401\" is not a time in seconds (such as 2 or 0.5; at most 86400)", "wait", "-t", "86401");
	BAD("wait: \"0\" is not a time in seconds (such as 2 or 0.5; at most 86400)", "wait", "-t", "0");
	BAD("wait: \"70000\" is not a port (1-65535)", "wait", "--port", "70000");
	BAD("wait: \"http\" is not a port (1-65535)", "wait", "-p", "http");
	BAD("wait: option --port needs a value", "wait", "--port");
	BAD("wait: unknown option \"--json\" (see natt wait --help)", "wait", "--json");
	BAD("wait: unexpected argument \"b.json\" (see natt wait --help)", "wait", "a.json", "b.json");
	BAD("wait: the status file name is empty", "wait", "");
	BAD("wait: standard input (\"-\") cannot be watched: give the status file's path", "wait", "-");
	/* discover keeps its own bound */
	BAD("discover: \"601\" is not a time in seconds (such as 2 or 0.5; at most 600)", "discover", "-t", "601");
}

/* ---- helpers ---- */

static void test_short_error_buffer(void **state)
{
	char err[8];
	char word0[] = "natt", word1[] = "map", word2[] = "70000", word3[] = "1";
	char *argv[] = { word0, word1, word2, word3, NULL };
	struct natt_cli_cmd cmd;

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(natt_cli_parse(4, argv, &cmd, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "map: \"7"); /* cut, NUL-terminated */
}

static void test_seconds(void **state)
{
	int ms = -1;

	(void)state;
	assert_int_equal(natt_cli_parse_seconds("1", 10000, &ms), 0);
	assert_int_equal(ms, 1000);
	assert_int_equal(natt_cli_parse_seconds("0.001", 10000, &ms), 0);
	assert_int_equal(ms, 1);
	assert_int_equal(natt_cli_parse_seconds("1.5", 10000, &ms), 0);
	assert_int_equal(ms, 1500);
	assert_int_equal(natt_cli_parse_seconds("1.05", 10000, &ms), 0);
	assert_int_equal(ms, 1050);
	assert_int_equal(natt_cli_parse_seconds("10", 10000, &ms), 0);
	assert_int_equal(ms, 10000);
	ms = -1;
	assert_int_equal(natt_cli_parse_seconds("10.001", 10000, &ms), -EINVAL);
	assert_int_equal(natt_cli_parse_seconds("99999999999999999999", 10000, &ms), -EINVAL);
	assert_int_equal(natt_cli_parse_seconds("1..5", 10000, &ms), -EINVAL);
	assert_int_equal(natt_cli_parse_seconds(NULL, 10000, &ms), -EINVAL);
	assert_int_equal(ms, -1);
}

static void test_xml_names(void **state)
{
	(void)state;
	assert_true(natt_cli_is_xml_name("NewExternalPort", 15));
	assert_true(natt_cli_is_xml_name("_x-1.2", 6));
	assert_true(natt_cli_is_xml_name("a", 1));
	assert_false(natt_cli_is_xml_name("", 0));
	assert_false(natt_cli_is_xml_name(NULL, 3));
	assert_false(natt_cli_is_xml_name("1a", 2));
	assert_false(natt_cli_is_xml_name("-a", 2));
	assert_false(natt_cli_is_xml_name("a b", 3));
	assert_false(natt_cli_is_xml_name("a:b", 3));
	assert_false(natt_cli_is_xml_name("a<b", 3));
	assert_false(natt_cli_is_xml_name("\xc3\xa9t\xc3\xa9", 6));
	assert_true(natt_cli_is_xml_name("ab=c", 2)); /* only len bytes count */
}

static const char *class_of(const char *text)
{
	struct sockaddr_storage ss;
	assert_int_equal(natt_addr_parse(text, &ss), 0);
	return natt_cli_address_class((const struct sockaddr *)&ss);
}

static void test_address_classes(void **state)
{
	(void)state;
	assert_string_equal(class_of("0.0.0.0"), "wildcard");
	assert_string_equal(class_of("::"), "wildcard");
	assert_string_equal(class_of("127.0.0.1"), "loopback");
	assert_string_equal(class_of("::1"), "loopback");
	assert_string_equal(class_of("10.77.0.2"), "private");
	assert_string_equal(class_of("172.16.0.1"), "private");
	assert_string_equal(class_of("192.168.1.20"), "private");
	assert_string_equal(class_of("::ffff:192.168.1.20"), "private");
	assert_string_equal(class_of("100.64.0.1"), "shared");
	assert_string_equal(class_of("100.127.255.254"), "shared");
	assert_string_equal(class_of("169.254.3.4"), "link-local");
	assert_string_equal(class_of("fe80::1"), "link-local");
	assert_string_equal(class_of("fd00::2"), "ula");
	assert_string_equal(class_of("fc12::1"), "ula");
	assert_string_equal(class_of("100.130.0.1"), "global");
	assert_string_equal(class_of("8.8.8.8"), "global");
	assert_string_equal(class_of("2606:4700::1111"), "global");
	assert_string_equal(class_of("192.0.2.1"), "reserved");
	assert_string_equal(class_of("2001:db8::1"), "reserved");
	assert_string_equal(class_of("224.0.0.1"), "reserved");
	assert_string_equal(natt_cli_address_class(NULL), "reserved");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_py_natpmp_examples),
		cmocka_unit_test(test_map_defaults),
		cmocka_unit_test(test_option_spellings),
		cmocka_unit_test(test_technique_options),
		cmocka_unit_test(test_pcp_options),
		cmocka_unit_test(test_bad_ports),
		cmocka_unit_test(test_bad_lifetimes),
		cmocka_unit_test(test_bad_gateways),
		cmocka_unit_test(test_missing_and_extra_words),
		cmocka_unit_test(test_unknown_options),
		cmocka_unit_test(test_commands),
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_call),
		cmocka_unit_test(test_discover),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_wait),
		cmocka_unit_test(test_short_error_buffer),
		cmocka_unit_test(test_seconds),
		cmocka_unit_test(test_xml_names),
		cmocka_unit_test(test_address_classes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
