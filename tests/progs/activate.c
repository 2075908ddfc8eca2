/* activate — a minimal socket-activation launcher (what inetd, systemd or a supervisor do): it makes
 * the listening sockets itself, outside natt, and starts the server with them already open.
 *
 *   activate [--udp] [--listen-pid PID | --inetd] PORT -- PROGRAM [ARGS...]
 *
 * Makes a TCP socket listening on 0.0.0.0:PORT (with --udp: a UDP socket bound to 0.0.0.0:PORT) and
 * puts it on fd 3 without FD_CLOEXEC, sets LISTEN_FDS=1, LISTEN_PID=its own pid (the pid does not
 * change across exec; --listen-pid: PID instead, as when the variables were meant for another
 * process) and LISTEN_FDNAMES=activate, then execvp(PROGRAM, ARGS). Run it outside
 * natt-run and give it `natt-run ... server` as PROGRAM: the server starts with a socket it never
 * listened on itself. --inetd: as inetd's "wait" services, the socket is standard input (fd 0) and
 * no LISTEN_* variable is set. Errors go to stderr, exit status 1 (127 when exec fails).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "activate: %s: %s\n", what, strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	int udp = 0, i = 1;
	int inetd = 0;
	const char *listen_pid = NULL;
	if (i < argc && !strcmp(argv[i], "--udp")) {
		udp = 1;
		i++;
	}
	if (i + 1 < argc && !strcmp(argv[i], "--listen-pid")) {
		listen_pid = argv[i + 1];
		i += 2;
	} else if (i < argc && !strcmp(argv[i], "--inetd")) {
		inetd = 1;
		i++;
	}
	if (argc - i < 3 || strcmp(argv[i + 1], "--") != 0) {
		fprintf(stderr, "usage: activate [--udp] [--listen-pid PID | --inetd] PORT -- PROGRAM [ARGS...]\n");
		return 2;
	}
	int port = atoi(argv[i]);
	int fd = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("bind");
	if (!udp && listen(fd, 16) < 0)
		die("listen");
	int target = inetd ? 0 : 3;
	if (fd != target) {
		if (dup2(fd, target) < 0)
			die("dup2");
		close(fd);
	}
	if (!inetd) {
		char pid[32];
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		setenv("LISTEN_FDS", "1", 1);
		setenv("LISTEN_PID", listen_pid ? listen_pid : pid, 1);
		setenv("LISTEN_FDNAMES", "activate", 1);
	}
	execvp(argv[i + 2], argv + i + 2);
	fprintf(stderr, "activate: exec %s: %s\n", argv[i + 2], strerror(errno));
	return 127;
}
