/* natt-run's status relay: where a wrapped program gives up its privileges (a daemon that binds as
 * root, then runs as nobody), the status file natt-run was told to write stays writable only by
 * natt-run's user. The shim in the program then sends its entries to this relay, a process outside
 * the program that natt-run starts beside it (as it starts a watcher), which writes them. */
#ifndef NATT_OUTSIDE_RELAY_H
#define NATT_OUTSIDE_RELAY_H

#include <sys/types.h>

/* Opens the relay's socket: an abstract unix datagram socket with a random name (written into name,
 * at least 48 bytes), passing credentials. Returns the fd (CLOEXEC) or -errno. */
int natt_relay_open(char *name, size_t len);

/* Runs the relay on fd until program and every process that carries NATT_STATUS_RELAY=name in its
 * environment have ended: writes each sender's entries into path (natt_status_merge). A sender is
 * believed when it started after the relay and carries the name. Returns 0 or -errno. */
int natt_relay_run(int fd, const char *name, pid_t program, const char *path);

#endif
