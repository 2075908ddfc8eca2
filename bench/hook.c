/* natt-bench hook — the cost of the hooks on calls where natt has nothing to do. Run it with and without
 * LD_PRELOAD=libnattpreload.so (the driver alternates the two) and compare.
 *
 *   hook [--iterations N] [--batches B] [--publish]
 *
 * Measures, as the median over B batches of N iterations, in ns per iteration of this thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID: time spent descheduled on a busy machine does not count; the wall-clock
 * figures are printed too, as *_wall_ns):
 *   sock_dupclose   fd = dup(s); close(fd);  with s a TCP socket (not listening: nothing to publish)
 *   file_dupclose   the same with s a pipe's read end (not a socket)
 *   close           close() alone of a non-socket fd (256 dup()s made untimed, then their close()s timed)
 * With --publish, a TCP socket then listens on 0.0.0.0 (so the shim publishes it: its fd table now
 * has a chunk, and the manager thread exists), the program waits 300 ms for the manager to finish with
 * it, and measures the three again as pub_sock_dupclose, pub_file_dupclose, pub_close: the everyday
 * situation of a server closing its accepted connections. The shim's process has its manager thread
 * by then, and glibc's system call wrappers cost more in any process with a second thread (dup+close
 * 183 -> 214 ns here: the cancellation points), so without the shim the program starts an idle thread
 * at that point: what is compared is the hooks, not being threaded. thread_close_ns is the plain
 * program's close() measured once more before that thread exists, the price of the thread alone.
 *
 * Preloaded, it also compares within this one process (fields ab_*): batches that call dup() and
 * close() as the program does (the shim's hooks) alternate with batches that call libc's own functions
 * (found in libc.so.6 itself), each pair giving one ratio; ab_X_ratio is the median of the pairs'
 * ratios, ab_X_hooked_ns and ab_X_direct_ns the medians of each side. Two processes differ by more
 * than the hooks cost (where their pages and caches land): one process alternating is the fairer view.
 * The same after publishing (ab_pub_*), both sides then in a process with natt's thread.
 *
 * Prints one JSON object. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <getopt.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

static const char *prog = "hook";

#define CLOSE_BATCH 256

static int64_t cpu_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct result {
	double cpu_ns, wall_ns; /* medians over the batches, per iteration */
};

/* The functions a batch calls: the program's (through the shim when preloaded) or libc's own. */
struct calls {
	int (*dup)(int);
	int (*close)(int);
};

static struct calls program_calls = { dup, close };

static struct result finish(double *cpu, double *wall, int batches)
{
	struct result r = { bench_median(cpu, (size_t)batches), bench_median(wall, (size_t)batches) };
	free(cpu);
	free(wall);
	return r;
}

static struct result dupclose_with(const struct calls *f, int fd, int iterations, int batches)
{
	double *cpu = calloc((size_t)batches, sizeof(double)), *wall = calloc((size_t)batches, sizeof(double));
	if (!cpu || !wall)
		bench_die(prog, "out of memory");
	for (int b = 0; b < batches; b++) {
		int64_t c0 = cpu_now_ns(), t0 = bench_now_ns();
		for (int i = 0; i < iterations; i++) {
			int copy = f->dup(fd);
			if (copy < 0)
				bench_die(prog, "dup failed");
			f->close(copy);
		}
		wall[b] = (double)(bench_now_ns() - t0) / iterations;
		cpu[b] = (double)(cpu_now_ns() - c0) / iterations;
	}
	return finish(cpu, wall, batches);
}

static struct result dupclose(int fd, int iterations, int batches)
{
	return dupclose_with(&program_calls, fd, iterations, batches);
}

static struct result close_only_with(const struct calls *f, int fd, int iterations, int batches)
{
	int rounds = iterations / CLOSE_BATCH > 0 ? iterations / CLOSE_BATCH : 1;
	double *cpu = calloc((size_t)batches, sizeof(double)), *wall = calloc((size_t)batches, sizeof(double));
	int copies[CLOSE_BATCH];
	if (!cpu || !wall)
		bench_die(prog, "out of memory");
	for (int b = 0; b < batches; b++) {
		int64_t spent_cpu = 0, spent_wall = 0;
		for (int r = 0; r < rounds; r++) {
			for (int i = 0; i < CLOSE_BATCH; i++)
				if ((copies[i] = dup(fd)) < 0)
					bench_die(prog, "dup failed");
			int64_t c0 = cpu_now_ns(), t0 = bench_now_ns();
			for (int i = 0; i < CLOSE_BATCH; i++)
				f->close(copies[i]);
			spent_wall += bench_now_ns() - t0;
			spent_cpu += cpu_now_ns() - c0;
		}
		wall[b] = (double)spent_wall / (rounds * CLOSE_BATCH);
		cpu[b] = (double)spent_cpu / (rounds * CLOSE_BATCH);
	}
	return finish(cpu, wall, batches);
}

static struct result close_only(int fd, int iterations, int batches)
{
	return close_only_with(&program_calls, fd, iterations, batches);
}

/* libc's own dup() and close(), past any preloaded library; false when they cannot be found. */
static bool find_libc_calls(struct calls *direct)
{
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	if (!libc)
		return false;
	*(void **)&direct->dup = dlsym(libc, "dup");
	*(void **)&direct->close = dlsym(libc, "close");
	return direct->dup && direct->close && (void *)direct->close != (void *)program_calls.close;
}

enum ab_kind { AB_DUPCLOSE, AB_CLOSE };

static double one_batch(enum ab_kind kind, const struct calls *f, int fd, int iterations)
{
	struct result r = kind == AB_DUPCLOSE ? dupclose_with(f, fd, iterations, 1) : close_only_with(f, fd, iterations, 1);
	return r.cpu_ns;
}

/* Pairs of batches, the program's calls against libc's, the order changing from pair to pair. */
static void measure_ab_one(const char *prefix, const char *name, enum ab_kind kind, const struct calls *direct,
                           int fd, int iterations, int pairs)
{
	double *ratio = calloc((size_t)pairs, sizeof(double)), *hooked = calloc((size_t)pairs, sizeof(double)),
	       *plain = calloc((size_t)pairs, sizeof(double));
	if (!ratio || !hooked || !plain)
		bench_die(prog, "out of memory");
	for (int p = 0; p < pairs; p++) {
		if (p % 2) {
			plain[p] = one_batch(kind, direct, fd, iterations);
			hooked[p] = one_batch(kind, &program_calls, fd, iterations);
		} else {
			hooked[p] = one_batch(kind, &program_calls, fd, iterations);
			plain[p] = one_batch(kind, direct, fd, iterations);
		}
		ratio[p] = hooked[p] / plain[p];
	}
	printf("\"%s%s_ratio\": %.4f, \"%s%s_hooked_ns\": %.2f, \"%s%s_direct_ns\": %.2f, ", prefix, name,
	       bench_median(ratio, (size_t)pairs), prefix, name, bench_median(hooked, (size_t)pairs), prefix, name,
	       bench_median(plain, (size_t)pairs));
	free(ratio);
	free(hooked);
	free(plain);
}

static void measure_ab(const char *prefix, const struct calls *direct, int sock, int file, int iterations, int pairs)
{
	measure_ab_one(prefix, "sock_dupclose", AB_DUPCLOSE, direct, sock, iterations, pairs);
	measure_ab_one(prefix, "file_dupclose", AB_DUPCLOSE, direct, file, iterations, pairs);
	measure_ab_one(prefix, "close", AB_CLOSE, direct, file, iterations, pairs);
}

static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static void print_result(const char *prefix, const char *name, struct result r, bool comma)
{
	printf("\"%s%s_ns\": %.2f, \"%s%s_wall_ns\": %.2f%s", prefix, name, r.cpu_ns, prefix, name, r.wall_ns,
	       comma ? ", " : "");
}

static void measure(const char *prefix, int sock, int file, int iterations, int batches, bool comma)
{
	/* A first untimed pass warms caches and resolves lazy bindings. */
	dupclose(sock, iterations / 10 + 1, 1);
	print_result(prefix, "sock_dupclose", dupclose(sock, iterations, batches), true);
	print_result(prefix, "file_dupclose", dupclose(file, iterations, batches), true);
	print_result(prefix, "close", close_only(file, iterations, batches), comma);
}

int main(int argc, char **argv)
{
	int iterations = 200000, batches = 7;
	bool publish = false;
	static const struct option longopts[] = {
		{ "iterations", required_argument, NULL, 'n' },
		{ "batches", required_argument, NULL, 'b' },
		{ "publish", no_argument, NULL, 'p' },
		{ 0, 0, 0, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': iterations = atoi(optarg); break;
		case 'b': batches = atoi(optarg); break;
		case 'p': publish = true; break;
		default: return 2;
		}
	}
	if (iterations < 1 || batches < 1)
		bench_die(prog, "bad --iterations/--batches");
	int sock = socket(AF_INET, SOCK_STREAM, 0);
	int pipefd[2];
	if (sock < 0 || pipe(pipefd) < 0)
		bench_die(prog, "socket/pipe failed");
	bool preloaded = getenv("LD_PRELOAD") && getenv("LD_PRELOAD")[0];
	printf("{\"iterations\": %d, \"batches\": %d, \"preloaded\": %s, ", iterations, batches,
	       preloaded ? "true" : "false");
	struct calls direct;
	bool ab = preloaded && find_libc_calls(&direct);
	/* (Pairs of short batches: as many calls in all as the batches of the other view.) */
	int ab_iterations = iterations / 4 > 0 ? iterations / 4 : 1, ab_pairs = 2 * batches;
	if (ab)
		measure_ab("ab_", &direct, sock, pipefd[0], ab_iterations, ab_pairs);
	measure("", sock, pipefd[0], iterations, batches, publish);
	if (publish) {
		int server = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sin = { .sin_family = AF_INET };
		if (server < 0 || bind(server, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(server, 16) < 0)
			bench_die(prog, "listen failed");
		if (!preloaded) {
			print_result("thread_", "close", close_only(pipefd[0], iterations, batches), true);
			pthread_t thread;
			if (pthread_create(&thread, NULL, idle_thread, NULL) != 0)
				bench_die(prog, "pthread_create failed");
		}
		usleep(300000);
		if (ab)
			measure_ab("ab_pub_", &direct, sock, pipefd[0], ab_iterations, ab_pairs);
		measure("pub_", sock, pipefd[0], iterations, batches, false);
	}
	printf("}\n");
	return 0;
}
