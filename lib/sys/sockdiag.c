#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sys/sockdiag.h"
#include "util/parse.h"

#define DIAG_BUFSIZE 32768
#define DIAG_TIMEOUT_MS 2000

/* Kernel TCP states as inet_diag reports them (include/net/tcp_states.h). */
enum { ST_ESTABLISHED = 1, ST_CLOSE = 7, ST_LISTEN = 10 };

int natt_sockdiag_open(struct natt_sockdiag *d)
{
	memset(d, 0, sizeof(*d));
	d->buf = malloc(DIAG_BUFSIZE);
	if (!d->buf)
		return -ENOMEM;
	d->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	struct sockaddr_nl local = { .nl_family = AF_NETLINK };
	socklen_t alen = sizeof(local);
	if (d->fd < 0 || bind(d->fd, (struct sockaddr *)&local, sizeof(local)) < 0 ||
	    getsockname(d->fd, (struct sockaddr *)&local, &alen) < 0) {
		int rc = -errno;
		natt_sockdiag_close(d);
		return rc;
	}
	d->portid = local.nl_pid;
	return 0;
}

void natt_sockdiag_close(struct natt_sockdiag *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	free(d->socks);
	free(d->buf);
	d->socks = NULL;
	d->buf = NULL;
	d->count = d->cap = 0;
}

struct dump_ctx {
	struct natt_sockdiag *d;
	enum natt_protocol protocol;
};

static int add_socket(const struct nlmsghdr *msg, void *arg)
{
	struct dump_ctx *ctx = arg;
	struct natt_sockdiag *d = ctx->d;
	if (msg->nlmsg_type != SOCK_DIAG_BY_FAMILY || msg->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
		return 0;
	const struct inet_diag_msg *m = NLMSG_DATA(msg);
	if (m->id.idiag_sport == 0 || m->idiag_inode == 0)
		return 0; /* not bound yet, or a socket being torn down */
	struct natt_diag_sock s = { .protocol = ctx->protocol, .inode = m->idiag_inode, .uid = m->idiag_uid };
	s.connected = ctx->protocol == NATT_UDP && m->idiag_state == ST_ESTABLISHED;
	s.listening = ctx->protocol == NATT_TCP && m->idiag_state == ST_LISTEN;
	if (m->idiag_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&s.local;
		in->sin_family = AF_INET;
		in->sin_port = m->id.idiag_sport;
		memcpy(&in->sin_addr, m->id.idiag_src, 4);
	} else if (m->idiag_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&s.local;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = m->id.idiag_sport;
		memcpy(&in6->sin6_addr, m->id.idiag_src, 16);
		size_t len = msg->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
		for (const struct nlattr *a = (const void *)(m + 1); len >= sizeof(*a) && a->nla_len >= sizeof(*a) &&
		                                                    a->nla_len <= len;) {
			if ((a->nla_type & NLA_TYPE_MASK) == INET_DIAG_SKV6ONLY && a->nla_len > NLA_HDRLEN)
				s.v6only = *((const uint8_t *)a + NLA_HDRLEN) != 0;
			size_t step = NLA_ALIGN(a->nla_len);
			if (step >= len)
				break;
			len -= step;
			a = (const void *)((const char *)a + step);
		}
	} else {
		return 0;
	}
	if (d->count == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 64;
		struct natt_diag_sock *grown = realloc(d->socks, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		d->socks = grown;
		d->cap = cap;
	}
	d->socks[d->count++] = s;
	return 0;
}

static int dump_one(struct natt_sockdiag *d, int family, enum natt_protocol protocol)
{
	static _Atomic uint32_t sequence; /* (a watcher's thread and the manager both dump) */
	struct {
		struct nlmsghdr h;
		struct inet_diag_req_v2 r;
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = atomic_fetch_add(&sequence, 1) + 1 },
		.r = { .sdiag_family = (uint8_t)family,
		       .sdiag_protocol = protocol == NATT_TCP ? IPPROTO_TCP : IPPROTO_UDP,
		       .idiag_states = protocol == NATT_TCP ? 1u << ST_LISTEN : (1u << ST_CLOSE | 1u << ST_ESTABLISHED) },
	};
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	if (sendto(d->fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	struct dump_ctx ctx = { .d = d, .protocol = protocol };
	for (;;) {
		struct pollfd pfd = { .fd = d->fd, .events = POLLIN };
		int ready = poll(&pfd, 1, DIAG_TIMEOUT_MS);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0)
			return ready < 0 ? -errno : -ETIMEDOUT;
		ssize_t n = recv(d->fd, d->buf, DIAG_BUFSIZE, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		int rc = natt_netlink_walk(d->buf, (size_t)n, req.h.nlmsg_seq, d->portid, add_socket, &ctx);
		if (rc == 1)
			return 0;
		if (rc < 0)
			return rc;
	}
}

int natt_sockdiag_dump_only(struct natt_sockdiag *d, bool tcp, bool udp)
{
	d->count = 0;
	static const int families[] = { AF_INET, AF_INET6 };
	for (int p = 0; p < 2; p++) {
		if (!(p ? udp : tcp))
			continue;
		for (int f = 0; f < 2; f++) {
			size_t before = d->count;
			int rc;
			for (int tries = 0; (rc = dump_one(d, families[f], p ? NATT_UDP : NATT_TCP)) == -EAGAIN &&
			                    tries < 3;
			     tries++)
				d->count = before; /* interrupted by a concurrent change: ask again */
			if (rc == -ENOENT && families[f] == AF_INET6)
				continue; /* no IPv6 in this kernel */
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

int natt_sockdiag_dump(struct natt_sockdiag *d)
{
	return natt_sockdiag_dump_only(d, true, true);
}

const struct natt_diag_sock *natt_sockdiag_find(const struct natt_sockdiag *d, uint64_t inode)
{
	for (size_t i = 0; i < d->count; i++)
		if (d->socks[i].inode == inode)
			return &d->socks[i];
	return NULL;
}
