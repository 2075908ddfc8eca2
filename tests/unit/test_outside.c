/* Unit tests of lib/outside/: what natt watch sees of other processes. The executable classifier on
 * files made here (a script, this machine's dynamic /bin/true, setuid and setgid copies, ELF files
 * with and without a program interpreter, with a Go build-id note); sock_diag dumps against sockets
 * made here; /proc readings of a child forked here. */
#include <arpa/inet.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "outside/exe.h"
#include "outside/proc.h"
#include "outside/relay.h"
#include "core/status_file.h"
#include "sys/sockdiag.h"

static char dir[] = "/tmp/natt-test-outside.XXXXXX";

static const char *path_in_dir(const char *name)
{
	static char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

static void write_file(const char *name, const void *data, size_t len, mode_t mode)
{
	int fd = open(path_in_dir(name), O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	chmod(path_in_dir(name), mode);
}

/* A minimal 64-bit ELF executable: header, then program headers (an optional PT_INTERP, an optional
 * PT_NOTE holding Go's build-id note), no sections. */
static void write_elf(const char *name, int interp, int go_note)
{
	unsigned char file[512] = { 0 };
	Elf64_Ehdr *h = (Elf64_Ehdr *)file;
	memcpy(h->e_ident, ELFMAG, SELFMAG);
	h->e_ident[EI_CLASS] = ELFCLASS64;
	h->e_ident[EI_DATA] = ELFDATA2LSB;
	h->e_ident[EI_VERSION] = EV_CURRENT;
	h->e_type = ET_EXEC;
	h->e_machine = EM_X86_64;
	h->e_version = EV_CURRENT;
	h->e_phoff = sizeof(*h);
	h->e_phentsize = sizeof(Elf64_Phdr);
	h->e_ehsize = sizeof(*h);
	Elf64_Phdr *ph = (Elf64_Phdr *)(file + sizeof(*h));
	size_t data_at = 300;
	int n = 0;
	if (interp) {
		ph[n++] = (Elf64_Phdr){ .p_type = PT_INTERP, .p_offset = data_at, .p_filesz = 28 };
		memcpy(file + data_at, "/lib64/ld-linux-x86-64.so.2", 28);
		data_at += 32;
	}
	if (go_note) {
		/* namesz 3 ("Go\0"), descsz 4, type 4 (Go's build id) */
		uint32_t note[] = { 3, 4, 4 };
		memcpy(file + data_at, note, sizeof(note));
		memcpy(file + data_at + 12, "Go\0\0", 4);
		memcpy(file + data_at + 16, "abcd", 4);
		ph[n++] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = data_at, .p_filesz = 20 };
	}
	h->e_phnum = (Elf64_Half)n;
	write_file(name, file, sizeof(file), 0755);
}

static void test_classify(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	write_file("script", "#!/bin/sh\nexit 0\n", 17, 0755);
	assert_int_equal(natt_exe_classify(path_in_dir("script")), NATT_EXE_PRELOADABLE);
	write_elf("dynamic", 1, 0);
	assert_int_equal(natt_exe_classify(path_in_dir("dynamic")), NATT_EXE_PRELOADABLE);
	write_elf("static", 0, 0);
	assert_int_equal(natt_exe_classify(path_in_dir("static")), NATT_EXE_STATIC);
	write_elf("go-dynamic", 1, 1);
	assert_int_equal(natt_exe_classify(path_in_dir("go-dynamic")), NATT_EXE_GO);
	write_elf("go-static", 0, 1);
	assert_int_equal(natt_exe_classify(path_in_dir("go-static")), NATT_EXE_GO);
	write_elf("setuid", 0, 1);
	chmod(path_in_dir("setuid"), 04755);
	assert_int_equal(natt_exe_classify(path_in_dir("setuid")), NATT_EXE_SETID);
	write_elf("setgid", 1, 0);
	chmod(path_in_dir("setgid"), 02755);
	assert_int_equal(natt_exe_classify(path_in_dir("setgid")), NATT_EXE_SETID);
	/* this machine's own programs: dynamically linked C programs */
	assert_int_equal(natt_exe_classify("/bin/true"), NATT_EXE_PRELOADABLE);
	/* what is not there or not a regular file is left to the loader */
	assert_int_equal(natt_exe_classify(path_in_dir("missing")), NATT_EXE_PRELOADABLE);
	assert_int_equal(natt_exe_classify(dir), NATT_EXE_PRELOADABLE);
	assert_string_equal(natt_exe_kind_text(NATT_EXE_GO), "is a Go program");
	assert_string_equal(natt_exe_kind_text(NATT_EXE_PRELOADABLE), "");
	const char *names[] = { "script", "dynamic", "static", "go-dynamic", "go-static", "setuid", "setgid" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(path_in_dir(names[i]));
	rmdir(dir);
}

static uint64_t inode_of(int fd)
{
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	return (uint64_t)st.st_ino;
}

static uint16_t port_of(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

static void test_sockdiag(void **state)
{
	(void)state;
	struct sockaddr_in any = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int tcp = socket(AF_INET, SOCK_STREAM, 0), idle = socket(AF_INET, SOCK_STREAM, 0);
	int udp = socket(AF_INET, SOCK_DGRAM, 0), client = socket(AF_INET, SOCK_DGRAM, 0);
	int v6 = socket(AF_INET6, SOCK_STREAM, 0);
	assert_true(tcp >= 0 && idle >= 0 && udp >= 0 && client >= 0);
	assert_int_equal(bind(tcp, (struct sockaddr *)&any, sizeof(any)), 0);
	assert_int_equal(listen(tcp, 1), 0);
	assert_int_equal(bind(idle, (struct sockaddr *)&any, sizeof(any)), 0); /* bound, not listening */
	assert_int_equal(bind(udp, (struct sockaddr *)&any, sizeof(any)), 0);
	struct sockaddr_in peer = any;
	peer.sin_port = htons(port_of(udp));
	assert_int_equal(connect(client, (struct sockaddr *)&peer, sizeof(peer)), 0);
	int v6only = 1;
	if (v6 >= 0) {
		struct sockaddr_in6 any6 = { .sin6_family = AF_INET6 };
		setsockopt(v6, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
		if (bind(v6, (struct sockaddr *)&any6, sizeof(any6)) != 0 || listen(v6, 1) != 0) {
			close(v6);
			v6 = -1; /* no IPv6 here */
		}
	}

	struct natt_sockdiag d;
	assert_int_equal(natt_sockdiag_open(&d), 0);
	assert_int_equal(natt_sockdiag_dump(&d), 0);
	const struct natt_diag_sock *s = natt_sockdiag_find(&d, inode_of(tcp));
	assert_non_null(s);
	assert_int_equal(s->protocol, NATT_TCP);
	assert_int_equal(s->local.ss_family, AF_INET);
	assert_int_equal(ntohs(((const struct sockaddr_in *)&s->local)->sin_port), port_of(tcp));
	assert_null(natt_sockdiag_find(&d, inode_of(idle)));
	s = natt_sockdiag_find(&d, inode_of(udp));
	assert_non_null(s);
	assert_int_equal(s->protocol, NATT_UDP);
	assert_false(s->connected);
	s = natt_sockdiag_find(&d, inode_of(client));
	assert_non_null(s);
	assert_true(s->connected);
	if (v6 >= 0) {
		s = natt_sockdiag_find(&d, inode_of(v6));
		assert_non_null(s);
		assert_int_equal(s->local.ss_family, AF_INET6);
		assert_true(s->v6only);
	}
	/* a closed socket is gone from the next dump */
	uint64_t closed = inode_of(tcp);
	close(tcp);
	assert_int_equal(natt_sockdiag_dump(&d), 0);
	assert_null(natt_sockdiag_find(&d, closed));
	natt_sockdiag_close(&d);
	close(idle);
	close(udp);
	close(client);
	if (v6 >= 0)
		close(v6);
}

static void count_socket(uint64_t inode, void *ctx)
{
	uint64_t *want = ctx;
	if (inode == want[0])
		want[1]++;
}

static void test_proc(void **state)
{
	(void)state;
	int sock = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(sock >= 0);
	int gate[2];
	assert_int_equal(pipe(gate), 0);
	pid_t child = fork();
	if (child == 0) {
		char c;
		close(gate[1]);
		(void)!read(gate[0], &c, 1); /* until the parent is done looking */
		_exit(0);
	}
	close(gate[0]);
	pid_t kids[16];
	size_t n = 0;
	assert_true(natt_proc_children(getpid(), kids, &n, 16) >= 1);
	int found = 0;
	for (size_t i = 0; i < n; i++)
		found |= kids[i] == child;
	assert_true(found);
	/* the child holds our socket too (inherited) */
	uint64_t want[2] = { inode_of(sock), 0 };
	assert_int_equal(natt_proc_sockets(child, count_socket, want), 0);
	assert_int_equal(want[1], 1);
	assert_int_equal(natt_proc_fd_socket(child, sock), inode_of(sock));
	assert_int_equal(natt_proc_fd_socket(child, gate[1]), 0); /* a pipe: no socket */
	assert_int_equal(natt_proc_tgid(child), child);
	char comm[32];
	natt_proc_comm(getpid(), comm, sizeof(comm));
	assert_string_equal(comm, "test_outside");
	assert_int_equal(natt_proc_same_netns(child), 1);
	assert_true(natt_proc_start_time(child) >= natt_proc_start_time(getpid()));
	setenv("NATT_TEST_MARK", "outside", 1); /* not in /proc/PID/environ: that is the start's */
	assert_false(natt_proc_environ_has(getpid(), "NATT_TEST_MARK=outside"));
	assert_true(natt_proc_environ_has(getpid(), "NATT_TEST_OUTSIDE=1"));
	close(gate[1]);
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(natt_proc_sockets(child, count_socket, want) < 0); /* reaped: gone */
	assert_int_equal(natt_proc_start_time(child), 0);
	close(sock);
}

/* An entry of process pid as the status file holds one. */
static int entry_of(char *buf, size_t len, pid_t pid)
{
	return snprintf(buf, len,
	                "{ \"pid\": %d, \"start\": %llu, \"command\": \"t\", \"protocol\": \"tcp\", "
	                "\"local_address\": \"0.0.0.0\", \"local_port\": 80, \"state\": \"published\", "
	                "\"assignments\": [ ] }",
	                (int)pid, natt_proc_start_time(pid));
}

/* Whether the status file at path holds an entry of pid. */
static bool status_names(const char *path, pid_t pid)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	char text[8192], want[32];
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	snprintf(want, sizeof(want), "\"pid\": %d,", (int)pid);
	return strstr(text, want) != NULL;
}

/* A child that waits for a byte on gate, sends an empty datagram (no entries left) to the relay
 * named name, and exits. */
static pid_t last_word_sender(const char *name, int gate[2])
{
	assert_int_equal(pipe(gate), 0);
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(gate[1]);
		if (read(gate[0], &c, 1) != 1)
			_exit(1);
		struct sockaddr_un to = { .sun_family = AF_UNIX };
		memcpy(to.sun_path + 1, name, strlen(name));
		int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
		ssize_t sent = sendto(fd, "", 0, 0, (struct sockaddr *)&to,
		                      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name)));
		_exit(sent == 0 ? 0 : 1);
	}
	close(gate[0]);
	return pid;
}

static bool wait_unnamed(const char *path, pid_t pid)
{
	for (int i = 0; i < 400 && status_names(path, pid); i++)
		usleep(5000);
	return !status_names(path, pid);
}

/* natt-run's status relay: a process whose entries are in the file (written before it gave up its
 * privileges) and whose last datagram (no entries left) is read only after it ended, reaped or a
 * zombie: its entries go all the same; another live process's stay, and a process that never sent
 * anything keeps its entries past its SIGKILL (as without the relay). */
static void test_relay_late_last_word(void **state)
{
	(void)state;
	char relay_dir[] = "/tmp/natt-relay-XXXXXX", path[PATH_MAX], name[64], text[1024];
	assert_non_null(mkdtemp(relay_dir));
	snprintf(path, sizeof(path), "%s/status.json", relay_dir);
	int fd = natt_relay_open(name, sizeof(name));
	assert_true(fd >= 0);
	/* (Both end with the test, also one that failed half-way.) */
	pid_t test = getpid();
	pid_t program = fork(); /* the relay runs while this one lives */
	if (program == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == test)
			pause();
		_exit(0);
	}
	pid_t relay = fork();
	if (relay == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(getppid() == test && natt_relay_run(fd, name, program, path) == 0 ? 0 : 1);
	}
	close(fd);

	int gate[2], gate2[2], status;
	pid_t reaped = last_word_sender(name, gate), zombie = last_word_sender(name, gate2);
	assert_true(entry_of(text, sizeof(text), program) > 0);
	assert_int_equal(natt_status_merge(path, program, text, strlen(text)), 0);
	assert_true(entry_of(text, sizeof(text), reaped) > 0);
	assert_int_equal(natt_status_merge(path, reaped, text, strlen(text)), 0);
	assert_true(entry_of(text, sizeof(text), zombie) > 0);
	assert_int_equal(natt_status_merge(path, zombie, text, strlen(text)), 0);
	assert_true(status_names(path, reaped) && status_names(path, zombie) && status_names(path, program));

	/* the relay stopped while both send and end: it reads them after */
	assert_int_equal(kill(relay, SIGSTOP), 0);
	assert_int_equal(waitpid(relay, &status, WUNTRACED), relay);
	assert_int_equal(write(gate[1], "g", 1), 1);
	assert_int_equal(write(gate2[1], "g", 1), 1);
	assert_int_equal(waitpid(reaped, &status, 0), reaped);
	assert_int_equal(WEXITSTATUS(status), 0);
	siginfo_t info;
	assert_int_equal(waitid(P_PID, (id_t)zombie, &info, WEXITED | WNOWAIT), 0); /* ended, not reaped */
	assert_int_equal(info.si_status, 0);
	assert_true(natt_proc_ended(zombie));
	assert_true(natt_proc_ended(reaped));
	assert_false(natt_proc_ended(program));
	assert_false(natt_proc_ended(getpid()));
	assert_int_equal(kill(relay, SIGCONT), 0);

	assert_true(wait_unnamed(path, reaped));
	assert_true(wait_unnamed(path, zombie));
	assert_true(status_names(path, program));
	assert_int_equal(waitpid(zombie, &status, 0), zombie);
	close(gate[1]);
	close(gate2[1]);

	/* the program's own entry, never sent to the relay (written as root), stays after it was killed,
	 * as without a relay */
	kill(program, SIGKILL);
	assert_int_equal(waitpid(program, &status, 0), program);
	assert_int_equal(waitpid(relay, &status, 0), relay);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(status_names(path, program));
	char rm[PATH_MAX + 16];
	snprintf(rm, sizeof(rm), "rm -rf %s", relay_dir);
	assert_int_equal(system(rm), 0);
}

int main(int argc, char **argv)
{
	(void)argc;
	/* for test_proc: an environment entry the process started with */
	if (!getenv("NATT_TEST_OUTSIDE")) {
		setenv("NATT_TEST_OUTSIDE", "1", 1);
		extern char **environ;
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n > 0) {
			self[n] = '\0';
			execve(self, argv, environ);
		}
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_sockdiag),
		cmocka_unit_test(test_proc),
		cmocka_unit_test(test_relay_late_last_word),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
