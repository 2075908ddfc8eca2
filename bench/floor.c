/* natt-bench floor — the router's own time: a minimal client that does the exchanges natt does, in
 * the same order, with no waiting between them, and times each one. natt's figures are stated beside
 * these ("the floor"): whatever natt takes beyond them is natt's.
 *
 *   floor upnp [--count N] [--port P] [--url URL] [--mx SECONDS] [--unicast]
 *       One SSDP M-SEARCH (ST InternetGatewayDevice:1) stopped at the first answer from the gateway,
 *       UPNP_GetIGDFromUrl (description), UPNP_GetExternalIPAddress, then N AddPortMapping (TCP, ports
 *       P..P+N-1 to this host), then N DeletePortMapping. --url skips the search (a cached
 *       description URL). --unicast sends the search to the gateway's port 1900 instead of the
 *       multicast group (UDA 1.1 allows it; the answer need not wait a random part of MX).
 *       --natt-sequence: the requests natt makes per mapping instead of the minimum: each
 *       AddPortMapping followed by GetExternalIPAddress, each DeletePortMapping preceded by
 *       GetSpecificPortMappingEntry (so a gap between natt and this is natt's own time).
 *       --hold FILE: between the adds and the deletes, wait until FILE exists (several floor
 *       processes at once then hold all their mappings together, as several servers would).
 *       --lock FILE: several floor processes at once take turns at the router: an exclusive
 *       flock() on FILE around the description fetch + address request and around each mapping's
 *       add (or delete) requests, as natt's processes on one host take turns (miniupnpd serves
 *       one HTTP connection at a time, with a listen backlog of 5: many clients connecting at
 *       once time out).
 *   floor natpmp [--count N] [--port P]
 *       libnatpmp: external address request, then N TCP map requests, then N deletes (lifetime 0).
 *   floor pcp [--count N] [--port P]
 *       N PCP MAP requests (RFC 6887, TCP, lifetime 3600; the reply carries the external address, so
 *       nothing is asked before), then N deletes (lifetime 0, the same nonce). A minimal encoder of
 *       its own, one transmission each (a LAN router answers at once).
 *
 *   floor upnp6 [--count N] [--port P]
 *       IPv6 pinholes through UPnP IGDv2: the SSDP search and the description as for upnp (over IPv4),
 *       then N AddPinhole (TCP, ports P..P+N-1 of this host's address toward the IPv6 default router)
 *       sent to the WANIPv6FirewallControl control path at the router's IPv6 address, then N
 *       DeletePinhole.
 *   floor pcp6 [--count N] [--port P]
 *       N PCP MAP requests sent over IPv6 to the IPv6 default router (pinholes: internal = external),
 *       then N deletes.
 *
 * Prints one JSON object on stdout: the CLOCK_MONOTONIC time of each step's end (ns) and each step's
 * duration (ms). Exit 1 when a step fails. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <natpmp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>

#include "bench.h"

static const char *prog = "floor";

struct options {
	int count;
	int port;
	const char *url;
	int mx;
	bool unicast;
	bool natt_sequence;
	const char *hold;
	const char *lock;
	int timeout_ms;
};

static int lock_fd = -1;

/* With --lock: one floor process at the router at a time (see the header). */
static void take_turn(const struct options *o)
{
	if (!o->lock)
		return;
	if (lock_fd < 0 && (lock_fd = open(o->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
		bench_die(prog, "cannot open the --lock file");
	while (flock(lock_fd, LOCK_EX) < 0)
		if (errno != EINTR)
			bench_die(prog, "flock failed");
}

static void end_turn(void)
{
	if (lock_fd >= 0)
		flock(lock_fd, LOCK_UN);
}

/* The IPv4 default gateway, from /proc/net/route (first default route). */
static int default_gateway(struct in_addr *gw)
{
	FILE *f = fopen("/proc/net/route", "r");
	if (!f)
		return -1;
	char line[256];
	int rc = -1;
	while (fgets(line, sizeof(line), f)) {
		char ifname[64];
		unsigned dest, gateway, flags;
		if (sscanf(line, "%63s %x %x %x", ifname, &dest, &gateway, &flags) == 4 && dest == 0 && (flags & 2)) {
			gw->s_addr = gateway; /* the file holds it in network order, as hex of the raw value */
			rc = 0;
			break;
		}
	}
	fclose(f);
	return rc;
}

/* Copies the value of header `name` (case-insensitive) from an HTTP-like message. */
static bool header_value(const char *msg, const char *name, char *out, size_t len)
{
	size_t nlen = strlen(name);
	for (const char *line = msg; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
			continue;
		const char *v = line + nlen + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		size_t vlen = strcspn(v, "\r\n");
		if (vlen >= len)
			return false;
		memcpy(out, v, vlen);
		out[vlen] = '\0';
		return true;
	}
	return false;
}

/* Sends one M-SEARCH and returns at the first answer from the gateway carrying a LOCATION. */
static int ssdp_first_answer(const struct options *o, const struct in_addr *gw, char *location, size_t len)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	char msg[256];
	int mlen = snprintf(msg, sizeof(msg),
	                    "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\n"
	                    "MX: %d\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\r\n",
	                    o->mx);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(1900) };
	if (o->unicast)
		to.sin_addr = *gw;
	else
		inet_pton(AF_INET, "239.255.255.250", &to.sin_addr);
	int ttl = 2;
	setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl));
	if (sendto(fd, msg, (size_t)mlen, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		close(fd);
		return -1;
	}
	int64_t deadline = bench_now_ns() + (int64_t)o->timeout_ms * 1000000;
	for (;;) {
		int64_t left = (deadline - bench_now_ns()) / 1000000;
		if (left <= 0)
			break;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		char buf[2048];
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &flen);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (from.sin_addr.s_addr == gw->s_addr && header_value(buf, "LOCATION", location, len)) {
			close(fd);
			return 0;
		}
	}
	close(fd);
	return -1;
}

static void print_steps(const char *name, const int64_t *ends, const double *ms, int n)
{
	double *ends_d = calloc((size_t)(n ? n : 1), sizeof(double));
	if (!ends_d)
		bench_die(prog, "out of memory");
	for (int i = 0; i < n; i++)
		ends_d[i] = (double)ends[i];
	printf(", ");
	char key[64];
	snprintf(key, sizeof(key), "%s_ms", name);
	bench_json_array(stdout, key, ms, (size_t)n, 3);
	printf(", ");
	snprintf(key, sizeof(key), "%s_end_ns", name);
	bench_json_array(stdout, key, ends_d, (size_t)n, 0);
	printf(", \"%s_total_ms\": %.3f", name, n ? bench_ms(ends[n - 1]) - (bench_ms(ends[0]) - ms[0]) : 0.0);
	free(ends_d);
}

static int run_upnp(const struct options *o)
{
	struct in_addr gw;
	if (default_gateway(&gw) < 0)
		bench_die(prog, "no default gateway");
	char location[512];
	int64_t t_start = bench_now_ns(), t_ssdp = t_start;
	if (o->url) {
		snprintf(location, sizeof(location), "%s", o->url);
	} else {
		if (ssdp_first_answer(o, &gw, location, sizeof(location)) < 0)
			bench_die(prog, "no SSDP answer from the gateway");
		t_ssdp = bench_now_ns();
	}
	struct UPNPUrls urls;
	struct IGDdatas data;
	char lanaddr[64];
	take_turn(o);
	if (!UPNP_GetIGDFromUrl(location, &urls, &data, lanaddr, sizeof(lanaddr)))
		bench_die(prog, "UPNP_GetIGDFromUrl failed");
	int64_t t_desc = bench_now_ns();
	char external[40];
	if (UPNP_GetExternalIPAddress(urls.controlURL, data.first.servicetype, external) != UPNPCOMMAND_SUCCESS)
		bench_die(prog, "GetExternalIPAddress failed");
	end_turn();
	int64_t t_ext = bench_now_ns();

	int64_t *add_end = calloc((size_t)o->count, sizeof(int64_t)), *del_end = calloc((size_t)o->count, sizeof(int64_t));
	double *add_ms = calloc((size_t)o->count, sizeof(double)), *del_ms = calloc((size_t)o->count, sizeof(double));
	if (!add_end || !del_end || !add_ms || !del_ms)
		bench_die(prog, "out of memory");
	for (int i = 0; i < o->count; i++) {
		char port[8];
		snprintf(port, sizeof(port), "%d", o->port + i);
		int64_t t = bench_now_ns();
		take_turn(o);
		int rc = UPNP_AddPortMapping(urls.controlURL, data.first.servicetype, port, port, lanaddr, "natt bench",
		                             "TCP", NULL, "3600");
		if (rc != UPNPCOMMAND_SUCCESS) {
			fprintf(stderr, "%s: AddPortMapping %s: %d\n", prog, port, rc);
			return 1;
		}
		if (o->natt_sequence &&
		    UPNP_GetExternalIPAddress(urls.controlURL, data.first.servicetype, external) != UPNPCOMMAND_SUCCESS)
			bench_die(prog, "GetExternalIPAddress failed");
		end_turn();
		add_end[i] = bench_now_ns();
		add_ms[i] = bench_ms(add_end[i] - t);
	}
	if (o->hold)
		bench_wait_for_file(o->hold);
	for (int i = 0; i < o->count; i++) {
		char port[8];
		snprintf(port, sizeof(port), "%d", o->port + i);
		int64_t t = bench_now_ns();
		take_turn(o);
		if (o->natt_sequence) {
			char client[64], inport[8], desc[96], enabled[8], duration[16];
			if (UPNP_GetSpecificPortMappingEntry(urls.controlURL, data.first.servicetype, port, "TCP", NULL, client,
			                                     inport, desc, enabled, duration) != UPNPCOMMAND_SUCCESS)
				bench_die(prog, "GetSpecificPortMappingEntry failed");
		}
		int rc = UPNP_DeletePortMapping(urls.controlURL, data.first.servicetype, port, "TCP", NULL);
		if (rc != UPNPCOMMAND_SUCCESS) {
			fprintf(stderr, "%s: DeletePortMapping %s: %d\n", prog, port, rc);
			return 1;
		}
		end_turn();
		del_end[i] = bench_now_ns();
		del_ms[i] = bench_ms(del_end[i] - t);
	}
	FreeUPNPUrls(&urls);
	printf("{\"technique\": \"upnp\", \"location\": \"%s\", \"external\": \"%s\", \"start_ns\": %lld, "
	       "\"ssdp_ms\": %.3f, \"desc_ms\": %.3f, \"ext_ms\": %.3f",
	       location, external, (long long)t_start, bench_ms(t_ssdp - t_start), bench_ms(t_desc - t_ssdp),
	       bench_ms(t_ext - t_desc));
	print_steps("add", add_end, add_ms, o->count);
	print_steps("del", del_end, del_ms, o->count);
	printf("}\n");
	return 0;
}

/* One NAT-PMP request already sent: wait for its answer, retransmitting on libnatpmp's schedule. */
static int natpmp_wait(natpmp_t *n, natpmpresp_t *reply, int timeout_ms)
{
	int64_t deadline = bench_now_ns() + (int64_t)timeout_ms * 1000000;
	for (;;) {
		struct timeval tv;
		getnatpmprequesttimeout(n, &tv);
		int wait = (int)(tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000);
		struct pollfd pfd = { .fd = n->s, .events = POLLIN };
		poll(&pfd, 1, wait);
		int rc = readnatpmpresponseorretry(n, reply);
		if (rc != NATPMP_TRYAGAIN)
			return rc;
		if (bench_now_ns() > deadline)
			return -1;
	}
}

static int run_natpmp(const struct options *o)
{
	struct in_addr gw;
	if (default_gateway(&gw) < 0)
		bench_die(prog, "no default gateway");
	natpmp_t n;
	natpmpresp_t reply;
	int64_t t_start = bench_now_ns();
	if (initnatpmp(&n, 1, gw.s_addr) < 0)
		bench_die(prog, "initnatpmp failed");
	if (sendpublicaddressrequest(&n) < 0 || natpmp_wait(&n, &reply, o->timeout_ms) < 0)
		bench_die(prog, "NAT-PMP external address failed");
	int64_t t_ext = bench_now_ns();
	char external[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &reply.pnu.publicaddress.addr, external, sizeof(external));

	int64_t *add_end = calloc((size_t)o->count, sizeof(int64_t)), *del_end = calloc((size_t)o->count, sizeof(int64_t));
	double *add_ms = calloc((size_t)o->count, sizeof(double)), *del_ms = calloc((size_t)o->count, sizeof(double));
	if (!add_end || !del_end || !add_ms || !del_ms)
		bench_die(prog, "out of memory");
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < o->count; i++) {
			uint16_t port = (uint16_t)(o->port + i);
			int64_t t = bench_now_ns();
			if (sendnewportmappingrequest(&n, NATPMP_PROTOCOL_TCP, port, pass ? 0 : port, pass ? 0 : 3600) < 0 ||
			    natpmp_wait(&n, &reply, o->timeout_ms) < 0) {
				fprintf(stderr, "%s: NAT-PMP %s of port %u failed\n", prog, pass ? "delete" : "map", port);
				return 1;
			}
			int64_t *end = pass ? del_end : add_end;
			double *ms = pass ? del_ms : add_ms;
			end[i] = bench_now_ns();
			ms[i] = bench_ms(end[i] - t);
		}
	}
	closenatpmp(&n);
	printf("{\"technique\": \"nat-pmp\", \"external\": \"%s\", \"start_ns\": %lld, \"ext_ms\": %.3f", external,
	       (long long)t_start, bench_ms(t_ext - t_start));
	print_steps("add", add_end, add_ms, o->count);
	print_steps("del", del_end, del_ms, o->count);
	printf("}\n");
	return 0;
}

/* One PCP MAP exchange on the connected socket fd, for client (16 bytes: IPv4-mapped or IPv6): 0 and
 * the external address's last 4 bytes (IPv4), or -1. */
static int pcp_map(int fd, const uint8_t client[16], uint16_t port, uint32_t lifetime, const uint8_t nonce[12],
                   struct in_addr *external, int timeout_ms)
{
	uint8_t req[60] = { 2, 1 };
	uint32_t lt = htonl(lifetime);
	memcpy(req + 4, &lt, 4);
	memcpy(req + 8, client, 16);
	memcpy(req + 24, nonce, 12);
	req[36] = IPPROTO_TCP;
	uint16_t p = htons(port);
	memcpy(req + 40, &p, 2);
	memcpy(req + 42, lifetime ? &p : &(uint16_t){ 0 }, 2);
	bool ipv4 = client[10] == 0xff && client[11] == 0xff && !memcmp(client, (uint8_t[10]){ 0 }, 10);
	if (ipv4)
		req[54] = req[55] = 0xff; /* no external address wished: ::ffff:0.0.0.0 */
	if (send(fd, req, sizeof(req), 0) < 0)
		return -1;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return -1;
		uint8_t reply[1100];
		ssize_t n = recv(fd, reply, sizeof(reply), 0);
		if (n < 0)
			return -1;
		if (n < 60 || reply[0] != 2 || reply[1] != 0x81 || memcmp(reply + 24, nonce, 12) != 0)
			continue;
		if (reply[3] != 0)
			return -1;
		memcpy(external, reply + 56, 4);
		return 0;
	}
}

/* The IPv6 default router: the next hop of ::/0 in /proc/net/ipv6_route (up, through a gateway), with
 * its interface as scope id (a link-local router, the usual case with router advertisements). */
static int default_router6(struct sockaddr_in6 *out)
{
	FILE *f = fopen("/proc/net/ipv6_route", "r");
	if (!f)
		return -1;
	char dst[33], hop[33], dev[IF_NAMESIZE + 1];
	unsigned dst_len, flags;
	int found = -1;
	memset(out, 0, sizeof(*out));
	out->sin6_family = AF_INET6;
	while (found < 0 && fscanf(f, "%32s %x %*s %*s %32s %*s %*s %*s %x %16s", dst, &dst_len, hop, &flags, dev) == 5) {
		if (dst_len != 0 || (flags & 0x3) != 0x3 || strspn(hop, "0") == 32) /* RTF_UP | RTF_GATEWAY */
			continue;
		for (int i = 0; i < 16; i++) {
			unsigned byte;
			sscanf(hop + 2 * i, "%2x", &byte);
			out->sin6_addr.s6_addr[i] = (uint8_t)byte;
		}
		if (IN6_IS_ADDR_LINKLOCAL(&out->sin6_addr))
			out->sin6_scope_id = if_nametoindex(dev);
		found = 0;
	}
	fclose(f);
	return found;
}

static int run_pcp_family(const struct options *o, bool ipv6)
{
	struct sockaddr_storage server = { 0 }, client;
	socklen_t slen, clen = sizeof(client);
	if (ipv6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&server;
		if (default_router6(s6) < 0)
			bench_die(prog, "no IPv6 default router");
		s6->sin6_port = htons(5351);
		slen = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&server;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(5351);
		if (default_gateway(&s4->sin_addr) < 0)
			bench_die(prog, "no default gateway");
		slen = sizeof(*s4);
	}
	int64_t t_start = bench_now_ns();
	int fd = socket(server.ss_family, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&server, slen) < 0 ||
	    getsockname(fd, (struct sockaddr *)&client, &clen) < 0)
		bench_die(prog, "PCP socket failed");
	uint8_t client16[16] = { 0 };
	if (ipv6) {
		memcpy(client16, &((struct sockaddr_in6 *)&client)->sin6_addr, 16);
	} else {
		client16[10] = client16[11] = 0xff;
		memcpy(client16 + 12, &((struct sockaddr_in *)&client)->sin_addr, 4);
	}
	uint8_t (*nonces)[12] = calloc((size_t)o->count, 12);
	int64_t *add_end = calloc((size_t)o->count, sizeof(int64_t)), *del_end = calloc((size_t)o->count, sizeof(int64_t));
	double *add_ms = calloc((size_t)o->count, sizeof(double)), *del_ms = calloc((size_t)o->count, sizeof(double));
	if (!nonces || !add_end || !del_end || !add_ms || !del_ms)
		bench_die(prog, "out of memory");
	if (getrandom(nonces, (size_t)o->count * 12, 0) < 0)
		bench_die(prog, "getrandom failed");
	struct in_addr external = { 0 };
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < o->count; i++) {
			uint16_t port = (uint16_t)(o->port + i);
			int64_t t = bench_now_ns();
			if (pcp_map(fd, client16, port, pass ? 0 : 3600, nonces[i], &external, o->timeout_ms) < 0) {
				fprintf(stderr, "%s: PCP %s of port %u failed\n", prog, pass ? "delete" : "map", port);
				return 1;
			}
			int64_t *end = pass ? del_end : add_end;
			double *ms = pass ? del_ms : add_ms;
			end[i] = bench_now_ns();
			ms[i] = bench_ms(end[i] - t);
		}
	}
	close(fd);
	char text[INET6_ADDRSTRLEN];
	if (ipv6)
		inet_ntop(AF_INET6, client16, text, sizeof(text));
	else
		inet_ntop(AF_INET, &external, text, sizeof(text));
	printf("{\"technique\": \"pcp\", \"external\": \"%s\", \"start_ns\": %lld, \"ext_ms\": 0", text,
	       (long long)t_start);
	print_steps("add", add_end, add_ms, o->count);
	print_steps("del", del_end, del_ms, o->count);
	printf("}\n");
	return 0;
}

static int run_pcp(const struct options *o)
{
	return run_pcp_family(o, false);
}

/* IPv6 pinholes through UPnP IGDv2: found over IPv4, the WANIPv6FirewallControl calls sent to the
 * router's IPv6 address (miniupnpd in secure mode opens a pinhole for the address asking only). */
static int run_upnp6(const struct options *o)
{
	struct in_addr gw;
	struct sockaddr_in6 router6;
	if (default_gateway(&gw) < 0 || default_router6(&router6) < 0)
		bench_die(prog, "no default gateway or IPv6 default router");
	char location[512];
	int64_t t_start = bench_now_ns();
	if (ssdp_first_answer(o, &gw, location, sizeof(location)) < 0)
		bench_die(prog, "no SSDP answer from the gateway");
	int64_t t_ssdp = bench_now_ns();
	struct UPNPUrls urls;
	struct IGDdatas data;
	char lanaddr[64];
	if (!UPNP_GetIGDFromUrl(location, &urls, &data, lanaddr, sizeof(lanaddr)) || !urls.controlURL_6FC ||
	    !data.IPv6FC.servicetype[0])
		bench_die(prog, "no IGD with WANIPv6FirewallControl");
	int64_t t_desc = bench_now_ns();
	/* The control URL's port and path, at [router6]. */
	const char *rest = strstr(urls.controlURL_6FC, "://");
	rest = rest ? strchr(rest + 3, ':') : NULL;
	char router_text[INET6_ADDRSTRLEN], zone[IF_NAMESIZE + 4] = "", url[700], client[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, &router6.sin6_addr, router_text, sizeof(router_text));
	if (!rest)
		bench_die(prog, "odd control URL");
	char name[IF_NAMESIZE];
	if (router6.sin6_scope_id && if_indextoname(router6.sin6_scope_id, name))
		snprintf(zone, sizeof(zone), "%%25%s", name);
	snprintf(url, sizeof(url), "http://[%s%s]%s", router_text, zone, rest);
	struct sockaddr_in6 to = router6, from;
	to.sin6_port = htons(1900);
	socklen_t flen = sizeof(from);
	int probe = socket(AF_INET6, SOCK_DGRAM, 0);
	if (probe < 0 || connect(probe, (struct sockaddr *)&to, sizeof(to)) < 0 ||
	    getsockname(probe, (struct sockaddr *)&from, &flen) < 0)
		bench_die(prog, "no IPv6 route to the router");
	close(probe);
	inet_ntop(AF_INET6, &from.sin6_addr, client, sizeof(client));

	int64_t *add_end = calloc((size_t)o->count, sizeof(int64_t)), *del_end = calloc((size_t)o->count, sizeof(int64_t));
	double *add_ms = calloc((size_t)o->count, sizeof(double)), *del_ms = calloc((size_t)o->count, sizeof(double));
	char (*ids)[8] = calloc((size_t)o->count, 8);
	if (!add_end || !del_end || !add_ms || !del_ms || !ids)
		bench_die(prog, "out of memory");
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < o->count; i++) {
			char port[8];
			snprintf(port, sizeof(port), "%d", o->port + i);
			int64_t t = bench_now_ns();
			int rc = pass ? UPNP_DeletePinhole(url, data.IPv6FC.servicetype, ids[i])
			              : UPNP_AddPinhole(url, data.IPv6FC.servicetype, "", "0", client, port, "6", "3600", ids[i]);
			if (rc != UPNPCOMMAND_SUCCESS) {
				fprintf(stderr, "%s: %sPinhole %s: %d\n", prog, pass ? "Delete" : "Add", port, rc);
				return 1;
			}
			int64_t *end = pass ? del_end : add_end;
			double *ms = pass ? del_ms : add_ms;
			end[i] = bench_now_ns();
			ms[i] = bench_ms(end[i] - t);
		}
	}
	FreeUPNPUrls(&urls);
	printf("{\"technique\": \"upnp\", \"location\": \"%s\", \"external\": \"%s\", \"start_ns\": %lld, "
	       "\"ssdp_ms\": %.3f, \"desc_ms\": %.3f, \"ext_ms\": 0",
	       location, client, (long long)t_start, bench_ms(t_ssdp - t_start), bench_ms(t_desc - t_ssdp));
	print_steps("add", add_end, add_ms, o->count);
	print_steps("del", del_end, del_ms, o->count);
	printf("}\n");
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { .count = 1, .port = 30000, .mx = 1, .timeout_ms = 5000 };
	static const struct option longopts[] = {
		{ "count", required_argument, NULL, 'n' }, { "port", required_argument, NULL, 'p' },
		{ "url", required_argument, NULL, 'u' },   { "mx", required_argument, NULL, 'm' },
		{ "unicast", no_argument, NULL, 'U' },     { "natt-sequence", no_argument, NULL, 'N' },
		{ "hold", required_argument, NULL, 'H' },  { "lock", required_argument, NULL, 'L' },
		{ 0, 0, 0, 0 },
	};
	if (argc < 2)
		bench_die(prog, "usage: floor upnp|natpmp|pcp|upnp6|pcp6 [--count N] [--port P] [--url URL] [--mx S] [--unicast] "
		                "[--natt-sequence] [--hold FILE] [--lock FILE]");
	const char *mode = argv[1];
	optind = 2;
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': o.count = atoi(optarg); break;
		case 'p': o.port = atoi(optarg); break;
		case 'u': o.url = optarg; break;
		case 'm': o.mx = atoi(optarg); break;
		case 'U': o.unicast = true; break;
		case 'N': o.natt_sequence = true; break;
		case 'H': o.hold = optarg; break;
		case 'L': o.lock = optarg; break;
		default: return 2;
		}
	}
	if (o.count < 1 || o.port < 1 || o.port + o.count > 65536)
		bench_die(prog, "bad --count/--port");
	if (strcmp(mode, "upnp") == 0)
		return run_upnp(&o);
	if (strcmp(mode, "natpmp") == 0)
		return run_natpmp(&o);
	if (strcmp(mode, "pcp") == 0)
		return run_pcp(&o);
	if (strcmp(mode, "pcp6") == 0)
		return run_pcp_family(&o, true);
	if (strcmp(mode, "upnp6") == 0)
		return run_upnp6(&o);
	bench_die(prog, "mode must be upnp, natpmp, pcp, upnp6 or pcp6");
}
