/* listen_exec — listens, then replaces itself with another program, for the exec exit path.
 *
 *   listen_exec PORT PROGRAM [ARGS...]
 *
 * Makes a TCP socket listening on 0.0.0.0:PORT and a UDP socket bound to the same port, both
 * SOCK_CLOEXEC (so exec closes them), prints "listening PORT", waits for one line on stdin, then
 * execv(PROGRAM, ARGS). If exec fails it prints "ERR exec ERRNO" and exits 127.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int make(int type, int port)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || (type == SOCK_STREAM && listen(fd, 16) < 0))
		return -1;
	return fd;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: listen_exec PORT PROGRAM [ARGS...]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	int port = atoi(argv[1]);
	if (make(SOCK_STREAM, port) < 0 || make(SOCK_DGRAM, port) < 0) {
		printf("ERR socket %s\n", strerrorname_np(errno) ? strerrorname_np(errno) : "?");
		return 1;
	}
	printf("listening %d\n", port);
	char line[64];
	if (!fgets(line, sizeof(line), stdin))
		return 0;
	execv(argv[2], argv + 2);
	printf("ERR exec %s\n", strerrorname_np(errno) ? strerrorname_np(errno) : "?");
	return 127;
}
