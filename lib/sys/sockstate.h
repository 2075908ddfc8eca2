/* What the kernel knows about a socket, by inode: which other processes hold it. A mapping belongs to
 * the socket, not to one process: a forked child closing its copy, or a parent exiting after it
 * daemonized, must not delete a mapping another process still serves on. */
#ifndef NATT_SOCKSTATE_H
#define NATT_SOCKSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Returns the pid of some process other than the caller that holds socket inode (from
 * /proc/PID/fd), 0 when none does, or -errno when /proc cannot be read. Costs a walk over every
 * process's fds: call it on the rare path only. */
pid_t natt_socket_other_holder(uint64_t inode);

/* Whether the kernel still has a TCP or UDP socket with this inode in our network namespace: 1, 0, or
 * -errno when /proc cannot tell. A socket closed behind natt's back (glibc-internal closes, a raw
 * system call) shows here as gone. */
int natt_socket_exists(uint64_t inode);

/* Whether a socket other than ours (the inodes in mine) listens on the port (TCP) or is bound to it
 * (UDP): SO_REUSEPORT groups spread over processes share one mapping until the last socket goes. */
int natt_port_served_elsewhere(bool tcp, unsigned port, const uint64_t *mine, size_t count);
/* natt_port_served_elsewhere reads the kernel's tables once and keeps them until this is called: at
 * the start of each batch of retirements (their sockets are closed by then); it reads them afresh only
 * to confirm a socket found there, as natt_socket_exists does. Manager thread only. */
void natt_socket_tables_forget(void);

#endif
