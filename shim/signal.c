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
	kill(getpid(), sig);
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

NATT_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (__builtin_expect(!is_held(sig), 1))
		return libc_sigaction(sig, act, old);
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
		return SIG_DFL;
	}
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
