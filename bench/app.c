/* natt-bench app — the server side of the benchmarks: opens listening sockets, times its own calls and
 * watches the status file, as a program run under natt-run would see it. Run with or without the shim
 * (LD_PRELOAD); it never talks to natt except through the status file.
 *
 *   app STEP [ARGS] STEP [ARGS] ...     steps run in order; each prints one JSON line on stdout
 *
 *   open N [PORT]      N TCP sockets on 0.0.0.0, ports PORT, PORT+1, ... (0 or absent: the kernel's
 *                      choice), each socket()'d first, then bind()+listen() timed per socket
 *   open6 N [PORT]     the same on [::] with IPV6_V6ONLY: published through an IPv6 pinhole alone
 *   published [SEC]    wait until the status file shows every open socket of this process as
 *                      "published" (at most SEC seconds, default 30)
 *   close              close every open socket
 *   gone [SEC]         wait until the status file shows no socket of this process any more
 *   all-published N [SEC]
 *                      wait until the status file shows N sockets "published", of any process (one
 *                      watcher for many servers that do not read the file themselves)
 *   all-gone [SEC]     wait until the status file shows no socket of any process
 *   rss                this process's resident memory (/proc/self/status)
 *   cpu                CPU time so far: the whole process (threads that ended included) and the main
 *                      thread; the difference is the other threads' (natt's manager: this program
 *                      starts none of its own)
 *   idle SEC           sleep SEC seconds; report the CPU time and wake-ups of every thread meanwhile
 *   thread             start an idle thread; report how long pthread_create() took, and a bare clone()
 *   hold FILE          wait until FILE exists (lets a driver run something while this process lives)
 *   sleep MS           sleep MS milliseconds
 *
 * The status file is $NATT_STATUS_FILE; its directory must exist.
 *
 * How "listen() -> public assignment in the status file" is timed: the time is CLOCK_MONOTONIC taken
 * right after the last listen() of the preceding `open` returned. `published` then adds an inotify
 * watch on the status file's directory (natt replaces the file by rename(), so IN_MOVED_TO names it;
 * IN_CLOSE_WRITE covers a writer that rewrites in place), reads and parses the file once, and after
 * that again at every event naming it, until the condition holds; it takes CLOCK_MONOTONIC as soon
 * as the parse shows it. The watch exists before the first read, so no write can slip between the
 * read and the wait. The error is the inotify wake-up plus one read and parse of a small file: tens
 * of microseconds, against milliseconds measured. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

static const char *prog = "app";

#define MAX_SOCKETS 4096

static struct {
	int fd;
	int port;
} sockets[MAX_SOCKETS];
static int nsockets;
static int64_t t_first_listen, t_last_listen, t_close;

/* ---------------------------------------------------------------- a small JSON reader
 * Just enough for the status file: walks the document and, for each element of "sockets", collects
 * pid, local_port, state and the first non-null assignment technique. */

struct entry {
	long pid;
	long port;
	char state[16];
	char technique[16];
};

struct reader {
	const char *p, *end;
	bool bad;
};

static void ws(struct reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
		r->p++;
}

static bool take(struct reader *r, char c)
{
	ws(r);
	if (r->p < r->end && *r->p == c) {
		r->p++;
		return true;
	}
	return false;
}

/* A string, copied into out (escapes kept as they are: the values we compare have none). */
static bool string(struct reader *r, char *out, size_t len)
{
	ws(r);
	if (r->p >= r->end || *r->p != '"')
		return r->bad = true, false;
	r->p++;
	size_t n = 0;
	while (r->p < r->end && *r->p != '"') {
		if (*r->p == '\\' && r->p + 1 < r->end)
			r->p++;
		if (out && n + 1 < len)
			out[n++] = *r->p;
		r->p++;
	}
	if (r->p >= r->end)
		return r->bad = true, false;
	r->p++;
	if (out)
		out[n] = '\0';
	return true;
}

static void skip_value(struct reader *r);

static void skip_container(struct reader *r, char close)
{
	r->p++;
	if (take(r, close))
		return;
	do {
		if (close == '}') {
			string(r, NULL, 0);
			if (!take(r, ':'))
				r->bad = true;
		}
		skip_value(r);
	} while (!r->bad && take(r, ','));
	if (!take(r, close))
		r->bad = true;
}

static void skip_value(struct reader *r)
{
	ws(r);
	if (r->p >= r->end)
		r->bad = true;
	else if (*r->p == '"')
		string(r, NULL, 0);
	else if (*r->p == '{')
		skip_container(r, '}');
	else if (*r->p == '[')
		skip_container(r, ']');
	else
		while (r->p < r->end && !strchr(",}] \n\r\t", *r->p))
			r->p++;
}

static long number(struct reader *r)
{
	ws(r);
	char *end;
	long v = strtol(r->p, &end, 10);
	if (end == r->p)
		r->bad = true;
	r->p = end;
	skip_value(r); /* a fraction or exponent, if any */
	return v;
}

static void read_assignments(struct reader *r, struct entry *e)
{
	if (!take(r, '['))
		return skip_value(r);
	if (take(r, ']'))
		return;
	do {
		if (!take(r, '{')) {
			skip_value(r);
			continue;
		}
		if (take(r, '}'))
			continue;
		do {
			char key[32];
			string(r, key, sizeof(key));
			if (!take(r, ':'))
				r->bad = true;
			ws(r);
			if (strcmp(key, "technique") == 0 && r->p < r->end && *r->p == '"' && !e->technique[0])
				string(r, e->technique, sizeof(e->technique));
			else
				skip_value(r);
		} while (!r->bad && take(r, ','));
		if (!take(r, '}'))
			r->bad = true;
	} while (!r->bad && take(r, ','));
	if (!take(r, ']'))
		r->bad = true;
}

static void read_entry(struct reader *r, struct entry *e)
{
	memset(e, 0, sizeof(*e));
	e->pid = e->port = -1;
	if (!take(r, '{'))
		return skip_value(r);
	if (take(r, '}'))
		return;
	do {
		char key[32];
		string(r, key, sizeof(key));
		if (!take(r, ':'))
			r->bad = true;
		ws(r);
		if (strcmp(key, "pid") == 0)
			e->pid = number(r);
		else if (strcmp(key, "local_port") == 0)
			e->port = number(r);
		else if (strcmp(key, "state") == 0 && r->p < r->end && *r->p == '"')
			string(r, e->state, sizeof(e->state));
		else if (strcmp(key, "assignments") == 0)
			read_assignments(r, e);
		else
			skip_value(r);
	} while (!r->bad && take(r, ','));
	if (!take(r, '}'))
		r->bad = true;
}

/* Parses text; fills up to max entries; returns the count or -1 for a document it cannot read. */
static int read_status(const char *text, size_t len, struct entry *entries, int max)
{
	struct reader r = { text, text + len, false };
	int n = 0;
	if (!take(&r, '{'))
		return -1;
	if (take(&r, '}'))
		return 0;
	do {
		char key[32];
		string(&r, key, sizeof(key));
		if (!take(&r, ':'))
			return -1;
		ws(&r);
		if (strcmp(key, "sockets") == 0 && r.p < r.end && *r.p == '[') {
			r.p++;
			if (take(&r, ']'))
				continue;
			do {
				struct entry e;
				read_entry(&r, &e);
				if (n < max)
					entries[n++] = e;
			} while (!r.bad && take(&r, ','));
			if (!take(&r, ']'))
				r.bad = true;
		} else {
			skip_value(&r);
		}
	} while (!r.bad && take(&r, ','));
	return r.bad ? -1 : n;
}

/* ---------------------------------------------------------------- the status file */

static const char *status_path(void)
{
	const char *path = getenv("NATT_STATUS_FILE");
	if (!path || !path[0])
		bench_die(prog, "NATT_STATUS_FILE is not set");
	return path;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	size_t got;
	while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
		}
	}
	fclose(f);
	*len = n;
	return buf;
}

enum want { WANT_PUBLISHED, WANT_GONE };

struct check {
	int published, pending, failed, other, mine;
	char technique[16];
	char last_state[16];
};

/* >= 0: the steps all-published and all-gone count every process's sockets (that many published). */
static int all_wanted = -1;

static bool mine_port(long port)
{
	for (int i = 0; i < nsockets; i++)
		if (sockets[i].port == port)
			return true;
	return false;
}

/* Whether the file shows what we wait for. */
static bool check_file(const char *path, enum want want, struct check *c)
{
	memset(c, 0, sizeof(*c));
	size_t len = 0;
	char *text = slurp(path, &len);
	if (!text)
		return want == WANT_GONE;
	static struct entry entries[MAX_SOCKETS * 2];
	int n = read_status(text, len, entries, MAX_SOCKETS * 2);
	free(text);
	if (n < 0)
		return false; /* unreadable: natt writes by rename, so this would be a bug worth a timeout */
	long self = getpid();
	bool all = all_wanted >= 0;
	for (int i = 0; i < n; i++) {
		if (!all && entries[i].pid != self)
			continue;
		c->mine++;
		if (want == WANT_GONE || (!all && !mine_port(entries[i].port)))
			continue;
		snprintf(c->last_state, sizeof(c->last_state), "%s", entries[i].state);
		if (strcmp(entries[i].state, "published") == 0) {
			c->published++;
			if (!c->technique[0])
				snprintf(c->technique, sizeof(c->technique), "%s", entries[i].technique);
		} else if (strcmp(entries[i].state, "pending") == 0) {
			c->pending++;
		} else if (strcmp(entries[i].state, "failed") == 0) {
			c->failed++;
		} else {
			c->other++;
		}
	}
	return want == WANT_GONE ? c->mine == 0 : c->published >= (all ? all_wanted : nsockets);
}

/* Waits for the condition; returns the CLOCK_MONOTONIC time it was seen, or -1 on timeout. */
static int64_t wait_status(enum want want, double timeout_s, struct check *c)
{
	const char *path = status_path();
	char dir[PATH_MAX];
	const char *base = bench_dir_of(path, dir, sizeof(dir));
	int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (in < 0 || inotify_add_watch(in, dir, IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE) < 0)
		bench_die(prog, "inotify on the status file's directory failed");
	int64_t deadline = bench_now_ns() + (int64_t)(timeout_s * 1e9);
	int64_t found = -1;
	bool again = true;
	while (found < 0) {
		if (again && check_file(path, want, c)) {
			found = bench_now_ns();
			break;
		}
		again = false;
		int64_t left = (deadline - bench_now_ns()) / 1000000;
		if (left <= 0)
			break;
		struct pollfd pfd = { .fd = in, .events = POLLIN };
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
		ssize_t n;
		while ((n = read(in, buf, sizeof(buf))) > 0) {
			for (char *p = buf; p < buf + n;) {
				struct inotify_event *ev = (struct inotify_event *)p;
				if (ev->len && strcmp(ev->name, base) == 0)
					again = true;
				p += sizeof(*ev) + ev->len;
			}
		}
	}
	close(in);
	return found;
}

/* ---------------------------------------------------------------- steps */

static void step_open(int n, int port, bool ipv6)
{
	if (n < 1 || nsockets + n > MAX_SOCKETS)
		bench_die(prog, "open: bad count");
	double *calls = calloc((size_t)n, sizeof(double));
	int *fds = calloc((size_t)n, sizeof(int));
	if (!calls || !fds)
		bench_die(prog, "out of memory");
	for (int i = 0; i < n; i++) {
		fds[i] = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0)
			bench_die(prog, "socket() failed");
		int one = 1;
		setsockopt(fds[i], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ipv6)
			setsockopt(fds[i], IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	}
	int64_t first = 0;
	long first_faults = 0; /* the calling thread's page faults in the first call */
	for (int i = 0; i < n; i++) {
		uint16_t p = htons((uint16_t)(port ? port + i : 0));
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = p };
		struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = p };
		struct sockaddr *sa = ipv6 ? (struct sockaddr *)&sin6 : (struct sockaddr *)&sin;
		socklen_t salen = ipv6 ? sizeof(sin6) : sizeof(sin);
		struct rusage before, after;
		if (i == 0)
			getrusage(RUSAGE_THREAD, &before);
		int64_t t0 = bench_now_ns();
		if (bind(fds[i], sa, salen) < 0 || listen(fds[i], 128) < 0) {
			fprintf(stderr, "%s: bind/listen on port %d: %s\n", prog, port ? port + i : 0, strerror(errno));
			exit(1);
		}
		int64_t t1 = bench_now_ns();
		if (i == 0) {
			getrusage(RUSAGE_THREAD, &after);
			first_faults = after.ru_minflt - before.ru_minflt;
			first = t0;
		}
		t_last_listen = t1;
		calls[i] = (double)(t1 - t0);
	}
	if (!t_first_listen)
		t_first_listen = first;
	printf("{\"step\": \"open\", \"n\": %d, \"first_ns\": %.0f, \"median_ns\": %.0f, ", n, calls[0],
	       bench_median(calls, (size_t)n));
	printf("\"rest_median_ns\": %.0f, \"first_minflt\": %ld, ", n > 1 ? bench_median(calls + 1, (size_t)n - 1) : 0.0,
	       first_faults);
	double total = 0;
	for (int i = 0; i < n; i++)
		total += calls[i];
	printf("\"total_ns\": %.0f, \"t_first_ns\": %lld, \"t_last_ns\": %lld, ", total, (long long)first,
	       (long long)t_last_listen);
	bench_json_array(stdout, "calls_ns", calls, (size_t)n, 0);
	printf(", \"ports\": [");
	for (int i = 0; i < n; i++) {
		struct sockaddr_in sin;
		socklen_t len = sizeof(sin);
		getsockname(fds[i], (struct sockaddr *)&sin, &len);
		sockets[nsockets].fd = fds[i];
		sockets[nsockets].port = ntohs(sin.sin_port);
		printf("%s%d", i ? ", " : "", sockets[nsockets].port);
		nsockets++;
	}
	printf("]}\n");
	free(calls);
	free(fds);
}

static void step_wait(enum want want, double timeout_s)
{
	struct check c;
	int64_t found = wait_status(want, timeout_s, &c);
	int64_t from = want == WANT_GONE ? t_close : t_last_listen;
	printf("{\"step\": \"%s\", \"ok\": %s, \"ms\": %.3f, \"ms_from_first_listen\": %.3f, \"t_ns\": %lld, "
	       "\"technique\": \"%s\", \"published\": %d, \"pending\": %d, \"failed\": %d, \"mine\": %d, "
	       "\"last_state\": \"%s\"}\n",
	       want == WANT_GONE ? (all_wanted >= 0 ? "all-gone" : "gone")
	                         : (all_wanted >= 0 ? "all-published" : "published"),
	       found >= 0 ? "true" : "false",
	       found >= 0 ? bench_ms(found - from) : -1.0,
	       found >= 0 && want == WANT_PUBLISHED ? bench_ms(found - t_first_listen) : -1.0, (long long)found,
	       c.technique, c.published, c.pending, c.failed, c.mine, c.last_state);
}

static void step_close(void)
{
	t_close = bench_now_ns();
	for (int i = 0; i < nsockets; i++)
		close(sockets[i].fd);
	int64_t done = bench_now_ns();
	printf("{\"step\": \"close\", \"n\": %d, \"t_ns\": %lld, \"total_ns\": %lld}\n", nsockets, (long long)t_close,
	       (long long)(done - t_close));
	nsockets = 0;
	t_first_listen = 0;
}

static long status_kb(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static void step_rss(void)
{
	size_t len;
	char *text = slurp("/proc/self/status", &len);
	if (!text)
		bench_die(prog, "cannot read /proc/self/status");
	text[len ? len - 1 : 0] = '\0';
	printf("{\"step\": \"rss\", \"vmrss_kb\": %ld, \"rss_anon_kb\": %ld, \"rss_file_kb\": %ld, "
	       "\"vmsize_kb\": %ld, \"threads\": %ld}\n",
	       status_kb(text, "VmRSS:"), status_kb(text, "RssAnon:"), status_kb(text, "RssFile:"),
	       status_kb(text, "VmSize:"), status_kb(text, "Threads:"));
	free(text);
}

static double timespec_ms(const struct timespec *ts)
{
	return (double)ts->tv_sec * 1e3 + (double)ts->tv_nsec / 1e6;
}

static void step_cpu(void)
{
	struct timespec process, main_thread;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &process);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &main_thread);
	printf("{\"step\": \"cpu\", \"process_ms\": %.3f, \"main_ms\": %.3f, \"others_ms\": %.3f}\n",
	       timespec_ms(&process), timespec_ms(&main_thread), timespec_ms(&process) - timespec_ms(&main_thread));
}

struct thread_sample {
	long tid;
	char comm[32];
	long voluntary, involuntary;
	long long cpu_ns;   /* schedstat: time on a CPU */
	long long slices;   /* schedstat: times it was given a CPU */
};

static int sample_threads(struct thread_sample *out, int max)
{
	DIR *d = opendir("/proc/self/task");
	if (!d)
		bench_die(prog, "cannot list /proc/self/task");
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < max) {
		if (de->d_name[0] == '.')
			continue;
		struct thread_sample *s = &out[n];
		memset(s, 0, sizeof(*s));
		s->tid = atol(de->d_name);
		char path[128];
		size_t len;
		snprintf(path, sizeof(path), "/proc/self/task/%ld/comm", s->tid);
		char *text = slurp(path, &len);
		if (text) {
			text[len ? len - 1 : 0] = '\0';
			snprintf(s->comm, sizeof(s->comm), "%s", text);
			free(text);
		}
		snprintf(path, sizeof(path), "/proc/self/task/%ld/status", s->tid);
		if ((text = slurp(path, &len))) {
			text[len ? len - 1 : 0] = '\0';
			s->voluntary = status_kb(text, "\nvoluntary_ctxt_switches:");
			s->involuntary = status_kb(text, "nonvoluntary_ctxt_switches:");
			free(text);
		}
		snprintf(path, sizeof(path), "/proc/self/task/%ld/schedstat", s->tid);
		if ((text = slurp(path, &len))) {
			text[len ? len - 1 : 0] = '\0';
			long long wait_ns;
			sscanf(text, "%lld %lld %lld", &s->cpu_ns, &wait_ns, &s->slices);
			free(text);
		}
		n++;
	}
	closedir(d);
	return n;
}

static void step_idle(double seconds)
{
	struct thread_sample before[64], after[64];
	struct timespec cpu0, cpu1;
	int nb = sample_threads(before, 64);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu0);
	struct timespec wall0, wall1; /* (to match what a listener heard meanwhile) */
	clock_gettime(CLOCK_REALTIME, &wall0);
	int64_t t0 = bench_now_ns();
	struct timespec ts = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	int64_t t1 = bench_now_ns();
	clock_gettime(CLOCK_REALTIME, &wall1);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu1);
	int na = sample_threads(after, 64);
	double cpu_ms = (double)(cpu1.tv_sec - cpu0.tv_sec) * 1e3 + (double)(cpu1.tv_nsec - cpu0.tv_nsec) / 1e6;
	printf("{\"step\": \"idle\", \"seconds\": %.3f, \"wall_start\": %.3f, \"wall_end\": %.3f, \"process_cpu_ms\": %.3f, "
	       "\"threads\": [",
	       bench_ms(t1 - t0) / 1e3, (double)wall0.tv_sec + (double)wall0.tv_nsec / 1e9,
	       (double)wall1.tv_sec + (double)wall1.tv_nsec / 1e9, cpu_ms);
	bool first = true;
	for (int i = 0; i < na; i++) {
		const struct thread_sample *b = NULL;
		for (int j = 0; j < nb; j++)
			if (before[j].tid == after[i].tid)
				b = &before[j];
		struct thread_sample zero = { 0 };
		if (!b)
			b = &zero; /* started during the idle time */
		printf("%s{\"tid\": %ld, \"comm\": \"%s\", \"main\": %s, \"voluntary\": %ld, \"involuntary\": %ld, "
		       "\"cpu_ms\": %.3f, \"slices\": %lld}",
		       first ? "" : ", ", after[i].tid, after[i].comm, after[i].tid == getpid() ? "true" : "false",
		       after[i].voluntary - b->voluntary, after[i].involuntary - b->involuntary,
		       (double)(after[i].cpu_ns - b->cpu_ns) / 1e6, after[i].slices - b->slices);
		first = false;
	}
	printf("]}\n");
}

static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static int bare_thread(void *arg)
{
	(void)arg;
	return 0; /* (touches nothing: it runs on the creator's thread pointer) */
}

/* What starting one thread costs this program (no shim needed): the part of natt's first listen()
 * that is the start of its thread. Also one bare clone() of a thread, on a stack of its own and
 * nothing else (no stack mapping, no guard page, no signal mask): the least any new thread costs. */
static void step_thread(void)
{
	static char bare_stack[64 * 1024] __attribute__((aligned(64)));
	int64_t c0 = bench_now_ns();
	int tid = clone(bare_thread, bare_stack + sizeof(bare_stack),
	                CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM, NULL);
	int64_t c1 = bench_now_ns();
	if (tid < 0)
		bench_die(prog, "clone failed");
	pthread_t thread;
	int64_t t0 = bench_now_ns();
	int rc = pthread_create(&thread, NULL, idle_thread, NULL);
	int64_t t1 = bench_now_ns();
	if (rc != 0)
		bench_die(prog, "pthread_create failed");
	printf("{\"step\": \"thread\", \"create_ns\": %lld, \"clone_ns\": %lld}\n", (long long)(t1 - t0),
	       (long long)(c1 - c0));
}

static void step_hold(const char *file)
{
	bench_wait_for_file(file);
	printf("{\"step\": \"hold\"}\n");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		const char *step = argv[i];
		const char *arg = i + 1 < argc ? argv[i + 1] : NULL;
		bool arg_is_number = arg && arg[0] >= '0' && arg[0] <= '9';
		if (strcmp(step, "open") == 0 || strcmp(step, "open6") == 0) {
			if (!arg_is_number)
				bench_die(prog, "open needs a count");
			int n = atoi(argv[++i]);
			int port = i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9' ? atoi(argv[++i]) : 0;
			step_open(n, port, step[4] == '6');
		} else if (strcmp(step, "published") == 0 || strcmp(step, "gone") == 0) {
			double timeout = arg_is_number ? atof(argv[++i]) : 30;
			step_wait(step[0] == 'g' ? WANT_GONE : WANT_PUBLISHED, timeout);
		} else if (strcmp(step, "all-published") == 0 || strcmp(step, "all-gone") == 0) {
			bool gone = step[4] == 'g';
			if (!gone && !arg_is_number)
				bench_die(prog, "all-published needs a count");
			all_wanted = gone ? 0 : atoi(argv[++i]);
			arg = i + 1 < argc ? argv[i + 1] : NULL;
			double timeout = arg && arg[0] >= '0' && arg[0] <= '9' ? atof(argv[++i]) : 30;
			step_wait(gone ? WANT_GONE : WANT_PUBLISHED, timeout);
		} else if (strcmp(step, "close") == 0) {
			step_close();
		} else if (strcmp(step, "rss") == 0) {
			step_rss();
		} else if (strcmp(step, "thread") == 0) {
			step_thread();
		} else if (strcmp(step, "cpu") == 0) {
			step_cpu();
		} else if (strcmp(step, "idle") == 0) {
			if (!arg_is_number)
				bench_die(prog, "idle needs seconds");
			step_idle(atof(argv[++i]));
		} else if (strcmp(step, "hold") == 0) {
			if (!arg)
				bench_die(prog, "hold needs a file");
			step_hold(argv[++i]);
		} else if (strcmp(step, "sleep") == 0) {
			if (!arg_is_number)
				bench_die(prog, "sleep needs milliseconds");
			usleep((useconds_t)(atof(argv[++i]) * 1000));
		} else {
			fprintf(stderr, "%s: unknown step '%s'\n", prog, step);
			return 2;
		}
	}
	return 0;
}
