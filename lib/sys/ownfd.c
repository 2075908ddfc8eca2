#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/engine_shim.h"
#include "sys/ownfd.h"

static void mark(int fd, enum natt_fd_mark how)
{
	if (natt_engine_fd_hook)
		natt_engine_fd_hook(fd, how);
}

void natt_own_fds_opening(void)
{
	mark(-1, NATT_FD_OPENING);
}

void natt_own_fds_opened(void)
{
	int saved_errno = errno;
	mark(-1, NATT_FD_OPENED);
	errno = saved_errno;
}

int natt_own_openat(int dirfd, const char *path, int flags, mode_t mode)
{
	if (!natt_engine_fd_hook)
		return openat(dirfd, path, flags | O_CLOEXEC, mode);
	for (int attempt = 0; attempt < 3; attempt++) {
		natt_own_fds_opening();
		int fd = openat(dirfd, path, flags | O_CLOEXEC, mode);
		if (fd < 0) {
			natt_own_fds_opened();
			return fd;
		}
		mark(fd, NATT_FD_CLAIM);
		struct stat by_fd, by_path;
		bool same = fstat(fd, &by_fd) == 0 && fstatat(dirfd, path, &by_path, 0) == 0 &&
		            by_fd.st_dev == by_path.st_dev && by_fd.st_ino == by_path.st_ino;
		/* Not the same: closed by the program before the claim (and maybe its own file now): the
		 * number is left alone, and the file opened again. */
		mark(fd, same ? NATT_FD_CONFIRM : NATT_FD_DISOWN);
		natt_own_fds_opened();
		if (same)
			return fd;
	}
	errno = EAGAIN;
	return -1;
}

int natt_own_open(const char *path, int flags, mode_t mode)
{
	return natt_own_openat(AT_FDCWD, path, flags, mode);
}

/* Under the shim, close() refuses marked fds to everyone but natt, and makes the program's close() of
 * the number wait while natt closes it. */
int natt_own_close(int fd)
{
	if (fd < 0)
		return 0;
	natt_internal_depth++;
	int rc = close(fd);
	natt_internal_depth--;
	return rc;
}

FILE *natt_own_fopen_read(const char *path)
{
	int fd = natt_own_open(path, O_RDONLY, 0);
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, "r");
	if (!f)
		natt_own_close(fd);
	return f;
}

void natt_own_fclose(FILE *f)
{
	if (!f)
		return;
	int fd = fileno(f);
	mark(fd, NATT_FD_CLOSING); /* glibc closes it without the shim's close() */
	fclose(f);
	mark(fd, NATT_FD_CLOSED);
}

DIR *natt_own_opendirat(int dirfd, const char *path)
{
	int fd = natt_own_openat(dirfd, path, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return NULL;
	DIR *dir = fdopendir(fd);
	if (!dir)
		natt_own_close(fd);
	return dir;
}

void natt_own_closedir(DIR *dir)
{
	if (!dir)
		return;
	int fd = dirfd(dir);
	mark(fd, NATT_FD_CLOSING);
	closedir(dir);
	mark(fd, NATT_FD_CLOSED);
}
