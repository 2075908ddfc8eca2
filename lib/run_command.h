/* Running the user's on-change command from inside someone else's process. The child is created
 * without an exit signal (clone with no SIGCHLD), meant to keep it from the program's own SIGCHLD
 * handler and wait() calls; once it has run execve() the kernel treats it as an ordinary child
 * (SIGCHLD, not a __WCLONE child: seen on Linux 6.x), so natt reaps it with __WALL, and a program
 * that reaps it first (wait(-1)) only makes natt forget it. */
#ifndef NATT_RUN_COMMAND_H
#define NATT_RUN_COMMAND_H

/* Runs "/bin/sh -c command" with extra environment entries ("NAME=value", NULL-terminated) added to
 * the process's environment. Does not wait. Returns the child's pid or -errno. */
int natt_spawn_shell(const char *command, char *const extra_env[]);

/* Reaps finished children started by natt_spawn_shell; returns how many are still running. */
int natt_spawn_reap(void);

#endif
