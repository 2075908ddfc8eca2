#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <unistd.h>

#include "util/clock.h"
#include "core/config.h"
#include "util/log.h"
#include "sys/ownfd.h"
#include "core/engine_internal.h"
#include "core/gwlock.h"
#include "upnp/igd_client.h"
#include "sys/statedir.h"

/* Opens the directory of the status file (checked: statedir.h) and names the host's shared file about
 * one gateway in it: ".natt-gateway-A.B.C.D<suffix>". The directory's fd, or -errno. */
static int gateway_file(const char *status_path, const struct in_addr *gateway, const char *suffix, char *name,
                        size_t len)
{
	char def[PATH_MAX], gw[INET_ADDRSTRLEN];
	if (!status_path || !status_path[0]) {
		natt_default_status_path(def, sizeof(def));
		status_path = def;
	}
	inet_ntop(AF_INET, gateway, gw, sizeof(gw));
	snprintf(name, len, ".natt-gateway-%s%s", gw, suffix);
	const char *base;
	return natt_state_dir_open(status_path, &base);
}

/* Waiters watch the lock file's closes (the holder lets go by closing its fd), and each close wakes
 * every watcher: fifty processes taking the lock ten times each switched context 18,000 times and
 * spent 0.42 s of CPU on it, which the holder and the router needed. So only WATCHERS waiters watch,
 * each holding a write lock on one byte of a file beside the lock ("NAME.w", so that the lock itself
 * stays a whole-file record lock, as the README documents it); the others look again every few tens
 * of milliseconds and take a watcher's place when one is free (with three places: 3,300 switches,
 * 0.2 s). A place goes to whichever waiter asks first after it is freed, not to the one that waited
 * longest; the timeouts bound the wait. Eight places: each new holder leaves its place, and with
 * three, the few waiters left at the end of a crowd, looking again every 50 ms, often took none in
 * time, and a release found no watcher (the lock lay free 3-22 ms, a few times per fifty
 * processes). Each look tries every place, for the same reason. */
#define WATCHERS NATT_LOCK_WATCHERS
#define WATCHED_PAUSE_MAX_MS 20
#define UNWATCHED_PAUSE_MAX_MS 50

static int lock_range(int fd, short type, off_t start, off_t len)
{
	struct flock range = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
	return fcntl(fd, F_SETLK, &range);
}

/* The inotify instance a waiter watches with is kept until natt's thread next goes idle, not closed
 * as soon as the wait ends: closing one waits for the kernel's SRCU grace period (0.03-5.5 ms on
 * this project's machine), which a waiter paid after taking the gateway lock, before its first
 * request to the router. Only the watch goes after each wait (the kernel frees a mark in the
 * background). Not kept longer: instances are few per user (128 by default) and the programs need
 * theirs. Its number may move while a wait uses it (the program's dup2() onto it: fd_moved), so a
 * wait reads it again at each use. (One thread of a process waits, natt's or the status relay's; a
 * second waiter at once would make an instance of its own for that wait.) */
static struct {
	pthread_mutex_t mutex;
	int fd; /* atomic: moved by the program's threads */
} Kept = { PTHREAD_MUTEX_INITIALIZER, -1 };

/* No wait of this process's goes past this (natt_now_ms; 0: no bound): its clean-up's end. */
static _Atomic int64_t waits_end_ms;

void natt_lock_waits_end_by(int64_t until_ms)
{
	atomic_store(&waits_end_ms, until_ms);
}

struct release_watch {
	int fd; /* the inotify instance (for the kept one: its number when the wait began), -1: none */
	int wd;
	bool kept; /* Kept's (its mutex held), else made for this wait */
	bool lost; /* closed under natt: its number is not ours to use or close (the pause alone) */
};

static int kept_fd(void)
{
	return __atomic_load_n(&Kept.fd, __ATOMIC_ACQUIRE);
}

static int watch_fd(const struct release_watch *w)
{
	return w->lost ? -1 : w->kept ? kept_fd() : w->fd;
}

static void watch_lost(struct release_watch *w, int fd)
{
	if (w->kept)
		__atomic_compare_exchange_n(&Kept.fd, &fd, -1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	w->lost = true;
}

static int new_instance(void)
{
	natt_own_fds_opening();
	int fd = natt_own_fd(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
	natt_own_fds_opened();
	return fd;
}

static void drain(int watch)
{
	char events[4096];
	while (read(watch, events, sizeof(events)) > 0)
		;
}

/* Watches the lock file's closes: false without inotify. */
static bool watch_releases(struct release_watch *w, int fd)
{
	w->kept = pthread_mutex_trylock(&Kept.mutex) == 0;
	if (w->kept && kept_fd() < 0)
		__atomic_store_n(&Kept.fd, new_instance(), __ATOMIC_RELEASE);
	w->fd = w->kept ? kept_fd() : new_instance();
	char path[32];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (w->fd >= 0 && (w->wd = inotify_add_watch(w->fd, path, IN_CLOSE)) >= 0) {
		if (w->kept)
			drain(w->fd); /* (left from the last wait: the end of its watch, closes seen after it) */
		return true;
	}
	if (w->kept) {
		int lost = w->fd;
		if (lost >= 0 && (errno == EBADF || errno == EINVAL)) /* closed under natt: that number is */
			__atomic_compare_exchange_n(&Kept.fd, &lost, -1, false, /* not ours, not even to close */
			                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
		pthread_mutex_unlock(&Kept.mutex);
	} else if (w->fd >= 0) {
		natt_own_close(w->fd);
	}
	w->fd = -1;
	return false;
}

static void stop_watching(struct release_watch *w)
{
	if (w->fd < 0)
		return;
	if (w->kept) {
		if (!w->lost)
			inotify_rm_watch(kept_fd(), w->wd);
		pthread_mutex_unlock(&Kept.mutex);
	} else if (!w->lost) {
		natt_own_close(w->fd);
	}
	w->fd = -1;
}

void natt_lock_waits_close(void)
{
	if (kept_fd() < 0 || pthread_mutex_trylock(&Kept.mutex) != 0)
		return; /* (none, or a wait uses it: it stays for now) */
	natt_close_own_fd(&Kept.fd);
	pthread_mutex_unlock(&Kept.mutex);
}

bool natt_lock_waits_fd_moved(int from, int to)
{
	return natt_own_fd_moved(&Kept.fd, from, to);
}

void natt_lock_waits_after_fork_child(void)
{
	atomic_store(&waits_end_ms, 0); /* (the parent's clean-up, not the child's) */
	/* (The child is alone: a parent's thread that was waiting holds nothing here.) */
	Kept.mutex = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
	natt_close_own_fd(&Kept.fd);
}

/* The watchers' places of the lock file name in dir_fd: an fd of "name.w", or -1 (then every waiter
 * watches). */
static int open_places(int dir_fd, const char *name)
{
	char places[NAME_MAX + 1];
	if (dir_fd < 0 || snprintf(places, sizeof(places), "%s.w", name) >= (int)sizeof(places))
		return -1;
	return natt_state_open_lock(dir_fd, places);
}

/* One of the places, locked (its number, from 1), or 0 when all are taken. */
static int take_place(int places_fd)
{
	for (int place = 1; place <= WATCHERS; place++)
		if (lock_range(places_fd, F_WRLCK, place - 1, 1) == 0)
			return place;
	return 0;
}

static bool lock_busy(void)
{
	return errno == EAGAIN || errno == EACCES || errno == EINTR;
}

/* The process holding the lock that keeps ours off fd: its pid, or 0 (none now, or one whose pid is
 * not known here: another pid namespace). */
static pid_t lock_holder(int fd)
{
	struct flock probe = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	if (fcntl(fd, F_GETLK, &probe) < 0 || probe.l_type == F_UNLCK || probe.l_pid < 0)
		return 0;
	return probe.l_pid;
}

/* The router's answers to the holders of a gateway lock: a count at the start of its file, which
 * only a holder writes. (Other lock files hold nothing: 0.) */
static uint64_t lock_answers(int fd)
{
	uint64_t count;
	return pread(fd, &count, sizeof(count), 0) == (ssize_t)sizeof(count) ? count : 0;
}

void natt_gateway_answered(int lock_fd)
{
	if (lock_fd < 0)
		return;
	uint64_t count = lock_answers(lock_fd) + 1;
	/* (Not written: the waiters see less progress, and stop waiting sooner.) */
	ssize_t written = pwrite(lock_fd, &count, sizeof(count), 0);
	(void)written;
}

/* Answers seen in the lock file during this process's waits. */
static atomic_uint answers_seen;
static _Atomic int64_t last_answer_ms;

static void seen_answers(uint64_t *answers, uint64_t answers_now, int64_t now)
{
	if (answers_now == *answers)
		return;
	atomic_fetch_add(&answers_seen, 1);
	atomic_store(&last_answer_ms, now);
	*answers = answers_now;
}

unsigned natt_lock_answers_seen(void)
{
	return atomic_load(&answers_seen);
}

int64_t natt_lock_last_answer_ms(void)
{
	return atomic_load(&last_answer_ms);
}

int natt_lock_file(int dir_fd, const char *name, int fd, int timeout_ms)
{
	if (lock_range(fd, F_WRLCK, 0, 0) == 0)
		return 0;
	if (!lock_busy())
		return -errno;
	int64_t start = natt_now_ms(), deadline = start + timeout_ms;
	int64_t cap = start + (int64_t)timeout_ms * NATT_LOCK_WAIT_TURNS_CAP, end = atomic_load(&waits_end_ms);
	if (end) {
		cap = natt_min64(cap, end);
		deadline = natt_min64(deadline, cap);
	}
	int places_fd = open_places(dir_fd, name);
	int place = 0, pause_ms = 1, rc = 0;
	pid_t holder = 0;
	uint64_t answers = lock_answers(fd);
	struct release_watch watch = { .fd = -1 };
	bool no_inotify = false;
	for (;;) {
		if (watch.fd < 0 && !no_inotify && (places_fd < 0 || (place = take_place(places_fd)) > 0)) {
			no_inotify = !watch_releases(&watch, fd);
			if (no_inotify && place) {
				lock_range(places_fd, F_UNLCK, place - 1, 1); /* (of no use to us: another's) */
				place = 0;
			}
			pause_ms = 1;
		}
		/* (A watcher watches before its next try: a release between the two still wakes it.) */
		if (lock_range(fd, F_WRLCK, 0, 0) == 0) {
			seen_answers(&answers, lock_answers(fd), natt_now_ms()); /* (the last holder's last ones) */
			break;
		}
		if (!lock_busy()) {
			rc = -errno;
			break;
		}
		int64_t now = natt_now_ms();
		/* A holder that lets others in or that the router answers is not stuck: the wait goes on. */
		pid_t holder_now = lock_holder(fd);
		uint64_t answers_now = lock_answers(fd);
		bool moved = answers_now != answers || (holder > 0 && holder_now > 0 && holder_now != holder);
		seen_answers(&answers, answers_now, now);
		if (holder_now > 0)
			holder = holder_now;
		if (moved)
			deadline = natt_min64(now + timeout_ms, cap);
		if (now >= deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		/* Exchanges under the lock take milliseconds: a watcher is woken by the close (its poll is
		 * for a release it missed); the others look again, backing off. */
		int wait_ms = (int)natt_min64(pause_ms, deadline - now);
		if (watch.fd >= 0) {
			struct pollfd p = { .fd = watch_fd(&watch), .events = POLLIN };
			int ready = poll(&p, 1, wait_ms); /* (-1 when lost: the pause alone) */
			if (ready > 0 && (p.revents & POLLNVAL))
				watch_lost(&watch, p.fd);
			else if (ready > 0 && watch_fd(&watch) == p.fd)
				drain(p.fd); /* (not when moved meanwhile: that number is the program's now) */
		} else {
			usleep((useconds_t)wait_ms * 1000);
		}
		/* (Only a waiter that could have a place and has none looks less often: one without inotify
		 * or without the places file polls as every waiter did before.) */
		bool placeless = watch.fd < 0 && !no_inotify && places_fd >= 0;
		pause_ms = (int)natt_min64(2 * pause_ms, placeless ? UNWATCHED_PAUSE_MAX_MS : WATCHED_PAUSE_MAX_MS);
	}
	if (places_fd >= 0)
		natt_own_close(places_fd); /* lets its place go: the next waiter watches in our place */
	stop_watching(&watch);
	return rc;
}

int natt_gateway_lock(const char *status_path, const struct in_addr *gateway)
{
	char name[64];
	int dir_fd = gateway_file(status_path, gateway, ".lock", name, sizeof(name));
	if (dir_fd < 0)
		return -1;
	int fd = natt_state_open_lock(dir_fd, name);
	if (fd < 0) {
		natt_own_close(dir_fd);
		return -1;
	}
	/* Longer than any exchange natt makes with a router that answers (a dead one costs the holder its
	 * timeouts, a few seconds per request): past that, the holder is stuck and we go ahead, and do not
	 * wait that long again for a minute. (Manager thread or the natt command only: no lock needed.) */
	static int64_t stuck_until;
	int64_t now = natt_now_ms();
	int rc = natt_lock_file(dir_fd, name, fd, now < stuck_until ? 200 : 15000);
	natt_own_close(dir_fd);
	if (rc < 0) {
		if (now >= stuck_until)
			natt_warn("the gateway lock %s is held too long: going ahead without it", name);
		stuck_until = natt_now_ms() + 60000;
		natt_own_close(fd);
		return -1;
	}
	stuck_until = 0;
	return fd;
}

void natt_gateway_unlock(int *fd)
{
	natt_close_own_fd(fd); /* closing drops the lock */
}

/* The cache file's bound: its URL, bootid and three service lines at their longest. */
#define IGD_CACHE_MAX (1024 + 4 * NATT_UPNP_URL_MAX)

/* "WORD VALUE" line's value when line is one (a pointer into line), else NULL. */
static const char *cache_value(const char *line, const char *word)
{
	size_t n = strlen(word);
	return strncmp(line, word, n) == 0 && line[n] == ' ' ? line + n + 1 : NULL;
}

/* A value the cache's lines can hold, len bytes of it: some, and no space or control character (URLs
 * and service types have none; a description that put a line break in one would write a line of its
 * own). Written and read alike. */
static bool cache_plain_bytes(const char *value, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)value[i] <= ' ' || value[i] == 0x7f)
			return false;
	return len > 0;
}

static bool cache_plain(const char *value)
{
	return cache_plain_bytes(value, strlen(value));
}

static bool cache_copy(char *to, size_t size, const char *value, size_t len)
{
	if (len >= size || !cache_plain_bytes(value, len))
		return false;
	memcpy(to, value, len);
	to[len] = '\0';
	return true;
}

int natt_igd_cache_read(const char *status_path, const struct in_addr *gateway, struct natt_igd *cached)
{
	natt_igd_close(cached);
	char name[64];
	int dir_fd = gateway_file(status_path, gateway, ".igd", name, sizeof(name));
	if (dir_fd < 0)
		return dir_fd;
	char *text;
	size_t text_len;
	int rc = natt_state_read(dir_fd, name, IGD_CACHE_MAX, &text, &text_len);
	natt_own_close(dir_fd);
	if (rc < 0)
		return rc;
	/* "URL\n", then lines "WORD VALUE\n": the router's BOOTID.UPNP.ORG when it gave one ("bootid N"),
	 * the WAN connection service ("control URL", "service TYPE"), the firewall service ("firewall URL
	 * TYPE"). Lines of other words are skipped (a later natt's); an earlier natt reads the URL and the
	 * bootid alone. */
	bool usable = true;
	for (char *line = text, *next; line < text + text_len; line = next) {
		next = line + strcspn(line, "\n"); /* (or a NUL in the file: the line ends there too) */
		*next++ = '\0';
		const char *value;
		long id;
		char end;
		if (line == text)
			usable = cache_copy(cached->location, sizeof(cached->location), line, strlen(line));
		else if ((value = cache_value(line, "bootid"))) {
			if (sscanf(value, "%ld%c", &id, &end) == 1 && id >= 0)
				cached->bootid = id;
		} else if ((value = cache_value(line, "control"))) {
			cache_copy(cached->control_url, sizeof(cached->control_url), value, strlen(value));
		} else if ((value = cache_value(line, "service"))) {
			cache_copy(cached->service_type, sizeof(cached->service_type), value, strlen(value));
		} else if ((value = cache_value(line, "firewall"))) {
			size_t url_len = strcspn(value, " ");
			if (value[url_len] &&
			    cache_copy(cached->fc_control_url, sizeof(cached->fc_control_url), value, url_len) &&
			    !cache_copy(cached->fc_service_type, sizeof(cached->fc_service_type), value + url_len + 1,
			                strlen(value + url_len + 1)))
				cached->fc_control_url[0] = '\0';
		}
	}
	free(text);
	if (!usable) {
		natt_igd_close(cached);
		return -ENOENT;
	}
	if (!cached->control_url[0] || !cached->service_type[0])
		cached->control_url[0] = cached->service_type[0] = '\0'; /* (the one without the other is nothing) */
	/* Only a plain http URL of the gateway itself is worth trying. */
	char prefix[32];
	char gw[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, gateway, gw, sizeof(gw));
	snprintf(prefix, sizeof(prefix), "http://%s:", gw);
	return strncmp(cached->location, prefix, strlen(prefix)) == 0 ? 0 : -EINVAL;
}

/* The file's text for igd in text: its length, or -1 when igd has no URL to write or it does not fit.
 * (A value the reader would not take is left out; a URL it would not take leaves nothing to write.) */
static int cache_text(const struct natt_igd *igd, char *text, size_t size)
{
	int n = cache_plain(igd->location) ? snprintf(text, size, "%s\n", igd->location) : -1;
	if (igd->bootid >= 0 && n > 0 && n < (int)size)
		n += snprintf(text + n, size - (size_t)n, "bootid %ld\n", igd->bootid);
	bool services = cache_plain(igd->control_url) && cache_plain(igd->service_type);
	if (services && n > 0 && n < (int)size)
		n += snprintf(text + n, size - (size_t)n, "control %s\nservice %s\n", igd->control_url,
		              igd->service_type);
	if (services && cache_plain(igd->fc_control_url) && cache_plain(igd->fc_service_type) && n > 0 &&
	    n < (int)size)
		n += snprintf(text + n, size - (size_t)n, "firewall %s %s\n", igd->fc_control_url,
		              igd->fc_service_type);
	return n > 0 && n < (int)size ? n : -1;
}

void natt_igd_cache_write(const char *status_path, const struct in_addr *gateway, const struct natt_igd *igd)
{
	char name[64], text[IGD_CACHE_MAX];
	int n = cache_text(igd, text, sizeof(text));
	if (n < 0)
		return;
	int dir_fd = gateway_file(status_path, gateway, ".igd", name, sizeof(name));
	if (dir_fd < 0)
		return;
	natt_state_replace(dir_fd, name, text, (size_t)n);
	natt_own_close(dir_fd);
}

bool natt_igd_cache_holds(const struct natt_igd *cached, const struct natt_igd *igd)
{
	char held[IGD_CACHE_MAX], wanted[IGD_CACHE_MAX];
	int held_len = cache_text(cached, held, sizeof(held)), wanted_len = cache_text(igd, wanted, sizeof(wanted));
	return wanted_len < 0 || (held_len == wanted_len && memcmp(held, wanted, (size_t)held_len) == 0);
}

#define PCP_KEY_FILE ".natt-pcp-key"

static int parse_key(const char *text, size_t len, uint8_t key[NATT_PCP_KEY_SIZE])
{
	if (len < 2 * NATT_PCP_KEY_SIZE)
		return -EINVAL;
	for (size_t i = 0; i < NATT_PCP_KEY_SIZE; i++) {
		unsigned byte;
		if (sscanf(text + 2 * i, "%2x", &byte) != 1 || !isxdigit((unsigned char)text[2 * i]) ||
		    !isxdigit((unsigned char)text[2 * i + 1]))
			return -EINVAL;
		key[i] = (uint8_t)byte;
	}
	return 0;
}

int natt_pcp_key(const char *status_path, uint8_t key[NATT_PCP_KEY_SIZE])
{
	char def[PATH_MAX];
	if (!status_path || !status_path[0]) {
		natt_default_status_path(def, sizeof(def));
		status_path = def;
	}
	const char *base;
	int dir_fd = natt_state_dir_open(status_path, &base);
	if (dir_fd < 0)
		return dir_fd;
	int rc = -ENOENT;
	for (int attempt = 0; attempt < 2 && rc < 0; attempt++) {
		char *text;
		size_t len;
		rc = natt_state_read(dir_fd, PCP_KEY_FILE, 256, &text, &len);
		if (rc == 0) {
			rc = parse_key(text, len, key);
			free(text);
			break; /* a file there that is no key is not ours to replace */
		}
		if (rc != -ENOENT || attempt > 0)
			break;
		uint8_t fresh[NATT_PCP_KEY_SIZE];
		char hex[2 * NATT_PCP_KEY_SIZE + 2];
		if (getrandom(fresh, sizeof(fresh), 0) != (ssize_t)sizeof(fresh)) {
			rc = -EAGAIN;
			break;
		}
		for (size_t i = 0; i < sizeof(fresh); i++)
			snprintf(hex + 2 * i, 3, "%02x", fresh[i]);
		hex[2 * NATT_PCP_KEY_SIZE] = '\n';
		rc = natt_state_create(dir_fd, PCP_KEY_FILE, hex, 2 * NATT_PCP_KEY_SIZE + 1);
		if (rc < 0 && rc != -EEXIST)
			break;
		rc = -ENOENT; /* read what was made, by us or by another process at the same moment */
	}
	natt_own_close(dir_fd);
	return rc;
}
