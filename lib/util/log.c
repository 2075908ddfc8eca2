#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "util/log.h"

int natt_log_level = NATT_LOG_OFF;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void natt_log_set_level(int level)
{
	natt_log_level = level;
}

static void write_line(const char *prefix, const char *fmt, va_list ap)
{
	int saved_errno = errno;
	char line[1024];
	int n = snprintf(line, sizeof(line), "%s", prefix);
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(line) - 1) {
		int m = vsnprintf(line + n, sizeof(line) - 1 - (size_t)n, fmt, ap);
		if (m > 0)
			n += m;
	}
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	ssize_t ignored = write(STDERR_FILENO, line, (size_t)n);
	(void)ignored;
	errno = saved_errno;
}

void natt_log_at(int level, const char *fmt, ...)
{
	char prefix[48];
	if (level < NATT_LOG_ERROR || level > NATT_LOG_DEBUG)
		level = NATT_LOG_DEBUG;
	snprintf(prefix, sizeof(prefix), "natt[%d] %s: ", (int)getpid(), level_names[level]);
	va_list ap;
	va_start(ap, fmt);
	write_line(prefix, fmt, ap);
	va_end(ap);
}

void natt_say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	write_line("natt: ", fmt, ap);
	va_end(ap);
}
