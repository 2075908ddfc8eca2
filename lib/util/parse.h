/* Strict parsers for what natt reads as text: configuration values (NATT_PORTS, NATT_PROTOCOLS,
 * NATT_LOG, numbers given on the command line) and the kernel's routing table (/proc/net/route and
 * rtnetlink route dumps).
 *
 * Strict on purpose: a value natt does not understand exactly is an error the user sees, never a
 * silently different behaviour ("80x" is not port 80). Every function is pure (no global state, no
 * allocation) and thread-safe. */
#ifndef NATT_PARSE_H
#define NATT_PARSE_H

#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "natt/common.h"

/* What part of a list was wrong, so a front end can say e.g.
 *     natt-run: --ports: "9010-9000": the range's start is above its end
 * at points into the parsed string (not NUL-terminated there: print len bytes); reason is a static
 * English phrase. */
struct natt_parse_error {
	const char *at;
	size_t len;
	const char *reason;
};

/* natt_parse_ulong - a decimal number made of ASCII digits only: no sign, no spaces, no "0x", no
 * trailing characters; leading zeros are allowed and mean nothing ("010" is ten).
 * Returns 0 and stores the value in *out; -EINVAL when s is NULL, empty or not all digits; -ERANGE when
 * the number is outside [min, max] (also when it overflows unsigned long). *out is untouched on error. */
int natt_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* A set of local ports, from NATT_PORTS / --ports. An empty set means "every port". */
#define NATT_PORT_SET_MAX 64
struct natt_port_range {
	uint16_t lo, hi; /* 1 <= lo <= hi */
};
struct natt_port_set {
	size_t count;
	struct natt_port_range ranges[NATT_PORT_SET_MAX];
};

/* natt_port_set_parse - parses a comma-separated list of ports and ranges: "8000", "8000,9000-9010",
 * " 8000 , 9000-9010 " (spaces and tabs around items allowed, none inside an item). Ports are 1-65535
 * in decimal, a range's start is not above its end, at most NATT_PORT_SET_MAX items; overlaps are fine.
 * An empty or blank string is an error: a caller for whom an empty variable means "unset" checks that
 * first. Returns 0, or -EINVAL (set is then empty). _ex also describes the error in *err (may be NULL). */
int natt_port_set_parse(const char *s, struct natt_port_set *set);
int natt_port_set_parse_ex(const char *s, struct natt_port_set *set, struct natt_parse_error *err);

/* natt_port_set_contains - whether port is in set. An empty set (count 0) and a NULL set contain every
 * port. */
bool natt_port_set_contains(const struct natt_port_set *set, uint16_t port);

/* natt_parse_techniques - parses an ordered, comma-separated list of techniques ("upnp,nat-pmp"), as in
 * NATT_PROTOCOLS; the order is the order of preference. Names are those of natt_technique_from_name();
 * spaces and tabs around items are allowed; a technique may appear only once.
 * order: receives up to max techniques; count: receives how many.
 * Returns 0, or -EINVAL (NULL argument, empty list or item, unknown name, duplicate, more than max
 * items); *count is 0 on error. _ex also describes the error in *err (may be NULL). */
int natt_parse_techniques(const char *s, enum natt_technique *order, size_t max, size_t *count);
int natt_parse_techniques_ex(const char *s, enum natt_technique *order, size_t max, size_t *count,
			     struct natt_parse_error *err);

/* natt_technique_from_name - the technique named by the len bytes at name, ASCII case-insensitive:
 * "upnp", "nat-pmp" or "natpmp", "pcp". Returns the enum natt_technique value (never NATT_TECH_LOCAL),
 * or -EINVAL. */
int natt_technique_from_name(const char *name, size_t len);

/* natt_technique_name - "upnp", "nat-pmp" or "pcp", as written in the status file; NULL for
 * NATT_TECH_LOCAL (written there as null) and for values outside the enum. */
const char *natt_technique_name(enum natt_technique technique);

/* natt_parse_log_level - a log level from NATT_LOG / --log: "error" 0, "warn" (or "warning") 1,
 * "info" 2, "debug" 3, ASCII case-insensitive, or a single digit 0-3. These are the values of enum
 * natt_log_level in log.h. Returns the level, or -EINVAL. */
int natt_parse_log_level(const char *s);

/* ---- The IPv4 default route ----
 * natt_gateway_ipv4() (net.c) reads the kernel's routing table from rtnetlink, or /proc/net/route when
 * netlink is unavailable. The parsers of both live here, working on given bytes so tests can feed them
 * sample tables; each keeps the best default route seen so far in a struct natt_route_pick. */
struct natt_route_pick {
	bool found;
	uint32_t metric;                /* lower wins; the first seen wins a tie */
	struct in_addr gateway;
	unsigned ifindex;               /* from netlink (0 when parsed from /proc) */
	char ifname[IF_NAMESIZE];       /* from /proc ("" when parsed from netlink) */
};

/* natt_route_proc_parse - parses the text of /proc/net/route (len bytes, need not be NUL-terminated) and
 * records in *pick the default route (destination and mask 0, flags RTF_UP and RTF_GATEWAY, not
 * RTF_REJECT, gateway not 0.0.0.0) of lowest metric. pick should be zeroed before the first call; a
 * caller reading the file in pieces may call it once per piece, each ending at a line end.
 * The first line is the header if it starts with "Iface"; malformed lines are skipped, since one odd
 * line must not hide the default route.
 * Returns 0 (pick->found tells whether a default route was seen). Never fails on any input. */
int natt_route_proc_parse(const char *text, size_t len, struct natt_route_pick *pick);

/* natt_netlink_walk - processes one datagram (len bytes at buf, aligned to 4 bytes) of the kernel's
 * answer to a dump request sent with sequence number seq from port id portid: calls fn(message, ctx)
 * for each message of ours (another seq or portid: skipped) that is neither NLMSG_DONE nor
 * NLMSG_ERROR; a negative result of fn ends the walk with it.
 * Returns 1 when the datagram ended the dump (NLMSG_DONE), 0 when more datagrams follow, -EAGAIN when
 * the kernel flagged the dump as interrupted by a concurrent change (NLM_F_DUMP_INTR: ask again), the
 * negative error of an NLMSG_ERROR message or of an NLMSG_DONE that carries one, or -EBADMSG for a
 * truncated or malformed message. */
struct nlmsghdr;
int natt_netlink_walk(const void *buf, size_t len, uint32_t seq, uint32_t portid,
		      int (*fn)(const struct nlmsghdr *msg, void *ctx), void *ctx);

/* natt_route_netlink_parse - processes one datagram (len bytes at buf, aligned to 4 bytes as any
 * malloc'd buffer is) of the kernel's answer to an RTM_GETROUTE dump request sent with sequence number
 * seq from port id portid. Messages with another seq or portid are
 * skipped (they are not ours). An IPv4 route counts when it is in the main table, of type unicast,
 * with destination length 0 and a gateway (RTA_GATEWAY, or the first next hop of RTA_MULTIPATH that has
 * one); its metric is RTA_PRIORITY (0 when absent).
 * Returns 1 when the datagram ended the dump (NLMSG_DONE), 0 when more datagrams follow, -EAGAIN when
 * the kernel flagged the dump as interrupted by a concurrent change (NLM_F_DUMP_INTR: ask again), the
 * negative error of an NLMSG_ERROR message, or -EBADMSG for a truncated or malformed message. */
int natt_route_netlink_parse(const void *buf, size_t len, uint32_t seq, uint32_t portid,
			     struct natt_route_pick *pick);
/* The same for one message of such a datagram (a natt_netlink_walk callback; pick: struct
 * natt_route_pick *): 0, or -EBADMSG. */
int natt_route_netlink_message(const struct nlmsghdr *msg, void *pick);

#endif
