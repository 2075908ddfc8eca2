/* The observers of the manager's changes: what natt tells the world. The status file (written once
 * per batch of changes, and again later when writing failed), the -v lines, the on-change command
 * (run once per changed summary, after the status file says the same), and the library's listener
 * callbacks. The manager calls them (engine_internal.h: struct natt_observer); they neither decide
 * nor talk to the router. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/engine_internal.h"
#include "core/status_file.h"
#include "natt/net.h"
#include "sys/run_command.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/parse.h"

/* A status file that could not be written is tried again this long after (not at once: the cause,
 * a full disk or a stuck lock holder, rarely goes away in a moment). */
#define STATUS_RETRY_MS 5000
#define MAX_PENDING_SUMMARIES 16

static struct {
	char pending_summaries[MAX_PENDING_SUMMARIES][512]; /* on-change lines waiting for the status file */
	int pending_count;
	int64_t status_retry_ms; /* when to write the status file again after a failure (0: no) */
} T;

static void describe_local(const struct natt_entry *e, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];
	natt_addr_format((const struct sockaddr *)&e->local, addr, sizeof(addr));
	if (e->local.ss_family == AF_INET6)
		snprintf(buf, len, "%s [%s]:%u", natt_protocol_text(e->protocol), addr, natt_entry_local_port(e));
	else
		snprintf(buf, len, "%s %s:%u", natt_protocol_text(e->protocol), addr, natt_entry_local_port(e));
}

/* The one-line summary of e's state: printed with -v and given to the on-change command. A pinhole
 * (IPv6) names the host address it opened; one that is the IPv6 side of a dual-stack socket says so. */
static void describe_state(const struct natt_entry *e, bool retired, char *line, size_t len)
{
	char local[96], ext[INET6_ADDRSTRLEN + 2];
	describe_local(e, local, sizeof(local));
	const char *tech = natt_technique_name(e->technique);
	const char *kind = e->pinhole ? ", IPv6 pinhole" : "";
	if (e->pinhole) {
		char text[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &e->pinhole_address, text, sizeof(text));
		snprintf(ext, sizeof(ext), "[%s]", text);
	} else {
		inet_ntop(AF_INET, &e->external, ext, sizeof(ext));
	}
	bool side = e->pinhole && e->dual_stack; /* the IPv6 side of a dual-stack socket */
	if (retired && e->state == NATT_STATE_PUBLISHED)
		snprintf(line, len, "%s retired (was %s:%u, %s%s)", local, ext, e->external_port, tech, kind);
	else if (retired)
		snprintf(line, len, "%s%s retired", local, side ? " IPv6 pinhole" : "");
	else if (e->state == NATT_STATE_PUBLISHED)
		snprintf(line, len, "%s published as %s:%u (%s%s%s)", local, ext, e->external_port, tech, kind,
		         e->double_nat ? ", double NAT: not reachable from the internet" : "");
	else if (side)
		snprintf(line, len, "%s no IPv6 pinhole: %s", local, e->error);
	else if (e->state == NATT_STATE_LOCAL_ONLY)
		snprintf(line, len, "%s local only: %s", local, e->error);
	else
		snprintf(line, len, "%s not published: %s", local, e->error);
}

/* Prints the -v line and queues the on-change command when e's summary changed. */
/* The IPv6 side of a dual-stack socket is told when it opened, closed or failed at the router; not
 * on a host with no global IPv6 address, where every [::] socket would say so (the status file does),
 * unless a pinhole was said open before. */
static bool side_untold(const struct natt_entry *e, bool retired)
{
	return e->pinhole && e->dual_stack && e->state != NATT_STATE_PUBLISHED && !e->last_said &&
	       (retired || e->state == NATT_STATE_LOCAL_ONLY);
}

/* FNV-1a, never 0 (an entry's "nothing told yet"): a line is kept as this, not whole (1000 sockets:
 * half a megabyte less). */
static uint64_t line_hash(const char *line)
{
	uint64_t h = 0xcbf29ce484222325u;
	for (const unsigned char *c = (const unsigned char *)line; *c; c++)
		h = (h ^ *c) * 0x100000001b3u;
	return h ? h : 1;
}

static void announce(struct natt_entry *e, bool retired)
{
	if (side_untold(e, retired))
		return;
	char line[512];
	describe_state(e, retired, line, sizeof(line));
	uint64_t said = line_hash(line);
	if (!retired && said == e->last_said)
		return;
	e->last_said = said;
	const struct natt_config *cfg = natt_engine_config();
	if (cfg->verbose)
		natt_say("%s", line);
	if (cfg->on_change[0]) {
		if (T.pending_count < MAX_PENDING_SUMMARIES)
			snprintf(T.pending_summaries[T.pending_count++], sizeof(T.pending_summaries[0]), "%s", line);
	}
}

/* Runs the on-change command once per queued summary, after the status file says the same. */
static void run_on_change(void)
{
	natt_spawn_reap();
	for (int i = 0; i < T.pending_count; i++) {
		char summary[600], status[4200];
		snprintf(summary, sizeof(summary), "NATT_SUMMARY=%s", T.pending_summaries[i]);
		snprintf(status, sizeof(status), "NATT_STATUS_FILE=%s", natt_engine_config()->status_path);
		char *env[] = { summary, status, NULL };
		int rc = natt_spawn_shell(natt_engine_config()->on_change, env);
		if (rc < 0)
			natt_warn("cannot run the on-change command: %s", natt_strerror(rc));
	}
	T.pending_count = 0;
}

static void notify_listener(struct natt_entry *e)
{
	/* The callback is read under the lock and marked running: a stop detaches it and waits for the
	 * call to return (natt_engine_release), so it never runs on a listener that is gone. */
	natt_change_fn on_change;
	void *ctx;
	struct natt_listener *listener;
	if (e->pinhole && e->dual_stack) {
		/* The IPv6 side of a dual-stack socket: its listener hears of both, when the side's public
		 * assignment came or went. */
		bool published = e->state == NATT_STATE_PUBLISHED;
		if (!published && !e->side_told_published)
			return;
		e->side_told_published = published;
		natt_engine_lock();
		struct natt_entry *owner = e->pinhole_of;
		natt_engine_unlock();
		if (!owner)
			return;
		e = owner;
	}
	if (!natt_engine_callback_begin(e, &on_change, &ctx, &listener))
		return;
	struct natt_assignment list[64];
	size_t n = natt_engine_assignments(e, list, 64);
	on_change(listener, list, n < 64 ? n : 64, ctx);
	natt_engine_callback_end();
}

static void write_status(void)
{
	const struct natt_config *cfg = natt_engine_config();
	if (cfg->status_path[0]) {
		int rc = natt_status_write(cfg->status_path, natt_manager_entries(), natt_entry_assignments_among,
		                           natt_router_gateway());
		T.status_retry_ms = 0;
		if (rc == -EPERM) {
			/* A directory refused as unsafe (said once, with the reason): no status file, no retries;
			 * the next change tries again. */
		} else if (rc < 0) {
			natt_warn("cannot write the status file %s: %s", cfg->status_path, natt_strerror(rc));
			T.status_retry_ms = natt_now_ms() + STATUS_RETRY_MS;
		}
	}
	run_on_change();
}

static void report_changed(struct natt_entry *e)
{
	announce(e, false);
}

static void report_retired(struct natt_entry *e)
{
	announce(e, true);
}

static int64_t report_retry_due(void)
{
	return T.status_retry_ms ? T.status_retry_ms : NATT_DUE_NEVER;
}

static void report_after_fork_child(void)
{
	T.pending_count = 0;
	T.status_retry_ms = 0;
}

static const struct natt_observer report_observer = {
	.changed = report_changed,
	.retired = report_retired,
	.batch_done = write_status,
	.retry_due_ms = report_retry_due,
	.after_fork_child = report_after_fork_child,
};

static const struct natt_observer listener_observer = {
	.changed = notify_listener,
};

const struct natt_observer *const natt_observers[] = { &report_observer, &listener_observer };
const size_t natt_observer_count = sizeof(natt_observers) / sizeof(natt_observers[0]);
