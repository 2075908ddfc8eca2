/* The exec family: what exec will close is retired first (its mapping would otherwise outlive the
 * socket until the lease ends); if exec fails, it is published again. glibc's execl*() and execvp*()
 * do not call execve() through the PLT, so each is hooked. The l-variants are turned into their
 * v-variants here. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdlib.h>
#include <unistd.h>

#include "shim.h"

static const char inherited_marker[] = "NATT_INHERITED=1";

/* envp with the marker added when published sockets survive the exec, else envp itself. */
/* A vfork child shares our memory (self_pid included, which is how it shows): no malloc or setenv
 * there. */
static bool marker_wanted(void)
{
	return nattshim_exec_passes_sockets && getpid() == natt_self_pid();
}

static char *const *with_marker(char *const envp[])
{
	if (!marker_wanted() || !envp)
		return envp;
	size_t n = 0;
	while (envp[n])
		n++;
	char **copy = malloc((n + 2) * sizeof(*copy));
	if (!copy)
		return envp;
	for (size_t i = 0; i < n; i++)
		copy[i] = envp[i];
	copy[n] = (char *)inherited_marker;
	copy[n + 1] = NULL;
	return copy;
}

static void drop_marker(char *const *used, char *const envp[])
{
	if (used != envp)
		free((void *)used);
}

static int finish(int rc)
{
	/* exec returns only on failure: the sockets are still ours. */
	int saved_errno = errno;
	nattshim_after_failed_exec();
	errno = saved_errno;
	return rc;
}

NATT_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	/* natt's own --on-change child runs on the manager thread's memory until it execs */
	if (natt_manager_thread)
		return libc_execve(path, argv, envp);
	nattshim_before_exec();
	char *const *env = with_marker(envp);
	int rc = libc_execve(path, argv, env);
	drop_marker(env, envp);
	return finish(rc);
}

/* The variants that take the process's environment: the marker goes there for the exec. */
static bool marker_set;

static void set_marker(void)
{
	marker_set = marker_wanted() && setenv("NATT_INHERITED", "1", 1) == 0;
}

static void clear_marker(void)
{
	if (marker_set)
		unsetenv("NATT_INHERITED");
	marker_set = false;
}

NATT_EXPORT int execv(const char *path, char *const argv[])
{
	nattshim_before_exec();
	set_marker();
	int rc = libc_execv(path, argv);
	clear_marker();
	return finish(rc);
}

NATT_EXPORT int execvp(const char *file, char *const argv[])
{
	nattshim_before_exec();
	set_marker();
	int rc = libc_execvp(file, argv);
	clear_marker();
	return finish(rc);
}

NATT_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	nattshim_before_exec();
	char *const *env = with_marker(envp);
	int rc = libc_execvpe(file, argv, env);
	drop_marker(env, envp);
	return finish(rc);
}

NATT_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	nattshim_before_exec();
	char *const *env = with_marker(envp);
	int rc = libc_fexecve(fd, argv, env);
	drop_marker(env, envp);
	return finish(rc);
}

/* posix_spawn: glibc's child execs without our hooks; the sockets it inherits are shared from now on,
 * and the new image is told to look for them. */
typedef int (*posix_spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                              const posix_spawnattr_t *, char *const[], char *const[]);

static int spawn(posix_spawn_fn real, pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                 const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	nattshim_before_spawn();
	char *const *env = with_marker(envp);
	int rc = real(pid, path, actions, attr, argv, env);
	drop_marker(env, envp);
	return rc;
}

NATT_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                            const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	return spawn(libc_posix_spawn, pid, path, actions, attr, argv, envp);
}

NATT_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                             const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	return spawn(libc_posix_spawnp, pid, file, actions, attr, argv, envp);
}

/* Collects execl-style arguments (up to the NULL) into an array on the stack of the caller's size. */
#define COLLECT_ARGS(arg0, ap, argv, count)                                                        \
	do {                                                                                       \
		va_list copy;                                                                      \
		va_copy(copy, ap);                                                                 \
		count = 1;                                                                         \
		while (va_arg(copy, char *))                                                       \
			count++;                                                                   \
		va_end(copy);                                                                      \
	} while (0)

static void fill_args(const char *arg0, va_list ap, char **argv, size_t count)
{
	argv[0] = (char *)arg0;
	for (size_t i = 1; i < count; i++)
		argv[i] = va_arg(ap, char *);
	argv[count] = NULL;
}

NATT_EXPORT int execl(const char *path, const char *arg0, ...)
{
	va_list ap;
	size_t count;
	va_start(ap, arg0);
	COLLECT_ARGS(arg0, ap, argv, count);
	char *argv[count + 1];
	fill_args(arg0, ap, argv, count);
	va_end(ap);
	return execv(path, argv);
}

NATT_EXPORT int execlp(const char *file, const char *arg0, ...)
{
	va_list ap;
	size_t count;
	va_start(ap, arg0);
	COLLECT_ARGS(arg0, ap, argv, count);
	char *argv[count + 1];
	fill_args(arg0, ap, argv, count);
	va_end(ap);
	return execvp(file, argv);
}

NATT_EXPORT int execle(const char *path, const char *arg0, ...)
{
	va_list ap;
	size_t count;
	va_start(ap, arg0);
	COLLECT_ARGS(arg0, ap, argv, count);
	char *argv[count + 1];
	fill_args(arg0, ap, argv, count);
	char *const *envp = va_arg(ap, char *const *);
	va_end(ap);
	return execve(path, argv, envp);
}
