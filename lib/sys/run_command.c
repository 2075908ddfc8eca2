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

#define MAX_CHILDREN 16
#define CHILD_STACK (64 * 1024)

static pid_t children[MAX_CHILDREN];

struct spawn_args {
	const char *command;
	char **envp;
};

/* Runs in the child, sharing our memory until execve (CLONE_VM|CLONE_VFORK): only exec. */
static int child_main(void *arg)
{
	struct spawn_args *args = arg;
	/* We come from the manager thread, which blocks every signal, so no handler of the program's
	 * can run here while memory is shared. Like posix_spawn: handlers back to default, then a clean
	 * mask for the command. */
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN) {
			sa.sa_handler = SIG_DFL;
			sa.sa_flags = 0;
			sigaction(sig, &sa, NULL);
		}
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	char *argv[] = { "sh", "-c", (char *)args->command, NULL };
	execve("/bin/sh", argv, args->envp);
	_exit(127);
}

int natt_spawn_shell(const char *command, char *const extra_env[])
{
	size_t base = 0, extra = 0;
	while (environ && environ[base])
		base++;
	while (extra_env && extra_env[extra])
		extra++;
	char **envp = calloc(base + extra + 1, sizeof(*envp));
	void *stack = malloc(CHILD_STACK);
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
	struct spawn_args args = { command, envp };
	/* No SIGCHLD in the flags: exit signal 0. */
	pid_t pid = clone(child_main, (char *)stack + CHILD_STACK, CLONE_VM | CLONE_VFORK, &args);
	int rc = pid < 0 ? -errno : pid;
	free(envp);
	free(stack);
	if (pid > 0) {
		for (int i = 0; i < MAX_CHILDREN; i++) {
			if (children[i] == 0) {
				children[i] = pid;
				break;
			}
		}
	}
	return rc;
}

int natt_spawn_reap(void)
{
	int running = 0;
	for (int i = 0; i < MAX_CHILDREN; i++) {
		if (children[i] == 0)
			continue;
		int status;
		pid_t rc = waitpid(children[i], &status, WNOHANG | __WCLONE);
		if (rc == children[i] || (rc < 0 && errno == ECHILD))
			children[i] = 0;
		else
			running++;
	}
	return running;
}
