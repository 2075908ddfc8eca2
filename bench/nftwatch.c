/* natt-bench nftwatch — watches the router's mapping table as the router changes it, for "all public /
 * all gone at the router". Run in the router's namespace.
 *
 *   nftwatch --up N [--down M] [--timeout SEC] [--table "inet filter"] [--chain miniupnpd] [--each]
 *
 * Follows `nft monitor` (the kernel's nftables events, pushed as they happen: no polling) and counts
 * the rules of one chain. miniupnpd adds two rules per mapping, the DNAT rule (inet nat
 * prerouting_miniupnpd) and then the accept rule (inet filter miniupnpd), and deletes them in the same
 * order; the default chain is the second, so a mapping counts once both rules exist and stops counting
 * once both are gone.
 *
 * Before it prints {"ready": ...} it makes sure the monitor is listening (it adds and deletes a table of
 * its own and waits for both events), so a driver may start the work once it has read that line.
 * Then one line for the first rule added, when the count reaches N ("up"), the first rule deleted, and
 * when the count falls to M ("down", default 0); with --each, a line per rule added or deleted too
 * (its port); times are CLOCK_MONOTONIC ns. Exits 0 after "down",
 * 1 on timeout. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

static const char *prog = "nftwatch";
static const char *sync_table = "natt_bench_sync";

static int run(const char *cmd)
{
	int rc = system(cmd);
	return rc == -1 || !WIFEXITED(rc) ? -1 : WEXITSTATUS(rc);
}

/* Lines from the monitor's pipe, without stdio's buffer hiding complete lines from poll(). */
struct lines {
	int fd;
	char buf[65536];
	size_t len;
};

/* Next complete line into out (no newline): 1; none complete yet and none readable within
 * timeout_ms: 0; end of the stream: -1. */
static int next_line(struct lines *l, char *out, size_t cap, int timeout_ms)
{
	for (;;) {
		char *nl = memchr(l->buf, '\n', l->len);
		if (nl) {
			size_t n = (size_t)(nl - l->buf);
			size_t copy = n < cap - 1 ? n : cap - 1;
			memcpy(out, l->buf, copy);
			out[copy] = '\0';
			l->len -= n + 1;
			memmove(l->buf, nl + 1, l->len);
			return 1;
		}
		if (l->len == sizeof(l->buf))
			l->len = 0; /* a line longer than the buffer: drop it */
		struct pollfd pfd = { .fd = l->fd, .events = POLLIN };
		int ready = poll(&pfd, 1, timeout_ms);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0)
			return 0;
		ssize_t got = read(l->fd, l->buf + l->len, sizeof(l->buf) - l->len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		l->len += (size_t)got;
	}
}

/* Rules now in the chain, from `nft list chain` (rule lines are those with a statement: not the
 * table/chain/brace lines nor the type line of a base chain). */
static int count_rules(const char *table, const char *chain)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "nft list chain %s %s", table, chain);
	FILE *f = popen(cmd, "r");
	if (!f)
		return -1;
	char line[1024];
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '\n' || *p == '}' || strncmp(p, "table ", 6) == 0 || strncmp(p, "chain ", 6) == 0 ||
		    strncmp(p, "type ", 5) == 0)
			continue;
		n++;
	}
	pclose(f);
	return n;
}

int main(int argc, char **argv)
{
	int up = -1, down = 0;
	bool each = false;
	double timeout = 120;
	const char *table = "inet filter", *chain = "miniupnpd";
	static const struct option longopts[] = {
		{ "up", required_argument, NULL, 'u' },    { "down", required_argument, NULL, 'd' },
		{ "timeout", required_argument, NULL, 't' }, { "table", required_argument, NULL, 'T' },
		{ "chain", required_argument, NULL, 'c' },  { "each", no_argument, NULL, 'e' },
		{ 0, 0, 0, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'u': up = atoi(optarg); break;
		case 'd': down = atoi(optarg); break;
		case 't': timeout = atof(optarg); break;
		case 'T': table = optarg; break;
		case 'c': chain = optarg; break;
		case 'e': each = true; break;
		default: return 2;
		}
	}
	if (up < 0)
		bench_die(prog, "usage: nftwatch --up N [--down M] [--timeout SEC] [--table T] [--chain C] [--each]");
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* nft flushes each event it prints, so lines come through the pipe as they happen. */
	int pipefd[2];
	if (pipe(pipefd) < 0)
		bench_die(prog, "pipe failed");
	pid_t monitor = fork();
	if (monitor == 0) {
		dup2(pipefd[1], 1);
		close(pipefd[0]);
		close(pipefd[1]);
		execlp("nft", "nft", "monitor", (char *)NULL);
		_exit(127);
	}
	if (monitor < 0)
		bench_die(prog, "cannot start nft monitor");
	close(pipefd[1]);
	static struct lines events;
	events.fd = pipefd[0];

	char add_prefix[256], del_prefix[256], sync_del[128], line[1024];
	snprintf(add_prefix, sizeof(add_prefix), "add rule %s %s ", table, chain);
	snprintf(del_prefix, sizeof(del_prefix), "delete rule %s %s ", table, chain);
	snprintf(sync_del, sizeof(sync_del), "delete table inet %s", sync_table);

	/* Handshake: our own table's deletion comes back through the monitor once it listens. Try again
	 * until it does (the monitor may not have subscribed yet at the first try). */
	bool synced = false;
	int64_t sync_deadline = bench_now_ns() + 10 * (int64_t)1000000000;
	while (!synced && bench_now_ns() < sync_deadline) {
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "nft add table inet %s && nft delete table inet %s", sync_table, sync_table);
		if (run(cmd) != 0)
			bench_die(prog, "cannot add and delete a table of our own");
		int got;
		while (!synced && (got = next_line(&events, line, sizeof(line), 200)) != 0) {
			if (got < 0)
				bench_die(prog, "nft monitor ended");
			synced = strncmp(line, sync_del, strlen(sync_del)) == 0;
		}
	}
	if (!synced)
		bench_die(prog, "nft monitor shows no events");
	int count = count_rules(table, chain);
	if (count < 0)
		bench_die(prog, "cannot list the chain");
	printf("{\"ready\": true, \"count\": %d, \"t_ns\": %lld}\n", count, (long long)bench_now_ns());

	int64_t deadline = bench_now_ns() + (int64_t)(timeout * 1e9);
	int64_t first_add = -1, reached_up = count >= up ? bench_now_ns() : -1, first_del = -1;
	int rc = 1;
	for (;;) {
		int64_t left = (deadline - bench_now_ns()) / 1000000;
		if (left <= 0)
			break;
		int got = next_line(&events, line, sizeof(line), (int)left);
		if (got < 0)
			break;
		if (got == 0)
			continue;
		int64_t now = bench_now_ns();
		bool added = strncmp(line, add_prefix, strlen(add_prefix)) == 0;
		if (each && (added || strncmp(line, del_prefix, strlen(del_prefix)) == 0)) {
			const char *port = strstr(line, "dport ");
			printf("{\"event\": \"%s\", \"port\": %d, \"t_ns\": %lld}\n", added ? "add" : "delete",
			       port ? atoi(port + 6) : 0, (long long)now);
		}
		if (added) {
			count++;
			if (first_add < 0) {
				first_add = now;
				printf("{\"event\": \"first-add\", \"t_ns\": %lld}\n", (long long)now);
			}
			if (reached_up < 0 && count >= up) {
				reached_up = now;
				printf("{\"event\": \"up\", \"count\": %d, \"t_ns\": %lld}\n", count, (long long)now);
			}
		} else if (strncmp(line, del_prefix, strlen(del_prefix)) == 0) {
			count--;
			if (first_del < 0) {
				first_del = now;
				printf("{\"event\": \"first-delete\", \"t_ns\": %lld}\n", (long long)now);
			}
			if (reached_up >= 0 && count <= down) {
				printf("{\"event\": \"down\", \"count\": %d, \"t_ns\": %lld}\n", count, (long long)now);
				rc = 0;
				break;
			}
		}
	}
	if (rc != 0)
		printf("{\"event\": \"timeout\", \"count\": %d}\n", count);
	kill(monitor, SIGTERM);
	waitpid(monitor, NULL, 0);
	return rc;
}
