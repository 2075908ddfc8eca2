/* Descriptions of natt return codes. */
#include <string.h>

#include "natt/common.h"

NATT_API const char *natt_strerror(int code)
{
	switch (code) {
	case 0: return "success";
	case NATT_ERR_NO_GATEWAY: return "no gateway found";
	case NATT_ERR_NO_IGD: return "no UPnP internet gateway device found";
	case NATT_ERR_UNSUPPORTED: return "not supported by the router";
	case NATT_ERR_REFUSED: return "refused by the router";
	case NATT_ERR_RESOURCES: return "the router is out of resources";
	case NATT_ERR_BAD_REPLY: return "malformed reply from the router";
	case NATT_ERR_UPNP: return "UPnP action failed";
	case NATT_ERR_NETWORK: return "the router reports a network failure";
	case NATT_ERR_NOT_FOUND: return "not found";
	case NATT_ERR_STOPPED: return "stopped";
	}
	/* strerror() may use a shared buffer for unknown values; for known errno values glibc returns a
	 * pointer into its static table, which is all we pass it. */
	if (code < 0 && code > -4096)
		return strerrordesc_np(-code) ? strerrordesc_np(-code) : "unknown error";
	return "unknown error";
}

NATT_API const char *natt_version(void)
{
	return NATT_VERSION;
}
