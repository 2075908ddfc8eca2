/* Unit tests of natt's closes of the fds it keeps, against a fork by another thread of the program: the
 * moment natt's close has freed a number, the program may get it (a socketpair() for its next child)
 * and fork; the child closes the numbers natt keeps (they are the parent's), and must not find the old
 * one still written down, or it closes the program's descriptor (an nginx worker's channel to its
 * master: the worker never hears "quit"). close() is replaced in this binary: after each real close
 * of natt's under test it plays the program's thread, taking the number and forking there. And the
 * program's dup2() onto a number natt holds: natt's fd moves, and natt closes it where it went. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/config.h"
#include "core/engine.h"
#include "core/engine_internal.h"
#include "core/engine_shim.h"

static bool playing_program;     /* close() below takes each closed number and forks there */
static void (*child_cleanup)(void); /* what a fork child of natt runs: the numbers it closes */
static int closes_seen, children_ok, children_failed;
static const int *written_down; /* a number natt keeps: must read -1 by the time it is closed */
static int closes_still_written_down;

int close(int fd)
{
	if (!playing_program || fd < 0)
		return (int)syscall(SYS_close, fd);
	if (written_down && *written_down == fd)
		closes_still_written_down++;
	int rc = (int)syscall(SYS_close, fd);
	closes_seen++;
	/* The program takes the number at once, and forks. */
	int program_fd = open("/dev/null", O_RDONLY);
	assert_true(program_fd >= 0);
	if (program_fd != fd) {
		assert_int_equal(dup2(program_fd, fd), fd);
		syscall(SYS_close, program_fd);
	}
	playing_program = false; /* (the closes below, in the child and here, are plain ones) */
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		child_cleanup();
		_exit(fcntl(fd, F_GETFD) >= 0 ? 0 : 1); /* the program's descriptor is still open */
	}
	int status = 0;
	assert_int_equal(waitpid(child, &status, 0), child);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		children_ok++;
	else
		children_failed++;
	syscall(SYS_close, fd); /* (the program's, done with) */
	playing_program = true;
	return rc;
}

static char root[64];

static int make_root(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/natt-test-forkfds.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	setenv("XDG_RUNTIME_DIR", root, 1);
	struct natt_config cfg;
	natt_config_defaults(&cfg);
	snprintf(cfg.status_path, sizeof(cfg.status_path), "%s/status.json", root);
	cfg.have_gateway = true;
	inet_pton(AF_INET, "10.9.8.7", &cfg.gateway); /* (never sent to: the lock is a file) */
	natt_engine_configure(&cfg);
	return 0;
}

static int remove_root(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void reset_counts(void)
{
	closes_seen = children_ok = children_failed = closes_still_written_down = 0;
}

/* The gateway lock, held for a batch of exchanges and let go: the child of a fork right after the
 * release leaves the program's descriptor at that number alone. */
static void test_gateway_lock_release(void **state)
{
	(void)state;
	reset_counts();
	child_cleanup = natt_router_after_fork_child;
	for (int round = 0; round < 3; round++) {
		bool locked = natt_router_lock_for_batch();
		assert_true(locked);
		playing_program = true;
		natt_router_unlock(locked);
		playing_program = false;
	}
	assert_int_equal(closes_seen, 3); /* one close a release: the lock's fd */
	assert_int_equal(children_failed, 0);
	assert_int_equal(children_ok, 3);
}

static int kept_fd = -1;

static void forget_kept(void)
{
	natt_close_own_fd(&kept_fd);
}

/* Any fd natt keeps: gone from where it is written down before the number is free. */
static void test_close_own_fd_forgets_first(void **state)
{
	(void)state;
	reset_counts();
	kept_fd = natt_own_fd(open("/dev/null", O_RDONLY | O_CLOEXEC));
	assert_true(kept_fd >= 0);
	written_down = &kept_fd;
	child_cleanup = forget_kept;
	playing_program = true;
	natt_close_own_fd(&kept_fd);
	playing_program = false;
	written_down = NULL;
	assert_int_equal(kept_fd, -1);
	assert_int_equal(closes_seen, 1);
	assert_int_equal(closes_still_written_down, 0);
	assert_int_equal(children_failed, 0);
	assert_int_equal(children_ok, 1);
}

/* The number of the gateway lock's fd, found by its file name; -1 if none is open. */
static int gateway_lock_fd(void)
{
	DIR *dir = opendir("/proc/self/fd");
	assert_non_null(dir);
	int found = -1;
	struct dirent *d;
	while (found < 0 && (d = readdir(dir))) {
		char link[300], target[PATH_MAX];
		snprintf(link, sizeof(link), "/proc/self/fd/%s", d->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = 0;
			if (strstr(target, "/.natt-gateway-"))
				found = atoi(d->d_name);
		}
	}
	closedir(dir);
	return found;
}

/* The program's dup2() onto the gateway lock's number while a batch holds it: the shim moves natt's
 * fd to another number first (as it does in dup2's hook), and natt's release closes that one, never
 * the program's file now at the old number. */
static void test_gateway_lock_moved(void **state)
{
	(void)state;
	bool locked = natt_router_lock_for_batch();
	assert_true(locked);
	int held = gateway_lock_fd();
	assert_true(held >= 0);
	int moved = fcntl(held, F_DUPFD_CLOEXEC, held + 1);
	assert_true(moved > held);
	assert_true(natt_engine_fd_moved(held, moved));
	int program_fd = open("/dev/null", O_RDONLY);
	assert_int_equal(dup2(program_fd, held), held);
	close(program_fd);
	natt_router_unlock(locked);
	assert_true(fcntl(held, F_GETFD) >= 0); /* the program's, still open */
	assert_int_equal(fcntl(moved, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(gateway_lock_fd(), -1);
	close(held);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gateway_lock_release),
		cmocka_unit_test(test_close_own_fd_forgets_first),
		cmocka_unit_test(test_gateway_lock_moved),
	};
	return cmocka_run_group_tests(tests, make_root, remove_root);
}
