#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <unistd.h>

#include "natt/net.h"
#include "sys/sockdiag.h"
#include "sys/ownfd.h"
#include "sys/sockstate.h"

static bool holds(int proc_fd, const char *pid, const char *wanted)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/fd", pid);
	DIR *fds = natt_own_opendirat(proc_fd, path);
	if (!fds)
		return false; /* gone, or not ours to look at */
	int dir_fd = dirfd(fds);
	bool found = false;
	struct dirent *d;
	while (!found && (d = readdir(fds))) {
		if (d->d_name[0] == '.')
			continue;
		char target[64];
		ssize_t n = readlinkat(dir_fd, d->d_name, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			found = strcmp(target, wanted) == 0;
		}
	}
	natt_own_closedir(fds);
	return found;
}

pid_t natt_socket_other_holder(uint64_t inode)
{
	char wanted[48];
	snprintf(wanted, sizeof(wanted), "socket:[%llu]", (unsigned long long)inode);
	DIR *proc = natt_own_opendirat(AT_FDCWD, "/proc");
	if (!proc)
		return -errno;
	int proc_fd = dirfd(proc);
	pid_t self = getpid(), holder = 0;
	struct dirent *d;
	while (!holder && (d = readdir(proc))) {
		char *end;
		long pid = strtol(d->d_name, &end, 10);
		if (*end || pid <= 0 || pid == self)
			continue;
		if (holds(proc_fd, d->d_name, wanted))
			holder = (pid_t)pid;
	}
	natt_own_closedir(proc);
	return holder;
}

/* Local port field "ADDR:PORT" (hex) and inode of each line; state 0A = LISTEN for TCP. */
static bool excluded(unsigned long long ino, const uint64_t *mine, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (mine[i] == ino)
			return true;
	return false;
}

/* Whether this process has an fd on socket inode: one of ours that natt has not seen published yet
 * (a socket just made on a port just freed), not another process's. */
static bool held_here(unsigned long long inode)
{
	char wanted[48];
	snprintf(wanted, sizeof(wanted), "socket:[%llu]", inode);
	return holds(AT_FDCWD, "/proc/self", wanted);
}

/* The kernel's TCP and UDP tables, read once per batch of retirements (natt_socket_tables_forget):
 * a server closing 100 sockets must not have /proc/net read 400 times. */
struct socket_row {
	bool tcp;
	bool listening;
	bool loopback;
	unsigned uid;
	unsigned port;
	unsigned long long inode;
};

static struct {
	bool tcp_loaded, udp_loaded;
	int tcp_rc, udp_rc;
	struct socket_row *rows;
	size_t count, cap;
} tables;

void natt_socket_tables_forget(void)
{
	tables.tcp_loaded = tables.udp_loaded = false;
	tables.count = 0;
}

/* Whether a /proc/net address (hex, as the kernel prints it: IPv4 one 32-bit word, IPv6 four, each in
 * host order) is on loopback: 127/8, ::1, or ::ffff:127/104. */
static bool loopback_hex(const char *hex, size_t len)
{
	if (len == 8)
		return strncmp(hex + 6, "7F", 2) == 0; /* little-endian host: the first byte is printed last */
	if (len != 32)
		return false;
	if (strncmp(hex, "0000000000000000", 16) == 0 && strncmp(hex + 16, "00000000", 8) == 0)
		return strncmp(hex + 24, "01000000", 8) == 0;
	return strncmp(hex, "0000000000000000", 16) == 0 && strncmp(hex + 16, "FFFF0000", 8) == 0 &&
	       strncmp(hex + 30, "7F", 2) == 0;
}

static int add_row(struct socket_row row)
{
	if (tables.count == tables.cap) {
		size_t cap = tables.cap ? 2 * tables.cap : 64;
		struct socket_row *grown = realloc(tables.rows, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		tables.rows = grown;
		tables.cap = cap;
	}
	tables.rows[tables.count++] = row;
	return 0;
}

/* /proc/net/{tcp,udp}{,6}: "sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...". 0, or
 * -ENOMEM (the table is then incomplete). */
static int load_table(const char *path, bool tcp)
{
	FILE *f = natt_own_fopen_read(path);
	if (!f)
		return 0;
	char line[512];
	int rc = 0;
	if (fgets(line, sizeof(line), f)) { /* header */
		while (rc == 0 && fgets(line, sizeof(line), f)) {
			char local[80];
			unsigned st, uid;
			unsigned long long ino;
			if (sscanf(line, "%*s %79s %*s %x %*s %*s %*s %u %*s %llu", local, &st, &uid, &ino) != 4 ||
			    ino == 0)
				continue;
			char *colon = strrchr(local, ':');
			if (!colon)
				continue;
			rc = add_row((struct socket_row){
				.tcp = tcp, .listening = st == 0x0A, .uid = uid,
				.loopback = loopback_hex(local, (size_t)(colon - local)), .port = (unsigned)strtoul(colon + 1, NULL, 16), .inode = ino
			});
		}
	}
	natt_own_fclose(f);
	return rc;
}

static unsigned port_of(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
	                                      : ((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* Through sock_diag, TCP sockets in LISTEN and bound UDP sockets: the ones a published socket can be
 * (a TCP socket is published when it listens). /proc/net/tcp walks the kernel's whole table of
 * connections, even when empty: about 2 ms here, against 0.1 ms for the listening ones alone. */
static int load_from_diag(bool tcp, bool udp)
{
	struct natt_sockdiag d;
	int rc = natt_sockdiag_open(&d);
	if (rc == 0)
		rc = natt_sockdiag_dump_only(&d, tcp, udp);
	for (size_t i = 0; rc == 0 && i < d.count; i++) {
		const struct natt_diag_sock *s = &d.socks[i];
		rc = add_row((struct socket_row){
		        .tcp = s->protocol == NATT_TCP, .listening = s->listening, .uid = s->uid,
		        .loopback = natt_addr_is_loopback((const struct sockaddr *)&s->local),
		        .port = port_of(&s->local), .inode = s->inode });
	}
	natt_sockdiag_close(&d);
	return rc;
}

/* The tables of the protocols asked for, appended to the rows; 0 or -ENOMEM (a table incomplete). */
static int load_protocols(bool tcp, bool udp)
{
	size_t before = tables.count;
	int rc = load_from_diag(tcp, udp);
	if (rc == 0)
		return 0;
	tables.count = before; /* no sock_diag here (a kernel without inet_diag): /proc/net */
	static const char *const paths[] = { "/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6" };
	rc = 0;
	for (int i = tcp ? 0 : 2; rc == 0 && i < (udp ? 4 : 2); i++)
		rc = load_table(paths[i], i < 2);
	return rc;
}

/* The tables of the protocols asked for, as natt_socket_tables_forget() last left them: read now if
 * they were forgotten (each protocol on its own: retiring TCP sockets never reads the UDP table). */
static int load_tables(bool tcp, bool udp)
{
	bool read_tcp = tcp && !tables.tcp_loaded, read_udp = udp && !tables.udp_loaded;
	if (read_tcp || read_udp) {
		int rc = load_protocols(read_tcp, read_udp);
		if (read_tcp) {
			tables.tcp_rc = rc;
			tables.tcp_loaded = true;
		}
		if (read_udp) {
			tables.udp_rc = rc;
			tables.udp_loaded = true;
		}
	}
	if (tcp && tables.tcp_rc < 0)
		return tables.tcp_rc;
	return udp ? tables.udp_rc : 0;
}

static bool in_tables(unsigned long long inode)
{
	for (size_t i = 0; i < tables.count; i++)
		if (tables.rows[i].inode == inode)
			return true;
	return false;
}

int natt_socket_exists(uint64_t inode)
{
	if (access("/proc/net/tcp", R_OK) != 0)
		return -ENOENT; /* no /proc: cannot tell */
	natt_socket_tables_forget(); /* the question is about now */
	int rc = load_tables(true, true);
	if (rc < 0)
		return rc;
	return in_tables(inode);
}

/* The sockets in the tables (as last read) that serve the port and are not ours: not in mine, not in
 * this process's fds now. Their inodes in out (at most max); how many. */
static size_t other_servers(bool tcp, unsigned port, const uint64_t *mine, size_t count, unsigned long long *out,
                            size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < tables.count && n < max; i++) {
		const struct socket_row *r = &tables.rows[i];
		if (r->tcp != tcp || r->port != port || excluded(r->inode, mine, count) || (tcp && !r->listening))
			continue;
		/* Only the user's own sockets (its uid, real or effective) that the internet can reach: another
		 * user's socket on the port, or one on loopback, must not keep the mapping alive (that user
		 * could then take the port and its forwarded traffic). */
		if ((r->uid != (unsigned)geteuid() && r->uid != (unsigned)getuid()) || r->loopback)
			continue;
		if (!held_here(r->inode))
			out[n++] = r->inode;
	}
	return n;
}

int natt_port_served_elsewhere(bool tcp, unsigned port, const uint64_t *mine, size_t count)
{
	load_tables(tcp, !tcp); /* (an incomplete table finds fewer other sockets: the mapping goes, as it would) */
	unsigned long long seen[8];
	size_t n = other_servers(tcp, port, mine, count, seen, 8);
	/* Not in our fds now may also mean ours and closed since the tables were read (a program that
	 * reuses the freed port at once): only a socket still in the kernel's tables read afterwards is
	 * someone else's. A few fresh reads outlast such a program's churn. */
	for (int tries = 0; n > 0 && tries < 4; tries++) {
		natt_socket_tables_forget();
		load_tables(tcp, !tcp);
		for (size_t i = 0; i < n; i++)
			if (in_tables(seen[i]))
				return 1;
		n = other_servers(tcp, port, mine, count, seen, 8);
	}
	return 0;
}
