/* Deciding whether a socket is one to publish, after bind() or listen() succeeded. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/log.h"
#include "natt/net.h"
#include "shim.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

/* The kernel's facts of a socket, asked by system call: natt's loader thread asks them of fds that the
 * program may close, or reuse, at the same moment, and looks at the inode again after; that is the
 * design, and an fd-tracking sanitizer's model would call each such question a race with close(). */
static int ask_sockopt(int fd, int level, int name, int *value)
{
	socklen_t len = sizeof(*value);
	return (int)syscall(SYS_getsockopt, fd, level, name, value, &len);
}

static int ask_name(int fd, struct sockaddr_storage *addr)
{
	socklen_t len = sizeof(*addr);
	return (int)syscall(SYS_getsockname, fd, (struct sockaddr *)addr, &len);
}

static bool ask_connected(int fd)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	return syscall(SYS_getpeername, fd, (struct sockaddr *)&peer, &len) == 0 || errno != ENOTCONN;
}

static bool ask_inode(int fd, uint64_t *inode)
{
	struct stat st;
#ifdef SYS_newfstatat
	if (syscall(SYS_newfstatat, fd, "", &st, AT_EMPTY_PATH) < 0)
		return false;
#else
	if (fstat(fd, &st) < 0) /* (32-bit ABIs: another call and struct; libc's then) */
		return false;
#endif
	*inode = (uint64_t)st.st_ino;
	return true;
}

/* One getsockopt: SO_PROTOCOL tells TCP (or MPTCP) from UDP, which fixes the socket type too; and
 * SOCK_CLOEXEC/SOCK_NONBLOCK, which live on the fd, never get in the way. */
static bool socket_kind(int fd, enum nattshim_event event, enum natt_protocol *protocol)
{
	int proto = 0;
	if (ask_sockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto) < 0)
		return false; /* not a socket */
	*protocol = proto == IPPROTO_UDP ? NATT_UDP : NATT_TCP;
	if (event == NATTSHIM_AFTER_LISTEN && (proto == IPPROTO_TCP || proto == IPPROTO_MPTCP))
		return true;
	return event == NATTSHIM_AFTER_BIND && proto == IPPROTO_UDP;
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* What publishing needs to know of the socket at fd, from the kernel. False when it is not one to
 * publish: not an IP socket, no port yet, loopback. */
struct socket_facts {
	struct sockaddr_storage local;
	bool dual_stack;
	uint64_t socket_id;
};

static bool socket_facts_of(int fd, struct socket_facts *facts)
{
	/* The port comes from the kernel: bind(port 0) and listen() without bind() both get one there. */
	if (ask_name(fd, &facts->local) < 0)
		return false;
	if (facts->local.ss_family != AF_INET && facts->local.ss_family != AF_INET6)
		return false;
	uint16_t port = port_of(&facts->local);
	if (port == 0 || natt_addr_is_loopback((const struct sockaddr *)&facts->local))
		return false;
	facts->dual_stack = false;
	if (facts->local.ss_family == AF_INET6 && natt_addr_is_wildcard((const struct sockaddr *)&facts->local)) {
		int v6only = 1;
		if (ask_sockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only) == 0)
			facts->dual_stack = v6only == 0;
	}
	return ask_inode(fd, &facts->socket_id);
}

/* Whether the configuration leaves the socket's port in (asks the engine: loaded by then). */
static bool port_wanted(const struct socket_facts *facts)
{
	return natt_port_set_contains(&natt_engine_config()->ports, port_of(&facts->local));
}

static bool look_at_socket(int fd, struct socket_facts *facts)
{
	return socket_facts_of(fd, facts) && port_wanted(facts);
}

/* Whether the engine is there for a socket to publish: loaded, or (soon) loading in the background,
 * the socket's publish waiting for it (with nowhere left to wait: waited for here). */
static bool engine_there(int fd, enum nattshim_event event, uint64_t socket_id, bool soon)
{
	if (soon ? nattshim_engine_ready_soon() : nattshim_engine_ready())
		return true;
	/* Noted in the table first: the publish claims it there, and a dup(), dup2() or connect() of it
	 * waits for the publish. */
	nattshim_fd_replace(fd, NULL, NATTSHIM_IP_BOUND);
	if (nattshim_defer(fd, event, socket_id))
		return false;
	return nattshim_engine_ready();
}

/* bound_to: for a bind(), the address it was given, when that names a port (else NULL). */
static void consider(int fd, enum nattshim_event event, bool soon, const struct sockaddr *bound_to)
{
	natt_engine_start_if_wanted(); /* for what a signal handler published before */
	enum natt_protocol protocol = NATT_UDP;
	struct socket_facts facts;
	if (!socket_kind(fd, event, &protocol)) {
		/* A TCP server's bind() to a port of an address not loopback: the engine starts loading now,
		 * in the background, so that its listen() makes no system call of natt's. (With the port
		 * given, bind()'s own address says it: no getsockname() or fstat() on the first call's path.) */
		if (event == NATTSHIM_AFTER_BIND && protocol == NATT_TCP && !nattshim_engine_loaded() &&
		    (bound_to ? !natt_addr_is_loopback(bound_to) : socket_facts_of(fd, &facts)))
			nattshim_engine_ready_soon();
		return;
	}
	if (!socket_facts_of(fd, &facts))
		return;
	/* A socket to publish, but for the configured ports: the engine is needed from here on (a
	 * loopback server or a client never loads it). */
	if (!engine_there(fd, event, facts.socket_id, soon))
		return;
	if (!port_wanted(&facts))
		return;

	struct natt_entry *known = nattshim_settled(fd);
	if (known == NATTSHIM_OURS)
		return;
	/* listen() again on a published socket (or one the manager is about to look at); one the manager
	 * set aside is published now */
	if (nattshim_is_entry(known) && ((atomic_load(&known->unexamined) && !atomic_load(&known->ignored)) ||
	                                 known->socket_id == facts.socket_id))
		return;

	struct natt_entry *entry = natt_engine_publish(protocol, &facts.local, facts.dual_stack, facts.socket_id,
	                                               NULL, NULL, NULL);
	if (!entry)
		return;
	atomic_store(&entry->holders, 1);
	/* A stale entry at this fd number belongs to a socket closed behind our back (a path we do not
	 * hook): it is gone from this fd, so this fd's hold on it ends. */
	nattshim_release(nattshim_fd_exchange(fd, entry));
}

/* Whether fd holds the socket a kept publish was for, and still one to publish: the one kept (its
 * inode, when known), a TCP socket listening, a UDP socket connected to no peer (else a client's). */
static bool still_one_to_publish(int fd, enum natt_protocol protocol, uint64_t socket_id)
{
	uint64_t inode = 0;
	if (socket_id && (!ask_inode(fd, &inode) || inode != socket_id))
		return false;
	if (protocol == NATT_TCP) {
		int listening = 0;
		return ask_sockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening) == 0 && listening;
	}
	return !ask_connected(fd);
}

/* A publish kept while the engine loaded. fd is not claimed meanwhile (the program's close() or dup()
 * never waits for the engine's work): the entry is placed only where fd is still noted, and looked at
 * once more after, so that a number closed and reused, or a UDP socket connect()ed, during the publish
 * takes it back. */
void nattshim_publish_kept(int fd, enum nattshim_event event, uint64_t socket_id)
{
	enum natt_protocol protocol = NATT_UDP;
	struct socket_facts facts;
	if (!socket_kind(fd, event, &protocol) || !socket_facts_of(fd, &facts) ||
	    !still_one_to_publish(fd, protocol, socket_id ? socket_id : facts.socket_id) || !port_wanted(&facts))
		return;
	struct natt_entry *entry = natt_engine_publish(protocol, &facts.local, facts.dual_stack, facts.socket_id,
	                                               NULL, NULL, NULL);
	if (!entry)
		return;
	atomic_store(&entry->holders, 1);
	if (!nattshim_fd_replace(fd, NATTSHIM_IP_BOUND, entry)) {
		nattshim_release(entry); /* closed, or published another way, meanwhile */
		return;
	}
	if (!still_one_to_publish(fd, protocol, facts.socket_id) && nattshim_fd_replace(fd, entry, NATTSHIM_IP_BOUND))
		nattshim_release(entry);
}

void nattshim_consider(int fd, enum nattshim_event event)
{
	consider(fd, event, false, NULL);
}

void nattshim_consider_soon(int fd, enum nattshim_event event)
{
	consider(fd, event, true, NULL);
}

void nattshim_consider_bound(int fd, const struct sockaddr *bound_to)
{
	consider(fd, NATTSHIM_AFTER_BIND, true, bound_to);
}

/* ---- the quick path: bind() notes an IP socket, listen() hands it over without a system call */

void nattshim_note_bound(int fd, const struct sockaddr *addr, socklen_t len)
{
	if (!addr || natt_manager_thread || nattshim_tracked(fd))
		return; /* (published already, natt's own, or noted) */
	if (!((addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) ||
	      (addr->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6))))
		return;
	if (natt_addr_is_loopback(addr))
		return; /* a loopback server never starts natt's thread */
	int saved_errno = errno; /* (a table chunk may have to be mapped) */
	nattshim_fd_replace(fd, NULL, NATTSHIM_IP_BOUND);
	errno = saved_errno;
}

struct placed {
	int fd;
	bool placed;
};

/* Before the manager can see the entry: the fd holds it, if that fd still is the one bind() noted. */
static void place_entry(struct natt_entry *entry, void *ctx)
{
	struct placed *p = ctx;
	atomic_store(&entry->holders, 1);
	p->placed = nattshim_fd_replace(p->fd, NATTSHIM_IP_BOUND, entry);
	if (!p->placed)
		atomic_store(&entry->holders, 0);
}

bool nattshim_listen_quickly(int fd)
{
	if (nattshim_tracked(fd) != NATTSHIM_IP_BOUND)
		return false;
	/* (No inode at hand: the wait checks that the fd still listens.) */
	if (!engine_there(fd, NATTSHIM_AFTER_LISTEN, 0, true))
		return true;
	/* With a port set, the port decides, and only the kernel knows it before the manager would. */
	if (natt_engine_config()->ports.count > 0)
		return false;
	natt_engine_start_if_wanted(); /* for what a signal handler published before */
	struct placed p = { fd, false };
	struct natt_entry *entry = natt_engine_publish_unexamined(fd, place_entry, &p);
	if (!entry)
		return false; /* (out of memory: the slow way says so) */
	if (!p.placed)
		natt_engine_retire(entry); /* closed meanwhile (by another thread): nothing to publish */
	return true;
}

static bool listens_on_tcp(int fd)
{
	enum natt_protocol protocol;
	return socket_kind(fd, NATTSHIM_AFTER_LISTEN, &protocol);
}

static void fill_in(struct natt_entry *entry, const struct socket_facts *facts)
{
	entry->local = facts->local;
	entry->dual_stack = facts->dual_stack;
	entry->socket_id = facts->socket_id;
	atomic_store(&entry->unexamined, false);
}

/* natt_engine_examine_hook, in the manager thread: the socket is held pending while it is looked at,
 * if its fd still holds the entry, so that the program's close(), dup2() onto it, dup() or exec of it
 * waits the few system calls this takes (and a number the program reused is never touched). */
bool nattshim_examine(struct natt_entry *entry)
{
	int fd = entry->examine_fd;
	if (!nattshim_pend_if(fd, entry)) {
		/* dup()ed and the first fd closed before we looked: another copy holds it. */
		fd = nattshim_fd_of(entry);
		if (fd < 0 || !nattshim_pend_if(fd, entry))
			return false;
	}
	struct socket_facts facts;
	bool publish = listens_on_tcp(fd) && look_at_socket(fd, &facts);
	if (publish)
		fill_in(entry, &facts); /* (before the program's threads can see the fd settled) */
	if (!nattshim_unpend(fd, entry)) {
		/* The number was closed where no hook saw it and reused by a copy of another socket: what
		 * we looked at may be that one, and the entry's hold at the number has ended. */
		nattshim_release(entry);
		return false;
	}
	return publish;
}

/* In a forked child: entries the parent's manager had not looked at yet are looked at here, from the
 * child's copies of the sockets, so that the child can take them over once the parent is gone. */
static void examine_inherited(int fd, struct natt_entry *entry, void *ctx)
{
	(void)ctx;
	struct socket_facts facts;
	if (atomic_load(&entry->unexamined) && !atomic_load(&entry->ignored) && listens_on_tcp(fd) &&
	    look_at_socket(fd, &facts))
		fill_in(entry, &facts);
}

void nattshim_examine_inherited(void)
{
	nattshim_each_tracked(examine_inherited, NULL);
}
