/* The high-level API: a listener is an engine entry owned by the caller.
 *
 * Lifetime: natt_listener_stop detaches the callback (waiting for a call under way) before it returns,
 * whatever its timeout, and leaves an entry the manager still uses to the manager, which frees it. The
 * manager thread of a process that uses the library ends with its last listener, and a program that
 * exits with listeners still published has their mappings deleted at exit (bounded, as the shim's). */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/clock.h"
#include "api/listener_internal.h"
#include "core/engine.h"
#include "natt/listener.h"
#include "natt/net.h"
#include "natt/persistent.h"

/* Time the manager gets at exit to delete the mappings of listeners nobody stopped (as the shim's). */
#define EXIT_CLEANUP_MS 3000
#define DEFAULT_STOP_MS 5000

struct natt_listener {
	struct natt_entry *entry;
};

/* Listeners published and not stopped, changed under listeners_lock, which serializes publishing with
 * ending the manager when the count falls to 0: a publish never hands its entry to a manager that is
 * ending. (Atomic for the exit handler, which must not wait for the lock.) In the shim, which links
 * this file too, no listener ever exists: the count stays 0. */
static pthread_mutex_t listeners_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_size_t live_listeners;

static void apply_options(struct natt_entry *entry, void *arg)
{
	const struct natt_persistent_options *o = arg;
	entry->lifetime = o->lifetime;
	entry->refresh_interval = o->refresh_interval;
	entry->requested_port = o->requested_port;
	if (o->technique == NATT_TECH_NATPMP || o->technique == NATT_TECH_PCP || o->technique == NATT_TECH_UPNP) {
		entry->order[0] = o->technique;
		entry->order_count = 1;
	} else {
		entry->order[0] = NATT_TECH_UPNP;
		entry->order[1] = NATT_TECH_PCP;
		entry->order[2] = NATT_TECH_NATPMP;
		entry->order_count = 3;
	}
}

struct handing {
	struct natt_listener *listener;
	struct natt_listener **out;
	const struct natt_persistent_options *options;
};

/* Before the manager can see the entry (and under listeners_lock): its first callback may come before
 * natt_engine_publish_with() returns, and may use the listener, or the handle it was given to, at once;
 * an exit meanwhile must count it. */
static void hand_over(struct natt_entry *entry, void *arg)
{
	const struct handing *h = arg;
	h->listener->entry = entry;
	*h->out = h->listener;
	live_listeners++;
	if (h->options)
		apply_options(entry, (void *)h->options);
}

static int publish(enum natt_protocol protocol, const struct sockaddr_storage *local, bool dual_stack,
                   uint64_t socket_id, natt_change_fn on_change, void *ctx, struct natt_listener **out,
                   const struct natt_persistent_options *options)
{
	if (natt_addr_is_loopback((const struct sockaddr *)local))
		return -EADDRNOTAVAIL;
	/* A library user gets the NATT_* settings, but a status file only when it names one. */
	struct natt_config cfg;
	natt_config_from_env(&cfg);
	const char *status = secure_getenv("NATT_STATUS_FILE");
	if (!status || !status[0])
		cfg.status_path[0] = '\0';
	natt_engine_configure(&cfg);
	struct natt_listener *listener = calloc(1, sizeof(*listener));
	if (!listener)
		return -ENOMEM;
	struct handing handing = { listener, out, options };
	pthread_mutex_lock(&listeners_lock);
	natt_engine_prepare_start();
	struct natt_entry *entry = natt_engine_publish_with(protocol, local, dual_stack, socket_id, on_change, ctx,
	                                                    listener, hand_over, &handing);
	pthread_mutex_unlock(&listeners_lock);
	if (!entry) {
		free(listener); /* (never handed over: it fails only before that) */
		return -ENOMEM;
	}
	return 0;
}

static uint16_t port_of(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET ? ntohs(((const struct sockaddr_in *)ss)->sin_port)
	                                : ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

NATT_API int natt_listener_publish_socket(int fd, natt_change_fn on_change, void *ctx, struct natt_listener **out)
{
	if (!out)
		return -EINVAL;
	int type = 0;
	socklen_t len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return -errno; /* -EBADF, -ENOTSOCK */
	struct sockaddr_storage local;
	len = sizeof(local);
	if (getsockname(fd, (struct sockaddr *)&local, &len) < 0)
		return -errno;
	if ((local.ss_family != AF_INET && local.ss_family != AF_INET6) || port_of(&local) == 0)
		return -EINVAL;
	enum natt_protocol protocol;
	if (type == SOCK_STREAM) {
		/* A TCP socket that does not listen cannot be reached: nothing to publish. */
		int listening = 0;
		len = sizeof(listening);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening)
			return -EINVAL;
		protocol = NATT_TCP;
	} else if (type == SOCK_DGRAM) {
		protocol = NATT_UDP;
	} else {
		return -EINVAL;
	}
	bool dual_stack = false;
	if (local.ss_family == AF_INET6 && natt_addr_is_wildcard((const struct sockaddr *)&local)) {
		int v6only = 1;
		len = sizeof(v6only);
		if (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len) == 0)
			dual_stack = !v6only;
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	return publish(protocol, &local, dual_stack, (uint64_t)st.st_ino, on_change, ctx, out, NULL);
}

NATT_API int natt_listener_publish(enum natt_protocol protocol, const struct sockaddr *local, natt_change_fn on_change,
                                   void *ctx, struct natt_listener **out)
{
	if (!local || !out || (protocol != NATT_TCP && protocol != NATT_UDP))
		return -EINVAL;
	struct sockaddr_storage ss = { 0 };
	if (local->sa_family == AF_INET)
		memcpy(&ss, local, sizeof(struct sockaddr_in));
	else if (local->sa_family == AF_INET6)
		memcpy(&ss, local, sizeof(struct sockaddr_in6));
	else
		return -EINVAL;
	if (port_of(&ss) == 0)
		return -EINVAL;
	/* Without a socket there is no IPV6_V6ONLY to read: [::] means both, as Linux's default. */
	bool dual_stack = ss.ss_family == AF_INET6 && natt_addr_is_wildcard(local);
	return publish(protocol, &ss, dual_stack, 0, on_change, ctx, out, NULL);
}

int natt_listener_publish_persistent(enum natt_protocol protocol, const struct sockaddr *local,
                                     const struct natt_persistent_options *options, natt_change_fn on_change,
                                     void *ctx, struct natt_listener **out)
{
	struct sockaddr_storage ss = { 0 };
	memcpy(&ss, local, sizeof(struct sockaddr_in));
	return publish(protocol, &ss, false, 0, on_change, ctx, out, options);
}

void natt_listener_refresh(struct natt_listener *listener)
{
	natt_engine_refresh(listener->entry);
}

NATT_API size_t natt_listener_assignments(struct natt_listener *listener, struct natt_assignment *list, size_t max)
{
	if (!listener)
		return 0;
	return natt_engine_assignments(listener->entry, list, list ? max : 0);
}

NATT_API int natt_listener_state(struct natt_listener *listener, char *error, size_t len)
{
	if (!listener) {
		if (error && len)
			error[0] = '\0';
		return -EINVAL;
	}
	return (int)natt_engine_state(listener->entry, error, len);
}

NATT_API int natt_listener_stop(struct natt_listener *listener, int timeout_ms)
{
	if (!listener)
		return -EINVAL;
	if (natt_manager_thread)
		return -EDEADLK; /* from a callback: the manager cannot retire while it waits for us */
	int64_t deadline = natt_now_ms() + (timeout_ms > 0 ? timeout_ms : DEFAULT_STOP_MS);
	natt_engine_retire(listener->entry);
	int rc = natt_engine_wait_retired(listener->entry, (int)(deadline - natt_now_ms()));
	natt_engine_release(listener->entry);
	free(listener);
	pthread_mutex_lock(&listeners_lock);
	if (--live_listeners == 0)
		natt_engine_end((int)(deadline - natt_now_ms()));
	pthread_mutex_unlock(&listeners_lock);
	return rc;
}

/* A program that returns from main or calls exit() with listeners still published: delete their
 * mappings now rather than leave them at the router until the lease runs out. Nothing in the shim
 * (no listener there; its own destructor shuts its engine down). */
__attribute__((destructor)) static void stop_listeners_at_exit(void)
{
	if (atomic_load(&live_listeners))
		natt_engine_shutdown(EXIT_CLEANUP_MS);
}
