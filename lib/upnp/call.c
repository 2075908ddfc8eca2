/* Calling UPnP actions: the arguments checked and XML-escaped for the envelope miniupnpc builds and
 * sends (natt_soap_post), the answer read back as named results or the UPnP error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "natt/upnp.h"
#include "upnp/call.h"
#include "upnp/http.h"
#include "upnp/xml.h"

/* A service type goes into an XML attribute and into the quoted SOAPAction header: refuse anything
 * that could end either. */
static int usable_service_type(const char *s)
{
	if (!s || !s[0] || strlen(s) > 255)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f || strchr("\"'<>&#", *s))
			return 0;
	return 1;
}

/* The envelope natt_soap_post() writes (as miniupnpc 2.2.4 did), around the arguments
 * "<NAME>VALUE</NAME>". */
#define ENVELOPE_OPEN                                                                                   \
	"<?xml version=\"1.0\"?>\r\n<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "     \
	"s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\"><s:Body><u: xmlns:u=\"\">"
#define ENVELOPE_CLOSE "</u:></s:Body></s:Envelope>\r\n"

int natt_soap_prepare(const char *service_type, const char *action, const struct natt_upnp_arg *args,
                      size_t nargs, struct natt_soap_request *req)
{
	memset(req, 0, sizeof(*req));
	if (!usable_service_type(service_type) || !natt_xml_is_name(action) || (nargs && !args))
		return -EINVAL;
	if (strlen(service_type) + 1 + strlen(action) >= NATT_SOAP_ACTION_MAX)
		return -EMSGSIZE;
	size_t body = sizeof(ENVELOPE_OPEN) - 1 + sizeof(ENVELOPE_CLOSE) - 1 + 2 * strlen(action) + strlen(service_type);
	size_t values = 0;
	for (size_t i = 0; i < nargs; i++) {
		if (!natt_xml_is_name(args[i].name))
			return -EINVAL;
		const char *v = args[i].value ? args[i].value : "";
		size_t escaped = natt_xml_escape(v, strlen(v), NULL, 0);
		body += 2 * strlen(args[i].name) + 5 + escaped;
		values += escaped + 1;
	}
	if (body >= NATT_SOAP_BODY_MAX)
		return -EMSGSIZE; /* miniupnpc would send nothing: say why */
	/* One allocation: the argument array, then the escaped values. */
	struct UPNParg *out = malloc((nargs + 1) * sizeof(*out) + values);
	if (!out)
		return -ENOMEM;
	char *text = (char *)(out + nargs + 1);
	for (size_t i = 0; i < nargs; i++) {
		const char *v = args[i].value ? args[i].value : "";
		size_t n = natt_xml_escape(v, strlen(v), NULL, 0) + 1;
		natt_xml_escape(v, strlen(v), text, n);
		out[i] = (struct UPNParg){ .elt = args[i].name, .val = text };
		text += n;
	}
	out[nargs] = (struct UPNParg){ NULL, NULL };
	req->args = out;
	req->body_len = body;
	return 0;
}

void natt_soap_request_free(struct natt_soap_request *req)
{
	free(req->args);
	memset(req, 0, sizeof(*req));
}

static void set_error(struct natt_upnp_error *error, int upnp_code, const char *description)
{
	if (!error)
		return;
	error->upnp_code = upnp_code;
	snprintf(error->description, sizeof(error->description), "%s", description ? description : "");
}

/* Parses a decimal errorCode; -1 when it is not one. */
static int parse_code(const char *s)
{
	long v = 0;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > 99999)
			return -1;
		v = v * 10 + (*s - '0');
	}
	return (int)v;
}

/* Copies the element children of `response` as name/value pairs; each pair is one allocation that
 * starts with the name (freed through results[i].name). */
static int collect_results(const struct natt_xml_doc *doc, int response, struct natt_upnp_value **results,
                           size_t *nresults)
{
	size_t n = 0;
	for (int c = natt_xml_child(doc, response, NULL); c >= 0; c = natt_xml_next(doc, c, NULL))
		n++;
	if (!n)
		return 0;
	struct natt_upnp_value *out = calloc(n, sizeof(*out));
	if (!out)
		return -ENOMEM;
	size_t i = 0;
	for (int c = natt_xml_child(doc, response, NULL); c >= 0; c = natt_xml_next(doc, c, NULL), i++) {
		const char *name = doc->nodes[c].name, *text = doc->nodes[c].text;
		size_t nl = strlen(name) + 1, tl = strlen(text) + 1;
		char *block = malloc(nl + tl);
		if (!block) {
			natt_upnp_values_free(out, i);
			return -ENOMEM;
		}
		memcpy(block, name, nl);
		memcpy(block + nl, text, tl);
		out[i].name = block;
		out[i].value = block + nl;
	}
	*results = out;
	*nresults = n;
	return 0;
}

int natt_soap_parse_reply(const char *body, size_t len, struct natt_upnp_value **results, size_t *nresults,
                          struct natt_upnp_error *error)
{
	*results = NULL;
	*nresults = 0;
	if (error)
		memset(error, 0, sizeof(*error));
	struct natt_xml_doc doc;
	int rc = natt_xml_parse(body, len, &doc);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		set_error(error, 0, "malformed SOAP reply");
		return NATT_ERR_BAD_REPLY;
	}
	int envelope = strcmp(doc.nodes[0].name, "Envelope") == 0 ? 0 : -1;
	int soap_body = natt_xml_child(&doc, envelope, "Body");
	int first = natt_xml_child(&doc, soap_body, NULL);
	if (first >= 0 && strcmp(doc.nodes[first].name, "Fault") == 0) {
		/* Body/Fault/detail/UPnPError/{errorCode,errorDescription} (UDA section 3.2.2), whatever the
		 * HTTP status was (500 by the rules; some devices send 200). */
		int upnp_error = natt_xml_child(&doc, natt_xml_child(&doc, first, "detail"), "UPnPError");
		int code = parse_code(natt_xml_child_text(&doc, upnp_error, "errorCode"));
		const char *desc = natt_xml_child_text(&doc, upnp_error, "errorDescription");
		if (!desc[0])
			desc = natt_xml_child_text(&doc, first, "faultstring");
		if (code >= 0) {
			set_error(error, code, desc);
			rc = NATT_ERR_UPNP;
		} else {
			set_error(error, 0, desc[0] ? desc : "SOAP fault without a UPnP error");
			rc = NATT_ERR_BAD_REPLY;
		}
	} else if (first < 0) {
		/* e.g. the HTML page of an HTTP error */
		set_error(error, 0, soap_body >= 0 ? "empty SOAP reply" : "not a SOAP reply");
		rc = NATT_ERR_BAD_REPLY;
	} else {
		rc = collect_results(&doc, first, results, nresults);
	}
	natt_xml_free(&doc);
	return rc;
}

NATT_API int natt_upnp_call(const char *control_url, const char *service_type, const char *action,
                            const struct natt_upnp_arg *args, size_t nargs, int timeout_ms,
                            struct natt_upnp_value **results, size_t *nresults, struct natt_upnp_error *error)
{
	struct natt_upnp_value *vals = NULL;
	size_t nvals = 0;
	if (results)
		*results = NULL;
	if (nresults)
		*nresults = 0;
	if (error)
		memset(error, 0, sizeof(*error));
	if (!control_url || timeout_ms <= 0)
		return -EINVAL;

	struct natt_soap_request req;
	int rc = natt_soap_prepare(service_type, action, args, nargs, &req);
	if (rc < 0)
		return rc;
	char *reply;
	size_t len;
	rc = natt_soap_post(control_url, service_type, action, req.args, timeout_ms, &reply, &len);
	natt_soap_request_free(&req);
	if (rc < 0)
		return rc;
	rc = natt_soap_parse_reply(reply, len, &vals, &nvals, error);
	free(reply);
	if (rc == 0 && results && nresults) {
		*results = vals;
		*nresults = nvals;
	} else {
		natt_upnp_values_free(vals, nvals);
	}
	return rc;
}

NATT_API const char *natt_upnp_value_get(const struct natt_upnp_value *results, size_t nresults, const char *name)
{
	if (!results || !name)
		return NULL;
	for (size_t i = 0; i < nresults; i++)
		if (strcmp(results[i].name, name) == 0)
			return results[i].value;
	return NULL;
}

NATT_API void natt_upnp_values_free(struct natt_upnp_value *results, size_t nresults)
{
	if (!results)
		return;
	for (size_t i = 0; i < nresults; i++)
		free(results[i].name);
	free(results);
}
