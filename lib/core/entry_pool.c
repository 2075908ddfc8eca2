#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/engine.h"
#include "core/entry_pool.h"

#if defined(__SANITIZE_ADDRESS__)

struct natt_entry *natt_entry_alloc(void)
{
	return calloc(1, sizeof(struct natt_entry));
}

void natt_entry_free(struct natt_entry *e)
{
	free(e);
}

#else

#define PER_CHUNK 64
#define MAX_CHUNKS 1024 /* 65536 entries: far more sockets than a process publishes */

struct chunk {
	_Atomic uint64_t used; /* bit i: entries[i] is taken */
	struct natt_entry entries[PER_CHUNK];
};

static struct chunk *_Atomic chunks[MAX_CHUNKS];

static struct chunk *chunk_at(unsigned i)
{
	struct chunk *c = atomic_load(&chunks[i]);
	if (c)
		return c;
	void *fresh = mmap(NULL, sizeof(struct chunk), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fresh == MAP_FAILED)
		return NULL;
	struct chunk *expected = NULL;
	if (atomic_compare_exchange_strong(&chunks[i], &expected, fresh))
		return fresh;
	munmap(fresh, sizeof(struct chunk)); /* another thread made it first */
	return expected;
}

struct natt_entry *natt_entry_alloc(void)
{
	for (unsigned i = 0; i < MAX_CHUNKS; i++) {
		struct chunk *c = chunk_at(i);
		if (!c)
			return NULL;
		uint64_t used = atomic_load(&c->used);
		while (~used) {
			unsigned bit = (unsigned)__builtin_ctzll(~used);
			if (atomic_compare_exchange_weak(&c->used, &used, used | (UINT64_C(1) << bit))) {
				memset(&c->entries[bit], 0, sizeof(c->entries[bit]));
				return &c->entries[bit];
			}
		}
	}
	return NULL;
}

void natt_entry_free(struct natt_entry *e)
{
	if (!e)
		return;
	for (unsigned i = 0; i < MAX_CHUNKS; i++) {
		struct chunk *c = atomic_load(&chunks[i]);
		if (!c)
			return; /* chunks are made in order: not one of ours */
		if (e >= c->entries && e < c->entries + PER_CHUNK) {
			atomic_fetch_and(&c->used, ~(UINT64_C(1) << (unsigned)(e - c->entries)));
			return;
		}
	}
}

#endif
