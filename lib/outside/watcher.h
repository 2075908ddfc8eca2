/* Publishing the sockets of other processes: a program and the processes it starts, watched from
 * outside (natt watch, natt-run for the programs LD_PRELOAD cannot enter). The same engine as the
 * shim's makes the mappings, renews them, writes the status file and says what it did.
 *
 * How it learns of sockets: with a seccomp notification fd (natt-run installed the filter before the
 * program started), each bind() and listen() of the tree wakes the watcher, which lets the call go on
 * and looks at the kernel's socket tables right after it; without one (setuid programs, a process
 * already running), it looks at an adaptive interval: 50 ms after a change, stretching to 1 s. Either
 * way, a sock_diag dump at most every 700 ms while something is published notices closes, and a pidfd
 * per process notices its end at once. */
#ifndef NATT_OUTSIDE_WATCHER_H
#define NATT_OUTSIDE_WATCHER_H

#include <stdbool.h>
#include <sys/types.h>

struct natt_watcher_options {
	pid_t root;        /* the program (with its children) */
	int notify_fd;     /* seccomp notifications of the tree, or -1 */
};

/* Watches until every process of the tree has ended (and, with a notify fd, until no process can
 * make another notification), or until SIGTERM/SIGINT/SIGHUP; deletes every mapping before it returns.
 * Returns 0, or a negative code when the watch could not start (root gone: -ESRCH; another network
 * namespace: -EXDEV; the socket tables unreadable). */
int natt_watcher_run(const struct natt_watcher_options *options);

#endif
