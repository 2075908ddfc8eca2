/* URLs, and the HTTP exchanges of UPnP: documents (GET) and SOAP calls (POST), natt's own HTTP/1.1
 * client, so that every limit (time, head and body size) holds while the answer is read; see the top
 * of http.h. No host name resolution (it could block without bound inside someone else's program):
 * URLs name IPv4 addresses, as UPnP devices announce them (or IPv6 literals, for a router's IPv6
 * firewall service). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "natt/upnp.h"
#include "upnp/http.h"
#include "util/buf.h"
#include "util/clock.h"


/* ---- URLs ---------------------------------------------------------------------------------------- */

static int has_scheme(const char *s)
{
	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
	const char *p = s;
	if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
		return 0;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '+' ||
	       *p == '-' || *p == '.')
		p++;
	return *p == ':';
}

/* RFC 3986 section 5.2.4, on a path of at most NATT_UPNP_URL_MAX - 1 bytes. */
static void remove_dot_segments(const char *path, char *out)
{
	char in[NATT_UPNP_URL_MAX];
	size_t o = 0;
	snprintf(in, sizeof(in), "%s", path);
	char *p = in;
	while (*p) {
		if (strncmp(p, "../", 3) == 0) {
			p += 3;
		} else if (strncmp(p, "./", 2) == 0) {
			p += 2;
		} else if (strncmp(p, "/./", 3) == 0) {
			p += 2;
		} else if (strcmp(p, "/.") == 0) {
			p[1] = '\0'; /* "/." becomes "/" */
		} else if (strncmp(p, "/../", 4) == 0 || strcmp(p, "/..") == 0) {
			if (p[3] == '/')
				p += 3;
			else
				p[1] = '\0', p[2] = '\0';
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--; /* and the '/' before the removed segment */
		} else if (strcmp(p, ".") == 0 || strcmp(p, "..") == 0) {
			p += strlen(p);
		} else {
			do
				out[o++] = *p++;
			while (*p && *p != '/');
		}
	}
	out[o] = '\0';
}

int natt_url_resolve(const char *base, const char *ref, char *out, size_t outlen)
{
	if (!base || !ref || !out || outlen == 0)
		return -EINVAL;
	out[0] = '\0';
	if (strncasecmp(base, "http://", 7) != 0 || strlen(base) >= NATT_UPNP_URL_MAX ||
	    strlen(ref) >= NATT_UPNP_URL_MAX)
		return -EINVAL;
	if (!ref[0])
		return 0;

	char result[3 * NATT_UPNP_URL_MAX];
	size_t reflen_nofrag = strcspn(ref, "#");
	if (has_scheme(ref)) {
		snprintf(result, sizeof(result), "%.*s", (int)reflen_nofrag, ref);
	} else if (ref[0] == '/' && ref[1] == '/') {
		snprintf(result, sizeof(result), "http:%.*s", (int)reflen_nofrag, ref);
	} else {
		const char *auth = base + 7;
		size_t alen = strcspn(auth, "/?#");
		const char *bpath = auth + alen;
		size_t bplen = strcspn(bpath, "?#");
		const char *bquery = bpath + bplen;
		size_t bqlen = strcspn(bquery, "#");

		size_t rplen = strcspn(ref, "?#");
		const char *rquery = ref + rplen;
		size_t rqlen = strcspn(rquery, "#");

		char merged[2 * NATT_UPNP_URL_MAX];
		char path[2 * NATT_UPNP_URL_MAX];
		const char *query = rquery;
		size_t qlen = rqlen;
		if (rplen == 0) {
			snprintf(path, sizeof(path), "%.*s", (int)bplen, bpath);
			if (rqlen == 0) {
				query = bquery;
				qlen = bqlen;
			}
		} else {
			if (ref[0] == '/') {
				snprintf(merged, sizeof(merged), "%.*s", (int)rplen, ref);
			} else {
				/* merge: the base path up to its last '/', then the reference */
				const char *slash = memrchr(bpath, '/', bplen);
				size_t keep = slash ? (size_t)(slash - bpath) + 1 : 0;
				snprintf(merged, sizeof(merged), "%s%.*s%.*s", keep ? "" : "/", (int)keep, bpath,
				         (int)rplen, ref);
			}
			if (strlen(merged) >= NATT_UPNP_URL_MAX)
				return -ENAMETOOLONG;
			remove_dot_segments(merged, path);
			if (!path[0])
				snprintf(path, sizeof(path), "/");
		}
		snprintf(result, sizeof(result), "http://%.*s%s%.*s", (int)alen, auth, path, (int)qlen, query);
	}
	if (strlen(result) >= outlen || strlen(result) >= NATT_UPNP_URL_MAX)
		return -ENAMETOOLONG;
	memcpy(out, result, strlen(result) + 1);
	return 0;
}

int natt_http_url_parse(const char *url, struct natt_http_url *out)
{
	memset(out, 0, sizeof(*out));
	if (!url || strncasecmp(url, "http://", 7) != 0 || strlen(url) >= NATT_UPNP_URL_MAX)
		return -EINVAL;
	const char *host = url + 7;
	char hostbuf[INET6_ADDRSTRLEN];
	const char *p;
	if (host[0] == '[') {
		/* An IPv6 literal (RFC 3986 3.2.2): what a router's IPv6-only service (pinholes) needs. */
		const char *close = strchr(host, ']');
		size_t hlen = close ? (size_t)(close - host - 1) : 0;
		/* A zone (RFC 6874: "%25" and an interface name) is what a link-local router needs. */
		const char *zone = memchr(host + 1, '%', hlen);
		size_t alen = zone ? (size_t)(zone - host - 1) : hlen;
		if (alen == 0 || alen >= sizeof(hostbuf))
			return -EINVAL;
		memcpy(hostbuf, host + 1, alen);
		hostbuf[alen] = '\0';
		out->addr6.sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, hostbuf, &out->addr6.sin6_addr) != 1)
			return -EINVAL;
		if (zone) {
			char name[IF_NAMESIZE];
			size_t zlen = hlen - alen - 3;
			if (hlen < alen + 4 || strncmp(zone, "%25", 3) != 0 || zlen >= sizeof(name))
				return -EINVAL;
			memcpy(name, zone + 3, zlen);
			name[zlen] = '\0';
			out->addr6.sin6_scope_id = if_nametoindex(name);
			if (!out->addr6.sin6_scope_id)
				return -EINVAL;
		}
		if (IN6_IS_ADDR_LINKLOCAL(&out->addr6.sin6_addr) != (zone != NULL))
			return -EINVAL; /* a link-local address means nothing without its zone, and only it needs one */
		p = close + 1;
	} else {
		size_t hlen = strcspn(host, ":/?#");
		if (hlen == 0 || hlen >= sizeof(hostbuf))
			return -EINVAL;
		memcpy(hostbuf, host, hlen);
		hostbuf[hlen] = '\0';
		out->addr.sin_family = AF_INET;
		if (inet_pton(AF_INET, hostbuf, &out->addr.sin_addr) != 1)
			return -EINVAL;
		p = host + hlen;
	}
	unsigned long port = 80;
	if (*p == ':') {
		p++;
		if (*p >= '0' && *p <= '9') {
			port = 0;
			for (int digits = 0; *p >= '0' && *p <= '9'; digits++) {
				port = port * 10 + (unsigned long)(*p++ - '0');
				if (port > 65535 || digits == 5)
					return -EINVAL; /* also bounds the Host header's length */
			}
			if (port == 0)
				return -EINVAL;
		}
	}
	if (*p && *p != '/' && *p != '?' && *p != '#')
		return -EINVAL;
	out->addr.sin_port = htons((uint16_t)port); /* sin6_port lies at the same place */
	if (host[0] == '[') {
		/* The Host header never carries the zone (RFC 6874 4): it means something on this host only. */
		const char *after = strchr(host, ']') + 1;
		snprintf(out->host, sizeof(out->host), "[%s]%.*s", hostbuf, (int)(p - after), after);
	} else {
		snprintf(out->host, sizeof(out->host), "%.*s", (int)(p - host), host);
	}
	if (out->host[strlen(out->host) - 1] == ':')
		out->host[strlen(out->host) - 1] = '\0';
	size_t plen = strcspn(p, "#");
	snprintf(out->path, sizeof(out->path), "%s%.*s", *p == '/' ? "" : "/", (int)plen, p);
	for (const char *c = out->path; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return -EINVAL; /* would break the request line */
	return 0;
}

bool natt_url_on_host(const char *url, const struct in_addr *host)
{
	struct natt_http_url u;
	/* The family first: an IPv6 URL's bytes at sin_addr are its flow information (0), not an address. */
	return natt_http_url_parse(url, &u) == 0 && u.addr.sin_family == AF_INET &&
	       u.addr.sin_addr.s_addr == host->s_addr;
}

/* ---- HTTP ----------------------------------------------------------------------------------------- */

/* Why no answer came: the connect() error, else a timeout when the wait ran past the deadline, else a
 * connection that ended (or was reset) without an answer. */
static int no_answer(int err, int64_t deadline)
{
	switch (err) {
	case ECONNREFUSED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ETIMEDOUT:
		return -err;
	}
	return natt_now_ms() >= deadline ? -ETIMEDOUT : -EPROTO;
}

static __thread bool have_source6;
static __thread struct in6_addr source6;

void natt_http_set_source6(const struct in6_addr *source)
{
	have_source6 = source != NULL;
	if (source)
		source6 = *source;
}

/* Connects to the URL's address (IPv4, or an IPv6 literal) by the deadline without blocking, from
 * source6 when set. Returns the fd (close-on-exec, non-blocking) or -errno (-ETIMEDOUT). */
static int connect_by(const struct natt_http_url *u, int64_t deadline)
{
	int family = u->addr.sin_family;
	socklen_t len = family == AF_INET6 ? sizeof(u->addr6) : sizeof(u->addr);
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int rc = 0;
	if (family == AF_INET6 && have_source6) {
		struct sockaddr_in6 from = { .sin6_family = AF_INET6, .sin6_addr = source6 };
		if (bind(fd, (const struct sockaddr *)&from, sizeof(from)) < 0) {
			rc = -errno;
			close(fd);
			return rc;
		}
	}
	if (connect(fd, (const struct sockaddr *)&u->addr, len) < 0) {
		rc = errno == EINPROGRESS || errno == EINTR ? -EINPROGRESS : -errno;
		while (rc == -EINPROGRESS) {
			int64_t left = deadline - natt_now_ms();
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			int n = left > 0 ? poll(&pfd, 1, (int)left) : 0;
			if (n == 0) {
				rc = -ETIMEDOUT;
			} else if (n > 0) {
				int err = 0;
				socklen_t elen = sizeof(err);
				rc = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 ? -errno : -err;
			} else if (errno != EINTR) {
				rc = -errno;
			}
		}
	}
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

/* Waits until fd is ready for events, by the deadline: 0, -ETIMEDOUT or -errno. */
static int wait_ready(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - natt_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd pfd = { .fd = fd, .events = events };
		int n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int send_all(int fd, const char *data, size_t len, int64_t deadline)
{
	while (len) {
		/* MSG_NOSIGNAL: a device that hangs up early raises no SIGPIPE in the program. */
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			int rc = wait_ready(fd, POLLOUT, deadline);
			if (rc < 0)
				return rc;
			continue;
		}
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int natt_http_dechunk(char *b, size_t *len)
{
	size_t in = 0, out = 0, have = *len;
	for (;;) {
		size_t size = 0, digits = 0;
		while (in < have && isxdigit((unsigned char)b[in])) {
			if (++digits > 7)
				return -EPROTO;
			char c = b[in++];
			size = size * 16 + (size_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
		}
		char *eol = memmem(b + in, have - in, "\r\n", 2);
		if (!eol)
			return 0;
		if (digits == 0)
			return -EPROTO;
		in = (size_t)(eol - b) + 2;
		if (size == 0) {
			/* trailers, up to an empty line */
			for (;;) {
				char *end = memmem(b + in, have - in, "\r\n", 2);
				if (!end)
					return 0;
				bool empty = end == b + in;
				in = (size_t)(end - b) + 2;
				if (empty) {
					*len = out;
					return 1;
				}
			}
		}
		if (have - in < size + 2)
			return 0;
		if (memcmp(b + in + size, "\r\n", 2) != 0)
			return -EPROTO;
		memmove(b + out, b + in, size);
		out += size;
		in += size + 2;
	}
}

/* The value of header name in head (NUL-terminated, lines ending in CRLF), or NULL. */
static const char *header_value(const char *head, const char *name)
{
	size_t n = strlen(name);
	for (const char *line = strstr(head, "\r\n"); line; line = strstr(line, "\r\n")) {
		line += 2;
		if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			return v;
		}
	}
	return NULL;
}

int natt_http_head_parse(const char *head, int *status, long long *content_length, bool *chunked)
{
	int code = 0;
	if (sscanf(head, "HTTP/1.%*[01] %3d", &code) != 1 || code < 100)
		return -EPROTO;
	*status = code;
	const char *te = header_value(head, "Transfer-Encoding");
	const char *cl = header_value(head, "Content-Length");
	*chunked = te && strncasecmp(te, "chunked", 7) == 0;
	*content_length = -1;
	if (!*chunked && cl) {
		char *endp;
		errno = 0;
		long long value = strtoll(cl, &endp, 10);
		if (errno || endp == cl || value < 0 || (*endp != '\r' && *endp != ' ' && *endp != '\t'))
			return -EPROTO;
		if (value > (long long)NATT_UPNP_MAX_DOCUMENT)
			return -EMSGSIZE;
		*content_length = value;
	}
	return 0;
}

/* Interim answers (1xx) accepted before the final one: a device that sends them without end is
 * stopped by the deadline or by this. */
#define MAX_INTERIM_HEADS 8

/* Ends a connection whose answer came whole with a reset rather than a FIN. The router usually has
 * closed first (Connection: close), so our FIN would leave it a TIME_WAIT socket for a minute per
 * request, and miniupnpd reads the whole /proc/net/tcp at each TCP AddPortMapping (its port-in-use
 * check): 500 adds took 5.3 s with the 3,400 left by a few runs of 50 processes, 2.1 s with none.
 * Nothing is lost: the answer is read, and the request was read before it was answered. */
static void close_answered(int fd)
{
	struct linger abort_on_close = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close));
	close(fd);
}

/* One HTTP/1.1 exchange with Connection: close, every limit enforced while reading: the deadline for
 * all of it (connect, send, every byte of the answer), NATT_HTTP_MAX_HEAD bytes of status line and
 * headers, NATT_UPNP_MAX_DOCUMENT bytes of body. A device that sends more, sends slowly, or never ends
 * its head costs at most that time and that memory. Returns 0 with the body (malloc'ed,
 * NUL-terminated) and the status code; or -ETIMEDOUT, -EMSGSIZE, -EPROTO, -ENOMEM, a connect() error. */
static int http_exchange(const struct natt_http_url *u, const char *request, size_t request_len, int64_t deadline,
                         int *status, char **body, size_t *len)
{
	*body = NULL;
	*len = 0;
	*status = 0;
	int fd = connect_by(u, deadline);
	if (fd < 0)
		return fd;
	int rc = send_all(fd, request, request_len, deadline);
	/* The raw answer: head, then the body as sent (chunk framing costs a little more than the body). */
	const size_t cap = NATT_HTTP_MAX_HEAD + NATT_UPNP_MAX_DOCUMENT + NATT_UPNP_MAX_DOCUMENT / 8 + 4096;
	size_t have = 0, alloc = 0, head_len = 0, scanned = 0;
	int interim_heads = 0;
	char *buf = NULL;
	long long content_length = -1;
	bool chunked = false, done = false;
	while (rc == 0 && !done) {
		if (alloc - have < 4097) {
			size_t grown_size = alloc ? alloc * 2 : 16384;
			if (grown_size > cap + 1)
				grown_size = cap + 1;
			if (grown_size <= have + 1) {
				rc = -EMSGSIZE;
				break;
			}
			char *grown = realloc(buf, grown_size);
			if (!grown) {
				rc = -ENOMEM;
				break;
			}
			buf = grown;
			alloc = grown_size;
		}
		ssize_t n = recv(fd, buf + have, alloc - have - 1, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			rc = wait_ready(fd, POLLIN, deadline);
			continue;
		}
		if (n < 0) {
			rc = have ? -EPROTO : no_answer(errno, deadline);
			break;
		}
		if (n == 0) {
			/* The end of a body without length, or an answer cut short. */
			if (!head_len)
				rc = have ? -EPROTO : no_answer(0, deadline);
			else if (chunked || (content_length >= 0 && (long long)(have - head_len) < content_length))
				rc = -EPROTO;
			break;
		}
		have += (size_t)n;
		buf[have] = '\0';
		bool next_head = true;
		while (!head_len && next_head) {
			next_head = false;
			/* Only the new bytes are searched (and 3 before): a head sent byte by byte stays linear. */
			char *end = memmem(buf + scanned, have - scanned, "\r\n\r\n", 4);
			scanned = have > 3 ? have - 3 : 0;
			if (!end) {
				if (have > NATT_HTTP_MAX_HEAD)
					rc = -EMSGSIZE;
				break;
			}
			head_len = (size_t)(end - buf) + 4;
			if (head_len > NATT_HTTP_MAX_HEAD) {
				rc = -EMSGSIZE;
				break;
			}
			char saved = buf[head_len - 2];
			buf[head_len - 2] = '\0';
			rc = natt_http_head_parse(buf, status, &content_length, &chunked);
			buf[head_len - 2] = saved;
			/* An interim answer (100 Continue, 103 Early Hints) comes before the one that counts: it is
			 * dropped and the next head read, from what is already here first. */
			if (rc == 0 && *status < 200) {
				if (++interim_heads > MAX_INTERIM_HEADS) {
					rc = -EPROTO;
					break;
				}
				have -= head_len;
				memmove(buf, buf + head_len, have + 1);
				head_len = scanned = 0;
				*status = 0;
				content_length = -1;
				chunked = false;
				next_head = true;
			}
		}
		if (rc < 0)
			break;
		if (head_len) {
			size_t got = have - head_len;
			if (content_length >= 0) {
				done = (long long)got >= content_length;
			} else if (!chunked && got > NATT_UPNP_MAX_DOCUMENT) {
				rc = -EMSGSIZE;
			} else if (chunked && got >= 5 && memcmp(buf + have - 4, "\r\n\r\n", 4) == 0) {
				/* The end of a chunked body ends with an empty line: only then try to decode. */
				char *copy = malloc(got + 1);
				if (!copy) {
					rc = -ENOMEM;
					break;
				}
				memcpy(copy, buf + head_len, got);
				size_t decoded = got;
				int complete = natt_http_dechunk(copy, &decoded);
				free(copy);
				done = complete == 1;
				if (complete < 0)
					rc = complete;
			}
		}
	}
	if (rc == 0)
		close_answered(fd);
	else
		close(fd);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	size_t body_len = have - head_len;
	if (content_length >= 0 && (long long)body_len > content_length)
		body_len = (size_t)content_length;
	memmove(buf, buf + head_len, body_len);
	if (chunked) {
		int complete = natt_http_dechunk(buf, &body_len);
		if (complete != 1) {
			free(buf);
			return complete < 0 ? complete : -EPROTO;
		}
	}
	if (body_len > NATT_UPNP_MAX_DOCUMENT) {
		free(buf);
		return -EMSGSIZE;
	}
	buf[body_len] = '\0';
	*body = buf;
	*len = body_len;
	return 0;
}

int natt_upnp_fetch(const char *url, int timeout_ms, char **body, size_t *len)
{
	*body = NULL;
	*len = 0;
	struct natt_http_url u;
	if (timeout_ms <= 0 || natt_http_url_parse(url, &u) < 0)
		return -EINVAL;
	int64_t deadline = natt_now_ms() + timeout_ms;
	char request[NATT_UPNP_URL_MAX + 256];
	int n = snprintf(request, sizeof(request),
	                 "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: Close\r\nUser-Agent: natt/" NATT_VERSION
	                 "\r\n\r\n",
	                 u.path, u.host);
	if (n < 0 || (size_t)n >= sizeof(request))
		return -EINVAL;
	int status;
	int rc = http_exchange(&u, request, (size_t)n, deadline, &status, body, len);
	if (rc == 0 && status != 200) {
		free(*body);
		*body = NULL;
		*len = 0;
		return NATT_ERR_BAD_REPLY;
	}
	return rc;
}

int natt_soap_post(const char *control_url, const char *service_type, const char *action,
                   struct UPNParg *args, int timeout_ms, char **reply, size_t *len)
{
	*reply = NULL;
	*len = 0;
	struct natt_http_url u;
	if (timeout_ms <= 0 || natt_http_url_parse(control_url, &u) < 0)
		return -EINVAL;
	struct natt_buf body;
	natt_buf_init(&body);
	natt_buf_printf(&body,
	                "<?xml version=\"1.0\"?>\r\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
	                "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body>"
	                "<u:%s xmlns:u=\"%s\">",
	                action, service_type);
	for (struct UPNParg *a = args; a && a->elt; a++)
		natt_buf_printf(&body, "<%s>%s</%s>", a->elt, a->val ? a->val : "", a->elt);
	natt_buf_printf(&body, "</u:%s></s:Body></s:Envelope>\r\n", action);
	char head[NATT_SOAP_HEAD_MAX];
	int n = snprintf(head, sizeof(head),
	                 "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: natt/" NATT_VERSION "\r\n"
	                 "Content-Length: %zu\r\nContent-Type: text/xml\r\n"
	                 "SOAPAction: \"%s#%s\"\r\nConnection: Close\r\nCache-Control: no-cache\r\nPragma: no-cache\r\n\r\n",
	                 u.path, u.host, body.len, service_type, action);
	int rc = 0;
	if (body.failed)
		rc = -ENOMEM;
	else if (body.len >= NATT_SOAP_BODY_MAX || n < 0 || (size_t)n >= sizeof(head))
		rc = -EMSGSIZE;
	char *request = NULL;
	if (rc == 0 && !(request = malloc((size_t)n + body.len))) {
		rc = -ENOMEM;
	} else if (rc == 0) {
		memcpy(request, head, (size_t)n);
		memcpy(request + n, body.data, body.len);
		int64_t deadline = natt_now_ms() + timeout_ms;
		int status;
		/* Any status: a SOAP fault comes with 500, and its body says which. */
		rc = http_exchange(&u, request, (size_t)n + body.len, deadline, &status, reply, len);
		free(request);
		if (rc == 0 && *len == 0) {
			free(*reply);
			*reply = NULL;
			rc = -EPROTO;
		}
	}
	natt_buf_free(&body);
	return rc;
}
