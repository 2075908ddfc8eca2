#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "util/clock.h"
#include "core/config.h"
#include "util/log.h"
#include "sys/ownfd.h"
#include "core/gwlock.h"
#include "upnp/igd_client.h"

/* "<status dir>/.natt-gateway-A.B.C.D<suffix>": the host's shared files about one gateway. */
static void gateway_file(const char *status_path, const struct in_addr *gateway, const char *suffix, char *path,
                         size_t len)
{
	char dir[PATH_MAX], gw[INET_ADDRSTRLEN];
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
	snprintf(path, len, "%s/.natt-gateway-%s%s", dir, gw, suffix);
}

int natt_lock_file(int fd, int timeout_ms)
{
	struct flock whole = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int64_t deadline = natt_now_ms() + timeout_ms;
	long pause_us = 500;
	while (fcntl(fd, F_SETLK, &whole) < 0) {
		if (errno != EAGAIN && errno != EACCES && errno != EINTR)
			return -errno;
		if (natt_now_ms() >= deadline)
			return -ETIMEDOUT;
		/* Exchanges under the lock take milliseconds: poll, backing off to 20 ms. */
		usleep((useconds_t)pause_us);
		if (pause_us < 20000)
			pause_us *= 2;
	}
	return 0;
}

int natt_gateway_lock(const char *status_path, const struct in_addr *gateway)
{
	char path[PATH_MAX + 64];
	gateway_file(status_path, gateway, ".lock", path, sizeof(path));
	int fd = natt_own_open(path, O_RDWR | O_CREAT, 0644);
	if (fd < 0)
		return -1;
	/* Longer than any exchange natt makes with a router that answers (a dead one costs the holder its
	 * timeouts, a few seconds per request): past that, the holder is stuck and we go ahead, and do not
	 * wait that long again for a minute. (Manager thread or the natt command only: no lock needed.) */
	static int64_t stuck_until;
	int64_t now = natt_now_ms();
	if (natt_lock_file(fd, now < stuck_until ? 200 : 15000) < 0) {
		if (now >= stuck_until)
			natt_warn("the gateway lock %s is held too long: going ahead without it", path);
		stuck_until = natt_now_ms() + 60000;
		natt_own_close(fd);
		return -1;
	}
	stuck_until = 0;
	return fd;
}

void natt_gateway_unlock(int fd)
{
	if (fd >= 0)
		natt_own_close(fd); /* closing drops the lock */
}

int natt_igd_cache_read(const char *status_path, const struct in_addr *gateway, char *location, size_t len)
{
	char path[PATH_MAX + 64];
	gateway_file(status_path, gateway, ".igd", path, sizeof(path));
	int fd = natt_own_open(path, O_RDONLY, 0);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, location, len - 1);
	natt_own_close(fd);
	if (n <= 0)
		return -ENOENT;
	location[n] = '\0';
	location[strcspn(location, "\n")] = '\0';
	/* Only a plain http URL of the gateway itself is worth trying. */
	char prefix[32];
	char gw[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, gateway, gw, sizeof(gw));
	snprintf(prefix, sizeof(prefix), "http://%s:", gw);
	return strncmp(location, prefix, strlen(prefix)) == 0 ? 0 : -EINVAL;
}

void natt_igd_cache_write(const char *status_path, const struct in_addr *gateway, const char *location)
{
	char path[PATH_MAX + 64], tmp[PATH_MAX + 96];
	gateway_file(status_path, gateway, ".igd", path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
	int fd = natt_own_open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return;
	size_t len = strlen(location);
	bool written = write(fd, location, len) == (ssize_t)len && write(fd, "\n", 1) == 1;
	if (natt_own_close(fd) == 0 && written)
		rename(tmp, path);
	else
		unlink(tmp);
}
