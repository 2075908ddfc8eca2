/* Writing the status file (see status.h for the rules). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "core/gwlock.h"
#include "util/json.h"
#include "natt/net.h"
#include "sys/ownfd.h"
#include "core/status_file.h"

#define STATUS_MAX_BYTES (16u << 20)

static const char *state_name(enum natt_listener_state state)
{
	switch (state) {
	case NATT_STATE_PUBLISHED: return "published";
	case NATT_STATE_FAILED: return "failed";
	case NATT_STATE_LOCAL_ONLY: return "local-only";
	case NATT_STATE_PENDING: break;
	}
	return "pending";
}

static int make_parent_dirs(const char *path)
{
	char dir[PATH_MAX];
	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

static bool process_alive(long pid)
{
	if (pid <= 0 || pid > INT_MAX)
		return false;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* Copies the other live processes' socket objects of the current file into out (comma-separated). */
static void keep_others(int dirfd_unused, const char *path, struct natt_buf *out, bool *first)
{
	(void)dirfd_unused;
	int fd = natt_own_open(path, O_RDONLY, 0);
	if (fd < 0)
		return;
	struct natt_buf text;
	natt_buf_init(&text);
	char chunk[8192];
	ssize_t n;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0 && text.len < STATUS_MAX_BYTES)
		natt_buf_append(&text, chunk, (size_t)n);
	natt_own_close(fd);
	if (text.failed || text.len == 0) {
		natt_buf_free(&text);
		return;
	}
	char err[128];
	struct natt_json *doc = natt_json_parse(text.data, text.len, err, sizeof(err));
	natt_buf_free(&text);
	if (!doc)
		return; /* a damaged file is replaced by ours rather than kept */
	const struct natt_json *sockets = natt_json_get(doc, "sockets");
	size_t count = sockets ? natt_json_array_len(sockets) : 0;
	pid_t self = getpid();
	for (size_t i = 0; i < count; i++) {
		const struct natt_json *item = natt_json_array_at(sockets, i);
		const struct natt_json *pid = item ? natt_json_get(item, "pid") : NULL;
		if (!pid || natt_json_type(pid) != NATT_JSON_NUMBER)
			continue;
		long value = (long)natt_json_number(pid);
		if (value == (long)self || !process_alive(value))
			continue;
		if (!*first)
			natt_buf_append(out, ",\n    ", 6);
		*first = false;
		natt_json_write(out, item);
	}
	natt_json_free(doc);
}

static void put_key(struct natt_buf *b, const char *key)
{
	natt_buf_json_string(b, key);
	natt_buf_append(b, ": ", 2);
}

static void put_string_field(struct natt_buf *b, const char *key, const char *value, bool comma)
{
	put_key(b, key);
	if (value)
		natt_buf_json_string(b, value);
	else
		natt_buf_append(b, "null", 4);
	if (comma)
		natt_buf_append(b, ", ", 2);
}

static void put_assignment(struct natt_buf *b, const struct natt_assignment *a, const struct natt_entry *e)
{
	natt_buf_append(b, "{ ", 2);
	put_string_field(b, "protocol", a->protocol == NATT_UDP ? "udp" : "tcp", true);
	put_string_field(b, "address", a->address, true);
	natt_buf_printf(b, "\"port\": %u, ", a->port);
	put_string_field(b, "technique", natt_technique_name(a->technique), a->technique != NATT_TECH_LOCAL);
	if (a->technique != NATT_TECH_LOCAL) {
		char when[32];
		natt_buf_printf(b, "\"lifetime\": %u, ", a->lifetime);
		put_string_field(b, "expires", a->expires ? natt_format_utc(a->expires, when, sizeof(when)) : NULL,
		                 true);
		put_string_field(b, "internal_address", e->internal_client[0] ? e->internal_client : NULL, true);
		natt_buf_printf(b, "\"double_nat\": %s", e->double_nat ? "true" : "false");
	}
	natt_buf_append(b, " }", 2);
}

static void put_entry(struct natt_buf *b, struct natt_entry *e, natt_collect_fn collect, const char *command,
                      const char *gateway)
{
	char local[INET6_ADDRSTRLEN];
	natt_addr_format((const struct sockaddr *)&e->local, local, sizeof(local));
	uint16_t port = e->local.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&e->local)->sin_port)
	                                              : ntohs(((struct sockaddr_in6 *)&e->local)->sin6_port);
	natt_buf_printf(b, "{ \"pid\": %d, ", (int)getpid());
	put_string_field(b, "command", command, true);
	put_string_field(b, "protocol", e->protocol == NATT_UDP ? "udp" : "tcp", true);
	put_string_field(b, "local_address", local, true);
	natt_buf_printf(b, "\"local_port\": %u, ", port);
	put_string_field(b, "state", state_name(e->state), true);
	if (e->error[0] && e->state != NATT_STATE_PUBLISHED)
		put_string_field(b, "error", e->error, true);
	if (e->state == NATT_STATE_PUBLISHED && e->double_nat)
		put_string_field(b, "warning", "double-nat", true);
	put_string_field(b, "gateway", gateway, true);
	natt_buf_append(b, "\n      \"assignments\": [", 23);
	struct natt_assignment list[64];
	size_t n = collect(e, list, 64);
	if (n > 64)
		n = 64;
	for (size_t i = 0; i < n; i++) {
		natt_buf_append(b, i ? ",\n        " : "\n        ", i ? 10 : 9);
		put_assignment(b, &list[i], e);
	}
	natt_buf_append(b, " ] }", 4);
}

static void read_command(char *buf, size_t len)
{
	buf[0] = '\0';
	int fd = natt_own_open("/proc/self/comm", O_RDONLY, 0);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, len - 1);
	natt_own_close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int natt_status_write(const char *path, struct natt_entry *entries, natt_collect_fn collect,
                      const struct in_addr *gateway)
{
	int rc = make_parent_dirs(path);
	if (rc < 0)
		return rc;
	char lock_path[PATH_MAX], tmp_path[PATH_MAX];
	if (snprintf(lock_path, sizeof(lock_path), "%s.lock", path) >= (int)sizeof(lock_path) ||
	    snprintf(tmp_path, sizeof(tmp_path), "%s.%d.tmp", path, (int)getpid()) >= (int)sizeof(tmp_path))
		return -ENAMETOOLONG;
	int lock_fd = natt_own_open(lock_path, O_RDWR | O_CREAT, 0644);
	if (lock_fd < 0)
		return -errno;
	if ((rc = natt_lock_file(lock_fd, 5000)) < 0) {
		natt_own_close(lock_fd);
		return rc;
	}

	char command[32], gw_text[INET_ADDRSTRLEN], now_text[32];
	read_command(command, sizeof(command));
	if (gateway)
		inet_ntop(AF_INET, gateway, gw_text, sizeof(gw_text));
	struct natt_buf b;
	natt_buf_init(&b);
	natt_buf_printf(&b, "{ \"version\": 1, \"updated\": \"%s\",\n  \"sockets\": [",
	                natt_format_utc(time(NULL), now_text, sizeof(now_text)));
	bool first = true;
	struct natt_buf others;
	natt_buf_init(&others);
	keep_others(-1, path, &others, &first);
	if (others.len) {
		natt_buf_append(&b, "\n    ", 5);
		natt_buf_append(&b, others.data, others.len);
	}
	natt_buf_free(&others);
	for (struct natt_entry *e = entries; e; e = e->next) {
		if (e->vanished)
			continue;
		natt_buf_append(&b, first ? "\n    " : ",\n    ", first ? 5 : 6);
		first = false;
		put_entry(&b, e, collect, command, gateway ? gw_text : NULL);
	}
	natt_buf_append(&b, first ? "] }\n" : "\n  ] }\n", first ? 4 : 7);

	if (b.failed) {
		rc = -ENOMEM;
	} else {
		int fd = natt_own_open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0) {
			rc = -errno;
		} else {
			rc = write_all(fd, b.data, b.len);
			if (natt_own_close(fd) < 0 && rc == 0)
				rc = -errno;
			if (rc == 0 && rename(tmp_path, path) < 0)
				rc = -errno;
			if (rc < 0)
				unlink(tmp_path);
		}
	}
	natt_buf_free(&b);
	natt_own_close(lock_fd); /* drops the lock */
	return rc;
}
