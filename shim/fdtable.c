/* fd -> entry table. Two levels, chunks allocated on first use, so a process that publishes nothing
 * touches no page of it and a fork copies nothing. Entries are reference counted by holders: every fd
 * (in this process) that refers to the same socket holds one. */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shim.h"

_Atomic(struct natt_entry *) *_Atomic natt_fd_chunk0 NATTSHIM_HOT_DATA;
_Atomic(struct natt_entry *) *_Atomic natt_fd_chunks[NATT_FD_CHUNKS];
/* The chunk of fds 0..NATT_FD_CHUNK-1, where a program's sockets almost always are: in zeroed memory
 * of the library's own (no room in the file), so that the first published socket costs no mmap(), and
 * laid right after the hot data (shim/layout.ld), so that its first slots share the page the loader wrote:
 * noting the first socket costs no page fault either (10 µs on a virtual machine). The rest of it is
 * untouched until used, as a mapped chunk would be. */
static _Atomic(struct natt_entry *) first_chunk[NATT_FD_CHUNK] __attribute__((section(".bss.nattshim.table")));

/* fd's slot; NULL when fd is out of range, or its chunk is missing and create is false (or cannot
 * be made). */
static _Atomic(struct natt_entry *) *slot_of(int fd, bool create)
{
	if (fd < 0 || (unsigned)fd >= NATT_FD_CHUNK * NATT_FD_CHUNKS)
		return NULL;
	unsigned index = (unsigned)fd >> NATT_FD_CHUNK_BITS;
	_Atomic(struct natt_entry *) *chunk = atomic_load(nattshim_chunk_ref(index));
	if (!chunk) {
		if (!create)
			return NULL;
		nattshim_note_pid(); /* (for the vfork-child test, which asks only about fds the table holds) */
		/* mmap, not calloc: publishing may happen in a signal handler (bind() there is legal). */
		void *fresh = index == 0 ? (void *)first_chunk
		                         : mmap(NULL, NATT_FD_CHUNK * sizeof(*chunk), PROT_READ | PROT_WRITE,
		                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (fresh == MAP_FAILED)
			return NULL;
		_Atomic(struct natt_entry *) *expected = NULL;
		if (atomic_compare_exchange_strong(nattshim_chunk_ref(index), &expected, fresh))
			chunk = fresh;
		else {
			if (fresh != (void *)first_chunk)
				munmap(fresh, NATT_FD_CHUNK * sizeof(*chunk)); /* another thread won the race */
			chunk = expected;
		}
	}
	return &chunk[(unsigned)fd & (NATT_FD_CHUNK - 1)];
}

struct natt_entry *nattshim_fd_exchange(int fd, struct natt_entry *entry)
{
	_Atomic(struct natt_entry *) *slot = slot_of(fd, entry != NULL);
	return slot ? atomic_exchange(slot, entry) : NULL;
}

bool nattshim_fd_replace(int fd, struct natt_entry *expected, struct natt_entry *entry)
{
	_Atomic(struct natt_entry *) *slot = slot_of(fd, entry != NULL);
	return slot && atomic_compare_exchange_strong(slot, &expected, entry);
}

struct natt_entry *nattshim_detach(int fd)
{
	_Atomic(struct natt_entry *) *slot = slot_of(fd, false);
	if (!slot)
		return NULL;
	for (;;) {
		/* Only what the slot holds once settled is taken away: the manager may claim the socket to
		 * look at it between the two, and gives it back after. */
		struct natt_entry *was = nattshim_settled(fd);
		if (was == NATTSHIM_OURS || atomic_compare_exchange_strong(slot, &was, NULL))
			return was;
	}
}

int nattshim_fd_of(const struct natt_entry *entry)
{
	for (unsigned index = 0; index < NATT_FD_CHUNKS; index++) {
		_Atomic(struct natt_entry *) *chunk = atomic_load(nattshim_chunk_ref(index));
		for (unsigned i = 0; chunk && i < NATT_FD_CHUNK; i++)
			if (atomic_load(&chunk[i]) == entry)
				return (int)(index * NATT_FD_CHUNK + i);
	}
	return -1;
}

/* The fd this thread itself holds pending, if any (a signal handler that interrupted it must not
 * wait for it). */
static __thread int pending_here __attribute__((tls_model("initial-exec"))) = -1;

struct natt_entry *nattshim_pend(int fd)
{
	pending_here = fd;
	return nattshim_fd_exchange(fd, NATTSHIM_PENDING);
}

bool nattshim_pend_if(int fd, struct natt_entry *expected)
{
	if (!nattshim_fd_replace(fd, expected, NATTSHIM_PENDING))
		return false;
	pending_here = fd;
	return true;
}

bool nattshim_unpend(int fd, struct natt_entry *settled)
{
	/* Only over our own mark: once natt's close of its own fd has freed the number, a dup() of the
	 * program's may get it and write its entry there; that one stays. */
	bool ours = nattshim_fd_replace(fd, NATTSHIM_PENDING, settled);
	pending_here = -1; /* (after: a signal handler here must not wait for a mark still set) */
	return ours;
}

struct natt_entry *nattshim_settled(int fd)
{
	struct natt_entry *entry;
	while ((entry = nattshim_tracked(fd)) == NATTSHIM_PENDING) {
		/* The interrupted code of this very thread is the one that would settle it: the number is
		 * natt's until then. */
		if (fd == pending_here)
			return NATTSHIM_OURS;
		sched_yield();
	}
	return entry;
}

/* What a claim replaced: put back if the claim fails, released (stale) if it holds. One claim at a
 * time per thread. */
static __thread struct natt_entry *claimed_over __attribute__((tls_model("initial-exec")));

void nattshim_mark(int fd, enum natt_fd_mark how)
{
	switch (how) {
	case NATT_FD_MARK:
		/* A stale entry at a number the kernel just gave us: its socket is gone from that fd. */
		nattshim_release(nattshim_fd_exchange(fd, NATTSHIM_OURS));
		break;
	case NATT_FD_CLAIM:
		claimed_over = nattshim_pend(fd);
		break;
	case NATT_FD_CONFIRM:
		nattshim_unpend(fd, NATTSHIM_OURS);
		nattshim_release(claimed_over);
		claimed_over = NULL;
		break;
	case NATT_FD_DISOWN:
		if (!nattshim_unpend(fd, claimed_over))
			nattshim_release(claimed_over); /* its number went on to another copy meanwhile */
		claimed_over = NULL;
		break;
	case NATT_FD_CLOSING:
		nattshim_pend(fd);
		break;
	case NATT_FD_CLOSED:
		nattshim_unpend(fd, NULL);
		break;
	case NATT_FD_OPENING:
		nattshim_own_opening();
		break;
	case NATT_FD_OPENED:
		nattshim_own_opened();
		break;
	}
}

void nattshim_release(struct natt_entry *entry)
{
	if (nattshim_is_entry(entry) && atomic_fetch_sub(&entry->holders, 1) == 1)
		natt_engine_retire(entry);
}

bool nattshim_any_tracked(unsigned first, unsigned last)
{
	for (unsigned index = first >> NATT_FD_CHUNK_BITS; index < NATT_FD_CHUNKS; index++) {
		if ((index << NATT_FD_CHUNK_BITS) > last)
			break;
		if (atomic_load(nattshim_chunk_ref(index)))
			return true;
	}
	return false;
}

/* natt making one of its own fds, and the program closing a range of fds (close_range, closefrom),
 * keep out of each other's way: the range close looks at the table first and closes after, so a
 * number natt got and marked in between, already passed, would be closed under natt. Each counts
 * itself in, then looks for the other: of two that start at once, at least one sees the other (all
 * sequentially consistent), and natt is the one that steps back. Both waits last a few system calls
 * of the other side's, and are bounded all the same (KEEP_OUT_WAIT_MS). The counts of this very thread
 * (a signal handler that interrupted the other side) are never waited for. */
static atomic_int own_opens_under_way NATTSHIM_HOT_DATA;
static atomic_int range_closes_under_way NATTSHIM_HOT_DATA;
static __thread int own_opens_here __attribute__((tls_model("initial-exec")));
static __thread int range_closes_here __attribute__((tls_model("initial-exec")));

#define KEEP_OUT_WAIT_MS 1000

static int64_t now_ms(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now); /* (vDSO: async-signal-safe, no system call) */
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

bool nattshim_wait_a_moment(unsigned round, int64_t *deadline_ms, int limit_ms)
{
	if (round < 64) {
		sched_yield();
		return true;
	}
	/* (a sleep, not a yield, from here: a real-time waiter would keep the other off its CPU) */
	if (!*deadline_ms)
		*deadline_ms = now_ms() + limit_ms;
	int saved_errno = errno;
	struct { long tv_sec, tv_nsec; } pause = { 0, 100 * 1000 }; /* (the system call's own layout) */
	syscall(SYS_nanosleep, &pause, NULL);
	errno = saved_errno;
	return now_ms() < *deadline_ms;
}

static bool range_close_elsewhere(void)
{
	return atomic_load(&range_closes_under_way) > range_closes_here;
}

/* This thread's count goes up before the shared one and down after it: a signal handler here that
 * closes a range never waits for this thread, and never overlooks another's open. An open inside one
 * of this thread's own (a handler's) steps back from nothing: the outer one is counted already. */
void nattshim_own_opening(void)
{
	bool nested = own_opens_here > 0;
	int64_t deadline = 0;
	bool waiting = !nested;
	for (unsigned round = 0;;) {
		own_opens_here++;
		atomic_fetch_add(&own_opens_under_way, 1);
		if (!waiting || !range_close_elsewhere())
			return;
		atomic_fetch_sub(&own_opens_under_way, 1); /* (the range close may be waiting for it) */
		own_opens_here--;
		while (waiting && range_close_elsewhere())
			waiting = nattshim_wait_a_moment(round++, &deadline, KEEP_OUT_WAIT_MS);
	}
}

void nattshim_own_opened(void)
{
	if (own_opens_here > 0) {
		atomic_fetch_sub(&own_opens_under_way, 1);
		own_opens_here--;
	}
}

void nattshim_range_close_begin(void)
{
	range_closes_here++;
	atomic_fetch_add(&range_closes_under_way, 1);
	int64_t deadline = 0;
	for (unsigned round = 0; atomic_load(&own_opens_under_way) > own_opens_here; round++) {
		/* natt's opens go to the noted process's fd table. A process with another pid (vfork,
		 * _Fork(), a raw clone) closes in a table of its own, where the count may be a copy that
		 * never comes down. */
		if (round == 0 && nattshim_in_vfork_child())
			break;
		if (!nattshim_wait_a_moment(round, &deadline, KEEP_OUT_WAIT_MS))
			break;
	}
}

void nattshim_range_close_end(void)
{
	atomic_fetch_sub(&range_closes_under_way, 1);
	range_closes_here--;
}

void nattshim_keep_out_after_fork(void)
{
	/* (Only this thread goes on in the child: what the others had under way never ends there.) */
	atomic_store(&own_opens_under_way, own_opens_here);
	atomic_store(&range_closes_under_way, range_closes_here);
}
