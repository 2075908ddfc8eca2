/* Unit tests of the preload library's fd table with its close and copy hooks (shim/fdtable.c,
 * shim/close.c, shim/dup.c, linked here without the engine): what happens when a copy of the
 * program's lands on a number natt is closing at that very moment, and when natt makes an fd of its
 * own while the program closes a range of fds. The real close is this file's, so the program's call
 * can be made exactly between natt's close and the table's update, the moment a thread of the program
 * would hit by chance. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "shim.h"

/* ---- what the three files need of the rest of the library and of the engine */
__thread int natt_internal_depth;
__thread bool natt_manager_thread;
atomic_bool nattshim_inherited;

static struct natt_entry *retired[8];
static _Atomic unsigned retired_count;

void natt_engine_retire(struct natt_entry *entry)
{
	assert_true(retired_count < 8);
	retired[retired_count++] = entry;
}

pid_t natt_self_pid(void)
{
	return getpid();
}

/* The pid natt noted: this process's, as the fork hook keeps it in a child it sees. */
static pid_t noted_pid;

pid_t nattshim_noted_pid(void)
{
	return noted_pid;
}

void nattshim_note_pid(void) {}
void nattshim_check_adoption(void) {}
void nattshim_engine_settle(void) {}
bool nattshim_in_signal_handler(void)
{
	return false;
}
void nattshim_consider(int fd, enum nattshim_event event)
{
	(void)fd;
	(void)event;
}
bool natt_engine_fd_moved(int from, int to)
{
	(void)from;
	(void)to;
	return true;
}

/* Run once, right after the next real close (or fclose) of the number `after_close_of`. (Atomic, as
 * is what the other hooks below set: glibc declares close_range() and closefrom() leaf functions, which a
 * compiler may take for not touching this file's variables.) */
static void (*_Atomic after_close)(void);
static int after_close_of = -1;

static void run_after_close(int fd)
{
	if (fd != after_close_of || !after_close)
		return;
	void (*then)(void) = after_close;
	after_close = NULL;
	then();
}

int libc_close(int fd)
{
	int rc = (int)syscall(SYS_close, fd);
	int saved_errno = errno;
	run_after_close(fd);
	errno = saved_errno;
	return rc;
}

int libc_fclose(FILE *stream)
{
	static int (*real_fclose)(FILE *);
	if (!real_fclose)
		real_fclose = (int (*)(FILE *))dlsym(RTLD_NEXT, "fclose");
	int fd = fileno(stream);
	int rc = real_fclose(stream);
	run_after_close(fd);
	return rc;
}

/* Run once, right before the next real close_range(). */
static void (*_Atomic before_range_close)(void);

int libc_close_range(unsigned first, unsigned last, int flags)
{
	void (*then)(void) = before_range_close;
	before_range_close = NULL;
	if (then)
		then();
	return (int)syscall(SYS_close_range, first, last, flags);
}

void libc_closefrom(int lowfd)
{
	syscall(SYS_close_range, (unsigned)lowfd, ~0u, 0);
}

int libc_dup(int fd)
{
	return (int)syscall(SYS_dup, fd);
}

int libc_dup2(int oldfd, int newfd)
{
	return oldfd == newfd ? newfd : (int)syscall(SYS_dup3, oldfd, newfd, 0);
}

int libc_dup3(int oldfd, int newfd, int flags)
{
	return (int)syscall(SYS_dup3, oldfd, newfd, flags);
}

int libc_fcntl(int fd, int cmd, void *arg)
{
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}

int libc_fcntl64(int fd, int cmd, void *arg)
{
	return libc_fcntl(fd, cmd, arg);
}

/* ---- the program's published socket, and natt's own fd */
static int program_fd = -1;
static _Atomic int copy_fd = -1;
static struct natt_entry *program_entry;

static int publish_program_socket(void **state)
{
	(void)state;
	retired_count = 0;
	program_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (program_fd < 0)
		return -1;
	struct stat st;
	program_entry = calloc(1, sizeof(*program_entry));
	if (!program_entry || fstat(program_fd, &st) < 0)
		return -1;
	program_entry->protocol = NATT_TCP;
	program_entry->socket_id = (uint64_t)st.st_ino;
	atomic_store(&program_entry->holders, 1);
	nattshim_fd_exchange(program_fd, program_entry);
	return 0;
}

static int end_program_socket(void **state)
{
	(void)state;
	if (program_fd >= 0)
		close(program_fd);
	if (copy_fd >= 0)
		close(copy_fd);
	program_fd = copy_fd = -1;
	free(program_entry);
	program_entry = NULL;
	return 0;
}

/* natt's own fd: a socket, marked as natt's in the table. */
static int open_own_fd(void)
{
	int fd = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	nattshim_mark(fd, NATT_FD_MARK);
	return fd;
}

/* The program copies its socket while natt's close has just freed its number: the copy gets it. */
static void program_copies_now(void)
{
	bool was_manager = natt_manager_thread;
	natt_manager_thread = false;
	copy_fd = fcntl(program_fd, F_DUPFD_CLOEXEC, after_close_of);
	natt_manager_thread = was_manager;
}

/* After the program's copy landed on the freed number: the copy holds the entry, and closing both
 * copies retires it once. */
static void assert_copy_holds_entry(int natts_number)
{
	assert_int_equal(copy_fd, natts_number);
	assert_ptr_equal(nattshim_tracked(copy_fd), program_entry);
	assert_int_equal(atomic_load(&program_entry->holders), 2);

	assert_int_equal(close(program_fd), 0);
	program_fd = -1;
	assert_int_equal(retired_count, 0);
	assert_int_equal(close(copy_fd), 0);
	copy_fd = -1;
	assert_int_equal(retired_count, 1);
	assert_ptr_equal(retired[0], program_entry);
}

static void test_own_close_then_program_copy(void **state)
{
	(void)state;
	int own = open_own_fd();
	/* The program cannot close natt's fd. */
	errno = 0;
	assert_int_equal(close(own), -1);
	assert_int_equal(errno, EBADF);
	assert_ptr_equal(nattshim_tracked(own), NATTSHIM_OURS);

	after_close_of = own;
	after_close = program_copies_now;
	natt_manager_thread = true;
	assert_int_equal(close(own), 0);
	natt_manager_thread = false;
	assert_null(after_close); /* (the copy was made) */
	assert_copy_holds_entry(own);
}

static void test_own_stream_close_then_program_copy(void **state)
{
	(void)state;
	int own = open_own_fd();
	FILE *stream = fdopen(own, "r");
	assert_non_null(stream);
	after_close_of = own;
	after_close = program_copies_now;
	/* natt's fclose of its own stream, as natt_own_fclose() makes it */
	natt_manager_thread = true;
	nattshim_mark(own, NATT_FD_CLOSING);
	assert_int_equal(fclose(stream), 0);
	nattshim_mark(own, NATT_FD_CLOSED);
	natt_manager_thread = false;
	assert_null(after_close);
	assert_copy_holds_entry(own);
}

/* natt claims a number it just opened; the program closes it before the check (a close no hook sees)
 * and copies its socket there: natt disowns the number, the copy keeps its entry, and the stale entry
 * the number held before the claim loses that hold. */
static void test_claim_disowned_over_copy(void **state)
{
	(void)state;
	int number = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(number >= 0);
	struct natt_entry *stale = calloc(1, sizeof(*stale));
	assert_non_null(stale);
	atomic_store(&stale->holders, 1);
	nattshim_fd_exchange(number, stale);

	natt_manager_thread = true;
	nattshim_mark(number, NATT_FD_CLAIM);
	syscall(SYS_close, number);
	after_close_of = number;
	program_copies_now();
	nattshim_mark(number, NATT_FD_DISOWN);
	natt_manager_thread = false;

	assert_int_equal(retired_count, 1);
	assert_ptr_equal(retired[0], stale);
	retired_count = 0;
	free(stale);
	assert_copy_holds_entry(number);
}

/* ---- natt making an fd of its own while the program closes a range (closefrom) */
static atomic_bool natt_has_number, natt_may_claim, natt_done;
static _Atomic int natts_fd = -1;
static pthread_t natt_thread;

/* natt's manager making a socket of its own, as the shim's socket() hook does for it. */
static void *natt_makes_own_fd(void *arg)
{
	(void)arg;
	natt_manager_thread = true;
	nattshim_mark(-1, NATT_FD_OPENING);
	int fd = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	atomic_store(&natt_has_number, true);
	while (!atomic_load(&natt_may_claim))
		usleep(1000);
	nattshim_mark(fd, NATT_FD_CLAIM);
	bool still_there = fcntl(fd, F_GETFD) >= 0;
	nattshim_mark(fd, still_there ? NATT_FD_CONFIRM : NATT_FD_DISOWN);
	nattshim_mark(-1, NATT_FD_OPENED);
	natts_fd = still_there ? fd : -1;
	atomic_store(&natt_done, true);
	return NULL;
}

static int lowest_free_fd(void)
{
	int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);
	assert_true(fd >= 0);
	close(fd);
	return fd;
}

static void start_natt_thread(bool may_claim)
{
	atomic_store(&natt_has_number, false);
	atomic_store(&natt_may_claim, may_claim);
	atomic_store(&natt_done, false);
	natts_fd = -1;
	assert_int_equal(pthread_create(&natt_thread, NULL, natt_makes_own_fd, NULL), 0);
}

static int64_t monotonic_ms(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* (Well inside the second after which natt gives up waiting for a range close.) */
static bool natt_done_within_ms(int ms)
{
	int64_t until = monotonic_ms() + ms;
	while (!atomic_load(&natt_done) && monotonic_ms() < until)
		usleep(1000);
	return atomic_load(&natt_done);
}

static void assert_natts_fd_survived(void)
{
	assert_int_equal(pthread_join(natt_thread, NULL), 0);
	assert_true(natts_fd >= 0);
	assert_true(fcntl(natts_fd, F_GETFD) >= 0);
	assert_ptr_equal(nattshim_tracked(natts_fd), NATTSHIM_OURS);
	natt_manager_thread = true;
	assert_int_equal(close(natts_fd), 0);
	natt_manager_thread = false;
}

static atomic_bool opened_during_range_close;

/* natt starts making its fd once the program's range close has looked at the table. */
static void natt_opens_now(void)
{
	start_natt_thread(true);
	opened_during_range_close = natt_done_within_ms(200);
}

static void test_range_close_then_natts_fd(void **state)
{
	(void)state;
	int first = lowest_free_fd();
	before_range_close = natt_opens_now;
	closefrom(first);
	assert_null(before_range_close);
	assert_false(opened_during_range_close); /* natt waited for the range close */
	assert_natts_fd_survived();
	assert_true(fcntl(program_fd, F_GETFD) >= 0); /* (below the range) */
}

#define NATT_CLAIMS_AFTER_MS 100

/* Lets natt mark its number a moment after the range close has begun. */
static void *release_natt_later(void *arg)
{
	(void)arg;
	usleep(NATT_CLAIMS_AFTER_MS * 1000);
	atomic_store(&natt_may_claim, true);
	return NULL;
}

static void test_natts_fd_then_range_close(void **state)
{
	(void)state;
	int first = lowest_free_fd();
	start_natt_thread(false);
	while (!atomic_load(&natt_has_number))
		usleep(1000);
	/* natt has its number and has not marked it yet: the range close waits for the mark. */
	pthread_t releaser;
	int64_t start = monotonic_ms();
	assert_int_equal(pthread_create(&releaser, NULL, release_natt_later, NULL), 0);
	closefrom(first);
	int64_t took = monotonic_ms() - start;
	assert_int_equal(pthread_join(releaser, NULL), 0);
	assert_true(took >= NATT_CLAIMS_AFTER_MS - 10);
	assert_natts_fd_survived();
}

/* Without anything in the way, natt's close of its own fd leaves the number free in the table. */
static void test_own_close_alone(void **state)
{
	(void)state;
	int own = open_own_fd();
	natt_manager_thread = true;
	assert_int_equal(close(own), 0);
	natt_manager_thread = false;
	assert_null(nattshim_tracked(own));
	assert_int_equal(fcntl(own, F_GETFD), -1);
}

/* A child made past the fork hook while natt was making an fd of its own: the child's copy of the
 * count says natt is opening, and nothing of natt's runs there to end it. Its range close goes on at
 * once (it closes in a table of its own) instead of waiting a second. */
static atomic_bool natt_opening, natt_may_finish;

static void *natt_opens_slowly(void *arg)
{
	(void)arg;
	nattshim_own_opening();
	atomic_store(&natt_opening, true);
	while (!atomic_load(&natt_may_finish))
		usleep(1000);
	nattshim_own_opened();
	return NULL;
}

static void test_range_close_in_a_child_made_past_the_fork_hook(void **state)
{
	(void)state;
	pthread_t natt;
	assert_int_equal(pthread_create(&natt, NULL, natt_opens_slowly, NULL), 0);
	while (!atomic_load(&natt_opening))
		usleep(1000);
	int first = lowest_free_fd();
	pid_t child = (pid_t)syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L); /* (no atfork handler runs) */
	if (child == 0) {
		int64_t start = monotonic_ms();
		closefrom(first);
		syscall(SYS_exit_group, monotonic_ms() - start < 500 ? 0 : 1);
	}
	atomic_store(&natt_may_finish, true);
	assert_int_equal(pthread_join(natt, NULL), 0);
	assert_true(child > 0);
	int status = -1;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0); /* (1: the child's range close waited) */
}

int main(void)
{
	noted_pid = getpid();
	/* Each test starts with the program's published socket in place. */
#define WITH_SOCKET(test) cmocka_unit_test_setup_teardown(test, publish_program_socket, end_program_socket)
	const struct CMUnitTest tests[] = {
		WITH_SOCKET(test_own_close_then_program_copy),
		WITH_SOCKET(test_own_stream_close_then_program_copy),
		WITH_SOCKET(test_claim_disowned_over_copy),
		WITH_SOCKET(test_own_close_alone),
		WITH_SOCKET(test_range_close_then_natts_fd),
		WITH_SOCKET(test_natts_fd_then_range_close),
		WITH_SOCKET(test_range_close_in_a_child_made_past_the_fork_hook),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
