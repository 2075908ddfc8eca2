/* What natpmp.c offers the engine and the tests beyond natt/natpmp.h. */
#ifndef NATT_NATPMP_INTERNAL_H
#define NATT_NATPMP_INTERNAL_H

#include <stdint.h>

/* The epoch rule of RFC 6886 3.6 with the given slack in seconds (the RFC's is 2): true when new_epoch
 * is below previous_epoch + elapsed_seconds * 7/8 - slack. */
int natt_natpmp_epoch_behind(uint32_t previous_epoch, uint32_t new_epoch, double elapsed_seconds, double slack);

#endif
