/* Short-lived descriptors of natt's (status and lock files, /proc reads) inside someone else's
 * process. A program that closes every descriptor in one thread while the manager works in another
 * must neither close these under natt nor, worse, have natt write its status into a file of the
 * program's that got the number meanwhile. So each is marked as natt's in the shim's fd table as soon
 * as it exists (close() on it then fails with EBADF, as for natt's long-lived fds), and checked to be
 * the file that was opened: the program may have closed it between open() and the mark. Without the
 * shim (libnatt, the natt command) these are plain open() and close().
 * Thread-safe; meant for the manager thread and the natt command. */
#ifndef NATT_OWNFD_H
#define NATT_OWNFD_H

#include <dirent.h>
#include <stdio.h>
#include <sys/types.h>

/* Around the making of an fd that natt marks as its own without a claim (natt_own_fd: eventfd,
 * inotify, pidfd), from before its system call to after its mark: a range close of the program's
 * (close_range, closefrom) does not overlap it. */
void natt_own_fds_opening(void);
void natt_own_fds_opened(void);

/* openat(dirfd, path, flags | O_CLOEXEC, mode), marked as natt's. -1 with errno on failure. */
int natt_own_openat(int dirfd, const char *path, int flags, mode_t mode);
int natt_own_open(const char *path, int flags, mode_t mode);
/* Unmarks, then closes. Returns close()'s result. */
int natt_own_close(int fd);

/* The stdio and dirent forms, for reading. Their close goes through glibc's internal close, which
 * the shim never sees: always end them with these. */
FILE *natt_own_fopen_read(const char *path);
void natt_own_fclose(FILE *f);
DIR *natt_own_opendirat(int dirfd, const char *path);
void natt_own_closedir(DIR *dir);

#endif
