/* The engine's half of the preload library (see shim/engine_link.h): the one function it exports. */
#include <stddef.h>

#include "../engine_link.h"
#include "util/parse.h"

static const struct natt_engine_ops engine_ops = {
	.version = NATT_PRELOAD_LINK_VERSION,
	.size = sizeof(struct natt_engine_ops),
	.publish = natt_engine_publish,
	.publish_unexamined = natt_engine_publish_unexamined,
	.retire = natt_engine_retire,
	.adopt = natt_engine_adopt,
	.watch_pid = natt_engine_watch_pid,
	.note_shared = natt_engine_note_shared,
	.fd_moved = natt_engine_fd_moved,
	.flush = natt_engine_flush,
	.shutdown = natt_engine_shutdown,
	.shutdown_from_handler = natt_engine_shutdown_from_handler,
	.request_signal_exit = natt_engine_request_signal_exit,
	.running = natt_engine_running,
	.running_here = natt_engine_running_here,
	.start_if_wanted = natt_engine_start_if_wanted,
	.atfork_prepare = natt_engine_atfork_prepare,
	.atfork_parent = natt_engine_atfork_parent,
	.atfork_child = natt_engine_atfork_child,
	.config = natt_engine_config,
	.port_set_contains = natt_port_set_contains,
	.offer_thread = natt_engine_offer_thread,
	.manage_here = natt_engine_manage_here,
};

__attribute__((visibility("default"))) const struct natt_engine_ops *
natt_preload_engine_attach(const struct natt_shim_side *side);

/* Called once, by the hooks' library, right after dlopen(). NULL when the two parts come from
 * different builds. */
const struct natt_engine_ops *natt_preload_engine_attach(const struct natt_shim_side *side)
{
	if (!side || side->version != NATT_PRELOAD_LINK_VERSION || side->size != sizeof(*side))
		return NULL;
	natt_engine_fd_hook = side->fd_hook;
	natt_engine_examine_hook = side->examine;
	natt_engine_in_signal_handler = side->in_signal_handler;
	natt_engine_started_hook = side->started;
	natt_engine_fork_hooked = true; /* the hooks' fork handlers call the engine's */
	return &engine_ops;
}
