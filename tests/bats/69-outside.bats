#!/usr/bin/env bats
# Publishing from outside the program, where LD_PRELOAD cannot enter: Go servers (a plain `go build`,
# dynamically linked, and a static one), a static C server, a setuid program, and `natt watch --pid`
# on a server that runs already; a lease renewed, and restored after a router reboot. Each is reached
# from the internet host through the router's public address, keeps its pid, parent and exit status,
# and leaves nothing at the router afterwards.

bats_require_minimum_version 1.5.0

load lib/lab
load lib/natt
load lib/programs
load lib/resilience

SOCKCTL_SRC=$NATT_ROOT/tests/progs/sockctl.c
GOSERV_SRC=$NATT_ROOT/tests/progs/go/goserv.go

# go_build OUT [go build flags]: goserv, standard library only, nothing from the network.
go_build() {
	local out=$1
	shift
	command -v go >/dev/null || fail "go is not installed (Debian package golang-go; scripts/install-deps installs it)"
	GOCACHE=$BATS_FILE_TMPDIR/gocache GOPATH=$BATS_FILE_TMPDIR/gopath GOPROXY=off GOFLAGS= GO111MODULE=off \
		go build "$@" -o "$out" "$GOSERV_SRC"
}

setup_file() {
	require_root
	lab_up dual
	[ -n "${LAB_SKIP:-}" ] && return 0
	BIN=$BATS_FILE_TMPDIR/bin
	mkdir -p "$BIN"
	chmod 755 "$BATS_FILE_TMPDIR" "$BIN"
	go_build "$BIN/goserv-dyn"
	# static through the C linker (the cgo standard library, linked -static)
	go_build "$BIN/goserv-static" -ldflags '-linkmode=external -extldflags=-static' 2>/dev/null
	export BIN
}

teardown_file() {
	lab_down
}

setup() {
	programs_setup
}

teardown() {
	programs_teardown
}

# assert_same_process NAME COMM: the program natt_start started runs as that very pid (natt-run
# exec'd it) with the test's shell as its parent, under the command name COMM.
assert_same_process() {
	local pid
	pid=$(natt_pid "$1")
	assert_equal "$(cat "/proc/$pid/comm")" "$2"
	assert_equal "$(awk '/^PPid:/ { print $2 }' "/proc/$pid/status")" "$BASHPID"
}

# wait_status NAME: EXIT_STATUS gets the exit status of what natt_start started (only the shell that
# started it can wait for it: no command substitution).
wait_status() {
	EXIT_STATUS=0
	wait "$(natt_pid "$1")" 2>/dev/null || EXIT_STATUS=$?
}

@test "a Go server (go build, dynamically linked) is published from outside: same pid, parent and exit status" {
	run file "$BIN/goserv-dyn"
	assert_output --partial "dynamically linked"
	natt_start go lan1 "${NATT_OPTS[@]}" -- "$BIN/goserv-dyn" 8701 udp
	natt_expect go '^listening 8701$'
	wait_published tcp 8701
	wait_published udp 8702
	assert_assignment tcp 8701 upnp "$PUBLIC_ADDR" 8701
	assert_same_process go goserv-dyn
	run inet_http 8701
	assert_success
	assert_output natt-go-ok
	run inet_udp_echo 8702 natt-go-udp
	assert_success
	assert_output natt-go-udp
	# the status file names the program (not the watcher) and its command
	assert_published_by_live_process tcp 8701
	assert_equal "$(status_pids tcp 8701)" "$(natt_pid go)"
	assert_equal "$(status_query '.sockets[] | select(.local_port == 8701) | .command')" goserv-dyn
	grep -q "natt: tcp \[::\]:8701 published as $PUBLIC_ADDR:8701 (upnp)" "$(natt_stderr go)"
	natt_signal go TERM
	wait_status go
	assert_equal "$EXIT_STATUS" 143 # Go's own death by SIGTERM, as without natt-run
	wait_host_idle lan1
	assert_router_empty
	assert_status_gone tcp 8701
	assert_status_gone udp 8702
	grep -q "natt: tcp \[::\]:8701 retired" "$(natt_stderr go)"
}

@test "a static Go server: published from outside; after SIGKILL its mappings are deleted at once" {
	run file "$BIN/goserv-static"
	assert_output --partial "statically linked"
	natt_start go lan1 "${NATT_OPTS[@]}" -- "$BIN/goserv-static" 8703 udp
	natt_expect go '^listening 8703$'
	wait_published tcp 8703
	wait_published udp 8704
	run inet_http 8703
	assert_success
	assert_output natt-go-ok
	natt_signal go KILL
	# nothing runs in a killed program: the watcher outside it saw it end (at once: the bound leaves room
	# for a loaded machine; the lease would take an hour)
	wait_until 3 router_empty || fail "$(printf 'rules still there 3 s after SIGKILL:\n%s' "$(router_rules)")"
	wait_status go
	assert_equal "$EXIT_STATUS" 137
	wait_host_idle lan1
	assert_status_gone tcp 8703
	assert_status_gone udp 8704
}

@test "a static C server: published from outside, a close is noticed within a second, --ports applies" {
	[ -f "$(${CC:-cc} -print-file-name=libc.a)" ] || skip "no static C library (libc.a) to link a static test program"
	${CC:-cc} -std=gnu11 -D_GNU_SOURCE -O1 -static -o "$BIN/sockctl-static" "$SOCKCTL_SRC"
	natt_start st lan1 "${NATT_OPTS[@]}" --ports 8705-8709 -- "$BIN/sockctl-static"
	natt_send st "tcp 0.0.0.0 8709"
	natt_expect st '^[0-9]+ 8709$'
	local fd=${NATT_LAST_REPLY%% *}
	wait_published tcp 8709
	natt_send st "close $fd"
	natt_expect st '^ok'
	# closes are seen in the kernel's socket tables, looked at every 0.7 s while something is published
	# (bench item 8 measures it; the bound leaves room for a loaded machine)
	wait_rule_gone 8709 3
	natt_send st "tcp 0.0.0.0 8705"
	natt_expect st '^[0-9]+ 8705$'
	natt_send st "udp 0.0.0.0 8706"
	natt_expect st '^[0-9]+ 8706$'
	natt_send st "tcp 0.0.0.0 8720"
	natt_expect st '^[0-9]+ 8720$'
	wait_published tcp 8705
	wait_published udp 8706
	natt_send st "echo"
	run inet_tcp_echo 8705 natt-static-tcp
	assert_success
	assert_output "hello from sockctl"
	run inet_udp_echo 8706 natt-static-udp
	assert_success
	assert_output natt-static-udp
	# 8720 is not in --ports
	rule_absent 8720
	! status_has tcp 8720 published
	natt_signal st TERM
	natt_wait_exit st 10
	wait_host_idle lan1
	assert_router_empty
	assert_status_gone tcp 8705
	assert_status_gone udp 8706
}

@test "a setuid program (running as nobody) is published from outside" {
	cp "$NATT_BUILD/tests/progs/sockctl" "$BIN/sockctl-suid"
	chown nobody "$BIN/sockctl-suid"
	chmod 4755 "$BIN/sockctl-suid"
	natt_start suid lan1 "${NATT_OPTS[@]}" -- "$BIN/sockctl-suid"
	natt_send suid "tcp 0.0.0.0 8708"
	natt_expect suid '^[0-9]+ 8708$'
	natt_send suid "echo"
	assert_equal "$(awk '/^Uid:/ { print $3 }' "/proc/$(natt_pid suid)/status")" "$(id -u nobody)"
	wait_published tcp 8708
	run inet_tcp_echo 8708 natt-suid
	assert_success
	assert_output "hello from sockctl"
	natt_signal suid TERM
	natt_wait_exit suid 10
	wait_host_idle lan1
	assert_router_empty
	assert_status_gone tcp 8708
}

@test "natt watch --pid publishes a running python3 http.server and ends with it" {
	echo natt-watch-ok >"$NATT_TEST_DIR/probe.txt"
	plain_start web lan1 python3 -m http.server 8710 --bind 0.0.0.0 --directory "$NATT_TEST_DIR"
	on_host_wait_port lan1 8710
	natt_start_watch watch lan1 -v --pid "$(natt_pid web)"
	wait_published tcp 8710
	assert_equal "$(status_pids tcp 8710)" "$(natt_pid web)"
	run inet_http 8710 probe.txt
	assert_success
	assert_output natt-watch-ok
	natt_signal web TERM
	natt_wait_exit web 10
	wait_rule_gone 8710 2
	# natt watch ends by itself once what it watched has ended
	natt_wait_exit watch 5
	assert_router_empty
	assert_status_gone tcp 8710
}

@test "natt watch stopped with SIGTERM deletes the mappings; the program keeps serving" {
	plain_start web lan1 python3 -m http.server 8711 --bind 0.0.0.0 --directory "$NATT_TEST_DIR"
	on_host_wait_port lan1 8711
	natt_start_watch watch lan1 --pid "$(natt_pid web)"
	wait_published tcp 8711
	natt_signal watch TERM
	natt_wait_exit watch 5
	assert_router_empty
	assert_status_gone tcp 8711
	alive "$(natt_pid web)"
	run on_host lan1 curl -sS --max-time 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:8711/
	assert_output 200
}

@test "--outside on an ordinary program: same publishing, --on-change runs, clean exit status" {
	natt_start web lan1 "${NATT_OPTS[@]}" --outside --on-change "echo changed >>'$NATT_TEST_DIR/changes'" -- \
		python3 -m http.server 8712 --bind 0.0.0.0 --directory "$NATT_TEST_DIR"
	wait_published tcp 8712
	wait_until 5 test -s "$NATT_TEST_DIR/changes"
	# no shim inside: LD_PRELOAD is not in the program's environment
	! tr '\0' '\n' <"/proc/$(natt_pid web)/environ" | grep -q '^LD_PRELOAD='
	grep -q "publishing its sockets from outside" "$(natt_stderr web)"
	natt_signal web TERM
	wait_status web
	assert_equal "$EXIT_STATUS" 143 # python's death by SIGTERM, as without natt-run
	wait_host_idle lan1
	assert_router_empty
	assert_status_gone tcp 8712
}

# expiry_s PROTO PORT: the public assignment's expiry in seconds since the epoch (0 when none).
expiry_s() {
	local exp
	exp=$(status_public "$1" "$2" expires)
	[ -n "$exp" ] && date -u -d "$exp" +%s || echo 0
}

restored_after() { rule_present_proto tcp "$1" && [ "$(expiry_s tcp "$1")" -gt "$2" ]; }

@test "from outside: a 10 s lease renewed at half the lease, and restored after a router reboot" {
	natt_start ren lan1 "${NATT_OPTS[@]}" --outside --lifetime 10 -- \
		python3 -m http.server 8713 --bind 0.0.0.0 --directory "$NATT_TEST_DIR"
	wait_published tcp 8713
	assert_equal "$(status_public tcp 8713 lifetime)" 10
	# 13 s: the rule never leaves the router, and the expiry moves on at least twice (renewals come
	# about every 5 s); a mapping left to run out would be gone after 10 s
	local start=$SECONDS last exp moves=0
	last=$(expiry_s tcp 8713)
	while [ $((SECONDS - start)) -lt 13 ]; do
		rule_present_proto tcp 8713 || fail "after $((SECONDS - start)) s, no rule for 8713 at the router"
		exp=$(expiry_s tcp 8713)
		[ "$exp" -ge "$(date -u +%s)" ] || fail "the status file says the lease ran out at $exp"
		[ "$exp" = "$last" ] || moves=$((moves + 1))
		last=$exp
		sleep 0.5
	done
	[ "$moves" -ge 2 ] || fail "the expiry moved $moves times in 13 s with a 10 s lease"
	tap_note "from outside, 10 s lease: renewed $moves times in 13 s"

	# the reboot empties the router's table; the watcher's engine notices and maps again
	local before t0
	before=$(expiry_s tcp 8713)
	while [ "$(date -u +%s)" -le $((before - 10)) ]; do sleep 0.1; done
	lab reboot
	t0=$(now_s)
	wait_until 10 restored_after 8713 "$before" ||
		fail "the mapping of 8713 was not restored within 10 s of the reboot"
	tap_note "from outside, restore after reboot: $(elapsed_since "$t0") s"
	run on_inet curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://$PUBLIC_ADDR:8713/"
	assert_output 200

	natt_signal ren TERM
	wait_status ren
	assert_equal "$EXIT_STATUS" 143
	wait_host_idle lan1
	assert_router_empty
	assert_status_gone tcp 8713
}

# dns_query PORT NAME: an A query from the internet host to the router's public address; prints the
# answer's last address.
dns_query() {
	on_inet python3 -c '
import socket, sys
name = b"".join(bytes([len(p)]) + p.encode() for p in sys.argv[2].split(".")) + b"\0"
query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + name + b"\x00\x01\x00\x01"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(query, (sys.argv[3], int(sys.argv[1])))
answer = s.recv(512)
print(".".join(str(b) for b in answer[-4:]))' "$1" "$2" "$PUBLIC_ADDR"
}

@test "a daemon that drops its privileges (dnsmasq as nobody): its status is written where natt-run was told" {
	require_program dnsmasq dnsmasq-base
	local pidfile=$NATT_TEST_DIR/dnsmasq.pid
	# dnsmasq hangs at its start with AddressSanitizer's runtime preloaded (in textdomain(), before
	# natt runs any code; so does `dnsmasq --test`): a sanitizer run (make check-asan, whose library
	# setting names the runtime and the shim, "A:B") gives this daemon the plain build of the shim
	local shim=${NATT_PRELOAD_LIBRARY:-}
	if [[ $shim == *:* ]]; then
		shim=$NATT_ROOT/build/libnattpreload.so
		[ -f "$shim" ] || fail "no plain build of the shim for dnsmasq ($shim): run make first"
	fi
	# (the status file's directory is root's, mode 755: nobody cannot write there)
	NATT_PRELOAD_LIBRARY=$shim natt_start dns lan1 "${NATT_OPTS[@]}" -- dnsmasq --conf-file=/dev/null --user=nobody --group=nogroup \
		--port=8730 --no-resolv --no-hosts --address=/natt.test/10.1.2.3 --pid-file="$pidfile" --log-facility=-
	# dnsmasq forks its daemon and the first process exits
	natt_wait_exit dns 10
	wait_file "$pidfile"
	local daemon
	daemon=$(cat "$pidfile")
	assert_equal "$(awk '/^Uid:/ { print $2 }' "/proc/$daemon/status")" "$(id -u nobody)"
	wait_published udp 8730
	wait_published tcp 8730
	run dns_query 8730 natt.test
	assert_success
	assert_output 10.1.2.3
	# the entries are the daemon's, written by natt-run's relay as root
	wait_until 5 eval '[ "$(status_pids udp 8730 | sort -u)" = "$daemon" ]'
	assert_equal "$(stat -c %U "$NATT_STATUS")" root
	kill -TERM "$daemon"
	wait_host_idle lan1
	assert_router_empty
	assert_status_gone udp 8730
	assert_status_gone tcp 8730
}

@test "natt watch: a process that does not exist, another network namespace, bad options" {
	run "$NATT_BUILD/natt" watch --pid 99999999999
	assert_failure 2
	run --separate-stderr "$NATT_BUILD/natt" watch --pid 4194304
	assert_failure 1
	[[ $stderr == *"no process 4194304"* ]]
	# this shell runs in the host's namespace, natt watch in lan1's
	run --separate-stderr on_host lan1 "$NATT_BUILD/natt" watch --pid $$
	assert_failure 1
	[[ $stderr == *"another network namespace"* ]]
	run "$NATT_BUILD/natt" watch
	assert_failure 2
	run "$NATT_BUILD/natt" watch --pid 1 -- true
	assert_failure 2
}
