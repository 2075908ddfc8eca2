/* Diagnostics: silent unless asked. Inside someone else's program we print only when the user set
 * NATT_LOG (or asked for -v lines), and then only with one write(2) per line, so lines never interleave
 * and no stdio buffer of the program's is touched. */
#ifndef NATT_LOG_H
#define NATT_LOG_H

enum natt_log_level {
	NATT_LOG_OFF = -1,
	NATT_LOG_ERROR = 0,
	NATT_LOG_WARN = 1,
	NATT_LOG_INFO = 2,
	NATT_LOG_DEBUG = 3,
};

extern int natt_log_level;

void natt_log_set_level(int level);

__attribute__((format(printf, 2, 3))) void natt_log_at(int level, const char *fmt, ...);

/* Writes "natt: <text>\n" to stderr whatever the level: for lines the user asked for (-v). */
__attribute__((format(printf, 1, 2))) void natt_say(const char *fmt, ...);

#define natt_log(level, ...)                                                                   \
	do {                                                                                    \
		if ((level) <= natt_log_level)                                                  \
			natt_log_at((level), __VA_ARGS__);                                      \
	} while (0)
#define natt_error(...) natt_log(NATT_LOG_ERROR, __VA_ARGS__)
#define natt_warn(...) natt_log(NATT_LOG_WARN, __VA_ARGS__)
#define natt_info(...) natt_log(NATT_LOG_INFO, __VA_ARGS__)
#define natt_debug(...) natt_log(NATT_LOG_DEBUG, __VA_ARGS__)

#endif
