/* Clean-up on SIGTERM/SIGINT/SIGHUP left at their default action. The default would kill the process
 * without atexit, leaving the router forwarding to nothing. Where (and only where) the program left such
 * a signal at SIG_DFL, our handler asks the manager to delete the mappings; the manager then restores
 * SIG_DFL and sends the signal again, so the process ends exactly as it would have, same status.
 *
 * The program always wins: sigaction()/signal() on a signal we hold hand it back to the program, and
 * report the previous action as SIG_DFL — what the program would have seen without us. */
#include <errno.h>
#include <stdint.h>
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

/* A handler may call close(), dup2() or _exit() (natt's own calls sigaction() and kill()); finding the
 * real ones there would mean dlsym(), which may allocate and takes the loader's lock. All are found
 * before the first handler, the program's or natt's, is in place. */
static void resolve_before_first_handler(void)
{
	static atomic_bool resolved NATTSHIM_HOT_DATA;
	if (atomic_load_explicit(&resolved, memory_order_acquire))
		return;
	nattshim_resolve_libc(); /* (two threads at once: both look, neither installs before it is done) */
	atomic_store_explicit(&resolved, true, memory_order_release);
}

/* In a forked child: its manager looks again (the fork may have come between the parent's taking of
 * the signals and its sigaction() calls; what it did take, the child inherited). */
void nattshim_signals_after_fork(void)
{
	atomic_store(&taken_once, false);
}

void nattshim_take_termination_signals(void)
{
	if (atomic_exchange(&taken_once, true))
		return;
	resolve_before_first_handler(); /* what on_termination_signal calls */
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

/* ---- the program's handlers run through a trampoline, so that natt knows when a thread is inside one:
 * bind() and listen() are async-signal-safe, and a handler may call them; what natt would add (start
 * its thread, take a lock) must then wait until the thread is out of the handler. The program still
 * sees its own handler, flags and mask whenever it asks. */

static struct sigaction program_action[NSIG];

/* Frames (stack addresses) of the trampolines this thread is in, innermost last. */
#define MAX_NESTED_HANDLERS 8
static __thread uintptr_t handler_frames[MAX_NESTED_HANDLERS] __attribute__((tls_model("initial-exec")));
static __thread int handler_depth __attribute__((tls_model("initial-exec")));

static void trampoline(int sig, siginfo_t *info, void *context)
{
	char here;
	int depth = handler_depth;
	if (depth < MAX_NESTED_HANDLERS)
		handler_frames[depth] = (uintptr_t)&here;
	handler_depth = depth + 1;
	struct sigaction action = program_action[sig];
	if (action.sa_flags & SA_SIGINFO)
		action.sa_sigaction(sig, info, context);
	else if (action.sa_handler != SIG_DFL && action.sa_handler != SIG_IGN)
		action.sa_handler(sig);
	handler_depth = depth;
}

bool nattshim_in_signal_handler(void)
{
	char here;
	while (handler_depth > 0) {
		int top = handler_depth - 1;
		/* Below the trampoline's frame: still inside. Above it: the handler was left without
		 * returning (siglongjmp), so it is over. */
		if (top >= MAX_NESTED_HANDLERS || (uintptr_t)&here < handler_frames[top])
			return true;
		handler_depth = top;
	}
	return false;
}

static bool is_function(const struct sigaction *act)
{
	return act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN;
}

static bool is_trampoline(const struct sigaction *kernel)
{
	return (kernel->sa_flags & SA_SIGINFO) && kernel->sa_sigaction == trampoline;
}

/* What the program would see without natt, from what the kernel holds. */
static void program_view(int sig, const struct sigaction *kernel, struct sigaction *view)
{
	if (is_held(sig)) {
		default_action(view);
	} else if (is_trampoline(kernel)) {
		*view = program_action[sig];
		/* the mask and SA_RESTART may have been changed since (siginterrupt) */
		view->sa_mask = kernel->sa_mask;
		view->sa_flags = (kernel->sa_flags & ~SA_SIGINFO) | (program_action[sig].sa_flags & SA_SIGINFO);
	} else {
		*view = *kernel;
	}
}

NATT_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	/* natt's own --on-change child (lib/sys/run_command.c) resets the handlers it inherited, on our memory */
	if (__builtin_expect(natt_manager_thread, 0) || sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP)
		return libc_sigaction(sig, act, old);
	struct sigaction kernel, previous;
	if (libc_sigaction(sig, NULL, &kernel) < 0)
		return -1;
	program_view(sig, &kernel, &previous);
	int rc = 0;
	if (act && is_function(act)) {
		resolve_before_first_handler();
		program_action[sig] = *act;
		struct sigaction ours = *act;
		ours.sa_flags |= SA_SIGINFO;
		ours.sa_sigaction = trampoline;
		if ((rc = libc_sigaction(sig, &ours, NULL)) == 0)
			atomic_store(&held[sig], false);
	} else if (act && atomic_load(&taken_once) && is_termination_signal(sig) && wants_default(act) &&
	           natt_engine_running_here()) {
		rc = hold_again(sig, NULL);
	} else if (act) {
		if ((rc = libc_sigaction(sig, act, NULL)) == 0)
			atomic_store(&held[sig], false);
	}
	if (rc == 0 && old)
		*old = previous;
	return rc;
}

/* signal(), bsd_signal() and sysv_signal() as glibc makes them, through the sigaction() above. */
static sighandler_t install(int sig, sighandler_t handler, int flags, bool block_itself)
{
	struct sigaction act = { .sa_handler = handler, .sa_flags = flags }, old;
	sigemptyset(&act.sa_mask);
	if (block_itself && sig > 0 && sig < NSIG)
		sigaddset(&act.sa_mask, sig);
	if (sigaction(sig, &act, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

NATT_EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	return install(sig, handler, SA_RESTART, true);
}

NATT_EXPORT sighandler_t bsd_signal(int sig, sighandler_t handler)
{
	return install(sig, handler, SA_RESTART, true);
}

NATT_EXPORT sighandler_t sysv_signal(int sig, sighandler_t handler)
{
	return install(sig, handler, SA_RESETHAND | SA_NODEFER, false);
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
	/* (Whom it is for only when it could matter: kill(pid, 0), the liveness check, asks nothing.) */
	if (is_termination_signal(sig) && (pid == 0 || pid == getpid() || pid == -getpgrp())) {
		int saved_errno = errno;
		hold_if_default(sig);
		errno = saved_errno;
	}
	return libc_kill(pid, sig);
}
