#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/clock.h"
#include "core/engine_shim.h"
#include "util/log.h"
#include "natt/net.h"
#include "outside/proc.h"
#include "outside/seccomp.h"
#include "sys/sockdiag.h"
#include "outside/watcher.h"
#include "sys/sockstate.h"
#include "core/status_file.h"

#define MAX_PROCS 4096
#define MAX_PIDFDS 200           /* processes whose end wakes us at once; the rest are polled */
#define CLOSE_CHECK_MS 700       /* closes are noticed within this (plus one dump) */
#define POLL_FIRST_MS 50         /* without seccomp: the interval after a change... */
#define POLL_MAX_MS 1000         /* ...stretching to this */
#define EXIT_CLEANUP_MS 3000     /* the router's time to confirm deletions at the end, as the shim's */

/* A quick look after a bind()/listen() notification: the call completes right after our answer,
 * but we cannot see when; these delays (ms after it) find it without spinning. */
static const int follow_up_ms[] = { 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512 };
#define FOLLOW_UPS (int)(sizeof(follow_up_ms) / sizeof(follow_up_ms[0]))

struct proc {
	pid_t pid;
	int pidfd; /* -1: polled */
	bool seen; /* found alive in this refresh */
};

struct sock {
	uint64_t inode;
	struct natt_entry *entry; /* NULL: known, not ours (another program's, or not to publish) */
	pid_t pid;                /* a process of ours that holds it */
	char command[16];
	bool seen;                /* in the current dump */
};

static struct {
	struct proc procs[MAX_PROCS];
	size_t nprocs;
	int pidfds;
	struct sock *socks;
	size_t nsocks, capsocks;
	uint64_t *udp_bound;      /* UDP inodes whose bind() a notification showed */
	size_t nudp, capudp;
	pthread_mutex_t lock;     /* socks: the status writer (manager thread) reads pid/command */
	pid_t root;
	char root_command[16];
	bool seccomp;
	bool stopped;             /* told to stop: nothing more is published */
	unsigned ephemeral_lo, ephemeral_hi;
	bool udp_ephemeral;       /* NATT_UDP_EPHEMERAL=1: UDP sockets on those ports are published too */
	struct natt_sockdiag diag;
} W = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void status_owner(const struct natt_entry *entry, pid_t *pid, char *command, size_t len)
{
	pthread_mutex_lock(&W.lock);
	*pid = W.root;
	snprintf(command, len, "%s", W.root_command);
	for (size_t i = 0; i < W.nsocks; i++)
		if (W.socks[i].entry == entry) {
			*pid = W.socks[i].pid;
			snprintf(command, len, "%s", W.socks[i].command);
			break;
		}
	pthread_mutex_unlock(&W.lock);
}

static struct proc *find_proc(pid_t pid)
{
	for (size_t i = 0; i < W.nprocs; i++)
		if (W.procs[i].pid == pid)
			return &W.procs[i];
	return NULL;
}

static bool add_proc(pid_t pid)
{
	if (find_proc(pid))
		return false;
	if (W.nprocs == MAX_PROCS)
		return false;
	struct proc *p = &W.procs[W.nprocs++];
	p->pid = pid;
	p->seen = true;
	p->pidfd = -1;
	if (W.pidfds < MAX_PIDFDS) {
		p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (p->pidfd >= 0)
			W.pidfds++;
	}
	natt_debug("watching pid %d", (int)pid);
	return true;
}

static void drop_proc(size_t i)
{
	if (W.procs[i].pidfd >= 0) {
		close(W.procs[i].pidfd);
		W.pidfds--;
	}
	W.procs[i] = W.procs[--W.nprocs];
}

static bool proc_alive(const struct proc *p)
{
	if (p->pidfd >= 0) {
		struct pollfd pfd = { .fd = p->pidfd, .events = POLLIN };
		return poll(&pfd, 1, 0) == 0;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)p->pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	char state = 'Z';
	if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1) /* (comm with ')' in it: reads as alive) */
		state = 'Z';
	fclose(f);
	return state != 'Z' && state != 'X';
}

/* The tree as it is now: the processes we know, minus those that ended, plus their children. True
 * when it changed. */
static bool refresh_tree(void)
{
	bool changed = false;
	for (size_t i = 0; i < W.nprocs;) {
		if (!proc_alive(&W.procs[i])) {
			natt_debug("pid %d ended", (int)W.procs[i].pid);
			drop_proc(i);
			changed = true;
		} else {
			i++;
		}
	}
	for (size_t i = 0; i < W.nprocs; i++) { /* (grows while we go: grandchildren too) */
		pid_t kids[256];
		size_t n = 0;
		natt_proc_children(W.procs[i].pid, kids, &n, 256);
		for (size_t k = 0; k < n; k++)
			changed |= add_proc(kids[k]);
	}
	return changed;
}

static struct sock *find_sock(uint64_t inode)
{
	for (size_t i = 0; i < W.nsocks; i++)
		if (W.socks[i].inode == inode)
			return &W.socks[i];
	return NULL;
}

static struct sock *add_sock(uint64_t inode)
{
	if (W.nsocks == W.capsocks) {
		size_t cap = W.capsocks ? 2 * W.capsocks : 32;
		struct sock *grown = realloc(W.socks, cap * sizeof(*grown));
		if (!grown)
			return NULL;
		W.socks = grown;
		W.capsocks = cap;
	}
	struct sock *s = &W.socks[W.nsocks++];
	memset(s, 0, sizeof(*s));
	s->inode = inode;
	s->seen = true;
	return s;
}

static bool udp_was_bound(uint64_t inode)
{
	for (size_t i = 0; i < W.nudp; i++)
		if (W.udp_bound[i] == inode)
			return true;
	return false;
}

static void note_udp_bound(uint64_t inode)
{
	if (udp_was_bound(inode))
		return;
	if (W.nudp == W.capudp) {
		size_t cap = W.capudp ? 2 * W.capudp : 16;
		uint64_t *grown = realloc(W.udp_bound, cap * sizeof(*grown));
		if (!grown)
			return;
		W.udp_bound = grown;
		W.capudp = cap;
	}
	W.udp_bound[W.nudp++] = inode;
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ? ntohs(((const struct sockaddr_in *)ss)->sin_port)
	                                : ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* Whether a socket of ours is one the shim would publish: a listening TCP socket, or a UDP socket the
 * program bound (seen in a notification; without them, one that is not connected and whose port is
 * not one the kernel hands out on its own), not on loopback, in --ports. */
static bool wanted(const struct natt_diag_sock *d)
{
	if (natt_addr_is_loopback((const struct sockaddr *)&d->local))
		return false;
	uint16_t port = port_of(&d->local);
	if (!natt_port_set_contains(&natt_engine_config()->ports, port))
		return false;
	if (d->protocol == NATT_UDP) {
		/* UDP clients are not published, as in the shim: a socket connected to one peer, or one on a
		 * port the kernel hands out for bind() to port 0 (the port a bind() asked for is not seen
		 * from here) unless NATT_UDP_EPHEMERAL=1 (natt-run --publish-ephemeral-udp). */
		if (d->connected)
			return false;
		if (!W.udp_ephemeral && port >= W.ephemeral_lo && port <= W.ephemeral_hi)
			return false;
		return !W.seccomp || udp_was_bound(d->inode);
	}
	return true;
}

/* The candidates of one look, matched to the processes holding them. */
struct match {
	uint64_t *inodes;
	pid_t *holder;
	size_t count;
	pid_t current;
};

static void match_socket(uint64_t inode, void *arg)
{
	struct match *m = arg;
	for (size_t i = 0; i < m->count; i++)
		if (m->inodes[i] == inode && !m->holder[i])
			m->holder[i] = m->current;
}

static void publish(const struct natt_diag_sock *d, struct sock *s, pid_t holder)
{
	s->pid = holder;
	natt_proc_comm(holder, s->command, sizeof(s->command));
	bool dual = d->local.ss_family == AF_INET6 && !d->v6only &&
	            natt_addr_is_wildcard((const struct sockaddr *)&d->local);
	struct natt_entry *e = natt_engine_publish(d->protocol, &d->local, dual, d->inode, NULL, NULL, NULL);
	if (e) {
		atomic_store(&e->holders, 1);
		s->entry = e;
	}
	char text[INET6_ADDRSTRLEN];
	natt_addr_format((const struct sockaddr *)&d->local, text, sizeof(text));
	natt_info("pid %d: %s %s port %u: publishing", (int)holder, d->protocol == NATT_TCP ? "TCP" : "UDP", text,
	          port_of(&d->local));
}

static void retire(struct sock *s)
{
	if (s->entry) {
		natt_info("pid %d: socket %llu is gone: retiring it", (int)s->pid, (unsigned long long)s->inode);
		natt_engine_retire(s->entry);
	}
}

/* One look: the socket tables against what we published and the tree's fds. True when something
 * changed. */
static bool look(bool *failed)
{
	*failed = false;
	if (natt_sockdiag_dump(&W.diag) < 0) {
		*failed = true;
		return false;
	}
	bool changed = refresh_tree();
	pthread_mutex_lock(&W.lock);
	for (size_t i = 0; i < W.nsocks; i++)
		W.socks[i].seen = false;
	struct match m = { 0 };
	m.inodes = calloc(W.diag.count + 1, sizeof(*m.inodes));
	m.holder = calloc(W.diag.count + 1, sizeof(*m.holder));
	for (size_t i = 0; i < W.diag.count; i++) {
		const struct natt_diag_sock *d = &W.diag.socks[i];
		struct sock *s = find_sock(d->inode);
		if (s) {
			s->seen = true;
			continue;
		}
		if (!W.stopped && m.inodes && m.holder && wanted(d))
			m.inodes[m.count++] = d->inode;
	}
	/* Gone from the tables: closed (by every process that held it), or no longer listening. */
	for (size_t i = 0; i < W.nsocks;) {
		if (!W.socks[i].seen) {
			retire(&W.socks[i]);
			W.socks[i] = W.socks[--W.nsocks];
			changed = true;
		} else {
			i++;
		}
	}
	pthread_mutex_unlock(&W.lock);
	if (m.count) {
		for (size_t p = 0; p < W.nprocs; p++) {
			m.current = W.procs[p].pid;
			natt_proc_sockets(m.current, match_socket, &m);
		}
		pthread_mutex_lock(&W.lock);
		for (size_t i = 0; i < m.count; i++) {
			const struct natt_diag_sock *d = natt_sockdiag_find(&W.diag, m.inodes[i]);
			struct sock *s = add_sock(m.inodes[i]);
			if (!s || !d)
				continue;
			if (m.holder[i]) {
				publish(d, s, m.holder[i]);
				changed = true;
			}
			/* else: another program's (remembered, so its fds are not searched again) */
		}
		pthread_mutex_unlock(&W.lock);
	}
	free(m.inodes);
	free(m.holder);
	return changed;
}

#define MAX_PENDING 16

/* Whether every socket of the notifications followed up is known now (published or not ours). A
 * bind() of a TCP socket shows in no table until it listens: its follow-ups run out. */
static bool pending_found(const uint64_t *pending, size_t n)
{
	pthread_mutex_lock(&W.lock);
	bool all = true;
	for (size_t i = 0; all && i < n; i++)
		all = find_sock(pending[i]) != NULL;
	pthread_mutex_unlock(&W.lock);
	return all;
}

static bool anything_published(void)
{
	for (size_t i = 0; i < W.nsocks; i++)
		if (W.socks[i].entry)
			return true;
	return false;
}

/* Every process we knew has ended: if a socket we published is still open somewhere (a daemon that
 * was reparented before we saw it), that process is ours too. */
static void adopt_holders(void)
{
	for (size_t i = 0; i < W.nsocks; i++) {
		if (!W.socks[i].entry)
			continue;
		pid_t holder = natt_socket_other_holder(W.socks[i].inode);
		if (holder > 0 && add_proc(holder))
			natt_info("pid %d holds socket %llu: watching it too", (int)holder,
			          (unsigned long long)W.socks[i].inode);
	}
}

static void stop_publishing(void)
{
	W.stopped = true;
	pthread_mutex_lock(&W.lock);
	for (size_t i = 0; i < W.nsocks; i++)
		retire(&W.socks[i]);
	W.nsocks = 0;
	pthread_mutex_unlock(&W.lock);
	natt_engine_flush(EXIT_CLEANUP_MS);
}

static void read_ephemeral_range(void)
{
	const char *ephemeral = secure_getenv("NATT_UDP_EPHEMERAL");
	W.udp_ephemeral = ephemeral && strcmp(ephemeral, "1") == 0;
	W.ephemeral_lo = 32768;
	W.ephemeral_hi = 60999;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "re");
	if (f) {
		unsigned lo, hi;
		if (fscanf(f, "%u %u", &lo, &hi) == 2 && lo <= hi) {
			W.ephemeral_lo = lo;
			W.ephemeral_hi = hi;
		}
		fclose(f);
	}
}

int natt_watcher_run(const struct natt_watcher_options *o)
{
	int rc = natt_proc_same_netns(o->root);
	if (rc < 0)
		return rc == -ENOENT ? -ESRCH : rc;
	if (rc == 0)
		return -EXDEV; /* its sockets are not in our tables, nor is its router ours to ask */
	if ((rc = natt_sockdiag_open(&W.diag)) < 0 || (rc = natt_sockdiag_dump(&W.diag)) < 0)
		return rc;
	W.root = o->root;
	W.seccomp = o->notify_fd >= 0;
	natt_proc_comm(o->root, W.root_command, sizeof(W.root_command));
	read_ephemeral_range();
	if (!add_proc(o->root))
		return -ESRCH;
	natt_status_owner = status_owner;

	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	int sig_fd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);

	bool notify_open = W.seccomp;
	int64_t now = natt_now_ms(), next_look = now, interval = POLL_FIRST_MS;
	int64_t follow_base = -1;
	int follow = FOLLOW_UPS;
	uint64_t pending[MAX_PENDING]; /* the sockets of the notifications being followed up */
	size_t npending = 0;
	bool failed_before = false;
	for (;;) {
		now = natt_now_ms();
		if (follow < FOLLOW_UPS && now >= follow_base + follow_up_ms[follow]) {
			while (follow < FOLLOW_UPS && now >= follow_base + follow_up_ms[follow])
				follow++;
			next_look = now;
		}
		if (now >= next_look) {
			bool failed;
			bool changed = look(&failed);
			if (failed && !failed_before)
				natt_warn("cannot read the kernel's socket tables; trying again");
			failed_before = failed;
			if (follow < FOLLOW_UPS && pending_found(pending, npending))
				follow = FOLLOW_UPS; /* found what the notifications were about */
			if (W.nprocs == 0) {
				adopt_holders();
				if (W.nprocs == 0 && !notify_open)
					break;
			}
			if (W.seccomp) {
				/* Notifications tell of new sockets: looks are for closes only. */
				next_look = anything_published() ? now + CLOSE_CHECK_MS : INT64_MAX;
				if (W.nprocs > (size_t)W.pidfds)
					next_look = now + POLL_MAX_MS; /* ends we would not hear of */
			} else {
				interval = changed ? POLL_FIRST_MS : interval * 3 / 2;
				if (interval > POLL_MAX_MS)
					interval = POLL_MAX_MS;
				next_look = now + interval;
			}
		}

		struct pollfd pfds[MAX_PIDFDS + 2];
		nfds_t n = 0;
		if (sig_fd >= 0)
			pfds[n++] = (struct pollfd){ .fd = sig_fd, .events = POLLIN };
		size_t notify_at = n;
		if (notify_open)
			pfds[n++] = (struct pollfd){ .fd = o->notify_fd, .events = POLLIN };
		size_t procs_at = n;
		for (size_t i = 0; i < W.nprocs && n < MAX_PIDFDS + 2; i++)
			if (W.procs[i].pidfd >= 0)
				pfds[n++] = (struct pollfd){ .fd = W.procs[i].pidfd, .events = POLLIN };
		int64_t wake = next_look;
		if (follow < FOLLOW_UPS && follow_base + follow_up_ms[follow] < wake)
			wake = follow_base + follow_up_ms[follow];
		int timeout = wake == INT64_MAX ? -1 : (int)(wake > now ? wake - now : 0);
		int ready = poll(pfds, n, timeout);
		if (ready < 0 && errno != EINTR) {
			rc = -errno;
			break;
		}
		if (ready <= 0)
			continue;
		if (sig_fd >= 0 && pfds[0].revents) {
			struct signalfd_siginfo info;
			if (read(sig_fd, &info, sizeof(info)) > 0 && !W.stopped) {
				natt_info("signal %u: deleting the mappings", info.ssi_signo);
				stop_publishing();
				/* The program's bind()/listen() still wait for our answer: we stay for them
				 * (without answers they would fail), but publish nothing more. */
				if (!notify_open)
					break;
			}
		}
		if (notify_open && pfds[notify_at].revents) {
			if (pfds[notify_at].revents & POLLIN) {
				struct natt_seccomp_event ev;
				int got = natt_seccomp_handle(o->notify_fd, &ev);
				if (got == 1 && !W.stopped) {
					uint64_t inode = natt_proc_fd_socket(ev.tid, ev.fd);
					natt_debug("task %d: %s(%d) on socket %llu", (int)ev.tid, ev.listen ? "listen" : "bind",
					           ev.fd, (unsigned long long)inode);
					pid_t tgid = natt_proc_tgid(ev.tid);
					if (tgid > 0)
						add_proc(tgid);
					if (inode && !ev.listen)
						note_udp_bound(inode);
					pthread_mutex_lock(&W.lock);
					struct sock *s = inode ? find_sock(inode) : NULL;
					if (s && !s->entry) {
						/* known before as not to publish (a UDP socket before its bind()):
						 * look again */
						*s = W.socks[--W.nsocks];
					}
					pthread_mutex_unlock(&W.lock);
					if (follow >= FOLLOW_UPS)
						npending = 0;
					if (inode && npending < MAX_PENDING)
						pending[npending++] = inode;
					follow_base = natt_now_ms();
					follow = 0;
				} else if (got < 0 && got != -EINTR) {
					notify_open = false;
				}
			} else {
				notify_open = false; /* POLLHUP: no process can make another notification */
				next_look = natt_now_ms();
			}
		}
		for (nfds_t i = procs_at; i < n; i++)
			if (pfds[i].revents) {
				next_look = natt_now_ms(); /* a process ended: its sockets may have gone with it */
				break;
			}
	}
	stop_publishing();
	natt_engine_shutdown(EXIT_CLEANUP_MS);
	natt_status_owner = NULL;
	while (W.nprocs)
		drop_proc(0);
	free(W.socks);
	free(W.udp_bound);
	natt_sockdiag_close(&W.diag);
	if (sig_fd >= 0)
		close(sig_fd);
	return rc < 0 ? rc : 0;
}
