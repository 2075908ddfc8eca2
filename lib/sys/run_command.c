#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sys/run_command.h"

extern char **environ;

#define CHILD_STACK (64 * 1024)

/* Every child started and not yet reaped: however many run at once, each is reaped (an untracked one
 * would stay a zombie of the program's). Manager thread only. */
static pid_t *children;
static size_t child_count, child_cap;

/* Room for one more child: reaps the finished ones first, grows the list when they all still run. */
static int make_room(void)
{
	natt_spawn_reap();
	if (child_count < child_cap)
		return 0;
	size_t cap = child_cap ? child_cap * 2 : 16;
	pid_t *grown = realloc(children, cap * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	children = grown;
	child_cap = cap;
	return 0;
}

struct spawn_args {
	const char *command;
	char **envp;
	char *exec_stack; /* top of the stack the command's own process starts on */
};

/* Runs in the command's process (memory shared until execve): a clean mask, then exec. */
static int exec_main(void *arg)
{
	struct spawn_args *args = arg;
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	char *argv[] = { "sh", "-c", (char *)args->command, NULL };
	execve("/bin/sh", argv, args->envp);
	return 127; /* (clone's fn returning ends the process: no noreturn call on a stack ASan does not know) */
}

/* Runs in our child, sharing our memory (CLONE_VM|CLONE_VFORK): starts the command's process and
 * ends. execve() gives a process the exit signal SIGCHLD again, so the command must not be our child:
 * this one exits without exec (no signal to the program, reaped by us with __WCLONE), and the command,
 * orphaned, goes to init (or the nearest subreaper), never to the program's wait(). */
static int child_main(void *arg)
{
	struct spawn_args *args = arg;
	/* We come from the manager thread, which blocks every signal, so no handler of the program's
	 * can run here while memory is shared. Like posix_spawn: handlers back to default (the table is
	 * this process's own: no CLONE_SIGHAND). */
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN) {
			sa.sa_handler = SIG_DFL;
			sa.sa_flags = 0;
			sigaction(sig, &sa, NULL);
		}
	}
	/* CLONE_VFORK: back here once the command has exec'd, so the stacks may be freed after us. */
	pid_t pid = clone(exec_main, args->exec_stack, CLONE_VM | CLONE_VFORK, args);
	return pid < 0 ? 127 : 0;
}

int natt_spawn_shell(const char *command, char *const extra_env[])
{
	size_t base = 0, extra = 0;
	while (environ && environ[base])
		base++;
	while (extra_env && extra_env[extra])
		extra++;
	int room = make_room();
	if (room < 0)
		return room; /* never a child we could not reap */
	char **envp = calloc(base + extra + 1, sizeof(*envp));
	char *stack = malloc(2 * CHILD_STACK); /* ours, then the command's */
	if (!envp || !stack) {
		free(envp);
		free(stack);
		return -ENOMEM;
	}
	size_t n = 0;
	for (size_t i = 0; i < extra; i++)
		envp[n++] = extra_env[i];
	for (size_t i = 0; i < base; i++) {
		/* The command must not inherit our preload (it would publish its own sockets) nor override
		 * the entries we add. */
		if (!strncmp(environ[i], "LD_PRELOAD=", 11))
			continue;
		bool shadowed = false;
		for (size_t j = 0; j < extra && !shadowed; j++) {
			const char *eq = strchr(extra_env[j], '=');
			size_t len = eq ? (size_t)(eq - extra_env[j]) + 1 : strlen(extra_env[j]);
			shadowed = !strncmp(environ[i], extra_env[j], len);
		}
		if (!shadowed)
			envp[n++] = environ[i];
	}
	envp[n] = NULL;
	struct spawn_args args = { command, envp, stack + 2 * CHILD_STACK };
	/* No SIGCHLD in the flags: exit signal 0. */
	pid_t pid = clone(child_main, stack + CHILD_STACK, CLONE_VM | CLONE_VFORK, &args);
	int rc = pid < 0 ? -errno : pid;
	free(envp);
	free(stack);
	if (pid > 0)
		children[child_count++] = pid;
	return rc;
}

int natt_spawn_reap(void)
{
	size_t kept = 0;
	for (size_t i = 0; i < child_count; i++) {
		int status;
		pid_t rc = waitpid(children[i], &status, WNOHANG | __WALL);
		if (rc != children[i] && !(rc < 0 && errno == ECHILD))
			children[kept++] = children[i];
	}
	child_count = kept;
	return (int)kept;
}
