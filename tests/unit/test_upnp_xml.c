/* The small XML reader under the UPnP code: structure, text, entities, limits, hostile input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "natt/upnp.h"
#include "upnp/xml.h"

static int parse(const char *xml, struct natt_xml_doc *doc)
{
	return natt_xml_parse(xml, strlen(xml), doc);
}

static void test_tree_and_text(void **state)
{
	(void)state;
	struct natt_xml_doc d;
	const char *xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	                  "<!-- a comment -->\n"
	                  "<root xmlns=\"urn:x\" a='1' b = \"2>3\">\n"
	                  "  <first>  one  </first>\n"
	                  "  <second><inner>deep</inner></second>\n"
	                  "  <first>two</first>\n"
	                  "  <empty/>\n"
	                  "  <empty2></empty2>\n"
	                  "</root>\n";
	assert_int_equal(parse(xml, &d), 0);
	assert_string_equal(d.nodes[0].name, "root");
	assert_int_equal(d.nodes[0].parent, -1);
	int first = natt_xml_child(&d, 0, "first");
	assert_true(first > 0);
	assert_string_equal(d.nodes[first].text, "one"); /* trimmed */
	int again = natt_xml_next(&d, first, "first");
	assert_true(again > first);
	assert_string_equal(d.nodes[again].text, "two");
	assert_int_equal(natt_xml_next(&d, again, "first"), -1);
	int second = natt_xml_child(&d, 0, "second");
	assert_string_equal(natt_xml_child_text(&d, second, "inner"), "deep");
	assert_string_equal(natt_xml_child_text(&d, 0, "empty"), "");
	assert_string_equal(natt_xml_child_text(&d, 0, "empty2"), "");
	assert_string_equal(natt_xml_child_text(&d, 0, "missing"), "");
	assert_int_equal(natt_xml_child(&d, 0, "missing"), -1);
	assert_int_equal(natt_xml_child(&d, -1, "first"), -1);
	int any = natt_xml_child(&d, 0, NULL);
	assert_int_equal(any, first);
	int n = 0;
	for (int c = natt_xml_child(&d, 0, NULL); c >= 0; c = natt_xml_next(&d, c, NULL))
		n++;
	assert_int_equal(n, 5);
	natt_xml_free(&d);
	natt_xml_free(&d); /* safe twice */
}

static void test_namespaces_dropped(void **state)
{
	(void)state;
	struct natt_xml_doc d;
	const char *xml = "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">"
	                  "<s:Body><u:Resp xmlns:u=\"urn:x\"><a:b>v</a:b></u:Resp></s:Body></s:Envelope>";
	assert_int_equal(parse(xml, &d), 0);
	assert_string_equal(d.nodes[0].name, "Envelope");
	int body = natt_xml_child(&d, 0, "Body");
	int resp = natt_xml_child(&d, body, "Resp");
	assert_string_equal(natt_xml_child_text(&d, resp, "b"), "v");
	natt_xml_free(&d);
	/* the end tag must repeat the prefix of its start tag */
	assert_int_equal(parse("<a:x></b:x>", &d), -EINVAL);
	assert_int_equal(parse("<a:x></x>", &d), -EINVAL);
}

static void test_entities_and_cdata(void **state)
{
	(void)state;
	struct natt_xml_doc d;
	const char *xml = "<r>"
	                  "<e>&lt;a&gt; &amp; &quot;q&quot; &apos;s&apos;</e>"
	                  "<n>&#65;&#x42;&#x63;&#233;&#x20AC;&#x1F600;</n>"
	                  "<u>&unknown; & &#0; &#xD800; &#x110000; &#; &#x; &amp</u>"
	                  "<c><![CDATA[<not> &amp; markup]]></c>"
	                  "<m>a<!-- x -->b<![CDATA[c]]>d<?pi?>e</m>"
	                  "<after>x<child/>ignored</after>"
	                  "</r>";
	assert_int_equal(parse(xml, &d), 0);
	assert_string_equal(natt_xml_child_text(&d, 0, "e"), "<a> & \"q\" 's'");
	assert_string_equal(natt_xml_child_text(&d, 0, "n"), "ABc\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
	/* what is not a known reference is kept as written */
	assert_string_equal(natt_xml_child_text(&d, 0, "u"), "&unknown; & &#0; &#xD800; &#x110000; &#; &#x; &amp");
	assert_string_equal(natt_xml_child_text(&d, 0, "c"), "<not> &amp; markup");
	assert_string_equal(natt_xml_child_text(&d, 0, "m"), "abcde");
	assert_string_equal(natt_xml_child_text(&d, 0, "after"), "x");
	natt_xml_free(&d);
}

static void test_bom_doctype(void **state)
{
	(void)state;
	struct natt_xml_doc d;
	assert_int_equal(parse("\xEF\xBB\xBF<!DOCTYPE root SYSTEM \"x>y\"><root>t</root>", &d), 0);
	assert_string_equal(d.nodes[0].text, "t");
	natt_xml_free(&d);
	/* an internal subset could declare entities: refused */
	assert_int_equal(parse("<!DOCTYPE r [<!ENTITY a \"b\">]><r>&a;</r>", &d), -EINVAL);
	assert_int_equal(parse("<r><!DOCTYPE r></r>", &d), -EINVAL);
}

static void test_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",
		"   ",
		"text only",
		"<r>",
		"<r></r><r2/>",          /* two roots */
		"<r></r>trailing",       /* text after the root */
		"lead<r></r>",           /* text before the root */
		"<r><a></r></a>",        /* crossed */
		"<r></s>",
		"</r>",
		"<r a=1></r>",           /* unquoted attribute */
		"<r a=\"1\"b=\"2\"></r>", /* no space between attributes */
		"<r a></r>",
		"<r a=\"x<y\"></r>",
		"<r a=\"1></r>",
		"<1r></1r>",
		"<r><!-- unterminated </r>",
		"<r><![CDATA[ unterminated </r>",
		"<![CDATA[x]]><r/>",
		"<r><?pi </r>",
		"<r/ >",
		"<r",
		"<",
		"<r></r",
		"<!ELEMENT r><r/>",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct natt_xml_doc d;
		int rc = parse(bad[i], &d);
		if (rc != -EINVAL)
			fail_msg("accepted or wrong error %d: %s", rc, bad[i]);
		assert_null(d.nodes);
		assert_null(d.arena);
	}
	struct natt_xml_doc d;
	/* a NUL byte inside the length */
	assert_int_equal(natt_xml_parse("<r>a\0b</r>", 10, &d), -EINVAL);
	assert_int_equal(natt_xml_parse(NULL, 0, &d), -EINVAL);
}

static void test_limits(void **state)
{
	(void)state;
	struct natt_xml_doc d;
	char deep[NATT_XML_MAX_DEPTH * 8 + 64];
	size_t o = 0;
	for (int i = 0; i < NATT_XML_MAX_DEPTH; i++)
		o += (size_t)sprintf(deep + o, "<a>");
	for (int i = 0; i < NATT_XML_MAX_DEPTH; i++)
		o += (size_t)sprintf(deep + o, "</a>");
	assert_int_equal(natt_xml_parse(deep, o, &d), 0);
	natt_xml_free(&d);
	o = 0;
	for (int i = 0; i <= NATT_XML_MAX_DEPTH; i++)
		o += (size_t)sprintf(deep + o, "<a>");
	for (int i = 0; i <= NATT_XML_MAX_DEPTH; i++)
		o += (size_t)sprintf(deep + o, "</a>");
	assert_int_equal(natt_xml_parse(deep, o, &d), -EMSGSIZE);

	size_t n = NATT_XML_MAX_NODES + 1;
	char *many = malloc(n * 4 + 16);
	assert_non_null(many);
	o = (size_t)sprintf(many, "<r>");
	for (size_t i = 0; i < n; i++)
		o += (size_t)sprintf(many + o, "<a/>");
	o += (size_t)sprintf(many + o, "</r>");
	assert_int_equal(natt_xml_parse(many, o, &d), -EMSGSIZE);
	free(many);

	char *huge = malloc(NATT_UPNP_MAX_DOCUMENT + 2);
	assert_non_null(huge);
	memset(huge, ' ', NATT_UPNP_MAX_DOCUMENT + 1);
	assert_int_equal(natt_xml_parse(huge, NATT_UPNP_MAX_DOCUMENT + 1, &d), -EMSGSIZE);
	free(huge);
}

/* Mutations of a real-looking document must never crash or leak (run under ASan/valgrind to see
 * leaks): every result is either a parsed tree or an error with nothing allocated. */
static void test_mutations_never_crash(void **state)
{
	(void)state;
	static const char base[] =
	        "<?xml version=\"1.0\"?><root xmlns=\"urn:schemas-upnp-org:device-1-0\"><URLBase>http://1.2.3.4/"
	        "</URLBase><device><deviceType>urn:x:device:y:1</deviceType><serviceList><service><serviceType>"
	        "urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><controlURL>/c&amp;d</controlURL>"
	        "<![CDATA[x]]><!-- c --></service></serviceList></device></root>";
	static const char alphabet[] = "<>/&;!?[]\"'=: \n#x0aA-";
	unsigned seed = 12345;
	char buf[sizeof(base)];
	for (int round = 0; round < 20000; round++) {
		memcpy(buf, base, sizeof(base));
		size_t len = sizeof(base) - 1;
		int edits = 1 + (int)(rand_r(&seed) % 4);
		for (int e = 0; e < edits && len > 1; e++) {
			size_t at = (size_t)rand_r(&seed) % len;
			switch (rand_r(&seed) % 3) {
			case 0: buf[at] = alphabet[rand_r(&seed) % (sizeof(alphabet) - 1)]; break;
			case 1: len = at + 1; break; /* cut */
			default: memmove(buf + at, buf + at + 1, len - at - 1); len--; break;
			}
		}
		struct natt_xml_doc d;
		int rc = natt_xml_parse(buf, len, &d);
		if (rc == 0) {
			for (int i = 0; i < d.count; i++) {
				assert_non_null(d.nodes[i].name);
				assert_non_null(d.nodes[i].text);
				assert_true(d.nodes[i].parent < i);
			}
		} else {
			assert_true(rc == -EINVAL || rc == -EMSGSIZE);
		}
		natt_xml_free(&d);
	}
}

static void test_escape_and_names(void **state)
{
	(void)state;
	char out[64];
	const char *in = "a<b>&\"c'";
	size_t need = natt_xml_escape(in, strlen(in), out, sizeof(out));
	assert_string_equal(out, "a&lt;b&gt;&amp;&quot;c&apos;");
	assert_int_equal(need, strlen(out));
	/* cut like snprintf */
	char small[6];
	assert_int_equal(natt_xml_escape(in, strlen(in), small, sizeof(small)), need);
	assert_string_equal(small, "a&lt;");
	assert_int_equal(natt_xml_escape("xyz", 3, NULL, 0), 3);

	assert_true(natt_xml_is_name("NewExternalPort"));
	assert_true(natt_xml_is_name("_a-b.c9"));
	assert_false(natt_xml_is_name(""));
	assert_false(natt_xml_is_name(NULL));
	assert_false(natt_xml_is_name("9a"));
	assert_false(natt_xml_is_name("a b"));
	assert_false(natt_xml_is_name("a>"));
	assert_false(natt_xml_is_name("u:a"));
	assert_false(natt_xml_is_name("\xC3\xA9"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_and_text),
		cmocka_unit_test(test_namespaces_dropped),
		cmocka_unit_test(test_entities_and_cdata),
		cmocka_unit_test(test_bom_doctype),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_mutations_never_crash),
		cmocka_unit_test(test_escape_and_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
