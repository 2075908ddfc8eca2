#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "outside/proc.h"

static ssize_t read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len - 1);
	int err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	return n;
}

int natt_proc_children(pid_t pid, pid_t *out, size_t *count, size_t max)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *tasks = opendir(path);
	if (!tasks)
		return -errno;
	int found = 0;
	struct dirent *t;
	while ((t = readdir(tasks))) {
		if (t->d_name[0] == '.')
			continue;
		char file[96], text[4096];
		snprintf(file, sizeof(file), "/proc/%d/task/%.16s/children", (int)pid, t->d_name);
		if (read_small(file, text, sizeof(text)) <= 0)
			continue;
		for (char *p = text, *end; *p; p = end) {
			long child = strtol(p, &end, 10);
			if (end == p)
				break;
			if (child > 0) {
				found++;
				if (*count < max)
					out[(*count)++] = (pid_t)child;
			}
		}
	}
	closedir(tasks);
	return found;
}

static uint64_t socket_inode(const char *target)
{
	unsigned long long inode;
	char tail;
	if (sscanf(target, "socket:[%llu%c", &inode, &tail) != 2 || tail != ']')
		return 0;
	return inode;
}

int natt_proc_sockets(pid_t pid, void (*fn)(uint64_t inode, void *ctx), void *ctx)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *fds = opendir(path);
	if (!fds)
		return -errno;
	int dir_fd = dirfd(fds);
	struct dirent *d;
	while ((d = readdir(fds))) {
		if (d->d_name[0] == '.')
			continue;
		char target[64];
		ssize_t n = readlinkat(dir_fd, d->d_name, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		uint64_t inode = socket_inode(target);
		if (inode)
			fn(inode, ctx);
	}
	closedir(fds);
	return 0;
}

uint64_t natt_proc_fd_socket(pid_t tid, int fd)
{
	char path[64], target[64];
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)tid, fd);
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	if (n <= 0)
		return 0;
	target[n] = '\0';
	return socket_inode(target);
}

pid_t natt_proc_tgid(pid_t tid)
{
	char path[64], text[2048];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	ssize_t n = read_small(path, text, sizeof(text));
	if (n < 0)
		return (pid_t)n;
	const char *line = strstr(text, "\nTgid:");
	if (!line)
		return -EINVAL;
	long tgid = strtol(line + 6, NULL, 10);
	return tgid > 0 ? (pid_t)tgid : -EINVAL;
}

void natt_proc_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (read_small(path, buf, len) <= 0) {
		buf[0] = '\0';
		return;
	}
	buf[strcspn(buf, "\n")] = '\0';
}

int natt_proc_same_netns(pid_t pid)
{
	char path[64];
	struct stat mine, theirs;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	if (stat("/proc/self/ns/net", &mine) < 0 || stat(path, &theirs) < 0)
		return -errno;
	return mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino;
}

bool natt_proc_environ_has(pid_t pid, const char *entry)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	size_t want = strlen(entry) + 1, cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	bool found = false;
	ssize_t n;
	while (buf && len < cap && (n = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)n;
	close(fd);
	for (size_t at = 0; buf && at < len && !found;) {
		size_t item = strnlen(buf + at, len - at);
		found = item + 1 == want && memcmp(buf + at, entry, want - 1) == 0;
		at += item + 1;
	}
	free(buf);
	return found;
}

bool natt_proc_ended(pid_t pid)
{
	/* A pidfd is readable once the whole process has ended (a main thread that called pthread_exit()
	 * shows as a zombie in /proc while its other threads run on). No pidfd: ended only if gone (not
	 * when out of descriptors). */
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return errno == ESRCH;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	bool ended = poll(&p, 1, 0) == 1;
	close(fd);
	return ended;
}

unsigned long long natt_proc_start_time(pid_t pid)
{
	char path[64], text[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, text, sizeof(text)) <= 0)
		return 0;
	const char *p = strrchr(text, ')'); /* after the command name, which may hold anything */
	if (!p)
		return 0;
	unsigned long long start = 0;
	/* fields 3..22: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
	 * cutime cstime priority nice threads itrealvalue starttime */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
	           &start) != 1)
		return 0;
	return start;
}
