/* Processes the manager waits for: a forked child's parent (the child takes its mappings over when it
 * goes), and other holders of a closed socket (a mapping lingers until the last of them lets go). A
 * pidfd where the kernel has them, else kill(pid, 0) once a second. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/engine_internal.h"
#include "sys/ownfd.h"
#include "sys/sockstate.h"

#define MAX_WATCHES 32
/* Without a pidfd, a watched process is looked at this often. */
#define KILL_POLL_MS 1000

static struct {
	pthread_mutex_t lock; /* adds come from any thread; the manager removes */
	struct pid_watch {
		pid_t pid;
		int fd;                       /* pidfd, or -1: polled with kill(pid, 0) */
		void (*on_exit)(pid_t pid);   /* NULL: a holder of a lingering entry */
	} watches[MAX_WATCHES];
	int count;
} W = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int add_locked(pid_t pid, void (*on_exit)(pid_t))
{
	for (int i = 0; i < W.count; i++)
		if (W.watches[i].pid == pid && W.watches[i].on_exit == on_exit)
			return 0;
	if (W.count == MAX_WATCHES)
		return -ENOSPC;
	natt_own_fds_opening();
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd >= 0) {
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		natt_own_fd(fd);
	}
	natt_own_fds_opened();
	if (fd < 0 && errno == ESRCH)
		return -ESRCH;
	W.watches[W.count++] = (struct pid_watch){ .pid = pid, .fd = fd, .on_exit = on_exit };
	return 0;
}

int natt_pidwatch_add(pid_t pid, void (*on_exit)(pid_t pid))
{
	pthread_mutex_lock(&W.lock);
	int rc = add_locked(pid, on_exit);
	pthread_mutex_unlock(&W.lock);
	return rc;
}

/* The holder of lingering entries ended: the next holder is watched, or the entry retires. */
static void holder_gone(pid_t pid)
{
	for (struct natt_entry *e = natt_manager_entries(); e; e = e->next) {
		if (e->lingering_holder != pid)
			continue;
		pid_t next = natt_socket_other_holder(e->socket_id);
		bool watching = next > 0 && natt_pidwatch_add(next, NULL) == 0;
		e->lingering_holder = watching ? next : 0;
		if (!watching)
			e->due_ms = NATT_DUE_RETIRE; /* the last holder is gone */
	}
}

int natt_pidwatch_pollfds(struct pollfd *fds, int max, int *timeout_ms)
{
	int n = 0;
	pthread_mutex_lock(&W.lock);
	for (int i = 0; i < W.count; i++) {
		if (W.watches[i].fd >= 0 && n < max)
			fds[n++] = (struct pollfd){ .fd = W.watches[i].fd, .events = POLLIN };
		else if (W.watches[i].fd < 0 && (*timeout_ms < 0 || *timeout_ms > KILL_POLL_MS))
			*timeout_ms = KILL_POLL_MS; /* no pidfd: look again in a second */
	}
	pthread_mutex_unlock(&W.lock);
	return n;
}

void natt_pidwatch_check(const struct pollfd *fds, int count)
{
	for (int i = 0; i < W.count;) {
		struct pid_watch *w = &W.watches[i];
		bool ended = false;
		if (w->fd >= 0) {
			for (int j = 0; j < count; j++)
				if (fds[j].fd == w->fd && fds[j].revents)
					ended = true;
		} else {
			ended = kill(w->pid, 0) < 0 && errno == ESRCH;
		}
		if (!ended) {
			i++;
			continue;
		}
		struct pid_watch done = *w;
		pthread_mutex_lock(&W.lock);
		natt_close_own_fd(&w->fd);
		W.watches[i] = W.watches[--W.count];
		pthread_mutex_unlock(&W.lock);
		if (done.on_exit)
			done.on_exit(done.pid);
		else
			holder_gone(done.pid);
	}
}

/* Under the lock: natt's thread moves watches within the array when one ends. Tried a bounded number
 * of times, never waited for: the program's thread asking may be a signal handler that interrupted
 * the holder (then natt's fd is not moved, as if it were an exchange's). */
bool natt_pidwatch_fd_moved(int from, int to)
{
	bool locked = false;
	for (int attempt = 0; attempt < 1000 && !(locked = pthread_mutex_trylock(&W.lock) == 0); attempt++)
		sched_yield();
	if (!locked)
		return false;
	bool moved = false;
	for (int i = 0; i < W.count && !moved; i++) {
		if (W.watches[i].fd == from) {
			W.watches[i].fd = to;
			moved = true;
		}
	}
	pthread_mutex_unlock(&W.lock);
	return moved;
}

void natt_pidwatch_after_fork_child(void)
{
	pthread_mutex_init(&W.lock, NULL);
	for (int i = 0; i < W.count; i++)
		natt_close_own_fd(&W.watches[i].fd);
	W.count = 0;
}
