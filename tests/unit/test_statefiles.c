/* Unit tests of the status file, the gateway lock and the gateway cache against a hostile neighbour:
 * directories another user could write to, symlinks and FIFOs planted at natt's file names, a
 * predictable temporary name, stale or odd entries of other processes, an oversized file. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/engine.h"
#include "core/engine_shim.h"
#include "core/gwlock.h"
#include "upnp/igd_client.h"
#include "core/status_file.h"
#include "util/json.h"
#include "util/siphash.h"

static char root[256];

static int make_root(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/natt-test-statefiles.XXXXXX");
	if (!mkdtemp(root))
		return -1;
	/* Our directories, as a user would make them. */
	setenv("XDG_RUNTIME_DIR", root, 1);
	return 0;
}

static int remove_root(void **state)
{
	(void)state;
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void path_in(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", root, name);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static char *read_text(const char *path)
{
	static char buf[1 << 16];
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static void make_dir(const char *name, mode_t mode, char *path, size_t len)
{
	path_in(path, len, name);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(chmod(path, mode), 0);
}

/* A directory anyone may write to (what another user leaves at /tmp/natt-UID) is not used. */
static void test_refuses_open_directory(void **state)
{
	(void)state;
	char dir[PATH_MAX], file[PATH_MAX + 32];
	make_dir("open", 0777, dir, sizeof(dir));
	snprintf(file, sizeof(file), "%s/status.json", dir);
	assert_int_equal(natt_status_write(file, NULL, NULL, NULL), -EPERM);
	assert_int_equal(access(file, F_OK), -1);
	snprintf(file, sizeof(file), "%s/status.json.lock", dir);
	assert_int_equal(access(file, F_OK), -1);
}

/* The default directory must be exactly as natt makes it: 0700. */
static void test_default_directory_strict(void **state)
{
	(void)state;
	char dir[PATH_MAX], def[PATH_MAX];
	make_dir("natt", 0755, dir, sizeof(dir));
	natt_default_status_path(def, sizeof(def));
	assert_true(strncmp(def, dir, strlen(dir)) == 0);
	assert_int_equal(natt_status_write(def, NULL, NULL, NULL), -EPERM);
	assert_int_equal(chmod(dir, 0700), 0);
	assert_int_equal(natt_status_write(def, NULL, NULL, NULL), 0);
	assert_non_null(strstr(read_text(def), "\"sockets\""));
}

/* A directory of another user's (needs root to make one). */
static void test_refuses_foreign_directory(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	char dir[PATH_MAX], file[PATH_MAX + 32];
	make_dir("foreign", 0700, dir, sizeof(dir));
	assert_int_equal(chown(dir, 65534, 65534), 0);
	snprintf(file, sizeof(file), "%s/status.json", dir);
	assert_int_equal(natt_status_write(file, NULL, NULL, NULL), -EPERM);
	assert_int_equal(access(file, F_OK), -1);
}

/* A symlink in place of the directory is not followed. */
static void test_refuses_linked_directory(void **state)
{
	(void)state;
	char dir[PATH_MAX], link[PATH_MAX], file[PATH_MAX + 32];
	make_dir("real", 0700, dir, sizeof(dir));
	path_in(link, sizeof(link), "linked");
	assert_int_equal(symlink(dir, link), 0);
	snprintf(file, sizeof(file), "%s/status.json", link);
	assert_int_equal(natt_status_write(file, NULL, NULL, NULL), -EPERM);
	snprintf(file, sizeof(file), "%s/status.json", dir);
	assert_int_equal(access(file, F_OK), -1);
}

/* Symlinks at the status file, its lock and the predictable temporary name of old: the files they
 * point at stay as they were, and nothing is created where they point. */
static void test_planted_symlinks(void **state)
{
	(void)state;
	char dir[PATH_MAX], victim[PATH_MAX], created[PATH_MAX], at[PATH_MAX + 64], file[PATH_MAX + 32];
	make_dir("links", 0700, dir, sizeof(dir));
	path_in(victim, sizeof(victim), "victim");
	path_in(created, sizeof(created), "created-by-lock");
	write_text(victim, "precious\n");
	assert_int_equal(chmod(victim, 0600), 0);
	snprintf(file, sizeof(file), "%s/status.json", dir);
	snprintf(at, sizeof(at), "%s/status.json.lock", dir);
	assert_int_equal(symlink(created, at), 0);
	assert_int_not_equal(natt_status_write(file, NULL, NULL, NULL), 0);
	assert_int_equal(access(created, F_OK), -1);
	assert_int_equal(unlink(at), 0);

	snprintf(at, sizeof(at), "%s/status.json.%d.tmp", dir, (int)getpid());
	assert_int_equal(symlink(victim, at), 0);
	snprintf(at, sizeof(at), "%s/status.json", dir);
	assert_int_equal(symlink(victim, at), 0);
	natt_status_write(file, NULL, NULL, NULL);
	assert_string_equal(read_text(victim), "precious\n");
	/* The link itself is replaced by a regular file (rename), or left: never written through. */
	struct stat st;
	assert_int_equal(stat(victim, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void *gateway_of(const char *text)
{
	static struct in_addr gw;
	inet_pton(AF_INET, text, &gw);
	return &gw;
}

/* The gateway lock and cache: a symlink is not followed, a FIFO does not block. */
static void test_gateway_files(void **state)
{
	(void)state;
	char dir[PATH_MAX], file[PATH_MAX + 32], at[PATH_MAX + 64], created[PATH_MAX];
	make_dir("gw", 0700, dir, sizeof(dir));
	snprintf(file, sizeof(file), "%s/status.json", dir);
	path_in(created, sizeof(created), "created-by-gwlock");
	snprintf(at, sizeof(at), "%s/.natt-gateway-10.9.8.7.lock", dir);
	assert_int_equal(symlink(created, at), 0);
	int fd = natt_gateway_lock(file, gateway_of("10.9.8.7"));
	assert_int_equal(fd, -1);
	natt_gateway_unlock(&fd);
	assert_int_equal(access(created, F_OK), -1);

	snprintf(at, sizeof(at), "%s/.natt-gateway-10.9.8.8.lock", dir);
	assert_int_equal(mkfifo(at, 0600), 0);
	alarm(10); /* a hang here is the failure */
	assert_int_equal(natt_gateway_lock(file, gateway_of("10.9.8.8")), -1);

	struct natt_igd cached;
	snprintf(at, sizeof(at), "%s/.natt-gateway-10.9.8.9.igd", dir);
	assert_int_equal(mkfifo(at, 0600), 0);
	assert_true(natt_igd_cache_read(file, gateway_of("10.9.8.9"), &cached) < 0);
	alarm(0);

	/* A cache written and read back, through an unpredictable temporary name; with the router's
	 * BOOTID, and without (a router that gives none) */
	struct natt_igd igd;
	natt_igd_close(&igd);
	snprintf(igd.location, sizeof(igd.location), "http://10.9.8.6:5000/rootDesc.xml");
	igd.bootid = 1789;
	natt_igd_cache_write(file, gateway_of("10.9.8.6"), &igd);
	assert_int_equal(natt_igd_cache_read(file, gateway_of("10.9.8.6"), &cached), 0);
	assert_string_equal(cached.location, "http://10.9.8.6:5000/rootDesc.xml");
	assert_int_equal(cached.bootid, 1789);
	assert_string_equal(cached.control_url, "");
	snprintf(igd.location, sizeof(igd.location), "http://10.9.8.6:5001/rootDesc.xml");
	igd.bootid = -1;
	natt_igd_cache_write(file, gateway_of("10.9.8.6"), &igd);
	assert_int_equal(natt_igd_cache_read(file, gateway_of("10.9.8.6"), &cached), 0);
	assert_string_equal(cached.location, "http://10.9.8.6:5001/rootDesc.xml");
	assert_int_equal(cached.bootid, -1);
}

static void write_igd_cache(const char *dir, const char *text)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/.natt-gateway-10.9.8.6.igd", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The cache names the services an opening took, so that the next process need not read the
 * description: written and read back whole; a file of an earlier natt (URL and bootid alone) reads as
 * one without services; lines of unknown words are skipped; half a service is none. */
static void test_igd_cache_services(void **state)
{
	(void)state;
	char dir[] = "/tmp/natt-igdcache-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char file[PATH_MAX];
	snprintf(file, sizeof(file), "%s/status.json", dir);
	struct natt_igd igd, cached;
	natt_igd_close(&igd);
	snprintf(igd.location, sizeof(igd.location), "http://10.9.8.6:5000/rootDesc.xml");
	snprintf(igd.control_url, sizeof(igd.control_url), "http://10.9.8.6:5000/ctl/IPConn");
	snprintf(igd.service_type, sizeof(igd.service_type), "%s", NATT_UPNP_WANIP2);
	snprintf(igd.fc_control_url, sizeof(igd.fc_control_url), "http://10.9.8.6:5000/ctl/IP6FCtl");
	snprintf(igd.fc_service_type, sizeof(igd.fc_service_type), "urn:schemas-upnp-org:service:WANIPv6FirewallControl:1");
	igd.bootid = 7;
	natt_igd_cache_write(file, gateway_of("10.9.8.6"), &igd);
	assert_int_equal(natt_igd_cache_read(file, gateway_of("10.9.8.6"), &cached), 0);
	assert_string_equal(cached.location, igd.location);
	assert_int_equal(cached.bootid, 7);
	assert_string_equal(cached.control_url, igd.control_url);
	assert_string_equal(cached.service_type, NATT_UPNP_WANIP2);
	assert_string_equal(cached.fc_control_url, igd.fc_control_url);
	assert_string_equal(cached.fc_service_type, igd.fc_service_type);
	assert_false(cached.open);

	write_igd_cache(dir, "http://10.9.8.6:5000/rootDesc.xml\nbootid 12\n");
	assert_int_equal(natt_igd_cache_read(file, gateway_of("10.9.8.6"), &cached), 0);
	assert_int_equal(cached.bootid, 12);
	assert_string_equal(cached.control_url, "");
	assert_string_equal(cached.service_type, "");

	write_igd_cache(dir, "http://10.9.8.6:5000/rootDesc.xml\nlater something\ncontrol http://10.9.8.6:5000/c\n"
	                     "bootid x\nservice " NATT_UPNP_WANIP1 "\nfirewall http://10.9.8.6:5000/f\n");
	assert_int_equal(natt_igd_cache_read(file, gateway_of("10.9.8.6"), &cached), 0);
	assert_int_equal(cached.bootid, -1);
	assert_string_equal(cached.control_url, "http://10.9.8.6:5000/c");
	assert_string_equal(cached.service_type, NATT_UPNP_WANIP1);
	assert_string_equal(cached.fc_control_url, ""); /* (no type) */

	write_igd_cache(dir, "http://10.9.8.6:5000/rootDesc.xml\ncontrol http://10.9.8.6:5000/c\n");
	assert_int_equal(natt_igd_cache_read(file, gateway_of("10.9.8.6"), &cached), 0);
	assert_string_equal(cached.control_url, "");

	/* empty lines are lines like others */
	write_igd_cache(dir, "http://10.9.8.6:5000/rootDesc.xml\n\n\ncontrol http://10.9.8.6:5000/c\n\nservice " NATT_UPNP_WANIP1 "\n");
	assert_int_equal(natt_igd_cache_read(file, gateway_of("10.9.8.6"), &cached), 0);
	assert_string_equal(cached.control_url, "http://10.9.8.6:5000/c");
	assert_string_equal(cached.service_type, NATT_UPNP_WANIP1);

	/* a service whose URL holds a line break (a description may) is not written: it would be a line
	 * of its own */
	snprintf(igd.control_url, sizeof(igd.control_url), "http://10.9.8.6:5000/c\nservice x");
	natt_igd_cache_write(file, gateway_of("10.9.8.6"), &igd);
	assert_int_equal(natt_igd_cache_read(file, gateway_of("10.9.8.6"), &cached), 0);
	assert_string_equal(cached.location, igd.location);
	assert_string_equal(cached.control_url, "");
	assert_string_equal(cached.service_type, "");
	assert_string_equal(cached.fc_control_url, "");

	/* what the writer would not write is not read either: a space, a tab or a control character in
	 * a value (the firewall line's type ends at the line) */
	write_igd_cache(dir, "http://10.9.8.6:5000/rootDesc.xml\ncontrol http://10.9.8.6:5000/c d\nservice " NATT_UPNP_WANIP1
	                     "\nfirewall http://10.9.8.6:5000/f urn:x\tWANIPv6FirewallControl:1\n");
	assert_int_equal(natt_igd_cache_read(file, gateway_of("10.9.8.6"), &cached), 0);
	assert_string_equal(cached.control_url, "");
	assert_string_equal(cached.service_type, "");
	assert_string_equal(cached.fc_control_url, "");
	write_igd_cache(dir, "http://10.9.8.6:5000/root\001Desc.xml\n");
	assert_true(natt_igd_cache_read(file, gateway_of("10.9.8.6"), &cached) < 0);

	/* the description path leaves a file that already says it all untouched: what was read back holds
	 * what was written, and any one value changed does not */
	snprintf(igd.control_url, sizeof(igd.control_url), "http://10.9.8.6:5000/ctl/IPConn");
	natt_igd_cache_write(file, gateway_of("10.9.8.6"), &igd);
	assert_int_equal(natt_igd_cache_read(file, gateway_of("10.9.8.6"), &cached), 0);
	assert_true(natt_igd_cache_holds(&cached, &igd));
	struct natt_igd other = igd;
	other.bootid = 8;
	assert_false(natt_igd_cache_holds(&cached, &other));
	other = igd;
	snprintf(other.control_url, sizeof(other.control_url), "http://10.9.8.6:5000/ctl/IPConn2");
	assert_false(natt_igd_cache_holds(&cached, &other));
	other = igd;
	snprintf(other.service_type, sizeof(other.service_type), "%s", NATT_UPNP_WANIP1);
	assert_false(natt_igd_cache_holds(&cached, &other));
	other = igd;
	other.fc_control_url[0] = other.fc_service_type[0] = '\0';
	assert_false(natt_igd_cache_holds(&cached, &other));
	other = igd;
	snprintf(other.location, sizeof(other.location), "http://10.9.8.6:5001/rootDesc.xml");
	assert_false(natt_igd_cache_holds(&cached, &other));
	/* a firewall service whose type the file cannot hold: written without it, and that file holds it */
	other = igd;
	snprintf(other.fc_service_type, sizeof(other.fc_service_type), "urn:x WANIPv6FirewallControl:1");
	natt_igd_cache_write(file, gateway_of("10.9.8.6"), &other);
	assert_int_equal(natt_igd_cache_read(file, gateway_of("10.9.8.6"), &cached), 0);
	assert_string_equal(cached.fc_control_url, "");
	assert_true(natt_igd_cache_holds(&cached, &other));
	assert_false(natt_igd_cache_holds(&cached, &igd));

	/* the description URL must still be the gateway's own, and there */
	write_igd_cache(dir, "http://10.9.8.7:5000/rootDesc.xml\ncontrol http://10.9.8.7:5000/c\nservice " NATT_UPNP_WANIP1 "\n");
	assert_true(natt_igd_cache_read(file, gateway_of("10.9.8.6"), &cached) < 0);
	write_igd_cache(dir, "\ncontrol http://10.9.8.6:5000/c\n");
	assert_true(natt_igd_cache_read(file, gateway_of("10.9.8.6"), &cached) < 0);

	char rm[PATH_MAX + 16];
	snprintf(rm, sizeof(rm), "rm -rf %s", dir);
	assert_int_equal(system(rm), 0);
}

/* SipHash-2-4, the PCP nonces' keyed hash: the reference vectors (key 00..0f; messages of 0, 8 and 15
 * bytes 00, 01, ...). */
static void test_siphash_vectors(void **state)
{
	(void)state;
	uint8_t key[16], msg[15];
	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	assert_true(natt_siphash24(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
	assert_true(natt_siphash24(key, msg, 8) == 0x93f5f5799a932462ULL);
	assert_true(natt_siphash24(key, msg, 15) == 0xa129ca6149be45e5ULL);
}

/* The PCP key: made once (mode 0600), the same for every later reader; two processes making it at the
 * same moment end with one key; a symlink or a non-key at its name is never written through or
 * replaced. */
static void test_pcp_key(void **state)
{
	(void)state;
	char dir[PATH_MAX], file[PATH_MAX + 32], at[PATH_MAX + 64], created[PATH_MAX];
	uint8_t a[NATT_PCP_KEY_SIZE], b[NATT_PCP_KEY_SIZE];
	make_dir("key", 0700, dir, sizeof(dir));
	snprintf(file, sizeof(file), "%s/status.json", dir);
	snprintf(at, sizeof(at), "%s/.natt-pcp-key", dir);
	assert_int_equal(natt_pcp_key(file, a), 0);
	struct stat st;
	assert_int_equal(stat(at, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(natt_pcp_key(file, b), 0);
	assert_memory_equal(a, b, sizeof(a));

	/* Racing creators (after fork: fresh processes, no key read yet) all read the winner's key. */
	make_dir("race", 0700, dir, sizeof(dir));
	snprintf(file, sizeof(file), "%s/status.json", dir);
	int fds[4][2];
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pipe(fds[i]), 0);
		if (fork() == 0) {
			uint8_t k[NATT_PCP_KEY_SIZE] = { 0 };
			int rc = natt_pcp_key(file, k);
			if (write(fds[i][1], &rc, sizeof(rc)) < 0 || write(fds[i][1], k, sizeof(k)) < 0)
				_exit(2);
			_exit(0);
		}
		close(fds[i][1]);
	}
	uint8_t first[NATT_PCP_KEY_SIZE];
	for (int i = 0; i < 4; i++) {
		int rc = -1;
		uint8_t k[NATT_PCP_KEY_SIZE];
		assert_int_equal(read(fds[i][0], &rc, sizeof(rc)), (ssize_t)sizeof(rc));
		assert_int_equal(read(fds[i][0], k, sizeof(k)), (ssize_t)sizeof(k));
		close(fds[i][0]);
		assert_int_equal(rc, 0);
		if (i == 0)
			memcpy(first, k, sizeof(k));
		assert_memory_equal(first, k, sizeof(k));
		wait(NULL);
	}

	make_dir("planted", 0700, dir, sizeof(dir));
	snprintf(file, sizeof(file), "%s/status.json", dir);
	snprintf(at, sizeof(at), "%s/.natt-pcp-key", dir);
	path_in(created, sizeof(created), "created-by-pcp-key");
	assert_int_equal(symlink(created, at), 0);
	assert_true(natt_pcp_key(file, a) < 0);
	assert_int_equal(access(created, F_OK), -1);
	assert_int_equal(unlink(at), 0);
	write_text(at, "not a key\n");
	assert_true(natt_pcp_key(file, a) < 0);
	assert_string_equal(read_text(at), "not a key\n");
}

/* A FIFO at the status file: the write neither blocks nor keeps anything of it. */
static void test_status_fifo(void **state)
{
	(void)state;
	char dir[PATH_MAX], file[PATH_MAX + 32];
	make_dir("fifo", 0700, dir, sizeof(dir));
	snprintf(file, sizeof(file), "%s/status.json", dir);
	assert_int_equal(mkfifo(file, 0600), 0);
	alarm(10);
	assert_int_equal(natt_status_write(file, NULL, NULL, NULL), 0);
	alarm(0);
	struct stat st;
	assert_int_equal(lstat(file, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

static unsigned long long start_of(pid_t pid)
{
	char path[64], text[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	char *p = strrchr(text, ')');
	assert_non_null(p);
	unsigned long long start = 0;
	/* fields 3.. after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
	 * stime cutime cstime priority nice threads itrealvalue starttime */
	assert_int_equal(sscanf(p + 2, "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
	                               "%*s %llu", &start), 1);
	return start;
}

/* Whether the status text lists a socket on local port (parsed: a pid or a start time may contain the
 * same digits). */
static bool lists_port(const char *text, int port)
{
	struct natt_json *doc = natt_json_parse(text, strlen(text), NULL, 0);
	assert_non_null(doc);
	const struct natt_json *sockets = natt_json_get(doc, "sockets");
	bool found = false;
	for (size_t i = 0; i < natt_json_array_len(sockets); i++)
		found |= natt_json_number(natt_json_get(natt_json_array_at(sockets, i), "local_port")) == port;
	natt_json_free(doc);
	return found;
}

/* Entries of other processes: kept while that very process lives; dropped for pid 1 (always there)
 * and for pids that are no integers (1e300, 1.5); and the whole file is ignored past the size cap. */
static void test_other_entries(void **state)
{
	(void)state;
	char dir[PATH_MAX], file[PATH_MAX + 32];
	make_dir("others", 0700, dir, sizeof(dir));
	snprintf(file, sizeof(file), "%s/status.json", dir);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* gone with us, even when an assertion ends us */
		pause();
		_exit(0);
	}
	unsigned long long start = start_of(child);
	char text[4096];
	/* Entries a watcher wrote for the child ("publisher"): kept while that very watcher lives (here
	 * the child watches itself), dropped when the publisher is this writer (it replaces them), pid 1,
	 * a reused pid (another start) or no number. */
	unsigned long long me = start_of(getpid());
	snprintf(text, sizeof(text),
	         "{ \"sockets\": [ { \"pid\": %d, \"start\": %llu, \"protocol\": \"tcp\", \"local_port\": 1111 },"
	         " { \"pid\": %d, \"start\": %llu, \"protocol\": \"tcp\", \"local_port\": 2222 },"
	         " { \"pid\": 1, \"protocol\": \"tcp\", \"local_port\": 3333 },"
	         " { \"pid\": 1.5, \"protocol\": \"tcp\", \"local_port\": 4444 },"
	         " { \"pid\": 1e300, \"protocol\": \"tcp\", \"local_port\": 5555 },"
	         " { \"pid\": %d, \"start\": %llu, \"publisher\": %d, \"publisher_start\": %llu, \"local_port\": 6161 },"
	         " { \"pid\": %d, \"start\": %llu, \"publisher\": %d, \"publisher_start\": %llu, \"local_port\": 6262 },"
	         " { \"pid\": %d, \"start\": %llu, \"publisher\": 1, \"publisher_start\": 0, \"local_port\": 6363 },"
	         " { \"pid\": %d, \"start\": %llu, \"publisher\": %d, \"publisher_start\": %llu, \"local_port\": 6464 },"
	         " { \"pid\": %d, \"start\": %llu, \"publisher\": \"x\", \"local_port\": 6565 } ] }",
	         (int)child, start, (int)child, start + 1, (int)child, start, (int)child, start, (int)child, start,
	         (int)getpid(), me, (int)child, start, (int)child, start, (int)child, start + 1, (int)child, start);
	write_text(file, text);
	assert_int_equal(natt_status_write(file, NULL, NULL, NULL), 0);
	char *now = read_text(file);
	assert_true(lists_port(now, 1111));
	assert_false(lists_port(now, 2222)); /* another process of that pid, earlier */
	assert_false(lists_port(now, 3333));
	assert_false(lists_port(now, 4444));
	assert_false(lists_port(now, 5555));
	assert_true(lists_port(now, 6161));
	assert_false(lists_port(now, 6262));
	assert_false(lists_port(now, 6363));
	assert_false(lists_port(now, 6464));
	assert_false(lists_port(now, 6565));
	/* Kept as they stood (spaces and all), between separators of the writer's: still one document. */
	assert_non_null(strstr(now, "\"protocol\": \"tcp\", \"local_port\": 1111 }"));
	struct natt_json *doc = natt_json_parse(now, strlen(now), NULL, 0);
	assert_non_null(doc);
	assert_int_equal(natt_json_array_len(natt_json_get(doc, "sockets")), 2);
	natt_json_free(doc);
	/* Side by side, they stay one piece of the file; the child's end takes them away at the next write. */
	snprintf(text, sizeof(text),
	         "{\"sockets\":[{\"pid\":%d,\"start\":%llu,\"local_port\":7171} ,\n\t{\"pid\":%d,\"start\":%llu,"
	         "\"local_port\":7272}]}",
	         (int)child, start, (int)child, start);
	write_text(file, text);
	assert_int_equal(natt_status_write(file, NULL, NULL, NULL), 0);
	assert_non_null(strstr(read_text(file), "7171} ,\n\t{\"pid\""));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	assert_int_equal(natt_status_write(file, NULL, NULL, NULL), 0);
	assert_false(lists_port(read_text(file), 7171));

	/* The same live entry in a file past the cap: the file is replaced, not parsed. */
	size_t big = NATT_STATUS_MAX_BYTES + 1024;
	char *huge = malloc(big + 1);
	assert_non_null(huge);
	int head = snprintf(huge, big, "{ \"sockets\": [ { \"pid\": %d, \"start\": %llu, \"local_port\": 1111 } ], "
	                    "\"pad\": \"", (int)getppid(), start_of(getppid()));
	memset(huge + head, 'x', big - (size_t)head - 3);
	memcpy(huge + big - 3, "\" }", 3);
	huge[big] = '\0';
	write_text(file, huge);
	free(huge);
	assert_int_equal(natt_status_write(file, NULL, NULL, NULL), 0);
	assert_false(lists_port(read_text(file), 1111));
}

/* A file of many entries, read into memory whose pages are made before the read (past 64 KB): every
 * entry of the live process comes through the write as it stood, the last byte too. */
static void test_large_file_kept(void **state)
{
	(void)state;
	char dir[PATH_MAX], file[PATH_MAX + 32];
	make_dir("large", 0700, dir, sizeof(dir));
	snprintf(file, sizeof(file), "%s/status.json", dir);
	enum { ENTRIES = 700 };
	size_t cap = (size_t)ENTRIES * 512 + 64, used = 0;
	char *text = malloc(cap);
	assert_non_null(text);
	pid_t parent = getppid();
	unsigned long long start = start_of(parent);
	used += (size_t)snprintf(text + used, cap - used, "{ \"sockets\": [");
	for (int i = 0; i < ENTRIES; i++) {
		char pad[401];
		memset(pad, 'a' + i % 26, 400);
		pad[400] = '\0';
		used += (size_t)snprintf(text + used, cap - used,
		                         "%s\n    { \"pid\": %d, \"start\": %llu, \"local_port\": %d, \"pad\": \"%s\" }",
		                         i ? "," : "", (int)parent, start, 20000 + i, pad);
	}
	used += (size_t)snprintf(text + used, cap - used, "\n  ] }\n");
	assert_true(used > 256 * 1024);
	write_text(file, text);
	assert_int_equal(natt_status_write(file, NULL, NULL, NULL), 0);
	FILE *f = fopen(file, "r");
	assert_non_null(f);
	char *now = calloc(1, cap + 1024);
	assert_non_null(now);
	size_t got = fread(now, 1, cap + 1023, f);
	fclose(f);
	assert_true(got > used - 64 && got < cap + 1023);
	/* The entries' text, from the first to the last, unchanged. */
	const char *first = strstr(text, "{ \"pid\""), *last = strrchr(text, '}');
	last = memrchr(text, '}', (size_t)(last - text)); /* the last entry's end (the document's is after) */
	size_t span = (size_t)(last - first) + 1;
	const char *found = strstr(now, "{ \"pid\"");
	assert_non_null(found);
	assert_true(strlen(found) >= span);
	assert_memory_equal(found, first, span);
	struct natt_json *doc = natt_json_parse(now, strlen(now), NULL, 0);
	assert_non_null(doc);
	assert_int_equal(natt_json_array_len(natt_json_get(doc, "sockets")), ENTRIES);
	natt_json_free(doc);
	free(now);
	free(text);
}

/* XDG_RUNTIME_DIR of another user (sudo keeps it) is not where natt writes. */
static void test_foreign_runtime_dir(void **state)
{
	(void)state;
	char dir[PATH_MAX], def[PATH_MAX], expected[64];
	const char *foreign = "/";
	if (geteuid() == 0) {
		make_dir("xdg-foreign", 0700, dir, sizeof(dir));
		assert_int_equal(chown(dir, 65534, 65534), 0);
		foreign = dir;
	}
	setenv("XDG_RUNTIME_DIR", foreign, 1);
	natt_default_status_path(def, sizeof(def));
	setenv("XDG_RUNTIME_DIR", root, 1);
	snprintf(expected, sizeof(expected), "/tmp/natt-%u/status.json", (unsigned)geteuid());
	assert_string_equal(def, expected);
	natt_default_status_path(def, sizeof(def));
	assert_true(strncmp(def, root, strlen(root)) == 0);
}

/* ---- the lock's waiters: at most NATT_LOCK_WATCHERS watch for its release, one holds it at a time */

/* Write locks on the file st names (/proc/locks: "1: POSIX ADVISORY WRITE PID MAJ:MIN:INODE START
 * END"): of one byte each (whole false) or from 0 to EOF (whole true); -1 when unreadable. */
static int write_locks(const struct stat *st, bool whole)
{
	FILE *f = fopen("/proc/locks", "r");
	if (!f)
		return -1;
	char line[256], type[16], rw[16], start[32], end[32];
	unsigned maj, min;
	unsigned long long ino;
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "->") || /* (a blocked request, not a lock) */
		    sscanf(line, "%*s %15s %*s %15s %*d %x:%x:%llu %31s %31s", type, rw, &maj, &min, &ino, start, end) != 7 ||
		    strcmp(type, "POSIX") != 0 || strcmp(rw, "WRITE") != 0 || ino != (unsigned long long)st->st_ino ||
		    maj != major(st->st_dev) || min != minor(st->st_dev))
			continue;
		n += whole ? strcmp(start, "0") == 0 && strcmp(end, "EOF") == 0 : strcmp(start, end) == 0;
	}
	fclose(f);
	return n;
}

/* The inotify instances process pid has open, and the watches in them (/proc/PID/fdinfo: a line
 * "inotify wd:..." per watch). Returns the number of the last instance found, or -1. */
static int inotify_state(pid_t pid, int *instances, int *watches)
{
	*instances = *watches = 0;
	int last = -1;
	char dir[64];
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(dir);
	for (struct dirent *e; d && (e = readdir(d));) {
		char link[64], info[320], line[256];
		ssize_t len = readlinkat(dirfd(d), e->d_name, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (strcmp(link, "anon_inode:inotify") != 0)
			continue;
		(*instances)++;
		last = atoi(e->d_name);
		snprintf(info, sizeof(info), "/proc/%d/fdinfo/%s", (int)pid, e->d_name);
		FILE *f = fopen(info, "r");
		while (f && fgets(line, sizeof(line), f))
			*watches += strncmp(line, "inotify wd:", 11) == 0;
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return last;
}

/* How many of these processes watch with inotify (a watch in an instance they have open). */
static int watching_processes(const pid_t *pids, int count)
{
	int n = 0;
	for (int i = 0; i < count; i++) {
		int instances, watches;
		inotify_state(pids[i], &instances, &watches);
		n += watches > 0;
	}
	return n;
}

static void test_lock_waiters(void **state)
{
	(void)state;
	enum { WAITERS = NATT_LOCK_WATCHERS + 4, ROUNDS = 3 };
	int probes[NATT_LOCK_WATCHERS], made = 0;
	while (made < NATT_LOCK_WATCHERS && (probes[made] = inotify_init1(IN_CLOEXEC)) >= 0)
		made++;
	for (int i = 0; i < made; i++)
		close(probes[i]);
	if (made < NATT_LOCK_WATCHERS)
		skip(); /* (too few inotify instances left for this user: some watchers would poll) */
	char dir[PATH_MAX], path[PATH_MAX + 32], places[PATH_MAX + 32];
	make_dir("waiters", 0700, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/w.lock", dir);
	snprintf(places, sizeof(places), "%s/w.lock.w", dir);
	int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(dir_fd >= 0 && fd >= 0);
	assert_int_equal(natt_lock_file(dir_fd, "w.lock", fd, 1000), 0);
	struct stat lock_st = { 0 }, places_st = { 0 };
	assert_int_equal(fstat(fd, &lock_st), 0);
	int whole = write_locks(&lock_st, true);
	/* Inside the lock, each child writes its mark at offset 100 and checks it is still there before
	 * it lets go: a second holder at the same time would overwrite it. */
	pid_t kids[WAITERS];
	for (int i = 0; i < WAITERS; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			close(fd); /* (the parent's: its close must be the last, to be seen) */
			for (int round = 0; round < ROUNDS; round++) {
				int own = open(path, O_RDWR | O_CLOEXEC);
				if (own < 0 || natt_lock_file(dir_fd, "w.lock", own, 20000) < 0)
					_exit(2);
				char mark = (char)('a' + i), seen = 0;
				if (pwrite(own, &mark, 1, 100) != 1)
					_exit(3);
				usleep(2000);
				if (pread(own, &seen, 1, 100) != 1 || seen != mark)
					_exit(1);
				close(own);
			}
			_exit(0);
		}
	}
	/* All wait: NATT_LOCK_WATCHERS of them hold a place beside the lock and watch, the others look
	 * now and then. */
	int places_held = 0;
	for (int waited = 0; waited < 10000 && (stat(places, &places_st) < 0 ||
	                                         (places_held = write_locks(&places_st, false)) < NATT_LOCK_WATCHERS);
	     waited += 10)
		usleep(10000);
	usleep(100000); /* (time enough for a waiter beyond them to watch, which must never happen) */
	int places_later, watchers;
	for (int waited = 0;; waited += 10) {
		/* (a waiter with a place opens its watch a moment after) */
		places_later = write_locks(&places_st, false);
		watchers = watching_processes(kids, WAITERS);
		if ((places_later == NATT_LOCK_WATCHERS && watchers == NATT_LOCK_WATCHERS) || places_later < 0 ||
		    waited >= 5000)
			break;
		usleep(10000);
	}
	close(fd); /* lets the children go */
	for (int i = 0; i < WAITERS; i++) {
		int status;
		assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	close(dir_fd);
	if (whole < 0)
		skip(); /* (no /proc/locks: the exclusion above still held) */
	assert_int_equal(whole, 1); /* the lock itself: the whole file, as documented */
	assert_int_equal(places_held, NATT_LOCK_WATCHERS);
	assert_int_equal(places_later, NATT_LOCK_WATCHERS);
	assert_int_equal(watchers, NATT_LOCK_WATCHERS);
}

/* Whether process pid watches with inotify within 5 s. */
static bool wait_watching(pid_t pid)
{
	for (int waited = 0; waited < 5000; waited += 5) {
		int instances, watches;
		inotify_state(pid, &instances, &watches);
		if (watches > 0)
			return true;
		usleep(5000);
	}
	return false;
}

static int take_lock(const char *path, int dir_fd)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || natt_lock_file(dir_fd, "k.lock", fd, 20000) < 0)
		return -1;
	return fd;
}

static bool say(int fd, int value)
{
	return write(fd, &value, sizeof(value)) == (ssize_t)sizeof(value);
}

static int hear(int fd)
{
	int value = -1;
	return read(fd, &value, sizeof(value)) == (ssize_t)sizeof(value) ? value : -1;
}

/* As the shim does for the program's dup2() onto natt's fd: the kept instance moves to another number
 * (the next wait must watch there), and a pipe of the program's, one byte in it, takes the old one
 * (natt must neither read nor close it). The old number, or -1 when natt did not follow the move. */
static int move_inotify_instance(void)
{
	int instances, watches, pipe_fds[2];
	int found = inotify_state(getpid(), &instances, &watches);
	int moved = found >= 0 ? fcntl(found, F_DUPFD_CLOEXEC, 200) : -1;
	if (moved < 0 || !natt_engine_fd_moved(found, moved) || pipe2(pipe_fds, O_NONBLOCK) < 0 ||
	    write(pipe_fds[1], "p", 1) != 1 || dup2(pipe_fds[0], found) != found)
		return -1;
	close(pipe_fds[0]);
	close(pipe_fds[1]);
	return found;
}

/* The waiting process: waits twice, telling after each wait what it holds (instances * 10 + watches),
 * letting go when told (1) and going on once the parent holds the lock again (2), its instance moved
 * to another number after the first; then forks a child that waits once; then ends natt's waits,
 * and finds its pipe as it left it. */
static _Noreturn void keeping_waiter(const char *path, int dir_fd, int to_parent, int from_parent)
{
	int program_pipe = -1;
	for (int round = 0; round < 2; round++) {
		int fd = take_lock(path, dir_fd), instances, watches;
		if (fd < 0)
			_exit(2);
		inotify_state(getpid(), &instances, &watches);
		if (!say(to_parent, instances * 10 + watches))
			_exit(9);
		if (hear(from_parent) != 1)
			_exit(3);
		close(fd);
		if (hear(from_parent) != 2) /* (it holds the lock again: the next wait is a wait) */
			_exit(3);
		if (round == 0 && (program_pipe = move_inotify_instance()) < 0)
			_exit(7);
	}
	pid_t child = fork();
	if (child == 0) {
		natt_engine_atfork_child(); /* (what the engine's fork handler does in a child) */
		int fd = take_lock(path, dir_fd);
		_exit(fd < 0 ? 4 : 0);
	}
	if (!say(to_parent, (int)child))
		_exit(9);
	int status;
	if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		_exit(5);
	natt_lock_waits_close();
	int instances, watches;
	inotify_state(getpid(), &instances, &watches);
	char byte = 0;
	bool pipe_kept = read(program_pipe, &byte, 1) == 1 && byte == 'p';
	_exit(instances != 0 ? 6 : !pipe_kept ? 8 : 0);
}

/* A waiter's inotify instance is kept for its next wait (closing one waits for the kernel, while the
 * waiter holds the lock it just took), with no watch left in it between waits, and followed when the
 * program moves it; a fork child makes one of its own (in the parent's, the two would see each
 * other's watches); natt_lock_waits_close() closes it (natt's thread, when it goes idle). */
static void test_lock_wait_keeps_its_watch_instance(void **state)
{
	(void)state;
	int probe = inotify_init1(IN_CLOEXEC);
	if (probe < 0)
		skip(); /* (no inotify instance left for this user) */
	close(probe);
	char dir[PATH_MAX], path[PATH_MAX + 32];
	make_dir("keeping", 0700, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/k.lock", dir);
	int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600), up[2], down[2];
	assert_true(dir_fd >= 0 && fd >= 0 && pipe(up) == 0 && pipe(down) == 0);
	assert_int_equal(natt_lock_file(dir_fd, "k.lock", fd, 1000), 0);
	pid_t waiter = fork();
	assert_true(waiter >= 0);
	if (waiter == 0) {
		close(fd);
		close(up[0]);
		close(down[1]);
		keeping_waiter(path, dir_fd, up[1], down[0]);
	}
	close(up[1]); /* (a waiter that ends early is heard as -1, not waited for; told: EPIPE) */
	close(down[0]);
	signal(SIGPIPE, SIG_IGN);
	int held[2];
	for (int round = 0; round < 2; round++) {
		assert_true(wait_watching(waiter));
		close(fd); /* the waiter takes it */
		held[round] = hear(up[0]);
		fd = open(path, O_RDWR | O_CLOEXEC);
		assert_true(say(down[1], 1)); /* let go; we take it again */
		assert_int_equal(natt_lock_file(dir_fd, "k.lock", fd, 5000), 0);
		assert_true(say(down[1], 2));
	}
	/* the waiter's child waits in an instance of its own: its watch is not in the waiter's */
	pid_t child = (pid_t)hear(up[0]);
	assert_true(child > 0);
	assert_true(wait_watching(child));
	int instances, watches, child_instances, child_watches;
	inotify_state(waiter, &instances, &watches);
	inotify_state(child, &child_instances, &child_watches);
	close(fd);
	int status;
	assert_int_equal(waitpid(waiter, &status, 0), waiter);
	close(dir_fd);
	close(up[0]);
	close(down[1]);
	natt_lock_waits_close(); /* (ours, if we waited for the waiter to let go) */
	signal(SIGPIPE, SIG_DFL);
	/* after each wait: one instance, no watch in it */
	assert_int_equal(held[0], 10);
	assert_int_equal(held[1], 10);
	assert_int_equal(instances, 1);
	assert_int_equal(watches, 0);
	assert_int_equal(child_instances, 1);
	assert_int_equal(child_watches, 1);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0); /* the child took the lock; the instance closed at the end */
}

/* Waits at a lock that others hold, in steps of TURN_MS. Holders are children that each lock one byte
 * of the file: a whole-file lock stays out of reach while they hold, and passes from one to another
 * without a gap (natt's processes hand the whole file on with one, where the waiter might win). */
#define TURN_MS 600

static int64_t mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void sleep_until_ms(int64_t when)
{
	struct timespec t = { (time_t)(when / 1000), (long)(when % 1000) * 1000000 };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
		;
}

/* The pid holding a lock that keeps a whole-file lock of fd off (0: none). */
static pid_t byte_holder(int fd)
{
	struct flock probe = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	return fcntl(fd, F_GETLK, &probe) == 0 && probe.l_type != F_UNLCK ? probe.l_pid : 0;
}

/* A child holding byte `byte` of path until killed, or until until_ms (0: never); with every_ms > 0,
 * telling a router's answer (natt_gateway_answered) every every_ms meanwhile, as a holder of the
 * gateway lock does. Returns once it holds. */
static pid_t hold_byte(const char *path, int byte, int64_t until_ms, int every_ms)
{
	int ready[2];
	assert_int_equal(pipe(ready), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(ready[0]);
		int fd = open(path, O_RDWR | O_CLOEXEC);
		struct flock range = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };
		if (fd < 0 || fcntl(fd, F_SETLK, &range) < 0 || write(ready[1], "r", 1) != 1)
			_exit(1);
		for (int64_t at = mono_ms() + every_ms; every_ms > 0 && (!until_ms || at < until_ms); at += every_ms) {
			sleep_until_ms(at);
			natt_gateway_answered(fd);
		}
		if (until_ms)
			sleep_until_ms(until_ms);
		else
			for (;;)
				pause();
		_exit(0);
	}
	close(ready[1]);
	char byte_read = 0;
	assert_int_equal(read(ready[0], &byte_read, 1), 1);
	close(ready[0]);
	return pid;
}

static int turns_lock_file(const char *name, char *path, size_t len)
{
	char dir[PATH_MAX];
	make_dir(name, 0700, dir, sizeof(dir));
	snprintf(path, len, "%s/t.lock", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	return fd;
}

struct lock_wait {
	int rc;
	int64_t waited_ms;
	unsigned answers; /* answers seen meanwhile */
};

static struct lock_wait wait_for_lock(int fd, int timeout_ms)
{
	unsigned before = natt_lock_answers_seen();
	int64_t start = mono_ms();
	struct lock_wait w = { .rc = natt_lock_file(-1, "t.lock", fd, timeout_ms) };
	w.waited_ms = mono_ms() - start;
	w.answers = natt_lock_answers_seen() - before;
	return w;
}

/* Every TURN_MS, ends whichever holder the lock file names, until none is left. */
struct turns {
	int fd, count;
	bool ok;
};

static void *end_holders_in_turn(void *arg)
{
	struct turns *t = arg;
	t->ok = true;
	for (int i = 0; i < t->count; i++) {
		usleep(TURN_MS * 1000);
		pid_t holder = byte_holder(t->fd);
		int status;
		if (holder <= 0 || kill(holder, SIGKILL) != 0 || waitpid(holder, &status, 0) != holder)
			t->ok = false;
	}
	return NULL;
}

/* A lock that changes hands is not stuck: the wait lasts while it does, past the timeout (which bounds
 * one holder's time). Turns alone are no answer of the router: nothing counted. */
static void test_lock_wait_follows_turns(void **state)
{
	(void)state;
	char path[PATH_MAX + 32];
	int fd = turns_lock_file("turns", path, sizeof(path));
	for (int k = 0; k < 3; k++)
		hold_byte(path, k, 0, 0);
	struct turns turns = { fd, 3, false };
	pthread_t thread;
	assert_int_equal(pthread_create(&thread, NULL, end_holders_in_turn, &turns), 0);
	struct lock_wait w = wait_for_lock(fd, TURN_MS + TURN_MS / 2);
	pthread_join(thread, NULL);
	close(fd);
	assert_true(turns.ok);
	assert_int_equal(w.rc, 0);
	assert_true(w.waited_ms >= 3 * TURN_MS - 50); /* (free at the third end only) */
	assert_int_equal(w.answers, 0);
}

/* One holder that the router keeps answering is not stuck either, and the answers are counted (the
 * clean-up at exit takes them for progress: many processes ending at once queue at the gateway). */
static void test_lock_wait_follows_answers(void **state)
{
	(void)state;
	char path[PATH_MAX + 32];
	int fd = turns_lock_file("answers", path, sizeof(path));
	int64_t t0 = mono_ms();
	pid_t kid = hold_byte(path, 0, t0 + 3 * TURN_MS + TURN_MS / 2, TURN_MS);
	struct lock_wait w = wait_for_lock(fd, TURN_MS + TURN_MS / 2);
	int64_t last_answer = natt_lock_last_answer_ms();
	int status;
	assert_int_equal(waitpid(kid, &status, 0), kid);
	close(fd);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(w.rc, 0);
	assert_true(w.waited_ms >= 3 * TURN_MS);
	assert_true(w.answers >= 2);
	assert_true(last_answer >= t0 + 2 * TURN_MS);
}

/* One holder that keeps the lock past the timeout, the router silent, is taken for stuck. */
static void test_lock_wait_gives_up_on_one_holder(void **state)
{
	(void)state;
	char path[PATH_MAX + 32];
	int fd = turns_lock_file("stuck", path, sizeof(path));
	pid_t kid = hold_byte(path, 0, 0, 0);
	struct lock_wait w = wait_for_lock(fd, TURN_MS);
	int status;
	kill(kid, SIGKILL);
	assert_int_equal(waitpid(kid, &status, 0), kid);
	close(fd);
	assert_int_equal(w.rc, -ETIMEDOUT);
	assert_true(w.waited_ms >= TURN_MS && w.waited_ms < 2 * TURN_MS);
	assert_int_equal(w.answers, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refuses_open_directory),
		cmocka_unit_test(test_default_directory_strict),
		cmocka_unit_test(test_refuses_foreign_directory),
		cmocka_unit_test(test_refuses_linked_directory),
		cmocka_unit_test(test_planted_symlinks),
		cmocka_unit_test(test_gateway_files),
		cmocka_unit_test(test_igd_cache_services),
		cmocka_unit_test(test_lock_waiters),
		cmocka_unit_test(test_lock_wait_keeps_its_watch_instance),
		cmocka_unit_test(test_lock_wait_follows_turns),
		cmocka_unit_test(test_lock_wait_follows_answers),
		cmocka_unit_test(test_lock_wait_gives_up_on_one_holder),
		cmocka_unit_test(test_siphash_vectors),
		cmocka_unit_test(test_pcp_key),
		cmocka_unit_test(test_status_fifo),
		cmocka_unit_test(test_other_entries),
		cmocka_unit_test(test_large_file_kept),
		cmocka_unit_test(test_foreign_runtime_dir),
	};
	return cmocka_run_group_tests(tests, make_root, remove_root);
}
