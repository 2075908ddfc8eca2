/* The files natt's processes share beside the status file: one queue per gateway (RFC 6886 asks
 * clients to send one request at a time), a lock on a file named after the gateway; the user's PCP key.
 * (The gateway's IGD description URL too: upnp/igd_client.h.) */
#ifndef NATT_GWLOCK_H
#define NATT_GWLOCK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#define NATT_PCP_KEY_SIZE 16

/* The user's PCP key (".natt-pcp-key": 16 random bytes in hex, mode 0600, made by the first process
 * that needs it): natt derives each mapping's nonce from it, so that whichever natt process of the
 * user holds the socket (the program's next image after exec, a child, a new master) renews and
 * deletes the same mapping. 0, or -errno (no usable directory, something else at that name). */
int natt_pcp_key(const char *status_path, uint8_t key[NATT_PCP_KEY_SIZE]);

/* Returns an fd holding the lock (kept where natt_gateway_unlock can take it), or -1 when no lock
 * could be made (then the exchange goes ahead unserialized: a missing directory must not stop
 * publishing). */
int natt_gateway_lock(const char *status_path, const struct in_addr *gateway);

/* Waits for a whole-file write lock on fd, the file name of dir_fd (its waiters take turns at
 * watching for the release in "name.w" beside it; dir_fd -1: all of them watch). POSIX record locks,
 * not flock(): they belong to the process, so a child forked while natt holds one does not keep
 * holding it (an flock would stay with the child's inherited copy of the fd and block every natt
 * process of the host). Bounded, because the holder may be a stopped process: at most timeout_ms
 * while the lock neither changes hands nor sees an answer of the router (natt_gateway_answered), and
 * NATT_LOCK_WAIT_TURNS_CAP times that in all (a crowd of processes taking turns). 0, -ETIMEDOUT or
 * -errno. */
int natt_lock_file(int dir_fd, const char *name, int fd, int timeout_ms);
#define NATT_LOCK_WAIT_TURNS_CAP 4
/* The holder of the gateway lock (its fd) had an answer from the router: counted in the lock's file,
 * where the processes waiting for it see that the queue moves. */
void natt_gateway_answered(int lock_fd);
/* Answers seen that way during this process's waits, and the time of the last (natt_now_ms; 0:
 * none): whoever waits for this process's clean-up takes them for progress, as its own turn comes
 * nearer (a silent router gives none). Any thread, async-signal-safe. */
unsigned natt_lock_answers_seen(void);
int64_t natt_lock_last_answer_ms(void);
/* From now on no lock wait of this process lasts past until_ms (natt_now_ms): the end of its
 * clean-up at exit or at a termination signal. Any thread. */
void natt_lock_waits_end_by(int64_t until_ms);
/* How many of a lock's waiters watch for its release at once (the others look again now and then). */
#define NATT_LOCK_WATCHERS 8
/* natt_lock_file keeps the inotify instance of a wait for the next one: closed when natt's thread goes
 * idle or ends (no lock is held then), and in a fork child, where it is the parent's. */
void natt_lock_waits_close(void);
void natt_lock_waits_after_fork_child(void);
/* The program's dup2() onto that instance's number moved it to `to`: whether it was that one. Any
 * thread. */
bool natt_lock_waits_fd_moved(int from, int to);
/* Sets *fd to -1, then closes what it held (see natt_close_own_fd). */
void natt_gateway_unlock(int *fd);

#endif
