/* SipHash-2-4 (Aumasson and Bernstein): a keyed hash, so that values derived from a secret key cannot be
 * predicted or forged by whoever lacks the key. */
#ifndef NATT_SIPHASH_H
#define NATT_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define NATT_SIPHASH_KEY_SIZE 16

/* The 64-bit SipHash-2-4 of data[0..len) under key. Pure. */
uint64_t natt_siphash24(const uint8_t key[NATT_SIPHASH_KEY_SIZE], const void *data, size_t len);

#endif
