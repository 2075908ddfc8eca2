/* Running the user's on-change command from inside someone else's process. Our child is created
 * without an exit signal (clone with no SIGCHLD) and ends without exec once it has started the command
 * (execve would give it SIGCHLD back), so the program's own SIGCHLD handler and wait() calls never see
 * it nor the command; natt reaps every child it started (__WALL), however many run at once. */
#ifndef NATT_RUN_COMMAND_H
#define NATT_RUN_COMMAND_H

/* Runs "/bin/sh -c command" with extra environment entries ("NAME=value", NULL-terminated) added to
 * the process's environment. Does not wait for the command. Returns our child's pid or -errno. */
int natt_spawn_shell(const char *command, char *const extra_env[]);

/* Reaps finished children started by natt_spawn_shell; returns how many are still running. */
int natt_spawn_reap(void);

#endif
