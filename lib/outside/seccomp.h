/* Learning of bind() and listen() the moment a program makes them: a seccomp filter that sends those
 * two system calls (and no other) to a supervisor as user notifications, which lets each one go on
 * unchanged (SECCOMP_USER_NOTIF_FLAG_CONTINUE, Linux 5.5). */
#ifndef NATT_OUTSIDE_SECCOMP_H
#define NATT_OUTSIDE_SECCOMP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Installs the filter on the calling thread (inherited by what it execs and forks) and returns the
 * notification fd (CLOEXEC), or -errno. With CAP_SYS_ADMIN no other change is made; without it the
 * kernel asks for no_new_privs first: only when allow_nnp does this set it (*nnp_set says so), else
 * -EPERM. */
int natt_seccomp_install(bool allow_nnp, bool *nnp_set);

struct natt_seccomp_event {
	pid_t tid;   /* the thread that made the call */
	bool listen; /* listen(); else bind() */
	int fd;      /* its first argument */
};

/* Receives one notification and lets the call go on at once. 1 with *event filled, 0 when the call
 * was interrupted meanwhile (nothing to do), or -errno (-ENOENT... are taken as 0). */
int natt_seccomp_handle(int notify_fd, struct natt_seccomp_event *event);

/* Passing an fd to another process over a unix socket (SCM_RIGHTS), with one byte of data: 0 or
 * -errno; receive returns the fd (or -1 when the message carried none) and the byte in *tag. */
int natt_send_fd(int sock, int fd, char tag);
int natt_recv_fd(int sock, char *tag);

#endif
