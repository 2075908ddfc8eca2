/* fd -> entry table. Two levels, chunks allocated on first use, so a process that publishes nothing
 * touches no page of it and a fork copies nothing. Entries are reference counted by holders: every fd
 * (in this process) that refers to the same socket holds one. */
#include <stdlib.h>

#include "shim.h"

_Atomic(struct natt_entry *) *_Atomic natt_fd_chunks[NATT_FD_CHUNKS];

struct natt_entry *nattshim_fd_exchange(int fd, struct natt_entry *entry)
{
	if (fd < 0 || (unsigned)fd >= NATT_FD_CHUNK * NATT_FD_CHUNKS)
		return NULL;
	unsigned index = (unsigned)fd >> NATT_FD_CHUNK_BITS;
	_Atomic(struct natt_entry *) *chunk = atomic_load(&natt_fd_chunks[index]);
	if (!chunk) {
		if (!entry)
			return NULL;
		_Atomic(struct natt_entry *) *fresh = calloc(NATT_FD_CHUNK, sizeof(*fresh));
		if (!fresh)
			return NULL;
		_Atomic(struct natt_entry *) *expected = NULL;
		if (atomic_compare_exchange_strong(&natt_fd_chunks[index], &expected, fresh))
			chunk = fresh;
		else {
			free(fresh); /* another thread won the race */
			chunk = expected;
		}
	}
	return atomic_exchange(&chunk[(unsigned)fd & (NATT_FD_CHUNK - 1)], entry);
}

void nattshim_release(struct natt_entry *entry)
{
	if (nattshim_is_entry(entry) && atomic_fetch_sub(&entry->holders, 1) == 1)
		natt_engine_retire(entry);
}

bool nattshim_any_tracked(unsigned first, unsigned last)
{
	for (unsigned index = first >> NATT_FD_CHUNK_BITS; index < NATT_FD_CHUNKS; index++) {
		if ((index << NATT_FD_CHUNK_BITS) > last)
			break;
		if (atomic_load(&natt_fd_chunks[index]))
			return true;
	}
	return false;
}
