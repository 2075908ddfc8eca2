/* sockctl — a server driven line by line from stdin, so tests can make a program create, copy and
 * end sockets in any order and watch natt follow. Each command prints one reply line ("ERR ..." on
 * failure, with errno's name).
 *
 *   tcp ADDR PORT [v6only]   socket(SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK), bind, listen -> "FD PORT"
 *   udp ADDR PORT [v6only]   socket(SOCK_DGRAM|SOCK_CLOEXEC), bind -> "FD PORT"
 *   listen-unbound           TCP listen() without bind (the kernel picks the port) -> "FD PORT"
 *   tcp-then STEP ADDR PORT  tcp, and at once (before natt's manager can look at the socket) STEP:
 *                            dup-close: dup() it and close the original -> "COPY PORT";
 *                            close: close it -> "ok";
 *                            fork-hold: fork a child that keeps it, as fork-hold 600 -> "FD PORT child PID"
 *   close FD | dup FD | dup2 A B | dup3 A B | dupfd FD MIN | dupfd-cloexec FD MIN
 *   close-range A B [cloexec] | closefrom N
 *   fork-close FD            a child closes its copy of FD and exits; the parent waits -> "ok"
 *   exit CODE | _exit CODE | _Exit CODE   end the process
 *   sleep SECONDS            sleep, then "ok"
 *   echo                     serve: accept TCP / answer UDP on all sockets made so far (forever)
 *
 * More commands, for the semantics suites (tests/bats/6*-*.bats):
 *   option reuseport|cloexec on|off   for the sockets made from now on: SO_REUSEPORT (default off),
 *                            SOCK_CLOEXEC (default on) -> "ok"
 *   cloexec FD on|off        sets or clears FD_CLOEXEC on FD -> "ok"
 *   sys-close FD             closes FD with syscall(SYS_close): a path no hook sees -> "ok"
 *   fclose FD                fdopen(FD) then fclose(): glibc closes FD internally -> "ok"
 *   open PATH                open(PATH, O_RDONLY) (no O_CLOEXEC) -> "FD"
 *   close-each A B           close() on every fd from A to B -> "ok CLOSED" (how many were open)
 *   fds                      the process's open fds, ascending, space-separated
 *   adopt FD                 serve FD too (one the process started with) -> "ok"
 *   exec PATH [ARGS...]      execv(PATH, {PATH, ARGS}); nothing on success, "ERR exec ..." if it failed
 *   vfork-exec PATH [ARGS...]  vfork(), the child execv()s (or _exit(127)s); -> "ok STATUS"
 *   spawn PATH [ARGS...]     posix_spawn() and wait -> "ok STATUS"
 *   fork-hold FD SECONDS     a child keeps its copy of every fd, sleeps SECONDS, closes FD and exits
 *                            through exit(); the parent does not wait -> "child PID"
 *   reap                     waits for every child started by fork-hold or spawn-hold -> "ok N"
 *   vfork-close FD           vfork(); the child closes FD and _exit(0)s; the parent waits -> "ok"
 *   spawn-hold SECONDS       posix_spawn("/bin/sleep", SECONDS): the child keeps every fd that is not
 *                            CLOEXEC; the parent does not wait -> "child PID"
 *   sigquery SIG             what sigaction(SIG, NULL, &old) reports -> "default", "ignore" or "handler"
 *   in-handler tcp|udp ADDR PORT   a SIGUSR2 handler (installed now, raised at once) makes the socket
 *                            of "tcp ADDR PORT" or "udp ADDR PORT" -> "FD PORT"
 *   tcp-threads N ADDR PORT  N threads at once (released together) each make the socket of
 *                            "tcp ADDR PORT+i" -> "ok N" (how many were made)
 *   pid                      -> "PID"
 *   sigchld-watch            counts the SIGCHLD signals delivered from now on -> "ok"
 *   children                 SIGCHLD signals counted, and what waitpid(-1, WNOHANG) says (a pid, 0
 *                            for children still running, ECHILD for none) -> "sigchld N wait W"
 *
 * Started as `sockctl --banner`, it first prints "ready PID" (so a test sees that an exec happened).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <netinet/in.h>
#include <pthread.h>
#include <poll.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int made[256];
static int made_count;
static int opt_reuseport;
static int opt_cloexec = 1;

static void reply_errno(const char *what)
{
	printf("ERR %s %s\n", what, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
}

static int make_socket(int type, const char *addr, int port, int v6only, int do_listen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof(ss));
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
			return errno = EINVAL, -1;
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
			return errno = EINVAL, -1;
		len = sizeof(*sin6);
	}
	int fd = socket(family, type | (opt_cloexec ? SOCK_CLOEXEC : 0) | (type == SOCK_STREAM ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (opt_reuseport)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || (do_listen && listen(fd, 16) < 0)) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static int port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	return ss.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
	                               : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void remember(int fd)
{
	if (made_count < 256)
		made[made_count++] = fd;
}

static pid_t held[64];
static int held_count;

static void tcp_then(const char *step, const char *addr, int port)
{
	int fd = make_socket(SOCK_STREAM, addr, port, 0, 1);
	if (fd < 0) {
		reply_errno("tcp-then");
		return;
	}
	if (!strcmp(step, "dup-close")) {
		int copy = dup(fd);
		close(fd);
		if (copy < 0) {
			reply_errno("tcp-then dup");
			return;
		}
		remember(copy);
		printf("%d %d\n", copy, port_of(copy));
	} else if (!strcmp(step, "close")) {
		close(fd);
		printf("ok\n");
	} else if (!strcmp(step, "fork-hold")) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			sleep(600);
			close(fd);
			exit(0);
		}
		if (pid < 0) {
			reply_errno("tcp-then fork");
			return;
		}
		remember(fd);
		if (held_count < 64)
			held[held_count++] = pid;
		printf("%d %d child %d\n", fd, port_of(fd), (int)pid);
	} else {
		close(fd);
		errno = EINVAL;
		reply_errno("tcp-then");
	}
}

static void serve(void)
{
	struct pollfd fds[256];
	for (;;) {
		for (int i = 0; i < made_count; i++)
			fds[i] = (struct pollfd){ .fd = made[i], .events = POLLIN };
		if (poll(fds, (nfds_t)made_count, -1) < 0)
			continue;
		for (int i = 0; i < made_count; i++) {
			if (!(fds[i].revents & POLLIN))
				continue;
			int type = 0;
			socklen_t len = sizeof(type);
			getsockopt(made[i], SOL_SOCKET, SO_TYPE, &type, &len);
			char buf[2048];
			if (type == SOCK_STREAM) {
				int c = accept4(made[i], NULL, NULL, SOCK_CLOEXEC);
				if (c >= 0) {
					const char *hello = "hello from sockctl\n";
					ssize_t ignored = write(c, hello, strlen(hello));
					(void)ignored;
					close(c);
				}
			} else {
				struct sockaddr_storage from;
				socklen_t flen = sizeof(from);
				ssize_t n = recvfrom(made[i], buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
				if (n > 0)
					sendto(made[i], buf, (size_t)n, 0, (struct sockaddr *)&from, flen);
			}
		}
	}
}

/* Splits the words after the command into argv (at most 15); returns how many. */
static int split_args(char *line, char **argv)
{
	int n = 0;
	char *save = NULL;
	char *word = strtok_r(line, " \t\n", &save); /* the command itself */
	while (word && n < 15 && (word = strtok_r(NULL, " \t\n", &save)))
		argv[n++] = word;
	argv[n] = NULL;
	return n;
}

static void print_fds(void)
{
	char out[4096] = "";
	size_t used = 0;
	int list[1024], count = 0;
	DIR *dir = opendir("/proc/self/fd");
	if (!dir) {
		reply_errno("fds");
		return;
	}
	struct dirent *d;
	while ((d = readdir(dir)) && count < 1024) {
		if (d->d_name[0] == '.' || atoi(d->d_name) == dirfd(dir))
			continue;
		list[count++] = atoi(d->d_name);
	}
	closedir(dir);
	for (int i = 1; i < count; i++) /* insertion sort: few fds */
		for (int j = i; j > 0 && list[j - 1] > list[j]; j--) {
			int t = list[j];
			list[j] = list[j - 1];
			list[j - 1] = t;
		}
	for (int i = 0; i < count && used < sizeof(out) - 16; i++)
		used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%d", i ? " " : "", list[i]);
	printf("%s\n", out);
}

static volatile sig_atomic_t sigchld_seen;

static void count_sigchld(int sig)
{
	(void)sig;
	sigchld_seen++;
}

static char handler_addr[64];
static int handler_type, handler_port, handler_fd = -1, handler_errno;

static void make_in_handler(int sig)
{
	(void)sig;
	handler_fd = make_socket(handler_type, handler_addr, handler_port, 0, handler_type == SOCK_STREAM);
	handler_errno = errno;
}

struct racer {
	pthread_barrier_t *start;
	const char *addr;
	int port, fd;
};

static void *race_to_listen(void *arg)
{
	struct racer *r = arg;
	pthread_barrier_wait(r->start);
	r->fd = make_socket(SOCK_STREAM, r->addr, r->port, 0, 1);
	return NULL;
}

/* N threads make their first listening sockets at the same moment. */
static void tcp_threads(int n, const char *addr, int port)
{
	struct racer racers[64];
	pthread_t threads[64];
	pthread_barrier_t start;
	if (n < 1 || n > 64) {
		printf("ERR usage: tcp-threads N(1-64) ADDR PORT\n");
		return;
	}
	pthread_barrier_init(&start, NULL, (unsigned)n);
	for (int i = 0; i < n; i++) {
		racers[i] = (struct racer){ &start, addr, port + i, -1 };
		pthread_create(&threads[i], NULL, race_to_listen, &racers[i]);
	}
	int made_now = 0;
	for (int i = 0; i < n; i++) {
		pthread_join(threads[i], NULL);
		if (racers[i].fd >= 0) {
			remember(racers[i].fd);
			made_now++;
		}
	}
	pthread_barrier_destroy(&start);
	printf("ok %d\n", made_now);
}

/* The commands added for the semantics suites; returns 0 when cmd is none of them. */
static int more_commands(const char *cmd, char *line, int x, int y, const char *b)
{
	char *argv[16];
	int rc;
	if (!strcmp(cmd, "option")) {
		char name[32] = "", value[8] = "";
		sscanf(line, "%*s %31s %7s", name, value);
		int on = !strcmp(value, "on");
		if (!strcmp(name, "reuseport"))
			opt_reuseport = on;
		else if (!strcmp(name, "cloexec"))
			opt_cloexec = on;
		else {
			printf("ERR unknown option %s\n", name);
			return 1;
		}
		printf("ok\n");
	} else if (!strcmp(cmd, "cloexec")) {
		rc = fcntl(x, F_SETFD, !strcmp(b, "on") ? FD_CLOEXEC : 0);
		rc < 0 ? reply_errno(cmd) : (void)printf("ok\n");
	} else if (!strcmp(cmd, "sys-close")) {
		rc = (int)syscall(SYS_close, x);
		rc < 0 ? reply_errno(cmd) : (void)printf("ok\n");
	} else if (!strcmp(cmd, "fclose")) {
		FILE *f = fdopen(x, "r");
		if (!f) {
			reply_errno(cmd);
			return 1;
		}
		rc = fclose(f);
		rc != 0 ? reply_errno(cmd) : (void)printf("ok\n");
	} else if (!strcmp(cmd, "open")) {
		if (split_args(line, argv) < 1) {
			printf("ERR open needs a path\n");
			return 1;
		}
		rc = open(argv[0], O_RDONLY);
		rc < 0 ? reply_errno(cmd) : (void)printf("%d\n", rc);
	} else if (!strcmp(cmd, "close-each")) {
		int closed = 0;
		for (int fd = x; fd <= y; fd++)
			if (close(fd) == 0)
				closed++;
		printf("ok %d\n", closed);
	} else if (!strcmp(cmd, "fds")) {
		print_fds();
	} else if (!strcmp(cmd, "adopt")) {
		remember(x);
		printf("ok\n");
	} else if (!strcmp(cmd, "exec")) {
		if (split_args(line, argv) < 1) {
			printf("ERR exec needs a path\n");
			return 1;
		}
		fflush(stdout);
		execv(argv[0], argv);
		reply_errno(cmd);
	} else if (!strcmp(cmd, "vfork-exec") || !strcmp(cmd, "spawn")) {
		if (split_args(line, argv) < 1) {
			printf("ERR %s needs a path\n", cmd);
			return 1;
		}
		fflush(stdout);
		pid_t pid;
		if (!strcmp(cmd, "spawn")) {
			rc = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
			if (rc != 0) {
				errno = rc;
				reply_errno(cmd);
				return 1;
			}
		} else {
			pid = vfork();
			if (pid == 0) {
				execv(argv[0], argv);
				_exit(127);
			}
			if (pid < 0) {
				reply_errno(cmd);
				return 1;
			}
		}
		int status = 0;
		waitpid(pid, &status, 0);
		printf("ok %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	} else if (!strcmp(cmd, "fork-hold")) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			sleep((unsigned)y);
			close(x);
			exit(0);
		}
		if (pid < 0) {
			reply_errno(cmd);
			return 1;
		}
		if (held_count < 64)
			held[held_count++] = pid;
		printf("child %d\n", (int)pid);
	} else if (!strcmp(cmd, "vfork-close")) {
		pid_t pid = vfork();
		if (pid == 0) {
			close(x);
			_exit(0);
		}
		if (pid < 0) {
			reply_errno(cmd);
			return 1;
		}
		waitpid(pid, NULL, 0);
		printf("ok\n");
	} else if (!strcmp(cmd, "spawn-hold")) {
		char seconds[16];
		snprintf(seconds, sizeof(seconds), "%d", x);
		char *args[] = { "/bin/sleep", seconds, NULL };
		pid_t pid;
		rc = posix_spawn(&pid, args[0], NULL, NULL, args, environ);
		if (rc != 0) {
			errno = rc;
			reply_errno(cmd);
			return 1;
		}
		if (held_count < 64)
			held[held_count++] = pid;
		printf("child %d\n", (int)pid);
	} else if (!strcmp(cmd, "sigquery")) {
		struct sigaction old;
		if (sigaction(x, NULL, &old) < 0) {
			reply_errno(cmd);
			return 1;
		}
		printf("%s\n", old.sa_handler == SIG_DFL ? "default" : old.sa_handler == SIG_IGN ? "ignore" : "handler");
	} else if (!strcmp(cmd, "reap")) {
		int n = 0;
		for (int i = 0; i < held_count; i++)
			if (waitpid(held[i], NULL, 0) == held[i])
				n++;
		held_count = 0;
		printf("ok %d\n", n);
	} else if (!strcmp(cmd, "pid")) {
		printf("%d\n", (int)getpid());
	} else if (!strcmp(cmd, "sigchld-watch")) {
		struct sigaction sa = { .sa_handler = count_sigchld, .sa_flags = SA_RESTART };
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGCHLD, &sa, NULL) < 0) {
			reply_errno(cmd);
			return 1;
		}
		printf("ok\n");
	} else if (!strcmp(cmd, "in-handler")) {
		struct sigaction sa = { .sa_handler = make_in_handler };
		sigemptyset(&sa.sa_mask);
		char type[8] = "";
		if (sscanf(line, "%*s %7s %63s %d", type, handler_addr, &handler_port) != 3 ||
		    (strcmp(type, "tcp") != 0 && strcmp(type, "udp") != 0)) {
			printf("ERR usage: in-handler tcp|udp ADDR PORT\n");
			return 1;
		}
		handler_type = strcmp(type, "tcp") == 0 ? SOCK_STREAM : SOCK_DGRAM;
		if (sigaction(SIGUSR2, &sa, NULL) < 0 || raise(SIGUSR2) != 0) {
			reply_errno(cmd);
			return 1;
		}
		if (handler_fd < 0) {
			errno = handler_errno;
			reply_errno(cmd);
			return 1;
		}
		remember(handler_fd);
		printf("%d %d\n", handler_fd, port_of(handler_fd));
	} else if (!strcmp(cmd, "tcp-threads")) {
		char addr[64] = "";
		int n = 0, port = 0;
		if (sscanf(line, "%*s %d %63s %d", &n, addr, &port) != 3)
			printf("ERR usage: tcp-threads N ADDR PORT\n");
		else
			tcp_threads(n, addr, port);
	} else if (!strcmp(cmd, "children")) {
		pid_t pid = waitpid(-1, NULL, WNOHANG);
		if (pid < 0 && errno == ECHILD)
			printf("sigchld %d wait ECHILD\n", (int)sigchld_seen);
		else
			printf("sigchld %d wait %d\n", (int)sigchld_seen, (int)pid);
	} else {
		return 0;
	}
	return 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "--banner"))
		printf("ready %d\n", (int)getpid());
	char line[256];
	while (fgets(line, sizeof(line), stdin)) {
		char cmd[32] = "", a[64] = "", b[64] = "", c[64] = "";
		int n = sscanf(line, "%31s %63s %63s %63s", cmd, a, b, c);
		if (n < 1)
			continue;
		int x = atoi(a), y = atoi(b), rc;
		if (!strcmp(cmd, "tcp") || !strcmp(cmd, "udp")) {
			int fd = make_socket(!strcmp(cmd, "tcp") ? SOCK_STREAM : SOCK_DGRAM, a, y, !strcmp(c, "v6only"),
			                     !strcmp(cmd, "tcp"));
			if (fd < 0)
				reply_errno(cmd);
			else {
				remember(fd);
				printf("%d %d\n", fd, port_of(fd));
			}
		} else if (!strcmp(cmd, "tcp-then")) {
			tcp_then(a, b, atoi(c));
		} else if (!strcmp(cmd, "listen-unbound")) {
			int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (fd < 0 || listen(fd, 16) < 0)
				reply_errno(cmd);
			else {
				remember(fd);
				printf("%d %d\n", fd, port_of(fd));
			}
		} else if (!strcmp(cmd, "close")) {
			rc = close(x);
			rc < 0 ? reply_errno(cmd) : (void)printf("ok\n");
		} else if (!strcmp(cmd, "dup")) {
			rc = dup(x);
			rc < 0 ? reply_errno(cmd) : (void)printf("%d\n", rc);
		} else if (!strcmp(cmd, "dup2")) {
			rc = dup2(x, y);
			rc < 0 ? reply_errno(cmd) : (void)printf("%d\n", rc);
		} else if (!strcmp(cmd, "dup3")) {
			rc = dup3(x, y, O_CLOEXEC);
			rc < 0 ? reply_errno(cmd) : (void)printf("%d\n", rc);
		} else if (!strcmp(cmd, "dupfd") || !strcmp(cmd, "dupfd-cloexec")) {
			rc = fcntl(x, !strcmp(cmd, "dupfd") ? F_DUPFD : F_DUPFD_CLOEXEC, y);
			rc < 0 ? reply_errno(cmd) : (void)printf("%d\n", rc);
		} else if (!strcmp(cmd, "close-range")) {
			rc = close_range((unsigned)x, (unsigned)y, !strcmp(c, "cloexec") ? CLOSE_RANGE_CLOEXEC : 0);
			rc < 0 ? reply_errno(cmd) : (void)printf("ok\n");
		} else if (!strcmp(cmd, "closefrom")) {
			closefrom(x);
			printf("ok\n");
		} else if (!strcmp(cmd, "fork-close")) {
			pid_t pid = fork();
			if (pid == 0) {
				close(x);
				_exit(0);
			}
			int status;
			waitpid(pid, &status, 0);
			printf("ok\n");
		} else if (!strcmp(cmd, "sleep")) {
			sleep((unsigned)x);
			printf("ok\n");
		} else if (!strcmp(cmd, "exit")) {
			exit(x);
		} else if (!strcmp(cmd, "_exit")) {
			_exit(x);
		} else if (!strcmp(cmd, "_Exit")) {
			_Exit(x);
		} else if (!strcmp(cmd, "echo")) {
			printf("serving\n");
			serve();
		} else if (!more_commands(cmd, line, x, y, b)) {
			printf("ERR unknown command %s\n", cmd);
		}
	}
	return 0;
}
