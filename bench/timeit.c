/* natt-bench timeit — how long a command takes from start to exit, as a user would wait for it.
 *
 *   timeit CMD [ARGS...]
 *
 * posix_spawnp() + wait, timed with CLOCK_MONOTONIC; the command's output goes to /dev/null. Prints
 * {"ms": ..., "exit": N}. Used for the reference clients (upnpc, natpmpc), whose time includes their
 * own process start, as a user's would. */
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

extern char **environ;

int main(int argc, char **argv)
{
	if (argc < 2)
		bench_die("timeit", "usage: timeit CMD [ARGS...]");
	posix_spawn_file_actions_t actions;
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
	int64_t t0 = bench_now_ns();
	pid_t pid;
	if (posix_spawnp(&pid, argv[1], &actions, NULL, argv + 1, environ) != 0)
		bench_die("timeit", "cannot start the command");
	int status;
	waitpid(pid, &status, 0);
	int64_t t1 = bench_now_ns();
	printf("{\"ms\": %.3f, \"exit\": %d}\n", bench_ms(t1 - t0), WIFEXITED(status) ? WEXITSTATUS(status) : 128);
	return 0;
}
