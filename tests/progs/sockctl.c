/* sockctl — a server driven line by line from stdin, so tests can make a program create, copy and
 * end sockets in any order and watch natt follow. Each command prints one reply line ("ERR ..." on
 * failure, with errno's name).
 *
 *   tcp ADDR PORT [v6only]   socket(SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK), bind, listen -> "FD PORT"
 *   udp ADDR PORT [v6only]   socket(SOCK_DGRAM|SOCK_CLOEXEC), bind -> "FD PORT"
 *   listen-unbound           TCP listen() without bind (the kernel picks the port) -> "FD PORT"
 *   close FD | dup FD | dup2 A B | dup3 A B | dupfd FD MIN | dupfd-cloexec FD MIN
 *   close-range A B [cloexec] | closefrom N
 *   fork-close FD            a child closes its copy of FD and exits; the parent waits -> "ok"
 *   exit CODE | _exit CODE   end the process
 *   sleep SECONDS            sleep, then "ok"
 *   echo                     serve: accept TCP / answer UDP on all sockets made so far (forever)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int made[256];
static int made_count;

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
	int fd = socket(family, type | SOCK_CLOEXEC | (type == SOCK_STREAM ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
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

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
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
		} else if (!strcmp(cmd, "echo")) {
			printf("serving\n");
			serve();
		} else {
			printf("ERR unknown command %s\n", cmd);
		}
	}
	return 0;
}
