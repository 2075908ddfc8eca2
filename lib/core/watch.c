#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

/* A classic BPF program, and the jumps to "keep" of its comparisons: a conditional jump reaches at
 * most 255 instructions ahead, so a "keep" is put in the way (stepped over) before they would not. */
struct filter_code {
	struct sock_filter code[BPF_MAXINSNS];
	unsigned len;
	unsigned pending[128]; /* (at most 250 instructions apart: two per comparison) */
	unsigned pending_count;
	bool overflow;
};

#define KEEP_WHOLE 0xffffffffu

static void emit(struct filter_code *f, struct sock_filter insn)
{
	if (f->len < BPF_MAXINSNS)
		f->code[f->len++] = insn;
	else
		f->overflow = true;
}

static void put_keep_here(struct filter_code *f, bool step_over)
{
	if (step_over)
		emit(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0));
	unsigned keep = f->len;
	emit(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, KEEP_WHOLE));
	for (unsigned i = 0; i < f->pending_count && !f->overflow; i++)
		f->code[f->pending[i]].jf = (uint8_t)(keep - f->pending[i] - 1);
	f->pending_count = 0;
}

/* Goes on when the value loaded equals `value`, keeps the datagram otherwise. */
static void expect(struct filter_code *f, uint32_t value)
{
	if (f->pending_count && f->len + 3 - f->pending[0] > 250)
		put_keep_here(f, true);
	f->pending[f->pending_count++] = f->len;
	emit(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, value, 0, 0));
}

/* Compares len bytes at `offset` of the UDP header on (`indexed`: from X on) with bytes. */
static void expect_bytes(struct filter_code *f, uint32_t offset, bool indexed, const unsigned char *bytes,
                         size_t len)
{
	uint16_t mode = indexed ? BPF_IND : BPF_ABS;
	size_t i = 0;
	for (; i + 4 <= len; i += 4) {
		emit(f, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | mode, offset + (uint32_t)i));
		expect(f, (uint32_t)bytes[i] << 24 | (uint32_t)bytes[i + 1] << 16 | (uint32_t)bytes[i + 2] << 8 |
		                  bytes[i + 3]);
	}
	for (; i < len; i++) {
		emit(f, (struct sock_filter)BPF_STMT(BPF_LD | BPF_B | mode, offset + (uint32_t)i));
		expect(f, bytes[i]);
	}
}

static int build_news_filter(struct filter_code *f, const struct in_addr *source,
                             const struct natt_ssdp_repeat *repeat)
{
	/* Another source: dropped. The filter sees the datagram from its UDP header on. */
	emit(f, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 12));
	emit(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ntohl(source->s_addr), 1, 0));
	emit(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0));
	/* Too short to hold both: kept. */
	uint32_t udp_header = 8;
	emit(f, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0));
	emit(f, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K,
	                                      udp_header + repeat->head_len + repeat->tail_len, 1, 0));
	emit(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, KEEP_WHOLE));
	expect_bytes(f, udp_header, false, repeat->head, repeat->head_len);
	/* X = where the tail would begin */
	emit(f, (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0));
	emit(f, (struct sock_filter)BPF_STMT(BPF_ALU | BPF_SUB | BPF_K, repeat->tail_len));
	emit(f, (struct sock_filter)BPF_STMT(BPF_MISC | BPF_TAX, 0));
	expect_bytes(f, 0, true, repeat->tail, repeat->tail_len);
	/* All equal: a repeat, dropped. */
	emit(f, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, 0));
	put_keep_here(f, false);
	return f->overflow ? -E2BIG : 0;
}

int natt_watch_only_news(int fd, const struct in_addr *source, const struct natt_ssdp_repeat *repeat)
{
	if (!repeat || !repeat->usable)
		return natt_watch_only_from(fd, source);
	struct filter_code *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	int rc = build_news_filter(f, source, repeat);
	if (rc == 0) {
		struct sock_fprog program = { .len = (unsigned short)f->len, .filter = f->code };
		rc = setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &program, sizeof(program)) < 0 ? -errno : 0;
	}
	free(f);
	return rc;
}

/* A header line "NAME:..." (name case-insensitive). */
static bool header_named(const char *line, size_t len, const char *name)
{
	size_t n = strlen(name);
	return len > n && strncasecmp(line, name, n) == 0 && line[n] == ':';
}

void natt_ssdp_repeat_of(const char *datagram, size_t len, struct natt_ssdp_repeat *repeat)
{
	repeat->usable = false;
	size_t nt[2] = { 0, 0 }, usn[2] = { 0, 0 }; /* [start, end) of each line, end 0: not seen */
	size_t pos = 0;
	while (pos < len) {
		const char *eol = memmem(datagram + pos, len - pos, "\r\n", 2);
		if (!eol || eol == datagram + pos)
			break; /* the end of the headers */
		size_t end = (size_t)(eol - datagram) + 2;
		size_t *seen = header_named(datagram + pos, end - pos, "NT") ? nt :
		               header_named(datagram + pos, end - pos, "USN") ? usn : NULL;
		if (seen) {
			if (seen[1])
				return; /* twice: not the shape expected */
			seen[0] = pos;
			seen[1] = end;
		}
		pos = end;
	}
	if (!nt[1] || !usn[1] || (nt[1] != usn[0] && usn[1] != nt[0]))
		return;
	size_t start = nt[0] < usn[0] ? nt[0] : usn[0], end = nt[1] > usn[1] ? nt[1] : usn[1];
	if (start > NATT_SSDP_REPEAT_MAX || len - end > NATT_SSDP_REPEAT_MAX)
		return;
	repeat->head_len = (uint16_t)start;
	repeat->tail_len = (uint16_t)(len - end);
	memcpy(repeat->head, datagram, start);
	memcpy(repeat->tail, datagram + end, len - end);
	repeat->usable = true;
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

int natt_watch_read_ssdp(int fd, struct in_addr *from, struct natt_ssdp_reply *reply, int *kind,
                         struct natt_ssdp_repeat *repeat)
{
	char buf[2048];
	uint16_t port = 0;
	ssize_t n = receive(fd, buf, sizeof(buf), from, &port);
	if (n < 0)
		return n == -EWOULDBLOCK ? -EAGAIN : (int)n;
	if (natt_ssdp_parse(buf, (size_t)n, reply, kind) < 0 || *kind == NATT_SSDP_SEARCH_REPLY)
		return 0; /* M-SEARCH from other hosts land here too */
	if (repeat)
		natt_ssdp_repeat_of(buf, (size_t)n, repeat);
	return 1;
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
