#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/clock.h"
#include "core/watch.h"

/* When the last announcement of each format was taken (NAT-PMP, PCP: a router sends both at once, and
 * only the NAT-PMP one names the new address). Manager thread only. */
static int64_t last_taken_ms[2];

static int open_group(uint16_t port, const char *group, struct in_addr iface)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct ip_mreqn join = { .imr_address = iface };
	inet_pton(AF_INET, group, &join.imr_multiaddr);
	if (bind(fd, (struct sockaddr *)&any, sizeof(any)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &join, sizeof(join)) < 0) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	return fd;
}

int natt_watch_open_ssdp(struct in_addr iface)
{
	return open_group(1900, "239.255.255.250", iface);
}

int natt_watch_open_natpmp(struct in_addr iface)
{
	return open_group(5350, "224.0.0.1", iface);
}

int natt_watch_only_from(int fd, const struct in_addr *source)
{
	if (!source) {
		if (setsockopt(fd, SOL_SOCKET, SO_DETACH_FILTER, NULL, 0) < 0 && errno != ENOENT)
			return -errno;
		return 0;
	}
	/* The IPv4 source address (offset 12 of the network header), compared in host order as BPF loads
	 * it: equal keeps the datagram whole, anything else drops it before any reader is woken. */
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 12),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(source->s_addr), 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog program = { .len = sizeof(code) / sizeof(code[0]), .filter = code };
	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof(program)) < 0 ? -errno : 0;
}

static ssize_t receive(int fd, void *buf, size_t len, struct in_addr *from, uint16_t *from_port)
{
	struct sockaddr_in sender;
	socklen_t slen = sizeof(sender);
	ssize_t n = recvfrom(fd, buf, len, 0, (struct sockaddr *)&sender, &slen);
	if (n < 0)
		return -errno;
	*from = sender.sin_addr;
	*from_port = ntohs(sender.sin_port);
	return n;
}

int natt_watch_read_ssdp(int fd, struct in_addr *from, struct natt_ssdp_reply *reply, int *kind)
{
	char buf[2048];
	uint16_t port = 0;
	ssize_t n = receive(fd, buf, sizeof(buf), from, &port);
	if (n < 0)
		return n == -EWOULDBLOCK ? -EAGAIN : (int)n;
	if (natt_ssdp_parse(buf, (size_t)n, reply, kind) < 0)
		return 0;
	return *kind == NATT_SSDP_SEARCH_REPLY ? 0 : 1; /* M-SEARCH from other hosts land here too */
}

int natt_watch_parse_natpmp(const unsigned char *buf, size_t n, uint32_t *epoch, struct in_addr *external)
{
	/* RFC 6886 3.2.1: version 0, opcode 128, result 0, epoch, external address. */
	if (n >= 12 && buf[0] == 0 && buf[1] == 128 && buf[2] == 0 && buf[3] == 0) {
		*epoch = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 | buf[7];
		memcpy(&external->s_addr, buf + 8, 4);
		return 1;
	}
	/* RFC 6887 14.1.3: a PCP server (miniupnpd with PCP) announces a restart with an unsolicited
	 * ANNOUNCE response instead: version 2, R bit + opcode 0, epoch at offset 8. It names no
	 * external address. */
	if (n >= 24 && buf[0] == 2 && buf[1] == 0x80 && buf[3] == 0) {
		*epoch = (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 | (uint32_t)buf[10] << 8 | buf[11];
		external->s_addr = htonl(INADDR_ANY);
		return 1;
	}
	return 0;
}

int natt_watch_read_natpmp(int fd, struct in_addr *from, uint32_t *epoch, struct in_addr *external)
{
	unsigned char buf[64];
	uint16_t port = 0;
	ssize_t n = receive(fd, buf, sizeof(buf), from, &port);
	if (n < 0)
		return n == -EWOULDBLOCK ? -EAGAIN : (int)n;
	/* RFC 6886 3.2.1 / RFC 6887 8.1: announcements come from the server's port. */
	if (port != NATT_NATPMP_SERVER_PORT)
		return 0;
	if (!natt_watch_parse_natpmp(buf, (size_t)n, epoch, external))
		return 0;
	/* Each one understood costs a request per mapping: at most one a second of each format (a router
	 * sends its ten at 250 ms, 500 ms, 1 s...: the first says all), whoever floods the group in the
	 * gateway's name. */
	int64_t now = natt_now_ms();
	int64_t *last = &last_taken_ms[buf[0] == 2];
	if (*last && now - *last < NATT_WATCH_NATPMP_INTERVAL_MS)
		return 0;
	*last = now;
	return 1;
}
