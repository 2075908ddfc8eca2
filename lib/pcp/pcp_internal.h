/* PCP client internals shared with the unit tests: the retransmission schedule. */
#ifndef NATT_PCP_INTERNAL_H
#define NATT_PCP_INTERNAL_H

#include <stdint.h>

/* RFC 6887 8.1.1 timers, milliseconds: initial and maximum retransmission time. */
#define NATT_PCP_IRT_MS 3000
#define NATT_PCP_MRT_MS 1024000

/* The wait before the next transmission: previous_ms 0 (the first transmission) gives
 * (1 + RAND) * IRT, else (1 + RAND) * min(2 * previous_ms, MRT), where RAND = jitter in [-0.1, 0.1]
 * (values outside are clamped). Pure. */
int64_t natt_pcp_next_wait_ms(int64_t previous_ms, double jitter);

#endif
