/* Internals of the UPnP low level (lib/upnp_*.c, lib/ssdp.c): a small XML reader, URL handling and a
 * minimal HTTP client. Not part of the public API; the unit tests use them directly.
 *
 * Why our own XML and HTTP instead of miniupnpc's: miniupnpc does not install its XML parser's header;
 * its SOAP call (simpleUPnPcommand) copies argument values into the envelope without XML escaping,
 * builds the body in a fixed 2 KiB buffer, and its reply parser (ParseNameValue) cuts values at 127
 * bytes; its sockets are not close-on-exec and its reads are not bounded in size. Inside someone else's
 * process each of those matters. */
#ifndef NATT_UPNP_INTERNAL_H
#define NATT_UPNP_INTERNAL_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#include "natt/upnp.h"

/* ---- XML ------------------------------------------------------------------------------------------
 * natt_xml_parse() reads a whole document into a tree of elements. Strict where it costs nothing
 * (tags must nest and match, one root element, attributes well-formed, no NUL bytes), tolerant where
 * devices are sloppy (unknown entities are kept as written). Namespace prefixes are dropped from element
 * names ("s:Envelope" becomes "Envelope"); attributes are checked but not kept. Entities &lt; &gt; &amp;
 * &quot; &apos; and numeric references (&#65; &#x41;) are decoded; CDATA sections are taken as text;
 * comments, processing instructions and a DOCTYPE without internal subset are skipped.
 *
 * An element's text is the text (and CDATA) before its first child element, with leading and trailing
 * white space removed; text after a child element is ignored (UPnP documents have no mixed content).
 *
 * Limits keep hostile input harmless: NATT_UPNP_MAX_DOCUMENT bytes, NATT_XML_MAX_DEPTH nesting levels,
 * NATT_XML_MAX_NODES elements. Memory used: about one copy of the document plus 20 bytes per element. */
#define NATT_XML_MAX_DEPTH 32
#define NATT_XML_MAX_NODES 16384

struct natt_xml_node {
	const char *name; /* local name, NUL-terminated */
	const char *text; /* NUL-terminated, "" when none */
	int parent;       /* index, -1 for the root */
	int first_child;  /* index, -1 when none */
	int next_sibling; /* index, -1 when none */
};

struct natt_xml_doc {
	struct natt_xml_node *nodes; /* nodes[0] is the root element */
	int count;
	int cap;
	char *arena; /* names and texts */
	size_t arena_used;
	size_t arena_cap;
};

/* Parses xml[0..len). Returns 0 (doc filled; free with natt_xml_free), -EINVAL (malformed), -EMSGSIZE
 * (a limit exceeded), -ENOMEM. On error doc is left empty (natt_xml_free is still safe). */
int natt_xml_parse(const char *xml, size_t len, struct natt_xml_doc *doc);
void natt_xml_free(struct natt_xml_doc *doc);
/* The first child of `node` called `name` (NULL: any name), or -1. Iterate over all children of one name
 * with: for (c = natt_xml_child(d, n, "x"); c >= 0; c = natt_xml_next(d, c, "x")). */
int natt_xml_child(const struct natt_xml_doc *doc, int node, const char *name);
/* The next sibling after `node` called `name` (NULL: any), or -1. */
int natt_xml_next(const struct natt_xml_doc *doc, int node, const char *name);
/* The text of the first child called `name`, or "" when there is no such child. */
const char *natt_xml_child_text(const struct natt_xml_doc *doc, int node, const char *name);

/* Appends s[0..len) to out[0..outlen) escaped for XML text and attribute values (& < > " '). Returns the
 * number of bytes the escaped form needs (without NUL) — like snprintf, the output is cut (and always
 * NUL-terminated when outlen > 0) when it does not fit. */
size_t natt_xml_escape(const char *s, size_t len, char *out, size_t outlen);

/* Whether s is usable as an XML element name in a SOAP body (letters, digits, '_', '-', '.', not
 * starting with a digit, '-' or '.'; ASCII only; 1..255 bytes). */
int natt_xml_is_name(const char *s);

/* ---- URLs ----------------------------------------------------------------------------------------- */

/* Resolves reference `ref` against absolute URL `base` (RFC 3986 section 5.2, dot segments removed).
 * An absolute ref (with a scheme) is copied; an empty ref gives "" (UPnP: "no such URL"). The base must
 * be an absolute http URL. Returns 0, -EINVAL (bad base), -ENAMETOOLONG (out too small). */
int natt_url_resolve(const char *base, const char *ref, char *out, size_t outlen);

/* An http URL split for a request. */
struct natt_http_url {
	struct sockaddr_in addr; /* IPv4 address and port (80 when absent) */
	char host[32];           /* for the Host header: "a.b.c.d" or "a.b.c.d:port" as given */
	char path[NATT_UPNP_URL_MAX]; /* "/..." including any query; "/" when absent; no fragment */
};

/* Splits "http://a.b.c.d[:port][/path]". Returns 0 or -EINVAL (not http, host not an IPv4 address,
 * bad port, characters that cannot go into a request line). */
int natt_http_url_parse(const char *url, struct natt_http_url *out);

/* ---- HTTP ----------------------------------------------------------------------------------------- */

struct natt_http_response {
	int status;       /* e.g. 200 */
	char reason[64];  /* reason phrase, cut to fit */
	char *body;       /* malloc'ed, NUL-terminated (body may contain NULs itself) */
	size_t body_len;
};

/* One HTTP/1.1 request with "Connection: close" on a fresh connection. method: "GET" or "POST";
 * extra_headers: "" or complete header lines, each ending in CRLF; body may be NULL when body_len is 0.
 * The whole exchange ends by timeout_ms. The answer may use Content-Length, chunked encoding, or end at
 * connection close; at most max_body bytes of body are accepted.
 * Returns 0 with *resp filled (any status; free resp->body) or a negative code: -EINVAL, -ETIMEDOUT,
 * connect() errors, -EPROTO (cut short, bad chunking), -EMSGSIZE (over max_body), NATT_ERR_BAD_REPLY
 * (not HTTP), -ENOMEM. */
int natt_http_request(const char *url, const char *method, const char *extra_headers, const char *body,
                      size_t body_len, int timeout_ms, size_t max_body, struct natt_http_response *resp);

/* Parses a complete HTTP response held in buf[0..len): status line, headers, body (dechunked).
 * *complete is set to 1 when the response is known to be whole (Content-Length reached, last chunk
 * seen), 0 when more may follow (then the return value is -EAGAIN when more is needed, or 0 when the
 * body runs to the connection's end). `eof` says the connection has ended. Used by natt_http_request;
 * public here for the tests. On 0, resp->body is a new allocation. */
int natt_http_parse_response(const char *buf, size_t len, int eof, size_t max_body,
                             struct natt_http_response *resp);

/* GET of a UPnP document (description, SCPD): 0 with a malloc'ed NUL-terminated body, or as
 * natt_http_request(), or NATT_ERR_BAD_REPLY when the status is not 200. (upnp_desc.c) */
int natt_upnp_fetch(const char *url, int timeout_ms, char **body, size_t *len);

/* ---- SOAP (upnp_call.c) ---------------------------------------------------------------------------- */

/* Builds the SOAP envelope of a call into a new malloc'ed string. Returns 0 or -EINVAL / -ENOMEM. */
int natt_soap_build(const char *service_type, const char *action, const struct natt_upnp_arg *args,
                    size_t nargs, char **body, size_t *body_len);

/* Reads a SOAP answer (HTTP status and body). Returns 0 with results, NATT_ERR_UPNP or
 * NATT_ERR_BAD_REPLY with *error filled in, -EMSGSIZE/-ENOMEM. */
int natt_soap_parse_reply(int http_status, const char *reason, const char *body, size_t len,
                          struct natt_upnp_value **results, size_t *nresults, struct natt_upnp_error *error);

/* ---- SSDP (ssdp.c) -------------------------------------------------------------------------------- */

/* natt_ssdp_search with another destination than 239.255.255.250:1900 (the unit tests use a
 * responder on loopback). */
int natt_ssdp_search_to(const struct sockaddr_in *dest, const char *search_target, const struct in_addr *iface,
                        int timeout_ms, int (*on_reply)(const struct natt_ssdp_reply *reply, void *ctx),
                        void *ctx);

/* natt_upnp_scan searching at `dest` instead of the multicast group (NULL: the group). (upnp_desc.c) */
int natt_upnp_scan_to(const struct sockaddr_in *dest, const char *search_target, const struct in_addr *iface,
                      int timeout_ms, const char *stop_at_type, struct natt_upnp_service **services,
                      size_t *count);

#endif
