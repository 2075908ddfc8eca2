/* The preload library comes in two parts. libnattpreload.so, the one LD_PRELOAD names, holds the hooks
 * and the fd table: small, so that every process of a wrapped tree starts nearly as fast as with no
 * preload at all. The engine (manager thread, router protocols, miniupnpc, libnatpmp) is
 * libnattpreload-engine.so beside it, loaded with dlopen() (RTLD_LOCAL: still out of the program's
 * symbol space) when a socket is first to be published. Neither exports more than it must: the
 * engine one function, which trades the two tables below. Both parts are built together. */
#ifndef NATT_SHIM_ENGINE_LINK_H
#define NATT_SHIM_ENGINE_LINK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/engine_shim.h"

#define NATT_PRELOAD_ENGINE_FILE "libnattpreload-engine.so"
#define NATT_PRELOAD_ENGINE_ATTACH "natt_preload_engine_attach"
#define NATT_PRELOAD_LINK_VERSION 1

/* What the engine calls in the hooks' library (see engine_shim.h for each). */
struct natt_shim_side {
	unsigned version;
	unsigned size;
	void (*fd_hook)(int fd, enum natt_fd_mark mark);
	bool (*examine)(struct natt_entry *entry);
	bool (*in_signal_handler)(void);
	void (*started)(void);
};

/* The engine's functions the hooks call (engine.h and engine_shim.h). */
struct natt_engine_ops {
	unsigned version;
	unsigned size;
	struct natt_entry *(*publish)(enum natt_protocol protocol, const struct sockaddr_storage *local,
	                              bool dual_stack, uint64_t socket_id, natt_change_fn on_change, void *ctx,
	                              struct natt_listener *listener);
	struct natt_entry *(*publish_unexamined)(int fd, void (*ready)(struct natt_entry *entry, void *ctx),
	                                         void *ctx);
	void (*retire)(struct natt_entry *entry);
	void (*adopt)(struct natt_entry *entry, pid_t from);
	int (*watch_pid)(pid_t pid, void (*on_exit)(pid_t pid));
	void (*note_shared)(void);
	bool (*fd_moved)(int from, int to);
	void (*flush)(int timeout_ms);
	void (*shutdown)(int timeout_ms);
	void (*shutdown_from_handler)(int timeout_ms);
	void (*request_signal_exit)(int sig, void (*after_cleanup)(int sig));
	bool (*running)(void);
	bool (*running_here)(void);
	void (*start_if_wanted)(void);
	void (*atfork_prepare)(void);
	void (*atfork_parent)(void);
	void (*atfork_child)(void);
	const struct natt_config *(*config)(void);
	bool (*port_set_contains)(const struct natt_port_set *set, uint16_t port);
	void (*offer_thread)(void);
	bool (*manage_here)(void);
};

typedef const struct natt_engine_ops *(*natt_preload_engine_attach_fn)(const struct natt_shim_side *side);

#endif
