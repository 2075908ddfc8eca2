/* Unit tests of the NAT-PMP epoch rules (lib/natpmp/natpmp.c): the RFC 6886 3.6 rule of the public API, and
 * the engine's tighter slack, which must notice a reboot soon after the router's previous start without
 * taking a steady router's whole-second readings for one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/engine.h"
#include "natpmp/natpmp_internal.h"
#include "natt/natpmp.h"

static void test_rfc_rule(void **state)
{
	(void)state;
	/* A steady router: its epoch grows with the client's clock. */
	assert_false(natt_natpmp_epoch_lost(100, 160, 60.0));
	/* Up to 1/8 slower, and 2 s off: still no loss (the bound is 100 + 52.5 - 2 = 150.5). */
	assert_false(natt_natpmp_epoch_lost(100, 151, 60.0));
	assert_true(natt_natpmp_epoch_lost(100, 150, 60.0));
	/* A reboot: the epoch starts again from zero. */
	assert_true(natt_natpmp_epoch_lost(3600, 5, 60.0));
	/* The same reading twice at once is no loss; a smaller one within 2 s is not seen as one. */
	assert_false(natt_natpmp_epoch_lost(10, 10, 0.0));
	assert_false(natt_natpmp_epoch_lost(10, 9, 0.5));
}

/* Every pair of readings of a steady router: it started at a fraction f of a second, the client asks
 * at t and t + elapsed; the router floors its uptime. None may look like a loss. */
static void test_engine_slack_never_fires_on_a_steady_router(void **state)
{
	(void)state;
	for (int f10 = 0; f10 < 10; f10++)
		for (int t10 = 0; t10 < 100; t10 += 3)
			for (int e10 = 0; e10 <= 600; e10 += 7) {
				double up0 = (double)t10 / 10.0 + (double)f10 / 10.0;
				double elapsed = (double)e10 / 10.0;
				uint32_t first = (uint32_t)up0, second = (uint32_t)(up0 + elapsed);
				if (natt_natpmp_epoch_behind(first, second, elapsed, NATT_EPOCH_SLACK))
					fail_msg("steady router, readings %u then %u after %.1f s: taken for a reboot", first,
					         second, elapsed);
			}
}

/* A router up for U s reboots a s after the first reading; the next comes 3 s after the first. */
static void test_engine_slack_sees_an_early_reboot(void **state)
{
	(void)state;
	/* The case the RFC's 2 s misses: reading 1, reboot right after it, reading 2 three seconds later. */
	assert_false(natt_natpmp_epoch_lost(1, 2, 3.0));
	assert_true(natt_natpmp_epoch_behind(1, 2, 3.0, NATT_EPOCH_SLACK));
	/* Whenever the router had been up at least 2.5 s when it rebooted, the engine notices. */
	for (int up10 = 25; up10 <= 100; up10++)
		for (int a10 = 0; a10 < 30; a10++) {
			double up = (double)up10 / 10.0, a = (double)a10 / 10.0;
			if (a > up)
				continue;
			uint32_t first = (uint32_t)(up - a), second = (uint32_t)(3.0 - a);
			if (!natt_natpmp_epoch_behind(first, second, 3.0, NATT_EPOCH_SLACK))
				fail_msg("reboot after %.1f s up, %.1f s after reading %u: reading %u not seen as one", up, a,
				         first, second);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_rule),
		cmocka_unit_test(test_engine_slack_never_fires_on_a_steady_router),
		cmocka_unit_test(test_engine_slack_sees_an_early_reboot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
