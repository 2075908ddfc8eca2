/* Silence for the libraries inside the shim. miniupnpc reports socket errors with perror() and
 * fprintf(stderr, ...) — inside someone else's program natt prints only when asked (NATT_LOG). The
 * shim links its own copy of miniupnpc, whose calls bind to these definitions at link time; they are
 * not exported, so the program's own perror() and fprintf() are untouched. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"

void perror(const char *what)
{
	int saved_errno = errno;
	natt_debug("%s: %s", what ? what : "", strerrordesc_np(saved_errno) ? strerrordesc_np(saved_errno) : "?");
	errno = saved_errno;
}

int __fprintf_chk(FILE *stream, int flag, const char *format, ...);

int __fprintf_chk(FILE *stream, int flag, const char *format, ...)
{
	(void)flag;
	va_list ap;
	va_start(ap, format);
	int n;
	if (stream == stderr) {
		char line[512];
		n = vsnprintf(line, sizeof(line), format, ap);
		line[strcspn(line, "\n")] = '\0';
		natt_debug("%s", line);
	} else {
		n = vfprintf(stream, format, ap);
	}
	va_end(ap);
	return n;
}
