/* Helpers shared by the benchmark programs: one clock, a few statistics, JSON output.
 *
 * Every time the benchmarks report is CLOCK_MONOTONIC. It is one clock for the whole machine (the lab
 * uses network namespaces, not time namespaces), so a time taken in the LAN host's namespace and one
 * taken in the router's namespace can be subtracted. */
#ifndef NATT_BENCH_H
#define NATT_BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

#endif
