/* echoserv — a server that ends when its input does, so tests can stop it without a signal.
 *
 *   echoserv tcp:PORT|udp:PORT...
 *
 * Listens on 0.0.0.0:PORT for each TCP argument (answers each connection with "hello from echoserv"
 * and closes it) and binds 0.0.0.0:PORT for each UDP argument (echoes every datagram), prints
 * "serving" once all sockets exist, and returns from main (status 0) on a line "quit" or at the end
 * of its standard input — or exits with status 1 at once if a socket cannot be made ("ERR ...").
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_SOCKETS 64

int main(int argc, char **argv)
{
	struct pollfd fds[MAX_SOCKETS + 1];
	int types[MAX_SOCKETS + 1];
	int n = 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	fds[0] = (struct pollfd){ .fd = 0, .events = POLLIN };
	for (int i = 1; i < argc && n <= MAX_SOCKETS; i++) {
		int type = strncmp(argv[i], "udp:", 4) == 0 ? SOCK_DGRAM : SOCK_STREAM;
		const char *colon = strchr(argv[i], ':');
		int port = atoi(colon ? colon + 1 : argv[i]);
		int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
		int one = 1;
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		sin.sin_addr.s_addr = htonl(INADDR_ANY);
		if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || (type == SOCK_STREAM && listen(fd, 16) < 0)) {
			printf("ERR %s %s\n", argv[i], strerrorname_np(errno) ? strerrorname_np(errno) : "?");
			return 1;
		}
		fds[n] = (struct pollfd){ .fd = fd, .events = POLLIN };
		types[n++] = type;
	}
	printf("serving\n");
	for (;;) {
		if (poll(fds, (nfds_t)n, -1) < 0)
			continue;
		if (fds[0].revents) {
			char buf[256];
			ssize_t got = read(0, buf, sizeof(buf) - 1);
			if (got <= 0)
				return 0;
			buf[got] = '\0';
			if (strstr(buf, "quit"))
				return 0;
		}
		for (int i = 1; i < n; i++) {
			if (!(fds[i].revents & POLLIN))
				continue;
			if (types[i] == SOCK_STREAM) {
				int c = accept4(fds[i].fd, NULL, NULL, SOCK_CLOEXEC);
				if (c >= 0) {
					const char *hello = "hello from echoserv\n";
					ssize_t ignored = write(c, hello, strlen(hello));
					(void)ignored;
					close(c);
				}
			} else {
				char buf[2048];
				struct sockaddr_storage from;
				socklen_t flen = sizeof(from);
				ssize_t got = recvfrom(fds[i].fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &flen);
				if (got > 0)
					sendto(fds[i].fd, buf, (size_t)got, 0, (struct sockaddr *)&from, flen);
			}
		}
	}
}
