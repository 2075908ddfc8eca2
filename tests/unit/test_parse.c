/* Unit tests of lib/util/parse.c: numbers, port lists, technique lists, log levels. (The routing-table
 * parsers of parse.c are tested with the gateway lookup, in test_net.c.) */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/log.h"
#include "util/parse.h"

/* ---- natt_parse_ulong ---- */

static void test_ulong_accepts_decimal(void **state)
{
	unsigned long v = 12345;
	char max[32];

	(void)state;
	assert_int_equal(natt_parse_ulong("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(natt_parse_ulong("42", 0, 100, &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(natt_parse_ulong("010", 0, 100, &v), 0); /* decimal, not octal */
	assert_int_equal(v, 10);
	assert_int_equal(natt_parse_ulong("00000000000000000000000000065535", 1, 65535, &v), 0);
	assert_int_equal(v, 65535);
	assert_int_equal(natt_parse_ulong("1", 1, 1, &v), 0); /* both bounds inclusive */
	assert_int_equal(v, 1);
	snprintf(max, sizeof(max), "%lu", ULONG_MAX);
	assert_int_equal(natt_parse_ulong(max, 0, ULONG_MAX, &v), 0);
	assert_true(v == ULONG_MAX);
}

static void test_ulong_rejects_junk(void **state)
{
	static const char *const bad[] = {
		"", "-1", "+1", " 1", "1 ", "\t1", "1\n", "0x10", "1e3", "12a", "a12", "1.0", "1,000",
		"1_000", "\xef\xbc\x91" /* fullwidth 1 */, "99999999999999999999999999x",
	};
	unsigned long v = 777;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = natt_parse_ulong(bad[i], 0, ULONG_MAX, &v);

		if (r != -EINVAL)
			fail_msg("\"%s\" gave %d, not -EINVAL", bad[i], r);
		assert_int_equal(v, 777); /* untouched */
	}
	assert_int_equal(natt_parse_ulong(NULL, 0, 10, &v), -EINVAL);
	assert_int_equal(natt_parse_ulong("1", 0, 10, NULL), -EINVAL);
}

static void test_ulong_range(void **state)
{
	unsigned long v = 777;
	char over[32];

	(void)state;
	assert_int_equal(natt_parse_ulong("0", 1, 65535, &v), -ERANGE);
	assert_int_equal(natt_parse_ulong("65536", 1, 65535, &v), -ERANGE);
	assert_int_equal(natt_parse_ulong("4", 5, 10, &v), -ERANGE);
	assert_int_equal(natt_parse_ulong("11", 5, 10, &v), -ERANGE);
	/* One more than ULONG_MAX overflows: a range error, never a wrapped value. */
	snprintf(over, sizeof(over), "%lu", ULONG_MAX);
	over[strlen(over) - 1]++;
	assert_int_equal(natt_parse_ulong(over, 0, ULONG_MAX, &v), -ERANGE);
	assert_int_equal(natt_parse_ulong("184467440737095516150", 0, ULONG_MAX, &v), -ERANGE);
	assert_int_equal(v, 777);
}

/* ---- Port sets ---- */

static void test_port_set_single_and_ranges(void **state)
{
	struct natt_port_set set;

	(void)state;
	assert_int_equal(natt_port_set_parse("8000", &set), 0);
	assert_int_equal(set.count, 1);
	assert_int_equal(set.ranges[0].lo, 8000);
	assert_int_equal(set.ranges[0].hi, 8000);

	assert_int_equal(natt_port_set_parse("8000,9000-9010", &set), 0);
	assert_int_equal(set.count, 2);
	assert_int_equal(set.ranges[1].lo, 9000);
	assert_int_equal(set.ranges[1].hi, 9010);

	assert_int_equal(natt_port_set_parse(" \t8000 ,\t9000-9010 , 1-1,65535-65535,1-65535 ", &set), 0);
	assert_int_equal(set.count, 5);
	assert_int_equal(set.ranges[0].lo, 8000);
	assert_int_equal(set.ranges[2].lo, 1);
	assert_int_equal(set.ranges[2].hi, 1);
	assert_int_equal(set.ranges[3].lo, 65535);
	assert_int_equal(set.ranges[4].hi, 65535);

	/* Overlaps and repeats do no harm. */
	assert_int_equal(natt_port_set_parse("80,80,70-90", &set), 0);
	assert_int_equal(set.count, 3);
}

static void test_port_set_contains(void **state)
{
	struct natt_port_set set;

	(void)state;
	assert_int_equal(natt_port_set_parse("8000,9000-9010", &set), 0);
	assert_false(natt_port_set_contains(&set, 7999));
	assert_true(natt_port_set_contains(&set, 8000));
	assert_false(natt_port_set_contains(&set, 8001));
	assert_false(natt_port_set_contains(&set, 8999));
	assert_true(natt_port_set_contains(&set, 9000));
	assert_true(natt_port_set_contains(&set, 9005));
	assert_true(natt_port_set_contains(&set, 9010));
	assert_false(natt_port_set_contains(&set, 9011));
	assert_false(natt_port_set_contains(&set, 0));
	assert_false(natt_port_set_contains(&set, 65535));

	/* The empty set is "no restriction". */
	memset(&set, 0, sizeof(set));
	assert_true(natt_port_set_contains(&set, 1));
	assert_true(natt_port_set_contains(&set, 65535));
	assert_true(natt_port_set_contains(NULL, 8000));
}

static void test_port_set_limit(void **state)
{
	struct natt_port_set set;
	struct natt_parse_error err;
	char list[64 * 8 + 16] = "";
	size_t i;

	(void)state;
	for (i = 0; i < NATT_PORT_SET_MAX; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%zu", i ? "," : "", 1000 + i);
	assert_int_equal(natt_port_set_parse(list, &set), 0);
	assert_int_equal(set.count, NATT_PORT_SET_MAX);
	assert_true(natt_port_set_contains(&set, 1063));
	assert_false(natt_port_set_contains(&set, 1064));

	strcat(list, ",2000");
	assert_int_equal(natt_port_set_parse_ex(list, &set, &err), -EINVAL);
	assert_int_equal(set.count, 0);
	assert_non_null(strstr(err.reason, "too many"));
	assert_int_equal(err.len, 4);
	assert_memory_equal(err.at, "2000", 4);
}

/* Each bad list, the part of it the error must point at, and a word of the reason. */
static void test_port_set_errors(void **state)
{
	static const struct {
		const char *text, *part, *reason;
	} cases[] = {
		{ "0", "0", "port number" },
		{ "65536", "65536", "port number" },
		{ "80x", "80x", "port number" },
		{ "+80", "+80", "port number" },
		{ "8 0", "8 0", "port number" },
		{ "8000,abc", "abc", "port number" },
		{ "9010-9000", "9010-9000", "above" },
		{ "100,9010-9000 ,5", "9010-9000", "above" },
		{ "80-", "", "port number" },
		{ "-80", "", "port number" },
		{ "80 - 90", "80 ", "port number" },
		{ "80-90-100", "90-100", "port number" },
		{ "1-65536", "65536", "port number" },
		{ "8000,", "", "empty item" },
		{ ",8000", "", "empty item" },
		{ "8000, ,9000", " ", "empty item" },
		{ "", "", "empty port list" },
		{ " \t ", " \t ", "empty port list" },
		{ "80;90", "80;90", "port number" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct natt_port_set set;
		struct natt_parse_error err;
		int r;

		set.count = 3;
		memset(&err, 0, sizeof(err));
		r = natt_port_set_parse_ex(cases[i].text, &set, &err);
		if (r != -EINVAL)
			fail_msg("\"%s\" gave %d", cases[i].text, r);
		assert_int_equal(set.count, 0);
		assert_non_null(err.reason);
		if (!strstr(err.reason, cases[i].reason))
			fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", cases[i].text, err.reason, cases[i].reason);
		if (err.len != strlen(cases[i].part) || memcmp(err.at, cases[i].part, err.len) != 0)
			fail_msg("\"%s\": points at \"%.*s\", expected \"%s\"", cases[i].text, (int)err.len,
				 err.at, cases[i].part);
		/* at points into the string given, so a front end can show where. */
		assert_true(err.at >= cases[i].text && err.at + err.len <= cases[i].text + strlen(cases[i].text));
		/* The plain form agrees. */
		assert_int_equal(natt_port_set_parse(cases[i].text, &set), -EINVAL);
	}
	assert_int_equal(natt_port_set_parse(NULL, &(struct natt_port_set){ 0 }), -EINVAL);
	assert_int_equal(natt_port_set_parse("80", NULL), -EINVAL);
}

/* ---- Techniques ---- */

static void test_techniques_order_kept(void **state)
{
	enum natt_technique order[NATT_TECH_COUNT];
	size_t count = 99;

	(void)state;
	assert_int_equal(natt_parse_techniques("upnp,nat-pmp", order, NATT_TECH_COUNT, &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(order[0], NATT_TECH_UPNP);
	assert_int_equal(order[1], NATT_TECH_NATPMP);

	assert_int_equal(natt_parse_techniques(" nat-pmp ,\tupnp ", order, NATT_TECH_COUNT, &count), 0);
	assert_int_equal(count, 2);
	assert_int_equal(order[0], NATT_TECH_NATPMP);
	assert_int_equal(order[1], NATT_TECH_UPNP);

	assert_int_equal(natt_parse_techniques("natpmp", order, NATT_TECH_COUNT, &count), 0);
	assert_int_equal(count, 1);
	assert_int_equal(order[0], NATT_TECH_NATPMP);

	assert_int_equal(natt_parse_techniques("PCP,UPnP,NAT-PMP", order, NATT_TECH_COUNT, &count), 0);
	assert_int_equal(count, 3);
	assert_int_equal(order[0], NATT_TECH_PCP);
	assert_int_equal(order[1], NATT_TECH_UPNP);
	assert_int_equal(order[2], NATT_TECH_NATPMP);
}

static void test_techniques_errors(void **state)
{
	static const struct {
		const char *text, *part, *reason;
		size_t max;
	} cases[] = {
		{ "", "", "empty list", 3 },
		{ "  ", "  ", "empty list", 3 },
		{ "upnp,", "", "empty item", 3 },
		{ ",upnp", "", "empty item", 3 },
		{ "upnp,upnp", "upnp", "twice", 3 },
		{ "nat-pmp, natpmp", "natpmp", "twice", 3 },
		{ "upnp,foo", "foo", "unknown", 3 },
		{ "local", "local", "unknown", 3 },
		{ "upnp;nat-pmp", "upnp;nat-pmp", "unknown", 3 },
		{ "up np", "up np", "unknown", 3 },
		{ "nat_pmp", "nat_pmp", "unknown", 3 },
		{ "upnpx", "upnpx", "unknown", 3 },
		{ "upnp,nat-pmp", "nat-pmp", "too many", 1 },
		{ "upnp", "upnp", "too many", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum natt_technique order[NATT_TECH_COUNT];
		struct natt_parse_error err;
		size_t count = 99;
		int r;

		memset(&err, 0, sizeof(err));
		r = natt_parse_techniques_ex(cases[i].text, order, cases[i].max, &count, &err);
		if (r != -EINVAL)
			fail_msg("\"%s\" gave %d", cases[i].text, r);
		assert_int_equal(count, 0);
		if (!err.reason || !strstr(err.reason, cases[i].reason))
			fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", cases[i].text, err.reason, cases[i].reason);
		if (err.len != strlen(cases[i].part) || memcmp(err.at, cases[i].part, err.len) != 0)
			fail_msg("\"%s\": points at \"%.*s\", expected \"%s\"", cases[i].text, (int)err.len,
				 err.at, cases[i].part);
		assert_int_equal(natt_parse_techniques(cases[i].text, order, cases[i].max, &count), -EINVAL);
	}
	{
		enum natt_technique order[3];
		size_t count;

		assert_int_equal(natt_parse_techniques(NULL, order, 3, &count), -EINVAL);
		assert_int_equal(natt_parse_techniques("upnp", NULL, 3, &count), -EINVAL);
		assert_int_equal(natt_parse_techniques("upnp", order, 3, NULL), -EINVAL);
	}
}

static void test_technique_names(void **state)
{
	(void)state;
	assert_string_equal(natt_technique_name(NATT_TECH_UPNP), "upnp");
	assert_string_equal(natt_technique_name(NATT_TECH_NATPMP), "nat-pmp");
	assert_string_equal(natt_technique_name(NATT_TECH_PCP), "pcp");
	assert_null(natt_technique_name(NATT_TECH_LOCAL));
	assert_null(natt_technique_name((enum natt_technique)NATT_TECH_COUNT));
	assert_null(natt_technique_name((enum natt_technique)-1));

	/* Names written to the status file read back as the same technique. */
	assert_int_equal(natt_technique_from_name("upnp", 4), NATT_TECH_UPNP);
	assert_int_equal(natt_technique_from_name("nat-pmp", 7), NATT_TECH_NATPMP);
	assert_int_equal(natt_technique_from_name("pcp", 3), NATT_TECH_PCP);
	assert_int_equal(natt_technique_from_name("upnpx", 4), NATT_TECH_UPNP); /* length counts */
	assert_int_equal(natt_technique_from_name("upnp", 3), -EINVAL);
	assert_int_equal(natt_technique_from_name("", 0), -EINVAL);
	assert_int_equal(natt_technique_from_name(NULL, 0), -EINVAL);
}

/* ---- Log levels ---- */

static void test_log_levels(void **state)
{
	static const struct {
		const char *text;
		int level;
	} good[] = {
		{ "error", NATT_LOG_ERROR }, { "warn", NATT_LOG_WARN }, { "warning", NATT_LOG_WARN },
		{ "info", NATT_LOG_INFO }, { "debug", NATT_LOG_DEBUG }, { "DEBUG", NATT_LOG_DEBUG },
		{ "Info", NATT_LOG_INFO }, { "0", 0 }, { "1", 1 }, { "2", 2 }, { "3", 3 },
	};
	static const char *const bad[] = {
		"", "4", "-1", "00", "01", "10", " info", "info ", "debugx", "err", "trace", "3 ", "inf",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (natt_parse_log_level(good[i].text) != good[i].level)
			fail_msg("\"%s\" gave %d, not %d", good[i].text, natt_parse_log_level(good[i].text),
				 good[i].level);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (natt_parse_log_level(bad[i]) != -EINVAL)
			fail_msg("\"%s\" gave %d, not -EINVAL", bad[i], natt_parse_log_level(bad[i]));
	assert_int_equal(natt_parse_log_level(NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ulong_accepts_decimal),
		cmocka_unit_test(test_ulong_rejects_junk),
		cmocka_unit_test(test_ulong_range),
		cmocka_unit_test(test_port_set_single_and_ranges),
		cmocka_unit_test(test_port_set_contains),
		cmocka_unit_test(test_port_set_limit),
		cmocka_unit_test(test_port_set_errors),
		cmocka_unit_test(test_techniques_order_kept),
		cmocka_unit_test(test_techniques_errors),
		cmocka_unit_test(test_technique_names),
		cmocka_unit_test(test_log_levels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
