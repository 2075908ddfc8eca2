/* dup(), dup2(), dup3(), fcntl(F_DUPFD[_CLOEXEC]): a copy of a published socket holds it too; dup2 and
 * dup3 onto a published fd end that copy first, as the kernel does. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shim.h"

/* One more holder, unless the last one has gone: an entry whose count reached zero is being retired
 * and must never come back (a close() in another thread or a signal handler can end oldfd between our
 * dup and this count). */
static bool hold_one_more(struct natt_entry *entry)
{
	int holders = atomic_load(&entry->holders);
	while (holders > 0)
		if (atomic_compare_exchange_weak(&entry->holders, &holders, holders + 1))
			return true;
	return false;
}

/* After newfd became a copy of oldfd (and whatever newfd was before ended). */
static void nattshim_copied(int oldfd, int newfd)
{
	if (oldfd == newfd || nattshim_in_vfork_child())
		return;
	int saved_errno = errno;
	struct natt_entry *entry = nattshim_settled(oldfd); /* (after any look of the manager's at it) */
	if (entry == NATTSHIM_IP_BOUND) {
		nattshim_engine_settle(); /* (its publish may wait for the engine's load: it comes first) */
		entry = nattshim_settled(oldfd);
	}
	struct stat st;
	/* (An entry the manager has not looked at yet has no inode to compare: taken as it is.) */
	if (nattshim_is_entry(entry) && !atomic_load(&entry->unexamined) &&
	    (fstat(newfd, &st) < 0 || (uint64_t)st.st_ino != entry->socket_id)) {
		/* oldfd was closed behind our back (a raw close, glibc's own) and its number reused for
		 * something else: neither number holds the socket. */
		nattshim_release(nattshim_fd_exchange(oldfd, NULL));
		entry = NULL;
	}
	enum nattshim_event publish_again = NATTSHIM_AFTER_BIND;
	bool retiring = false;
	if (!nattshim_is_entry(entry))
		entry = NULL; /* a copy of natt's own fd is the program's, untracked */
	else if (!hold_one_more(entry)) {
		/* oldfd was the last copy and closed meanwhile: newfd keeps the socket, as a new one. */
		retiring = true;
		publish_again = entry->protocol == NATT_TCP ? NATTSHIM_AFTER_LISTEN : NATTSHIM_AFTER_BIND;
		entry = NULL;
	}
	nattshim_release(nattshim_fd_exchange(newfd, entry));
	if (retiring) {
		natt_internal_depth++;
		nattshim_consider(newfd, publish_again);
		natt_internal_depth--;
	}
	errno = saved_errno;
}

/* A copy of an fd the table does not know is none of natt's business: the hook looks before the call
 * and passes it on as its last act, so nothing of natt's runs after the system call. (Should another
 * thread bind or listen on that socket during the copy, the program left the two unordered: the copy
 * is then not counted, as if it had been made a moment earlier.) */
__attribute__((noinline)) static int dup_tracked(int fd)
{
	int rc = libc_dup(fd);
	if (rc >= 0)
		nattshim_copied(fd, rc);
	return rc;
}

NATT_EXPORT NATTSHIM_HOT_TEXT int dup(int fd)
{
	if (__builtin_expect(nattshim_tracked(fd) == NULL, 1))
		return libc_dup(fd);
	return dup_tracked(fd);
}

/* dup2/dup3 onto one of natt's own fds: the program believes that number free. Move ours away first,
 * so the program gets its number and natt keeps its descriptor. */
static void make_way(int oldfd, int newfd)
{
	if (oldfd == newfd || !nattshim_tracked(newfd) || nattshim_in_vfork_child() ||
	    nattshim_settled(newfd) != NATTSHIM_OURS)
		return;
	int saved_errno = errno;
	nattshim_own_opening(); /* (a new fd of natt's) */
	int moved = libc_fcntl(newfd, F_DUPFD_CLOEXEC, (void *)(long)(newfd + 1));
	if (moved >= 0)
		nattshim_fd_exchange(moved, NATTSHIM_OURS);
	nattshim_own_opened();
	if (moved >= 0) {
		if (natt_engine_fd_moved(newfd, moved))
			nattshim_fd_exchange(newfd, NULL);
		else {
			nattshim_fd_exchange(moved, NULL);
			libc_close(moved); /* an exchange's socket: nothing to move it for */
		}
	}
	errno = saved_errno;
}

/* dup2/dup3 end newfd's socket: its entry leaves the table before the call (once any look of the
 * manager's at it is over), so that the manager never takes the file that replaces it for that socket;
 * released once the call succeeded, put back if it failed. */
static struct natt_entry *detach_target(int oldfd, int newfd)
{
	if (oldfd == newfd || !nattshim_tracked(newfd) || nattshim_in_vfork_child())
		return NULL;
	if (nattshim_tracked(newfd) == NATTSHIM_IP_BOUND)
		nattshim_engine_settle(); /* (a publish of newfd waiting for the engine's load comes first) */
	for (;;) {
		struct natt_entry *held = nattshim_settled(newfd);
		if (!nattshim_is_entry(held))
			return NULL;
		if (nattshim_fd_replace(newfd, held, NULL))
			return held;
	}
}

static void after_replacing(int newfd, struct natt_entry *held, int rc)
{
	if (!held)
		return;
	int saved_errno = errno;
	if (rc < 0 && nattshim_fd_replace(newfd, NULL, held))
		return; /* newfd still has its socket */
	nattshim_release(held);
	errno = saved_errno;
}

__attribute__((noinline)) static int dup_onto_tracked(int oldfd, int newfd, bool is_dup3, int flags)
{
	make_way(oldfd, newfd);
	struct natt_entry *held = detach_target(oldfd, newfd);
	int rc = is_dup3 ? libc_dup3(oldfd, newfd, flags) : libc_dup2(oldfd, newfd);
	after_replacing(newfd, held, rc);
	if (rc >= 0 && (nattshim_tracked(oldfd) || nattshim_tracked(newfd)))
		nattshim_copied(oldfd, rc);
	return rc;
}

NATT_EXPORT NATTSHIM_HOT_TEXT int dup2(int oldfd, int newfd)
{
	if (__builtin_expect(nattshim_tracked(oldfd) == NULL && nattshim_tracked(newfd) == NULL, 1))
		return libc_dup2(oldfd, newfd);
	return dup_onto_tracked(oldfd, newfd, false, 0);
}

NATT_EXPORT NATTSHIM_HOT_TEXT int dup3(int oldfd, int newfd, int flags)
{
	if (__builtin_expect(nattshim_tracked(oldfd) == NULL && nattshim_tracked(newfd) == NULL, 1))
		return libc_dup3(oldfd, newfd, flags);
	return dup_onto_tracked(oldfd, newfd, true, flags);
}

static bool duplicates(int cmd)
{
	return cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC;
}

/* (fcntl() returns through its hook all the same: reading its variable argument keeps a frame.) */
__attribute__((noinline)) static int copy_tracked(int fd, int cmd, void *arg, bool is_fcntl64)
{
	int rc = is_fcntl64 ? libc_fcntl64(fd, cmd, arg) : libc_fcntl(fd, cmd, arg);
	if (rc >= 0)
		nattshim_copied(fd, rc);
	return rc;
}

NATT_EXPORT NATTSHIM_HOT_TEXT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (__builtin_expect(!duplicates(cmd) || nattshim_tracked(fd) == NULL, 1))
		return libc_fcntl(fd, cmd, arg);
	return copy_tracked(fd, cmd, arg, false);
}

NATT_EXPORT NATTSHIM_HOT_TEXT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (__builtin_expect(!duplicates(cmd) || nattshim_tracked(fd) == NULL, 1))
		return libc_fcntl64(fd, cmd, arg);
	return copy_tracked(fd, cmd, arg, true);
}
