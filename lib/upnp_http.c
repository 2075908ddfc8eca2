/* URLs and a minimal HTTP/1.1 client for UPnP descriptions and SOAP calls.
 *
 * One request per connection ("Connection: close"), non-blocking socket, one deadline for the whole
 * exchange checked around every poll(), sizes bounded. No host name resolution (it could block without
 * bound inside someone else's program): URLs name IPv4 addresses, as UPnP devices announce them. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "upnp_internal.h"

#ifndef NATT_VERSION
#define NATT_VERSION "0"
#endif

/* The longest response head (status line and headers) accepted. */
#define HTTP_MAX_HEAD 16384

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

/* ---- Responses ----------------------------------------------------------------------------------- */

/* The end of the head: after "\r\n\r\n" or "\n\n" (some devices end lines with LF alone). */
static const char *head_end(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return buf + i + 2;
		if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
			return buf + i + 3;
	}
	return NULL;
}

/* Reads one hexadecimal chunk-size line at p (extensions after ';' ignored). Returns the position after
 * the line, NULL when the line is not complete yet; *bad when it is malformed. */
static const char *chunk_size_line(const char *p, const char *end, size_t *size, int *bad)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		return NULL;
	size_t v = 0;
	int digits = 0;
	for (; p < nl; p++) {
		char c = *p;
		int d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			break;
		if (++digits > 8) {
			*bad = 1;
			return NULL;
		}
		v = v * 16 + (size_t)d;
	}
	if (!digits || (p < nl && *p != ';' && *p != ' ' && *p != '\t' && *p != '\r')) {
		*bad = 1;
		return NULL;
	}
	*size = v;
	return nl + 1;
}

/* Walks the chunks; when out is not NULL copies the data there. Returns 0 when the last chunk has been
 * seen, -EAGAIN when more is needed, -EPROTO, -EMSGSIZE. *total receives the data length. */
static int dechunk(const char *p, const char *end, size_t max_body, char *out, size_t *total)
{
	*total = 0;
	for (;;) {
		size_t size;
		int bad = 0;
		const char *data = chunk_size_line(p, end, &size, &bad);
		if (bad)
			return -EPROTO;
		if (!data)
			return -EAGAIN;
		if (size == 0)
			return 0; /* trailers, if any, do not matter */
		if (size > max_body || *total + size > max_body)
			return -EMSGSIZE;
		if ((size_t)(end - data) < size + 1)
			return -EAGAIN;
		if (out)
			memcpy(out + *total, data, size);
		*total += size;
		p = data + size;
		if (*p == '\r') {
			if (p + 1 >= end)
				return -EAGAIN;
			p++;
		}
		if (*p != '\n')
			return -EPROTO;
		p++;
	}
}

static int parse_status_line(const char *buf, const char *end, struct natt_http_response *resp)
{
	/* "HTTP/1.x NNN reason" */
	if (end - buf < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ')
		return NATT_ERR_BAD_REPLY;
	for (int i = 9; i < 12; i++)
		if (buf[i] < '0' || buf[i] > '9')
			return NATT_ERR_BAD_REPLY;
	resp->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	const char *r = buf + 12;
	while (r < end && *r == ' ')
		r++;
	const char *nl = memchr(r, '\n', (size_t)(end - r));
	size_t rlen = nl ? (size_t)(nl - r) : 0;
	if (rlen && r[rlen - 1] == '\r')
		rlen--;
	if (rlen >= sizeof(resp->reason))
		rlen = sizeof(resp->reason) - 1;
	for (size_t i = 0; i < rlen; i++)
		resp->reason[i] = (unsigned char)r[i] < ' ' ? '?' : r[i];
	resp->reason[rlen] = '\0';
	return 0;
}

int natt_http_parse_response(const char *buf, size_t len, int eof, size_t max_body,
                             struct natt_http_response *resp)
{
	struct natt_http_response tmp;
	struct natt_http_response *r = resp ? resp : &tmp;
	memset(r, 0, sizeof(*r));
	const char *end = buf + len;
	const char *body = head_end(buf, len);
	if (!body) {
		if (len > HTTP_MAX_HEAD)
			return -EMSGSIZE;
		if (!eof)
			return len >= 5 && strncmp(buf, "HTTP/", 5) != 0 ? NATT_ERR_BAD_REPLY : -EAGAIN;
		return len == 0 ? -EPROTO : NATT_ERR_BAD_REPLY;
	}
	if (body - buf > HTTP_MAX_HEAD)
		return -EMSGSIZE;
	int rc = parse_status_line(buf, body, r);
	if (rc < 0)
		return rc;

	int chunked = 0, have_length = 0;
	size_t length = 0;
	for (const char *line = memchr(buf, '\n', (size_t)(body - buf)) + 1; line < body;) {
		const char *nl = memchr(line, '\n', (size_t)(body - line));
		const char *colon = memchr(line, ':', (size_t)(nl - line));
		if (colon) {
			size_t nlen = (size_t)(colon - line);
			const char *v = colon + 1;
			while (v < nl && (*v == ' ' || *v == '\t'))
				v++;
			size_t vlen = (size_t)(nl - v);
			while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (nlen == 17 && strncasecmp(line, "transfer-encoding", 17) == 0) {
				if (memmem(v, vlen, "chunked", 7) || memmem(v, vlen, "CHUNKED", 7) ||
				    memmem(v, vlen, "Chunked", 7))
					chunked = 1;
			} else if (nlen == 14 && strncasecmp(line, "content-length", 14) == 0) {
				size_t n = 0;
				if (vlen == 0 || vlen > 10)
					return NATT_ERR_BAD_REPLY;
				for (size_t i = 0; i < vlen; i++) {
					if (v[i] < '0' || v[i] > '9')
						return NATT_ERR_BAD_REPLY;
					n = n * 10 + (size_t)(v[i] - '0');
				}
				if (have_length && n != length)
					return NATT_ERR_BAD_REPLY;
				have_length = 1;
				length = n;
			}
		}
		line = nl + 1;
	}

	const char *data = body;
	size_t data_len;
	size_t avail = (size_t)(end - body);
	if (r->status == 204 || r->status == 304 || (r->status >= 100 && r->status < 200)) {
		data_len = 0;
	} else if (chunked) {
		rc = dechunk(body, end, max_body, NULL, &data_len);
		if (rc == -EAGAIN && eof)
			rc = -EPROTO;
		if (rc < 0)
			return rc;
	} else if (have_length) {
		if (length > max_body)
			return -EMSGSIZE;
		if (avail < length)
			return eof ? -EPROTO : -EAGAIN;
		data_len = length;
	} else {
		if (avail > max_body)
			return -EMSGSIZE;
		if (!eof)
			return -EAGAIN;
		data_len = avail;
	}
	if (!resp)
		return 0;
	r->body = malloc(data_len + 1);
	if (!r->body)
		return -ENOMEM;
	if (chunked && data_len)
		dechunk(body, end, max_body, r->body, &data_len);
	else
		memcpy(r->body, data, data_len);
	r->body[data_len] = '\0';
	r->body_len = data_len;
	return 0;
}

/* ---- Requests ------------------------------------------------------------------------------------ */

static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - natt_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd pfd = { .fd = fd, .events = events };
		int n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			return 0;
	}
}

static int connect_deadline(int fd, const struct sockaddr_in *addr, int64_t deadline)
{
	if (connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0)
		return 0;
	if (errno != EINPROGRESS && errno != EINTR)
		return -errno;
	int rc = wait_fd(fd, POLLOUT, deadline);
	if (rc < 0)
		return rc;
	int err = 0;
	socklen_t elen = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		return -errno;
	return err ? -err : 0;
}

static int send_all(int fd, const char *buf, size_t len, int64_t deadline)
{
	size_t off = 0;
	while (off < len) {
		/* MSG_NOSIGNAL: a peer that closed early must not raise SIGPIPE in the host program. */
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		int rc = wait_fd(fd, POLLOUT, deadline);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int receive(int fd, int64_t deadline, size_t max_body, struct natt_http_response *resp)
{
	/* Chunk size lines can make the raw stream longer than the body: allow some room for them. */
	size_t limit = HTTP_MAX_HEAD + max_body + max_body / 8 + 4096;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	int rc;
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			if (cap >= limit) {
				rc = -EMSGSIZE;
				break;
			}
			size_t ncap = cap * 2 > limit ? limit : cap * 2;
			char *nbuf = realloc(buf, ncap);
			if (!nbuf) {
				rc = -ENOMEM;
				break;
			}
			buf = nbuf;
			cap = ncap;
		}
		ssize_t n = recv(fd, buf + len, cap - len, 0);
		if (n > 0) {
			len += (size_t)n;
			rc = natt_http_parse_response(buf, len, 0, max_body, NULL);
			if (rc == -EAGAIN)
				continue;
			if (rc == 0)
				rc = natt_http_parse_response(buf, len, 0, max_body, resp);
			break;
		}
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			rc = natt_http_parse_response(buf, len, 1, max_body, resp);
			break;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			rc = -errno;
			break;
		}
		rc = wait_fd(fd, POLLIN, deadline);
		if (rc < 0)
			break;
	}
	free(buf);
	return rc;
}

int natt_http_request(const char *url, const char *method, const char *extra_headers, const char *body,
                      size_t body_len, int timeout_ms, size_t max_body, struct natt_http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	if (!method || timeout_ms <= 0 || (!body && body_len))
		return -EINVAL;
	struct natt_http_url u;
	int rc = natt_http_url_parse(url, &u);
	if (rc < 0)
		return rc;
	int64_t deadline = natt_now_ms() + timeout_ms;
	if (!extra_headers)
		extra_headers = "";

	char length[48] = "";
	if (body || strcmp(method, "POST") == 0)
		snprintf(length, sizeof(length), "Content-Length: %zu\r\n", body_len);
	size_t cap = strlen(method) + strlen(u.path) + strlen(u.host) + strlen(extra_headers) + body_len + 256;
	char *req = malloc(cap);
	if (!req)
		return -ENOMEM;
	int head = snprintf(req, cap,
	                    "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: Linux UPnP/1.1 natt/%s\r\n"
	                    "Connection: close\r\n%s%s\r\n",
	                    method, u.path, u.host, NATT_VERSION, length, extra_headers);
	if (head < 0 || (size_t)head + body_len >= cap) {
		free(req);
		return -EINVAL;
	}
	if (body_len)
		memcpy(req + head, body, body_len);
	size_t req_len = (size_t)head + body_len;

	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		free(req);
		return rc;
	}
	/* Head and body in one send: some old routers only read the request's first segment. */
	rc = connect_deadline(fd, &u.addr, deadline);
	if (rc == 0)
		rc = send_all(fd, req, req_len, deadline);
	free(req);
	if (rc == 0)
		rc = receive(fd, deadline, max_body, resp);
	close(fd);
	if (rc < 0) {
		free(resp->body);
		memset(resp, 0, sizeof(*resp));
	}
	return rc;
}
