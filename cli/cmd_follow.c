/* wait, status --follow: a status file's changes as they happen.
 *
 * Writers replace the file by rename() (lib/core/status_file.c), so the watch is on its directory rather than on
 * the file: an IN_MOVED_TO or IN_CLOSE_WRITE of its name means "read it again". The directory may not
 * exist yet (natt wait started together with natt-run, which creates it): then the nearest existing
 * parent is watched until the next level appears. The process sleeps in poll() on the inotify
 * descriptor; nothing wakes it on a timer. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/json.h"
#include "util/json_value.h"

/* ---- watching a file that is replaced by rename() ---- */

#define DIR_EVENTS (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_DELETE_SELF | \
                    IN_MOVE_SELF | IN_ONLYDIR)

struct watch {
	int fd;                   /* inotify */
	int wd;                   /* -1: nothing watched */
	const char *path;         /* the status file */
	const char *name;         /* its last component */
	char dir[PATH_MAX];       /* the directory that should hold it */
	char watched[PATH_MAX];   /* the directory watched now: dir, or its nearest existing parent */
};

static void parent_of(char *path)
{
	char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(path, PATH_MAX, ".");
	else if (slash == path)
		path[1] = '\0';
	else
		*slash = '\0';
}

static int watch_init(struct watch *w, const char *path)
{
	w->wd = -1;
	w->path = path;
	w->watched[0] = '\0';
	if (snprintf(w->dir, sizeof(w->dir), "%s", path) >= (int)sizeof(w->dir))
		return -ENAMETOOLONG;
	const char *slash = strrchr(path, '/');
	w->name = slash ? slash + 1 : path;
	if (!w->name[0])
		return -EISDIR;
	parent_of(w->dir);
	w->fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	return w->fd < 0 ? -errno : 0;
}

/* Watches the file's directory, or its nearest existing parent. Called before each reading of the
 * file, so that a change after the reading is always seen. */
static int watch_arm(struct watch *w)
{
	for (int tries = 0; tries < 64; tries++) {
		char candidate[PATH_MAX];
		struct stat st;
		snprintf(candidate, sizeof(candidate), "%s", w->dir);
		for (;;) {
			if (stat(candidate, &st) == 0) {
				if (S_ISDIR(st.st_mode))
					break;
				return -ENOTDIR; /* a file where the directory should be: it will never appear */
			}
			if (errno != ENOENT)
				return -errno;
			if (strcmp(candidate, "/") == 0 || strcmp(candidate, ".") == 0)
				return -ENOENT;
			parent_of(candidate);
		}
		if (w->wd >= 0 && strcmp(candidate, w->watched) == 0)
			return 0;
		if (w->wd >= 0)
			inotify_rm_watch(w->fd, w->wd);
		w->wd = inotify_add_watch(w->fd, candidate, DIR_EVENTS);
		if (w->wd >= 0) {
			snprintf(w->watched, sizeof(w->watched), "%s", candidate);
			continue; /* a deeper level may have appeared meanwhile: look again */
		}
		if (errno != ENOENT && errno != ENOTDIR)
			return -errno;
	}
	return 0;
}

/* Reads the pending events. Returns 1 when the file may have changed (or the watched directory did),
 * 0 when the events concern other names only, -errno on failure. */
static int watch_read(struct watch *w)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	int changed = 0;
	for (;;) {
		ssize_t n = read(w->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return changed;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			bool at_dir = strcmp(w->watched, w->dir) == 0;
			if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
				changed = 1;
			else if (!at_dir || (ev->len && strcmp(ev->name, w->name) == 0))
				changed = 1;
			p += sizeof(*ev) + ev->len;
		}
	}
}

/* What one reading found: doc NULL when there is no file (or it is not a status file: why in note). */
struct snapshot {
	struct natt_buf text;
	struct natt_json *doc;
	const struct natt_json *sockets;
	char note[256];
};

static int snapshot_read(const char *path, struct snapshot *s)
{
	natt_buf_reset(&s->text);
	natt_json_free(s->doc);
	s->doc = NULL;
	s->sockets = NULL;
	s->note[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	int rc = natt_cli_read_fd(fd, &s->text);
	close(fd);
	if (rc < 0)
		return rc;
	char err[160];
	s->doc = natt_json_parse(s->text.data ? s->text.data : "", s->text.len, err, sizeof(err));
	if (!s->doc) {
		snprintf(s->note, sizeof(s->note), "%s is not valid JSON: %s", path, err);
		return 0;
	}
	s->sockets = natt_json_get(s->doc, "sockets");
	if (natt_json_type(s->sockets) != NATT_JSON_ARRAY) {
		snprintf(s->note, sizeof(s->note), "%s is not a natt status file (no \"sockets\" list)", path);
		natt_json_free(s->doc);
		s->doc = NULL;
		s->sockets = NULL;
	}
	return 0;
}

/* Called with each reading of the file: 1 done, 0 keep watching, or an exit status + 2 (failure). */
typedef int (*snapshot_fn)(const struct natt_cli_cmd *cmd, const struct snapshot *s, void *ctx);

/* Reads the file now and after each change until fn says done or timeout_ms (0: none) has passed.
 * Returns an exit status, or -ETIMEDOUT. */
static int watch_file(const struct natt_cli_cmd *cmd, const char *path, int timeout_ms, snapshot_fn fn, void *ctx)
{
	struct watch w;
	int rc = watch_init(&w, path);
	if (rc < 0) {
		natt_cli_error(cmd, "cannot watch %s: %s", path, strerror(-rc));
		return NATT_EXIT_FAILED;
	}
	struct snapshot s = { .doc = NULL };
	natt_buf_init(&s.text);
	char last_note[sizeof(s.note)] = "";
	int64_t deadline = timeout_ms ? natt_now_ms() + timeout_ms : 0;
	int status = -1;
	bool done = false;
	while (!done) {
		done = true; /* unless a change sends us round again */
		if ((rc = watch_arm(&w)) < 0 || (rc = snapshot_read(path, &s)) < 0) {
			natt_cli_error(cmd, "cannot watch %s: %s", path,
			               rc == -ENOSPC ? "too many inotify watches (fs.inotify.max_user_watches)" : strerror(-rc));
			status = NATT_EXIT_FAILED;
			break;
		}
		if (s.note[0] && strcmp(s.note, last_note) != 0)
			natt_cli_error(cmd, "%s", s.note); /* once per kind of trouble; the file may be fixed */
		snprintf(last_note, sizeof(last_note), "%s", s.note);
		int verdict = fn(cmd, &s, ctx);
		if (verdict == 1) {
			status = NATT_EXIT_OK;
			break;
		}
		if (verdict >= 2) {
			status = verdict - 2;
			break;
		}
		for (;;) {
			int wait_ms = -1;
			if (deadline) {
				int64_t now = natt_now_ms();
				if (now >= deadline) {
					status = -ETIMEDOUT;
					break;
				}
				wait_ms = (int)(deadline - now);
			}
			struct pollfd pfd = { .fd = w.fd, .events = POLLIN };
			int n = poll(&pfd, 1, wait_ms);
			if (n < 0 && errno != EINTR) {
				natt_cli_error(cmd, "poll: %s", strerror(errno));
				status = NATT_EXIT_FAILED;
				break;
			}
			if (n <= 0)
				continue;
			rc = watch_read(&w);
			if (rc < 0) {
				natt_cli_error(cmd, "reading the inotify events: %s", strerror(-rc));
				status = NATT_EXIT_FAILED;
				break;
			}
			if (rc == 1) {
				done = false;
				break;
			}
		}
	}
	natt_json_free(s.doc);
	natt_buf_free(&s.text);
	close(w.fd);
	return status;
}

/* ---- fields of a socket entry ---- */

static long long field_integer(const struct natt_json *obj, const char *key, long long max)
{
	long long n;
	return natt_json_integer(natt_json_get(obj, key), 0, max, &n) == 0 ? n : -1;
}

static const char *field_string(const struct natt_json *obj, const char *key, const char *fallback)
{
	const char *s = natt_json_string(natt_json_get(obj, key), NULL);
	return s ? s : fallback;
}

/* A socket entry of a live process, or NULL. */
static const struct natt_json *live_socket(const struct snapshot *s, size_t i)
{
	const struct natt_json *sock = natt_json_array_at(s->sockets, i);
	if (natt_json_type(sock) != NATT_JSON_OBJECT)
		return NULL;
	long long pid = field_integer(sock, "pid", 0x7fffffff);
	return pid > 0 && !natt_cli_process_gone(pid) ? sock : NULL;
}

/* The public ADDRESS:PORT of an assignment ("[ADDRESS]:PORT" for IPv6) into buf; false when the
 * assignment is a local name (no technique) or incomplete. */
static bool public_address(const struct natt_json *a, char *buf, size_t len)
{
	const char *addr = natt_json_string(natt_json_get(a, "address"), NULL);
	long long port = field_integer(a, "port", 65535);
	if (natt_json_type(natt_json_get(a, "technique")) != NATT_JSON_STRING || !addr || !addr[0] || port <= 0)
		return false;
	snprintf(buf, len, strchr(addr, ':') ? "[%s]:%lld" : "%s:%lld", addr, port);
	return true;
}

/* ---- natt wait ---- */

static int wait_snapshot(const struct natt_cli_cmd *cmd, const struct snapshot *s, void *ctx)
{
	(void)ctx;
	for (size_t i = 0; s->sockets && i < natt_json_array_len(s->sockets); i++) {
		const struct natt_json *sock = live_socket(s, i);
		if (!sock || (cmd->have_port && field_integer(sock, "local_port", 65535) != cmd->port))
			continue;
		const struct natt_json *list = natt_json_get(sock, "assignments");
		for (size_t j = 0; j < natt_json_array_len(list); j++) {
			char addr[INET6_ADDRSTRLEN + 16];
			if (public_address(natt_json_array_at(list, j), addr, sizeof(addr))) {
				natt_cli_put_text(stdout, addr);
				putchar('\n');
				return 1;
			}
		}
	}
	return 0;
}

int natt_cli_wait(const struct natt_cli_cmd *cmd)
{
	char buf[4096];
	const char *path = natt_cli_status_path(cmd, buf, sizeof(buf));
	int status = watch_file(cmd, path, cmd->timeout_ms, wait_snapshot, NULL);
	if (status == -ETIMEDOUT) {
		char port[32] = "";
		if (cmd->have_port)
			snprintf(port, sizeof(port), " for port %u", cmd->port);
		char span[32];
		if (cmd->timeout_ms % 1000)
			snprintf(span, sizeof(span), "%d.%03d", cmd->timeout_ms / 1000, cmd->timeout_ms % 1000);
		else
			snprintf(span, sizeof(span), "%d", cmd->timeout_ms / 1000);
		natt_cli_error(cmd, "no public address%s in %s within %s s", port, path, span);
		return NATT_EXIT_FAILED;
	}
	return status;
}

/* ---- natt status --follow ---- */

/* One socket as follow reports it: its identity, and one line saying its state. */
struct summary {
	char *key;   /* "PID PROTO ADDRESS PORT" */
	char *who;   /* "COMMAND[PID]" */
	char *local; /* "tcp 0.0.0.0:8000" */
	char *state; /* "published as 100.130.0.1:8000 (upnp)", "not published: ..." */
	char *was;   /* when published: "100.130.0.1:8000, upnp" (said when it is retired) */
};

struct summaries {
	struct summary *items;
	size_t count;
};

struct follow {
	struct summaries last;
	struct natt_buf printed; /* --json: the text printed last */
	bool printed_any;
};

static void summaries_free(struct summaries *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free(list->items[i].key);
		free(list->items[i].who);
		free(list->items[i].local);
		free(list->items[i].state);
		free(list->items[i].was);
	}
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

static char *joined(const struct natt_buf *b)
{
	return b->failed ? NULL : strdup(b->data ? b->data : "");
}

static int summarize(const struct natt_json *sock, struct summary *out)
{
	struct natt_buf b;
	natt_buf_init(&b);
	const char *proto = field_string(sock, "protocol", "?");
	const char *addr = field_string(sock, "local_address", "?");
	long long port = field_integer(sock, "local_port", 65535);
	long long pid = field_integer(sock, "pid", 0x7fffffff);
	const char *state = field_string(sock, "state", "?");
	const char *error = field_string(sock, "error", NULL);

	*out = (struct summary){ 0 };
	natt_buf_printf(&b, "%lld %s %s %lld", pid, proto, addr, port);
	out->key = joined(&b);
	natt_buf_reset(&b);
	natt_buf_printf(&b, "%s[%lld]", field_string(sock, "command", "?"), pid);
	out->who = joined(&b);
	natt_buf_reset(&b);
	natt_buf_printf(&b, strchr(addr, ':') ? "%s [%s]:%lld" : "%s %s:%lld", proto, addr, port);
	out->local = joined(&b);
	natt_buf_reset(&b);

	const struct natt_json *list = natt_json_get(sock, "assignments");
	size_t shown = 0;
	struct natt_buf was;
	natt_buf_init(&was);
	for (size_t j = 0; j < natt_json_array_len(list); j++) {
		const struct natt_json *a = natt_json_array_at(list, j);
		char pub[INET6_ADDRSTRLEN + 16];
		if (!public_address(a, pub, sizeof(pub)))
			continue;
		const char *technique = field_string(a, "technique", "?");
		natt_buf_printf(&b, "%s%s (%s)", shown ? ", " : "published as ", pub, technique);
		natt_buf_printf(&was, "%s%s, %s", shown ? "; " : "", pub, technique);
		shown++;
	}
	if (shown && strcmp(field_string(sock, "warning", ""), "double-nat") == 0)
		natt_buf_append_str(&b, ", double NAT: not reachable from the internet");
	if (!shown) {
		if (strcmp(state, "local-only") == 0)
			natt_buf_printf(&b, "local only: %s", error ? error : "?");
		else if (strcmp(state, "pending") == 0)
			natt_buf_printf(&b, "pending%s%s", error ? ": " : " (asking the router)", error ? error : "");
		else
			natt_buf_printf(&b, "not published (%s)%s%s", state, error ? ": " : "", error ? error : "");
	}
	out->state = joined(&b);
	out->was = shown ? joined(&was) : NULL;
	bool failed = !out->key || !out->who || !out->local || !out->state || (shown && !out->was);
	natt_buf_free(&b);
	natt_buf_free(&was);
	return failed ? -ENOMEM : 0;
}

static const struct summary *find_summary(const struct summaries *list, const char *key)
{
	for (size_t i = 0; i < list->count; i++)
		if (strcmp(list->items[i].key, key) == 0)
			return &list->items[i];
	return NULL;
}

static void say(const char *when, const struct summary *s, const char *what, const char *detail)
{
	printf("%s ", when);
	natt_cli_put_text(stdout, s->who);
	putchar(' ');
	natt_cli_put_text(stdout, s->local);
	putchar(' ');
	natt_cli_put_text(stdout, what);
	natt_cli_put_text(stdout, detail);
	putchar('\n');
}

static int follow_snapshot(const struct natt_cli_cmd *cmd, const struct snapshot *s, void *ctx)
{
	struct follow *f = ctx;
	if (cmd->json) {
		/* Each new content, unchanged: a stream of JSON documents (jq reads them one by one). */
		if (s->text.len && (!f->printed_any || f->printed.len != s->text.len ||
		                    memcmp(f->printed.data, s->text.data, s->text.len) != 0)) {
			fwrite(s->text.data, 1, s->text.len, stdout);
			natt_buf_reset(&f->printed);
			natt_buf_append(&f->printed, s->text.data, s->text.len);
			f->printed_any = true;
		}
		return fflush(stdout) == 0 ? 0 : NATT_EXIT_FAILED + 2;
	}
	if (!s->doc && s->note[0])
		return 0; /* unreadable for now: keep what was last known */

	struct summaries now = { 0 };
	size_t n = s->sockets ? natt_json_array_len(s->sockets) : 0;
	now.items = n ? calloc(n, sizeof(*now.items)) : NULL;
	if (n && !now.items)
		return NATT_EXIT_FAILED + 2;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct natt_json *sock = live_socket(s, i);
		if (!sock)
			continue;
		rc = summarize(sock, &now.items[now.count]);
		now.count++;
	}
	if (rc < 0) {
		summaries_free(&now);
		natt_cli_error(cmd, "out of memory");
		return NATT_EXIT_FAILED + 2;
	}

	char when[32];
	natt_format_utc(time(NULL), when, sizeof(when));
	for (size_t i = 0; i < f->last.count; i++) {
		const struct summary *old = &f->last.items[i];
		if (find_summary(&now, old->key))
			continue;
		if (old->was) {
			char detail[600];
			snprintf(detail, sizeof(detail), " (was %s)", old->was);
			say(when, old, "retired", detail);
		} else {
			say(when, old, "retired", "");
		}
	}
	for (size_t i = 0; i < now.count; i++) {
		const struct summary *old = find_summary(&f->last, now.items[i].key);
		if (!old || strcmp(old->state, now.items[i].state) != 0)
			say(when, &now.items[i], now.items[i].state, "");
	}
	summaries_free(&f->last);
	f->last = now;
	return fflush(stdout) == 0 ? 0 : NATT_EXIT_FAILED + 2;
}

int natt_cli_follow(const struct natt_cli_cmd *cmd)
{
	char buf[4096];
	const char *path = natt_cli_status_path(cmd, buf, sizeof(buf));
	struct follow f = { .last = { 0 } };
	natt_buf_init(&f.printed);
	int status = watch_file(cmd, path, 0, follow_snapshot, &f);
	summaries_free(&f.last);
	natt_buf_free(&f.printed);
	return status < 0 ? NATT_EXIT_FAILED : status;
}
