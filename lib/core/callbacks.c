/* The library's listener callbacks (natt/listener.h): the manager runs one at a time, and a stop
 * waits for a call under way, so that no callback runs on a listener that is gone. */
#include <stdbool.h>
#include <stddef.h>

#include "core/engine_internal.h"
#include "core/entry_pool.h"

/* The entry whose callback the manager is running, or NULL, and the process it runs in (a child forked
 * meanwhile has no such call under way). Guarded by the engine lock. */
static struct {
	struct natt_entry *calling;
	pid_t calling_pid;
} C;

bool natt_engine_callback_begin(struct natt_entry *e, natt_change_fn *on_change, void **ctx,
                                struct natt_listener **listener)
{
	natt_engine_lock();
	*on_change = e->on_change;
	*ctx = e->ctx;
	*listener = e->listener;
	if (*on_change) {
		C.calling = e;
		C.calling_pid = natt_self_pid();
	}
	natt_engine_unlock();
	return *on_change != NULL;
}

void natt_engine_callback_end(void)
{
	natt_engine_lock();
	C.calling = NULL;
	natt_engine_broadcast();
	natt_engine_unlock();
}

void natt_engine_release(struct natt_entry *e)
{
	natt_engine_lock();
	e->on_change = NULL;
	e->ctx = NULL;
	while (C.calling == e && C.calling_pid == natt_self_pid())
		natt_engine_wait_changed();
	/* retire_entry decides under this lock whether the entry is still owned: once it has run, the
	 * entry is ours to free; before, an entry without listener is the manager's to free. */
	bool retired = atomic_load(&e->retired);
	if (!retired)
		e->listener = NULL;
	natt_engine_unlock();
	if (retired)
		natt_entry_free(e);
}
