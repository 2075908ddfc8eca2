/* Clean-up on SIGTERM/SIGINT/SIGHUP left at their default action. The default would kill the process
 * without atexit, leaving the router forwarding to nothing. Where (and only where) the program left such
 * a signal at SIG_DFL, our handler asks the manager to delete the mappings; the manager then restores
 * SIG_DFL and sends the signal again, so the process ends exactly as it would have, same status.
 *
 * The program always wins: sigaction()/signal() on a signal we hold hand it back to the program, and
 * report the previous action as SIG_DFL — what the program would have seen without us. */
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "shim.h"

static const int termination_signals[] = { SIGTERM, SIGINT, SIGHUP };
static atomic_bool held[NSIG];
static atomic_bool taken_once;

static void restore_and_reraise(int sig)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigemptyset(&dfl.sa_mask);
	atomic_store(&held[sig], false);
	libc_sigaction(sig, &dfl, NULL);
	/* The manager thread blocks every signal, so the signal goes to a thread of the program's. */
	libc_kill(getpid(), sig);
}

static void on_termination_signal(int sig)
{
	int saved_errno = errno;
	if (natt_engine_running())
		natt_engine_request_signal_exit(sig, restore_and_reraise);
	else
		restore_and_reraise(sig); /* e.g. a forked child: nothing of its own to clean up */
	errno = saved_errno;
}

void nattshim_take_termination_signals(void)
{
	if (atomic_exchange(&taken_once, true))
		return;
	for (size_t i = 0; i < sizeof(termination_signals) / sizeof(termination_signals[0]); i++) {
		int sig = termination_signals[i];
		struct sigaction current;
		if (libc_sigaction(sig, NULL, &current) < 0 || current.sa_handler != SIG_DFL ||
		    (current.sa_flags & SA_SIGINFO))
			continue;
		struct sigaction ours = { .sa_handler = on_termination_signal, .sa_flags = SA_RESTART };
		sigemptyset(&ours.sa_mask);
		atomic_store(&held[sig], true);
		if (libc_sigaction(sig, &ours, NULL) < 0)
			atomic_store(&held[sig], false);
	}
}

static bool is_held(int sig)
{
	return sig > 0 && sig < NSIG && atomic_load(&held[sig]);
}

static void default_action(struct sigaction *old)
{
	*old = (struct sigaction){ .sa_handler = SIG_DFL };
	sigemptyset(&old->sa_mask);
}

static bool is_termination_signal(int sig)
{
	return sig == SIGTERM || sig == SIGINT || sig == SIGHUP;
}

static bool wants_default(const struct sigaction *act)
{
	return act && act->sa_handler == SIG_DFL && !(act->sa_flags & SA_SIGINFO);
}

/* A program that puts a termination signal back to SIG_DFL, often to re-raise it from its own
 * handler (node does), would end without clean-up: we hold the signal for it again instead. It still
 * sees SIG_DFL whenever it asks. */
static int hold_again(int sig, struct sigaction *old)
{
	struct sigaction ours = { .sa_handler = on_termination_signal, .sa_flags = SA_RESTART };
	sigemptyset(&ours.sa_mask);
	int rc = libc_sigaction(sig, &ours, old);
	if (rc == 0)
		atomic_store(&held[sig], true);
	return rc;
}

NATT_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	/* natt's own --on-change child (lib/spawn.c) resets the handlers it inherited, on our memory */
	if (__builtin_expect(natt_manager_thread, 0))
		return libc_sigaction(sig, act, old);
	if (__builtin_expect(!is_held(sig), 1)) {
		if (atomic_load(&taken_once) && is_termination_signal(sig) && wants_default(act) &&
		    natt_engine_running_here())
			return hold_again(sig, old);
		return libc_sigaction(sig, act, old);
	}
	int rc = 0;
	if (act) {
		rc = libc_sigaction(sig, act, NULL);
		if (rc == 0)
			atomic_store(&held[sig], false);
	}
	if (rc == 0 && old)
		default_action(old);
	return rc;
}

typedef sighandler_t (*signal_fn)(int, sighandler_t);

static sighandler_t hand_back(signal_fn real, int sig, sighandler_t handler)
{
	bool was_held = is_held(sig);
	sighandler_t previous = real(sig, handler);
	if (previous == SIG_ERR)
		return previous;
	if (was_held) {
		atomic_store(&held[sig], false);
		previous = SIG_DFL;
	}
	if (handler == SIG_DFL && is_termination_signal(sig) && atomic_load(&taken_once) &&
	    natt_engine_running_here())
		hold_again(sig, NULL);
	return previous;
}

NATT_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	return hand_back(libc_signal, sig, handler);
}

NATT_EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler)
{
	return hand_back(libc_sysv_signal, sig, handler);
}

NATT_EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler)
{
	return hand_back(libc_bsd_signal, sig, handler);
}

/* raise() and kill() of a termination signal whose action is SIG_DFL by now. Programs that reset
 * their handler on delivery (SA_RESETHAND — node does) and then re-raise from it never call
 * sigaction() again; holding the signal at this last moment gives the manager its chance to delete
 * the mappings before the signal ends the process. */
static void hold_if_default(int sig)
{
	if (!is_termination_signal(sig) || !atomic_load(&taken_once) || !natt_engine_running_here())
		return;
	struct sigaction current;
	if (libc_sigaction(sig, NULL, &current) == 0 && current.sa_handler == SIG_DFL)
		hold_again(sig, NULL);
}

NATT_EXPORT int raise(int sig)
{
	int saved_errno = errno;
	hold_if_default(sig);
	errno = saved_errno;
	return libc_raise(sig);
}

NATT_EXPORT int kill(pid_t pid, int sig)
{
	if (pid == getpid() || pid == 0 || pid == -getpgrp()) {
		int saved_errno = errno;
		hold_if_default(sig);
		errno = saved_errno;
	}
	return libc_kill(pid, sig);
}
