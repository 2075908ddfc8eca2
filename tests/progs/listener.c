/* listener — drives libnatt's high-level API (natt/listener.h) from stdin for the tests.
 *     listener socket tcp|udp PORT          a socket on 0.0.0.0:PORT, published with
 *                                           natt_listener_publish_socket(); TCP listens and answers
 *                                           each connection with "hello from listener", UDP echoes
 *     listener address tcp|udp ADDR PORT    natt_listener_publish() of (protocol, ADDR:PORT), no socket
 * Each callback prints one line on stderr: "change STATE NAME..." where a NAME is TECHNIQUE:ADDRESS:PORT
 * (technique local, upnp, nat-pmp or pcp). Commands, one reply line each on stdout:
 *     state         "state STATE[: REASON]" from natt_listener_state()
 *     assignments   "assignments N NAME..." from natt_listener_assignments()
 *     stop          "stopped RC" from natt_listener_stop(); the program goes on reading commands
 *     threads       "threads N": the threads of this process (1 once natt's thread has ended)
 *     closefrom     "closed": closefrom(3), as daemons do (natt's descriptors too: libnatt has no
 *                   hook to keep them); the socket is gone then
 *     fork PORT     "forked PID": a child that publishes a TCP socket on PORT the same way (its own
 *                   manager: the fork handlers must have reset the engine); on SIGTERM it stops that
 *                   listener and exits (status 0 when the stop succeeded)
 *     cpu           "cpu MS": CPU time this process has used (user + system), milliseconds
 *     exit          returns from main without stopping (natt deletes the mappings at exit)
 * With LISTENER_SLOW_WAKE set, the main thread's first 8-byte write() to an eventfd (libnatt waking
 * its manager as it publishes) returns only once a callback has run (10 s at most), and says so on
 * stderr: "slow wake: a callback came first" (or "no callback"). So the manager works and calls back
 * before the publishing call returns, as when that thread loses its CPU there on a loaded machine. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <natt.h>

#include "threads.h"

static const char *technique_name(enum natt_technique t)
{
	return t == NATT_TECH_UPNP ? "upnp" : t == NATT_TECH_NATPMP ? "nat-pmp" : t == NATT_TECH_PCP ? "pcp" : "local";
}

/* " TECHNIQUE:ADDRESS:PORT" for each assignment, into buf. */
static void names(const struct natt_assignment *list, size_t n, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++) {
		int w = snprintf(buf + used, len - used, " %s:%s:%u", technique_name(list[i].technique), list[i].address,
		                 list[i].port);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static const char *const state_names[] = { "pending", "published", "failed", "local-only" };

static atomic_bool callback_ran;

/* libnatt is linked in statically: its write() calls come here (see LISTENER_SLOW_WAKE above). */
ssize_t write(int fd, const void *buf, size_t n)
{
	static atomic_bool slowed;
	ssize_t rc = (ssize_t)syscall(SYS_write, fd, buf, n);
	if (n != 8 || syscall(SYS_gettid) != getpid() || !getenv("LISTENER_SLOW_WAKE") || atomic_load(&slowed))
		return rc;
	int saved_errno = errno;
	char path[64], target[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t len = readlink(path, target, sizeof(target) - 1);
	if (len >= 0 && (target[len] = '\0', strcmp(target, "anon_inode:[eventfd]") == 0)) {
		atomic_store(&slowed, true);
		for (int i = 0; i < 1000 && !atomic_load(&callback_ran); i++)
			usleep(10000);
		fprintf(stderr, "slow wake: %s\n", atomic_load(&callback_ran) ? "a callback came first" : "no callback");
	}
	errno = saved_errno;
	return rc;
}

/* (natt_listener_state() may be called from the callback.) */
static void on_change(struct natt_listener *listener, const struct natt_assignment *list, size_t n, void *ctx)
{
	(void)ctx;
	char text[1024];
	names(list, n, text, sizeof(text));
	int state = natt_listener_state(listener, NULL, 0);
	fprintf(stderr, "change %s%s\n", state >= 0 ? state_names[state] : "?", text);
	atomic_store(&callback_ran, true);
}

static void reply_state(struct natt_listener *l)
{
	char why[192];
	int state = natt_listener_state(l, why, sizeof(why));
	if (state < 0)
		printf("state error %s\n", natt_strerror(state));
	else
		printf("state %s%s%s\n", state_names[state], why[0] ? ": " : "", why);
}

static void reply_assignments(struct natt_listener *l)
{
	struct natt_assignment list[16];
	size_t n = natt_listener_assignments(l, list, 16);
	char text[1024];
	names(list, n < 16 ? n : 16, text, sizeof(text));
	printf("assignments %zu%s\n", n, text);
}

/* The local socket of "socket" mode, bound to 0.0.0.0:port (listening for TCP), or -1. */
static int open_server(int type, int port)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1;
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || (type == SOCK_STREAM && listen(fd, 8) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void serve(int fd, bool tcp)
{
	if (tcp) {
		int c = accept(fd, NULL, NULL);
		if (c >= 0) {
			static const char hello[] = "hello from listener\n";
			ssize_t ignored = write(c, hello, sizeof(hello) - 1);
			(void)ignored;
			close(c);
		}
		return;
	}
	char buf[1500];
	struct sockaddr_storage from;
	socklen_t len = sizeof(from);
	ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
	if (n > 0)
		sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, len);
}

int main(int argc, char **argv)
{
	bool by_socket = argc == 4 && !strcmp(argv[1], "socket");
	if (!by_socket && !(argc == 5 && !strcmp(argv[1], "address"))) {
		fprintf(stderr, "usage: listener socket tcp|udp PORT | listener address tcp|udp ADDRESS PORT\n");
		return 2;
	}
	setvbuf(stderr, NULL, _IOLBF, 0);
	setvbuf(stdin, NULL, _IONBF, 0); /* poll() must see every command: none may wait in a buffer */
	bool tcp = !strcmp(argv[2], "tcp");
	struct natt_listener *l = NULL;
	int fd = -1, rc;
	if (by_socket) {
		fd = open_server(tcp ? SOCK_STREAM : SOCK_DGRAM, atoi(argv[3]));
		if (fd < 0) {
			perror("listener: socket");
			return 1;
		}
		rc = natt_listener_publish_socket(fd, on_change, NULL, &l);
	} else {
		struct sockaddr_storage local;
		if (natt_addr_parse(argv[3], &local) < 0) {
			fprintf(stderr, "listener: bad address %s\n", argv[3]);
			return 2;
		}
		((struct sockaddr_in *)&local)->sin_port = htons((uint16_t)atoi(argv[4])); /* IPv4 or v6: same place */
		rc = natt_listener_publish(tcp ? NATT_TCP : NATT_UDP, (struct sockaddr *)&local, on_change, NULL, &l);
	}
	if (rc < 0) {
		printf("error %s\n", natt_strerror(rc));
		return 1;
	}
	printf("published\n");
	fflush(stdout);
	char line[64];
	for (;;) {
		struct pollfd pfd[2] = { { .fd = STDIN_FILENO, .events = POLLIN }, { .fd = fd, .events = POLLIN } };
		if (poll(pfd, fd >= 0 ? 2 : 1, -1) < 0)
			continue;
		if (pfd[1].revents)
			serve(fd, tcp);
		if (!pfd[0].revents)
			continue;
		if (!fgets(line, sizeof(line), stdin))
			break;
		if (!strncmp(line, "state", 5))
			reply_state(l);
		else if (!strncmp(line, "assignments", 11))
			reply_assignments(l);
		else if (!strncmp(line, "stop", 4)) {
			printf("stopped %d\n", natt_listener_stop(l, 5000));
			l = NULL;
		} else if (!strncmp(line, "threads", 7))
			printf("threads %d\n", thread_count());
		else if (!strncmp(line, "exit", 4))
			return 0;
		else if (!strncmp(line, "closefrom", 9)) {
			closefrom(3);
			fd = -1;
			printf("closed\n");
		} else if (!strncmp(line, "fork ", 5)) {
			int port = atoi(line + 5);
			fflush(stdout);
			pid_t child = fork();
			if (child == 0) {
				/* SIGTERM taken with sigwait: the child stops its listener (the mapping goes) */
				sigset_t term;
				sigemptyset(&term);
				sigaddset(&term, SIGTERM);
				sigprocmask(SIG_BLOCK, &term, NULL);
				struct natt_listener *cl = NULL;
				int cfd = open_server(SOCK_STREAM, port);
				if (cfd < 0 || natt_listener_publish_socket(cfd, NULL, NULL, &cl) < 0)
					_exit(1);
				int sig;
				sigwait(&term, &sig);
				_exit(natt_listener_stop(cl, 5000) == 0 ? 0 : 3);
			}
			printf("forked %d\n", (int)child);
		} else if (!strncmp(line, "cpu", 3)) {
			struct rusage ru;
			getrusage(RUSAGE_SELF, &ru);
			printf("cpu %ld\n", (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
			                         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000);
		}
		fflush(stdout);
	}
	return 0;
}
