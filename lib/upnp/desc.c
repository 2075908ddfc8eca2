/* Device descriptions: the services of a device and of its embedded devices, with absolute URLs; the
 * scan (SSDP search, then every answering device's description); service-type comparison. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "natt/upnp.h"
#include "upnp/desc.h"
#include "upnp/http.h"
#include "upnp/ssdp.h"
#include "upnp/xml.h"
#include "util/clock.h"

#define SCAN_MAX_DEVICES 64
#define SCAN_MAX_SERVICES 256
#define DESC_MAX_SERVICES 256

/* ---- Service records ----------------------------------------------------------------------------- */

#define SERVICE_FIELDS 9

/* The string fields of a service, in block order: service_type first, since the block starts there. */
static char **service_field(struct natt_upnp_service *s, int i)
{
	char **fields[SERVICE_FIELDS] = { &s->service_type, &s->service_id,  &s->control_url,
		                          &s->event_url,    &s->scpd_url,    &s->device_type,
		                          &s->device_udn,   &s->friendly_name, &s->location };
	return fields[i];
}

/* Fills *s with copies of values[] in one allocation (freed through s->service_type). */
static int make_service(struct natt_upnp_service *s, const char *const values[SERVICE_FIELDS])
{
	size_t total = 0;
	for (int i = 0; i < SERVICE_FIELDS; i++)
		total += strlen(values[i]) + 1;
	char *block = malloc(total);
	if (!block)
		return -ENOMEM;
	for (int i = 0; i < SERVICE_FIELDS; i++) {
		size_t n = strlen(values[i]) + 1;
		memcpy(block, values[i], n);
		*service_field(s, i) = block;
		block += n;
	}
	return 0;
}

NATT_API void natt_upnp_services_free(struct natt_upnp_service *services, size_t count)
{
	if (!services)
		return;
	for (size_t i = 0; i < count; i++)
		free(services[i].service_type);
	free(services);
}

/* ---- Description parsing ------------------------------------------------------------------------- */

struct desc_walk {
	const struct natt_xml_doc *doc;
	const char *base;     /* URLBase or the location */
	const char *location;
	struct natt_upnp_service *list;
	size_t count;
	size_t cap;
};

/* Resolves a URL of the description; one that cannot be resolved is left empty (unusable). */
static void resolve(const struct desc_walk *w, const char *ref, char *out)
{
	if (natt_url_resolve(w->base, ref, out, NATT_UPNP_URL_MAX) < 0)
		out[0] = '\0';
}

static int add_service(struct desc_walk *w, int device, int svc)
{
	const struct natt_xml_doc *doc = w->doc;
	const char *type = natt_xml_child_text(doc, svc, "serviceType");
	if (!type[0] || w->count >= DESC_MAX_SERVICES)
		return 0;
	if (w->count == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 8;
		struct natt_upnp_service *list = realloc(w->list, cap * sizeof(*list));
		if (!list)
			return -ENOMEM;
		w->list = list;
		w->cap = cap;
	}
	char control[NATT_UPNP_URL_MAX], event[NATT_UPNP_URL_MAX], scpd[NATT_UPNP_URL_MAX];
	resolve(w, natt_xml_child_text(doc, svc, "controlURL"), control);
	resolve(w, natt_xml_child_text(doc, svc, "eventSubURL"), event);
	resolve(w, natt_xml_child_text(doc, svc, "SCPDURL"), scpd);
	const char *values[SERVICE_FIELDS] = {
		type,
		natt_xml_child_text(doc, svc, "serviceId"),
		control,
		event,
		scpd,
		natt_xml_child_text(doc, device, "deviceType"),
		natt_xml_child_text(doc, device, "UDN"),
		natt_xml_child_text(doc, device, "friendlyName"),
		w->location,
	};
	int rc = make_service(&w->list[w->count], values);
	if (rc == 0)
		w->count++;
	return rc;
}

/* A device's own services, then its embedded devices' (depth is bounded by the XML depth limit). */
static int walk_device(struct desc_walk *w, int device)
{
	const struct natt_xml_doc *doc = w->doc;
	int list = natt_xml_child(doc, device, "serviceList");
	for (int s = natt_xml_child(doc, list, "service"); s >= 0; s = natt_xml_next(doc, s, "service")) {
		int rc = add_service(w, device, s);
		if (rc < 0)
			return rc;
	}
	int devices = natt_xml_child(doc, device, "deviceList");
	for (int d = natt_xml_child(doc, devices, "device"); d >= 0; d = natt_xml_next(doc, d, "device")) {
		int rc = walk_device(w, d);
		if (rc < 0)
			return rc;
	}
	return 0;
}

NATT_API int natt_upnp_parse_description(const char *xml, size_t len, const char *location,
                                         struct natt_upnp_service **services, size_t *count)
{
	if (services)
		*services = NULL;
	if (count)
		*count = 0;
	if (!xml || !location || !services || !count || strncasecmp(location, "http://", 7) != 0 ||
	    strlen(location) >= NATT_UPNP_URL_MAX)
		return -EINVAL;
	struct natt_xml_doc doc;
	int rc = natt_xml_parse(xml, len, &doc);
	if (rc < 0)
		return rc;
	int device = natt_xml_child(&doc, 0, "device");
	if (strcmp(doc.nodes[0].name, "root") != 0 || device < 0) {
		natt_xml_free(&doc);
		return -EINVAL;
	}
	/* UDA 1.0: relative URLs are relative to URLBase, or without one to the description's own URL.
	 * (UDA 1.1 deprecates URLBase, but 1.0 devices still send it.) */
	const char *urlbase = natt_xml_child_text(&doc, 0, "URLBase");
	struct desc_walk w = {
		.doc = &doc,
		.base = strncasecmp(urlbase, "http://", 7) == 0 ? urlbase : location,
		.location = location,
	};
	rc = walk_device(&w, device);
	natt_xml_free(&doc);
	if (rc < 0) {
		natt_upnp_services_free(w.list, w.count);
		return rc;
	}
	if (w.count == 0) {
		free(w.list);
		w.list = NULL;
	}
	*services = w.list;
	*count = w.count;
	return (int)w.count;
}

NATT_API int natt_upnp_describe(const char *location, int timeout_ms, struct natt_upnp_service **services,
                                size_t *count)
{
	if (services)
		*services = NULL;
	if (count)
		*count = 0;
	if (!location || !services || !count || timeout_ms <= 0)
		return -EINVAL;
	char *body;
	size_t len;
	int rc = natt_upnp_fetch(location, timeout_ms, &body, &len);
	if (rc < 0)
		return rc;
	rc = natt_upnp_parse_description(body, len, location, services, count);
	free(body);
	return rc;
}

/* ---- Scan ---------------------------------------------------------------------------------------- */

struct scan {
	int64_t deadline;
	const char *stop_at_type;
	struct natt_upnp_service *list;
	size_t count;
	size_t cap;
	char (*locations)[sizeof(((struct natt_ssdp_reply *)0)->location)];
	int nlocations;
	int error; /* -ENOMEM: give up */
};

static int scan_reply(const struct natt_ssdp_reply *reply, void *ctx)
{
	struct scan *sc = ctx;
	/* Only a description on the answering host itself (natt_url_on_host). */
	if (!natt_url_on_host(reply->location, &reply->from.sin_addr))
		return 0;
	for (int i = 0; i < sc->nlocations; i++)
		if (strcmp(sc->locations[i], reply->location) == 0)
			return 0; /* this device answered another search type already */
	if (sc->nlocations >= SCAN_MAX_DEVICES)
		return 0;
	memcpy(sc->locations[sc->nlocations++], reply->location, sizeof(reply->location));

	int64_t left = sc->deadline - natt_now_ms();
	if (left <= 0)
		return 1;
	struct natt_upnp_service *found;
	size_t n;
	int rc = natt_upnp_describe(reply->location, (int)left, &found, &n);
	if (rc == -ENOMEM) {
		sc->error = rc;
		return 1;
	}
	if (rc <= 0)
		return 0; /* unreadable device: skip it */
	size_t take = n;
	if (take > SCAN_MAX_SERVICES - sc->count)
		take = SCAN_MAX_SERVICES - sc->count;
	if (sc->count + take > sc->cap) {
		size_t cap = sc->cap ? sc->cap : 16;
		while (cap < sc->count + take)
			cap *= 2;
		struct natt_upnp_service *list = realloc(sc->list, cap * sizeof(*list));
		if (!list) {
			natt_upnp_services_free(found, n);
			sc->error = -ENOMEM;
			return 1;
		}
		sc->list = list;
		sc->cap = cap;
	}
	int stop = 0;
	for (size_t i = 0; i < take; i++) {
		if (sc->stop_at_type && natt_upnp_service_type_matches(found[i].service_type, sc->stop_at_type))
			stop = 1;
		sc->list[sc->count++] = found[i];
	}
	for (size_t i = take; i < n; i++)
		free(found[i].service_type);
	free(found);
	return stop || sc->count >= SCAN_MAX_SERVICES;
}

NATT_API int natt_upnp_scan(const char *search_target, const struct in_addr *iface, int timeout_ms,
                            const char *stop_at_type, struct natt_upnp_service **services, size_t *count)
{
	return natt_upnp_scan_to(NULL, search_target, iface, timeout_ms, stop_at_type, services, count);
}

int natt_upnp_scan_to(const struct sockaddr_in *dest, const char *search_target, const struct in_addr *iface,
                      int timeout_ms, const char *stop_at_type, struct natt_upnp_service **services,
                      size_t *count)
{
	if (services)
		*services = NULL;
	if (count)
		*count = 0;
	if (!services || !count || timeout_ms <= 0)
		return -EINVAL;
	struct scan sc = {
		.deadline = natt_now_ms() + timeout_ms,
		.stop_at_type = stop_at_type,
		.locations = calloc(SCAN_MAX_DEVICES, sizeof(*sc.locations)),
	};
	if (!sc.locations)
		return -ENOMEM;
	if (!search_target)
		search_target = NATT_SSDP_ST_ROOT;
	int rc = dest ? natt_ssdp_search_to(dest, search_target, iface, timeout_ms, scan_reply, &sc)
	              : natt_ssdp_search(search_target, iface, timeout_ms, scan_reply, &sc);
	free(sc.locations);
	if (sc.error < 0 || (rc < 0 && sc.count == 0)) {
		natt_upnp_services_free(sc.list, sc.count);
		return sc.error < 0 ? sc.error : rc;
	}
	*services = sc.list;
	*count = sc.count;
	return (int)sc.count;
}

/* ---- Service types ------------------------------------------------------------------------------- */

/* Splits "urn:domain:kind:name[:version]" at its colons; returns the number of parts (4 or 5), or 0
 * when it is not of that form. */
static int split_urn(const char *s, const char *part[5], size_t plen[5])
{
	int n = 0;
	const char *p = s;
	for (;;) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		if (n == 5 || len == 0)
			return 0;
		part[n] = p;
		plen[n] = len;
		n++;
		if (!colon)
			break;
		p = colon + 1;
	}
	if (n < 4 || plen[0] != 3 || strncasecmp(part[0], "urn", 3) != 0)
		return 0;
	if (n == 5) {
		if (plen[4] > 9)
			return 0;
		for (size_t i = 0; i < plen[4]; i++)
			if (part[4][i] < '0' || part[4][i] > '9')
				return 0;
	}
	return n;
}

static unsigned long version_of(const char *s, size_t len)
{
	unsigned long v = 0;
	for (size_t i = 0; i < len; i++)
		v = v * 10 + (unsigned long)(s[i] - '0');
	return v;
}

NATT_API int natt_upnp_service_type_matches(const char *have, const char *want)
{
	if (!have || !want)
		return 0;
	const char *hp[5], *wp[5];
	size_t hl[5], wl[5];
	int hn = split_urn(have, hp, hl);
	int wn = split_urn(want, wp, wl);
	if (hn != 5 || wn == 0)
		return strcmp(have, want) == 0;
	if (hl[1] != wl[1] || strncasecmp(hp[1], wp[1], hl[1]) != 0)
		return 0;
	for (int i = 2; i <= 3; i++)
		if (hl[i] != wl[i] || memcmp(hp[i], wp[i], hl[i]) != 0)
			return 0;
	return wn == 4 || version_of(hp[4], hl[4]) >= version_of(wp[4], wl[4]);
}
