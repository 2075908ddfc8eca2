/* fdstorm — a program that closes every descriptor it does not know of, over and over, in one thread
 * while natt works in another: what daemons' "close all fds" loops do, for as long as natt is busy.
 *
 *   fdstorm ADDR BASE_PORT COUNT SECONDS SCRATCH_FILE
 *
 * The main thread listens on COUNT TCP sockets (ADDR:BASE_PORT...), then for SECONDS keeps closing one
 * of them and listening on its port again (every 50 ms), so that natt's manager keeps deleting and
 * adding mappings and rewriting its status file. Meanwhile a storm thread calls close() on every fd
 * from 3 to 1023 that is not one of the program's own, and keeps a file of its own open, SCRATCH_FILE,
 * reopened (O_APPEND) after each sweep, into which it writes "storm\n" lines: a descriptor natt lost to
 * the storm must never make natt write into the program's file.
 *
 * Then it prints "done SWEEPS FOREIGN OWN_ERRORS SCRATCH": FOREIGN counts the close() calls that closed
 * a descriptor the program did not have (natt's, taken between its open() and its protection: natt must
 * recover from those); OWN_ERRORS counts failures on the program's own descriptors (must be 0); SCRATCH is
 * "clean" when the scratch file holds only the storm's lines. It then waits for a line on stdin and
 * exits 0 through exit().
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FD 1024

static atomic_bool mine[MAX_FD];
/* The program's own opening and closing happen under this lock, never during a sweep: the storm is
 * aimed at natt, not at the program's own threads. */
static pthread_mutex_t own = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool finished;
static atomic_int own_errors;
static long sweeps, foreign;
static const char *scratch_path;

static int listen_on(struct in_addr addr, int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = addr };
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 8) < 0) {
		close(fd);
		return -1;
	}
	atomic_store(&mine[fd], true);
	return fd;
}

static void close_own(int fd)
{
	if (close(fd) < 0)
		atomic_fetch_add(&own_errors, 1);
	atomic_store(&mine[fd], false);
}

static void *storm(void *arg)
{
	(void)arg;
	int scratch = -1;
	while (!atomic_load(&finished)) {
		pthread_mutex_lock(&own);
		for (int fd = 3; fd < MAX_FD; fd++)
			if (!atomic_load(&mine[fd]) && close(fd) == 0)
				foreign++;
		int next = open(scratch_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (next >= 0 && next < MAX_FD) {
			atomic_store(&mine[next], true);
			if (write(next, "storm\n", 6) != 6)
				atomic_fetch_add(&own_errors, 1);
		} else {
			atomic_fetch_add(&own_errors, 1);
		}
		if (scratch >= 0)
			close_own(scratch);
		scratch = next;
		sweeps++;
		pthread_mutex_unlock(&own);
		usleep(200);
	}
	if (scratch >= 0)
		close_own(scratch);
	return NULL;
}

static bool scratch_clean(void)
{
	FILE *f = fopen(scratch_path, "re");
	if (!f)
		return false;
	char line[256];
	bool clean = true;
	while (fgets(line, sizeof(line), f))
		clean &= strcmp(line, "storm\n") == 0;
	fclose(f);
	return clean;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct in_addr addr;
	if (argc != 6 || inet_pton(AF_INET, argv[1], &addr) != 1) {
		fprintf(stderr, "usage: fdstorm ADDR BASE_PORT COUNT SECONDS SCRATCH_FILE\n");
		return 2;
	}
	int base = atoi(argv[2]), count = atoi(argv[3]);
	double seconds = atof(argv[4]);
	scratch_path = argv[5];
	if (base <= 0 || count <= 0 || count > 64 || base + count > 65536) {
		fprintf(stderr, "fdstorm: bad ports\n");
		return 2;
	}
	int fds[64];
	for (int i = 0; i < count; i++)
		if ((fds[i] = listen_on(addr, base + i)) < 0) {
			perror("fdstorm: listen");
			return 1;
		}
	pthread_t thread;
	if (pthread_create(&thread, NULL, storm, NULL) != 0)
		return 1;
	double end = now_s() + seconds;
	for (int round = 0; now_s() < end; round++) {
		usleep(50000);
		int i = round % count;
		pthread_mutex_lock(&own);
		if (fds[i] >= 0)
			close_own(fds[i]);
		fds[i] = listen_on(addr, base + i);
		if (fds[i] < 0)
			atomic_fetch_add(&own_errors, 1);
		pthread_mutex_unlock(&own);
	}
	atomic_store(&finished, true);
	pthread_join(thread, NULL);
	printf("done %ld %ld %d %s\n", sweeps, foreign, atomic_load(&own_errors), scratch_clean() ? "clean" : "dirty");
	fflush(stdout);
	char line[64];
	if (!fgets(line, sizeof(line), stdin))
		return 0;
	exit(0);
}
