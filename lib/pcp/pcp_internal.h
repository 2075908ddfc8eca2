/* PCP client internals shared with the engine and the unit tests: the retransmission schedule, the
 * ANNOUNCE probe. */
#ifndef NATT_PCP_INTERNAL_H
#define NATT_PCP_INTERNAL_H

#include <netinet/in.h>
#include <stdint.h>

/* RFC 6887 8.1.1 timers, milliseconds: initial and maximum retransmission time. */
#define NATT_PCP_IRT_MS 3000
#define NATT_PCP_MRT_MS 1024000

/* The wait before the next transmission: previous_ms 0 (the first transmission) gives
 * (1 + RAND) * IRT, else (1 + RAND) * min(2 * previous_ms, MRT), where RAND = jitter in [-0.1, 0.1]
 * (values outside are clamped). Pure. */
int64_t natt_pcp_next_wait_ms(int64_t previous_ms, double jitter);

/* An ANNOUNCE request (RFC 6887 14.1) to an IPv4 server, for a caller that waits on other sockets too:
 * natt_pcp_announce_begin sends it on a socket of its own, connected to server (port 0: 5351), and
 * returns that socket (the caller closes it) or a negative code. natt_pcp_announce_read: 1 when a PCP
 * server answered (its epoch in *epoch), 0 when nothing usable came yet, NATT_ERR_UNSUPPORTED when no
 * PCP server is there (ICMP port unreachable, or a NAT-PMP server's UNSUPP_VERSION), -errno. */
int natt_pcp_announce_begin(const struct sockaddr_in *server);
int natt_pcp_announce_read(int fd, uint32_t *epoch);

#endif
