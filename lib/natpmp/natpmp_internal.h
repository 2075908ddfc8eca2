/* What natpmp.c offers the engine and the tests beyond natt/natpmp.h. */
#ifndef NATT_NATPMP_INTERNAL_H
#define NATT_NATPMP_INTERNAL_H

#include <natpmp.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

/* The epoch rule of RFC 6886 3.6 with the given slack in seconds (the RFC's is 2): true when new_epoch
 * is below previous_epoch + elapsed_seconds * 7/8 - slack. */
int natt_natpmp_epoch_behind(uint32_t previous_epoch, uint32_t new_epoch, double elapsed_seconds, double slack);

/* An external-address request in progress, for a caller that waits on other sockets too: begin
 * (0, or a negative code and nothing to end), poll natt_natpmp_query_fd until natt_natpmp_query_next_ms,
 * read (1: the reply, with external and epoch; 0: nothing yet, and what was due is sent again;
 * NATT_ERR_UNSUPPORTED: no NAT-PMP there; another negative code: the router's refusal or an error),
 * end. libnatpmp's schedule: 250 ms, then doubling. */
struct natt_natpmp_query {
	natpmp_t session;
	bool open;
};
int natt_natpmp_query_begin(struct natt_natpmp_query *query, const struct in_addr *gateway);
int natt_natpmp_query_fd(const struct natt_natpmp_query *query);
int64_t natt_natpmp_query_next_ms(struct natt_natpmp_query *query);
int natt_natpmp_query_read(struct natt_natpmp_query *query, struct in_addr *external, uint32_t *epoch);
void natt_natpmp_query_end(struct natt_natpmp_query *query);

#endif
