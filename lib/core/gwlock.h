/* One queue per gateway (RFC 6886 asks clients to send one request at a time), across every natt
 * process of the host: a lock on a file named after the gateway, beside the status file. */
#ifndef NATT_GWLOCK_H
#define NATT_GWLOCK_H

#include <netinet/in.h>

/* Returns an fd holding the lock (give it to natt_gateway_unlock), or -1 when no lock could be made
 * (then the exchange goes ahead unserialized: a missing directory must not stop publishing). */
int natt_gateway_lock(const char *status_path, const struct in_addr *gateway);

/* Waits at most timeout_ms for a whole-file write lock on fd. POSIX record locks, not flock(): they
 * belong to the process, so a child forked while natt holds one does not keep holding it (an flock
 * would stay with the child's inherited copy of the fd and block every natt process of the host).
 * Bounded, because the holder may be a stopped process. 0, -ETIMEDOUT or -errno. */
int natt_lock_file(int fd, int timeout_ms);
void natt_gateway_unlock(int fd);

#endif
