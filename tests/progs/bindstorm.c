/* bindstorm — many threads creating, publishing and ending sockets at once, for the thread-safety
 * tests of the preload library (and its ThreadSanitizer run):
 *
 *   bindstorm ADDR THREADS ITERATIONS [--forker] [--hold MS] [--keep-first]
 *
 * Each of THREADS threads does ITERATIONS rounds of: a TCP socket bound to ADDR port 0 and listening
 * (which natt publishes), a copy of it by dup() or fcntl(F_DUPFD_CLOEXEC), a UDP socket bound to ADDR
 * port 0 (published too under NATT_UDP_EPHEMERAL=1), then closes all three, in an order that changes from round to round; every
 * eighth round ends its sockets with close_range() over the fds it got instead. With --forker, one more
 * thread forks children while the others run: each child closes its copies of a few fds and leaves
 * through _exit() or exit() — the fork handlers run while other threads are inside the hooks.
 * The workers end only once the forker has stopped: a thread's exit takes a lock of AddressSanitizer's
 * allocator, which GCC 12's runtime does not hold across fork(), so a child forked at that moment could
 * hang in its own first thread exit (no matter of natt's).
 * With --hold MS, each thread sleeps MS milliseconds after each round and ends a round's sockets only
 * four rounds later, so that many of them live long enough to be published at the router (without it
 * most are retired before the manager gets to them).
 * With --keep-first, each thread's first round's sockets stay open through the storm (that round
 * neither sleeps nor joins the --hold ring): when every thread is done, the program prints "storm
 * over" and closes them only once a line (or the end) comes on its input, so that a test can see them
 * published first, however slow the engine's start.
 *
 * Prints "done ROUNDS" when every thread has finished, exit status 0; any failing call prints
 * "ERR what errno" on stderr and exits 1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static struct in_addr addr;
static int iterations;
static int hold_ms;
static bool keep_first;
static int kept[256][3];
#define DEPTH 4
static atomic_int rounds_done;
static atomic_bool finished;
static atomic_int workers_done;
static atomic_bool workers_may_end;

static void fail(const char *what)
{
	fprintf(stderr, "ERR %s %s\n", what, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
	exit(1);
}

static int bound_socket(int type)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail("socket");
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr = addr };
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		fail("bind");
	if (type == SOCK_STREAM && listen(fd, 4) < 0)
		fail("listen");
	return fd;
}

/* Other threads' fds may lie between ours: close_range() over each of ours alone. */
static void close_range_of(const int *fds, int count)
{
	for (int i = 0; i < count; i++)
		if (close_range((unsigned)fds[i], (unsigned)fds[i], 0) < 0)
			fail("close_range");
}

static void end_round(const int *fds, int round, unsigned *seed)
{
	if (round % 8 == 7) {
		close_range_of(fds, 3);
		return;
	}
	int first = (int)(rand_r(seed) % 3);
	for (int i = 0; i < 3; i++)
		if (close(fds[(first + i) % 3]) < 0)
			fail("close");
}

static void *worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	int ring[DEPTH][3];
	int depth = hold_ms > 0 ? DEPTH : 0;
	for (int round = 0; round < iterations + depth; round++) {
		if (depth && round >= depth && !(keep_first && round == depth)) /* (round 0's are kept) */
			end_round(ring[round % DEPTH], round - depth, &seed);
		if (round >= iterations)
			continue;
		int fds[3];
		fds[0] = bound_socket(SOCK_STREAM);
		fds[1] = (round & 1) ? dup(fds[0]) : fcntl(fds[0], F_DUPFD_CLOEXEC, 3);
		if (fds[1] < 0)
			fail("dup");
		fds[2] = bound_socket(SOCK_DGRAM);
		if (keep_first && round == 0) {
			memcpy(kept[(uintptr_t)arg - 1], fds, sizeof(fds));
		} else if (depth) {
			memcpy(ring[round % DEPTH], fds, sizeof(fds));
			usleep((useconds_t)hold_ms * 1000);
		} else {
			end_round(fds, round, &seed);
		}
		atomic_fetch_add(&rounds_done, 1);
	}
	atomic_fetch_add(&workers_done, 1);
	while (!atomic_load(&workers_may_end))
		usleep(1000);
	return NULL;
}

static void *forker(void *arg)
{
	(void)arg;
	int n = 0;
	while (!atomic_load(&finished)) {
		pid_t pid = fork();
		if (pid < 0)
			fail("fork");
		if (pid == 0) {
			/* The child closes a few low fds (whatever they are now: copies of the workers'
			 * sockets, or nothing) and leaves. */
			for (int fd = 3; fd < 12; fd++)
				close(fd);
			if (n & 1)
				exit(0);
			_exit(0);
		}
		waitpid(pid, NULL, 0);
		n++;
		usleep(2000);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 4 || inet_pton(AF_INET, argv[1], &addr) != 1) {
		fprintf(stderr, "usage: bindstorm ADDR THREADS ITERATIONS [--forker] [--hold MS] [--keep-first]\n");
		return 2;
	}
	int threads = atoi(argv[2]);
	iterations = atoi(argv[3]);
	int with_forker = 0;
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "--forker"))
			with_forker = 1;
		else if (!strcmp(argv[i], "--hold") && i + 1 < argc)
			hold_ms = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--keep-first"))
			keep_first = true;
		else {
			fprintf(stderr, "bindstorm: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (threads < 1 || threads > 256 || iterations < 1) {
		fprintf(stderr, "bindstorm: bad THREADS or ITERATIONS\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	pthread_t tids[257];
	for (int i = 0; i < threads; i++)
		if (pthread_create(&tids[i], NULL, worker, (void *)(uintptr_t)(i + 1)) != 0)
			fail("pthread_create");
	pthread_t forker_tid;
	if (with_forker && pthread_create(&forker_tid, NULL, forker, NULL) != 0)
		fail("pthread_create");
	while (atomic_load(&workers_done) < threads)
		usleep(1000);
	atomic_store(&finished, true);
	if (with_forker)
		pthread_join(forker_tid, NULL);
	if (keep_first) {
		printf("storm over\n");
		char line[64];
		(void)!fgets(line, sizeof(line), stdin);
		for (int i = 0; i < threads; i++)
			end_round(kept[i], 0, &(unsigned){ 1 });
	}
	atomic_store(&workers_may_end, true);
	for (int i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	printf("done %d\n", atomic_load(&rounds_done));
	return 0;
}
