#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/engine.h"
#include "core/engine_internal.h"
#include "core/entry_pool.h"

#if defined(__SANITIZE_ADDRESS__)

/* malloc(), so that the sanitizer sees entries used after they are freed, or lost. */
struct natt_entry *natt_entry_alloc(void)
{
	natt_fork_alloc_enter();
	struct natt_entry *e = calloc(1, sizeof(struct natt_entry));
	natt_fork_alloc_leave();
	return e;
}

void natt_entry_pool_prepare(void)
{
}

void natt_entry_free(struct natt_entry *e)
{
	natt_fork_alloc_enter();
	free(e);
	natt_fork_alloc_leave();
}

#else

#define PER_CHUNK 64
#define MAX_CHUNKS 1024 /* 65536 entries: far more sockets than a process publishes */

struct chunk {
	_Atomic uint64_t used; /* bit i: entries[i] is taken */
	struct natt_entry entries[PER_CHUNK];
};

static struct chunk *_Atomic chunks[MAX_CHUNKS];

/* Memory the manager has written to. An entry spans about a third of a page, and the first write to
 * a page costs far more than the hook that makes an entry (a page fault; even a faulted-in page costs
 * microseconds on a virtual machine with shadow page tables): the manager writes first. */
static bool warm[MAX_CHUNKS];

static struct chunk *chunk_at(unsigned i)
{
	struct chunk *c = atomic_load(&chunks[i]);
	if (c)
		return c;
	/* (Faulted in at once by the manager, which writes it all; a hook faults in only what it uses.) */
	void *fresh = mmap(NULL, sizeof(struct chunk), PROT_READ | PROT_WRITE,
	                   MAP_PRIVATE | MAP_ANONYMOUS | (natt_manager_thread ? MAP_POPULATE : 0), -1, 0);
	if (fresh == MAP_FAILED)
		return NULL;
	if (natt_manager_thread)
		memset(fresh, 0, sizeof(struct chunk)); /* nobody else sees it yet */
	struct chunk *expected = NULL;
	if (atomic_compare_exchange_strong(&chunks[i], &expected, fresh)) {
		if (natt_manager_thread)
			warm[i] = true; /* (read and written by the manager only) */
		return fresh;
	}
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
			/* (Zeroed already: by mmap, or when it was given back.) */
			if (atomic_compare_exchange_weak(&c->used, &used, used | (UINT64_C(1) << bit)))
				return &c->entries[bit];
		}
	}
	return NULL;
}

/* Writes to the free entries of a chunk a hook made: taken for a moment (alloc skips them; the next
 * chunk is warm already), zeroed, given back. */
static void warm_up(unsigned i)
{
	struct chunk *c = atomic_load(&chunks[i]);
	uint64_t taken = ~atomic_fetch_or(&c->used, ~UINT64_C(0));
	for (unsigned bit = 0; bit < PER_CHUNK; bit++)
		if (taken & (UINT64_C(1) << bit))
			memset(&c->entries[bit], 0, sizeof(c->entries[bit]));
	atomic_fetch_and(&c->used, ~taken);
	warm[i] = true;
}

/* In the manager: the chunk the next entries come from is warm, and so is the one after it. */
void natt_entry_pool_prepare(void)
{
	for (unsigned i = 0; i + 1 < MAX_CHUNKS; i++) {
		struct chunk *c = atomic_load(&chunks[i]);
		if (!c)
			return;
		if (~atomic_load(&c->used) == 0)
			continue;
		if (!chunk_at(i + 1))
			return;
		if (!warm[i])
			warm_up(i);
		return;
	}
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
			/* Zeroed here, so that making one (in a hook) writes only the fields it sets. */
			memset(e, 0, sizeof(*e));
			atomic_fetch_and(&c->used, ~(UINT64_C(1) << (unsigned)(e - c->entries)));
			return;
		}
	}
}

#endif
