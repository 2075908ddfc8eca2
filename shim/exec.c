/* The exec family: what exec will close is retired first (its mapping would otherwise outlive the
 * socket until the lease ends); if exec fails, it is published again. glibc's execl*() and execvp*()
 * do not call execve() through the PLT, so each is hooked. The l-variants are turned into their
 * v-variants here. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim.h"

static const char inherited_marker[] = "NATT_INHERITED=1";

/* A vfork child shares our memory (self_pid included, which is how it shows): the marker is the
 * parent's business. */
static bool marker_wanted(void)
{
	return nattshim_exec_passes_sockets && getpid() == natt_self_pid();
}

/* envp with the marker added, for one exec. exec may be called between fork() and exec in a threaded
 * program, or from a signal handler, where malloc() and setenv() can deadlock: so the copy lives on the
 * stack, or for a very long environment in pages of its own (mmap is a plain system call). */
#define MARKED_ON_STACK 512

struct marked_env {
	char **env;
	size_t mapped; /* bytes to munmap, 0 when on the stack or unchanged */
};

static void add_marker(char *const envp[], char **copy, size_t n)
{
	for (size_t i = 0; i < n; i++)
		copy[i] = envp[i];
	copy[n] = (char *)inherited_marker;
	copy[n + 1] = NULL;
}

static size_t env_count(char *const envp[])
{
	size_t n = 0;
	while (envp && envp[n])
		n++;
	return n;
}

/* With the marker in stack (MARKED_ON_STACK + 2 entries) or in mapped pages; else envp itself. */
static struct marked_env with_marker(char *const envp[], char **stack)
{
	struct marked_env m = { (char **)envp, 0 };
	if (!marker_wanted() || !envp)
		return m;
	size_t n = env_count(envp);
	if (n <= MARKED_ON_STACK) {
		add_marker(envp, stack, n);
		m.env = stack;
		return m;
	}
	size_t bytes = (n + 2) * sizeof(char *);
	void *pages = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pages == MAP_FAILED)
		return m;
	add_marker(envp, pages, n);
	m.env = pages;
	m.mapped = bytes;
	return m;
}

static void drop_marker(struct marked_env *m)
{
	if (m->mapped)
		munmap(m->env, m->mapped);
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
	char *stack[MARKED_ON_STACK + 2];
	struct marked_env m = with_marker(envp, stack);
	int rc = libc_execve(path, argv, m.env);
	drop_marker(&m);
	return finish(rc);
}

/* The variants that take the process's environment: with the marker, they become their envp forms on
 * a copy of environ (setenv() would allocate). */
NATT_EXPORT int execv(const char *path, char *const argv[])
{
	nattshim_before_exec();
	char *stack[MARKED_ON_STACK + 2];
	struct marked_env m = with_marker(environ, stack);
	int rc = m.env != environ ? libc_execve(path, argv, m.env) : libc_execv(path, argv);
	drop_marker(&m);
	return finish(rc);
}

NATT_EXPORT int execvp(const char *file, char *const argv[])
{
	nattshim_before_exec();
	char *stack[MARKED_ON_STACK + 2];
	struct marked_env m = with_marker(environ, stack);
	int rc = m.env != environ ? libc_execvpe(file, argv, m.env) : libc_execvp(file, argv);
	drop_marker(&m);
	return finish(rc);
}

NATT_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	nattshim_before_exec();
	char *stack[MARKED_ON_STACK + 2];
	struct marked_env m = with_marker(envp, stack);
	int rc = libc_execvpe(file, argv, m.env);
	drop_marker(&m);
	return finish(rc);
}

NATT_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	nattshim_before_exec();
	char *stack[MARKED_ON_STACK + 2];
	struct marked_env m = with_marker(envp, stack);
	int rc = libc_fexecve(fd, argv, m.env);
	drop_marker(&m);
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
	char *stack[MARKED_ON_STACK + 2];
	struct marked_env m = with_marker(envp, stack);
	int rc = real(pid, path, actions, attr, argv, m.env);
	drop_marker(&m);
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
