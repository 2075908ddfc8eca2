/* udp-echo — a UDP echo server that publishes itself with libnatt's high-level API and prints its
 * public address whenever it changes (Racket nat-traversal's udp-bind!/public, in C).
 *
 *     udp-echo [PORT]        (default 9999; 0 lets the kernel choose)
 *
 * Stops on SIGINT/SIGTERM, deleting its mapping at the router. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <natt.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Runs in natt's thread: print every name the socket has now. */
static void on_change(struct natt_listener *listener, const struct natt_assignment *list, size_t count, void *ctx)
{
	(void)listener;
	(void)ctx;
	for (size_t i = 0; i < count; i++) {
		const char *how = list[i].technique == NATT_TECH_UPNP     ? "upnp"
		                  : list[i].technique == NATT_TECH_NATPMP ? "nat-pmp"
		                                                          : "local";
		printf("udp-echo: reachable at %s:%u (%s)\n", list[i].address, list[i].port, how);
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	int port = argc > 1 ? atoi(argv[1]) : 9999;
	if (port < 0 || port > 65535) {
		fprintf(stderr, "udp-echo: bad port %s\n", argv[1]);
		return 2;
	}
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror("udp-echo: bind");
		return 1;
	}
	struct natt_listener *listener;
	int rc = natt_listener_publish_socket(fd, on_change, NULL, &listener);
	if (rc < 0) {
		fprintf(stderr, "udp-echo: cannot publish: %s\n", natt_strerror(rc));
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	char buf[2048];
	while (!stop) {
		struct sockaddr_storage from;
		socklen_t len = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("udp-echo: recvfrom");
			break;
		}
		sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, len);
	}
	char why[192];
	if (natt_listener_state(listener, why, sizeof(why)) != NATT_STATE_PUBLISHED && why[0])
		fprintf(stderr, "udp-echo: was not published: %s\n", why);
	rc = natt_listener_stop(listener, 5000);
	close(fd);
	return rc < 0 ? 1 : 0;
}
