/* Service descriptions (SCPD): actions, arguments with direction, related state variable and type. */
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

#define ARG(name, dir, var) \
	"<argument><name>" name "</name><direction>" dir "</direction>" \
	"<relatedStateVariable>" var "</relatedStateVariable></argument>"

/* A WANIPConnection-like SCPD written for these tests; the state table comes after the actions (as in
 * many devices) so the data types must be looked up at the end. */
static const char scpd[] =
        "<?xml version=\"1.0\"?>\n"
        "<scpd xmlns=\"urn:schemas-upnp-org:service-1-0\">\n"
        "<specVersion><major>1</major><minor>0</minor></specVersion>\n"
        "<actionList>\n"
        "<action><name>AddPortMapping</name><argumentList>"
        ARG("NewRemoteHost", "in", "RemoteHost")
        ARG("NewExternalPort", "in", "ExternalPort")
        ARG("NewProtocol", "in", "PortMappingProtocol")
        ARG("NewInternalPort", "in", "InternalPort")
        ARG("NewInternalClient", "in", "InternalClient")
        ARG("NewEnabled", "in", "PortMappingEnabled")
        ARG("NewPortMappingDescription", "in", "PortMappingDescription")
        ARG("NewLeaseDuration", "in", "PortMappingLeaseDuration")
        "</argumentList></action>\n"
        "<action><name>GetExternalIPAddress</name><argumentList>"
        "<argument><name>NewExternalIPAddress</name><direction> OUT </direction><retval/>"
        "<relatedStateVariable>ExternalIPAddress</relatedStateVariable></argument>"
        "</argumentList></action>\n"
        "<action><name>RequestConnection</name></action>\n"
        "<action><name></name></action>\n"
        "<action><name>Odd</name><argumentList>"
        "<argument><direction>in</direction></argument>"                      /* no name: skipped */
        "<argument><name>NoDirection</name><relatedStateVariable>Unknown</relatedStateVariable></argument>"
        "</argumentList></action>\n"
        "</actionList>\n"
        "<serviceStateTable>\n"
        "<stateVariable sendEvents=\"no\"><name>RemoteHost</name><dataType>string</dataType></stateVariable>\n"
        "<stateVariable sendEvents=\"no\"><name>ExternalPort</name><dataType>ui2</dataType></stateVariable>\n"
        "<stateVariable sendEvents=\"no\"><name>PortMappingProtocol</name><dataType>string</dataType>"
        "<allowedValueList><allowedValue>TCP</allowedValue><allowedValue>UDP</allowedValue></allowedValueList>"
        "</stateVariable>\n"
        "<stateVariable><name>InternalPort</name><dataType>ui2</dataType></stateVariable>\n"
        "<stateVariable><name>InternalClient</name><dataType>string</dataType></stateVariable>\n"
        "<stateVariable><name>PortMappingEnabled</name><dataType>boolean</dataType></stateVariable>\n"
        "<stateVariable><name>PortMappingDescription</name><dataType>string</dataType></stateVariable>\n"
        "<stateVariable><name>PortMappingLeaseDuration</name><dataType>ui4</dataType></stateVariable>\n"
        "<stateVariable sendEvents=\"yes\"><name>ExternalIPAddress</name><dataType>string</dataType></stateVariable>\n"
        "</serviceStateTable>\n"
        "</scpd>\n";

static void test_actions(void **state)
{
	(void)state;
	struct natt_upnp_action *a;
	size_t n;
	assert_int_equal(natt_upnp_parse_scpd(scpd, strlen(scpd), &a, &n), 4);
	assert_int_equal(n, 4);

	assert_string_equal(a[0].name, "AddPortMapping");
	assert_int_equal(a[0].argument_count, 8);
	static const char *const names[8] = { "NewRemoteHost", "NewExternalPort", "NewProtocol",
		                              "NewInternalPort", "NewInternalClient", "NewEnabled",
		                              "NewPortMappingDescription", "NewLeaseDuration" };
	static const char *const types[8] = { "string", "ui2", "string", "ui2", "string", "boolean", "string", "ui4" };
	for (int i = 0; i < 8; i++) {
		assert_string_equal(a[0].arguments[i].name, names[i]);
		assert_int_equal(a[0].arguments[i].direction, NATT_UPNP_IN);
		assert_string_equal(a[0].arguments[i].data_type, types[i]);
		assert_int_equal(a[0].arguments[i].retval, 0);
	}
	assert_string_equal(a[0].arguments[1].related_state_variable, "ExternalPort");

	assert_string_equal(a[1].name, "GetExternalIPAddress");
	assert_int_equal(a[1].argument_count, 1);
	assert_int_equal(a[1].arguments[0].direction, NATT_UPNP_OUT);
	assert_int_equal(a[1].arguments[0].retval, 1);
	assert_string_equal(a[1].arguments[0].related_state_variable, "ExternalIPAddress");

	assert_string_equal(a[2].name, "RequestConnection");
	assert_int_equal(a[2].argument_count, 0);
	assert_null(a[2].arguments);

	assert_string_equal(a[3].name, "Odd");
	assert_int_equal(a[3].argument_count, 1);
	assert_string_equal(a[3].arguments[0].name, "NoDirection");
	assert_int_equal(a[3].arguments[0].direction, NATT_UPNP_IN);
	assert_string_equal(a[3].arguments[0].data_type, "");

	assert_ptr_equal(natt_upnp_find_action(a, n, "GetExternalIPAddress"), &a[1]);
	assert_null(natt_upnp_find_action(a, n, "DeletePortMapping"));
	assert_null(natt_upnp_find_action(NULL, 0, "x"));
	natt_upnp_actions_free(a, n);
	natt_upnp_actions_free(NULL, 0);
}

static void test_bad_scpd(void **state)
{
	(void)state;
	struct natt_upnp_action *a = (void *)1;
	size_t n = 7;
	const char *root = "<root><device/></root>";
	assert_int_equal(natt_upnp_parse_scpd(root, strlen(root), &a, &n), -EINVAL);
	assert_null(a);
	assert_int_equal(n, 0);
	const char *bad = "<scpd><actionList><action></actionList></scpd>";
	assert_int_equal(natt_upnp_parse_scpd(bad, strlen(bad), &a, &n), -EINVAL);
	const char *empty = "<scpd/>";
	assert_int_equal(natt_upnp_parse_scpd(empty, strlen(empty), &a, &n), 0);
	assert_null(a);
	assert_int_equal(natt_upnp_parse_scpd(NULL, 0, &a, &n), -EINVAL);
	/* every prefix of a good document either parses or fails cleanly */
	for (size_t len = 0; len < sizeof(scpd) - 1; len += 7) {
		int rc = natt_upnp_parse_scpd(scpd, len, &a, &n);
		assert_true(rc == -EINVAL || rc >= 0);
		natt_upnp_actions_free(a, n);
	}
}

static void test_many_state_variables(void **state)
{
	(void)state;
	/* lookups stay fast and right with a big state table */
	size_t cap = 4000 * 120 + 4096;
	char *xml = malloc(cap);
	assert_non_null(xml);
	size_t o = (size_t)sprintf(xml, "<scpd><actionList><action><name>A</name><argumentList>");
	for (int i = 0; i < 100; i++)
		o += (size_t)sprintf(xml + o, "<argument><name>a%d</name><relatedStateVariable>v%d</relatedStateVariable>"
		                              "</argument>", i, i * 37);
	o += (size_t)sprintf(xml + o, "</argumentList></action></actionList><serviceStateTable>");
	for (int i = 3999; i >= 0; i--)
		o += (size_t)sprintf(xml + o, "<stateVariable><name>v%d</name><dataType>t%d</dataType></stateVariable>", i, i);
	o += (size_t)sprintf(xml + o, "</serviceStateTable></scpd>");
	struct natt_upnp_action *a;
	size_t n;
	assert_int_equal(natt_upnp_parse_scpd(xml, o, &a, &n), 1);
	assert_int_equal(a[0].argument_count, 100);
	assert_string_equal(a[0].arguments[99].data_type, "t3663");
	natt_upnp_actions_free(a, n);
	free(xml);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_bad_scpd),
		cmocka_unit_test(test_many_state_variables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
