#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/json.h"
#include "util/json_value.h"
#include "util/log.h"
#include "outside/proc.h"
#include "outside/relay.h"
#include "core/gwlock.h"
#include "core/status_file.h"

#define MAX_TRACKED 64
#define DATAGRAM_MAX (256 * 1024)

int natt_relay_open(char *name, size_t len)
{
	unsigned char r[8];
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -EIO;
	snprintf(name, len, "natt-status-%d-%02x%02x%02x%02x%02x%02x%02x%02x", (int)getpid(), r[0], r[1], r[2], r[3],
	         r[4], r[5], r[6], r[7]);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1, size = DATAGRAM_MAX;
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t name_len = strlen(name);
	memcpy(addr.sun_path + 1, name, name_len);
	if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&addr, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + name_len)) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	return fd;
}

static struct {
	pid_t pid[MAX_TRACKED];
	int pidfd[MAX_TRACKED];
	bool sent[MAX_TRACKED]; /* it sent entries here */
	int count;
} T;

static int tracked_index(pid_t pid)
{
	for (int i = 0; i < T.count; i++)
		if (T.pid[i] == pid)
			return i;
	return -1;
}

/* pid's place among the watched (now or already), or -1 when it cannot be watched; then, when why is
 * not NULL, -errno there (-ESRCH: it has ended; -ENOSPC: too many watched). */
static int track(pid_t pid, int *why)
{
	int i = tracked_index(pid);
	if (i >= 0)
		return i;
	int fd = T.count == MAX_TRACKED ? -1 : (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0) {
		if (why)
			*why = T.count == MAX_TRACKED ? -ENOSPC : -errno;
		return -1;
	}
	T.pid[T.count] = pid;
	T.sent[T.count] = false;
	T.pidfd[T.count] = fd;
	return T.count++;
}

/* Every process that carries our name: the program's daemons and children, wherever they went. */
static void find_carriers(const char *entry, unsigned long long born)
{
	DIR *proc = opendir("/proc");
	if (!proc)
		return;
	struct dirent *d;
	while ((d = readdir(proc))) {
		char *end;
		long pid = strtol(d->d_name, &end, 10);
		if (*end || pid <= 1 || pid == getpid())
			continue;
		if (natt_proc_start_time((pid_t)pid) >= born && natt_proc_environ_has((pid_t)pid, entry))
			track((pid_t)pid, NULL);
	}
	closedir(proc);
}

/* Whether text is a comma-separated list of socket objects, each of process pid, started at born. */
static bool entries_of(const char *text, size_t len, pid_t pid, unsigned long long born)
{
	char *doc = malloc(len + 3);
	if (!doc)
		return false;
	doc[0] = '[';
	memcpy(doc + 1, text, len);
	doc[len + 1] = ']';
	doc[len + 2] = '\0';
	char err[128];
	struct natt_json *list = natt_json_parse(doc, len + 2, err, sizeof(err));
	free(doc);
	if (!list)
		return false;
	bool ok = natt_json_type(list) == NATT_JSON_ARRAY;
	for (size_t i = 0; ok && i < natt_json_array_len(list); i++) {
		const struct natt_json *item = natt_json_array_at(list, i);
		const struct natt_json *p = item ? natt_json_get(item, "pid") : NULL;
		const struct natt_json *start = item ? natt_json_get(item, "start") : NULL;
		/* compared as numbers, never cast: a pid of 1e300 is no pid */
		ok = p && natt_json_type(p) == NATT_JSON_NUMBER && natt_json_number(p) == (double)pid && start &&
		     natt_json_type(start) == NATT_JSON_NUMBER && natt_json_number(start) == (double)born &&
		     !natt_json_get(item, "publisher");
	}
	natt_json_free(list);
	return ok;
}

/* (A sender the relay watches and whose pidfd says it lives is not asked again. One whose pidfd says
 * it ended is: its pid may already be another sender's.) */
static bool sender_ended(pid_t pid)
{
	int i = tracked_index(pid);
	struct pollfd p = { .fd = i >= 0 ? T.pidfd[i] : -1, .events = POLLIN };
	return (i < 0 || poll(&p, 1, 0) == 1) && natt_proc_ended(pid);
}

int natt_relay_run(int fd, const char *name, pid_t program, const char *path)
{
	char entry[128];
	snprintf(entry, sizeof(entry), "NATT_STATUS_RELAY=%s", name);
	unsigned long long born = natt_proc_start_time(getpid());
	track(program, NULL);
	bool relayed = false;
	pid_t dropped = 0; /* the last ended sender whose entries went */
	char *buf = malloc(DATAGRAM_MAX);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (T.count == 0) {
			find_carriers(entry, born);
			if (T.count == 0)
				break;
		}
		struct pollfd pfds[MAX_TRACKED + 1];
		pfds[0] = (struct pollfd){ .fd = fd, .events = POLLIN };
		for (int i = 0; i < T.count; i++)
			pfds[i + 1] = (struct pollfd){ .fd = T.pidfd[i], .events = POLLIN };
		natt_lock_waits_close(); /* (idle: the inotify instance of a lock wait goes, see gwlock.c) */
		if (poll(pfds, (nfds_t)T.count + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = T.count - 1; i >= 0; i--)
			if (pfds[i + 1].revents) {
				/* Ended: the entries of a sender go now (a zombie would still count as alive),
				 * also those it wrote itself before it gave up its privileges. (One that never
				 * sent any is left as a process outside the relay would be: after a SIGKILL its
				 * entries stay, as its mappings do at the router.) */
				if (T.sent[i])
					natt_status_drop(path, T.pid[i]);
				close(T.pidfd[i]);
				T.pid[i] = T.pid[T.count - 1];
				T.sent[i] = T.sent[T.count - 1];
				T.pidfd[i] = T.pidfd[--T.count];
			}
		if (!(pfds[0].revents & POLLIN))
			continue;
		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(sizeof(struct ucred))];
		} control;
		struct iovec iov = { .iov_base = buf, .iov_len = DATAGRAM_MAX };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			              .msg_controllen = sizeof(control.buf) };
		ssize_t n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
			continue;
		struct ucred cred = { 0 };
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
				memcpy(&cred, CMSG_DATA(c), sizeof(cred));
		/* A sender that has ended since (its last word, read late: a worker that published as root,
		 * then wrote here as nobody, and exited) holds nothing any more, whatever it said. (Any
		 * process may send; one that ended leaves at most its own entries to take out.) */
		if (cred.pid > 0 && sender_ended(cred.pid)) {
			if (cred.pid != dropped) /* (one look per ended sender, however many it sent) */
				natt_status_drop(path, cred.pid);
			dropped = cred.pid;
			natt_debug("status relay: pid %d ended before its datagram was read: its entries go",
			           (int)cred.pid);
			continue;
		}
		if (cred.pid <= 0 || natt_proc_start_time(cred.pid) < born || !natt_proc_environ_has(cred.pid, entry)) {
			natt_debug("status relay: a datagram from pid %d, not of the program's: ignored", (int)cred.pid);
			continue;
		}
		if (!entries_of(buf, (size_t)n, cred.pid, natt_proc_start_time(cred.pid))) {
			natt_debug("status relay: pid %d sent what is not its own entries: ignored", (int)cred.pid);
			continue;
		}
		int why = 0, tracked = track(cred.pid, &why);
		if (tracked >= 0)
			T.sent[tracked] = true;
		relayed = true;
		int rc = natt_status_merge(path, cred.pid, buf, (size_t)n);
		if (rc < 0)
			natt_warn("status relay: cannot write %s: %s", path, strerror(-rc));
		/* Ended between the checks and the watch: its end will not be seen, so its entries go now. */
		if (tracked < 0 && (why == -ESRCH || natt_proc_ended(cred.pid)))
			natt_status_drop(path, cred.pid);
	}
	/* The last word: entries of processes that ended without one (SIGKILL) go too. */
	if (relayed)
		natt_status_merge(path, 0, "", 0);
	free(buf);
	return 0;
}
