/* Unit tests of the configuration from the environment (values too long for natt's buffers are
 * refused, never cut) and of the on-change command's children (each one reaped, however many). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/engine.h"
#include "util/log.h"
#include "sys/run_command.h"

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* A cut command is another command: "true; rm -rf /tmp/x" cut before "/x" would not be what the user
 * wrote. The whole value is refused. */
static void test_long_on_change_refused(void **state)
{
	(void)state;
	struct natt_config cfg;
	char *value = repeat('x', 1031);
	memcpy(value, "echo ", 5);
	setenv("NATT_ON_CHANGE", value, 1);
	natt_config_from_env(&cfg);
	assert_string_equal(cfg.on_change, "");
	value[1023] = '\0'; /* the longest that fits */
	setenv("NATT_ON_CHANGE", value, 1);
	natt_config_from_env(&cfg);
	assert_string_equal(cfg.on_change, value);
	unsetenv("NATT_ON_CHANGE");
	free(value);
}

static void test_long_status_file_refused(void **state)
{
	(void)state;
	struct natt_config cfg;
	char def[4096];
	natt_default_status_path(def, sizeof(def));
	char *value = repeat('d', 4100);
	value[0] = '/';
	setenv("NATT_STATUS_FILE", value, 1);
	natt_config_from_env(&cfg);
	assert_string_equal(cfg.status_path, def);
	unsetenv("NATT_STATUS_FILE");
	free(value);
}

/* More children at once than any fixed table: every one is reaped, none stays a zombie. */
static void test_every_child_reaped(void **state)
{
	(void)state;
	enum { CHILDREN = 40 };
	for (int i = 0; i < CHILDREN; i++)
		assert_true(natt_spawn_shell("sleep 0.3", NULL) > 0);
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	int running = CHILDREN;
	for (int tries = 0; tries < 500 && running > 0; tries++) {
		nanosleep(&pause, NULL);
		running = natt_spawn_reap();
	}
	assert_int_equal(running, 0);
	int status;
	assert_int_equal(waitpid(-1, &status, WNOHANG | __WALL), -1);
	assert_int_equal(errno, ECHILD);
}

int main(void)
{
	natt_log_set_level(NATT_LOG_OFF);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_long_on_change_refused),
		cmocka_unit_test(test_long_status_file_refused),
		cmocka_unit_test(test_every_child_reaped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
