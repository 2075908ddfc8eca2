/* Load and exit of the preload library. Loading costs next to nothing: every program of a wrapped
 * tree pays it. The constructor looks for sockets the process was started with, and reads one
 * setting; the real functions are found at their first call, the engine (engine_link.c) and the fork
 * handlers come with the first socket to publish. No thread, file or socket of natt's exists until
 * then. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "shim.h"


/* The fork handlers are registered with the engine's load (registering them at every program's
 * start cost 2% of /bin/true's start here: a page of libc's code and one of its data). Handlers the
 * program registered before then run before natt's in the child, and after natt's prepare. */
static void prepare(void)
{
	if (nattshim_engine_loaded())
		natt_engine_atfork_prepare();
}

static void parent(void)
{
	if (nattshim_engine_loaded())
		natt_engine_atfork_parent();
}

/* The manager's sockets of an exchange under way at the fork are copies the child has no use for. */
static void close_inherited_own_fds(void)
{
	for (unsigned index = 0; index < NATT_FD_CHUNKS; index++) {
		_Atomic(struct natt_entry *) *chunk = atomic_load(nattshim_chunk_ref(index));
		for (unsigned i = 0; chunk && i < NATT_FD_CHUNK; i++) {
			struct natt_entry *mark = atomic_load(&chunk[i]);
			if (mark == NATTSHIM_OURS) {
				atomic_store(&chunk[i], NULL);
				libc_close((int)(index * NATT_FD_CHUNK + i));
			} else if (mark == NATTSHIM_PENDING) {
				/* The parent's manager was checking it at the fork: it may be the program's.
				 * Left open (a CLOEXEC file of natt's at worst), never settled here. */
				atomic_store(&chunk[i], NULL);
			}
		}
	}
}

static void child(void)
{
	nattshim_pid_after_fork();
	nattshim_keep_out_after_fork();
	nattshim_forget_deferred();
	if (!nattshim_engine_loaded())
		return; /* (no entry, no fd of natt's, no signal taken) */
	nattshim_signals_after_fork();
	natt_engine_atfork_child(); /* closes the manager's long-lived fds */
	close_inherited_own_fds();
	nattshim_examine_inherited();
	nattshim_after_fork_child();
}

void nattshim_register_fork_handlers(void)
{
	pthread_atfork(prepare, parent, child);
}

/* The names, compared by hand and kept in a data page the loader wrote anyway: strncmp() and string
 * constants would each be a page (libc's code, our read-only data) /bin/true never touches. */
static char name_ephemeral[] NATTSHIM_HOT_DATA = "NATT_UDP_EPHEMERAL=";
static char name_inherited[] NATTSHIM_HOT_DATA = "NATT_INHERITED=";
static char name_listen_fds[] NATTSHIM_HOT_DATA = "LISTEN_FDS=";
static char name_listen_pid[] NATTSHIM_HOT_DATA = "LISTEN_PID=";

/* entry's value if it is NAME=..., else NULL. */
static const char *value_of(const char *entry, const char *name)
{
	while (*name && *entry == *name)
		entry++, name++;
	return *name ? NULL : entry;
}

static void read_start_env(struct nattshim_start_env *env)
{
	for (char **e = environ; e && *e; e++) {
		const char *entry = *e, *value;
		if (entry[0] == 'N' && entry[1] == 'A') {
			if ((value = value_of(entry, name_ephemeral)))
				env->ephemeral = value;
			else if ((value = value_of(entry, name_inherited)))
				env->inherited = value;
		} else if (entry[0] == 'L' && entry[1] == 'I') {
			if ((value = value_of(entry, name_listen_fds)))
				env->listen_fds = value;
			else if ((value = value_of(entry, name_listen_pid)))
				env->listen_pid = value;
		}
	}
}

__attribute__((constructor)) static void nattshim_load(void)
{
	struct nattshim_start_env env = { NULL, NULL, NULL, NULL };
	read_start_env(&env);
	/* (Written only when set: a page of ours not touched is a page fault not taken. A setuid
	 * program ignores it, as secure_getenv() would.) */
	if (env.ephemeral && strcmp(env.ephemeral, "1") == 0 && !getauxval(AT_SECURE))
		nattshim_publish_ephemeral_udp = true;
	natt_internal_depth++;
	nattshim_adopt_at_start(&env);
	natt_internal_depth--;
}

void nattshim_before_exit(void)
{
	nattshim_engine_before_exit();
	/* natt_engine_running_here() is false in a vfork child, which shares our memory but must not
	 * end our manager. */
	if (natt_engine_running_here()) {
		natt_internal_depth++;
		natt_engine_shutdown(NATTSHIM_EXIT_CLEANUP_MS);
		natt_internal_depth--;
	}
}

__attribute__((destructor)) static void nattshim_unload(void)
{
	/* (else nothing to end, and no page of code touched to know it) */
	if (nattshim_engine_loaded_or_loading())
		nattshim_before_exit();
}
