/* SSDP (UPnP Device Architecture 1.1, section 1): M-SEARCH with early delivery of each answer, and a
 * parser for search replies and NOTIFY announcements.
 *
 * The search never waits out a fixed window: every answer goes to the caller as it arrives, and the
 * caller ends the search by returning non-zero (a router answers within milliseconds; a fixed
 * 2 s window wastes nearly all of it). */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "natt/upnp.h"
#include "upnp/ssdp.h"
#include "util/clock.h"

#ifndef NATT_VERSION
#define NATT_VERSION "0"
#endif

#define SSDP_ADDR "239.255.255.250"
#define SSDP_PORT 1900
/* First retransmission gap; it doubles after each send (0, 200, 600, 1400, 3000 ms ...). */
#define SSDP_FIRST_GAP_MS 200

/* ---- Parsing ------------------------------------------------------------------------------------- */

/* Copies a header value. A value with control characters is refused for URLs and names (it would be
 * passed on into requests); fields that are only shown (SERVER) get '?' instead and are cut to fit. */
static int copy_value(char *dst, size_t cap, const char *v, size_t vlen, int display_only)
{
	if (vlen >= cap) {
		if (!display_only)
			return -EINVAL;
		vlen = cap - 1;
	}
	for (size_t i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char)v[i];
		if ((c < ' ' && c != '\t') || c == 0x7f) {
			if (!display_only)
				return -EINVAL;
			c = '?';
		}
		dst[i] = (char)c;
	}
	dst[vlen] = '\0';
	return 0;
}

static int header_is(const char *name, size_t nlen, const char *want)
{
	return strlen(want) == nlen && strncasecmp(name, want, nlen) == 0;
}

static int value_is(const char *v, size_t vlen, const char *want)
{
	return strlen(want) == vlen && strncasecmp(v, want, vlen) == 0;
}

int natt_ssdp_parse(const char *datagram, size_t len, struct natt_ssdp_reply *reply, int *kind)
{
	if (!datagram || !reply)
		return -EINVAL;
	memset(reply, 0, sizeof(*reply));
	reply->bootid = -1;

	const char *p = datagram, *end = datagram + len;
	const char *nl = memchr(p, '\n', len);
	if (!nl)
		return -EINVAL;
	size_t flen = (size_t)(nl - p);
	if (flen && p[flen - 1] == '\r')
		flen--;
	int k;
	if (flen >= 12 && strncmp(p, "HTTP/1.", 7) == 0 && p[7] >= '0' && p[7] <= '9' && p[8] == ' ' &&
	    strncmp(p + 9, "200", 3) == 0 && (flen == 12 || p[12] == ' '))
		k = NATT_SSDP_SEARCH_REPLY;
	else if (flen >= 16 && strncmp(p, "NOTIFY * HTTP/1.", 16) == 0)
		k = -1; /* which NOTIFY: from NTS below */
	else
		return -EINVAL;

	char nt[sizeof(reply->st)] = "";
	int nts = -1;
	int have_location = 0, have_st = 0, have_nt = 0, have_usn = 0;
	for (p = nl + 1; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		size_t llen = (size_t)(eol - p);
		if (llen && p[llen - 1] == '\r')
			llen--;
		if (llen == 0)
			break; /* end of headers */
		const char *colon = memchr(p, ':', llen);
		if (colon) {
			size_t nlen = (size_t)(colon - p);
			while (nlen && (p[nlen - 1] == ' ' || p[nlen - 1] == '\t'))
				nlen--;
			const char *v = colon + 1, *vend = p + llen;
			while (v < vend && (*v == ' ' || *v == '\t'))
				v++;
			while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
				vend--;
			size_t vlen = (size_t)(vend - v);
			if (header_is(p, nlen, "LOCATION") && !have_location) {
				if (copy_value(reply->location, sizeof(reply->location), v, vlen, 0) < 0)
					return -EINVAL;
				have_location = vlen > 0;
			} else if (header_is(p, nlen, "ST") && !have_st) {
				if (copy_value(reply->st, sizeof(reply->st), v, vlen, 0) < 0)
					return -EINVAL;
				have_st = vlen > 0;
			} else if (header_is(p, nlen, "NT") && !have_nt) {
				if (copy_value(nt, sizeof(nt), v, vlen, 0) < 0)
					return -EINVAL;
				have_nt = vlen > 0;
			} else if (header_is(p, nlen, "USN") && !have_usn) {
				if (copy_value(reply->usn, sizeof(reply->usn), v, vlen, 0) < 0)
					return -EINVAL;
				have_usn = vlen > 0;
			} else if (header_is(p, nlen, "SERVER")) {
				copy_value(reply->server, sizeof(reply->server), v, vlen, 1);
			} else if (header_is(p, nlen, "NTS")) {
				if (value_is(v, vlen, "ssdp:alive"))
					nts = NATT_SSDP_ALIVE;
				else if (value_is(v, vlen, "ssdp:byebye"))
					nts = NATT_SSDP_BYEBYE;
				else if (value_is(v, vlen, "ssdp:update"))
					nts = NATT_SSDP_UPDATE;
			} else if (header_is(p, nlen, "BOOTID.UPNP.ORG")) {
				long id = 0;
				size_t i;
				for (i = 0; i < vlen && i < 10 && v[i] >= '0' && v[i] <= '9'; i++)
					id = id * 10 + (v[i] - '0');
				/* UDA 1.1: a non-negative 31-bit value */
				reply->bootid = (i > 0 && i == vlen && id <= 0x7fffffffL) ? id : -1;
			}
		}
		if (!nl)
			break;
	}

	if (k == NATT_SSDP_SEARCH_REPLY) {
		if (!have_location || !have_st)
			return -EINVAL;
	} else {
		k = nts;
		if (k < 0 || !have_nt || !have_usn || (k != NATT_SSDP_BYEBYE && !have_location))
			return -EINVAL;
		memcpy(reply->st, nt, sizeof(reply->st));
	}
	if (kind)
		*kind = k;
	return 0;
}

/* ---- Searching ----------------------------------------------------------------------------------- */

/* FNV-1a: a repeat is recognised by (address, hash of USN); a collision only drops one answer. */
static uint64_t hash_usn(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static int already_seen(struct natt_ssdp_search *search, const struct natt_ssdp_reply *r)
{
	uint32_t addr = r->from.sin_addr.s_addr;
	uint64_t usn_hash = hash_usn(r->usn);
	for (int i = 0; i < search->nseen; i++)
		if (search->seen[i].addr == addr && search->seen[i].usn_hash == usn_hash)
			return 1;
	if (search->nseen < NATT_SSDP_SEEN_MAX) {
		search->seen[search->nseen].addr = addr;
		search->seen[search->nseen].usn_hash = usn_hash;
		search->nseen++;
	}
	return 0;
}

int natt_ssdp_search_begin(struct natt_ssdp_search *search, const struct sockaddr_in *dest,
                           const char *search_target, const struct in_addr *iface, bool connected)
{
	if (!search_target)
		search_target = NATT_SSDP_ST_IGD1;
	struct sockaddr_in multicast = { .sin_family = AF_INET, .sin_port = htons(SSDP_PORT) };
	if (!dest) {
		inet_pton(AF_INET, SSDP_ADDR, &multicast.sin_addr);
		dest = &multicast;
	}
	if (!search || !search_target[0] || strlen(search_target) > 255 || strpbrk(search_target, "\r\n"))
		return -EINVAL;
	memset(search, 0, sizeof(*search));
	search->fd = -1;
	search->dest = *dest;
	int mlen = snprintf(search->msg, sizeof(search->msg),
	                    "M-SEARCH * HTTP/1.1\r\n"
	                    "HOST: " SSDP_ADDR ":1900\r\n"
	                    "MAN: \"ssdp:discover\"\r\n"
	                    "MX: 1\r\n"
	                    "ST: %s\r\n"
	                    "USER-AGENT: Linux UPnP/1.1 natt/%s\r\n"
	                    "\r\n",
	                    search_target, NATT_VERSION);
	if (mlen < 0 || (size_t)mlen >= sizeof(search->msg))
		return -EINVAL;
	search->len = (size_t)mlen;

	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* UDA 1.1: the TTL of a search SHOULD default to 2. */
	int ttl = 2;
	/* No bind(): the first sendto() picks an ephemeral port, so we never compete for port 1900 with a
	 * local SSDP daemon, and a preload hook on bind() never sees our own socket. */
	if (connected && IN_MULTICAST(ntohl(dest->sin_addr.s_addr))) {
		close(fd);
		return -EINVAL;
	}
	if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) < 0 ||
	    (iface && setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, iface, sizeof(*iface)) < 0) ||
	    (connected && connect(fd, (const struct sockaddr *)dest, sizeof(*dest)) < 0) ||
	    sendto(fd, search->msg, search->len, MSG_NOSIGNAL, (const struct sockaddr *)dest, sizeof(*dest)) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	search->fd = fd;
	search->gap = SSDP_FIRST_GAP_MS;
	search->next_send = natt_now_ms() + search->gap;
	return 0;
}

int natt_ssdp_search_read(struct natt_ssdp_search *search, int (*on_reply)(const struct natt_ssdp_reply *reply, void *ctx),
                          void *ctx)
{
	for (;;) {
		char buf[2048];
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		ssize_t n = recvfrom(search->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
		if (n < 0) /* EAGAIN; ICMP reports (seen when connected) only mean no answer from there */
			return errno == ECONNREFUSED ? -ECONNREFUSED : 0;
		struct natt_ssdp_reply reply;
		int kind;
		if (from.sin_family != AF_INET || natt_ssdp_parse(buf, (size_t)n, &reply, &kind) < 0 ||
		    kind != NATT_SSDP_SEARCH_REPLY)
			continue;
		reply.from = from;
		if (already_seen(search, &reply))
			continue;
		search->delivered++;
		if (on_reply && on_reply(&reply, ctx))
			return 1;
	}
}

int64_t natt_ssdp_search_resend(struct natt_ssdp_search *search, int64_t now)
{
	if (now >= search->next_send) {
		/* A failed retransmission is not fatal: the first one went out. */
		sendto(search->fd, search->msg, search->len, MSG_NOSIGNAL, (const struct sockaddr *)&search->dest,
		       sizeof(search->dest));
		search->gap *= 2;
		search->next_send = now + search->gap;
	}
	return search->next_send;
}

void natt_ssdp_search_end(struct natt_ssdp_search *search)
{
	if (search->fd >= 0)
		close(search->fd);
	search->fd = -1;
}

int natt_ssdp_search_to(const struct sockaddr_in *dest, const char *search_target, const struct in_addr *iface,
                        int timeout_ms, int (*on_reply)(const struct natt_ssdp_reply *reply, void *ctx),
                        void *ctx)
{
	if (timeout_ms < 0)
		return -EINVAL;
	int64_t deadline = natt_now_ms() + timeout_ms;
	struct natt_ssdp_search search;
	int rc = natt_ssdp_search_begin(&search, dest, search_target, iface, false);
	if (rc < 0)
		return rc;
	for (;;) {
		/* Collect whatever is queued, then wait for more. */
		if (natt_ssdp_search_read(&search, on_reply, ctx))
			break;
		int64_t now = natt_now_ms();
		if (now >= deadline)
			break;
		int64_t next_send = natt_ssdp_search_resend(&search, now);
		int64_t until = next_send < deadline ? next_send : deadline;
		struct pollfd pfd = { .fd = search.fd, .events = POLLIN };
		if (poll(&pfd, 1, (int)(until - now)) < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
	}
	natt_ssdp_search_end(&search);
	return rc < 0 && search.delivered == 0 ? rc : search.delivered;
}

int natt_ssdp_search(const char *search_target, const struct in_addr *iface, int timeout_ms,
                     int (*on_reply)(const struct natt_ssdp_reply *reply, void *ctx), void *ctx)
{
	return natt_ssdp_search_to(NULL, search_target, iface, timeout_ms, on_reply, ctx);
}
