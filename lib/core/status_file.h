/* The status file: the engine's state written out for other programs. One file may be shared by
 * every process of a wrapped tree; each process replaces only its own entries, under a lock on
 * "<file>.lock", and drops entries of processes that no longer exist. The file is replaced by
 * rename(), so a reader never sees a partial file. */
#ifndef NATT_STATUS_H
#define NATT_STATUS_H

#include <netinet/in.h>
#include <stddef.h>

#include "core/engine.h"

typedef size_t (*natt_collect_fn)(struct natt_entry *entry, struct natt_assignment *list, size_t max);

/* Writes this process's entries (linked by ->next; NULL = none left) into path. Creates the directory
 * (mode 0700) when missing. Returns 0 or -errno. Called from the manager thread only. */
int natt_status_write(const char *path, struct natt_entry *entries, natt_collect_fn collect,
                      const struct in_addr *gateway);

#endif
