/* A small XML reader for UPnP documents (descriptions, SCPDs) and SOAP replies (xml.c), and the
 * escaping of text for the envelopes natt writes. Internal: the unit tests and fuzz targets use it
 * directly.
 *
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
#ifndef NATT_UPNP_XML_H
#define NATT_UPNP_XML_H

#include <stddef.h>

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

#endif
