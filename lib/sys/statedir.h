/* The directory of natt's shared files (status file, its lock, the gateway lock and cache) and the
 * files in it. The default directory is in /tmp, where any local user can create names first: so a
 * directory is used only when it is a real directory (not a symlink), owned by the effective user, and
 * writable by nobody else (natt creates its own with mode 0700, and wants exactly that mode for the
 * default ones); every file is opened relative to that checked directory's fd, never through a
 * symlink, and only regular files are read or locked. Manager thread and the natt command only. */
#ifndef NATT_STATEDIR_H
#define NATT_STATEDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

/* Opens the directory holding file_path (created, mode 0700, with missing parents, when absent),
 * after the checks above; *base points at the file's name inside file_path. Returns the directory's fd
 * (close it with natt_own_close), or -errno: -EPERM for a directory that is not safe (said once per
 * process with NATT_LOG=error or more, with the reason), -ENAMETOOLONG, or what mkdir/open said. */
int natt_state_dir_open(const char *file_path, const char **base);

/* Whether the directory behind fd passes the checks, strict (no group/other permission at all) or
 * not (no group/other write permission). On refusal, why says it in a few words. */
bool natt_state_dir_safe(int fd, bool strict, const char **why);

/* Opens (creating it, mode 0600) a lock file in dir_fd: a regular file of ours, never a symlink, a
 * FIFO or a device. fd or -errno (-EINVAL for something else at that name). */
int natt_state_open_lock(int dir_fd, const char *name);

/* Reads the regular file name of dir_fd into a malloc'ed, NUL-terminated buffer (*data, *len): not
 * through a symlink, never blocking on a FIFO, refusing more than max bytes (-EFBIG). 0 or -errno
 * (-EINVAL for something that is not a regular file). */
int natt_state_read(int dir_fd, const char *name, size_t max, char **data, size_t *len);

/* Replaces name in dir_fd with data, atomically: written to a new file of an unpredictable name made
 * with O_EXCL (never an existing file or a symlink), then renamed over name. 0 or -errno. */
int natt_state_replace(int dir_fd, const char *name, const char *data, size_t len);
/* The same, the file's text being the count parts one after the other. */
int natt_state_replace_parts(int dir_fd, const char *name, const struct iovec *parts, size_t count);
/* Creates name in dir_fd with data, mode 0600, complete or not at all, unless something has that name
 * already (-EEXIST: nothing changed). 0 or -errno. */
int natt_state_create(int dir_fd, const char *name, const char *data, size_t len);

#endif
