/* natt-bench spawn — process start-up with and without the shim, interleaved in one process.
 *
 *   spawn --preload LIB [--rounds R] [--count K] [--] CMD [ARGS...]
 *
 * Each round starts CMD K times plainly and K times with LD_PRELOAD=LIB (the order of the two halves
 * alternates from round to round), each start being posix_spawn() + waitpid(); a half's time divided
 * by K is one sample. Prints the median of the R samples of each kind, in microseconds, and their
 * ratio. CMD must exit 0. */
#include <getopt.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static const char *prog = "spawn";
extern char **environ;

/* environ without LD_PRELOAD, plus LD_PRELOAD=lib when lib is given. */
static char **make_env(const char *lib)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 2, sizeof(char *));
	if (!env)
		bench_die(prog, "out of memory");
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
			env[k++] = environ[i];
	if (lib) {
		size_t len = strlen(lib) + 12;
		env[k] = malloc(len);
		if (!env[k])
			bench_die(prog, "out of memory");
		snprintf(env[k++], len, "LD_PRELOAD=%s", lib);
	}
	env[k] = NULL;
	return env;
}

static double run_batch(char **argv, char **env, int count)
{
	int64_t t0 = bench_now_ns();
	for (int i = 0; i < count; i++) {
		pid_t pid;
		if (posix_spawn(&pid, argv[0], NULL, NULL, argv, env) != 0)
			bench_die(prog, "posix_spawn failed");
		int status;
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bench_die(prog, "the command failed");
	}
	return (double)(bench_now_ns() - t0) / count / 1000.0;
}

int main(int argc, char **argv)
{
	const char *lib = NULL;
	int rounds = 15, count = 100;
	static const struct option longopts[] = {
		{ "preload", required_argument, NULL, 'p' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "count", required_argument, NULL, 'n' },
		{ 0, 0, 0, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': lib = optarg; break;
		case 'r': rounds = atoi(optarg); break;
		case 'n': count = atoi(optarg); break;
		default: return 2;
		}
	}
	if (!lib || optind >= argc || rounds < 1 || count < 1)
		bench_die(prog, "usage: spawn --preload LIB [--rounds R] [--count K] [--] CMD [ARGS...]");
	char **cmd = argv + optind;
	char **plain = make_env(NULL), **wrapped = make_env(lib);
	double *p = calloc((size_t)rounds, sizeof(double)), *w = calloc((size_t)rounds, sizeof(double));
	if (!p || !w)
		bench_die(prog, "out of memory");
	run_batch(cmd, plain, count / 10 + 1); /* warm the page cache for both */
	run_batch(cmd, wrapped, count / 10 + 1);
	for (int r = 0; r < rounds; r++) {
		if (r % 2) {
			w[r] = run_batch(cmd, wrapped, count);
			p[r] = run_batch(cmd, plain, count);
		} else {
			p[r] = run_batch(cmd, plain, count);
			w[r] = run_batch(cmd, wrapped, count);
		}
	}
	double mp = bench_median(p, (size_t)rounds), mw = bench_median(w, (size_t)rounds);
	printf("{\"command\": \"%s\", \"rounds\": %d, \"count\": %d, \"plain_us\": %.2f, \"preload_us\": %.2f, "
	       "\"ratio\": %.4f, ",
	       cmd[0], rounds, count, mp, mw, mw / mp);
	bench_json_array(stdout, "plain_rounds_us", p, (size_t)rounds, 2);
	printf(", ");
	bench_json_array(stdout, "preload_rounds_us", w, (size_t)rounds, 2);
	printf("}\n");
	return 0;
}
