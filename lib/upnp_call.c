/* Calling UPnP actions: the SOAP envelope out, named results or the UPnP error back. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "upnp_internal.h"

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

int natt_soap_build(const char *service_type, const char *action, const struct natt_upnp_arg *args,
                    size_t nargs, char **body, size_t *body_len)
{
	static const char head[] = "<?xml version=\"1.0\"?>\r\n"
	                           "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" "
	                           "s:encodingStyle=\"http://schemas.xmlsoap.org/soap/encoding/\">"
	                           "<s:Body><u:%s xmlns:u=\"%s\">";
	static const char tail[] = "</u:%s></s:Body></s:Envelope>\r\n";
	*body = NULL;
	*body_len = 0;
	if (!usable_service_type(service_type) || !natt_xml_is_name(action) || (nargs && !args))
		return -EINVAL;
	size_t size = sizeof(head) + sizeof(tail) + 2 * strlen(action) + strlen(service_type);
	for (size_t i = 0; i < nargs; i++) {
		if (!natt_xml_is_name(args[i].name))
			return -EINVAL;
		const char *v = args[i].value ? args[i].value : "";
		size += 2 * strlen(args[i].name) + 5 + natt_xml_escape(v, strlen(v), NULL, 0);
		if (size > NATT_UPNP_MAX_DOCUMENT)
			return -EMSGSIZE;
	}
	char *out = malloc(size);
	if (!out)
		return -ENOMEM;
	size_t o = (size_t)snprintf(out, size, head, action, service_type);
	for (size_t i = 0; i < nargs; i++) {
		const char *v = args[i].value ? args[i].value : "";
		o += (size_t)snprintf(out + o, size - o, "<%s>", args[i].name);
		o += natt_xml_escape(v, strlen(v), out + o, size - o);
		o += (size_t)snprintf(out + o, size - o, "</%s>", args[i].name);
	}
	o += (size_t)snprintf(out + o, size - o, tail, action);
	*body = out;
	*body_len = o;
	return 0;
}

static void set_error(struct natt_upnp_error *error, int upnp_code, int http_status, const char *description)
{
	if (!error)
		return;
	error->upnp_code = upnp_code;
	error->http_status = http_status;
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

int natt_soap_parse_reply(int http_status, const char *reason, const char *body, size_t len,
                          struct natt_upnp_value **results, size_t *nresults, struct natt_upnp_error *error)
{
	char fallback[96];
	*results = NULL;
	*nresults = 0;
	if (error)
		memset(error, 0, sizeof(*error));
	snprintf(fallback, sizeof(fallback), "HTTP %d %s", http_status, reason ? reason : "");

	struct natt_xml_doc doc;
	int rc = natt_xml_parse(body, len, &doc);
	if (rc == -ENOMEM)
		return rc;
	if (rc < 0) {
		set_error(error, 0, http_status, http_status == 200 ? "malformed SOAP reply" : fallback);
		return NATT_ERR_BAD_REPLY;
	}
	int envelope = strcmp(doc.nodes[0].name, "Envelope") == 0 ? 0 : -1;
	int soap_body = natt_xml_child(&doc, envelope, "Body");
	int first = natt_xml_child(&doc, soap_body, NULL);
	if (first >= 0 && strcmp(doc.nodes[first].name, "Fault") == 0) {
		/* Body/Fault/detail/UPnPError/{errorCode,errorDescription} (UDA section 3.2.2). Some devices
		 * send the fault with status 200; it is a failure all the same. */
		int upnp_error = natt_xml_child(&doc, natt_xml_child(&doc, first, "detail"), "UPnPError");
		int code = parse_code(natt_xml_child_text(&doc, upnp_error, "errorCode"));
		const char *desc = natt_xml_child_text(&doc, upnp_error, "errorDescription");
		if (!desc[0])
			desc = natt_xml_child_text(&doc, first, "faultstring");
		if (code >= 0) {
			set_error(error, code, http_status, desc);
			rc = NATT_ERR_UPNP;
		} else {
			set_error(error, 0, http_status, desc[0] ? desc : fallback);
			rc = NATT_ERR_BAD_REPLY;
		}
	} else if (http_status != 200 || first < 0) {
		set_error(error, 0, http_status, http_status == 200 ? "empty SOAP reply" : fallback);
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

	char *body;
	size_t body_len;
	int rc = natt_soap_build(service_type, action, args, nargs, &body, &body_len);
	if (rc < 0)
		return rc;
	char headers[512];
	snprintf(headers, sizeof(headers),
	         "Content-Type: text/xml; charset=\"utf-8\"\r\nSOAPAction: \"%s#%s\"\r\n", service_type, action);
	struct natt_http_response resp;
	rc = natt_http_request(control_url, "POST", headers, body, body_len, timeout_ms, NATT_UPNP_MAX_DOCUMENT,
	                       &resp);
	free(body);
	if (rc == NATT_ERR_BAD_REPLY)
		set_error(error, 0, 0, "not an HTTP reply");
	if (rc < 0)
		return rc;
	rc = natt_soap_parse_reply(resp.status, resp.reason, resp.body, resp.body_len, &vals, &nvals, error);
	free(resp.body);
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
