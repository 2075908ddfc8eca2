/* close(), close_range(), closefrom(): the last copy of a published socket retires its mapping.
 * close() is hot in every program: untracked fds cost one bounds check and one load. */
#include <errno.h>
#include <linux/close_range.h>
#include <unistd.h>

#include "shim.h"

/* Detach before the real close: once the kernel frees the number, another thread may get it for a
 * new socket, and that one's entry must not be the one we drop. */
static int nattshim_close(int fd)
{
	struct natt_entry *entry = nattshim_fd_exchange(fd, NULL);
	int rc = libc_close(fd);
	int saved_errno = errno;
	nattshim_release(entry);
	errno = saved_errno;
	return rc;
}

NATT_EXPORT int close(int fd)
{
	if (__builtin_expect(nattshim_tracked(fd) == NULL, 1))
		return libc_close(fd);
	return nattshim_close(fd);
}

static void release_range(unsigned first, unsigned last, struct natt_entry **detached, unsigned count)
{
	(void)first;
	(void)last;
	for (unsigned i = 0; i < count; i++)
		nattshim_release(detached[i]);
}

/* Walks [first, last] over allocated chunks only, detaching tracked fds in batches. */
static int nattshim_close_range(unsigned first, unsigned last, int flags)
{
	if (flags & CLOSE_RANGE_CLOEXEC)
		return libc_close_range(first, last, flags); /* ends nothing now; exec will */
	struct natt_entry *detached[64];
	unsigned count = 0;
	int rc = 0;
	for (unsigned fd = first; fd <= last && fd < NATT_FD_CHUNK * NATT_FD_CHUNKS; fd++) {
		if ((fd & (NATT_FD_CHUNK - 1)) == 0 && !atomic_load(&natt_fd_chunks[fd >> NATT_FD_CHUNK_BITS])) {
			if (fd + NATT_FD_CHUNK - 1 < fd)
				break;
			fd += NATT_FD_CHUNK - 1;
			continue;
		}
		if (!nattshim_tracked((int)fd))
			continue;
		struct natt_entry *entry = nattshim_fd_exchange((int)fd, NULL);
		if (entry)
			detached[count++] = entry;
		if (count == 64) {
			/* Close what lies below this point now, so detached entries are never held past
			 * their fds' end. */
			rc = libc_close_range(first, fd, flags);
			release_range(first, fd, detached, count);
			count = 0;
			if (rc < 0 || fd == last)
				return rc;
			first = fd + 1;
		}
	}
	rc = libc_close_range(first, last, flags);
	int saved_errno = errno;
	release_range(first, last, detached, count);
	errno = saved_errno;
	return rc;
}

NATT_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	if (first > last || !nattshim_any_tracked(first, last))
		return libc_close_range(first, last, flags);
	return nattshim_close_range(first, last, flags);
}

NATT_EXPORT void closefrom(int lowfd)
{
	if (lowfd < 0 || !nattshim_any_tracked((unsigned)lowfd, ~0u)) {
		libc_closefrom(lowfd);
		return;
	}
	int saved_errno = errno;
	/* glibc's closefrom() is close_range(lowfd, ~0U, 0) with a fallback for old kernels; ours asks
	 * the same of close_range after detaching what it closes. */
	if (nattshim_close_range((unsigned)lowfd, ~0u, 0) < 0)
		libc_closefrom(lowfd);
	errno = saved_errno;
}
