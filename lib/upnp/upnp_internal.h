/* Internals of the UPnP low level (lib/upnp/): a small XML reader, URL handling, and
 * the HTTP exchanges through miniupnpc. Not part of the public API; the unit tests use them directly.
 *
 * The HTTP is natt's own (http.c), not miniupnpc's miniwget()/simpleUPnPcommand(): those read a
 * whole answer before anyone can look at its size, and wait 5 s per piece of it, so a device could make
 * the program it runs in hold hundreds of MiB or wait without end. natt's client enforces, while it
 * reads: one deadline for the whole exchange (connect, send, every byte back), NATT_HTTP_MAX_HEAD bytes
 * of head (searched only in the new bytes: linear however it is sent), NATT_UPNP_MAX_DOCUMENT bytes of
 * body (Content-Length, chunked or up to the close). Its sockets are close-on-exec and send with
 * MSG_NOSIGNAL. The SOAP envelope is the one miniupnpc 2.2.4 writes, within its buffer sizes (below),
 * so that devices see the same requests as before; miniupnpc still gives the UPNParg type.
 * Also:
 * - argument values are XML-escaped, and a call whose envelope or SOAPAction would not fit is refused
 *   with -EMSGSIZE before anything is sent;
 * - only numeric URLs are used (no name resolution that could block): IPv4, and IPv6 literals for the
 *   pinhole calls at the router's IPv6 address;
 * - documents and replies are read by natt's XML reader;
 * - a SOAP fault is recognised in the body, whatever the HTTP status. */
#ifndef NATT_UPNP_INTERNAL_H
#define NATT_UPNP_INTERNAL_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <miniupnpc/miniupnpc.h>

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

/* ---- HTTP (http.c) --------------------------------------------------------------------------------- */

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
 * args: as natt_soap_prepare() made them (escaped, checked to fit). Returns 0 with the answer's body
 * in *reply (malloc'ed, *len bytes, NUL-terminated); -EINVAL (bad URL); -EMSGSIZE (the request head
 * would not fit, or the answer is over NATT_UPNP_MAX_DOCUMENT); -ETIMEDOUT, -ECONNREFUSED or another
 * connect() error; -EPROTO when nothing came back (connection closed, or an empty answer); -ENOMEM. */
int natt_soap_post(const char *control_url, const char *service_type, const char *action,
                   struct UPNParg *args, int timeout_ms, char **reply, size_t *len);

/* ---- SOAP (call.c) ---------------------------------------------------------------------------- */

/* A call ready for natt_soap_post(). */
struct natt_soap_request {
	struct UPNParg *args; /* nargs + 1 entries, the last { NULL, NULL }; values XML-escaped */
	size_t body_len;      /* the envelope miniupnpc will build, without its NUL */
};

/* Checks a call and escapes its values: -EINVAL (a name that is not an XML name, a service type or
 * action that cannot go into the envelope or the SOAPAction header, args NULL with nargs > 0);
 * -EMSGSIZE when the envelope or the SOAPAction would not fit miniupnpc's buffers; -ENOMEM. On 0, free
 * with natt_soap_request_free(). */
int natt_soap_prepare(const char *service_type, const char *action, const struct natt_upnp_arg *args,
                      size_t nargs, struct natt_soap_request *req);
void natt_soap_request_free(struct natt_soap_request *req);

/* Reads a SOAP answer by its body alone (the HTTP status is not known). Returns 0 with results,
 * NATT_ERR_UPNP (a Fault with a UPnPError) or NATT_ERR_BAD_REPLY with *error filled in, -ENOMEM. */
int natt_soap_parse_reply(const char *body, size_t len, struct natt_upnp_value **results, size_t *nresults,
                          struct natt_upnp_error *error);

/* ---- SSDP (ssdp.c) -------------------------------------------------------------------------------- */

/* natt_ssdp_search with another destination than 239.255.255.250:1900 (the unit tests use a
 * responder on loopback). */
int natt_ssdp_search_to(const struct sockaddr_in *dest, const char *search_target, const struct in_addr *iface,
                        int timeout_ms, int (*on_reply)(const struct natt_ssdp_reply *reply, void *ctx),
                        void *ctx);

/* natt_upnp_scan searching at `dest` instead of the multicast group (NULL: the group). (desc.c) */
int natt_upnp_scan_to(const struct sockaddr_in *dest, const char *search_target, const struct in_addr *iface,
                      int timeout_ms, const char *stop_at_type, struct natt_upnp_service **services,
                      size_t *count);

#endif
