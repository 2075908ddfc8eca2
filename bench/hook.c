/* natt-bench hook — the cost of the hooks on calls where natt has nothing to do. Run it with and without
 * LD_PRELOAD=libnattpreload.so (the driver alternates the two) and compare.
 *
 *   hook [--iterations N] [--batches B] [--publish]
 *
 * Measures, as the median over B batches of N iterations, in ns per iteration:
 *   sock_dupclose   fd = dup(s); close(fd);  with s a TCP socket (not listening: nothing to publish)
 *   file_dupclose   the same with s a pipe's read end (not a socket)
 *   close           close() alone of a non-socket fd (256 dup()s made untimed, then their close()s timed)
 * With --publish, a TCP socket then listens on 0.0.0.0 (so the shim publishes it: its fd table now
 * has a chunk, and the manager thread exists), the program waits 300 ms for the manager to finish with
 * it, and measures the three again as pub_sock_dupclose, pub_file_dupclose, pub_close: the everyday
 * situation of a server closing its accepted connections.
 *
 * Prints one JSON object. */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

static const char *prog = "hook";

#define CLOSE_BATCH 256

static double dupclose(int fd, int iterations, int batches)
{
	double *per = calloc((size_t)batches, sizeof(double));
	if (!per)
		bench_die(prog, "out of memory");
	for (int b = 0; b < batches; b++) {
		int64_t t0 = bench_now_ns();
		for (int i = 0; i < iterations; i++) {
			int copy = dup(fd);
			if (copy < 0)
				bench_die(prog, "dup failed");
			close(copy);
		}
		per[b] = (double)(bench_now_ns() - t0) / iterations;
	}
	double m = bench_median(per, (size_t)batches);
	free(per);
	return m;
}

static double close_only(int fd, int iterations, int batches)
{
	int rounds = iterations / CLOSE_BATCH > 0 ? iterations / CLOSE_BATCH : 1;
	double *per = calloc((size_t)batches, sizeof(double));
	int copies[CLOSE_BATCH];
	if (!per)
		bench_die(prog, "out of memory");
	for (int b = 0; b < batches; b++) {
		int64_t spent = 0;
		for (int r = 0; r < rounds; r++) {
			for (int i = 0; i < CLOSE_BATCH; i++)
				if ((copies[i] = dup(fd)) < 0)
					bench_die(prog, "dup failed");
			int64_t t0 = bench_now_ns();
			for (int i = 0; i < CLOSE_BATCH; i++)
				close(copies[i]);
			spent += bench_now_ns() - t0;
		}
		per[b] = (double)spent / (rounds * CLOSE_BATCH);
	}
	double m = bench_median(per, (size_t)batches);
	free(per);
	return m;
}

static void measure(const char *prefix, int sock, int file, int iterations, int batches, bool comma)
{
	/* A first untimed pass warms caches and resolves lazy bindings. */
	dupclose(sock, iterations / 10 + 1, 1);
	printf("\"%ssock_dupclose_ns\": %.2f, ", prefix, dupclose(sock, iterations, batches));
	printf("\"%sfile_dupclose_ns\": %.2f, ", prefix, dupclose(file, iterations, batches));
	printf("\"%sclose_ns\": %.2f%s", prefix, close_only(file, iterations, batches), comma ? ", " : "");
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
	printf("{\"iterations\": %d, \"batches\": %d, \"preloaded\": %s, ", iterations, batches,
	       getenv("LD_PRELOAD") && getenv("LD_PRELOAD")[0] ? "true" : "false");
	measure("", sock, pipefd[0], iterations, batches, publish);
	if (publish) {
		int server = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in sin = { .sin_family = AF_INET };
		if (server < 0 || bind(server, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(server, 16) < 0)
			bench_die(prog, "listen failed");
		usleep(300000);
		measure("pub_", sock, pipefd[0], iterations, batches, false);
	}
	printf("}\n");
	return 0;
}
