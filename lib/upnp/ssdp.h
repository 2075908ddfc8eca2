/* What ssdp.c offers beyond natt/upnp.h. */
#ifndef NATT_UPNP_SSDP_H
#define NATT_UPNP_SSDP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "natt/upnp.h"

/* How many distinct (sender, USN) pairs one search remembers to drop repeated answers. A search that
 * meets more distinct answers than this may deliver later repeats again: a bound, not a guarantee. */
#define NATT_SSDP_SEEN_MAX 128

/* One M-SEARCH in progress, for a caller that waits on other sockets too (poll search.fd). */
struct natt_ssdp_search {
	int fd;
	struct sockaddr_in dest;
	char msg[512];
	size_t len;
	int64_t gap, next_send;
	struct {
		uint32_t addr;
		uint64_t usn_hash;
	} seen[NATT_SSDP_SEEN_MAX];
	int nseen;
	int delivered;
};

/* Opens the search's socket and sends the first M-SEARCH to dest (NULL: 239.255.255.250:1900). connected
 * (a unicast dest only, as UDA 1.1 allows): the socket is connected to dest, so that its ICMP port
 * unreachable is seen (natt_ssdp_search_read), and only replies from dest's very port come. 0, -EINVAL or -errno (nothing to
 * end then). */
int natt_ssdp_search_begin(struct natt_ssdp_search *search, const struct sockaddr_in *dest,
                           const char *search_target, const struct in_addr *iface, bool connected);
/* Delivers every new search reply queued on the socket to on_reply; 1 when on_reply returned non-zero
 * (the search is over), else 0; -ECONNREFUSED when a connected search met ICMP port unreachable: no
 * SSDP server there. */
int natt_ssdp_search_read(struct natt_ssdp_search *search, int (*on_reply)(const struct natt_ssdp_reply *reply, void *ctx),
                          void *ctx);
/* Sends the M-SEARCH again when its retransmission is due (now: natt_now_ms()); returns when the next one
 * is due. */
int64_t natt_ssdp_search_resend(struct natt_ssdp_search *search, int64_t now);
void natt_ssdp_search_end(struct natt_ssdp_search *search);

/* natt_ssdp_search to dest (the unit tests use a responder on loopback); NULL: 239.255.255.250:1900. */
int natt_ssdp_search_to(const struct sockaddr_in *dest, const char *search_target, const struct in_addr *iface,
                        int timeout_ms, int (*on_reply)(const struct natt_ssdp_reply *reply, void *ctx),
                        void *ctx);

#endif
