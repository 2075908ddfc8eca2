/* The real functions, found with dlsym(RTLD_NEXT): the one place the shim finds libc's symbols. Each
 * is found at its first call (a program's start pays for no lookup it may never need), and those a
 * signal handler may call all at once before the program installs its first handler (signal.c):
 * dlsym() may allocate. */
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <spawn.h>
#include <errno.h>
#include <stdarg.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "shim.h"

#define REAL(name) real_##name
/* (Among the hot data: a program's first call of each hook writes its pointer, and a page of the
 * library's own would be one more page fault for it.) */
#define DECLARE_REAL(ret, name, ...) static ret (*REAL(name))(__VA_ARGS__) NATTSHIM_HOT_DATA

DECLARE_REAL(int, bind, int, const struct sockaddr *, socklen_t);
DECLARE_REAL(int, connect, int, const struct sockaddr *, socklen_t);
DECLARE_REAL(int, listen, int, int);
DECLARE_REAL(int, close, int);
DECLARE_REAL(int, close_range, unsigned, unsigned, int);
DECLARE_REAL(void, closefrom, int);
DECLARE_REAL(int, dup, int);
DECLARE_REAL(int, dup2, int, int);
DECLARE_REAL(int, dup3, int, int, int);
DECLARE_REAL(int, fcntl, int, int, ...);
DECLARE_REAL(int, fcntl64, int, int, ...);
DECLARE_REAL(int, sigaction, int, const struct sigaction *, struct sigaction *);
DECLARE_REAL(int, raise, int);
DECLARE_REAL(int, kill, pid_t, int);
DECLARE_REAL(int, socket, int, int, int);
DECLARE_REAL(int, fclose, FILE *);
DECLARE_REAL(pid_t, fork, void);
DECLARE_REAL(int, daemon, int, int);
DECLARE_REAL(int, execve, const char *, char *const[], char *const[]);
DECLARE_REAL(int, execv, const char *, char *const[]);
DECLARE_REAL(int, execvp, const char *, char *const[]);
DECLARE_REAL(int, execvpe, const char *, char *const[], char *const[]);
DECLARE_REAL(int, fexecve, int, char *const[], char *const[]);
DECLARE_REAL(int, posix_spawn, pid_t *, const char *, const posix_spawn_file_actions_t *,
             const posix_spawnattr_t *, char *const[], char *const[]);
DECLARE_REAL(int, posix_spawnp, pid_t *, const char *, const posix_spawn_file_actions_t *,
             const posix_spawnattr_t *, char *const[], char *const[]);
typedef void (*exit_fn)(int) __attribute__((noreturn));
static exit_fn REAL(_exit) NATTSHIM_HOT_DATA, REAL(_Exit) NATTSHIM_HOT_DATA;

/* dlsym could in theory hand back our own symbol (a broken link order); calling it would recurse
 * forever, so such a result counts as "not found". (Told by the address: within this library's image,
 * from its ELF header to the end of its data. dladdr() would tell the same by a walk over libc's whole
 * symbol table, 10 µs of every program's first bind(); the address of our own exported function would
 * cost a symbol look-up at every program's start.) */
extern const char __ehdr_start[] __attribute__((visibility("hidden")));
extern const char _end[] __attribute__((visibility("hidden")));

static void *lookup(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	if ((uintptr_t)p >= (uintptr_t)__ehdr_start && (uintptr_t)p < (uintptr_t)_end)
		return NULL;
	return p;
}

/* Threads may find the same function at once: the pointers are loaded and stored whole. */
#define LOADED(name) __atomic_load_n(&REAL(name), __ATOMIC_RELAXED)

/* A function's first call finds it here, off the hot path, so that a hook loads the pointer once on
 * its way on to libc (the lookup inlined made it load the pointer thrice). dlsym() may set errno. */
__attribute__((noinline, cold)) static void *resolve_now(const char *name)
{
	int saved_errno = errno;
	void *found = lookup(name);
	errno = saved_errno;
	return found;
}

#define REAL_FN(name)                                                                             \
	__extension__({                                                                           \
		__typeof__(REAL(name)) fn_ = LOADED(name);                                        \
		if (__builtin_expect(fn_ == NULL, 0)) {                                           \
			fn_ = (__typeof__(fn_))resolve_now(#name);                                \
			__atomic_store_n(&REAL(name), fn_, __ATOMIC_RELAXED);                     \
		}                                                                                 \
		fn_;                                                                              \
	})
#define RESOLVE(name) ((void)REAL_FN(name))

void nattshim_resolve_libc(void)
{
	RESOLVE(_exit);
	RESOLVE(_Exit);
	RESOLVE(bind);
	RESOLVE(connect);
	RESOLVE(listen);
	RESOLVE(close);
	RESOLVE(close_range);
	RESOLVE(closefrom);
	RESOLVE(dup);
	RESOLVE(dup2);
	RESOLVE(dup3);
	RESOLVE(fcntl);
	RESOLVE(fcntl64);
	RESOLVE(sigaction);
	RESOLVE(raise);
	RESOLVE(kill);
	RESOLVE(socket);
	RESOLVE(fclose);
	RESOLVE(fork);
	RESOLVE(daemon);
	RESOLVE(execve); /* (async-signal-safe: crash reporters exec from handlers) */
	RESOLVE(execv);
	RESOLVE(fexecve);
}

/* Where libc lacks a function (close_range before glibc 2.34), the system call does the same. */
int libc_bind(int fd, const struct sockaddr *addr, socklen_t len)
{
	__typeof__(REAL(bind)) fn = REAL_FN(bind);
	return fn ? fn(fd, addr, len) : (int)syscall(SYS_bind, fd, addr, len);
}

NATTSHIM_HOT_TEXT int libc_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	__typeof__(REAL(connect)) fn = REAL_FN(connect);
	return fn ? fn(fd, addr, len) : (int)syscall(SYS_connect, fd, addr, len);
}

int libc_listen(int fd, int backlog)
{
	__typeof__(REAL(listen)) fn = REAL_FN(listen);
	return fn ? fn(fd, backlog) : (int)syscall(SYS_listen, fd, backlog);
}

NATTSHIM_HOT_TEXT int libc_close(int fd)
{
	__typeof__(REAL(close)) fn = REAL_FN(close);
	return fn ? fn(fd) : (int)syscall(SYS_close, fd);
}

#if defined(__SANITIZE_THREAD__)
/* ThreadSanitizer (GCC 12) does not intercept close_range(): the descriptors it ends would still be
 * open in its model, and their numbers' reuse by other threads reported as races. Under it, one
 * close() per open descriptor of the range instead (same effect, seen by TSan). */
#include <dirent.h>
#include <stdlib.h>

static int close_each(unsigned first, unsigned last)
{
	DIR *dir = opendir("/proc/self/fd");
	if (!dir)
		return -1;
	int fds[1024], n = 0, skip = dirfd(dir);
	struct dirent *d;
	while ((d = readdir(dir)) && n < 1024) {
		char *end;
		long fd = strtol(d->d_name, &end, 10);
		if (!*end && fd != skip && (unsigned long)fd >= first && (unsigned long)fd <= last)
			fds[n++] = (int)fd;
	}
	closedir(dir);
	for (int i = 0; i < n; i++)
		libc_close(fds[i]);
	return 0;
}
#endif

int libc_close_range(unsigned first, unsigned last, int flags)
{
#if defined(__SANITIZE_THREAD__)
	if (!(flags & CLOSE_RANGE_CLOEXEC))
		return close_each(first, last);
#endif
	__typeof__(REAL(close_range)) fn = REAL_FN(close_range);
	return fn ? fn(first, last, flags) : (int)syscall(SYS_close_range, first, last, flags);
}

void libc_closefrom(int lowfd)
{
	RESOLVE(closefrom);
	if (LOADED(closefrom))
		LOADED(closefrom)(lowfd);
	else
		syscall(SYS_close_range, (unsigned)lowfd, ~0u, 0);
}

NATTSHIM_HOT_TEXT int libc_dup(int fd)
{
	__typeof__(REAL(dup)) fn = REAL_FN(dup);
	return fn ? fn(fd) : (int)syscall(SYS_dup, fd);
}

NATTSHIM_HOT_TEXT int libc_dup2(int oldfd, int newfd)
{
	__typeof__(REAL(dup2)) fn = REAL_FN(dup2);
	return fn ? fn(oldfd, newfd) : (int)syscall(SYS_dup2, oldfd, newfd);
}

NATTSHIM_HOT_TEXT int libc_dup3(int oldfd, int newfd, int flags)
{
	__typeof__(REAL(dup3)) fn = REAL_FN(dup3);
	return fn ? fn(oldfd, newfd, flags) : (int)syscall(SYS_dup3, oldfd, newfd, flags);
}

/* glibc reads fcntl's third argument as a pointer-sized value whatever cmd is; so do we. */
NATTSHIM_HOT_TEXT int libc_fcntl(int fd, int cmd, void *arg)
{
	__typeof__(REAL(fcntl)) fn = REAL_FN(fcntl);
	return fn ? fn(fd, cmd, arg) : (int)syscall(SYS_fcntl, fd, cmd, arg);
}

NATTSHIM_HOT_TEXT int libc_fcntl64(int fd, int cmd, void *arg)
{
	__typeof__(REAL(fcntl64)) fn = REAL_FN(fcntl64);
	return fn ? fn(fd, cmd, arg) : libc_fcntl(fd, cmd, arg);
}

int libc_sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	RESOLVE(sigaction);
	if (!LOADED(sigaction)) {
		errno = ENOSYS;
		return -1;
	}
	return LOADED(sigaction)(sig, act, old);
}

int libc_raise(int sig)
{
	RESOLVE(raise);
	if (LOADED(raise))
		return LOADED(raise)(sig);
	return (int)syscall(SYS_tgkill, getpid(), gettid(), sig);
}

int libc_kill(pid_t pid, int sig)
{
	__typeof__(REAL(kill)) fn = REAL_FN(kill);
	return fn ? fn(pid, sig) : (int)syscall(SYS_kill, pid, sig);
}

NATTSHIM_HOT_TEXT int libc_socket(int domain, int type, int protocol)
{
	__typeof__(REAL(socket)) fn = REAL_FN(socket);
	return fn ? fn(domain, type, protocol) : (int)syscall(SYS_socket, domain, type, protocol);
}

int libc_fclose(FILE *stream)
{
	RESOLVE(fclose);
	if (LOADED(fclose))
		return LOADED(fclose)(stream);
	errno = ENOSYS; /* no libc fclose at all: nothing sensible to fall back on */
	return EOF;
}

pid_t libc_fork(void)
{
	RESOLVE(fork);
	if (LOADED(fork))
		return LOADED(fork)();
	errno = ENOSYS;
	return -1;
}

int libc_daemon(int nochdir, int noclose)
{
	RESOLVE(daemon);
	if (LOADED(daemon))
		return LOADED(daemon)(nochdir, noclose);
	errno = ENOSYS;
	return -1;
}

/* The exec family and posix_spawn: no system call does their work (the p-variants search PATH, spawn
 * is a library function), so without libc's they fail with ENOSYS. */
#define CALL_OR_ENOSYS(name, ...)                                                                   \
	do {                                                                                       \
		RESOLVE(name);                                                                     \
		if (!LOADED(name)) {                                                                 \
			errno = ENOSYS;                                                            \
			return -1;                                                                 \
		}                                                                                  \
		return LOADED(name)(__VA_ARGS__);                                                    \
	} while (0)

int libc_execve(const char *path, char *const argv[], char *const envp[])
{
	CALL_OR_ENOSYS(execve, path, argv, envp);
}

int libc_execv(const char *path, char *const argv[])
{
	CALL_OR_ENOSYS(execv, path, argv);
}

int libc_execvp(const char *file, char *const argv[])
{
	CALL_OR_ENOSYS(execvp, file, argv);
}

int libc_execvpe(const char *file, char *const argv[], char *const envp[])
{
	CALL_OR_ENOSYS(execvpe, file, argv, envp);
}

int libc_fexecve(int fd, char *const argv[], char *const envp[])
{
	CALL_OR_ENOSYS(fexecve, fd, argv, envp);
}

int libc_posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                     const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	CALL_OR_ENOSYS(posix_spawn, pid, path, actions, attr, argv, envp);
}

int libc_posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                      const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	CALL_OR_ENOSYS(posix_spawnp, pid, file, actions, attr, argv, envp);
}

void libc__exit(int status)
{
	RESOLVE(_exit);
	if (LOADED(_exit))
		LOADED(_exit)(status);
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}

void libc__Exit(int status)
{
	RESOLVE(_Exit);
	if (LOADED(_Exit))
		LOADED(_Exit)(status);
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}
