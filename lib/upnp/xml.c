/* A small XML reader for UPnP documents (descriptions, SCPDs, SOAP replies): the whole document becomes
 * a tree of elements with their text. See xml.h for what it accepts and its limits.
 *
 * Memory: the nodes array grows by doubling up to NATT_XML_MAX_NODES; names and texts go into one arena
 * allocated up front with the document's size, which is always enough — every element's local name
 * plus NUL is shorter than its start tag, and decoded text plus NUL is shorter than the raw text plus
 * the end tag. Arena pointers therefore never move, and the writes are still checked. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "natt/upnp.h"
#include "upnp/xml.h"

static const char empty_text[] = "";

struct parser {
	const char *p;
	const char *end;
	struct natt_xml_doc *doc;
	int depth;
	int open[NATT_XML_MAX_DEPTH];        /* node index of each open element */
	const char *qname[NATT_XML_MAX_DEPTH]; /* its raw name, to match the end tag */
	size_t qlen[NATT_XML_MAX_DEPTH];
	int last_child[NATT_XML_MAX_DEPTH]; /* last child of each open element, to append in O(1) */
	int text_owner;                     /* the element whose text is at the arena's end, or -1 */
	int have_root;
};

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int is_name_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || c >= 0x80;
}

static int is_name_char(unsigned char c)
{
	return is_name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static int starts_with(const struct parser *ps, const char *lit)
{
	size_t n = strlen(lit);
	return (size_t)(ps->end - ps->p) >= n && memcmp(ps->p, lit, n) == 0;
}

/* Moves past the next occurrence of `lit`; -EINVAL when there is none. */
static int skip_past(struct parser *ps, const char *lit)
{
	const char *hit = memmem(ps->p, (size_t)(ps->end - ps->p), lit, strlen(lit));
	if (!hit)
		return -EINVAL;
	ps->p = hit + strlen(lit);
	return 0;
}

static void skip_spaces(struct parser *ps)
{
	while (ps->p < ps->end && is_space(*ps->p))
		ps->p++;
}

static int read_name(struct parser *ps, const char **name, size_t *len)
{
	const char *start = ps->p;
	if (ps->p >= ps->end || !is_name_start((unsigned char)*ps->p))
		return -EINVAL;
	while (ps->p < ps->end && is_name_char((unsigned char)*ps->p))
		ps->p++;
	*name = start;
	*len = (size_t)(ps->p - start);
	return 0;
}

/* Ends the growing text of the current text owner: trims white space and NUL-terminates it. */
static void finish_text(struct parser *ps)
{
	struct natt_xml_doc *doc = ps->doc;
	if (ps->text_owner < 0)
		return;
	struct natt_xml_node *node = &doc->nodes[ps->text_owner];
	ps->text_owner = -1;
	if (node->text == empty_text)
		return;
	char *start = (char *)node->text;
	while (doc->arena + doc->arena_used > start && is_space(doc->arena[doc->arena_used - 1]))
		doc->arena_used--;
	doc->arena[doc->arena_used++] = '\0'; /* room reserved by append_text */
	while (is_space(*start))
		start++;
	node->text = start;
}

/* Decodes an entity reference at s (pointing at '&', n bytes available) into out. Returns the number of
 * input bytes consumed and sets *outlen; 0 when it is not a reference we know (the caller then copies
 * the '&' as it is). Output is never longer than the input consumed. */
static size_t decode_entity(const char *s, size_t n, char *out, size_t *outlen)
{
	static const struct {
		const char *name;
		char c;
	} named[] = { { "lt", '<' }, { "gt", '>' }, { "amp", '&' }, { "quot", '"' }, { "apos", '\'' } };
	size_t max = n < 12 ? n : 12;
	const char *semi = memchr(s, ';', max);
	if (!semi)
		return 0;
	size_t elen = (size_t)(semi - s - 1);
	const char *ent = s + 1;
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++) {
		if (strlen(named[i].name) == elen && memcmp(ent, named[i].name, elen) == 0) {
			out[0] = named[i].c;
			*outlen = 1;
			return elen + 2;
		}
	}
	if (elen < 2 || ent[0] != '#')
		return 0;
	unsigned long cp = 0;
	size_t i = 1;
	int hex = ent[1] == 'x';
	if (hex)
		i++;
	if (i >= elen)
		return 0;
	for (; i < elen; i++) {
		char c = ent[i];
		int d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (hex && c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (hex && c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return 0;
		cp = cp * (hex ? 16 : 10) + (unsigned long)d;
		if (cp > 0x10FFFF)
			return 0;
	}
	if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	/* UTF-8; the shortest reference ("&#N;", 4 bytes) is longer than any encoding it produces. */
	if (cp < 0x80) {
		out[0] = (char)cp;
		*outlen = 1;
	} else if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		*outlen = 2;
	} else if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		*outlen = 3;
	} else {
		out[0] = (char)(0xF0 | (cp >> 18));
		out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[3] = (char)(0x80 | (cp & 0x3F));
		*outlen = 4;
	}
	return elen + 2;
}

/* Adds raw text (decode: entities are decoded; else CDATA, taken as is) to the current element's text
 * if it may still have text (no child element yet). */
static int append_text(struct parser *ps, const char *s, size_t n, int decode)
{
	struct natt_xml_doc *doc = ps->doc;
	if (ps->depth == 0 || ps->text_owner != ps->open[ps->depth - 1])
		return 0;
	if (doc->arena_used + n + 1 > doc->arena_cap) /* + 1 for the NUL of finish_text */
		return -EMSGSIZE;
	struct natt_xml_node *node = &doc->nodes[ps->text_owner];
	if (node->text == empty_text)
		node->text = doc->arena + doc->arena_used;
	char *out = doc->arena + doc->arena_used;
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		if (decode && s[i] == '&') {
			size_t produced;
			size_t used = decode_entity(s + i, n - i, out + o, &produced);
			if (used) {
				i += used;
				o += produced;
				continue;
			}
		}
		out[o++] = s[i++];
	}
	doc->arena_used += o;
	return 0;
}

static int open_element(struct parser *ps, const char *qn, size_t qlen)
{
	struct natt_xml_doc *doc = ps->doc;
	if (ps->depth >= NATT_XML_MAX_DEPTH || doc->count >= NATT_XML_MAX_NODES)
		return -EMSGSIZE;
	if (ps->depth == 0 && ps->have_root)
		return -EINVAL; /* a second root element */
	if (doc->count == doc->cap) {
		int cap = doc->cap ? doc->cap * 2 : 64;
		if (cap > NATT_XML_MAX_NODES)
			cap = NATT_XML_MAX_NODES;
		struct natt_xml_node *nodes = realloc(doc->nodes, (size_t)cap * sizeof(*nodes));
		if (!nodes)
			return -ENOMEM;
		doc->nodes = nodes;
		doc->cap = cap;
	}
	finish_text(ps); /* the parent's text ends where its first child starts */

	const char *local = qn;
	const char *colon = memrchr(qn, ':', qlen);
	if (colon && colon + 1 < qn + qlen)
		local = colon + 1;
	size_t llen = qlen - (size_t)(local - qn);
	if (doc->arena_used + llen + 1 > doc->arena_cap)
		return -EMSGSIZE;
	char *name = doc->arena + doc->arena_used;
	memcpy(name, local, llen);
	name[llen] = '\0';
	doc->arena_used += llen + 1;

	int idx = doc->count++;
	int parent = ps->depth ? ps->open[ps->depth - 1] : -1;
	doc->nodes[idx] = (struct natt_xml_node){ .name = name, .text = empty_text, .parent = parent,
		                                  .first_child = -1, .next_sibling = -1 };
	if (parent >= 0) {
		int last = ps->last_child[ps->depth - 1];
		if (last >= 0)
			doc->nodes[last].next_sibling = idx;
		else
			doc->nodes[parent].first_child = idx;
		ps->last_child[ps->depth - 1] = idx;
	}
	ps->open[ps->depth] = idx;
	ps->qname[ps->depth] = qn;
	ps->qlen[ps->depth] = qlen;
	ps->last_child[ps->depth] = -1;
	ps->depth++;
	ps->have_root = 1;
	ps->text_owner = idx;
	return 0;
}

static void close_element(struct parser *ps)
{
	if (ps->text_owner == ps->open[ps->depth - 1])
		finish_text(ps);
	ps->depth--;
}

/* At '<' followed by a name: the start tag with its attributes. */
static int start_tag(struct parser *ps)
{
	const char *qn;
	size_t qlen;
	ps->p++;
	int rc = read_name(ps, &qn, &qlen);
	if (rc < 0)
		return rc;
	for (;;) {
		const char *before = ps->p;
		skip_spaces(ps);
		if (ps->p >= ps->end)
			return -EINVAL;
		if (*ps->p == '>') {
			ps->p++;
			return open_element(ps, qn, qlen);
		}
		if (*ps->p == '/') {
			if (ps->p + 1 >= ps->end || ps->p[1] != '>')
				return -EINVAL;
			ps->p += 2;
			rc = open_element(ps, qn, qlen);
			if (rc == 0)
				close_element(ps);
			return rc;
		}
		if (ps->p == before)
			return -EINVAL; /* attributes must be separated by white space */
		const char *an;
		size_t alen;
		rc = read_name(ps, &an, &alen);
		if (rc < 0)
			return rc;
		skip_spaces(ps);
		if (ps->p >= ps->end || *ps->p != '=')
			return -EINVAL;
		ps->p++;
		skip_spaces(ps);
		if (ps->p >= ps->end || (*ps->p != '"' && *ps->p != '\''))
			return -EINVAL;
		char quote = *ps->p++;
		const char *close = memchr(ps->p, quote, (size_t)(ps->end - ps->p));
		if (!close || memchr(ps->p, '<', (size_t)(close - ps->p)))
			return -EINVAL;
		ps->p = close + 1;
	}
}

static int end_tag(struct parser *ps)
{
	const char *qn;
	size_t qlen;
	ps->p += 2;
	int rc = read_name(ps, &qn, &qlen);
	if (rc < 0)
		return rc;
	skip_spaces(ps);
	if (ps->p >= ps->end || *ps->p != '>')
		return -EINVAL;
	ps->p++;
	if (ps->depth == 0)
		return -EINVAL;
	int top = ps->depth - 1;
	if (qlen != ps->qlen[top] || memcmp(qn, ps->qname[top], qlen) != 0)
		return -EINVAL;
	close_element(ps);
	return 0;
}

/* "<!DOCTYPE ...>" before the root. An internal subset ("[...]") could declare entities; we do not
 * expand those, so a document that needs them is refused rather than misread. */
static int doctype(struct parser *ps)
{
	if (ps->depth != 0 || ps->have_root)
		return -EINVAL;
	char quote = 0;
	for (ps->p += 9; ps->p < ps->end; ps->p++) {
		char c = *ps->p;
		if (quote) {
			if (c == quote)
				quote = 0;
		} else if (c == '"' || c == '\'') {
			quote = c;
		} else if (c == '[') {
			return -EINVAL;
		} else if (c == '>') {
			ps->p++;
			return 0;
		}
	}
	return -EINVAL;
}

static int markup(struct parser *ps)
{
	if (starts_with(ps, "<?"))
		return skip_past(ps, "?>");
	if (starts_with(ps, "<!--")) {
		ps->p += 4;
		return skip_past(ps, "-->");
	}
	if (starts_with(ps, "<![CDATA[")) {
		if (ps->depth == 0)
			return -EINVAL;
		ps->p += 9;
		const char *start = ps->p;
		int rc = skip_past(ps, "]]>");
		if (rc < 0)
			return rc;
		return append_text(ps, start, (size_t)(ps->p - 3 - start), 0);
	}
	if (starts_with(ps, "<!DOCTYPE"))
		return doctype(ps);
	if (starts_with(ps, "</"))
		return end_tag(ps);
	return start_tag(ps);
}

static int text(struct parser *ps)
{
	const char *start = ps->p;
	const char *lt = memchr(ps->p, '<', (size_t)(ps->end - ps->p));
	ps->p = lt ? lt : ps->end;
	if (ps->depth == 0) {
		for (const char *c = start; c < ps->p; c++)
			if (!is_space(*c))
				return -EINVAL; /* text outside the root element */
		return 0;
	}
	return append_text(ps, start, (size_t)(ps->p - start), 1);
}

int natt_xml_parse(const char *xml, size_t len, struct natt_xml_doc *doc)
{
	memset(doc, 0, sizeof(*doc));
	if (!xml)
		return -EINVAL;
	if (len > NATT_UPNP_MAX_DOCUMENT)
		return -EMSGSIZE;
	if (memchr(xml, '\0', len))
		return -EINVAL;
	doc->arena_cap = len + 1;
	doc->arena = malloc(doc->arena_cap);
	if (!doc->arena)
		return -ENOMEM;

	struct parser ps = { .p = xml, .end = xml + len, .doc = doc, .text_owner = -1 };
	if (starts_with(&ps, "\xEF\xBB\xBF"))
		ps.p += 3; /* UTF-8 byte order mark */
	int rc = 0;
	while (rc == 0 && ps.p < ps.end)
		rc = *ps.p == '<' ? markup(&ps) : text(&ps);
	if (rc == 0 && (ps.depth != 0 || !ps.have_root))
		rc = -EINVAL;
	if (rc < 0)
		natt_xml_free(doc);
	return rc;
}

void natt_xml_free(struct natt_xml_doc *doc)
{
	if (!doc)
		return;
	free(doc->nodes);
	free(doc->arena);
	memset(doc, 0, sizeof(*doc));
}

static int name_is(const struct natt_xml_doc *doc, int node, const char *name)
{
	return !name || strcmp(doc->nodes[node].name, name) == 0;
}

int natt_xml_child(const struct natt_xml_doc *doc, int node, const char *name)
{
	if (node < 0 || node >= doc->count)
		return -1;
	int c = doc->nodes[node].first_child;
	while (c >= 0 && !name_is(doc, c, name))
		c = doc->nodes[c].next_sibling;
	return c;
}

int natt_xml_next(const struct natt_xml_doc *doc, int node, const char *name)
{
	if (node < 0 || node >= doc->count)
		return -1;
	int c = doc->nodes[node].next_sibling;
	while (c >= 0 && !name_is(doc, c, name))
		c = doc->nodes[c].next_sibling;
	return c;
}

const char *natt_xml_child_text(const struct natt_xml_doc *doc, int node, const char *name)
{
	int c = natt_xml_child(doc, node, name);
	return c >= 0 ? doc->nodes[c].text : "";
}

size_t natt_xml_escape(const char *s, size_t len, char *out, size_t outlen)
{
	size_t need = 0;
	for (size_t i = 0; i < len; i++) {
		const char *rep;
		char one[2] = { s[i], '\0' };
		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&apos;"; break;
		default: rep = one; break;
		}
		size_t rlen = s[i] ? strlen(rep) : 1;
		for (size_t k = 0; k < rlen; k++, need++)
			if (outlen && need < outlen - 1)
				out[need] = rep[k];
	}
	if (outlen)
		out[need < outlen - 1 ? need : outlen - 1] = '\0';
	return need;
}

int natt_xml_is_name(const char *s)
{
	if (!s)
		return 0;
	size_t n = strlen(s);
	if (n == 0 || n > 255)
		return 0;
	unsigned char c0 = (unsigned char)s[0];
	if (!((c0 >= 'a' && c0 <= 'z') || (c0 >= 'A' && c0 <= 'Z') || c0 == '_'))
		return 0;
	for (size_t i = 1; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '-' || c == '.'))
			return 0;
	}
	return 1;
}
