#!/usr/bin/env bats
# End to end on a router offering UPnP IGD and NAT-PMP: a real server under natt-run on a LAN host is
# reached from the internet host through the router's public address, and nothing is left at the router
# once the server stops.

load lib/lab
load lib/natt

natt_suite

@test "python http.server (TCP) is published through UPnP and reachable from the internet" {
	natt_start web lan1 -v -- python3 -m http.server 8000
	wait_published tcp 8000
	assert_assignment tcp 8000 upnp 100.130.0.1 8000
	run on_inet curl -sS --max-time 5 http://100.130.0.1:8000/
	assert_success
	assert_output --partial "Directory listing"
	rule_present 8000
	grep -q "natt: tcp 0.0.0.0:8000 published as 100.130.0.1:8000 (upnp)" "$(natt_stderr web)"
}

@test "SIGTERM to the server deletes its mapping at the router" {
	natt_start web lan1 -- python3 -m http.server 8001
	wait_published tcp 8001
	natt_signal web TERM
	natt_wait_exit web 10
	# deleted before the process ended, not some time later
	run rule_present 8001
	assert_failure
	# the process's entries are gone from the status file
	run jq -e --argjson pid "$(natt_pid web)" '[.sockets[] | select(.pid == $pid)] | length == 0' "$NATT_STATUS"
	assert_success
	run on_inet curl -sS --max-time 2 http://100.130.0.1:8001/
	assert_failure
}

@test "SIGINT (python exits through its own handler) deletes the mapping too" {
	# background jobs inherit SIGINT ignored; give python its usual KeyboardInterrupt handler
	natt_start web lan1 -- env --default-signal=INT python3 -m http.server 8002
	wait_published tcp 8002
	natt_signal web INT
	natt_wait_exit web 10
	# deleted before the process ended, not some time later
	run rule_present 8002
	assert_failure
}

@test "a socat UDP echo server is published and answers from the internet" {
	natt_start udp lan1 -v -- socat UDP4-RECVFROM:9000,fork EXEC:cat
	wait_published udp 9000
	assert_assignment udp 9000 upnp 100.130.0.1 9000
	run on_inet sh -c 'echo natt-udp-probe | socat -T2 - UDP4:100.130.0.1:9000'
	assert_success
	assert_output "natt-udp-probe"
	natt_signal udp TERM
	natt_wait_exit udp 10
	# deleted before the process ended, not some time later
	run rule_present 9000
	assert_failure
}

@test "--protocols nat-pmp publishes through NAT-PMP" {
	natt_start web lan1 --protocols nat-pmp -- python3 -m http.server 8003
	wait_published tcp 8003
	assert_assignment tcp 8003 nat-pmp 100.130.0.1 8003
	run on_inet curl -sS --max-time 5 http://100.130.0.1:8003/
	assert_success
	natt_signal web TERM
	natt_wait_exit web 10
	# deleted before the process ended, not some time later
	run rule_present 8003
	assert_failure
}

@test "the status file lists local names with technique null and the router's name" {
	natt_start web lan1 -- python3 -m http.server 8004
	wait_published tcp 8004
	run jq -e '.version == 1 and (.updated | test("Z$"))' "$NATT_STATUS"
	assert_success
	run jq -r '.sockets[] | select(.local_port == 8004) | .assignments[] | select(.technique == null) | .address' "$NATT_STATUS"
	assert_output "10.77.0.2"
	run jq -r '.sockets[] | select(.local_port == 8004) | [.protocol, .local_address, .state] | join(" ")' "$NATT_STATUS"
	assert_output "tcp 0.0.0.0 published"
	run jq -r '.sockets[] | select(.local_port == 8004) | .assignments[] | select(.technique == "upnp") | (.lifetime > 0 and (.expires | test("Z$")))' "$NATT_STATUS"
	assert_output "true"
}

@test "a socket bound to loopback is never published" {
	natt_start lo lan1 -- python3 -m http.server --bind 127.0.0.1 8005
	on_host_wait_port lan1 8005
	sleep 1
	run rule_present 8005
	assert_failure
	# nothing to publish: no status file, and no manager thread in the process
	[ ! -e "$NATT_STATUS" ]
	[ "$(ls /proc/"$(natt_pid lo)"/task | wc -l)" -eq 1 ]
}

@test "listen() on a socket bound to an IP address makes no system call of natt's: the manager looks at the socket" {
	# (one trace file per thread: no system call of one thread split by another's)
	local trace=$NATT_TEST_DIR/trace
	natt_start ctl lan1 -- strace -ff -qq -o "$trace" -e trace=listen,getsockopt,getsockname,newfstatat \
		"$NATT_BUILD/tests/progs/sockctl" --banner
	natt_expect ctl '^ready [0-9]+$'
	local pid=${NATT_LAST_REPLY#ready }
	natt_send ctl "tcp 0.0.0.0 8009"
	natt_expect ctl '^[0-9]+ 8009$'
	wait_published tcp 8009
	rule_present 8009
	# the program's own thread: listen(), then at once sockctl's own getsockname(); natt's look at
	# the socket (protocol, port, inode) is the manager thread's
	run awk '/^listen\(/ { getline; print; exit }' "$trace.$pid"
	assert_output --regexp "^getsockname\("
	local others=()
	for f in "$trace".*; do [ "$f" = "$trace.$pid" ] || others+=("$f"); done
	grep -q "SO_PROTOCOL, \[6\]" "${others[@]}" ||
		fail "$(printf 'no thread but the program looked at the socket:\n%s' "$(head -n 50 "$trace".*)")"
}

@test "closing the socket (not the process) retires the mapping" {
	natt_start ctl lan1 -- "$NATT_BUILD/tests/progs/sockctl"
	natt_send ctl "tcp 0.0.0.0 8006"
	natt_expect ctl "^[0-9]+ 8006$"
	wait_published tcp 8006
	fd=${NATT_LAST_REPLY%% *}
	natt_send ctl "close $fd"
	natt_expect ctl "^ok$"
	wait_rule_gone 8006
	# the program itself is still running: only the socket's mapping went
	kill -0 "$(natt_pid ctl)"
}

# ctl NAME COMMAND REGEX: one sockctl command and its reply.
ctl() { natt_send "$1" "$2" && natt_expect "$1" "$3"; }

# kernel_port_published PROTO COMMAND [NATT-RUN OPTION...]: sockctl COMMAND makes a socket whose port
# the kernel picks; that port is published through UPnP at the router, and retired when the socket
# closes.
kernel_port_published() {
	natt_start ctl lan1 "${@:3}" -- "$NATT_BUILD/tests/progs/sockctl"
	ctl ctl "$2" '^[0-9]+ [0-9]+$'
	local fd=${NATT_LAST_REPLY%% *} port=${NATT_LAST_REPLY##* }
	[ "$port" -gt 0 ] || fail "'$2' left port $port"
	wait_published "$1" "$port"
	assert_assignment "$1" "$port" upnp 100.130.0.1 "$port"
	rule_present_proto "$1" "$port" || fail "$(printf 'no rule for %s %s at the router:\n%s' "$1" "$port" "$(router_rules)")"
	ctl ctl "close $fd" '^ok$'
	wait_until 10 rule_absent_proto "$1" "$port" || fail "$(printf '%s %s still forwarded:\n%s' "$1" "$port" "$(router_rules)")"
}

@test "listen() without bind(): the port the kernel picked is published" {
	kernel_port_published tcp listen-unbound
}

@test "bind() to port 0 with --publish-ephemeral-udp: the port the kernel picked is published" {
	# (without the option such a UDP socket is a client's, and not published: 67-hostile-neighbours)
	kernel_port_published udp "udp 0.0.0.0 0" --publish-ephemeral-udp
}

@test "an IPv6-only socket on a host without global IPv6 is local-only: nothing asked of the router, the reason given" {
	natt_start ctl lan1 -- "$NATT_BUILD/tests/progs/sockctl"
	ctl ctl "tcp :: 8007 v6only" '^[0-9]+ 8007$'
	wait_state tcp 8007 local-only
	run jq -r '.sockets[] | select(.local_port == 8007) | .local_address, .error, ([.assignments[] | select(.technique != null)] | length)' "$NATT_STATUS"
	assert_line --index 0 "::"
	assert_line --index 1 --partial "no global IPv6 address"
	assert_line --index 2 "0"
	run rule_present 8007
	assert_failure
}

@test "--ports: only the local ports listed are published" {
	natt_start ctl lan1 --ports 8008,8010-8011 -- "$NATT_BUILD/tests/progs/sockctl"
	ctl ctl "tcp 0.0.0.0 8008" '^[0-9]+ 8008$'
	ctl ctl "tcp 0.0.0.0 8009" '^[0-9]+ 8009$'
	ctl ctl "tcp 0.0.0.0 8010" '^[0-9]+ 8010$'
	wait_published tcp 8008
	wait_published tcp 8010
	sleep 1
	run rule_present 8009
	assert_failure
	run jq -e '.sockets[] | select(.local_port == 8009)' "$NATT_STATUS"
	assert_failure
}

@test "--gateway: natt asks the router named; one that is not there leaves the socket pending, with why" {
	natt_start good lan1 --gateway 10.77.0.1 -- "$NATT_BUILD/tests/progs/sockctl"
	ctl good "tcp 0.0.0.0 8012" '^[0-9]+ 8012$'
	wait_published tcp 8012
	assert_assignment tcp 8012 upnp 100.130.0.1 8012
	# nobody at 10.77.0.99: the real router's SSDP answers do not count, NAT-PMP gets no answer
	natt_start bad lan1 --gateway 10.77.0.99 -- "$NATT_BUILD/tests/progs/sockctl"
	ctl bad "tcp 0.0.0.0 8013" '^[0-9]+ 8013$'
	wait_state tcp 8013 pending 15
	run jq -r '.sockets[] | select(.local_port == 8013) | .error' "$NATT_STATUS"
	assert_output --partial "no UPnP IGD answered"
	run rule_present 8013
	assert_failure
}
