/* What /proc says about other processes: their children, their sockets, their thread groups. */
#ifndef NATT_OUTSIDE_PROC_H
#define NATT_OUTSIDE_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Appends the children of every thread of pid to out[*count..max) (kernel's
 * /proc/PID/task/TID/children). Returns how many it found (more than fit: the rest is not stored) or
 * -errno when pid is gone or unreadable. */
int natt_proc_children(pid_t pid, pid_t *out, size_t *count, size_t max);

/* Calls fn(inode, ctx) for each socket among pid's fds. 0, or -errno when pid is gone or its fds are
 * not ours to read. */
int natt_proc_sockets(pid_t pid, void (*fn)(uint64_t inode, void *ctx), void *ctx);

/* The inode of the socket at fd of task tid (a thread id does too), or 0 when it is no socket. */
uint64_t natt_proc_fd_socket(pid_t tid, int fd);

/* The thread group (process) of task tid, or -errno. */
pid_t natt_proc_tgid(pid_t tid);

/* The command name (comm) of pid into buf ("" when gone). */
void natt_proc_comm(pid_t pid, char *buf, size_t len);

/* Whether pid runs in the caller's network namespace: 1, 0, or -errno when it cannot be told. */
int natt_proc_same_netns(pid_t pid);

/* Whether pid's environment (as it started) holds the string entry, e.g. "NAME=VALUE". */
bool natt_proc_environ_has(pid_t pid, const char *entry);

/* pid's start time (clock ticks after boot, /proc/PID/stat field 22), or 0 when gone. */
unsigned long long natt_proc_start_time(pid_t pid);
/* Whether process pid has ended: gone, or a zombie (still counted by kill(pid, 0)); not one whose
 * main thread ended while others run on. */
bool natt_proc_ended(pid_t pid);

#endif
