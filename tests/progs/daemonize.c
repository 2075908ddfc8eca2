/* daemonize — a TCP server that listens first and daemonizes afterwards, as many daemons do (they
 * open their sockets while they can still report errors to the terminal):
 *
 *   daemonize [--close-fds | --daemon3] PIDFILE PORT
 *
 * Listens on 0.0.0.0:PORT and prints "listening PORT", then forks: the parent exits at once through
 * exit() (atexit handlers run, as in a real program), the child calls setsid(), changes to /, points
 * stdin, stdout and stderr at /dev/null, writes its pid to PIDFILE (atomically: a temporary file
 * renamed) and serves: every connection gets an HTTP/1.0 response whose body is "daemon PID\n".
 *
 * --close-fds: before writing the pid file, the child also closes every other descriptor from 3 up
 * (one close() each, the traditional way), keeping only the listening socket.
 * --daemon3: glibc's daemon(0, 0) does the forking, setsid, chdir and /dev/null redirection instead
 * (its internal fork and dup2 go past any hook); the daemon then makes no call natt hooks.
 *
 * The daemon keeps SIGTERM at its default action. Errors before the fork go to stderr, exit status 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "daemonize: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void close_other_fds(int keep)
{
	struct rlimit rl;
	long max = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		max = (long)rl.rlim_cur;
	if (max > 65536)
		max = 65536;
	for (long fd = 3; fd < max; fd++) {
		if (fd != keep)
			close((int)fd);
	}
}

static void write_pidfile(const char *path)
{
	char tmp[4096], line[32];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		_exit(1);
	int len = snprintf(line, sizeof(line), "%d\n", (int)getpid());
	if (write(fd, line, (size_t)len) != len || close(fd) < 0 || rename(tmp, path) < 0)
		_exit(1);
}

static void serve(int listener)
{
	char reply[128], request[4096], body[64];
	for (;;) {
		int conn = accept(listener, NULL, NULL);
		if (conn < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			_exit(1);
		}
		ssize_t got = read(conn, request, sizeof(request));
		(void)got;
		int body_len = snprintf(body, sizeof(body), "daemon %d\n", (int)getpid());
		int len = snprintf(reply, sizeof(reply),
		                   "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
		                   "Connection: close\r\n\r\n%s",
		                   body_len, body);
		ssize_t sent = write(conn, reply, (size_t)len);
		(void)sent;
		close(conn);
	}
}

int main(int argc, char **argv)
{
	int close_fds = 0, daemon3 = 0;
	if (argc > 1 && strcmp(argv[1], "--close-fds") == 0) {
		close_fds = 1;
		argv++;
		argc--;
	} else if (argc > 1 && strcmp(argv[1], "--daemon3") == 0) {
		daemon3 = 1;
		argv++;
		argc--;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: daemonize [--close-fds | --daemon3] PIDFILE PORT\n");
		return 2;
	}
	const char *pidfile = argv[1];
	int port = atoi(argv[2]);
	if (port <= 0 || port > 65535) {
		fprintf(stderr, "daemonize: bad port\n");
		return 2;
	}

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
	fflush(stdout);

	if (daemon3) {
		/* the parent leaves through _exit() inside daemon() */
		if (daemon(0, 0) < 0)
			die("daemon");
		write_pidfile(pidfile);
		serve(listener);
		return 0;
	}
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid > 0)
		exit(0);

	setsid();
	if (chdir("/") < 0)
		_exit(1);
	int null = open("/dev/null", O_RDWR);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		if (null > 2)
			close(null);
	}
	if (close_fds)
		close_other_fds(listener);
	write_pidfile(pidfile);
	serve(listener);
	return 0;
}
