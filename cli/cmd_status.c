/* status: a natt status file (format in README.md) as a table, or passed through with --json.
 *
 * The file is written by other processes — possibly older or newer natt versions, possibly damaged —
 * so every field is optional here and of any type: what is missing or odd is shown as "?", never
 * trusted. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "core/config.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/json_value.h"

/* ---- reading ---- */

int natt_cli_read_fd(int fd, struct natt_buf *text)
{
	char chunk[65536];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return text->failed ? -ENOMEM : 0;
		if (text->len + (size_t)n > NATT_JSON_MAX_TEXT)
			return -EFBIG;
		natt_buf_append(text, chunk, (size_t)n);
	}
}

/* The file to show: FILE, else $NATT_STATUS_FILE (what natt-run --status sets), else the default of
 * natt-run. */
const char *natt_cli_status_path(const struct natt_cli_cmd *cmd, char *buf, size_t len)
{
	if (cmd->status_file)
		return cmd->status_file;
	const char *env = getenv("NATT_STATUS_FILE");
	if (env && env[0])
		return env;
	natt_default_status_path(buf, len);
	return buf;
}

/* ---- a table of text cells ---- */

enum { COL_PID, COL_COMMAND, COL_PROTO, COL_LOCAL, COL_STATE, COL_PUBLIC, NCOLS };

struct table {
	size_t rows, cap;
	char *(*cells)[NCOLS];
};

static int table_add(struct table *t, char *row[NCOLS])
{
	if (t->rows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		void *grown = realloc(t->cells, cap * sizeof(*t->cells));
		if (!grown)
			return -ENOMEM;
		t->cells = grown;
		t->cap = cap;
	}
	for (int c = 0; c < NCOLS; c++)
		t->cells[t->rows][c] = row[c];
	t->rows++;
	return 0;
}

static void table_free(struct table *t)
{
	for (size_t r = 0; r < t->rows; r++)
		for (int c = 0; c < NCOLS; c++)
			free(t->cells[r][c]);
	free(t->cells);
}

/* Display width of UTF-8 text: one column per code point (good enough for names and addresses). */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

static void table_print(const struct table *t)
{
	size_t w[NCOLS] = { 0 };
	for (size_t r = 0; r < t->rows; r++)
		for (int c = 0; c < NCOLS; c++)
			if (width(t->cells[r][c]) > w[c])
				w[c] = width(t->cells[r][c]);
	for (size_t r = 0; r < t->rows; r++) {
		int last = NCOLS - 1;
		while (last > 0 && !t->cells[r][last][0])
			last--;
		for (int c = 0; c <= last; c++) {
			natt_cli_put_text(stdout, t->cells[r][c]);
			if (c < last)
				printf("%*s", (int)(w[c] - width(t->cells[r][c]) + 2), "");
		}
		printf("\n");
	}
}

__attribute__((format(printf, 1, 2))) static char *text(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

/* ---- fields ---- */

static const char *string_or(const struct natt_json *v, const char *fallback)
{
	const char *s = natt_json_string(v, NULL);
	return s ? s : fallback;
}

static long long integer_or(const struct natt_json *v, long long min, long long max, long long fallback)
{
	long long n;
	return natt_json_integer(v, min, max, &n) == 0 ? n : fallback;
}

/* "2026-11-22T11:00:00Z" -> time_t; -1 when it is not such a time. */
static time_t parse_utc(const char *s)
{
	struct tm tm = { 0 };
	if (!s)
		return -1;
	const char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return -1;
	if (*end == '.') /* fractions of a second are allowed and ignored */
		for (end++; *end >= '0' && *end <= '9'; end++)
			;
	if (strcmp(end, "Z") != 0)
		return -1;
	return timegm(&tm);
}

/* "in 59 min", "in 2 h 5 min", "12 s ago". */
static void relative(time_t when, time_t now, char *buf, size_t len)
{
	long long d = (long long)when - (long long)now;
	long long a = d < 0 ? -d : d;
	char span[48];
	if (a < 60)
		snprintf(span, sizeof(span), "%lld s", a);
	else if (a < 3600)
		snprintf(span, sizeof(span), "%lld min", a / 60);
	else if (a < 86400)
		snprintf(span, sizeof(span), "%lld h %lld min", a / 3600, a % 3600 / 60);
	else
		snprintf(span, sizeof(span), "%lld d %lld h", a / 86400, a % 86400 / 3600);
	snprintf(buf, len, d < 0 ? "%s ago" : "in %s", span);
}

static char *local_name(const struct natt_json *sock)
{
	const char *addr = string_or(natt_json_get(sock, "local_address"), "?");
	long long port = integer_or(natt_json_get(sock, "local_port"), 0, 65535, -1);
	const char *fmt = strchr(addr, ':') ? "[%s]:%s" : "%s:%s";
	char port_text[24];
	if (port < 0)
		snprintf(port_text, sizeof(port_text), "?");
	else
		snprintf(port_text, sizeof(port_text), "%lld", port);
	return text(fmt, addr, port_text);
}

/* "100.130.0.1:8000 upnp, expires 2026-11-22T11:00:00Z (in 59 min)" */
static char *public_name(const struct natt_json *a, time_t now)
{
	const char *addr = string_or(natt_json_get(a, "address"), "?");
	long long port = integer_or(natt_json_get(a, "port"), 0, 65535, -1);
	const char *technique = string_or(natt_json_get(a, "technique"), "?");
	const char *expires = natt_json_string(natt_json_get(a, "expires"), NULL);
	long long lifetime = integer_or(natt_json_get(a, "lifetime"), 0, 0xffffffffLL, -1);
	char when[96];
	time_t t = parse_utc(expires);
	if (t != (time_t)-1) {
		char rel[48];
		relative(t, now, rel, sizeof(rel));
		snprintf(when, sizeof(when), ", expires %s (%s)", expires, rel);
	} else if (lifetime == 0 || (natt_json_type(natt_json_get(a, "expires")) == NATT_JSON_NULL)) {
		snprintf(when, sizeof(when), ", permanent");
	} else {
		when[0] = '\0';
	}
	char port_text[24] = "?";
	if (port >= 0)
		snprintf(port_text, sizeof(port_text), "%lld", port);
	return text(strchr(addr, ':') ? "[%s]:%s %s%s" : "%s:%s %s%s", addr, port_text, technique, when);
}

bool natt_cli_process_gone(long long pid)
{
	return pid > 0 && pid <= 0x7fffffff && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

static bool is_public(const struct natt_json *a)
{
	return natt_json_type(a) == NATT_JSON_OBJECT &&
	       natt_json_type(natt_json_get(a, "technique")) == NATT_JSON_STRING; /* local names: null */
}

static int add_row(struct table *t, char *row[NCOLS])
{
	int rc = 0;
	for (int c = 0; c < NCOLS; c++)
		if (!row[c])
			rc = -ENOMEM;
	if (rc == 0)
		rc = table_add(t, row);
	if (rc < 0)
		for (int c = 0; c < NCOLS; c++)
			free(row[c]);
	return rc;
}

/* The rows of one socket: the first with the socket's own columns and its first public name (or
 * why it has none), then one row per further public name. */
static int add_socket(struct table *t, const struct natt_json *sock, time_t now)
{
	long long pid = integer_or(natt_json_get(sock, "pid"), 1, 0x7fffffff, -1);
	const char *state = string_or(natt_json_get(sock, "state"), "?");
	const char *error = natt_json_string(natt_json_get(sock, "error"), NULL);
	const char *warning = natt_json_string(natt_json_get(sock, "warning"), NULL);
	if (warning && strcmp(warning, "double-nat") == 0)
		warning = "double NAT: not reachable from the internet";
	const struct natt_json *assignments = natt_json_get(sock, "assignments");
	size_t n = natt_json_array_len(assignments), first = 0;
	while (first < n && !is_public(natt_json_array_at(assignments, first)))
		first++;

	char *row[NCOLS];
	row[COL_PID] = pid > 0 ? text("%lld", pid) : strdup("?");
	row[COL_COMMAND] = strdup(string_or(natt_json_get(sock, "command"), "?"));
	row[COL_PROTO] = strdup(string_or(natt_json_get(sock, "protocol"), "?"));
	row[COL_LOCAL] = local_name(sock);
	row[COL_STATE] = natt_cli_process_gone(pid) ? text("%s (process gone)", state) : strdup(state);
	if (first < n) {
		char *name = public_name(natt_json_array_at(assignments, first), now);
		const char *extra = error ? error : warning;
		row[COL_PUBLIC] = name && extra ? text("%s; %s", name, extra) : name;
		if (name && extra)
			free(name);
	} else if (error) {
		row[COL_PUBLIC] = strdup(error);
	} else {
		row[COL_PUBLIC] = strdup(strcmp(state, "pending") == 0 ? "(asking the router)" : "-");
	}
	int rc = add_row(t, row);
	for (size_t i = first + 1; i < n && rc == 0; i++) {
		const struct natt_json *a = natt_json_array_at(assignments, i);
		if (!is_public(a))
			continue;
		char *more[NCOLS] = { strdup(""), strdup(""), strdup(""), strdup(""), strdup(""), public_name(a, now) };
		rc = add_row(t, more);
	}
	return rc;
}

static int show_table(const struct natt_cli_cmd *cmd, const char *path, const char *data, size_t len)
{
	char err[160];
	struct natt_json *doc = natt_json_parse(data, len, err, sizeof(err));
	if (!doc) {
		natt_cli_error(cmd, "%s is not valid JSON: %s", path, err);
		return NATT_EXIT_FAILED;
	}
	const struct natt_json *sockets = natt_json_get(doc, "sockets");
	if (natt_json_type(sockets) != NATT_JSON_ARRAY) {
		natt_cli_error(cmd, "%s is not a natt status file (no \"sockets\" list)", path);
		natt_json_free(doc);
		return NATT_EXIT_FAILED;
	}
	long long version = integer_or(natt_json_get(doc, "version"), 0, 1000000, -1);
	if (version != 1)
		natt_cli_error(cmd, "note: %s has version %lld; this natt reads version 1 (shown as far as understood)",
		               path, version);

	time_t now = time(NULL);
	const char *updated = natt_json_string(natt_json_get(doc, "updated"), NULL);
	time_t t = parse_utc(updated);
	size_t n = natt_json_array_len(sockets);
	if (t != (time_t)-1) {
		char rel[48];
		relative(t, now, rel, sizeof(rel));
		printf("%s, updated %s (%s)\n", path, updated, rel);
	} else {
		printf("%s\n", path);
	}
	if (n == 0) {
		printf("no sockets: nothing is published\n");
		natt_json_free(doc);
		return NATT_EXIT_OK;
	}
	printf("\n");

	struct table tbl = { 0 };
	char *header[NCOLS] = { strdup("PID"), strdup("COMMAND"), strdup("PROTO"), strdup("LOCAL"), strdup("STATE"),
		                    strdup("PUBLIC") };
	int rc = 0;
	for (int c = 0; c < NCOLS; c++)
		if (!header[c])
			rc = -ENOMEM;
	if (rc == 0)
		rc = table_add(&tbl, header);
	if (rc < 0)
		for (int c = 0; c < NCOLS; c++)
			free(header[c]);
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct natt_json *sock = natt_json_array_at(sockets, i);
		if (natt_json_type(sock) == NATT_JSON_OBJECT)
			rc = add_socket(&tbl, sock, now);
	}
	natt_json_free(doc);
	if (rc < 0) {
		table_free(&tbl);
		natt_cli_error(cmd, "out of memory");
		return NATT_EXIT_FAILED;
	}
	table_print(&tbl);
	table_free(&tbl);
	return NATT_EXIT_OK;
}

int natt_cli_status(const struct natt_cli_cmd *cmd)
{
	if (cmd->follow)
		return natt_cli_follow(cmd);
	char buf[4096];
	const char *path = natt_cli_status_path(cmd, buf, sizeof(buf));
	bool from_stdin = strcmp(path, "-") == 0;
	/* O_NONBLOCK: a FIFO someone left at the name must not hang the command (it is refused below). */
	int fd = from_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	if (fd >= 0 && !from_stdin && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		natt_cli_error(cmd, "%s is not a regular file", path);
		close(fd);
		return NATT_EXIT_FAILED;
	}
	if (fd < 0) {
		if (errno == ENOENT)
			natt_cli_error(cmd, "no status file at %s (nothing publishes under natt-run with this file)", path);
		else
			natt_cli_error(cmd, "cannot open %s: %s", path, strerror(errno));
		return NATT_EXIT_FAILED;
	}
	struct natt_buf data;
	natt_buf_init(&data);
	int rc = natt_cli_read_fd(fd, &data);
	if (!from_stdin)
		close(fd);
	if (rc < 0) {
		natt_cli_error(cmd, "cannot read %s: %s", from_stdin ? "standard input" : path,
		               rc == -EFBIG ? "larger than 16 MiB" : strerror(-rc));
		natt_buf_free(&data);
		return NATT_EXIT_FAILED;
	}
	int status;
	if (cmd->json) {
		/* Unchanged, byte for byte. */
		if (data.len)
			fwrite(data.data, 1, data.len, stdout);
		status = NATT_EXIT_OK;
	} else {
		status = show_table(cmd, from_stdin ? "standard input" : path, data.data ? data.data : "", data.len);
	}
	natt_buf_free(&data);
	return status;
}

/* ---- the pinholes natt keeps open (natt list) ---- */

/* No protocol lists a router's IPv6 pinholes (WANIPv6FirewallControl has no enumeration, PCP none
 * either): natt list shows those natt's processes opened, from the status file. Silent when there is
 * no status file. */
void natt_cli_print_pinholes(const struct natt_cli_cmd *cmd)
{
	char buf[4096];
	const char *path = natt_cli_status_path(cmd, buf, sizeof(buf));
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	if (fd < 0)
		return;
	struct natt_buf data;
	natt_buf_init(&data);
	int rc = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? natt_cli_read_fd(fd, &data) : -EINVAL;
	close(fd);
	char err[160];
	struct natt_json *doc = rc == 0 && data.len ? natt_json_parse(data.data, data.len, err, sizeof(err)) : NULL;
	natt_buf_free(&data);
	if (!doc)
		return;
	time_t now = time(NULL);
	const struct natt_json *sockets = natt_json_get(doc, "sockets");
	for (size_t i = 0; i < natt_json_array_len(sockets); i++) {
		const struct natt_json *sock = natt_json_array_at(sockets, i);
		const struct natt_json *assignments = natt_json_get(sock, "assignments");
		long long pid = integer_or(natt_json_get(sock, "pid"), 1, 0x7fffffff, -1);
		if (natt_cli_process_gone(pid))
			continue;
		for (size_t j = 0; j < natt_json_array_len(assignments); j++) {
			const struct natt_json *a = natt_json_array_at(assignments, j);
			const char *address = natt_json_string(natt_json_get(a, "address"), NULL);
			if (!is_public(a) || !address || !strchr(address, ':'))
				continue;
			long long port = integer_or(natt_json_get(a, "port"), 0, 65535, -1);
			time_t expires = parse_utc(natt_json_string(natt_json_get(a, "expires"), NULL));
			printf("%s [", string_or(natt_json_get(sock, "protocol"), "?"));
			natt_cli_put_text(stdout, address);
			printf("]:%lld pinhole", port);
			if (expires != (time_t)-1)
				printf(" lease %lld", (long long)(expires > now ? expires - now : 0));
			printf(" (%s, pid %lld ", string_or(natt_json_get(a, "technique"), "?"), pid);
			natt_cli_put_text(stdout, string_or(natt_json_get(sock, "command"), "?"));
			printf(")\n");
		}
	}
	natt_json_free(doc);
}
