/* sigclose — hooks called from signal handlers, and hooks interrupted by signals:
 *
 *   sigclose ADDR ROUNDS [--bind-in-handler]
 *
 * The main thread does ROUNDS rounds of: a TCP socket bound to ADDR port 0 and listening (published
 * by natt), handed to the SIGUSR1 handler as its "victim", a dup() of it, then close() of whatever
 * the handler has not closed yet. A second thread sends SIGUSR1 to the main thread without pause, so
 * signals land everywhere: inside bind(), listen(), dup() and close() and inside natt's own work.
 * The handler close()s the victim (a published socket: the last holder's close retires its mapping)
 * and also close()s a dup of it made by the main thread, and calls dup()/close() on a plain pipe.
 *
 * With --bind-in-handler the handler also makes a socket of its own, binds it to ADDR port 0 and
 * listens (bind() and listen() are async-signal-safe, so a handler may: natt publishes it from inside
 * the handler, possibly while the interrupted main thread is inside natt's own publishing); the main
 * thread closes it in its next round (or the next handler does).
 *
 * Prints "done ROUNDS SIGNALS HANDLER_CLOSES ERRORS" and exits 0. ERRORS counts the close() calls on
 * the program's own fds that failed: each was open, so a failure means natt took the program's fd for
 * one of its own (and the program leaks it); 0 unless something is wrong. A deadlock shows as a hang: run it under
 * timeout(1).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static atomic_int victim = -1;
static atomic_int victim_copy = -1;
static atomic_int handler_socket = -1;
static atomic_int handled, handler_closes, errors;
static atomic_bool finished;
static int pipe_fds[2];
static pthread_t main_thread;
static int bind_in_handler;
static struct in_addr addr;

static void on_usr1(int sig)
{
	(void)sig;
	int saved = errno;
	atomic_fetch_add(&handled, 1);
	int fd = atomic_exchange(&victim, -1);
	if (fd >= 0) {
		if (close(fd) == 0)
			atomic_fetch_add(&handler_closes, 1);
		else
			atomic_fetch_add(&errors, 1);
	}
	fd = atomic_exchange(&victim_copy, -1);
	if (fd >= 0 && close(fd) < 0)
		atomic_fetch_add(&errors, 1);
	int copy = dup(pipe_fds[0]);
	if (copy >= 0 && close(copy) < 0)
		atomic_fetch_add(&errors, 1);
	if (bind_in_handler) {
		int own = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr = addr };
		if (own >= 0) {
			if (bind(own, (struct sockaddr *)&sin, sizeof(sin)) == 0)
				listen(own, 4);
			/* The main thread closes it later (or the next handler does). */
			int older = atomic_exchange(&handler_socket, own);
			if (older >= 0 && close(older) < 0)
				atomic_fetch_add(&errors, 1);
		}
	}
	errno = saved;
}

static void *pest(void *arg)
{
	(void)arg;
	while (!atomic_load(&finished)) {
		pthread_kill(main_thread, SIGUSR1);
		usleep(50);
	}
	return NULL;
}

static void fail(const char *what)
{
	fprintf(stderr, "ERR %s %s\n", what, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
	exit(1);
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4 || inet_pton(AF_INET, argv[1], &addr) != 1 ||
	    (argc == 4 && strcmp(argv[3], "--bind-in-handler") != 0)) {
		fprintf(stderr, "usage: sigclose ADDR ROUNDS [--bind-in-handler]\n");
		return 2;
	}
	bind_in_handler = argc == 4;
	int rounds = atoi(argv[2]);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pipe(pipe_fds) < 0)
		fail("pipe");
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		fail("sigaction");
	main_thread = pthread_self();
	/* The pest thread must not take the signals itself. */
	sigset_t usr1, old;
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, &old);
	pthread_t tid;
	if (pthread_create(&tid, NULL, pest, NULL) != 0)
		fail("pthread_create");
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	for (int round = 0; round < rounds; round++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			fail("socket");
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr = addr };
		while (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
			if (errno != EINTR)
				fail("bind");
		while (listen(fd, 4) < 0)
			if (errno != EINTR)
				fail("listen");
		int copy = dup(fd);
		if (copy < 0)
			fail("dup");
		atomic_store(&victim_copy, copy);
		atomic_store(&victim, fd);
		/* Give the handler a chance at it; whatever it has not taken, we close. */
		for (int i = 0; i < 100 && atomic_load(&victim) >= 0; i++)
			sched_yield();
		/* Whatever the handler has not taken, we close. */
		int mine = atomic_exchange(&victim, -1);
		if (mine >= 0 && close(mine) < 0)
			atomic_fetch_add(&errors, 1);
		mine = atomic_exchange(&victim_copy, -1);
		if (mine >= 0 && close(mine) < 0)
			atomic_fetch_add(&errors, 1);
		mine = atomic_exchange(&handler_socket, -1);
		if (mine >= 0 && close(mine) < 0)
			atomic_fetch_add(&errors, 1);
	}
	atomic_store(&finished, true);
	pthread_join(tid, NULL);
	int last = atomic_exchange(&handler_socket, -1);
	if (last >= 0 && close(last) < 0)
		atomic_fetch_add(&errors, 1);
	printf("done %d %d %d %d\n", rounds, atomic_load(&handled), atomic_load(&handler_closes), atomic_load(&errors));
	return 0;
}
