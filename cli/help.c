/* The help texts of natt and of each command (man/natt.1 says the same at length). */
#include <stdio.h>

#include "cli.h"

static const char overview[] =
	"Usage: natt COMMAND [OPTIONS] [ARGUMENTS]\n"
	"Port mappings and more at the home router, through NAT-PMP, PCP and UPnP IGD.\n"
	"\n"
	"Router commands (the gateway of the default route, or -g GATEWAY):\n"
	"  external-ip   the router's external (public) IPv4 address\n"
	"  map           ask for a port mapping: PUBLIC_PORT on the router to PRIVATE_PORT here\n"
	"  map -6        open an IPv6 pinhole in the router's firewall to PORT here (PCP, UPnP)\n"
	"  unmap         delete a mapping or pinhole of this host\n"
	"  unmap-all     delete every mapping of this host (TCP, or UDP with -u)\n"
	"  list          the router's UPnP mapping table\n"
	"UPnP:\n"
	"  discover      the UPnP services on the network and their actions\n"
	"  call          call any action of a UPnP service\n"
	"This host:\n"
	"  status        what runs under natt-run and its public addresses (the status file)\n"
	"  wait          wait until the status file shows a public address, and print it\n"
	"  gateway       the IPv4 default gateway\n"
	"  interfaces    the interface addresses, the one toward the gateway marked\n"
	"  watch         publish the listening sockets of a running process, from outside it\n"
	"Other:\n"
	"  help [COMMAND]  this text, or a command's help (also: natt COMMAND --help)\n"
	"  --version       natt's version\n"
	"\n"
	"Without --upnp or --nat-pmp, external-ip and map try NAT-PMP first and UPnP IGD when the\n"
	"router does not answer NAT-PMP; unmap and unmap-all ask both. --pcp uses PCP (RFC 6887).\n"
	"Exit status: 0 done; 1 no gateway, no answer, or the router refused; 2 bad command line.\n"
	"Environment: NATT_LOG=debug shows the library's diagnostics. See natt(1).\n";

static const char *const texts[NATT_CLI_COMMAND_COUNT] = {
	[NATT_CLI_VERSION] =
	"Usage: natt --version\n"
	"Prints natt's version.\n",

	[NATT_CLI_EXTERNAL_IP] =
	"Usage: natt external-ip [-g GATEWAY] [--upnp|--nat-pmp|--pcp]\n"
	"Prints the router's external IPv4 address (NAT-PMP, else UPnP GetExternalIPAddress).\n"
	"PCP has no question for the address alone: --pcp maps a free local UDP port for 30 s, reads\n"
	"the address from the answer and deletes the mapping again.\n"
	"\n"
	"  -g, --gateway GATEWAY  ask this router (default: the gateway of the default route)\n"
	"      --upnp             use UPnP IGD only\n"
	"      --nat-pmp          use NAT-PMP only\n"
	"      --pcp              use PCP only\n"
	"  -h, --help             this help\n",

	[NATT_CLI_MAP] =
	"Usage: natt map [-u] [-l LIFETIME] [-g GATEWAY] [--upnp|--nat-pmp|--pcp [--nonce HEX]]\n"
	"                PUBLIC_PORT PRIVATE_PORT\n"
	"       natt map -6 [-u] [-l LIFETIME] [-g GATEWAY6] [--nonce HEX] PORT\n"
	"       natt map -6 --upnp [-u] [-l LIFETIME] [--id ID] PORT\n"
	"Asks the router to forward PUBLIC_PORT of its external address to PRIVATE_PORT of this host,\n"
	"and prints the mapping granted, e.g.\n"
	"  tcp 100.130.0.1:60011 -> 10.77.0.2:60022 lifetime 3600 (nat-pmp)\n"
	"Over NAT-PMP the router may grant another public port than asked; over UPnP the port is\n"
	"exactly PUBLIC_PORT or the command fails (e.g. UPnP error 718 when another host holds it).\n"
	"The mapping ends when its lifetime runs out: run map again to renew it.\n"
	"Over PCP the router knows the mapping by a random nonce, printed as \"(pcp, nonce HEX)\": give it\n"
	"with --nonce to renew the same mapping or to delete it (natt unmap --pcp --nonce HEX).\n"
	"With -6, PCP over IPv6 opens PORT of this host's IPv6 address (the kernel's source address\n"
	"toward the router) in the router's firewall: there is no NAT, the address stays the same:\n"
	"  tcp [2a01:77:1::2]:9600 pinhole lifetime 3600 (pcp, nonce 863183d9967a7ab286e225c3)\n"
	"With -6 --upnp the pinhole comes from UPnP IGDv2 (WANIPv6FirewallControl, at most 86400 s),\n"
	"printed with its ID: give it with --id to renew it, or to unmap it.\n"
	"\n"
	"  -u, --udp              a UDP mapping (default: TCP)\n"
	"  -l, --lifetime SECONDS lifetime asked for, 1-604800 (default 3600)\n"
	"  -g, --gateway GATEWAY  ask this router (default: the gateway of the default route; with -6\n"
	"                         the IPv6 default router, else an IPv6 GATEWAY6)\n"
	"      --upnp             use UPnP IGD only\n"
	"      --nat-pmp          use NAT-PMP only (default: NAT-PMP, else UPnP)\n"
	"      --pcp              use PCP only\n"
	"  -6, --ipv6             an IPv6 pinhole for PORT (PCP; UPnP IGDv2 with --upnp)\n"
	"      --nonce HEX        the PCP mapping's nonce, 24 hex digits (default: a new random one)\n"
	"      --id ID            -6 --upnp: renew the pinhole of this ID\n"
	"  -h, --help             this help\n"
	"\n"
	"Examples:\n"
	"  natt map -u -l 1800 60009 60009\n"
	"  natt map -g 10.0.1.1 60011 60022\n"
	"  natt map --pcp 8000 8000\n"
	"  natt map -6 8000\n",

	[NATT_CLI_UNMAP] =
	"Usage: natt unmap [-u] [-g GATEWAY] [--upnp|--nat-pmp] PUBLIC_PORT PRIVATE_PORT\n"
	"       natt unmap --pcp --nonce HEX [-u] [-g GATEWAY] PUBLIC_PORT PRIVATE_PORT\n"
	"       natt unmap -6 --nonce HEX [-u] [-g GATEWAY6] PORT\n"
	"       natt unmap -6 --upnp --id ID PORT\n"
	"Deletes this host's mapping of PRIVATE_PORT (NAT-PMP) or of PUBLIC_PORT (UPnP; only when the\n"
	"router maps it to PRIVATE_PORT of this host). Without --upnp/--nat-pmp both are asked: NAT-PMP\n"
	"cannot delete mappings made through UPnP. Over PCP (--pcp, or -6 for a pinhole) the nonce that\n"
	"natt map printed is needed: the router refuses anyone else's.\n"
	"\n"
	"  -u, --udp              a UDP mapping (default: TCP)\n"
	"  -g, --gateway GATEWAY  ask this router (default: the gateway of the default route)\n"
	"      --upnp             use UPnP IGD only\n"
	"      --nat-pmp          use NAT-PMP only\n"
	"      --pcp              use PCP only\n"
	"  -6, --ipv6             an IPv6 pinhole (PCP; UPnP IGDv2 with --upnp)\n"
	"      --nonce HEX        the PCP mapping's nonce, as natt map printed it\n"
	"      --id ID            the UPnP pinhole's ID, as natt map -6 --upnp printed it\n"
	"  -h, --help             this help\n",

	[NATT_CLI_UNMAP_ALL] =
	"Usage: natt unmap-all [-u] [-g GATEWAY] [--upnp|--nat-pmp]\n"
	"Deletes every TCP (or with -u UDP) mapping of this host: NAT-PMP's delete-all request, and over\n"
	"UPnP every entry of the router's table whose internal client is this host's address. Other\n"
	"hosts' mappings stay.\n"
	"\n"
	"  -u, --udp              UDP mappings (default: TCP)\n"
	"  -g, --gateway GATEWAY  ask this router (default: the gateway of the default route)\n"
	"      --upnp             use UPnP IGD only\n"
	"      --nat-pmp          use NAT-PMP only\n"
	"  -h, --help             this help\n",

	[NATT_CLI_LIST] =
	"Usage: natt list [-g GATEWAY] [--status FILE]\n"
	"Prints the router's UPnP port mapping table (GetGenericPortMappingEntry), one line each:\n"
	"  tcp 8000 -> 10.77.0.2:8000 lease 3517 \"natt tcp pid 4242\"\n"
	"then the IPv6 pinholes natt's programs keep open, from the status file (no protocol lists a\n"
	"router's pinholes; NAT-PMP has no way to list mappings either):\n"
	"  tcp [2a01:77:1::2]:8000 pinhole lease 3517 (upnp, pid 4242 python3)\n"
	"\n"
	"  -g, --gateway GATEWAY  ask this router (default: the gateway of the default route)\n"
	"      --status FILE      the status file (default: $NATT_STATUS_FILE, else natt-run's)\n"
	"  -h, --help             this help\n",

	[NATT_CLI_DISCOVER] =
	"Usage: natt discover [-t SECONDS]\n"
	"Searches the network for UPnP devices (SSDP) and prints each service with its URLs and its\n"
	"actions: Action(in arguments) -> out arguments.\n"
	"\n"
	"  -t, --timeout SECONDS  how long to listen for answers (default 2; fractions allowed)\n"
	"  -h, --help             this help\n",

	[NATT_CLI_CALL] =
	"Usage: natt call [-t SECONDS] SERVICE ACTION [NAME=VALUE]...\n"
	"Calls ACTION of the first UPnP service of type SERVICE that answers, and prints its results as\n"
	"NAME=VALUE lines. SERVICE is a service type URN (urn:schemas-upnp-org:service:WANIPConnection:1;\n"
	"a device of a higher version serves it too) or a short name of the schemas-upnp-org domain\n"
	"(WANIPConnection: any version). The arguments are sent in the order of the service's\n"
	"description. A UPnP error prints its code and description and exits 1.\n"
	"\n"
	"  -t, --timeout SECONDS  how long to search for the service (default 2; fractions allowed)\n"
	"  -h, --help             this help\n"
	"\n"
	"Examples:\n"
	"  natt call WANIPConnection GetExternalIPAddress\n"
	"  natt call WANIPConnection GetSpecificPortMappingEntry NewRemoteHost= NewExternalPort=8000 \\\n"
	"      NewProtocol=TCP\n",

	[NATT_CLI_STATUS] =
	"Usage: natt status [--json] [--follow] [FILE]\n"
	"Shows a natt status file as a table: each published socket's process, protocol, local address,\n"
	"state, and its public address, technique and expiry (or why it has none).\n"
	"FILE: default $NATT_STATUS_FILE, else $XDG_RUNTIME_DIR/natt/status.json, else\n"
	"/tmp/natt-UID/status.json (where natt-run writes it); \"-\" reads standard input.\n"
	"With --follow, prints one line per socket as it is now, then one line each time a socket\n"
	"changes, until interrupted:\n"
	"  2026-12-02T17:03:21Z python3[4242] tcp 0.0.0.0:8000 published as 100.130.0.1:8000 (upnp)\n"
	"  2026-12-02T17:09:40Z python3[4242] tcp 0.0.0.0:8000 retired (was 100.130.0.1:8000, upnp)\n"
	"\n"
	"      --json             print the file unchanged (with --follow: each new content)\n"
	"  -f, --follow           print each change as it happens\n"
	"  -h, --help             this help\n",

	[NATT_CLI_WAIT] =
	"Usage: natt wait [-p PORT] [-t SECONDS] [FILE]\n"
	"Waits until the status file shows a public address (of a socket on local port PORT, or of any\n"
	"socket) and prints it as ADDRESS:PORT, e.g. 100.130.0.1:8000. Entries of processes that are\n"
	"gone do not count. The file is watched with inotify, and may not exist yet. FILE as for status.\n"
	"\n"
	"  -p, --port PORT        the local port the server listens on (default: any socket)\n"
	"  -t, --timeout SECONDS  give up after this long, exit status 1 (default: no limit; fractions\n"
	"                         allowed, at most 86400)\n"
	"  -h, --help             this help\n"
	"\n"
	"Example:\n"
	"  natt-run --status /tmp/web.json python3 -m http.server 8000 &\n"
	"  addr=$(natt wait --port 8000 --timeout 30 /tmp/web.json)\n",

	[NATT_CLI_GATEWAY] =
	"Usage: natt gateway\n"
	"Prints the IPv4 default gateway and its interface, from the kernel's routing table.\n",

	[NATT_CLI_INTERFACES] =
	"Usage: natt interfaces\n"
	"Lists the addresses of the interfaces that are up: name, address/prefix, flags and class\n"
	"(loopback, private, shared, link-local, ula, global, reserved). '*' marks the address this\n"
	"host uses toward the gateway: the one a peer on the LAN sees.\n",

	[NATT_CLI_WATCH] =
	"Usage: natt watch [-v] [--status FILE] --pid PID\n"
	"       natt watch [-v] [--status FILE] [--outside] [--no-seccomp] [--shim LIB] [--] COMMAND [ARGS...]\n"
	"Publishes at the router, from outside, the listening TCP and bound UDP sockets of process PID and\n"
	"of the processes it starts, as natt-run does for the programs it wraps; deletes the mappings when\n"
	"a socket closes, when the process ends, and when natt watch itself gets SIGINT or SIGTERM. Runs\n"
	"until every one of those processes has ended. The second form is natt-run's: it runs COMMAND with\n"
	"the same pid and parent (with LIB preloaded when LD_PRELOAD can reach COMMAND and --outside is not\n"
	"given), and a watcher process publishes its sockets (see natt-run(1)).\n"
	"Settings as natt-run's, from NATT_LIFETIME, NATT_PORTS, NATT_PROTOCOLS, NATT_GATEWAY,\n"
	"NATT_ON_CHANGE, NATT_LOG (`natt-run [options] --pid PID` sets them from options).\n"
	"\n"
	"      --pid PID          the process to watch (in this network namespace)\n"
	"      --status FILE      status file (NATT_STATUS_FILE; default as natt-run's)\n"
	"  -v, --verbose          a line on stderr for each published or retired address (NATT_VERBOSE)\n"
	"      --outside          publish COMMAND's sockets from outside even where LD_PRELOAD would work\n"
	"      --no-seccomp       learn of COMMAND's sockets by looking only (no seccomp filter)\n"
	"      --shim LIB         libnattpreload.so, for the commands LD_PRELOAD can reach\n"
	"  -h, --help             this help\n",
};

void natt_cli_print_help(enum natt_cli_command topic)
{
	if ((unsigned)topic >= NATT_CLI_COMMAND_COUNT || !texts[topic]) {
		fputs(overview, stdout);
		return;
	}
	fputs(texts[topic], stdout);
}
