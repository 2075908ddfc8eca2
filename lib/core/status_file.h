/* The status file: the engine's state written out for other programs. One file may be shared by
 * every process of a wrapped tree; each process replaces only its own entries, under a lock on
 * "<file>.lock", and drops entries of processes that no longer exist. The file is replaced by
 * rename(), so a reader never sees a partial file. */
#ifndef NATT_STATUS_H
#define NATT_STATUS_H

#include <netinet/in.h>
#include <stddef.h>

#include "core/engine.h"

/* Another process's entries are kept from a file of at most this size: each write reads and checks the
 * whole file, under a lock every natt process of the user shares (about 2500 sockets' entries). */
#define NATT_STATUS_MAX_BYTES (1u << 20)

struct natt_host_interfaces;
/* An entry's assignments (natt_entry_assignments_among): host is shared by every entry of one write. */
typedef size_t (*natt_collect_fn)(struct natt_entry *entry, struct natt_host_interfaces *host,
                                  struct natt_assignment *list, size_t max);

/* Set by a watcher that publishes the sockets of other processes (natt watch): fills in the process
 * an entry's socket belongs to, and its command name, for the entry's "pid" and "command". The
 * writer's own pid and start time then go into "publisher" and "publisher_start", which mark the
 * entries as this writer's to replace (and as stale once that very writer is gone). NULL (the shim,
 * libnatt): every entry is the writer's. */
extern void (*natt_status_owner)(const struct natt_entry *entry, pid_t *pid, char *command, size_t len);

/* Writes this process's entries (linked by ->next; NULL = none left) into path. Creates the directory
 * (mode 0700) when missing, and refuses one that another user could write to (-EPERM; statedir.h).
 * When the directory cannot be used (-EACCES, -EPERM, -EROFS: a daemon that gave up root) and
 * NATT_STATUS_RELAY names natt-run's status relay, the entries go to the relay instead (then 0).
 * Returns 0 or -errno. Called from the manager thread only. */
int natt_status_write(const char *path, struct natt_entry *entries, natt_collect_fn collect,
                      const struct in_addr *gateway);

/* For natt-run's status relay: replaces process pid's entries in the file at path by own (its socket
 * objects, comma-separated, as the process rendered them; own_len 0: none), dropping the entries of
 * processes that are gone. 0 or -errno. */
int natt_status_merge(const char *path, pid_t pid, const char *own, size_t own_len);
/* For natt-run's status relay: takes the entries of process pid, which has ended, out of the file at
 * path, when it has any (else the file is left as it is: a pid with none costs a read). 0 or -errno. */
int natt_status_drop(const char *path, pid_t pid);

#endif
