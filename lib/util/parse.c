/* Strict parsers for configuration values and for the kernel's routing table. See parse.h. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/route.h>

#include "util/log.h"
#include "util/parse.h"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* ASCII only: tolower() would follow the program's locale, which is not ours to depend on. */
static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Whether the len bytes at s equal the NUL-terminated lower-case word, ignoring ASCII case. */
static bool word_is(const char *s, size_t len, const char *word)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (word[i] == '\0' || ascii_lower(s[i]) != word[i])
			return false;
	return word[len] == '\0';
}

static void set_error(struct natt_parse_error *err, const char *at, size_t len, const char *reason)
{
	if (err) {
		err->at = at;
		err->len = len;
		err->reason = reason;
	}
}

/* natt_parse_ulong on the len bytes at s. */
static int parse_ulong_n(const char *s, size_t len, unsigned long min, unsigned long max,
			 unsigned long *out)
{
	unsigned long v = 0;
	bool overflow = false;
	size_t i;

	if (!s || len == 0)
		return -EINVAL;
	/* Every character is checked before the range, so "99999999999999999999x" is -EINVAL, not
	 * -ERANGE: the text is not a number at all. */
	for (i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		d = (unsigned)(s[i] - '0');
		if (v > (ULONG_MAX - d) / 10)
			overflow = true;
		else
			v = v * 10 + d;
	}
	if (overflow || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

int natt_parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long v;
	int r;

	if (!s || !out)
		return -EINVAL;
	r = parse_ulong_n(s, strlen(s), min, max, &v);
	if (r == 0)
		*out = v;
	return r;
}

/* One item of a comma-separated list: [start, end) with the blanks around it removed, and the raw
 * extent for error messages. */
struct list_item {
	const char *start;
	size_t len;
	const char *raw;
	size_t raw_len;
};

/* Steps through a comma-separated list. *pos starts at the string; returns false after the last item.
 * "a,,b" yields an empty middle item and "a," an empty last one, so callers can reject them. */
static bool next_item(const char **pos, struct list_item *item)
{
	const char *p = *pos, *comma, *b, *e;

	if (!p)
		return false;
	comma = strchr(p, ',');
	e = comma ? comma : p + strlen(p);
	item->raw = p;
	item->raw_len = (size_t)(e - p);
	b = p;
	while (b < e && is_blank(*b))
		b++;
	while (e > b && is_blank(e[-1]))
		e--;
	item->start = b;
	item->len = (size_t)(e - b);
	*pos = comma ? comma + 1 : NULL;
	return true;
}

static bool is_blank_string(const char *s)
{
	while (is_blank(*s))
		s++;
	return *s == '\0';
}

int natt_port_set_parse_ex(const char *s, struct natt_port_set *set, struct natt_parse_error *err)
{
	struct list_item item;
	const char *pos = s;

	set_error(err, s, 0, NULL);
	if (!s || !set) {
		set_error(err, s, 0, "missing argument");
		return -EINVAL;
	}
	set->count = 0;
	if (is_blank_string(s)) {
		set_error(err, s, strlen(s), "empty port list");
		return -EINVAL;
	}
	while (next_item(&pos, &item)) {
		const char *dash = memchr(item.start, '-', item.len);
		unsigned long lo, hi;
		size_t lo_len = dash ? (size_t)(dash - item.start) : item.len;

		if (item.len == 0) {
			set_error(err, item.raw, item.raw_len, "empty item in the list");
			goto error;
		}
		if (parse_ulong_n(item.start, lo_len, 1, 65535, &lo) < 0) {
			set_error(err, item.start, lo_len, "not a port number (1-65535)");
			goto error;
		}
		hi = lo;
		if (dash) {
			const char *h = dash + 1;
			size_t hi_len = item.len - lo_len - 1;

			if (parse_ulong_n(h, hi_len, 1, 65535, &hi) < 0) {
				set_error(err, h, hi_len, "not a port number (1-65535)");
				goto error;
			}
			if (hi < lo) {
				set_error(err, item.start, item.len, "the range's start is above its end");
				goto error;
			}
		}
		if (set->count == NATT_PORT_SET_MAX) {
			set_error(err, item.start, item.len, "too many items (at most 64)");
			goto error;
		}
		set->ranges[set->count].lo = (uint16_t)lo;
		set->ranges[set->count].hi = (uint16_t)hi;
		set->count++;
	}
	return 0;

error:
	set->count = 0;
	return -EINVAL;
}

int natt_port_set_parse(const char *s, struct natt_port_set *set)
{
	return natt_port_set_parse_ex(s, set, NULL);
}

bool natt_port_set_contains(const struct natt_port_set *set, uint16_t port)
{
	size_t i;

	if (!set || set->count == 0)
		return true;
	for (i = 0; i < set->count && i < NATT_PORT_SET_MAX; i++)
		if (port >= set->ranges[i].lo && port <= set->ranges[i].hi)
			return true;
	return false;
}

int natt_technique_from_name(const char *name, size_t len)
{
	if (!name)
		return -EINVAL;
	if (word_is(name, len, "upnp"))
		return NATT_TECH_UPNP;
	if (word_is(name, len, "nat-pmp") || word_is(name, len, "natpmp"))
		return NATT_TECH_NATPMP;
	if (word_is(name, len, "pcp"))
		return NATT_TECH_PCP;
	return -EINVAL;
}

const char *natt_technique_name(enum natt_technique technique)
{
	switch (technique) {
	case NATT_TECH_UPNP: return "upnp";
	case NATT_TECH_NATPMP: return "nat-pmp";
	case NATT_TECH_PCP: return "pcp";
	case NATT_TECH_LOCAL: return NULL;
	}
	return NULL;
}

int natt_parse_techniques_ex(const char *s, enum natt_technique *order, size_t max, size_t *count,
			     struct natt_parse_error *err)
{
	struct list_item item;
	const char *pos = s;
	size_t n = 0, i;

	set_error(err, s, 0, NULL);
	if (count)
		*count = 0;
	if (!s || !order || !count) {
		set_error(err, s, 0, "missing argument");
		return -EINVAL;
	}
	if (is_blank_string(s)) {
		set_error(err, s, strlen(s), "empty list of techniques");
		return -EINVAL;
	}
	while (next_item(&pos, &item)) {
		int t;

		if (item.len == 0) {
			set_error(err, item.raw, item.raw_len, "empty item in the list");
			return -EINVAL;
		}
		t = natt_technique_from_name(item.start, item.len);
		if (t < 0) {
			set_error(err, item.start, item.len, "unknown technique (known: upnp, nat-pmp, pcp)");
			return -EINVAL;
		}
		for (i = 0; i < n; i++) {
			if (order[i] == (enum natt_technique)t) {
				set_error(err, item.start, item.len, "technique listed twice");
				return -EINVAL;
			}
		}
		if (n == max) {
			set_error(err, item.start, item.len, "too many techniques");
			return -EINVAL;
		}
		order[n++] = (enum natt_technique)t;
	}
	*count = n;
	return 0;
}

int natt_parse_techniques(const char *s, enum natt_technique *order, size_t max, size_t *count)
{
	return natt_parse_techniques_ex(s, order, max, count, NULL);
}

int natt_parse_log_level(const char *s)
{
	size_t len;

	if (!s)
		return -EINVAL;
	len = strlen(s);
	if (len == 1 && s[0] >= '0' && s[0] <= '3')
		return s[0] - '0';
	if (word_is(s, len, "error"))
		return NATT_LOG_ERROR;
	if (word_is(s, len, "warn") || word_is(s, len, "warning"))
		return NATT_LOG_WARN;
	if (word_is(s, len, "info"))
		return NATT_LOG_INFO;
	if (word_is(s, len, "debug"))
		return NATT_LOG_DEBUG;
	return -EINVAL;
}

/* ---- /proc/net/route ---- */

/* A field of /proc/net/route holding a 32-bit value the kernel printed with %08X. */
static bool parse_hex32(const char *s, size_t len, uint32_t *out)
{
	uint32_t v = 0;
	size_t i;

	if (len == 0 || len > 8)
		return false;
	for (i = 0; i < len; i++) {
		char c = ascii_lower(s[i]);
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return false;
		v = v << 4 | d;
	}
	*out = v;
	return true;
}

/* One line (without its newline) of /proc/net/route:
 *     Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT
 * Addresses are the raw __be32 printed as a host-order number, so the parsed number stored as s_addr
 * gives back the network-order bytes on any endianness. */
static void proc_route_line(const char *line, size_t len, struct natt_route_pick *pick)
{
	enum { IFACE, DEST, GATEWAY, FLAGS, REFCNT, USE, METRIC, MASK, NEEDED };
	const char *field[NEEDED];
	size_t flen[NEEDED];
	size_t i = 0, n = 0;
	uint32_t dest, gw, flags, mask;
	unsigned long metric;

	while (n < NEEDED) {
		while (i < len && is_blank(line[i]))
			i++;
		if (i == len)
			return; /* too few fields: not a route line */
		field[n] = line + i;
		while (i < len && !is_blank(line[i]))
			i++;
		flen[n] = (size_t)(line + i - field[n]);
		n++;
	}
	if (word_is(field[IFACE], flen[IFACE], "iface"))
		return; /* the header */
	if (flen[IFACE] >= IF_NAMESIZE)
		return;
	if (!parse_hex32(field[DEST], flen[DEST], &dest) || !parse_hex32(field[GATEWAY], flen[GATEWAY], &gw) ||
	    !parse_hex32(field[FLAGS], flen[FLAGS], &flags) || !parse_hex32(field[MASK], flen[MASK], &mask) ||
	    parse_ulong_n(field[METRIC], flen[METRIC], 0, UINT32_MAX, &metric) < 0)
		return;
	if (dest != 0 || mask != 0 || gw == 0)
		return;
	if ((flags & (RTF_UP | RTF_GATEWAY)) != (RTF_UP | RTF_GATEWAY) || (flags & RTF_REJECT))
		return;
	if (pick->found && metric >= pick->metric)
		return;
	pick->found = true;
	pick->metric = (uint32_t)metric;
	pick->gateway.s_addr = gw;
	pick->ifindex = 0;
	memcpy(pick->ifname, field[IFACE], flen[IFACE]);
	pick->ifname[flen[IFACE]] = '\0';
}

int natt_route_proc_parse(const char *text, size_t len, struct natt_route_pick *pick)
{
	size_t start = 0;

	if (!pick)
		return -EINVAL;
	if (!text)
		return 0;
	while (start < len) {
		const char *nl = memchr(text + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - text) : len;

		proc_route_line(text + start, end - start, pick);
		start = end + 1;
	}
	return 0;
}

/* ---- rtnetlink route dumps ---- */

/* Reads a u32 attribute; false when its payload is too short. */
static bool rta_u32(const struct rtattr *rta, uint32_t *out)
{
	if (RTA_PAYLOAD(rta) < sizeof(uint32_t))
		return false;
	memcpy(out, RTA_DATA(rta), sizeof(uint32_t));
	return true;
}

/* The first next hop of an RTA_MULTIPATH attribute that names an IPv4 gateway. */
static bool multipath_gateway(const struct rtattr *mp, struct in_addr *gw, unsigned *ifindex)
{
	const unsigned char *p = RTA_DATA(mp);
	size_t left = RTA_PAYLOAD(mp);

	while (left >= sizeof(struct rtnexthop)) {
		const struct rtnexthop *nh = (const struct rtnexthop *)p;
		size_t nh_len = nh->rtnh_len, step = RTNH_ALIGN(nh_len);
		const struct rtattr *a;
		int alen;

		if (nh_len < sizeof(*nh) || nh_len > left)
			return false;
		alen = (int)(nh_len - RTNH_LENGTH(0));
		for (a = RTNH_DATA(nh); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
			if (a->rta_type == RTA_GATEWAY && RTA_PAYLOAD(a) == sizeof(struct in_addr)) {
				memcpy(gw, RTA_DATA(a), sizeof(*gw));
				*ifindex = nh->rtnh_ifindex > 0 ? (unsigned)nh->rtnh_ifindex : 0;
				return true;
			}
		}
		if (step >= left)
			break;
		p += step;
		left -= step;
	}
	return false;
}

static int netlink_route(const struct nlmsghdr *nh, struct natt_route_pick *pick)
{
	const struct rtmsg *rt;
	const struct rtattr *a;
	uint32_t table, metric = 0, oif = 0;
	struct in_addr gw = { 0 };
	unsigned mp_ifindex = 0;
	bool have_gw = false;
	int alen;

	if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(*rt)))
		return -EBADMSG;
	rt = NLMSG_DATA(nh);
	if (rt->rtm_family != AF_INET || rt->rtm_dst_len != 0 || rt->rtm_type != RTN_UNICAST)
		return 0;
	table = rt->rtm_table;
	alen = (int)RTM_PAYLOAD(nh);
	for (a = RTM_RTA(rt); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
		switch (a->rta_type) {
		case RTA_TABLE: /* rtm_table holds only 8 bits; this is the real table id */
			if (!rta_u32(a, &table))
				return -EBADMSG;
			break;
		case RTA_PRIORITY:
			if (!rta_u32(a, &metric))
				return -EBADMSG;
			break;
		case RTA_OIF:
			if (!rta_u32(a, &oif))
				return -EBADMSG;
			break;
		case RTA_GATEWAY:
			if (RTA_PAYLOAD(a) != sizeof(struct in_addr))
				return -EBADMSG;
			memcpy(&gw, RTA_DATA(a), sizeof(gw));
			have_gw = true;
			break;
		case RTA_MULTIPATH:
			if (!have_gw && multipath_gateway(a, &gw, &mp_ifindex)) {
				have_gw = true;
				oif = mp_ifindex;
			}
			break;
		default:
			break;
		}
	}
	if (table != RT_TABLE_MAIN || !have_gw || gw.s_addr == 0)
		return 0;
	if (pick->found && metric >= pick->metric)
		return 0;
	pick->found = true;
	pick->metric = metric;
	pick->gateway = gw;
	pick->ifindex = oif;
	pick->ifname[0] = '\0';
	return 0;
}

int natt_netlink_walk(const void *buf, size_t len, uint32_t seq, uint32_t portid,
		      int (*fn)(const struct nlmsghdr *msg, void *ctx), void *ctx)
{
	const unsigned char *p = buf;

	if (!buf || !fn)
		return -EINVAL;
	while (len >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nh = (const struct nlmsghdr *)p;
		size_t step;
		int r;

		if (nh->nlmsg_len < sizeof(*nh) || nh->nlmsg_len > len)
			return -EBADMSG;
		if (nh->nlmsg_seq == seq && nh->nlmsg_pid == portid) {
			if (nh->nlmsg_flags & NLM_F_DUMP_INTR)
				return -EAGAIN;
			switch (nh->nlmsg_type) {
			case NLMSG_DONE: {
				/* A dump that failed part-way ends with the error in NLMSG_DONE. */
				int e = 0;

				if (nh->nlmsg_len >= NLMSG_LENGTH(sizeof(int)))
					memcpy(&e, NLMSG_DATA(nh), sizeof(e));
				return e < 0 ? (e >= -4095 ? e : -EPROTO) : 1;
			}
			case NLMSG_ERROR: {
				struct nlmsgerr e;

				if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(e)))
					return -EBADMSG;
				memcpy(&e, NLMSG_DATA(nh), sizeof(e));
				if (e.error < 0)
					return e.error >= -4095 ? e.error : -EPROTO;
				break; /* error 0 is an acknowledgement */
			}
			default:
				r = fn(nh, ctx);
				if (r < 0)
					return r;
				break;
			}
		}
		step = NLMSG_ALIGN(nh->nlmsg_len);
		if (step >= len)
			break;
		p += step;
		len -= step;
	}
	return 0;
}

static int route_message(const struct nlmsghdr *nh, void *pick)
{
	return nh->nlmsg_type == RTM_NEWROUTE ? netlink_route(nh, pick) : 0;
}

int natt_route_netlink_parse(const void *buf, size_t len, uint32_t seq, uint32_t portid,
			     struct natt_route_pick *pick)
{
	if (!buf || !pick)
		return -EINVAL;
	return natt_netlink_walk(buf, len, seq, portid, route_message, pick);
}

int natt_route_netlink_message(const struct nlmsghdr *msg, void *pick)
{
	return route_message(msg, pick);
}
