/* Helpers shared by the benchmark programs: one clock, a few statistics, JSON output.
 *
 * Every time the benchmarks report is CLOCK_MONOTONIC. It is one clock for the whole machine (the lab
 * uses network namespaces, not time namespaces), so a time taken in the LAN host's namespace and one
 * taken in the router's namespace can be subtracted. */
#ifndef NATT_BENCH_H
#define NATT_BENCH_H

#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static inline int64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline double bench_ms(int64_t ns)
{
	return (double)ns / 1e6;
}

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Median of n values (sorts a copy). */
static inline double bench_median(const double *values, size_t n)
{
	if (n == 0)
		return 0;
	double *copy = malloc(n * sizeof(*copy));
	if (!copy)
		abort();
	memcpy(copy, values, n * sizeof(*copy));
	qsort(copy, n, sizeof(*copy), bench_cmp_double);
	double m = n % 2 ? copy[n / 2] : (copy[n / 2 - 1] + copy[n / 2]) / 2;
	free(copy);
	return m;
}

/* Prints "name": [v, v, ...] with the given precision. */
static inline void bench_json_array(FILE *out, const char *name, const double *values, size_t n, int digits)
{
	fprintf(out, "\"%s\": [", name);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%s%.*f", i ? ", " : "", digits, values[i]);
	fprintf(out, "]");
}

static inline void bench_die(const char *prog, const char *what)
{
	fprintf(stderr, "%s: %s\n", prog, what);
	exit(1);
}

/* The directory of path into dir ("." for a bare name, "/" for a file at the root); returns the
 * name within it. */
static inline const char *bench_dir_of(const char *path, char *dir, size_t len)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		snprintf(dir, len, ".");
		return path;
	}
	snprintf(dir, len, "%.*s", slash == path ? 1 : (int)(slash - path), path);
	return slash + 1;
}

/* Waits until path exists. Woken by its directory's events, not by polling: fifty processes that held
 * their mappings this way looked 25,000 times a second with a 2 ms poll, CPU that the router, on the
 * same two cores, was waiting for. (The 1 s timeout only covers an event missed.) */
static inline void bench_wait_for_file(const char *path)
{
	char dir[PATH_MAX];
	bench_dir_of(path, dir, sizeof(dir));
	int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (in >= 0 && inotify_add_watch(in, dir, IN_CREATE | IN_MOVED_TO | IN_ATTRIB) < 0) {
		close(in);
		in = -1;
	}
	struct stat st;
	while (stat(path, &st) < 0) {
		if (in < 0) {
			usleep(2000);
			continue;
		}
		struct pollfd p = { .fd = in, .events = POLLIN };
		if (poll(&p, 1, 1000) > 0) {
			char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
			while (read(in, events, sizeof(events)) > 0)
				;
		}
	}
	if (in >= 0)
		close(in);
}

#endif
