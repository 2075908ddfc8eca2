/* asyncsafe — checks that natt's hooks do only async-signal-safe work where a program may call them
 * in a state where malloc(), setenv() or a lock can deadlock: exec in a forked child of a threaded
 * program, _exit() inside a signal handler.
 *
 *   asyncsafe exec PORT       listens on PORT (a socket that survives exec), forks; the child runs
 *                             execve, execv, execvp in turn (each of /bin/sh -c, failing first, then
 *                             the last one succeeding), all in "strict" mode; prints the shell's line
 *   asyncsafe exit PORT       listens on PORT, prints "listening", waits for a line on stdin, then a
 *                             SIGUSR1 handler calls _exit(7) in strict mode
 *
 * Strict mode, in the thread that set it (linked with -rdynamic, so that its definitions are the ones everybody calls): this
 * program's own malloc, calloc, realloc, free (and the aligned allocators), setenv, unsetenv, putenv and the pthread
 * lock, wait and join functions (which the preloaded library's calls resolve to: an executable's
 * definitions come first) print "UNSAFE name" and end the process with status 99 instead of running.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Per thread: natt's own thread may allocate and lock while the handler waits for it. */
static __thread volatile sig_atomic_t strict;

static void unsafe(const char *name)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "UNSAFE %s\n", name);
	(void)!write(1, line, (size_t)n);
	syscall(SYS_exit_group, 99);
}

#define GUARD(name) \
	do { \
		if (strict) \
			unsafe(name); \
	} while (0)

/* (the build hides symbols by default) */
#define PUBLIC __attribute__((visibility("default")))

/* The whole allocation family, so that every pointer is freed by the allocator it came from (with a
 * sanitizer's runtime preloaded, a free() left to it would meet this malloc's memory). */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);
extern void __libc_free(void *);

PUBLIC void *malloc(size_t n)
{
	GUARD("malloc");
	return __libc_malloc(n);
}
PUBLIC void *calloc(size_t n, size_t m)
{
	GUARD("calloc");
	return __libc_calloc(n, m);
}
PUBLIC void *realloc(void *p, size_t n)
{
	GUARD("realloc");
	return __libc_realloc(p, n);
}
PUBLIC void free(void *p)
{
	GUARD("free");
	__libc_free(p);
}
PUBLIC void *memalign(size_t align, size_t n)
{
	GUARD("memalign");
	return __libc_memalign(align, n);
}
PUBLIC void *aligned_alloc(size_t align, size_t n)
{
	GUARD("aligned_alloc");
	return __libc_memalign(align, n);
}
PUBLIC int posix_memalign(void **out, size_t align, size_t n)
{
	GUARD("posix_memalign");
	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	void *p = __libc_memalign(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}
PUBLIC void *valloc(size_t n)
{
	GUARD("valloc");
	return __libc_valloc(n);
}
PUBLIC void *pvalloc(size_t n)
{
	GUARD("pvalloc");
	return __libc_pvalloc(n);
}

#define FORWARD(ret, name, params, args) \
	PUBLIC ret name params \
	{ \
		GUARD(#name); \
		static ret(*real) params; \
		if (!real) \
			*(void **)&real = dlsym(RTLD_NEXT, #name); \
		return real args; \
	}

FORWARD(int, setenv, (const char *a, const char *b, int c), (a, b, c))
FORWARD(int, unsetenv, (const char *a), (a))
FORWARD(int, putenv, (char *a), (a))
FORWARD(int, pthread_mutex_lock, (pthread_mutex_t *m), (m))
FORWARD(int, pthread_cond_wait, (pthread_cond_t *c, pthread_mutex_t *m), (c, m))
FORWARD(int, pthread_cond_timedwait, (pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t), (c, m, t))
FORWARD(int, pthread_join, (pthread_t t, void **r), (t, r))

static int listen_on(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0); /* no CLOEXEC: it survives exec */
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0) {
		perror("listen");
		exit(1);
	}
	return fd;
}

static void on_usr1(int sig)
{
	(void)sig;
	strict = 1;
	_exit(7);
}

/* Resolves the forwarded functions before strict mode (dlsym may allocate). */
static void resolve_all(void)
{
	setenv("ASYNCSAFE", "1", 1);
	unsetenv("ASYNCSAFE");
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&m);
	pthread_mutex_unlock(&m);
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "exec") && strcmp(argv[1], "exit"))) {
		fprintf(stderr, "usage: asyncsafe exec|exit PORT\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	listen_on(atoi(argv[2]));
	resolve_all();
	if (strcmp(argv[1], "exit") == 0) {
		signal(SIGUSR1, on_usr1);
		printf("listening\n");
		char line[16];
		if (!fgets(line, sizeof(line), stdin))
			return 1;
		raise(SIGUSR1);
		return 1;
	}
	pid_t child = fork();
	if (child == 0) {
		strict = 1;
		char *env[] = { "PATH=/usr/bin:/bin", NULL };
		char *missing[] = { "missing", NULL };
		execve("/nonexistent/asyncsafe", missing, env);
		execv("/nonexistent/asyncsafe", missing);
		execvp("/nonexistent/asyncsafe", missing);
		/* (the shell's own copy of natt takes the marker out of its environment: read the original) */
		char *sh[] = { "sh", "-c", "echo exec-ok $(tr '\\0' '\\n' </proc/$$/environ | grep -c '^NATT_INHERITED=1$')",
			       NULL };
		execvp("sh", sh);
		_exit(98);
	}
	int status;
	waitpid(child, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
