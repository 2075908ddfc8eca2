/* natt-bench spawn — process start-up with and without preload libraries, interleaved in one process.
 *
 *   spawn --preload LIB [--preload LIB2 ...] [--rounds R] [--count K] [--] CMD [ARGS...]
 *
 * Variants: "plain" (no LD_PRELOAD) and one per --preload. Each round starts CMD K times per variant
 * (the order of the variants rotates from round to round), each start being posix_spawn() + wait4();
 * a variant's time in a round divided by K is one sample. Prints, per variant, the median of its R
 * samples in microseconds and the median over the rounds of its ratio to plain in the same round
 * (paired, so a change of the machine's load between rounds cancels out): wall-clock time, and CPU time (the children's user
 * + system time from wait4() plus this process's own for spawning them: on a busy machine, time spent
 * waiting for a CPU does not count), and the children's minor page faults per start. CMD must exit 0. */
#include <getopt.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static const char *prog = "spawn";
extern char **environ;

#define MAX_VARIANTS 8

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

static int64_t tv_ns(struct timeval tv)
{
	return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

static int64_t self_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct sample {
	double wall_us, cpu_us, faults;
};

/* Starts the command count times: per start, wall and CPU time and the child's minor faults. */
static struct sample run_batch(char **argv, char **env, int count)
{
	int64_t t0 = bench_now_ns(), c0 = self_cpu_ns(), children = 0;
	long faults = 0;
	for (int i = 0; i < count; i++) {
		pid_t pid;
		if (posix_spawn(&pid, argv[0], NULL, NULL, argv, env) != 0)
			bench_die(prog, "posix_spawn failed");
		int status;
		struct rusage ru;
		if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bench_die(prog, "the command failed");
		children += tv_ns(ru.ru_utime) + tv_ns(ru.ru_stime);
		faults += ru.ru_minflt;
	}
	struct sample s = {
		.wall_us = (double)(bench_now_ns() - t0) / count / 1000.0,
		.cpu_us = (double)(children + self_cpu_ns() - c0) / count / 1000.0,
		.faults = (double)faults / count,
	};
	return s;
}

int main(int argc, char **argv)
{
	const char *libs[MAX_VARIANTS];
	int nlibs = 0, rounds = 15, count = 100;
	static const struct option longopts[] = {
		{ "preload", required_argument, NULL, 'p' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "count", required_argument, NULL, 'n' },
		{ 0, 0, 0, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (nlibs + 1 >= MAX_VARIANTS)
				bench_die(prog, "too many --preload");
			libs[nlibs++] = optarg;
			break;
		case 'r': rounds = atoi(optarg); break;
		case 'n': count = atoi(optarg); break;
		default: return 2;
		}
	}
	if (optind >= argc || rounds < 1 || count < 1)
		bench_die(prog, "usage: spawn --preload LIB [--preload LIB ...] [--rounds R] [--count K] [--] CMD [ARGS...]");
	char **cmd = argv + optind;
	int variants = nlibs + 1;
	char **env[MAX_VARIANTS];
	double *wall[MAX_VARIANTS], *cpu[MAX_VARIANTS], *faults[MAX_VARIANTS];
	for (int v = 0; v < variants; v++) {
		env[v] = make_env(v ? libs[v - 1] : NULL);
		wall[v] = calloc((size_t)rounds, sizeof(double));
		cpu[v] = calloc((size_t)rounds, sizeof(double));
		faults[v] = calloc((size_t)rounds, sizeof(double));
		if (!wall[v] || !cpu[v] || !faults[v])
			bench_die(prog, "out of memory");
		run_batch(cmd, env[v], count / 10 + 1); /* warm the page cache */
	}
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < variants; k++) {
			int v = (r + k) % variants;
			struct sample s = run_batch(cmd, env[v], count);
			wall[v][r] = s.wall_us;
			cpu[v][r] = s.cpu_us;
			faults[v][r] = s.faults;
		}
	}
	double *wr = calloc((size_t)rounds, sizeof(double)), *cr = calloc((size_t)rounds, sizeof(double));
	if (!wr || !cr)
		bench_die(prog, "out of memory");
	printf("{\"command\": \"%s\", \"rounds\": %d, \"count\": %d, \"variants\": [", cmd[0], rounds, count);
	for (int v = 0; v < variants; v++) {
		for (int r = 0; r < rounds; r++) {
			wr[r] = wall[v][r] / wall[0][r];
			cr[r] = cpu[v][r] / cpu[0][r];
		}
		double w = bench_median(wall[v], (size_t)rounds), cp = bench_median(cpu[v], (size_t)rounds);
		printf("%s{\"preload\": %s%s%s, \"wall_us\": %.2f, \"wall_ratio\": %.4f, \"cpu_us\": %.2f, "
		       "\"cpu_ratio\": %.4f, \"minflt\": %.1f, ",
		       v ? ", " : "", v ? "\"" : "", v ? libs[v - 1] : "null", v ? "\"" : "", w,
		       bench_median(wr, (size_t)rounds), cp, bench_median(cr, (size_t)rounds),
		       bench_median(faults[v], (size_t)rounds));
		bench_json_array(stdout, "wall_rounds_us", wall[v], (size_t)rounds, 1);
		printf(", ");
		bench_json_array(stdout, "cpu_rounds_us", cpu[v], (size_t)rounds, 1);
		printf("}");
	}
	printf("]}\n");
	return 0;
}
