/* Device descriptions (services of root and embedded devices, URL resolution with and without URLBase),
 * URL handling and service-type matching. */
#include <arpa/inet.h>
#include <net/if.h>
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
#include "upnp/http.h"

/* An IGD in the usual shape: root device with one service, an embedded WANDevice, and inside it a
 * WANConnectionDevice holding WANIPConnection — relative URLs of every kind. %s is replaced by the
 * URLBase element (or nothing). */
static const char igd_desc[] =
        "<?xml version=\"1.0\"?>\r\n"
        "<root xmlns=\"urn:schemas-upnp-org:device-1-0\">\r\n"
        "<specVersion><major>1</major><minor>0</minor></specVersion>\r\n"
        "%s"
        "<device>\r\n"
        " <deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>\r\n"
        " <friendlyName>Router &amp; Co</friendlyName>\r\n"
        " <UDN>uuid:root-0001</UDN>\r\n"
        " <serviceList><service>\r\n"
        "  <serviceType>urn:schemas-microsoft-com:service:OSInfo:1</serviceType>\r\n"
        "  <serviceId>urn:microsoft-com:serviceId:OSInfo1</serviceId>\r\n"
        "  <controlURL>/osinfo/ctl</controlURL>\r\n"
        "  <eventSubURL>/osinfo/evt</eventSubURL>\r\n"
        "  <SCPDURL>osinfo.xml</SCPDURL>\r\n"
        " </service></serviceList>\r\n"
        " <deviceList><device>\r\n"
        "  <deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>\r\n"
        "  <friendlyName>WAN</friendlyName>\r\n"
        "  <UDN>uuid:wan-0002</UDN>\r\n"
        "  <serviceList><service>\r\n"
        "   <serviceType>urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1</serviceType>\r\n"
        "   <serviceId>urn:upnp-org:serviceId:WANCommonIFC1</serviceId>\r\n"
        "   <controlURL>http://10.9.9.9:1234/abs/ctl</controlURL>\r\n"
        "   <eventSubURL>./evt/../evt/CmnIfCfg</eventSubURL>\r\n"
        "   <SCPDURL>//10.8.8.8:99/WANCfg.xml</SCPDURL>\r\n"
        "  </service></serviceList>\r\n"
        "  <deviceList><device>\r\n"
        "   <deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>\r\n"
        "   <UDN>uuid:conn-0003</UDN>\r\n"
        "   <serviceList>\r\n"
        "    <service>\r\n"
        "     <serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>\r\n"
        "     <serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>\r\n"
        "     <controlURL>ctl/IPConn</controlURL>\r\n"
        "     <eventSubURL></eventSubURL>\r\n"
        "     <SCPDURL>../WANIPCn.xml</SCPDURL>\r\n"
        "    </service>\r\n"
        "    <service><serviceId>no-type-skipped</serviceId></service>\r\n"
        "   </serviceList>\r\n"
        "  </device></deviceList>\r\n"
        " </device></deviceList>\r\n"
        " <presentationURL>/</presentationURL>\r\n"
        "</device>\r\n"
        "</root>\r\n";

static char *make_desc(const char *urlbase)
{
	static char buf[8192];
	snprintf(buf, sizeof(buf), igd_desc, urlbase);
	return buf;
}

static void test_description_without_urlbase(void **state)
{
	(void)state;
	const char *xml = make_desc("");
	struct natt_upnp_service *s;
	size_t n;
	const char *loc = "http://192.168.1.1:5000/igd/rootDesc.xml";
	assert_int_equal(natt_upnp_parse_description(xml, strlen(xml), loc, &s, &n), 3);
	assert_int_equal(n, 3);

	assert_string_equal(s[0].service_type, "urn:schemas-microsoft-com:service:OSInfo:1");
	assert_string_equal(s[0].service_id, "urn:microsoft-com:serviceId:OSInfo1");
	assert_string_equal(s[0].control_url, "http://192.168.1.1:5000/osinfo/ctl");
	assert_string_equal(s[0].event_url, "http://192.168.1.1:5000/osinfo/evt");
	assert_string_equal(s[0].scpd_url, "http://192.168.1.1:5000/igd/osinfo.xml");
	assert_string_equal(s[0].device_type, "urn:schemas-upnp-org:device:InternetGatewayDevice:1");
	assert_string_equal(s[0].device_udn, "uuid:root-0001");
	assert_string_equal(s[0].friendly_name, "Router & Co");
	assert_string_equal(s[0].location, loc);

	assert_string_equal(s[1].service_type, "urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1");
	assert_string_equal(s[1].control_url, "http://10.9.9.9:1234/abs/ctl");
	assert_string_equal(s[1].event_url, "http://192.168.1.1:5000/igd/evt/CmnIfCfg");
	assert_string_equal(s[1].scpd_url, "http://10.8.8.8:99/WANCfg.xml");
	assert_string_equal(s[1].device_type, "urn:schemas-upnp-org:device:WANDevice:1");
	assert_string_equal(s[1].friendly_name, "WAN");

	assert_string_equal(s[2].service_type, NATT_UPNP_WANIP1);
	assert_string_equal(s[2].service_id, "urn:upnp-org:serviceId:WANIPConn1");
	assert_string_equal(s[2].control_url, "http://192.168.1.1:5000/igd/ctl/IPConn");
	assert_string_equal(s[2].event_url, ""); /* no eventing */
	assert_string_equal(s[2].scpd_url, "http://192.168.1.1:5000/WANIPCn.xml");
	assert_string_equal(s[2].device_type, "urn:schemas-upnp-org:device:WANConnectionDevice:1");
	assert_string_equal(s[2].device_udn, "uuid:conn-0003");
	assert_string_equal(s[2].friendly_name, ""); /* that device has none */
	natt_upnp_services_free(s, n);
}

static void test_description_with_urlbase(void **state)
{
	(void)state;
	const char *xml = make_desc("<URLBase>http://10.0.0.1:80/base/</URLBase>\r\n");
	struct natt_upnp_service *s;
	size_t n;
	assert_int_equal(natt_upnp_parse_description(xml, strlen(xml), "http://192.168.1.1:5000/d.xml", &s, &n), 3);
	assert_string_equal(s[0].control_url, "http://10.0.0.1:80/osinfo/ctl");
	assert_string_equal(s[0].scpd_url, "http://10.0.0.1:80/base/osinfo.xml");
	assert_string_equal(s[2].control_url, "http://10.0.0.1:80/base/ctl/IPConn");
	assert_string_equal(s[2].scpd_url, "http://10.0.0.1:80/WANIPCn.xml");
	assert_string_equal(s[0].location, "http://192.168.1.1:5000/d.xml");
	natt_upnp_services_free(s, n);

	/* an empty URLBase counts as absent */
	xml = make_desc("<URLBase> </URLBase>");
	assert_int_equal(natt_upnp_parse_description(xml, strlen(xml), "http://192.168.1.1:5000/d.xml", &s, &n), 3);
	assert_string_equal(s[2].control_url, "http://192.168.1.1:5000/ctl/IPConn");
	natt_upnp_services_free(s, n);
}

static void test_description_odd_documents(void **state)
{
	(void)state;
	struct natt_upnp_service *s = (void *)1;
	size_t n = 99;
	const char *loc = "http://1.2.3.4/d.xml";
	/* a device without services: zero, not an error */
	const char *none = "<root><device><deviceType>urn:x:device:y:1</deviceType></device></root>";
	assert_int_equal(natt_upnp_parse_description(none, strlen(none), loc, &s, &n), 0);
	assert_null(s);
	assert_int_equal(n, 0);
	natt_upnp_services_free(s, n);

	/* not a device description */
	const char *scpd = "<scpd><actionList/></scpd>";
	assert_int_equal(natt_upnp_parse_description(scpd, strlen(scpd), loc, &s, &n), -EINVAL);
	const char *nodev = "<root><specVersion/></root>";
	assert_int_equal(natt_upnp_parse_description(nodev, strlen(nodev), loc, &s, &n), -EINVAL);
	/* malformed */
	const char *bad = "<root><device><serviceList></device></root>";
	assert_int_equal(natt_upnp_parse_description(bad, strlen(bad), loc, &s, &n), -EINVAL);
	assert_null(s);
	assert_int_equal(n, 0);
	/* bad arguments */
	const char *xml = make_desc("");
	assert_int_equal(natt_upnp_parse_description(xml, strlen(xml), "ftp://x/", &s, &n), -EINVAL);
	assert_int_equal(natt_upnp_parse_description(xml, strlen(xml), NULL, &s, &n), -EINVAL);
	assert_int_equal(natt_upnp_parse_description(NULL, 0, loc, &s, &n), -EINVAL);

	/* prefixes on UPnP elements are ignored, entities in URLs decoded */
	const char *pfx = "<d:root xmlns:d=\"urn:schemas-upnp-org:device-1-0\"><d:device><d:serviceList><d:service>"
	                  "<d:serviceType>urn:a:service:b:1</d:serviceType>"
	                  "<d:controlURL>/c?x=1&amp;y=2</d:controlURL>"
	                  "</d:service></d:serviceList></d:device></d:root>";
	assert_int_equal(natt_upnp_parse_description(pfx, strlen(pfx), loc, &s, &n), 1);
	assert_string_equal(s[0].control_url, "http://1.2.3.4/c?x=1&y=2");
	assert_string_equal(s[0].scpd_url, "");
	assert_string_equal(s[0].service_id, "");
	natt_upnp_services_free(s, n);
}

static void test_description_many_services_bounded(void **state)
{
	(void)state;
	/* 300 services: at most 256 are kept, nothing breaks */
	size_t cap = 300 * 100 + 100;
	char *xml = malloc(cap);
	assert_non_null(xml);
	size_t o = (size_t)sprintf(xml, "<root><device><serviceList>");
	for (int i = 0; i < 300; i++)
		o += (size_t)sprintf(xml + o, "<service><serviceType>urn:a:service:s%d:1</serviceType></service>", i);
	o += (size_t)sprintf(xml + o, "</serviceList></device></root>");
	struct natt_upnp_service *s;
	size_t n;
	assert_int_equal(natt_upnp_parse_description(xml, o, "http://1.2.3.4/", &s, &n), 256);
	assert_string_equal(s[255].service_type, "urn:a:service:s255:1");
	natt_upnp_services_free(s, n);
	free(xml);
}

static void resolves(const char *base, const char *ref, const char *want)
{
	char out[NATT_UPNP_URL_MAX];
	int rc = natt_url_resolve(base, ref, out, sizeof(out));
	if (rc != 0 || strcmp(out, want) != 0)
		fail_msg("resolve(%s, %s) = %d \"%s\", want \"%s\"", base, ref, rc, out, want);
}

static void test_url_resolve(void **state)
{
	(void)state;
	/* RFC 3986 section 5.4.1 examples, with base http://a/b/c/d;p?q (those with other schemes left out) */
	const char *b = "http://a/b/c/d;p?q";
	resolves(b, "g", "http://a/b/c/g");
	resolves(b, "./g", "http://a/b/c/g");
	resolves(b, "g/", "http://a/b/c/g/");
	resolves(b, "/g", "http://a/g");
	resolves(b, "//g", "http://g");
	resolves(b, "?y", "http://a/b/c/d;p?y");
	resolves(b, "g?y", "http://a/b/c/g?y");
	resolves(b, "#s", "http://a/b/c/d;p?q");
	resolves(b, "g#s", "http://a/b/c/g");
	resolves(b, ";x", "http://a/b/c/;x");
	resolves(b, ".", "http://a/b/c/");
	resolves(b, "./", "http://a/b/c/");
	resolves(b, "..", "http://a/b/");
	resolves(b, "../", "http://a/b/");
	resolves(b, "../g", "http://a/b/g");
	resolves(b, "../..", "http://a/");
	resolves(b, "../../", "http://a/");
	resolves(b, "../../g", "http://a/g");
	/* abnormal examples, section 5.4.2 */
	resolves(b, "../../../g", "http://a/g");
	resolves(b, "../../../../g", "http://a/g");
	resolves(b, "/./g", "http://a/g");
	resolves(b, "/../g", "http://a/g");
	resolves(b, "g.", "http://a/b/c/g.");
	resolves(b, ".g", "http://a/b/c/.g");
	resolves(b, "g..", "http://a/b/c/g..");
	resolves(b, "..g", "http://a/b/c/..g");
	resolves(b, "./../g", "http://a/b/g");
	resolves(b, "./g/.", "http://a/b/c/g/");
	resolves(b, "g/./h", "http://a/b/c/g/h");
	resolves(b, "g/../h", "http://a/b/c/h");
	resolves(b, "g;x=1/./y", "http://a/b/c/g;x=1/y");
	resolves(b, "g;x=1/../y", "http://a/b/c/y");
	resolves(b, "g?y/./x", "http://a/b/c/g?y/./x");
	resolves(b, "http:g", "http:g"); /* strict parser */
	/* UPnP shapes */
	resolves("http://10.0.0.1:5000/rootDesc.xml", "/ctl/IPConn", "http://10.0.0.1:5000/ctl/IPConn");
	resolves("http://10.0.0.1:5000/rootDesc.xml", "ctl/IPConn", "http://10.0.0.1:5000/ctl/IPConn");
	resolves("http://10.0.0.1:5000", "ctl", "http://10.0.0.1:5000/ctl");
	resolves("http://10.0.0.1:5000?x", "ctl", "http://10.0.0.1:5000/ctl");
	resolves("HTTP://10.0.0.1/a/b", "c", "http://10.0.0.1/a/c");
	resolves("http://10.0.0.1/a/b", "http://10.0.0.2/x", "http://10.0.0.2/x");
	resolves("http://10.0.0.1/a/b", "", "");

	char out[16];
	assert_int_equal(natt_url_resolve("ftp://a/b", "c", out, sizeof(out)), -EINVAL);
	assert_int_equal(natt_url_resolve("a/b", "c", out, sizeof(out)), -EINVAL);
	assert_int_equal(natt_url_resolve("http://10.0.0.1/", "a-long-path-name", out, sizeof(out)), -ENAMETOOLONG);
	char big[NATT_UPNP_URL_MAX + 10];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	char out2[NATT_UPNP_URL_MAX];
	assert_int_equal(natt_url_resolve("http://10.0.0.1/", big, out2, sizeof(out2)), -EINVAL);
	big[NATT_UPNP_URL_MAX - 20] = '\0';
	assert_int_equal(natt_url_resolve("http://10.0.0.1/aaaaaaaaaaaaaaaaaaaaaaaaa/", big, out2, sizeof(out2)),
	                 -ENAMETOOLONG);
}

static void test_http_url_parse(void **state)
{
	(void)state;
	struct natt_http_url u;
	assert_int_equal(natt_http_url_parse("http://10.77.0.1:5000/rootDesc.xml", &u), 0);
	assert_int_equal(ntohs(u.addr.sin_port), 5000);
	assert_int_equal(u.addr.sin_addr.s_addr, inet_addr("10.77.0.1"));
	assert_string_equal(u.host, "10.77.0.1:5000");
	assert_string_equal(u.path, "/rootDesc.xml");

	assert_int_equal(natt_http_url_parse("HTTP://1.2.3.4", &u), 0);
	assert_int_equal(ntohs(u.addr.sin_port), 80);
	assert_string_equal(u.host, "1.2.3.4");
	assert_string_equal(u.path, "/");
	assert_int_equal(natt_http_url_parse("http://1.2.3.4:/x?a=b#frag", &u), 0);
	assert_int_equal(ntohs(u.addr.sin_port), 80);
	assert_string_equal(u.host, "1.2.3.4");
	assert_string_equal(u.path, "/x?a=b");
	assert_int_equal(natt_http_url_parse("http://1.2.3.4?q", &u), 0);
	assert_string_equal(u.path, "/?q");
	assert_int_equal(natt_http_url_parse("http://[2a01:77:1::1]:5000/ctl/IP6FCtl", &u), 0);
	assert_int_equal(u.addr6.sin6_family, AF_INET6);
	assert_int_equal(ntohs(u.addr6.sin6_port), 5000);
	struct in6_addr want;
	inet_pton(AF_INET6, "2a01:77:1::1", &want);
	assert_memory_equal(&u.addr6.sin6_addr, &want, 16);
	assert_string_equal(u.host, "[2a01:77:1::1]:5000");
	assert_string_equal(u.path, "/ctl/IP6FCtl");
	assert_int_equal(natt_http_url_parse("http://[fe80::1%25lo]:49152/x", &u), 0);
	assert_int_equal(u.addr6.sin6_scope_id, if_nametoindex("lo"));
	assert_string_equal(u.host, "[fe80::1]:49152"); /* the zone stays on this host */
	assert_int_equal(natt_http_url_parse("http://[::1]/", &u), 0);
	assert_int_equal(ntohs(u.addr6.sin6_port), 80);
	assert_string_equal(u.host, "[::1]");

	static const char *const bad[] = {
		"https://1.2.3.4/", "http://router.lan/", "http:///x", "http://1.2.3/",     "http://1.2.3.4:0/",
		"http://1.2.3.4:65536/", "http://1.2.3.4:80x/", "http://1.2.3.4/a b", "http://1.2.3.4/a\r\nX: y",
		"http://[fe80::1]/", "http://[fe80::1%25]/", "http://[fe80::1%eth0]/", "http://[::1%25lo]/",
		"http://[fe80::1%25no-such-interface]/", "http://[::1", "http://[]/", "http://[1.2.3.4]/", "http://[::1]x/", "", "1.2.3.4", "http://1.2.3.4.5/", "http://1.2.3.4:000080/",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (natt_http_url_parse(bad[i], &u) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
	assert_int_equal(natt_http_url_parse(NULL, &u), -EINVAL);
}

static void test_service_type_matches(void **state)
{
	(void)state;
	const char *ip1 = "urn:schemas-upnp-org:service:WANIPConnection:1";
	const char *ip2 = "urn:schemas-upnp-org:service:WANIPConnection:2";
	assert_true(natt_upnp_service_type_matches(ip1, ip1));
	assert_true(natt_upnp_service_type_matches(ip2, ip1)); /* v2 serves v1 requests */
	assert_false(natt_upnp_service_type_matches(ip1, ip2)); /* not the other way round */
	assert_true(natt_upnp_service_type_matches(ip2, "urn:schemas-upnp-org:service:WANIPConnection"));
	assert_true(natt_upnp_service_type_matches("URN:Schemas-UPnP-Org:service:WANIPConnection:1", ip1));
	assert_false(natt_upnp_service_type_matches("urn:schemas-upnp-org:service:wanipconnection:1", ip1));
	assert_false(natt_upnp_service_type_matches("urn:schemas-upnp-org:service:WANPPPConnection:1", ip1));
	assert_false(natt_upnp_service_type_matches("urn:schemas-upnp-org:device:WANIPConnection:1", ip1));
	assert_false(natt_upnp_service_type_matches("urn:other-org:service:WANIPConnection:1", ip1));
	assert_true(natt_upnp_service_type_matches("urn:schemas-upnp-org:service:WANIPConnection:10", ip2));
	assert_true(natt_upnp_service_type_matches("urn:schemas-upnp-org:service:WANIPConnection:02", ip2));
	/* not URNs: only exact equality */
	assert_true(natt_upnp_service_type_matches("upnp:rootdevice", "upnp:rootdevice"));
	assert_false(natt_upnp_service_type_matches("urn:schemas-upnp-org:service:WANIPConnection:x", ip1));
	assert_false(natt_upnp_service_type_matches("urn:schemas-upnp-org:service:WANIPConnection", ip1));
	assert_false(natt_upnp_service_type_matches(ip1, "urn:schemas-upnp-org:service:WANIPConnection:1:extra"));
	assert_true(natt_upnp_service_type_matches("urn::service:X:1", "urn::service:X:1"));
	assert_false(natt_upnp_service_type_matches("urn::service:X:2", "urn::service:X:1"));
	assert_false(natt_upnp_service_type_matches(NULL, ip1));
	assert_false(natt_upnp_service_type_matches(ip1, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_description_without_urlbase),
		cmocka_unit_test(test_description_with_urlbase),
		cmocka_unit_test(test_description_odd_documents),
		cmocka_unit_test(test_description_many_services_bounded),
		cmocka_unit_test(test_url_resolve),
		cmocka_unit_test(test_http_url_parse),
		cmocka_unit_test(test_service_type_matches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
