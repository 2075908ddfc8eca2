/* Time helpers for deadlines (monotonic) and for the status file (wall clock). */
#ifndef NATT_CLOCK_H
#define NATT_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

static inline int64_t natt_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Formats a wall-clock time as RFC 3339 UTC ("2026-11-22T10:00:00Z"); buf needs 21 bytes. */
static inline const char *natt_format_utc(time_t t, char *buf, size_t len)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

#endif
