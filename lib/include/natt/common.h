/* natt — shared definitions of the public API: visibility, error codes. */
#ifndef NATT_COMMON_H
#define NATT_COMMON_H

#ifdef __cplusplus
extern "C" {
#endif

#define NATT_API __attribute__((visibility("default")))

/* Every natt function that can fail returns a negative number: either -errno (system errors such as
 * -ENOMEM, -EINVAL, -ETIMEDOUT) or one of these codes, which lie below -1000 so they never collide. */
enum natt_error {
	NATT_ERR_NO_GATEWAY   = -1001, /* no default route, or no gateway answered */
	NATT_ERR_NO_IGD       = -1002, /* no UPnP Internet Gateway Device found */
	NATT_ERR_UNSUPPORTED  = -1003, /* the router does not offer this technique or operation */
	NATT_ERR_REFUSED      = -1004, /* the router refused (not authorized, conflict, policy) */
	NATT_ERR_RESOURCES    = -1005, /* the router is out of ports or mappings */
	NATT_ERR_BAD_REPLY    = -1006, /* a reply could not be understood */
	NATT_ERR_UPNP         = -1007, /* a UPnP action failed; the UPnP error code says why */
	NATT_ERR_NETWORK      = -1008, /* the router reported a network failure (e.g. WAN down) */
	NATT_ERR_NOT_FOUND    = -1009, /* no such mapping, service, action or entry */
	NATT_ERR_STOPPED      = -1010, /* the object was stopped while the call was under way */
};

/* Transport protocols, numbered as IPPROTO_TCP / IPPROTO_UDP. */
enum natt_protocol {
	NATT_TCP = 6,
	NATT_UDP = 17,
};

/* How an address was obtained: from a local interface, or made by the router through a technique. */
enum natt_technique {
	NATT_TECH_LOCAL  = 0, /* a local interface address (the status file's "technique": null) */
	NATT_TECH_UPNP   = 1, /* UPnP IGD port mapping */
	NATT_TECH_NATPMP = 2, /* NAT-PMP (RFC 6886) */
	NATT_TECH_PCP    = 3, /* PCP (RFC 6887) */
};
#define NATT_TECH_COUNT 4

/* natt_strerror - a short English description of any natt return code.
 * code: 0, a negative errno value, or an enum natt_error value; anything else gives "unknown error".
 * Never returns NULL; no errors. Thread-safe: returns static strings only (never to be freed). */
NATT_API const char *natt_strerror(int code);

/* natt_version - the library's version string, e.g. "0.1.0" (static, never NULL). No parameters, no
 * errors. Thread-safe. */
NATT_API const char *natt_version(void);

#ifdef __cplusplus
}
#endif
#endif
