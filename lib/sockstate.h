/* What the kernel knows about a socket, by inode: which other processes hold it. A mapping belongs to
 * the socket, not to one process: a forked child closing its copy, or a parent exiting after it
 * daemonized, must not delete a mapping another process still serves on. */
#ifndef NATT_SOCKSTATE_H
#define NATT_SOCKSTATE_H

#include <stdint.h>
#include <sys/types.h>

/* Returns the pid of some process other than the caller that holds socket inode (from
 * /proc/PID/fd), 0 when none does, or -errno when /proc cannot be read. Costs a walk over every
 * process's fds: call it on the rare path only. */
pid_t natt_socket_other_holder(uint64_t inode);

#endif
