/* natt watch: publishing from outside a process. `natt watch --pid PID` watches a process that runs
 * already; `natt watch [--outside] -- COMMAND` is how natt-run starts every program: it execs COMMAND
 * in its own place (same pid, parent, stdio, signals, exit status), with LD_PRELOAD where the loader
 * honours it, else with a watcher process beside it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "core/engine.h"
#include "util/log.h"
#include "outside/exe.h"
#include "outside/proc.h"
#include "outside/relay.h"
#include "outside/seccomp.h"
#include "outside/watcher.h"

extern char **environ;

static void configure_engine(void)
{
	struct natt_config cfg;
	natt_config_from_env(&cfg);
	natt_engine_configure(&cfg);
}

static int watch_running(const struct natt_cli_cmd *cmd)
{
	pid_t pid = (pid_t)cmd->watch_pid;
	if (pid == getpid())
		return natt_cli_error(cmd, "will not watch itself"), NATT_EXIT_USAGE;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if (access(path, F_OK) != 0) {
		natt_cli_error(cmd, "no process %d", (int)pid);
		return NATT_EXIT_FAILED;
	}
	if (access(path, R_OK | X_OK) != 0) {
		natt_cli_error(cmd, "cannot see the sockets of process %d (%s): run as its user or as root", (int)pid,
		               strerror(errno));
		return NATT_EXIT_FAILED;
	}
	configure_engine();
	struct natt_watcher_options o = { .root = pid, .notify_fd = -1 };
	int rc = natt_watcher_run(&o);
	if (rc == -EXDEV) {
		natt_cli_error(cmd, "process %d is in another network namespace (run natt watch there)", (int)pid);
		return NATT_EXIT_FAILED;
	}
	if (rc < 0) {
		natt_cli_error(cmd, "cannot watch process %d: %s", (int)pid, strerror(-rc));
		return NATT_EXIT_FAILED;
	}
	return NATT_EXIT_OK;
}

/* The file execvp would run for name, into buf; NULL when there is none (errno set). */
static const char *resolve(const char *name, char *buf, size_t len)
{
	if (strchr(name, '/')) {
		snprintf(buf, len, "%s", name);
		return access(buf, F_OK) == 0 ? buf : NULL;
	}
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	int err = ENOENT;
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		int dir_len = (int)(end - p);
		if (snprintf(buf, len, "%.*s%s%s", dir_len, p, dir_len ? "/" : "", name) < (int)len) {
			struct stat st;
			if (stat(buf, &st) == 0 && S_ISREG(st.st_mode)) {
				if (access(buf, X_OK) == 0)
					return buf;
				err = EACCES;
			}
		}
		if (!*end)
			break;
		p = end;
	}
	errno = err;
	return NULL;
}

static _Noreturn void run_command(const struct natt_cli_cmd *cmd, const char *path)
{
	sigaction(SIGPIPE, &natt_cli_sigpipe_at_start, NULL);
	execve(path, cmd->exec_argv, environ);
	int err = errno;
	fprintf(stderr, "natt-run: %s: %s\n", cmd->exec_argv[0], strerror(err));
	_exit(err == ENOENT ? 127 : 126);
}

/* Starts a process of natt's beside the program: a grandchild (the program never has it as a child),
 * detached from the program's session (the terminal's ^C is the program's to handle), holding none of
 * its files but stderr (for the -v lines), with SIGPIPE blocked (a closed stderr must not end it).
 * Returns 1 in that process, 0 in the caller, -1 when it could not start; *sock is each side's end of
 * a socket pair between the two. */
static int fork_helper(int *sock)
{
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid_t middle = fork();
	if (middle == 0) {
		close(sp[0]);
		pid_t helper = fork();
		if (helper != 0)
			_exit(helper < 0);
		if (sp[1] != 3) {
			dup2(sp[1], 3);
			sp[1] = 3;
		}
		syscall(SYS_close_range, 4, ~0U, 0);
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			close(null);
		}
		setsid();
		sigset_t pipe;
		sigemptyset(&pipe);
		sigaddset(&pipe, SIGPIPE);
		sigprocmask(SIG_BLOCK, &pipe, NULL);
		*sock = sp[1];
		return 1;
	}
	close(sp[1]);
	int status = 1;
	if (middle < 0 || waitpid(middle, &status, 0) < 0 || status != 0) {
		close(sp[0]);
		return -1;
	}
	*sock = sp[0];
	return 0;
}

static _Noreturn void watcher_main(int sock, pid_t program)
{
	char tag = 0;
	int notify_fd = natt_recv_fd(sock, &tag);
	if (notify_fd < 0 && tag != 'P')
		_exit(1);
	char ready = 'R';
	if (write(sock, &ready, 1) != 1)
		_exit(1);
	close(sock);
	configure_engine();
	struct natt_watcher_options o = { .root = program, .notify_fd = notify_fd };
	int rc = natt_watcher_run(&o);
	if (rc < 0)
		natt_error("cannot watch pid %d: %s", (int)program, strerror(-rc));
	_exit(rc < 0);
}

/* The status relay (see outside/relay.h): started for a program run as root, which may give its
 * privileges up. Tells the caller the relay's name, then relays until the program's processes end. */
static _Noreturn void relay_main(int sock, pid_t program)
{
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 2); /* nothing to say: a daemon's captured stderr must not wait for us */
		close(null);
	}
	char name[64];
	int fd = natt_relay_open(name, sizeof(name));
	if (fd < 0 || write(sock, name, strlen(name)) != (ssize_t)strlen(name))
		_exit(1);
	close(sock);
	natt_relay_run(fd, name, program, getenv("NATT_STATUS_FILE"));
	_exit(0);
}

/* For a program run as root: a relay for its status, and its name in the program's environment. */
static void start_relay(void)
{
	int sock;
	pid_t program = getpid();
	int in_helper = fork_helper(&sock);
	if (in_helper == 1)
		relay_main(sock, program);
	if (in_helper < 0)
		return; /* then a daemon that gives up root writes no status: as before */
	char name[64];
	ssize_t n = read(sock, name, sizeof(name) - 1);
	close(sock);
	if (n > 0) {
		name[n] = '\0';
		setenv("NATT_STATUS_RELAY", name, 1);
	}
}

/* Whether running path changes the credentials of the caller: setuid to another user, setgid to
 * another group, or file capabilities. Then the process is not dumpable: its /proc/PID/fd is root's. */
static bool gains_privileges(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return true;
	if ((st.st_mode & S_ISUID) && st.st_uid != geteuid())
		return true;
	if ((st.st_mode & S_ISGID) && st.st_gid != getegid())
		return true;
	return natt_exe_classify(path) == NATT_EXE_CAPS;
}

static int launch(const struct natt_cli_cmd *cmd)
{
	char path[PATH_MAX];
	if (!resolve(cmd->exec_argv[0], path, sizeof(path))) {
		int err = errno; /* (before the message: a failed write to stderr may change it) */
		fprintf(stderr, "natt-run: %s: %s\n", cmd->exec_argv[0], err == ENOENT ? "command not found" : strerror(err));
		return err == ENOENT ? 127 : 126;
	}
	enum natt_exe_kind kind = natt_exe_classify(path);
	if (!getenv("NATT_STATUS_FILE") || !getenv("NATT_STATUS_FILE")[0]) {
		/* Fixed now, as this user's: a program that changes its uid must not move it. */
		char status[4096];
		natt_default_status_path(status, sizeof(status));
		setenv("NATT_STATUS_FILE", status, 1);
	}
	if (kind == NATT_EXE_PRELOADABLE && !cmd->outside) {
		if (geteuid() == 0)
			start_relay();
		if (cmd->shim) {
			const char *old = getenv("LD_PRELOAD");
			char *value = NULL;
			if (asprintf(&value, "%s%s%s", cmd->shim, old && old[0] ? " " : "", old ? old : "") < 0)
				return NATT_EXIT_FAILED;
			setenv("LD_PRELOAD", value, 1);
			free(value);
		}
		run_command(cmd, path);
	}
	const char *verbose = getenv("NATT_VERBOSE");
	bool say = verbose && verbose[0] && strcmp(verbose, "0") != 0;
	if ((kind == NATT_EXE_SETID || kind == NATT_EXE_CAPS) && geteuid() != 0 && gains_privileges(path)) {
		/* The kernel hides such a process's fds from its invoking user: nothing to watch. */
		fprintf(stderr,
		        "natt-run: warning: %s %s: neither LD_PRELOAD nor a watcher running as uid %d can see its "
		        "sockets, nothing will be published (as root, natt-run or natt watch --pid can)\n",
		        path, natt_exe_kind_text(kind), (int)geteuid());
		run_command(cmd, path);
	}
	bool seccomp = !cmd->no_seccomp && kind != NATT_EXE_SETID && kind != NATT_EXE_CAPS;
	int sock;
	pid_t program = getpid();
	int in_helper = fork_helper(&sock);
	if (in_helper == 1)
		watcher_main(sock, program);
	if (in_helper < 0) {
		fprintf(stderr, "natt-run: warning: cannot start the watcher: nothing will be published\n");
		run_command(cmd, path);
	}
	int notify_fd = -1;
	if (seccomp) {
		bool nnp = false;
		notify_fd = natt_seccomp_install(true, &nnp);
		if (notify_fd < 0)
			natt_info("no seccomp notifications (%s): the watcher looks at an interval", strerror(-notify_fd));
	}
	char ack = 0;
	if (natt_send_fd(sock, notify_fd, notify_fd >= 0 ? 'S' : 'P') < 0 || read(sock, &ack, 1) != 1 ||
	    ack != 'R') {
		if (notify_fd >= 0) {
			/* The filter stays: with nobody to answer, bind() and listen() would fail. */
			fprintf(stderr, "natt-run: the watcher did not start; not running %s\n", cmd->exec_argv[0]);
			return NATT_EXIT_FAILED;
		}
		fprintf(stderr, "natt-run: warning: the watcher did not start: nothing will be published\n");
	}
	if (say)
		fprintf(stderr, "natt-run: %s %s: publishing its sockets from outside (%s)\n", path,
		        kind == NATT_EXE_PRELOADABLE ? "was asked for" : natt_exe_kind_text(kind),
		        notify_fd >= 0 ? "seccomp notifications" : "looking at an interval");
	if (notify_fd >= 0)
		close(notify_fd);
	close(sock);
	run_command(cmd, path);
}

int natt_cli_watch(const struct natt_cli_cmd *cmd)
{
	if (cmd->verbose)
		setenv("NATT_VERBOSE", "1", 1);
	if (cmd->status_file)
		setenv("NATT_STATUS_FILE", cmd->status_file, 1);
	if (cmd->watch_pid)
		return watch_running(cmd);
	return launch(cmd);
}
