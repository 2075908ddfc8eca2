/* sigview — what a program sees of its signal handlers under natt, and publishing from inside them:
 *
 *   sigview ADDR PORT1 PORT2
 *
 * 1. sigaction() reports the program's own SA_SIGINFO handler, flags and mask back ("view ok");
 * 2. signal() returns the previous handler ("signal ok");
 * 3. a sysv_signal() handler (SA_RESETHAND) runs once, after which SIG_DFL is reported ("resethand ok");
 * 4. the process's first published socket is made in a handler: TCP on ADDR:PORT1, bind() and listen()
 *    inside it ("handler listened");
 * 5. a handler left by siglongjmp(), then a TCP listen() on ADDR:PORT2 outside any handler
 *    ("jumped").
 * Then "ready", and it exits 0 at its first line of input. A check that fails prints "FAIL what" and
 * exits 1.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct in_addr addr;
static int port1;
static volatile sig_atomic_t once_ran, handler_fd = -1;
static sigjmp_buf back;

static void fail(const char *what)
{
	printf("FAIL %s\n", what);
	exit(1);
}

static int listen_on(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr = addr };
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 4) < 0)
		return -1;
	return fd;
}

static void with_info(int sig, siginfo_t *info, void *context)
{
	(void)sig;
	(void)info;
	(void)context;
	handler_fd = listen_on(port1); /* bind() and listen() are async-signal-safe */
}

static void plain(int sig)
{
	(void)sig;
}

static void plain2(int sig)
{
	(void)sig;
}

static void once(int sig)
{
	(void)sig;
	once_ran++;
}

static void jump(int sig)
{
	(void)sig;
	siglongjmp(back, 1);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 4 || inet_pton(AF_INET, argv[1], &addr) != 1) {
		fprintf(stderr, "usage: sigview ADDR PORT1 PORT2\n");
		return 2;
	}
	port1 = atoi(argv[2]);
	int port2 = atoi(argv[3]);

	struct sigaction act = { .sa_sigaction = with_info, .sa_flags = SA_SIGINFO | SA_RESTART }, seen;
	sigemptyset(&act.sa_mask);
	sigaddset(&act.sa_mask, SIGUSR2);
	if (sigaction(SIGUSR1, &act, NULL) < 0 || sigaction(SIGUSR1, NULL, &seen) < 0)
		fail("sigaction");
	if (seen.sa_sigaction != with_info || (seen.sa_flags & (SA_SIGINFO | SA_RESTART)) != (SA_SIGINFO | SA_RESTART) ||
	    !sigismember(&seen.sa_mask, SIGUSR2))
		fail("view");
	printf("view ok\n");

	if (signal(SIGUSR2, plain) != SIG_DFL || signal(SIGUSR2, plain2) != plain)
		fail("signal");
	printf("signal ok\n");

	sysv_signal(SIGALRM, once);
	raise(SIGALRM);
	if (once_ran != 1 || signal(SIGALRM, SIG_IGN) != SIG_DFL)
		fail("resethand");
	printf("resethand ok\n");

	raise(SIGUSR1);
	if (handler_fd < 0)
		fail("listen in the handler");
	printf("handler listened\n");

	signal(SIGUSR2, jump);
	if (sigsetjmp(back, 1) == 0) {
		raise(SIGUSR2);
		fail("siglongjmp");
	}
	if (listen_on(port2) < 0)
		fail("listen after the jump");
	printf("jumped\n");
	printf("ready\n");

	char line[64]; /* until the first line of input, or its end */
	(void)(fgets(line, sizeof(line), stdin) != NULL);
	return 0;
}
