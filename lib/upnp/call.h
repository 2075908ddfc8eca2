/* What call.c offers beyond natt_upnp_call() (natt/upnp.h): a SOAP call checked and prepared for
 * natt_soap_post() (http.h), and its answer read back. Argument values are XML-escaped, and a call whose
 * envelope or SOAPAction would not fit is refused with -EMSGSIZE before anything is sent. Answers are
 * read by natt's XML reader (xml.h), and a SOAP fault is recognised in the body, whatever the HTTP
 * status. */
#ifndef NATT_UPNP_CALL_H
#define NATT_UPNP_CALL_H

#include <stddef.h>

#include <miniupnpc/miniupnpc.h>

#include "natt/upnp.h"

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

#endif
