/* Storage for the engine's entries. A signal handler may call bind() or listen() (both are
 * async-signal-safe), and the shim then creates an entry: so an entry comes from mmap'd chunks and an
 * atomic bitmap, never from malloc, whose lock the interrupted thread may hold.
 * (Sanitizer builds use calloc/free, so that AddressSanitizer sees every use after free.) */
#ifndef NATT_ENTRY_POOL_H
#define NATT_ENTRY_POOL_H

struct natt_entry;

/* A zeroed entry, or NULL when memory is exhausted. Async-signal-safe, thread-safe. */
struct natt_entry *natt_entry_alloc(void);
/* In the manager thread: makes the memory the next entries will take, if they will need more. */
void natt_entry_pool_prepare(void);
/* Gives e back. Async-signal-safe, thread-safe. */
void natt_entry_free(struct natt_entry *e);

#endif
