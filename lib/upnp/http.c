/* URLs, and the HTTP exchanges of UPnP through miniupnpc: documents with miniwget(), SOAP calls with
 * simpleUPnPcommand() on a connection of our own. What natt adds around miniupnpc is listed at the top
 * of upnp_internal.h. No host name resolution (it could block without bound inside someone else's
 * program): URLs name IPv4 addresses, as UPnP devices announce them. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <miniupnpc/miniwget.h>

#include "util/clock.h"
#include "upnp/upnp_internal.h"

/* API 18 (miniupnpc 2.2.8) dropped the socket argument of simpleUPnPcommand(): natt could no longer
 * make the connection close-on-exec and bounded by the caller's timeout. */
#if MINIUPNPC_API_VERSION >= 18
#error "natt needs simpleUPnPcommand(int socket, ...) of miniupnpc API 17 (2.2.4)"
#endif

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
	size_t hlen = strcspn(host, ":/?#");
	char hostbuf[16];
	if (hlen == 0 || hlen >= sizeof(hostbuf))
		return -EINVAL;
	memcpy(hostbuf, host, hlen);
	hostbuf[hlen] = '\0';
	out->addr.sin_family = AF_INET;
	if (inet_pton(AF_INET, hostbuf, &out->addr.sin_addr) != 1)
		return -EINVAL;
	const char *p = host + hlen;
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
	out->addr.sin_port = htons((uint16_t)port);
	snprintf(out->host, sizeof(out->host), "%.*s", (int)(p - host), host);
	if (out->host[strlen(out->host) - 1] == ':')
		out->host[strlen(out->host) - 1] = '\0';
	size_t plen = strcspn(p, "#");
	snprintf(out->path, sizeof(out->path), "%s%.*s", *p == '/' ? "" : "/", (int)plen, p);
	for (const char *c = out->path; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return -EINVAL; /* would break the request line */
	return 0;
}

/* ---- Around miniupnpc ---------------------------------------------------------------------------- */

/* miniupnpc's send() has no MSG_NOSIGNAL: a device that hangs up early would raise SIGPIPE, which ends
 * a program that left it at its default action. It is blocked in this thread for the exchange, and a
 * SIGPIPE the exchange raised (one that was not pending before) is taken back before unblocking. */
struct sigpipe_guard {
	sigset_t old_mask;
	bool was_pending;
};

static void sigpipe_block(struct sigpipe_guard *g)
{
	sigset_t pipe_only, pending;
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_only, &g->old_mask);
	sigpending(&pending);
	g->was_pending = sigismember(&pending, SIGPIPE) == 1;
}

static void sigpipe_restore(struct sigpipe_guard *g)
{
	if (!g->was_pending) {
		sigset_t pipe_only;
		sigemptyset(&pipe_only);
		sigaddset(&pipe_only, SIGPIPE);
		const struct timespec now = { 0, 0 };
		while (sigtimedwait(&pipe_only, NULL, &now) == SIGPIPE)
			;
	}
	pthread_sigmask(SIG_SETMASK, &g->old_mask, NULL);
}

/* The URL as miniupnpc's parseURL() wants it: "http://HOST[:PORT]/PATH" (it refuses one without a
 * path), from a URL natt_http_url_parse() accepted. */
static int plain_url(const struct natt_http_url *u, char *out, size_t len)
{
	int n = snprintf(out, len, "http://%s%s", u->host, u->path);
	return n < 0 || (size_t)n >= len ? -EINVAL : 0;
}

/* Copies what miniupnpc returned (not NUL-terminated, any size) into a body of ours, bounded. */
static int take_body(char *got, int size, char **body, size_t *len)
{
	if (size < 0 || (size_t)size > NATT_UPNP_MAX_DOCUMENT) {
		free(got);
		return -EMSGSIZE;
	}
	char *out = realloc(got, (size_t)size + 1);
	if (!out) {
		free(got);
		return -ENOMEM;
	}
	out[size] = '\0';
	*body = out;
	*len = (size_t)size;
	return 0;
}

/* Why nothing came back from miniupnpc: the connect() error it left in errno, else a timeout when the
 * wait ran past the deadline, else a connection that ended (or was reset) without an answer. */
static int no_answer(int saved_errno, int64_t deadline)
{
	switch (saved_errno) {
	case ECONNREFUSED:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ETIMEDOUT:
		return -saved_errno;
	}
	return natt_now_ms() >= deadline ? -ETIMEDOUT : -EPROTO;
}

int natt_upnp_fetch(const char *url, int timeout_ms, char **body, size_t *len)
{
	*body = NULL;
	*len = 0;
	struct natt_http_url u;
	char plain[NATT_UPNP_URL_MAX + 40];
	if (timeout_ms <= 0 || natt_http_url_parse(url, &u) < 0 || plain_url(&u, plain, sizeof(plain)) < 0)
		return -EINVAL;
	int64_t deadline = natt_now_ms() + timeout_ms;
	int size = 0, status = -1;
	struct sigpipe_guard guard;
	sigpipe_block(&guard);
	errno = 0;
	char *got = miniwget(plain, &size, 0, &status);
	int saved_errno = errno;
	sigpipe_restore(&guard);
	if (status > 0 && status != 200) {
		free(got);
		return NATT_ERR_BAD_REPLY;
	}
	if (!got && status != 200)
		return no_answer(saved_errno, deadline);
	return take_body(got, got ? size : 0, body, len);
}

/* Connects to addr by the deadline without blocking, then makes the socket blocking with send and
 * receive timeouts of the time left: simpleUPnPcommand() does blocking I/O on it. Returns the fd
 * (close-on-exec) or -errno (-ETIMEDOUT). */
static int connect_by(const struct sockaddr_in *addr, int64_t deadline)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int rc = 0;
	if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0) {
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
	int64_t left = deadline - natt_now_ms();
	if (rc == 0 && left <= 0)
		rc = -ETIMEDOUT;
	if (rc == 0) {
		struct timeval tv = { .tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000 };
		int flags = fcntl(fd, F_GETFL);
		if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
		    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 || flags < 0 ||
		    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
			rc = -errno;
	}
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

/* soapPostSubmit()'s request head without the path, host, port and SOAPAction, Content-Length at its
 * longest (the body is below 2048 bytes), and room for its User-Agent line (OS name and versions: 61
 * bytes in Debian's build). */
#define SOAP_HEAD_FIXED                                                                                 \
	(sizeof("POST  HTTP/1.1\r\nHost: :65535\r\nContent-Length: 2047\r\nContent-Type: text/xml\r\n"  \
	        "SOAPAction: \"\"\r\nConnection: Close\r\nCache-Control: no-cache\r\n"                   \
	        "Pragma: no-cache\r\n\r\n") -                                                             \
	 1 + 128)

int natt_soap_post(const char *control_url, const char *service_type, const char *action,
                   struct UPNParg *args, int timeout_ms, char **reply, size_t *len)
{
	*reply = NULL;
	*len = 0;
	struct natt_http_url u;
	char plain[NATT_UPNP_URL_MAX + 40];
	if (timeout_ms <= 0 || natt_http_url_parse(control_url, &u) < 0 || plain_url(&u, plain, sizeof(plain)) < 0)
		return -EINVAL;
	/* simpleUPnPcommand() returns NULL without closing our socket when the request does not fit: find
	 * that out before, so that once called it always closes the socket itself. */
	if (SOAP_HEAD_FIXED + strlen(u.path) + strlen(u.host) + strlen(service_type) + 1 + strlen(action) >=
	    NATT_SOAP_HEAD_MAX)
		return -EMSGSIZE;
	int64_t deadline = natt_now_ms() + timeout_ms;
	int fd = connect_by(&u.addr, deadline);
	if (fd < 0)
		return fd;
	int size = 0;
	struct sigpipe_guard guard;
	sigpipe_block(&guard);
	errno = 0;
	char *got = simpleUPnPcommand(fd, plain, service_type, action, args, &size); /* closes fd */
	int saved_errno = errno;
	sigpipe_restore(&guard);
	if (!got || size <= 0) {
		free(got);
		return no_answer(saved_errno == EAGAIN || saved_errno == EWOULDBLOCK ? ETIMEDOUT : saved_errno,
		                 deadline);
	}
	return take_body(got, size, reply, len);
}
