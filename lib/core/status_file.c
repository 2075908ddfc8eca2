/* Writing the status file (see status.h for the rules). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/uio.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "core/gwlock.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/json_value.h"
#include "natt/net.h"
#include "sys/ownfd.h"
#include "sys/statedir.h"
#include "core/engine_internal.h"
#include "core/status_file.h"

/* Files read from this size on are followed by a trim of the allocator (about 300 sockets). */
#define STATUS_TRIM_BYTES (128 * 1024)


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

static bool process_alive(long pid)
{
	return pid > 0 && pid <= INT_MAX && kill((pid_t)pid, 0) == 0;
}

/* When process pid started (clock ticks after boot, /proc/PID/stat field 22), or 0 when unknown. With
 * the pid it names one process: a pid reused by another program, or pid 1, which always "exists", no
 * longer matches an entry written by a process that is gone. */
static unsigned long long process_start(long pid)
{
	char path[64], text[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	int fd = natt_own_open(path, O_RDONLY, 0);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, text, sizeof(text) - 1);
	natt_own_close(fd);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	/* After the command's closing parenthesis: field 3 (state) onwards; the start is the 20th of them. */
	char *p = strrchr(text, ')');
	if (!p)
		return 0;
	p++;
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* process_start() of this process, read once per pid (a forked child has its own). */
static unsigned long long own_start(void)
{
	static pid_t known_pid;
	static unsigned long long known_start;
	pid_t self = getpid();
	if (known_pid != self || !known_start) {
		known_start = process_start(self);
		known_pid = self;
	}
	return known_start;
}

static unsigned long long start_of(pid_t pid)
{
	return pid == getpid() ? own_start() : process_start(pid);
}

/* The number as a pid, or -1: anything but an integer of 1..INT_MAX (1e300, -0.5, NaN) is none. */
static long json_pid(struct natt_json_span value)
{
	double d;
	if (!natt_json_span_number(value, &d) || !(d >= 1 && d <= INT_MAX) || d != (double)(long)d)
		return -1;
	return (long)d;
}

void (*natt_status_owner)(const struct natt_entry *entry, pid_t *pid, char *command, size_t len);

/* Processes looked up. A start read from /proc that matches is believed for PROCESS_START_KEEP_MS:
 * writes come in bursts (50 processes publishing at once rewrite the file hundreds of times a second,
 * each write looking at every other process); whether the pid lives is asked at every write, and a
 * start that does not match is read again. So a process that ends and whose pid a new process takes
 * within that time keeps its entries that much longer; a live process's entries are never dropped for
 * what the cache says. Ten seconds: each of fifty processes writes about three times in a few seconds
 * (its sockets pending, published, gone), and with one second its later writes read /proc again for
 * nearly every other process (a write as the fifty closed their sockets: 264 system calls at the
 * median; 112 with ten seconds and the shim's kill() no longer asking whom a kill(pid, 0) is for);
 * the kernel reuses a pid only once it has gone round the whole range (with a pid_max of 32768, the
 * kernel's default on small machines, that is 3,300 new processes a second for those 10 s). Not
 * thread-local: the engine's thread-local storage is static, taken from what the loader keeps free
 * for libraries opened later, which sanitizers and other libraries use too. */
#define PROCESS_CACHE_SIZE 256
#define PROCESS_START_KEEP_MS 10000

struct process_cache {
	long pid;
	unsigned long long start;
	int64_t read_ms;
};

static struct process_cache known_processes[PROCESS_CACHE_SIZE];
/* (Only tried: a lock held by another thread, or left held by a fork, means an uncached read.) */
static pthread_mutex_t known_processes_lock = PTHREAD_MUTEX_INITIALIZER;

/* Whether pid lives and started at start. */
static bool process_is(long pid, double start)
{
	if (!process_alive(pid))
		return false;
	if (pthread_mutex_trylock(&known_processes_lock) != 0)
		return start == (double)process_start(pid);
	int64_t now = natt_now_ms();
	struct process_cache *slot = &known_processes[(unsigned long)pid % PROCESS_CACHE_SIZE];
	bool same;
	if (slot->pid == pid && now - slot->read_ms < PROCESS_START_KEEP_MS && now >= slot->read_ms &&
	    slot->start && start == (double)slot->start) {
		same = true;
	} else {
		*slot = (struct process_cache){ pid, process_start(pid), now };
		same = start == (double)slot->start;
	}
	pthread_mutex_unlock(&known_processes_lock);
	return same;
}

/* The last answer of same_process in one write (the entries of a process are listed together). */
struct last_answer {
	long pid;
	double start;
	bool same;
};

/* Whether the number at key of item, with the start time at start_key, names a process that lives:
 * the same pid and the same start. */
static bool same_process(struct natt_json_span item, const char *key, const char *start_key, long *pid_out,
                         struct last_answer *last)
{
	struct natt_json_span value, start_value;
	double start;
	long pid = natt_json_span_get(item, key, &value) ? json_pid(value) : -1;
	*pid_out = pid;
	if (pid <= 0 || !natt_json_span_get(item, start_key, &start_value) ||
	    !natt_json_span_number(start_value, &start))
		return false;
	if (last->pid != pid || last->start != start)
		*last = (struct last_answer){ pid, start, process_is(pid, start) };
	return last->same;
}

/* Parts of the document to write: pieces of text that stay where they are until it is written. */
struct parts {
	struct iovec *list;
	size_t count, cap;
	bool failed;
};

static void add_part(struct parts *parts, const char *text, size_t len)
{
	if (parts->failed || !len)
		return;
	if (parts->count == parts->cap) {
		size_t cap = parts->cap ? parts->cap * 2 : 16;
		struct iovec *list = realloc(parts->list, cap * sizeof(*list));
		if (!list) {
			parts->failed = true;
			return;
		}
		parts->list = list;
		parts->cap = cap;
	}
	parts->list[parts->count++] = (struct iovec){ (void *)text, len };
}

/* The document's array of socket objects, if the text is a well-formed document. */
static bool document_sockets(const char *text, size_t len, struct natt_json_span *sockets)
{
	return natt_json_check(text, len, NULL, 0) &&
	       natt_json_span_get(natt_json_span_root(text, len), "sockets", sockets);
}

/* Whether a socket object names pid as its process (a watcher's too: see "publisher"). */
static bool item_pid_is(struct natt_json_span item, pid_t pid)
{
	struct natt_json_span value;
	return natt_json_span_get(item, "pid", &value) && json_pid(value) == (long)pid;
}

/* Adds the other live processes' socket objects of text (the current file) to parts, each as it stands
 * there, comma-separated: all but those of process self, and those a watcher wrote ("publisher")
 * unless that watcher is another one and still lives. Objects kept side by side are one part, with the
 * file's own separators between them. */
static void keep_others(const char *text, size_t len, pid_t self, struct parts *parts, bool *first)
{
	struct natt_json_span sockets, item = { NULL, 0 };
	if (!document_sockets(text, len, &sockets))
		return; /* a damaged file is replaced by ours rather than kept */
	pid_t writer = getpid();
	struct last_answer publishers = { 0 }, owners = { 0 };
	const char *run = NULL, *run_end = NULL;
	while (natt_json_span_next(sockets, &item)) {
		long pid, by;
		struct natt_json_span value;
		bool keep = true;
		if (natt_json_span_get(item, "publisher", &value) &&
		    (!same_process(item, "publisher", "publisher_start", &by, &publishers) || by == (long)writer))
			keep = false; /* a watcher's entry: its writer replaces it, and it goes with that writer */
		else if (item_pid_is(item, self))
			keep = false; /* ours: written afresh */
		else if (!same_process(item, "pid", "start", &pid, &owners))
			keep = false;
		if (keep && !run) {
			run = item.text;
		} else if (!keep && run) {
			add_part(parts, *first ? "\n    " : ",\n    ", *first ? 5 : 6);
			add_part(parts, run, (size_t)(run_end - run));
			*first = false;
			run = NULL;
		}
		if (keep)
			run_end = item.text + item.len;
	}
	if (run) {
		add_part(parts, *first ? "\n    " : ",\n    ", *first ? 5 : 6);
		add_part(parts, run, (size_t)(run_end - run));
		*first = false;
	}
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
		/* A pinhole's internal address is its own; no NAT stands before it. */
		bool pinhole = strchr(a->address, ':') != NULL;
		const char *internal = pinhole ? a->address : e->internal_client[0] ? e->internal_client : NULL;
		put_string_field(b, "internal_address", internal, true);
		natt_buf_printf(b, "\"double_nat\": %s", !pinhole && e->double_nat ? "true" : "false");
	}
	natt_buf_append(b, " }", 2);
}

static void put_entry(struct natt_buf *b, struct natt_entry *e, natt_collect_fn collect,
                      struct natt_host_interfaces *host, const char *command, const char *gateway)
{
	char local[INET6_ADDRSTRLEN];
	natt_addr_format((const struct sockaddr *)&e->local, local, sizeof(local));
	uint16_t port = e->local.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&e->local)->sin_port)
	                                              : ntohs(((struct sockaddr_in6 *)&e->local)->sin6_port);
	pid_t pid = getpid();
	char owner_command[32];
	if (natt_status_owner) {
		owner_command[0] = '\0';
		natt_status_owner(e, &pid, owner_command, sizeof(owner_command));
		command = owner_command;
	}
	natt_buf_printf(b, "{ \"pid\": %d, \"start\": %llu, ", (int)pid, start_of(pid));
	if (pid != getpid())
		natt_buf_printf(b, "\"publisher\": %d, \"publisher_start\": %llu, ", (int)getpid(), own_start());
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
	const struct natt_entry *side = e->pinhole_side;
	if (side && side->state != NATT_STATE_PUBLISHED && side->error[0])
		put_string_field(b, "ipv6_error", side->error, true);
	natt_buf_append(b, "\n      \"assignments\": [", 23);
	struct natt_assignment list[64];
	size_t n = collect(e, host, list, 64);
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

/* Replaces the file: the entries of the other live processes as they are, then own (comma-separated
 * socket objects, own_len 0 for none) as process self's. Through the checked directory only. 0 or
 * -errno. */
static int write_document(const char *path, pid_t self, const char *own, size_t own_len)
{
	const char *name;
	int dir_fd = natt_state_dir_open(path, &name);
	if (dir_fd < 0)
		return dir_fd;
	char lock_name[NAME_MAX + 1];
	if (snprintf(lock_name, sizeof(lock_name), "%s.lock", name) >= (int)sizeof(lock_name)) {
		natt_own_close(dir_fd);
		return -ENAMETOOLONG;
	}
	int rc, lock_fd = natt_state_open_lock(dir_fd, lock_name);
	if (lock_fd < 0 || (rc = natt_lock_file(dir_fd, lock_name, lock_fd, 5000)) < 0) {
		rc = lock_fd < 0 ? lock_fd : rc;
		natt_own_close(lock_fd);
		natt_own_close(dir_fd);
		return rc;
	}

	char now_text[32], header[96];
	struct parts parts = { 0 };
	add_part(&parts, header,
	         (size_t)snprintf(header, sizeof(header), "{ \"version\": 1, \"updated\": \"%s\",\n  \"sockets\": [",
	                          natt_format_utc(time(NULL), now_text, sizeof(now_text))));
	bool first = true;
	/* Other processes' entries are kept from a file of sensible size only: one that is not (or not a
	 * regular file) is replaced by ours. */
	char *current = NULL;
	size_t current_len;
	if (natt_state_read(dir_fd, name, NATT_STATUS_MAX_BYTES, &current, &current_len) == 0)
		keep_others(current, current_len, self, &parts, &first);
	if (own_len) {
		add_part(&parts, first ? "\n    " : ",\n    ", first ? 5 : 6);
		first = false;
		add_part(&parts, own, own_len);
	}
	add_part(&parts, first ? "] }\n" : "\n  ] }\n", first ? 4 : 7);

	rc = parts.failed ? -ENOMEM : natt_state_replace_parts(dir_fd, name, parts.list, parts.count);
	bool large = current && current_len >= STATUS_TRIM_BYTES;
	free(parts.list);
	free(current);
	natt_own_close(lock_fd); /* drops the lock */
	natt_own_close(dir_fd);
	/* A large file read in a piece the allocator would keep in the program's memory: given back. */
	if (large)
		malloc_trim(0);
	return rc;
}

/* A process that gave up its privileges (a daemon now running as nobody) can no longer write where
 * natt-run was told: natt-run's status relay, a process outside it, writes for it (its abstract socket
 * is named in NATT_STATUS_RELAY) through the same checked directory. 0 or -errno. */
static int send_to_relay(const char *own, size_t own_len)
{
	const char *name = secure_getenv("NATT_STATUS_RELAY");
	struct sockaddr_un to = { .sun_family = AF_UNIX };
	size_t name_len = name ? strlen(name) : 0;
	if (name_len == 0 || name_len >= sizeof(to.sun_path) - 1)
		return -ENOENT;
	memcpy(to.sun_path + 1, name, name_len); /* abstract: sun_path[0] stays 0 */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* the kernel adds our credentials (SO_PASSCRED on the relay's side): they say whose entries */
	ssize_t n = sendto(fd, own_len ? own : "", own_len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&to,
	                   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + name_len));
	int rc = n < 0 ? -errno : 0;
	natt_own_close(fd);
	return rc;
}

int natt_status_write(const char *path, struct natt_entry *entries, natt_collect_fn collect,
                      const struct in_addr *gateway)
{
	char command[32], gw_text[INET_ADDRSTRLEN];
	read_command(command, sizeof(command));
	if (gateway)
		inet_ntop(AF_INET, gateway, gw_text, sizeof(gw_text));
	struct natt_buf own;
	natt_buf_init(&own);
	bool first = true;
	struct natt_host_interfaces host = { 0 };
	for (struct natt_entry *e = entries; e; e = e->next) {
		if (e->vanished || e->pinhole_of)
			continue; /* (a dual-stack socket's IPv6 side is in its socket's object) */
		if (!first)
			natt_buf_append(&own, ",\n    ", 6);
		first = false;
		put_entry(&own, e, collect, &host, command, gateway ? gw_text : NULL);
	}
	natt_host_interfaces_release(&host);
	int rc = own.failed ? -ENOMEM : write_document(path, getpid(), own.data, own.len);
	if ((rc == -EACCES || rc == -EPERM || rc == -EROFS) && !own.failed && send_to_relay(own.data, own.len) == 0)
		rc = 0;
	natt_buf_free(&own);
	return rc;
}

int natt_status_merge(const char *path, pid_t pid, const char *own, size_t own_len)
{
	return write_document(path, pid, own, own_len);
}

/* Whether the document text holds a socket object of process pid's own (not a watcher's for it). */
static bool has_entries_of(const char *text, size_t len, pid_t pid)
{
	struct natt_json_span sockets, item = { NULL, 0 }, value;
	if (!document_sockets(text, len, &sockets))
		return false;
	while (natt_json_span_next(sockets, &item))
		if (!natt_json_span_get(item, "publisher", &value) && item_pid_is(item, pid))
			return true;
	return false;
}

int natt_status_drop(const char *path, pid_t pid)
{
	const char *name;
	int dir_fd = natt_state_dir_open(path, &name);
	if (dir_fd < 0)
		return dir_fd;
	char *current = NULL;
	size_t current_len;
	/* (Without the lock: the file is only ever replaced whole, and no entry of an ended process comes
	 * after this read but through the relay that asks.) */
	bool has = natt_state_read(dir_fd, name, NATT_STATUS_MAX_BYTES, &current, &current_len) == 0 &&
	           has_entries_of(current, current_len, pid);
	free(current);
	natt_own_close(dir_fd);
	return has ? write_document(path, pid, NULL, 0) : 0;
}
