/* The kernel's socket tables through sock_diag (NETLINK_SOCK_DIAG): the listening TCP and the bound
 * UDP sockets of this network namespace, with their inodes. What a watcher outside a program sees of
 * its sockets; one dump costs tens of microseconds on a host with a few hundred sockets. */
#ifndef NATT_SYS_SOCKDIAG_H
#define NATT_SYS_SOCKDIAG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "natt/common.h"

struct natt_diag_sock {
	enum natt_protocol protocol;
	struct sockaddr_storage local; /* AF_INET or AF_INET6, port set */
	bool v6only;                   /* AF_INET6 with IPV6_V6ONLY on */
	bool connected;                /* UDP with a peer (a client's socket) */
	bool listening;                /* TCP in LISTEN */
	unsigned uid;                  /* the socket's owner */
	uint64_t inode;
};

struct natt_sockdiag {
	int fd;                        /* the netlink socket, kept between dumps */
	uint32_t portid;
	struct natt_diag_sock *socks;  /* the last dump */
	size_t count, cap;
	void *buf;
};

/* Opens the netlink socket (CLOEXEC). 0 or -errno. */
int natt_sockdiag_open(struct natt_sockdiag *d);
void natt_sockdiag_close(struct natt_sockdiag *d);

/* Replaces d->socks with the TCP sockets that listen and the UDP sockets that have a local port, IPv4
 * and IPv6. 0 or -errno (d->socks then holds what was read). */
int natt_sockdiag_dump(struct natt_sockdiag *d);
/* The same for the protocols asked for (TCP alone: half the requests). */
int natt_sockdiag_dump_only(struct natt_sockdiag *d, bool tcp, bool udp);

/* The socket of the last dump with this inode, or NULL. */
const struct natt_diag_sock *natt_sockdiag_find(const struct natt_sockdiag *d, uint64_t inode);

#endif
