#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "engine.h"
#include "gwlock.h"

int natt_gateway_lock(const char *status_path, const struct in_addr *gateway)
{
	char dir[PATH_MAX], path[PATH_MAX + 64], gw[INET_ADDRSTRLEN];
	if (status_path && status_path[0])
		snprintf(dir, sizeof(dir), "%s", status_path);
	else
		natt_default_status_path(dir, sizeof(dir));
	char *slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	inet_ntop(AF_INET, gateway, gw, sizeof(gw));
	snprintf(path, sizeof(path), "%s/.natt-gateway-%s.lock", dir, gw);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

void natt_gateway_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* closing drops the flock */
}
