/* natt — UPnP low level: SSDP search, device and service descriptions, SOAP action calls.
 *
 * The building blocks under natt's UPnP technique, public so that a program can talk to any UPnP service
 * the way Racket's nat-traversal upnp module allows: scan for services, read a service's actions, call
 * any action with named arguments. The HTTP (GET for documents, POST for calls) and the XML are
 * natt's own. For port mappings at the router there are ready-made calls in natt/igd.h.
 *
 * Common rules for everything in this header:
 * - Nothing here keeps global state: every function is thread-safe and may run in several threads at
 *   once; a result returned to the caller belongs to the caller.
 * - Waits are bounded by the caller's timeout_ms (milliseconds, measured on the monotonic clock): one
 *   deadline for a whole HTTP exchange (connect, request, every byte of the answer), however slowly a
 *   device answers. An SSDP search is bounded exactly.
 * - Every document and answer is bounded while it is read: 16 KiB of HTTP head, NATT_UPNP_MAX_DOCUMENT
 *   bytes of body (-EMSGSIZE past either). Every socket is closed before the function returns and is
 *   close-on-exec, no signal is raised (MSG_NOSIGNAL), and nothing is printed.
 * - HTTP URLs must name their host by an IPv4 address ("http://10.0.0.1:5000/rootDesc.xml"): resolving a
 *   host name could block without bound, and UPnP devices announce addresses anyway. Other URLs give
 *   -EINVAL.
 * - Strings in results are NUL-terminated UTF-8 as the device sent them (XML entities decoded, leading
 *   and trailing white space removed); a field the device left out is "" (never NULL).
 */
#ifndef NATT_UPNP_H
#define NATT_UPNP_H

#include <netinet/in.h>
#include <stddef.h>

#include "natt/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Search targets (SSDP ST values). */
#define NATT_SSDP_ST_ALL  "ssdp:all"
#define NATT_SSDP_ST_ROOT "upnp:rootdevice"
#define NATT_SSDP_ST_IGD1 "urn:schemas-upnp-org:device:InternetGatewayDevice:1"
#define NATT_SSDP_ST_IGD2 "urn:schemas-upnp-org:device:InternetGatewayDevice:2"

/* Service types of the Internet Gateway Device. */
#define NATT_UPNP_WANIP1  "urn:schemas-upnp-org:service:WANIPConnection:1"
#define NATT_UPNP_WANIP2  "urn:schemas-upnp-org:service:WANIPConnection:2"
#define NATT_UPNP_WANPPP1 "urn:schemas-upnp-org:service:WANPPPConnection:1"

/* The largest description, SCPD or SOAP reply read (bytes); a longer one gives -EMSGSIZE. */
#define NATT_UPNP_MAX_DOCUMENT (1024 * 1024)
/* The longest URL accepted or produced (bytes, including the NUL). */
#define NATT_UPNP_URL_MAX 1024

/* ---------------------------------------------------------------------------------------------------
 * SSDP (UPnP Device Architecture, section 1)
 */

/* One SSDP datagram as natt_ssdp_parse() reads it. The char arrays are always NUL-terminated. */
struct natt_ssdp_reply {
	struct sockaddr_in from; /* who answered (natt_ssdp_search); zeroed by natt_ssdp_parse */
	char location[512];      /* LOCATION header (description URL); "" for byebye */
	char st[256];            /* ST header; for a NOTIFY, its NT header */
	char usn[256];           /* USN */
	char server[256];        /* SERVER (cut to fit when longer) */
	long bootid;             /* BOOTID.UPNP.ORG, or -1 when absent */
};

/* The kinds natt_ssdp_parse() reports. */
enum natt_ssdp_kind {
	NATT_SSDP_SEARCH_REPLY = 0, /* "HTTP/1.1 200 OK" answer to an M-SEARCH */
	NATT_SSDP_ALIVE = 1,        /* NOTIFY, NTS: ssdp:alive */
	NATT_SSDP_BYEBYE = 2,       /* NOTIFY, NTS: ssdp:byebye */
	NATT_SSDP_UPDATE = 3,       /* NOTIFY, NTS: ssdp:update */
};

/* natt_ssdp_search - sends an SSDP M-SEARCH and reports the answers as they arrive.
 *
 * search_target: the ST to search for (e.g. NATT_SSDP_ST_IGD1); NULL means NATT_SSDP_ST_IGD1. It must
 *   not contain CR or LF and is at most 255 bytes.
 * iface: the local interface address to send from (IP_MULTICAST_IF); NULL uses the default multicast
 *   route.
 * timeout_ms: the longest time to wait, >= 0. The search is sent with MX 1 at once and repeated at
 *   200, 600, 1400, 3000 ms ... (the gap doubles) while time remains, because a multicast datagram can
 *   be lost; 0 sends once and only collects what has already arrived.
 * on_reply: called for every valid search reply (HTTP/1.x 200 with LOCATION and ST), once per sender
 *   and USN (retransmissions make devices answer again; those repeats are dropped; the first 128
 *   distinct pairs of a search are remembered, a bound on memory). Replies of any ST
 *   are passed on: check reply->st if it matters. Returning non-zero stops the search at once. The
 *   reply is only valid during the call. on_reply may be NULL (only counts).
 * ctx: passed to on_reply.
 *
 * Returns the number of replies delivered (0 when none came; that is not an error), or -EINVAL (bad
 * argument), or a negative errno of socket()/sendto() (e.g. -ENETUNREACH with no multicast route) when
 * not even the first search could be sent. Never waits longer than timeout_ms: the deadline is fixed
 * at the start, so time spent in on_reply counts against it (a callback that itself runs past the
 * deadline ends the search when it returns). Uses one UDP socket and no bind() (an ephemeral port), so
 * it never competes with a local SSDP daemon. Thread-safe. */
NATT_API int natt_ssdp_search(const char *search_target, const struct in_addr *iface, int timeout_ms,
                              int (*on_reply)(const struct natt_ssdp_reply *reply, void *ctx), void *ctx);

/* natt_ssdp_parse - parses one SSDP datagram: a search reply or a NOTIFY.
 *
 * datagram, len: the datagram as received (need not be NUL-terminated; may contain anything).
 * reply: receives the headers; reply->from is zeroed (the caller knows the sender).
 * kind: receives an enum natt_ssdp_kind value; may be NULL.
 *
 * Header names are matched case-insensitively, lines may end in LF alone, white space around values is
 * dropped. Required headers: a search reply needs LOCATION and ST; alive and update need LOCATION, NT
 * and USN; byebye needs NT and USN. A LOCATION, ST/NT or USN too long for its field, or holding control
 * characters, makes the datagram invalid (a cut or odd URL or name would be wrong); SERVER is cut to
 * fit and its control characters become '?'. Everything after the blank line ending the headers is
 * ignored.
 *
 * Returns 0, or -EINVAL when the datagram is none of the four kinds or lacks a required header (the
 * contents of *reply are then unspecified). Thread-safe. */
NATT_API int natt_ssdp_parse(const char *datagram, size_t len, struct natt_ssdp_reply *reply, int *kind);

/* ---------------------------------------------------------------------------------------------------
 * Services (from device descriptions)
 */

/* A service of a UPnP device. All URLs are absolute: resolved (RFC 3986) against the description's
 * URLBase, or when it has none against the URL the description came from. */
struct natt_upnp_service {
	char *service_type;  /* URN, e.g. "urn:schemas-upnp-org:service:WANIPConnection:1" */
	char *service_id;    /* e.g. "urn:upnp-org:serviceId:WANIPConn1" */
	char *control_url;   /* where actions are POSTed */
	char *event_url;     /* eventSubURL ("" when the service has no events) */
	char *scpd_url;      /* the service description (list of actions) */
	char *device_type;   /* type URN of the (possibly embedded) device offering the service */
	char *device_udn;    /* that device's UDN ("uuid:...") */
	char *friendly_name; /* that device's friendlyName */
	char *location;      /* the URL of the description this came from */
};

/* natt_upnp_parse_description - reads the services of a device description document, following
 * embedded devices (deviceList) at any depth.
 *
 * xml, len: the document (need not be NUL-terminated).
 * location: the URL the document was fetched from ("http://a.b.c.d[:port]/path"), the base for
 *   relative URLs when the document has no URLBase.
 * services, count: receive a new array of *count services, in document order (a device's own
 *   services before those of its embedded devices). Services without a serviceType are skipped. When
 *   there are none, *services is NULL and *count 0. Free with natt_upnp_services_free().
 *
 * Returns the number of services (>= 0); -EINVAL for a malformed document or a document that is not a
 * device description (no root/device element) or a bad location; -EMSGSIZE when the document exceeds
 * NATT_UPNP_MAX_DOCUMENT or the parser's depth/element limits; -ENOMEM. On error *services is NULL and
 * *count 0. Thread-safe. */
NATT_API int natt_upnp_parse_description(const char *xml, size_t len, const char *location,
                                         struct natt_upnp_service **services, size_t *count);

/* natt_upnp_describe - fetches a device description (HTTP GET) and reads its
 * services, as natt_upnp_parse_description() does. For a known location (e.g. one cached from an
 * earlier SSDP answer), this skips discovery.
 *
 * location: the description URL (as in a LOCATION header).
 * timeout_ms: > 0; an answer that has not come whole by then gives -ETIMEDOUT.
 *
 * Returns as natt_upnp_parse_description(), and also: -ETIMEDOUT; -ECONNREFUSED and other connect()
 * errors; NATT_ERR_BAD_REPLY when the HTTP status is not 200; -EPROTO when the connection ended
 * without an answer. Thread-safe. */
NATT_API int natt_upnp_describe(const char *location, int timeout_ms, struct natt_upnp_service **services,
                                size_t *count);

/* natt_upnp_scan - finds the UPnP services on the network: an SSDP search, then the description of
 * every device that answered.
 *
 * search_target: the ST searched for; NULL means NATT_SSDP_ST_ROOT: every root device must answer it
 *   once, and its description lists the services of its embedded devices too. (NATT_SSDP_ST_ALL makes
 *   a device answer once per device and service type; miniupnpd spaces those answers ~66 ms apart.)
 * iface: as for natt_ssdp_search().
 * timeout_ms: the scan's whole duration, fetching descriptions included (> 0). Without stop_at_type
 *   the scan listens for the whole time, since it cannot know when the last device has answered.
 * stop_at_type: when not NULL, the scan ends as soon as it has found a service whose type matches it
 *   (natt_upnp_service_type_matches(found, stop_at_type)): a fast way to find e.g. a WANIPConnection.
 * services, count: receive the services of all devices found (as natt_upnp_parse_description()), each
 *   description read once even when the device answered several times. Free with
 *   natt_upnp_services_free().
 *
 * A device is only asked for its description when the LOCATION it announced names the very address the
 * answer came from: a LAN host forging SSDP answers cannot make us connect to a third host.
 * Descriptions that cannot be fetched or read are skipped. At most 64 devices and 256 services.
 *
 * Returns the number of services found (0 when none: not an error), -EINVAL for bad arguments,
 * -ENOMEM, or an error of natt_ssdp_search() when the search could not be sent at all. Thread-safe. */
NATT_API int natt_upnp_scan(const char *search_target, const struct in_addr *iface, int timeout_ms,
                            const char *stop_at_type, struct natt_upnp_service **services, size_t *count);

/* natt_upnp_services_free - frees an array returned by the functions above, with the count they
 * returned. services may be NULL. No errors. Thread-safe (each array belongs to one caller). */
NATT_API void natt_upnp_services_free(struct natt_upnp_service *services, size_t count);

/* natt_upnp_service_type_matches - whether a service (or device) of type `have` can serve a request
 * for type `want`.
 *
 * Both are URNs "urn:DOMAIN:KIND:NAME:VERSION" (KIND is "service" or "device"). They match when
 * "urn" and DOMAIN are equal ignoring case (domain names are case-insensitive), KIND and NAME are
 * equal exactly, and have's VERSION >= want's VERSION: UPnP requires a version to stay backward
 * compatible with the lower ones, so WANIPConnection:2 serves a request for WANIPConnection:1, not the
 * other way round. `want` may leave out ":VERSION" to accept any version. Versions are decimal
 * integers. When either string is not such a URN, they match only when exactly equal.
 *
 * Returns 1 on a match, 0 otherwise (also when either is NULL). Thread-safe. */
NATT_API int natt_upnp_service_type_matches(const char *have, const char *want);

/* ---------------------------------------------------------------------------------------------------
 * Actions (from service descriptions, "SCPD")
 */

enum natt_upnp_direction {
	NATT_UPNP_IN = 0,  /* an argument sent with the call */
	NATT_UPNP_OUT = 1, /* a result returned by the call */
};

struct natt_upnp_argument {
	char *name;                         /* e.g. "NewExternalPort" */
	enum natt_upnp_direction direction; /* from <direction>in|out</direction> */
	int retval;                         /* 1 when marked <retval/> (the action's "return value") */
	char *related_state_variable;       /* e.g. "ExternalPort" */
	char *data_type;                    /* that state variable's dataType (e.g. "ui2"); "" if unknown */
};

struct natt_upnp_action {
	char *name;                           /* e.g. "AddPortMapping" */
	size_t argument_count;
	struct natt_upnp_argument *arguments; /* in document order (NULL when argument_count is 0) */
};

/* natt_upnp_parse_scpd - reads the actions of a service description document (SCPD).
 *
 * xml, len: the document (need not be NUL-terminated).
 * actions, count: receive a new array of *count actions in document order; free with
 *   natt_upnp_actions_free(). Actions without a name are skipped, and so are arguments without a name;
 *   a direction other than "out" counts as "in".
 *
 * Returns the number of actions (>= 0), -EINVAL (malformed, or not an SCPD: root element is not
 * "scpd"), -EMSGSIZE (too large or deep), -ENOMEM. On error *actions is NULL and *count 0.
 * Thread-safe. */
NATT_API int natt_upnp_parse_scpd(const char *xml, size_t len, struct natt_upnp_action **actions,
                                  size_t *count);

/* natt_upnp_get_actions - fetches service->scpd_url and reads it as natt_upnp_parse_scpd() does.
 * timeout_ms: as for natt_upnp_describe(). Returns as natt_upnp_parse_scpd() and natt_upnp_describe();
 * -EINVAL when the service has no SCPD URL. Thread-safe. */
NATT_API int natt_upnp_get_actions(const struct natt_upnp_service *service, int timeout_ms,
                                   struct natt_upnp_action **actions, size_t *count);

/* natt_upnp_find_action - the action called `name` (compared exactly) in an array of `count` actions,
 * or NULL (also when actions or name is NULL). Thread-safe. */
NATT_API const struct natt_upnp_action *natt_upnp_find_action(const struct natt_upnp_action *actions,
                                                              size_t count, const char *name);

/* natt_upnp_actions_free - frees an array returned by the functions above, with the count they
 * returned. actions may be NULL. No errors. Thread-safe (each array belongs to one caller). */
NATT_API void natt_upnp_actions_free(struct natt_upnp_action *actions, size_t count);

/* ---------------------------------------------------------------------------------------------------
 * Calling actions (SOAP)
 */

/* A named argument of a call. */
struct natt_upnp_arg {
	const char *name;  /* an XML name, e.g. "NewExternalPort" */
	const char *value; /* any text (escaped for XML by natt); NULL is sent as "" */
};

/* A named result of a call. */
struct natt_upnp_value {
	char *name;
	char *value;
};

/* Why a call failed, filled in when natt_upnp_call() returns NATT_ERR_UPNP or NATT_ERR_BAD_REPLY.
 * (A fault is recognised in the body, whatever the HTTP status.) */
struct natt_upnp_error {
	int upnp_code;         /* the UPnP errorCode (e.g. 718 ConflictInMappingEntry), 0 if none was sent */
	char description[256]; /* errorDescription, else the SOAP faultstring, else what was wrong (cut) */
};

/* natt_upnp_call - calls an action of a service (a SOAP POST to its control URL).
 *
 * control_url: the service's control URL (struct natt_upnp_service.control_url).
 * service_type: the service's type URN, exactly as the device announced it (it names the action's
 *   XML namespace and the SOAPAction header).
 * action: the action's name, e.g. "GetExternalIPAddress".
 * args, nargs: the in arguments, sent in this order (UPnP requires the order of the SCPD); args may be
 *   NULL when nargs is 0. The envelope, values XML-escaped, must fit 2048 bytes (and
 *   "SERVICE_TYPE#ACTION" 127; the sizes of miniupnpc's buffers): else -EMSGSIZE and nothing is sent.
 * timeout_ms: > 0; bounds the whole exchange: an answer not there whole by then gives -ETIMEDOUT.
 * results, nresults: receive a new array of the out arguments the device returned, in its order
 *   (*results NULL when there are none); free with natt_upnp_values_free(). Both may be NULL when the
 *   results do not matter.
 * error: when not NULL, cleared and then filled in on NATT_ERR_UPNP / NATT_ERR_BAD_REPLY.
 *
 * Returns 0 on success; NATT_ERR_UPNP when the device answered with a UPnP error (error->upnp_code and
 * error->description say which); NATT_ERR_BAD_REPLY when the answer is not a SOAP reply (e.g. the page
 * of an HTTP 404); -EINVAL for bad arguments (names that are not XML names, a service type or action
 * with characters that cannot go into a header, a bad URL); -ETIMEDOUT; -ECONNREFUSED or another
 * connect() error (a router that restarted on another port: discover again); -EPROTO when the
 * connection ended without an answer (or with an empty one); -EMSGSIZE (request too large, or an
 * answer over the limits); -ENOMEM. Thread-safe. */
NATT_API int natt_upnp_call(const char *control_url, const char *service_type, const char *action,
                            const struct natt_upnp_arg *args, size_t nargs, int timeout_ms,
                            struct natt_upnp_value **results, size_t *nresults, struct natt_upnp_error *error);

/* natt_upnp_value_get - the value of the result called `name` (compared exactly; the first when a
 * device sent it twice) among `nresults` results, or NULL (also when results or name is NULL).
 * Thread-safe. */
NATT_API const char *natt_upnp_value_get(const struct natt_upnp_value *results, size_t nresults,
                                         const char *name);

/* natt_upnp_values_free - frees an array returned by natt_upnp_call(), with the count it returned.
 * results may be NULL. No errors. Thread-safe (each array belongs to one caller). */
NATT_API void natt_upnp_values_free(struct natt_upnp_value *results, size_t nresults);

#ifdef __cplusplus
}
#endif
#endif
