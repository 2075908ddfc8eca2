/* Running the user's on-change command from inside someone else's process. The child is created
 * without an exit signal (clone with no SIGCHLD) so the program's own SIGCHLD handler and wait() calls
 * never see it; natt reaps it itself with __WCLONE. */
#ifndef NATT_RUN_COMMAND_H
#define NATT_RUN_COMMAND_H

/* Runs "/bin/sh -c command" with extra environment entries ("NAME=value", NULL-terminated) added to
 * the process's environment. Does not wait. Returns the child's pid or -errno. */
int natt_spawn_shell(const char *command, char *const extra_env[]);

/* Reaps finished children started by natt_spawn_shell; returns how many are still running. */
int natt_spawn_reap(void);

#endif
