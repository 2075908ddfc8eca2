/* URLs and natt's HTTP/1.1 client for UPnP (http.c): documents fetched with GET, SOAP calls POSTed.
 * Internal: the unit tests and fuzz targets use it directly.
 *
 * The HTTP is natt's own, not miniupnpc's miniwget()/simpleUPnPcommand(): those read a whole answer
 * before anyone can look at its size, and wait 5 s per piece of it, so a device could make the program
 * it runs in hold hundreds of MiB or wait without end. natt's client enforces, while it reads: one
 * deadline for the whole exchange (connect, send, every byte back), NATT_HTTP_MAX_HEAD bytes of head
 * (searched only in the new bytes: linear however it is sent), NATT_UPNP_MAX_DOCUMENT bytes of body
 * (Content-Length, chunked or up to the close). Its sockets are close-on-exec and send with
 * MSG_NOSIGNAL; one whose answer came whole is ended with a reset (no TIME_WAIT left at the router).
 * The SOAP envelope is the one miniupnpc 2.2.4 writes, within its buffer sizes (below), so that
 * devices see the same requests as before; miniupnpc still gives the UPNParg type.
 *
 * Only numeric URLs are used (no name resolution that could block): IPv4, and IPv6 literals for the
 * pinhole calls at the router's IPv6 address. */
#ifndef NATT_UPNP_HTTP_H
#define NATT_UPNP_HTTP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

#include <miniupnpc/miniupnpc.h>

#include "natt/upnp.h"

/* ---- URLs ----------------------------------------------------------------------------------------- */

/* Resolves reference `ref` against absolute URL `base` (RFC 3986 section 5.2, dot segments removed).
 * An absolute ref (with a scheme) is copied; an empty ref gives "" (UPnP: "no such URL"). The base must
 * be an absolute http URL. Returns 0, -EINVAL (bad base), -ENAMETOOLONG (out too small). */
int natt_url_resolve(const char *base, const char *ref, char *out, size_t outlen);

/* An http URL split for a request. */
struct natt_http_url {
	union {
		struct sockaddr_in addr;   /* addr.sin_family AF_INET: IPv4 address and port (80 when absent) */
		struct sockaddr_in6 addr6; /* AF_INET6: an IPv6 literal "[...]" */
	};
	char host[64];           /* for the Host header: "a.b.c.d[:port]" or "[v6][:port]" as given, no zone */
	char path[NATT_UPNP_URL_MAX]; /* "/..." including any query; "/" when absent; no fragment */
};

/* Splits "http://a.b.c.d[:port][/path]" or "http://[IPv6][:port][/path]" (a link-local IPv6 address
 * with its zone, "[fe80::1%25eth0]", and only then). Returns 0 or -EINVAL (not http, host not an IP
 * address, unknown zone, bad port, characters that cannot go into a request line). */
int natt_http_url_parse(const char *url, struct natt_http_url *out);

/* Whether url is a usable http URL (natt_http_url_parse) on the IPv4 address host. Whose URLs natt
 * follows: a device's description only on the address that answered the search (and on the gateway,
 * when mapping), its control URL only on that same address; otherwise a forged or careless answer
 * would make natt connect to a third host ("CallStranger"). */
bool natt_url_on_host(const char *url, const struct in_addr *host);

/* ---- HTTP ----------------------------------------------------------------------------------------- */

/* Bytes of an answer's status line and headers, with the empty line that ends them. */
#define NATT_HTTP_MAX_HEAD 16384

/* Reads an answer's head (NUL-terminated): status code, Content-Length (-1 when absent or chunked),
 * chunked transfer coding. 0, -EPROTO (not an HTTP/1.x status line, a bad length), -EMSGSIZE (a length
 * over NATT_UPNP_MAX_DOCUMENT). */
int natt_http_head_parse(const char *head, int *status, long long *content_length, bool *chunked);

/* Decodes a chunked body b[0..*len) in place: 1 when complete (*len = decoded length), 0 when more is
 * needed, -EPROTO when malformed (chunk sizes of at most 7 hex digits). */
int natt_http_dechunk(char *b, size_t *len);

/* GET of a UPnP document (description, SCPD): 0 with a malloc'ed NUL-terminated body;
 * -EINVAL (bad URL, timeout_ms <= 0); NATT_ERR_BAD_REPLY when the status is not 200; -EMSGSIZE over
 * NATT_UPNP_MAX_DOCUMENT; -ECONNREFUSED and other connect() errors; -ETIMEDOUT when nothing came back
 * within timeout_ms; -EPROTO when the connection ended without an answer; -ENOMEM. */
int natt_upnp_fetch(const char *url, int timeout_ms, char **body, size_t *len);

/* The sizes of miniupnpc 2.2.4's buffers in simpleUPnPcommand(), kept as natt's limits: the envelope
 * with its NUL, the SOAPAction value "SERVICE#ACTION" with its NUL, the request head. */
#define NATT_SOAP_BODY_MAX 2048
#define NATT_SOAP_ACTION_MAX 128
#define NATT_SOAP_HEAD_MAX 512

/* POSTs a call (see the top of this file); the whole exchange takes at most timeout_ms.
 * args: as natt_soap_prepare() (call.h) made them (escaped, checked to fit). Returns 0 with the
 * answer's body in *reply (malloc'ed, *len bytes, NUL-terminated); -EINVAL (bad URL); -EMSGSIZE (the
 * request head would not fit, or the answer is over NATT_UPNP_MAX_DOCUMENT); -ETIMEDOUT, -ECONNREFUSED
 * or another connect() error; -EPROTO when nothing came back (connection closed, or an empty answer);
 * -ENOMEM. */
int natt_soap_post(const char *control_url, const char *service_type, const char *action,
                   struct UPNParg *args, int timeout_ms, char **reply, size_t *len);

/* The IPv6 source address of this thread's next connections to IPv6 URLs (NULL: the kernel's choice).
 * A router in secure mode opens a pinhole only for the address a request comes from, and that must be
 * the address natt publishes, not a temporary one the kernel may prefer. */
void natt_http_set_source6(const struct in6_addr *source);

#endif
