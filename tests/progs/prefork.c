/* prefork — a pre-fork TCP server in the classic style (Apache's prefork MPM, many old daemons):
 *
 *   prefork PORT WORKERS [MAX_REQUESTS]
 *
 * The parent listens on 0.0.0.0:PORT, then forks WORKERS children that all accept() on the inherited
 * socket; the parent keeps its copy (to fork replacements) and only waits. Each worker answers every
 * connection with an HTTP/1.0 response whose body is "prefork PID\n". A worker that has served
 * MAX_REQUESTS connections (0, the default: no limit) exits through exit(), closing its copy of the
 * socket, and the parent forks a new one in its place.
 *
 * SIGTERM or SIGINT to the parent: it sends SIGTERM to every worker, waits for them all, and exits 0.
 * Workers run with SIGTERM and SIGINT at their default action.
 *
 * stdout (line buffered): "listening PORT" once, "worker PID" for each worker started, "exiting" at the
 * end. Errors go to stderr, exit status 1.
 */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_WORKERS 64

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t child_exited;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void on_child(int sig)
{
	(void)sig;
	child_exited = 1;
}

static void die(const char *what)
{
	fprintf(stderr, "prefork: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void serve(int listener, long max_requests)
{
	char reply[128], request[4096];
	long served = 0;
	for (;;) {
		int conn = accept(listener, NULL, NULL);
		if (conn < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			die("accept");
		}
		/* The request itself does not matter; reading it spares the client a reset. */
		ssize_t got = read(conn, request, sizeof(request));
		(void)got;
		char body[64];
		int body_len = snprintf(body, sizeof(body), "prefork %d\n", (int)getpid());
		int len = snprintf(reply, sizeof(reply),
		                   "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
		                   "Connection: close\r\n\r\n%s",
		                   body_len, body);
		ssize_t sent = write(conn, reply, (size_t)len);
		(void)sent;
		close(conn);
		if (max_requests > 0 && ++served >= max_requests)
			exit(0); /* exit(), not _exit(): atexit handlers run, as in a real worker */
	}
}

static pid_t start_worker(int listener, long max_requests, const sigset_t *orig_mask)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		struct sigaction dfl = { .sa_handler = SIG_DFL };
		sigemptyset(&dfl.sa_mask);
		sigaction(SIGTERM, &dfl, NULL);
		sigaction(SIGINT, &dfl, NULL);
		sigaction(SIGCHLD, &dfl, NULL);
		sigprocmask(SIG_SETMASK, orig_mask, NULL);
		serve(listener, max_requests);
	}
	printf("worker %d\n", (int)pid);
	return pid;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: prefork PORT WORKERS [MAX_REQUESTS]\n");
		return 2;
	}
	int port = atoi(argv[1]);
	int nworkers = atoi(argv[2]);
	long max_requests = argc > 3 ? atol(argv[3]) : 0;
	if (port <= 0 || port > 65535 || nworkers <= 0 || nworkers > MAX_WORKERS || max_requests < 0) {
		fprintf(stderr, "prefork: bad arguments\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	int listener = socket(AF_INET, SOCK_STREAM, 0);
	if (listener < 0)
		die("socket");
	int one = 1;
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(listener, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("bind");
	if (listen(listener, 64) < 0)
		die("listen");
	printf("listening %d\n", port);

	/* Signals are blocked except inside sigsuspend(), so none is lost between a check and the wait. */
	sigset_t blocked, orig_mask;
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGTERM);
	sigaddset(&blocked, SIGINT);
	sigaddset(&blocked, SIGCHLD);
	sigprocmask(SIG_BLOCK, &blocked, &orig_mask);
	struct sigaction sa = { .sa_handler = on_stop };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_child;
	sigaction(SIGCHLD, &sa, NULL);

	pid_t workers[MAX_WORKERS];
	for (int i = 0; i < nworkers; i++)
		workers[i] = start_worker(listener, max_requests, &orig_mask);

	sigset_t wait_mask = orig_mask;
	sigdelset(&wait_mask, SIGTERM);
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGCHLD);
	while (!stop_requested) {
		sigsuspend(&wait_mask);
		if (stop_requested)
			break;
		if (!child_exited)
			continue;
		child_exited = 0;
		pid_t pid;
		int status;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			for (int i = 0; i < nworkers; i++) {
				if (workers[i] == pid)
					workers[i] = start_worker(listener, max_requests, &orig_mask);
			}
		}
	}

	for (int i = 0; i < nworkers; i++)
		kill(workers[i], SIGTERM);
	for (int i = 0; i < nworkers; i++) {
		while (waitpid(workers[i], NULL, 0) < 0 && errno == EINTR)
			;
	}
	printf("exiting\n");
	return 0;
}
