/* natt's shared files, safe from other local users (see statedir.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "util/log.h"
#include "sys/ownfd.h"
#include "sys/statedir.h"

bool natt_state_dir_safe(int fd, bool strict, const char **why)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		*why = "cannot be examined";
		return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		*why = "is not a directory";
		return false;
	}
	if (st.st_uid != geteuid()) {
		*why = "belongs to another user";
		return false;
	}
	if (st.st_mode & (strict ? 0077 : 0022)) {
		*why = strict ? "is open to other users (its mode must be 0700)"
		              : "is writable by other users";
		return false;
	}
	return true;
}

/* Creates the missing directories of dir (mode 0700). */
static int make_dirs(char *dir)
{
	for (char *p = dir + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		int rc = mkdir(dir, 0700) < 0 && errno != EEXIST ? -errno : 0;
		*p = saved;
		if (rc < 0 || saved == '\0')
			return rc;
	}
}

/* A refusal is said once per directory and process (the engine retries its writes). */
static void say_refused(const char *dir, const char *why)
{
	static char last[PATH_MAX];
	if (strcmp(last, dir) == 0)
		return;
	snprintf(last, sizeof(last), "%s", dir);
	natt_error("refusing to use %s for the status file and locks: it %s; going on without them", dir, why);
}

int natt_state_dir_open(const char *file_path, const char **base)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(file_path, '/');
	*base = slash ? slash + 1 : file_path;
	if (!**base)
		return -EISDIR;
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == file_path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - file_path) >= sizeof(dir))
		return -ENAMETOOLONG;
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - file_path), file_path);

	/* The directories natt picks itself must be exactly as natt makes them. */
	char def[PATH_MAX];
	natt_default_status_path(def, sizeof(def));
	char *def_slash = strrchr(def, '/');
	*def_slash = '\0';
	bool strict = strcmp(def, dir) == 0;

	int fd = natt_own_open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	if (fd < 0 && errno == ENOENT) {
		int rc = make_dirs(dir);
		if (rc < 0)
			return rc;
		fd = natt_own_open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
	}
	if (fd < 0) {
		int rc = -errno;
		if (rc == -ELOOP || rc == -ENOTDIR) {
			say_refused(dir, "is a symbolic link or not a directory");
			return -EPERM;
		}
		return rc;
	}
	const char *why;
	if (!natt_state_dir_safe(fd, strict, &why)) {
		say_refused(dir, why);
		natt_own_close(fd);
		return -EPERM;
	}
	return fd;
}

/* Only a regular file of ours: a FIFO, a device or another user's file at the name is refused. */
static int regular_of_ours(int fd)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	return S_ISREG(st.st_mode) && st.st_uid == geteuid() ? 0 : -EINVAL;
}

int natt_state_open_lock(int dir_fd, const char *name)
{
	/* O_NONBLOCK: a FIFO planted at the name must not block the open. */
	int fd = natt_own_openat(dir_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK, 0600);
	if (fd < 0)
		return errno == ELOOP ? -EINVAL : -errno;
	int rc = regular_of_ours(fd);
	if (rc < 0) {
		natt_own_close(fd);
		return rc;
	}
	return fd;
}

/* (Smaller buffers come from the heap, their pages mostly there already.) */
#define POPULATE_MIN_BYTES (64 * 1024)
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* A large buffer's pages made in one call before read() fills it, not one fault at a time in the
 * copy: under half the time of reading a 240 KB status file on this project's machine (a fault costs
 * about 10 µs there), where each process reads it into new memory at each write. (A kernel before
 * 5.14 refuses the advice: then the faults, as before.) */
static void populate(void *buf, size_t size)
{
	if (size < POPULATE_MIN_BYTES)
		return;
	long page = sysconf(_SC_PAGESIZE);
	if (page <= 0)
		return;
	uintptr_t mask = (uintptr_t)page - 1;
	uintptr_t start = ((uintptr_t)buf + mask) & ~mask, end = ((uintptr_t)buf + size) & ~mask;
	if (end > start) {
		int saved_errno = errno;
		madvise((void *)start, end - start, MADV_POPULATE_WRITE);
		errno = saved_errno;
	}
}

int natt_state_read(int dir_fd, const char *name, size_t max, char **data, size_t *len)
{
	*data = NULL;
	*len = 0;
	int fd = natt_own_openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
	if (fd < 0)
		return errno == ELOOP ? -EINVAL : -errno;
	struct stat st;
	int rc = regular_of_ours(fd);
	if (rc == 0 && fstat(fd, &st) < 0)
		rc = -errno;
	if (rc == 0 && (uint64_t)st.st_size > max)
		rc = -EFBIG;
	char *buf = NULL;
	size_t have = 0;
	if (rc == 0 && !(buf = malloc((size_t)st.st_size + 1)))
		rc = -ENOMEM;
	if (rc == 0)
		populate(buf, (size_t)st.st_size + 1);
	/* The size read at most: the file may grow meanwhile, never past what was checked. */
	while (rc == 0 && have < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + have, (size_t)st.st_size - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = -errno;
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	natt_own_close(fd);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	buf[have] = '\0';
	*data = buf;
	*len = have;
	return 0;
}

static uint64_t random_bits(void)
{
	uint64_t bits;
	if (getrandom(&bits, sizeof(bits), GRND_NONBLOCK) == (ssize_t)sizeof(bits))
		return bits;
	/* (No entropy yet, early at boot: the name only has to be new; O_EXCL does the rest.) */
	static uint64_t counter;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^ ++counter;
}

/* Writes the parts in turn, whatever the kernel takes at a time (one writev() in the usual case).
 * Consumes parts (their bases and lengths move on). */
static int write_parts(int fd, struct iovec *parts, size_t count)
{
	while (count) {
		ssize_t n = writev(fd, parts, (int)(count < IOV_MAX ? count : IOV_MAX));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		size_t done = (size_t)n;
		while (count && done >= parts->iov_len) {
			done -= parts->iov_len;
			parts++;
			count--;
		}
		if (count) {
			parts->iov_base = (char *)parts->iov_base + done;
			parts->iov_len -= done;
		}
	}
	return 0;
}

/* Writes the parts to a new file of dir_fd with an unpredictable name made with O_EXCL (never an
 * existing file or a symlink), mode mode; its name in tmp. 0 or -errno (nothing left behind). */
static int write_new_file(int dir_fd, const char *name, struct iovec *parts, size_t count, mode_t mode,
                          char tmp[NAME_MAX + 1])
{
	int fd = -1;
	for (int attempt = 0; attempt < 16 && fd < 0; attempt++) {
		if (snprintf(tmp, NAME_MAX + 1, ".%.200s.%016llx.tmp", name, (unsigned long long)random_bits()) >
		    NAME_MAX)
			return -ENAMETOOLONG;
		fd = natt_own_openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
		if (fd < 0 && errno != EEXIST)
			return -errno;
	}
	if (fd < 0)
		return -EEXIST;
	int rc = write_parts(fd, parts, count);
	if (natt_own_close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		unlinkat(dir_fd, tmp, 0);
	return rc;
}

int natt_state_replace_parts(int dir_fd, const char *name, const struct iovec *parts, size_t count)
{
	char tmp[NAME_MAX + 1];
	/* (a copy that the writes may consume) */
	struct iovec one, *mine = count <= 1 ? &one : malloc(count * sizeof(*mine));
	if (!mine)
		return -ENOMEM;
	memcpy(mine, parts, count * sizeof(*mine));
	int rc = write_new_file(dir_fd, name, mine, count, 0644, tmp);
	if (mine != &one)
		free(mine);
	if (rc == 0 && renameat(dir_fd, tmp, dir_fd, name) < 0) {
		rc = -errno;
		unlinkat(dir_fd, tmp, 0);
	}
	return rc;
}

int natt_state_replace(int dir_fd, const char *name, const char *data, size_t len)
{
	struct iovec whole = { (void *)data, len };
	return natt_state_replace_parts(dir_fd, name, &whole, 1);
}

int natt_state_create(int dir_fd, const char *name, const char *data, size_t len)
{
	char tmp[NAME_MAX + 1];
	struct iovec whole = { (void *)data, len };
	int rc = write_new_file(dir_fd, name, &whole, 1, 0600, tmp);
	if (rc < 0)
		return rc;
	/* link() never replaces: of processes creating the file at once, one wins and all read its data. */
	if (linkat(dir_fd, tmp, dir_fd, name, 0) < 0)
		rc = -errno;
	unlinkat(dir_fd, tmp, 0);
	return rc;
}
