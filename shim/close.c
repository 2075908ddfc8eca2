/* close(), close_range(), closefrom(): the last copy of a published socket retires its mapping.
 * close() is hot in every program: untracked fds cost one bounds check and one load. */
#include <errno.h>
#include <linux/close_range.h>
#include <stdio.h>
#include <unistd.h>

#include "shim.h"

/* Detach before the real close: once the kernel frees the number, another thread may get it for a
 * new socket, and that one's entry must not be the one we drop. */
static int nattshim_close(int fd)
{
	if (nattshim_in_vfork_child())
		return libc_close(fd);
	struct natt_entry *entry = nattshim_detach(fd);
	if (entry == NATTSHIM_OURS) {
		if (!natt_internal_depth && !natt_manager_thread) {
			errno = EBADF; /* the program's view: that number is not open */
			return -1;
		}
		/* natt closing its own: before the close the number is natt's, after it maybe the program's
		 * at once; meanwhile the program's close() of it waits. */
		nattshim_pend(fd);
		int rc = libc_close(fd);
		int saved_errno = errno;
		nattshim_unpend(fd, NULL);
		errno = saved_errno;
		return rc;
	}
	int rc = libc_close(fd);
	int saved_errno = errno;
	nattshim_release(entry);
	errno = saved_errno;
	return rc;
}

/* (Out of line: close() itself stays a few instructions and a jump on to libc.) */
__attribute__((noinline)) static int nattshim_close_tracked(int fd, struct natt_entry *tracked)
{
	/* A socket bound to an address and never published: the note goes, nothing else to do. */
	if (tracked == NATTSHIM_IP_BOUND && nattshim_fd_replace(fd, NATTSHIM_IP_BOUND, NULL))
		return libc_close(fd);
	return nattshim_close(fd);
}

NATT_EXPORT NATTSHIM_HOT_TEXT int close(int fd)
{
	/* Not from natt's own closes: the manager may hold the lock adoption takes. */
	if (__builtin_expect(atomic_load_explicit(&nattshim_inherited, memory_order_relaxed), 0) &&
	    !natt_internal_depth && !nattshim_in_signal_handler())
		nattshim_check_adoption();
	struct natt_entry *tracked = nattshim_tracked(fd);
	if (__builtin_expect(tracked == NULL, 1))
		return libc_close(fd);
	return nattshim_close_tracked(fd, tracked);
}

/* fclose() of a stream on a published socket (fdopen): glibc ends the fd with its internal close,
 * which no hook sees, so the stream's fd is looked at first. natt's own streams are natt's business. */
NATT_EXPORT int fclose(FILE *stream)
{
	int fd = stream ? fileno_unlocked(stream) : -1;
	struct natt_entry *entry = fd >= 0 ? nattshim_tracked(fd) : NULL;
	if (entry == NATTSHIM_PENDING && !natt_internal_depth)
		entry = nattshim_settled(fd); /* the manager is looking at the socket: a moment */
	if (entry == NATTSHIM_IP_BOUND)
		nattshim_fd_replace(fd, NATTSHIM_IP_BOUND, NULL);
	/* (natt's own streams, marked or being closed, go straight through: never wait on them here) */
	if (__builtin_expect(!nattshim_is_entry(entry), 1) || nattshim_in_vfork_child())
		return libc_fclose(stream);
	entry = nattshim_detach(fd);
	int rc = libc_fclose(stream);
	int saved_errno = errno;
	nattshim_release(entry);
	errno = saved_errno;
	return rc;
}

static void release_all(struct natt_entry **detached, unsigned *count)
{
	for (unsigned i = 0; i < *count; i++)
		nattshim_release(detached[i]);
	*count = 0;
}

/* Walks [first, last] over allocated chunks only, detaching tracked fds and closing the range in
 * pieces around natt's own fds. Detached entries are released once their fds are closed. */
static int nattshim_close_range(unsigned first, unsigned last, int flags)
{
	if ((flags & CLOSE_RANGE_CLOEXEC) || nattshim_in_vfork_child())
		return libc_close_range(first, last, flags); /* nothing ends now, or not ours */
	struct natt_entry *detached[64];
	unsigned count = 0;
	int rc = 0;
	unsigned limit = NATT_FD_CHUNK * NATT_FD_CHUNKS;
	for (unsigned fd = first; fd <= last && fd < limit; fd++) {
		if (!atomic_load(nattshim_chunk_ref(fd >> NATT_FD_CHUNK_BITS))) {
			fd |= NATT_FD_CHUNK - 1; /* skip the rest of an unused chunk */
			continue;
		}
		struct natt_entry *entry = nattshim_settled((int)fd);
		if (!entry)
			continue;
		if (entry == NATTSHIM_OURS) {
			if (fd > first && (rc = libc_close_range(first, fd - 1, flags)) < 0)
				break;
			release_all(detached, &count);
			first = fd + 1;
			continue;
		}
		if (count == 64) {
			if ((rc = libc_close_range(first, fd - 1, flags)) < 0)
				break;
			release_all(detached, &count);
			first = fd;
		}
		entry = nattshim_detach((int)fd);
		if (entry == NATTSHIM_OURS) {
			fd--; /* natt's own by now: looked at again, as one of natt's */
			continue;
		}
		detached[count++] = entry;
	}
	if (rc == 0 && first <= last)
		rc = libc_close_range(first, last, flags);
	int saved_errno = errno;
	release_all(detached, &count);
	errno = saved_errno;
	return rc;
}

/* From before the look at the table until the range is closed, natt makes no fd of its own: one made
 * meanwhile could be at a number already looked at, and closed under natt. (So a range of unused
 * chunks holds no fd of natt's, nor will before the close.) */
NATT_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	if (first > last)
		return libc_close_range(first, last, flags);
	nattshim_range_close_begin();
	int rc = nattshim_any_tracked(first, last) ? nattshim_close_range(first, last, flags)
	                                           : libc_close_range(first, last, flags);
	nattshim_range_close_end(); /* (errno untouched) */
	return rc;
}

NATT_EXPORT void closefrom(int lowfd)
{
	if (lowfd < 0) {
		libc_closefrom(lowfd);
		return;
	}
	nattshim_range_close_begin();
	if (!nattshim_any_tracked((unsigned)lowfd, ~0u)) {
		libc_closefrom(lowfd);
	} else {
		int saved_errno = errno;
		/* glibc's closefrom() is close_range(lowfd, ~0U, 0) with a fallback for old kernels;
		 * ours asks the same of close_range after detaching what it closes. */
		if (nattshim_close_range((unsigned)lowfd, ~0u, 0) < 0)
			libc_closefrom(lowfd);
		errno = saved_errno;
	}
	nattshim_range_close_end();
}
