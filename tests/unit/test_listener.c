/* Unit tests of libnatt's high-level, persistent and NAT-PMP calls that need no router: argument checks,
 * the lifetime rules of a stop (no callback after it returns, whatever the timeout; natt's thread ends
 * with the last listener), the NAT-PMP calls' default gateway, natt_strerror and natt_version.
 *
 * Whatever gets published here is asked of a "router" at 127.0.0.1 over NAT-PMP only (NATT_GATEWAY,
 * NATT_PROTOCOLS, set before the first publish): nothing leaves this host, and nothing answers. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "natt.h"

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - (strcmp(dir, "/proc/self/fd") == 0); /* opendir's own fd */
}

/* Waits up to timeout_ms for this process to have `threads` threads; returns the last count. */
static int wait_threads(int threads, int timeout_ms)
{
	int n = count_entries("/proc/self/task");
	for (int waited = 0; n != threads && waited < timeout_ms; waited += 10) {
		sleep_ms(10);
		n = count_entries("/proc/self/task");
	}
	return n;
}

static struct sockaddr_in ipv4(const char *address, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	assert_int_equal(inet_pton(AF_INET, address, &sin.sin_addr), 1);
	return sin;
}

/* A socket of type bound to address:port (port 0: the kernel's choice), listening when listen_too. */
static int bound_socket(int family, int type, const char *address, bool listen_too)
{
	int fd = socket(family, type | SOCK_CLOEXEC, 0);
	struct sockaddr_storage ss;
	assert_true(fd >= 0);
	assert_int_equal(natt_addr_parse(address, &ss), 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&ss,
	                      family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)), 0);
	if (listen_too)
		assert_int_equal(listen(fd, 1), 0);
	return fd;
}

/* ---- natt_listener_publish_socket / natt_listener_publish: what is refused before anything starts */

static void test_publish_socket_refusals(void **state)
{
	(void)state;
	struct natt_listener *l = NULL;
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(natt_listener_publish_socket(p[0], NULL, NULL, &l), -ENOTSOCK);
	close(p[1]);
	close(p[0]);
	/* a number that was just closed is no descriptor at all */
	assert_int_equal(natt_listener_publish_socket(p[0], NULL, NULL, &l), -EBADF);
	assert_int_equal(natt_listener_publish_socket(-1, NULL, NULL, &l), -EBADF);

	int fd = bound_socket(AF_INET, SOCK_DGRAM, "0.0.0.0", false);
	assert_int_equal(natt_listener_publish_socket(fd, NULL, NULL, NULL), -EINVAL); /* out NULL */
	close(fd);
	/* bound to loopback: no router can forward there */
	fd = bound_socket(AF_INET, SOCK_DGRAM, "127.0.0.1", false);
	assert_int_equal(natt_listener_publish_socket(fd, NULL, NULL, &l), -EADDRNOTAVAIL);
	close(fd);
	fd = bound_socket(AF_INET, SOCK_STREAM, "127.0.0.1", true);
	assert_int_equal(natt_listener_publish_socket(fd, NULL, NULL, &l), -EADDRNOTAVAIL);
	close(fd);
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (fd >= 0) { /* a host without IPv6 skips this one */
		close(fd);
		fd = bound_socket(AF_INET6, SOCK_DGRAM, "::1", false);
		assert_int_equal(natt_listener_publish_socket(fd, NULL, NULL, &l), -EADDRNOTAVAIL);
		close(fd);
	}
	/* a TCP socket that is bound but does not listen */
	fd = bound_socket(AF_INET, SOCK_STREAM, "0.0.0.0", false);
	assert_int_equal(natt_listener_publish_socket(fd, NULL, NULL, &l), -EINVAL);
	close(fd);
	/* not bound: no port to publish */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(natt_listener_publish_socket(fd, NULL, NULL, &l), -EINVAL);
	close(fd);
	/* not an internet socket */
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1, "natt-test-%d", (int)getpid()); /* abstract */
	assert_int_equal(bind(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	assert_int_equal(natt_listener_publish_socket(fd, NULL, NULL, &l), -EINVAL);
	close(fd);
	assert_null(l);
}

static void test_publish_address_refusals(void **state)
{
	(void)state;
	struct natt_listener *l = NULL;
	struct sockaddr_in any = ipv4("0.0.0.0", 9000), zero = ipv4("0.0.0.0", 0), lo = ipv4("127.0.0.1", 9000);
	struct sockaddr_in6 lo6 = { .sin6_family = AF_INET6, .sin6_port = htons(9000), .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	assert_int_equal(natt_listener_publish(NATT_TCP, NULL, NULL, NULL, &l), -EINVAL);
	assert_int_equal(natt_listener_publish(NATT_TCP, (struct sockaddr *)&any, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(natt_listener_publish((enum natt_protocol)1, (struct sockaddr *)&any, NULL, NULL, &l), -EINVAL);
	assert_int_equal(natt_listener_publish(NATT_UDP, (struct sockaddr *)&zero, NULL, NULL, &l), -EINVAL);
	assert_int_equal(natt_listener_publish(NATT_UDP, (struct sockaddr *)&un, NULL, NULL, &l), -EINVAL);
	assert_int_equal(natt_listener_publish(NATT_UDP, (struct sockaddr *)&lo, NULL, NULL, &l), -EADDRNOTAVAIL);
	assert_int_equal(natt_listener_publish(NATT_TCP, (struct sockaddr *)&lo6, NULL, NULL, &l), -EADDRNOTAVAIL);
	assert_null(l);
}

static void test_null_listener(void **state)
{
	(void)state;
	char why[32] = "unchanged";
	struct natt_assignment a[2];
	assert_int_equal(natt_listener_state(NULL, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "");
	assert_int_equal(natt_listener_state(NULL, NULL, 0), -EINVAL);
	assert_int_equal(natt_listener_assignments(NULL, a, 2), 0);
	assert_int_equal(natt_listener_stop(NULL, 10), -EINVAL);
}

/* ---- A published listener: state, assignments, stop */

struct calls {
	atomic_int count;
	atomic_int running;   /* inside the callback now */
	atomic_int returned;  /* calls that returned */
	int sleep_ms;         /* each call sleeps this long */
	atomic_int stop_rc;   /* what natt_listener_stop() said from inside the callback (1: not tried) */
	atomic_bool stop_inside;
};

static void on_change(struct natt_listener *l, const struct natt_assignment *list, size_t n, void *ctx)
{
	(void)list;
	(void)n;
	struct calls *c = ctx;
	atomic_fetch_add(&c->running, 1);
	atomic_fetch_add(&c->count, 1);
	if (atomic_load(&c->stop_inside))
		atomic_store(&c->stop_rc, natt_listener_stop(l, 10));
	sleep_ms(c->sleep_ms);
	atomic_fetch_sub(&c->running, 1);
	atomic_fetch_add(&c->returned, 1);
}

static void wait_calls(struct calls *c, int n)
{
	for (int waited = 0; atomic_load(&c->count) < n; waited += 10) {
		if (waited > 5000)
			fail_msg("the callback was not called %d times within 5 s", n);
		sleep_ms(10);
	}
}

static void test_state_and_assignments(void **state)
{
	(void)state;
	struct calls c = { .stop_rc = 1 };
	struct natt_listener *l;
	struct sockaddr_in doc = ipv4("192.0.2.1", 9001);
	char why[192];
	struct natt_assignment a[4];
	assert_int_equal(natt_listener_publish(NATT_UDP, (struct sockaddr *)&doc, on_change, &c, &l), 0);
	wait_calls(&c, 1);
	/* nothing answers NAT-PMP at 127.0.0.1: pending, with the reason */
	assert_int_equal(natt_listener_state(l, why, sizeof(why)), NATT_STATE_PENDING);
	assert_non_null(strstr(why, "NAT-PMP"));
	assert_int_equal(natt_listener_state(l, NULL, 0), NATT_STATE_PENDING);
	/* the address given is the one local name; a NULL list tells the count */
	assert_int_equal(natt_listener_assignments(l, NULL, 0), 1);
	assert_int_equal(natt_listener_assignments(l, a, 4), 1);
	assert_string_equal(a[0].address, "192.0.2.1");
	assert_int_equal(a[0].port, 9001);
	assert_int_equal(a[0].protocol, NATT_UDP);
	assert_int_equal(a[0].technique, NATT_TECH_LOCAL);
	assert_int_equal(natt_listener_stop(l, 2000), 0);
}

static void test_publish_sockets(void **state)
{
	(void)state;
	struct calls c = { .stop_rc = 1 };
	struct natt_listener *udp, *tcp;
	int u = bound_socket(AF_INET, SOCK_DGRAM, "0.0.0.0", false);
	int t = bound_socket(AF_INET, SOCK_STREAM, "0.0.0.0", true);
	assert_int_equal(natt_listener_publish_socket(u, on_change, &c, &udp), 0);
	assert_int_equal(natt_listener_publish_socket(t, NULL, NULL, &tcp), 0);
	wait_calls(&c, 1);
	/* nothing answers at 127.0.0.1: asked or not yet, the TCP one is pending too */
	assert_int_equal(natt_listener_state(tcp, NULL, 0), NATT_STATE_PENDING);
	assert_int_equal(natt_listener_stop(udp, 2000), 0);
	assert_int_equal(natt_listener_stop(tcp, 2000), 0);
	close(u);
	close(t);
}

/* A stop that timed out must not free the listener while natt's thread could still call back with it:
 * no callback runs once stop has returned, whatever it returned. */
static void test_stop_timeout_waits_for_the_callback(void **state)
{
	(void)state;
	struct calls c = { .sleep_ms = 1000, .stop_rc = 1 };
	struct natt_listener *l;
	struct sockaddr_in doc = ipv4("192.0.2.2", 9002);
	assert_int_equal(natt_listener_publish(NATT_TCP, (struct sockaddr *)&doc, on_change, &c, &l), 0);
	wait_calls(&c, 1);
	assert_int_equal(atomic_load(&c.running), 1); /* the thread is inside the callback, for a second */
	/* the thread cannot retire the entry within 50 ms: stop times out, yet after the call is over */
	assert_int_equal(natt_listener_stop(l, 50), -ETIMEDOUT);
	assert_int_equal(atomic_load(&c.running), 0);
	assert_int_equal(atomic_load(&c.returned), 1);
	/* and never again: the entry the thread still had is its own to retire and free */
	sleep_ms(300);
	assert_int_equal(atomic_load(&c.count), 1);
}

static void test_stop_inside_the_callback(void **state)
{
	(void)state;
	struct calls c = { .stop_inside = true, .stop_rc = 1 };
	struct natt_listener *l;
	struct sockaddr_in doc = ipv4("192.0.2.3", 9003);
	assert_int_equal(natt_listener_publish(NATT_TCP, (struct sockaddr *)&doc, on_change, &c, &l), 0);
	wait_calls(&c, 1);
	while (atomic_load(&c.returned) < 1)
		sleep_ms(5);
	assert_int_equal(atomic_load(&c.stop_rc), -EDEADLK); /* refused, and the listener still works */
	assert_int_equal(natt_listener_state(l, NULL, 0), NATT_STATE_PENDING);
	atomic_store(&c.stop_inside, false);
	assert_int_equal(natt_listener_stop(l, 2000), 0);
}

/* natt's thread and its sockets do not outlive the last listener stopped. */
static void test_thread_ends_with_the_last_listener(void **state)
{
	(void)state;
	int threads = count_entries("/proc/self/task"), fds = count_entries("/proc/self/fd");
	struct calls c = { .stop_rc = 1 };
	struct natt_listener *a, *b;
	struct sockaddr_in doc = ipv4("192.0.2.4", 9004);
	for (int round = 1; round <= 2; round++) { /* the second round: a new thread starts and ends */
		assert_int_equal(natt_listener_publish(NATT_UDP, (struct sockaddr *)&doc, on_change, &c, &a), 0);
		assert_int_equal(natt_listener_publish(NATT_TCP, (struct sockaddr *)&doc, on_change, &c, &b), 0);
		wait_calls(&c, 2 * round);
		assert_int_equal(count_entries("/proc/self/task"), threads + 1);
		assert_int_equal(natt_listener_stop(a, 2000), 0);
		/* one listener left: the thread stays */
		assert_int_equal(count_entries("/proc/self/task"), threads + 1);
		assert_int_equal(natt_listener_stop(b, 2000), 0);
		assert_int_equal(wait_threads(threads, 1000), threads);
		assert_int_equal(count_entries("/proc/self/fd"), fds);
	}
}

/* The signal mask of this process's thread named name (SigBlk of /proc/self/task/TID/status); false
 * when there is none. */
static bool thread_sigblk(const char *name, unsigned long long *mask)
{
	DIR *d = opendir("/proc/self/task");
	assert_non_null(d);
	bool found = false;
	for (struct dirent *e; !found && (e = readdir(d));) {
		char path[300], comm[32] = "", line[256];
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
		comm[strcspn(comm, "\n")] = '\0';
		if (strcmp(comm, name) != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status", e->d_name);
		f = fopen(path, "r");
		assert_non_null(f);
		while (!found && fgets(line, sizeof(line), f))
			found = sscanf(line, "SigBlk: %llx", mask) == 1;
		fclose(f);
	}
	closedir(d);
	return found;
}

/* Under valgrind, which keeps each thread's signal mask itself: the kernel's (SigBlk) is valgrind's. */
static bool under_valgrind(void)
{
	const char *preload = getenv("LD_PRELOAD");
	return preload && strstr(preload, "vgpreload");
}

/* natt's thread never takes the program's signals (they are all blocked in it from its start), and
 * starting it leaves the caller's own mask as it was. */
static void test_manager_takes_no_signals(void **state)
{
	(void)state;
	sigset_t before, after;
	pthread_sigmask(SIG_SETMASK, NULL, &before);
	struct calls c = { .stop_rc = 1 };
	struct natt_listener *l;
	struct sockaddr_in doc = ipv4("192.0.2.4", 9005);
	assert_int_equal(natt_listener_publish(NATT_TCP, (struct sockaddr *)&doc, on_change, &c, &l), 0);
	unsigned long long blocked = 0;
	bool seen = false;
	for (int waited = 0; !(seen = thread_sigblk("natt", &blocked)) && waited < 1000; waited += 10)
		sleep_ms(10); /* (named by the thread itself, at its start) */
	pthread_sigmask(SIG_SETMASK, NULL, &after);
	assert_int_equal(natt_listener_stop(l, 2000), 0);
	for (int sig = 1; sig < 64; sig++)
		assert_int_equal(sigismember(&after, sig), sigismember(&before, sig));
	if (under_valgrind())
		skip();
	assert_true(seen);
	const int taken[] = { SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE, SIGALRM, SIGTERM, SIGCHLD, SIGWINCH,
	                      SIGRTMIN + 2, SIGRTMAX };
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++)
		assert_true(blocked & (1ULL << (taken[i] - 1)));
}

/* ---- Persistent mappings */

static atomic_int mapping_calls;

static void on_mapping(struct natt_persistent *p, const struct natt_mapping *m, const struct in_addr *external,
                       void *ctx)
{
	(void)p;
	(void)m;
	(void)external;
	(void)ctx;
	atomic_fetch_add(&mapping_calls, 1);
}

static void test_persistent(void **state)
{
	(void)state;
	struct natt_persistent *p = NULL;
	struct natt_persistent_options o = { 0 };
	struct natt_mapping m;
	struct in_addr external;
	assert_int_equal(natt_persistent_create(NATT_TCP, 0, NULL, NULL, NULL, &p), -EINVAL);
	assert_int_equal(natt_persistent_create(NATT_TCP, 9005, NULL, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(natt_persistent_create((enum natt_protocol)0, 9005, NULL, NULL, NULL, &p), -EINVAL);
	o.technique = (enum natt_technique)42;
	assert_int_equal(natt_persistent_create(NATT_TCP, 9005, &o, NULL, NULL, &p), -EINVAL);
	o = (struct natt_persistent_options){ .lifetime = 604801 };
	assert_int_equal(natt_persistent_create(NATT_TCP, 9005, &o, NULL, NULL, &p), -EINVAL);
	o = (struct natt_persistent_options){ .lifetime = 60, .refresh_interval = 60 };
	assert_int_equal(natt_persistent_create(NATT_TCP, 9005, &o, NULL, NULL, &p), -EINVAL);
	assert_null(p);

	assert_int_equal(natt_persistent_current(NULL, &m, &external), -EINVAL);
	assert_int_equal(natt_persistent_refresh(NULL), -EINVAL);
	assert_int_equal(natt_persistent_stop(NULL, 10), -EINVAL);

	o = (struct natt_persistent_options){ .lifetime = 60, .refresh_interval = 59,
		                              .requested_port = NATT_PORT_ANY, .technique = NATT_TECH_NATPMP };
	assert_int_equal(natt_persistent_create(NATT_UDP, 9005, &o, on_mapping, NULL, &p), 0);
	assert_int_equal(natt_persistent_current(p, NULL, NULL), -EINVAL);
	assert_int_equal(natt_persistent_current(p, &m, NULL), -EAGAIN); /* nothing answers */
	assert_int_equal(natt_persistent_refresh(p), 0);
	assert_int_equal(natt_persistent_stop(p, 2000), 0);
	/* never granted: neither a mapping nor its end was reported */
	assert_int_equal(atomic_load(&mapping_calls), 0);
}

/* ---- NAT-PMP calls */

static void test_natpmp_arguments(void **state)
{
	(void)state;
	struct in_addr lo = { htonl(INADDR_LOOPBACK) };
	struct natt_mapping m;
	/* refused before anything is sent */
	assert_int_equal(natt_natpmp_map(&lo, NATT_TCP, 0, 80, 60, 100, &m, NULL), -EINVAL);
	assert_int_equal(natt_natpmp_delete(&lo, NATT_UDP, 0, 100, NULL), -EINVAL);
	assert_int_equal(natt_natpmp_map(&lo, (enum natt_protocol)1, 80, 80, 60, 100, &m, NULL), -EINVAL);
	assert_int_equal(natt_natpmp_delete(&lo, (enum natt_protocol)1, 80, 100, NULL), -EINVAL);
	assert_int_equal(natt_natpmp_unmap_all(&lo, (enum natt_protocol)1, 100, NULL), -EINVAL);
}

/* Answers NAT-PMP external-address requests on fd with 203.0.113.7, epoch 1234: every one,
 * retransmissions too, until killed. */
static void natpmp_responder(int fd)
{
	unsigned char req[16], rep[12] = { 0, 128, 0, 0, 0, 0, 0x04, 0xd2, 203, 0, 113, 7 };
	struct sockaddr_in from;
	for (;;) {
		socklen_t len = sizeof(from);
		ssize_t n = recvfrom(fd, req, sizeof(req), 0, (struct sockaddr *)&from, &len);
		if (n == 2 && req[0] == 0 && req[1] == 0)
			sendto(fd, rep, sizeof(rep), 0, (struct sockaddr *)&from, len);
	}
}

/* In a child, in network and mount namespaces of its own: a default route through 10.9.0.254 (an
 * address of lo there, where a responder answers NAT-PMP), and /proc hidden under an empty tmpfs, so
 * that only natt's rtnetlink lookup can find the gateway (libnatpmp's own reads /proc/net/route).
 * Exit status 0: answered with the responder's address; 1: not; 77: namespaces unavailable. */
static int natpmp_default_gateway_child(void)
{
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
		return 77;
	if (system("exec >/dev/null 2>&1; ip link set lo up && ip addr add 10.9.0.2/24 dev lo && "
	           "ip route add default via 10.9.0.254 dev lo") != 0)
		return 77;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in gw = { .sin_family = AF_INET, .sin_port = htons(5351) };
	inet_pton(AF_INET, "10.9.0.254", &gw.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&gw, sizeof(gw)) < 0)
		return 77;
	/* The responder is a process, not a thread: a thread ending where /proc is hidden trips
	 * AddressSanitizer, which reads its stack bounds there. */
	pid_t responder = fork();
	if (responder < 0)
		return 77;
	if (responder == 0) {
		natpmp_responder(fd);
		_exit(0);
	}
	if (mount("none", "/proc", "tmpfs", 0, NULL) < 0) {
		kill(responder, SIGKILL);
		waitpid(responder, NULL, 0);
		return 77;
	}
	struct in_addr external;
	/* (a bound for failure only: the responder answers at once, but a loaded machine running a
	 * sanitizer build once took more than a second) */
	int rc = natt_natpmp_external_address(NULL, 5000, &external, NULL);
	kill(responder, SIGKILL);
	waitpid(responder, NULL, 0);
	return rc == 0 && external.s_addr == htonl(0xcb007107) ? 0 : 1;
}

static void test_natpmp_default_gateway_is_natts(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(natpmp_default_gateway_child());
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip(); /* not root, or no ip(8) */
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- fork in the middle of an exchange: the child's manager takes the host-wide gateway lock itself */

/* A NAT-PMP router on 127.0.0.1:5351 that holds back its answer to the first MAP request (the port of
 * held_port) for HOLD_MS, and notes whether a MAP for another port came meanwhile: the parent's
 * manager holds the gateway lock while it waits, so a child's request must wait for that answer. */
#define HOLD_MS 1000

struct held_router {
	int fd;
	uint16_t held_port;
	int notify;                  /* written when the held request first arrives */
	atomic_bool stop;
	atomic_bool other_early;     /* a MAP for another port while the held one waited */
	atomic_bool other_seen;
};

static int64_t mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void answer_map(int fd, const unsigned char *req, const struct sockaddr_in *to)
{
	unsigned char rep[16] = { 0, (unsigned char)(128 + req[1]), 0, 0, 0, 0, 0x04, 0xd2 };
	memcpy(rep + 8, req + 4, 4);   /* internal and external port: as asked */
	memcpy(rep + 12, req + 8, 4);  /* lifetime: as asked */
	sendto(fd, rep, sizeof(rep), 0, (const struct sockaddr *)to, sizeof(*to));
}

static void *held_router_main(void *arg)
{
	struct held_router *r = arg;
	const unsigned char address[12] = { 0, 128, 0, 0, 0, 0, 0x04, 0xd2, 203, 0, 113, 7 };
	unsigned char held[12] = { 0 };
	struct sockaddr_in held_from = { 0 };
	int64_t held_since = 0; /* 0: not asked yet; -1: answered */
	while (!atomic_load(&r->stop)) {
		if (held_since > 0 && mono_ms() >= held_since + HOLD_MS) {
			answer_map(r->fd, held, &held_from);
			held_since = -1;
		}
		struct pollfd p = { .fd = r->fd, .events = POLLIN };
		if (poll(&p, 1, 20) <= 0)
			continue;
		unsigned char req[16];
		struct sockaddr_in from;
		socklen_t len = sizeof(from);
		ssize_t n = recvfrom(r->fd, req, sizeof(req), 0, (struct sockaddr *)&from, &len);
		if (n == 2 && req[0] == 0 && req[1] == 0) {
			sendto(r->fd, address, sizeof(address), 0, (struct sockaddr *)&from, len);
		} else if (n == 12 && req[0] == 0 && (req[1] == 1 || req[1] == 2)) {
			uint16_t port = (uint16_t)(req[4] << 8 | req[5]);
			if (port == r->held_port && held_since >= 0) {
				if (held_since == 0) {
					held_since = mono_ms();
					(void)!write(r->notify, "h", 1);
				}
				memcpy(held, req, sizeof(held)); /* retransmissions: answered once, at the end */
				held_from = from;
				continue;
			}
			if (port != r->held_port) {
				if (held_since > 0)
					atomic_store(&r->other_early, true);
				atomic_store(&r->other_seen, true);
			}
			answer_map(r->fd, req, &from);
		}
	}
	return NULL;
}

static int listening_tcp(uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in any = { .sin_family = AF_INET };
	socklen_t len = sizeof(any);
	if (fd < 0 || bind(fd, (struct sockaddr *)&any, sizeof(any)) < 0 || listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)&any, &len) < 0)
		return -1;
	*port = ntohs(any.sin_port);
	return fd;
}

/* The child forked while the manager waits for the router (holding the gateway lock) publishes a
 * socket of its own: exit status 0 when its request reached the router only after the parent's was
 * answered (its manager waited for the lock), and it let the lock go after (the parent, while the
 * child lives on, retires its own socket in time); 1 when it went ahead; 5 when it kept the lock;
 * 2-4 when something else failed; 77 without network namespaces. */
static int fork_mid_exchange(void)
{
	if (unshare(CLONE_NEWNET) < 0 || system("exec >/dev/null 2>&1; ip link set lo up") != 0)
		return 77;
	int notify[2], published[2], go[2];
	struct held_router r = { .fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0) };
	struct sockaddr_in at = { .sin_family = AF_INET, .sin_port = htons(5351), .sin_addr = { htonl(INADDR_LOOPBACK) } };
	if (r.fd < 0 || bind(r.fd, (struct sockaddr *)&at, sizeof(at)) < 0 || pipe2(notify, O_CLOEXEC) < 0 ||
	    pipe2(published, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
		return 77;
	r.notify = notify[1];
	int a = listening_tcp(&r.held_port);
	pthread_t t;
	if (a < 0 || pthread_create(&t, NULL, held_router_main, &r) != 0)
		return 2;
	struct natt_listener *la;
	struct pollfd held = { .fd = notify[0], .events = POLLIN };
	if (natt_listener_publish_socket(a, NULL, NULL, &la) < 0 || poll(&held, 1, 5000) != 1)
		return 2;
	pid_t child = fork();
	if (child == 0) {
		close(a); /* (else the parent's socket lives on in this child, and stays published) */
		uint16_t port;
		int b = listening_tcp(&port);
		struct natt_listener *lb;
		if (b < 0 || natt_listener_publish_socket(b, NULL, NULL, &lb) < 0)
			_exit(3);
		for (int waited = 0; waited < 10000; waited += 20) {
			if (natt_listener_state(lb, NULL, 0) == NATT_STATE_PUBLISHED) {
				/* (alive and idle while the parent retires its socket) */
				char c;
				if (write(published[1], "p", 1) != 1 || read(go[0], &c, 1) != 1)
					_exit(3);
				_exit(natt_listener_stop(lb, 3000) == 0 ? 0 : 3);
			}
			sleep_ms(20);
		}
		_exit(4);
	}
	struct pollfd child_published = { .fd = published[0], .events = POLLIN };
	if (child < 0 || poll(&child_published, 1, 10000) != 1)
		return 4;
	/* The child's batch is over: the lock is free for the parent's delete (15 s wait if not). */
	bool retired = natt_listener_stop(la, 3000) == 0;
	int status = 0;
	if (write(go[1], "g", 1) != 1 || waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return 4;
	if (!retired)
		return 5;
	atomic_store(&r.stop, true);
	pthread_join(t, NULL);
	return atomic_load(&r.other_seen) && !atomic_load(&r.other_early) ? 0 : 1;
}

static void test_fork_mid_exchange_child_waits_for_the_gateway_lock(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fork_mid_exchange());
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip(); /* not root, or no ip(8) */
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- natt_strerror, natt_version */

static void test_strerror(void **state)
{
	(void)state;
	static const struct {
		int code;
		const char *text;
	} known[] = {
		{ 0, "success" },
		{ NATT_ERR_NO_GATEWAY, "no gateway found" },
		{ NATT_ERR_NO_IGD, "no UPnP internet gateway device found" },
		{ NATT_ERR_UNSUPPORTED, "not supported by the router" },
		{ NATT_ERR_REFUSED, "refused by the router" },
		{ NATT_ERR_RESOURCES, "the router is out of resources" },
		{ NATT_ERR_BAD_REPLY, "malformed reply from the router" },
		{ NATT_ERR_UPNP, "UPnP action failed" },
		{ NATT_ERR_NETWORK, "the router reports a network failure" },
		{ NATT_ERR_NOT_FOUND, "not found" },
		{ NATT_ERR_STOPPED, "stopped" },
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		assert_string_equal(natt_strerror(known[i].code), known[i].text);
	/* every code between the first and the last has its own words */
	for (int code = NATT_ERR_STOPPED; code <= NATT_ERR_NO_GATEWAY; code++)
		assert_string_not_equal(natt_strerror(code), "unknown error");
	/* the -errno values the headers name */
	static const int errnos[] = { EINVAL, ENOMEM, ETIMEDOUT, EBADF, ENOTSOCK, EADDRNOTAVAIL, EAGAIN, EDEADLK,
		                      ENETUNREACH, EAFNOSUPPORT, ECONNREFUSED, EPROTO, EMSGSIZE, EMFILE };
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		assert_string_equal(natt_strerror(-errnos[i]), strerrordesc_np(errnos[i]));
	assert_string_equal(natt_strerror(-ETIMEDOUT), "Connection timed out");
	assert_string_equal(natt_strerror(NATT_ERR_STOPPED - 1), "unknown error");
	assert_string_equal(natt_strerror(-5000), "unknown error");
	assert_string_equal(natt_strerror(7), "unknown error");
	assert_string_equal(natt_strerror(INT32_MIN), "unknown error");
}

static void test_version(void **state)
{
	(void)state;
	assert_non_null(natt_version());
	assert_string_equal(natt_version(), NATT_VERSION);
}

int main(void)
{
	/* Before the first publish: the engine reads its configuration once. */
	setenv("NATT_GATEWAY", "127.0.0.1", 1);
	setenv("NATT_PROTOCOLS", "nat-pmp", 1);
	setenv("NATT_VERIFY_INTERVAL", "0", 1);
	unsetenv("NATT_STATUS_FILE");
	unsetenv("NATT_ON_CHANGE");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish_socket_refusals),
		cmocka_unit_test(test_publish_address_refusals),
		cmocka_unit_test(test_null_listener),
		cmocka_unit_test(test_state_and_assignments),
		cmocka_unit_test(test_publish_sockets),
		cmocka_unit_test(test_stop_timeout_waits_for_the_callback),
		cmocka_unit_test(test_stop_inside_the_callback),
		cmocka_unit_test(test_thread_ends_with_the_last_listener),
		cmocka_unit_test(test_manager_takes_no_signals),
		cmocka_unit_test(test_persistent),
		cmocka_unit_test(test_natpmp_arguments),
		cmocka_unit_test(test_natpmp_default_gateway_is_natts),
		cmocka_unit_test(test_fork_mid_exchange_child_waits_for_the_gateway_lock),
		cmocka_unit_test(test_strerror),
		cmocka_unit_test(test_version),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
