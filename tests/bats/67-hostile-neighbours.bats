#!/usr/bin/env bats
# What natt publishes and keeps, with other local users and client sockets around: UDP clients (port 0,
# connect()ed) get no mapping unless asked; another user's socket on the port does not keep a mapping
# alive; a status directory another user could write to is refused, and the program is published all
# the same; natt-run refuses values it would otherwise have to cut.

bats_require_minimum_version 1.5.0

load lib/lab
load lib/natt
load lib/programs

# (the system's python: a version manager's wrapper scripts can take seconds to start on a busy machine)
PY=/usr/bin/python3

setup_file() {
	require_root
	lab_up dual
}
teardown_file() { lab_down; }
setup() {
	natt_test_setup
	programs_setup
}
# (programs_teardown ends with natt_test_teardown; its status is the test's)
teardown() {
	programs_teardown
}

# A UDP client bound to port 0, a UDP socket bound to 8701 that then connect()s to one peer, and a UDP
# server on 8702; prints the client's port, then waits for its input to end.
UDP_SOCKETS='
import socket, sys
client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
client.bind(("0.0.0.0", 0))
connected = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
connected.bind(("0.0.0.0", 8701))
connected.connect(("10.77.0.1", 9))
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(("0.0.0.0", 8702))
print(client.getsockname()[1], flush=True)
sys.stdin.read()
'

@test "UDP clients (bound to port 0, or connect()ed to one peer) are not published; a UDP server is" {
	natt_start udp lan1 -- "$PY" -c "$UDP_SOCKETS"
	natt_expect udp '^[0-9]+$' 30
	local client=$NATT_LAST_REPLY
	wait_published udp 8702
	wait_until 10 eval '! rule_present 8701 && ! status_has udp 8701 published' ||
		fail "$(printf 'the connected UDP socket is still published:\n%s\n%s' "$(router_rules)" "$(cat "$NATT_STATUS")")"
	sleep 1
	! rule_present "$client" || fail "$(printf 'the port-0 client %s got a mapping:\n%s' "$client" "$(router_rules)")"
	jq -e --argjson p "$client" 'all(.sockets[]; .local_port != $p)' "$NATT_STATUS" >/dev/null ||
		fail "$(printf 'the port-0 client is in the status file:\n%s' "$(cat "$NATT_STATUS")")"
	natt_signal udp TERM
	natt_wait_exit udp 10
	assert_router_empty
}

@test "--publish-ephemeral-udp publishes a UDP socket bound to port 0; a connect()ed one still is not" {
	natt_start udp lan1 --publish-ephemeral-udp -- "$PY" -c "$UDP_SOCKETS"
	natt_expect udp '^[0-9]+$' 30
	local client=$NATT_LAST_REPLY
	wait_published udp "$client"
	wait_published udp 8702
	wait_until 10 eval '! rule_present 8701' || fail "$(printf 'the connected socket is published:\n%s' "$(router_rules)")"
	natt_signal udp TERM
	natt_wait_exit udp 10
	assert_router_empty
}

@test "another user's socket on [::1]:PORT does not keep the mapping when the program ends" {
	natt_start srv lan1 -- "$PY" -c '
import socket, sys
s = socket.socket(); s.bind(("0.0.0.0", 8710)); s.listen(); print("up", flush=True); sys.stdin.read()'
	natt_expect srv '^up$' 30
	wait_published tcp 8710
	# nobody's listener on the same port, on loopback only (IPv6, v6only): it takes no traffic from the
	# router, and is no socket of this user's
	start_bg squatter lan1 setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" -c '
import socket, time
s = socket.socket(socket.AF_INET6); s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s.bind(("::1", 8710)); s.listen(); print("squatting", flush=True); time.sleep(60)'
	wait_until 10 grep -q squatting "$(bg_out squatter)" || fail "$(printf 'the squatter did not start:\n%s' "$(cat "$(bg_out squatter)")")"
	natt_signal srv TERM
	natt_wait_exit srv 10
	wait_rule_gone 8710 10 || fail "the mapping was kept for another user's socket"
	stop_bg squatter KILL
}

@test "a status directory other users can write to is refused with a message; the program is published without a status file" {
	local dir=$NATT_TEST_DIR/shared
	mkdir -m 0777 "$dir"
	chmod 0777 "$dir"
	NATT_STATUS=$dir/status.json
	natt_start srv lan1 --log error -- "$PY" -m http.server 8720
	wait_until 15 rule_present 8720 || fail "$(printf 'not published:\n%s' "$(cat "$(natt_stderr srv)")")"
	grep -q "is writable by other users: no status file will be written" "$(natt_stderr srv)" ||
		fail "$(printf 'natt-run did not say so:\n%s' "$(cat "$(natt_stderr srv)")")"
	grep -q "refusing to use $dir" "$(natt_stderr srv)" ||
		fail "$(printf 'the library did not say so:\n%s' "$(cat "$(natt_stderr srv)")")"
	[ ! -e "$dir/status.json" ] && [ ! -e "$dir/status.json.lock" ] || fail "$(ls -la "$dir")"
	[ -z "$(ls -A "$dir")" ] || fail "$(printf 'natt created files there:\n%s' "$(ls -la "$dir")")"
	natt_signal srv TERM
	natt_wait_exit srv 10
	assert_router_empty
}

@test "natt-run refuses an --on-change or --status longer than natt can hold, instead of cutting it" {
	local long
	long=$(head -c 1100 /dev/zero | tr '\0' x)
	run --separate-stderr "$NATT_ROOT/scripts/natt-run" --on-change "echo $long" -- true
	assert_failure 2
	[[ $stderr == *"--on-change: the command is longer than 1023 bytes"* ]] || fail "stderr: $stderr"
	long=$(head -c 4100 /dev/zero | tr '\0' d)
	run --separate-stderr "$NATT_ROOT/scripts/natt-run" --status "/$long" -- true
	assert_failure 2
	[[ $stderr == *"--status: the file name is longer than 4095 bytes"* ]] || fail "stderr: $stderr"
}

ASYNCSAFE=$NATT_BUILD/tests/progs/asyncsafe

@test "exec in a forked child of a program with a published socket: no malloc or setenv on the way (the marker still passed)" {
	natt_start ex lan1 --log debug -- "$ASYNCSAFE" exec 8730
	natt_wait_exit ex 20
	run cat "$(natt_stdout ex)"
	refute_output --partial UNSAFE
	assert_output "exec-ok 1"
}

@test "_exit() inside a signal handler: no lock, wait or allocation in natt's clean-up, the exit status kept" {
	natt_start ex lan1 -- "$ASYNCSAFE" exit 8731
	natt_expect ex '^listening$' 30
	wait_published tcp 8731
	natt_send ex go
	natt_wait_exit ex 10
	run cat "$(natt_stdout ex)"
	refute_output --partial UNSAFE
	local st=0
	wait "$(natt_pid ex)" || st=$?
	assert_equal "$st" 7
	# and the clean-up still happened, the async-signal-safe way
	assert_router_empty
}

@test "natt status on a FIFO left at the status file's name: refused at once, no hang" {
	mkfifo "$NATT_TEST_DIR/fifo.json"
	run --separate-stderr timeout 5 "$NATT_BUILD/natt" status "$NATT_TEST_DIR/fifo.json"
	assert_failure 1
	[[ $stderr == *"is not a regular file"* ]] || fail "stderr: $stderr"
}

@test "a libnatt program that closes every descriptor (closefrom) does not leave natt's thread spinning" {
	# (checks every second: the manager goes round its loop, and polls the closed descriptors)
	plain_start lis lan1 env NATT_VERIFY_INTERVAL=1 "$NATT_BUILD/tests/progs/listener" socket tcp 8750
	natt_expect lis '^published$' 30
	wait_published tcp 8750
	natt_send lis closefrom
	natt_expect lis '^closed$'
	sleep 1
	natt_send lis cpu
	natt_expect lis '^cpu [0-9]+$'
	local before=${NATT_LAST_REPLY#cpu }
	sleep 3
	natt_send lis cpu
	natt_expect lis '^cpu [0-9]+$'
	local used=$(( ${NATT_LAST_REPLY#cpu } - before ))
	# a thread spinning on a closed descriptor burns CPU (300 ms in 3 s measured before the fix, the
	# rest of the time it was preempted); an idle one next to nothing
	[ "$used" -lt 150 ] || fail "natt's thread used $used ms of CPU in 3 s after closefrom()"
	natt_send lis exit
	natt_wait_exit lis 10
}

@test "another host's announcements and SSDP searches never wake natt's thread (a kernel filter keeps the gateway's only)" {
	natt_start srv lan1 -- python3 -m http.server 8751
	wait_published tcp 8751
	local pid before after
	pid=$(natt_pid srv)
	sleep 1
	before=$(manager_switches "$pid") || fail "no thread named natt in $pid"
	# 200 NAT-PMP announcements (from port 5351, as a router sends them) and 200 SSDP searches and
	# NOTIFYs from lan1's own address: not the gateway's
	on_lan1 python3 -c '
import socket, struct, time
pmp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
pmp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
pmp.bind(("0.0.0.0", 5351))
ssdp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(200):
    pmp.sendto(struct.pack("!BBHI4s", 0, 128, 0, 1000 + i, socket.inet_aton("100.130.0.9")), ("224.0.0.1", 5350))
    ssdp.sendto(b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n",
                ("239.255.255.250", 1900))
    time.sleep(0.005)'
	sleep 0.5
	after=$(manager_switches "$pid")
	tap_note "natt's thread: $((after - before)) context switches while 400 datagrams from another host arrived"
	# (each datagram that reached the socket woke the thread: 246 of 400 before the filter; what may
	# still come is the router's own NOTIFY burst and natt's own work, a few wake-ups)
	[ $((after - before)) -le 40 ] || fail "natt's thread woke $((after - before)) times for another host's datagrams"
	# still published; the gateway's own announcement still counts (a reboot is still noticed: 51-reboot)
	status_has tcp 8751 published
	natt_signal srv TERM
	natt_wait_exit srv 10
	assert_router_empty
}

@test "a libnatt program (no preload) that forks: the child publishes with a manager of its own" {
	plain_start lis lan1 "$NATT_BUILD/tests/progs/listener" socket tcp 8760
	natt_expect lis '^published$' 30
	wait_published tcp 8760
	natt_send lis "fork 8761"
	natt_expect lis '^forked [0-9]+$'
	local child=${NATT_LAST_REPLY#forked }
	wait_published tcp 8761 20 || { kill "$child"; fail "the child's socket was never published"; }
	rule_present 8760 || fail "the parent's mapping went when the child published"
	# the child stops its listener on SIGTERM: its own manager deletes its mapping, the parent's stays
	kill "$child"
	wait_until 10 rule_absent 8761 || fail "the child's mapping stayed after it stopped its listener"
	rule_present 8760 || fail "the parent's mapping went with the child's"
	natt_send lis exit
	natt_wait_exit lis 10
}
