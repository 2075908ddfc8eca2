#!/usr/bin/env bats
# Exec. A listening socket without FD_CLOEXEC survives exec: the new image
# (still preloaded) takes it over at start-up, keeps it published (renewals) and follows its close; a
# CLOEXEC one is closed by exec, so its mapping goes at exec; a failed exec changes nothing. More
# generally, sockets a process starts with already listening (systemd socket activation, inetd, a
# supervisor) are published at start.

load lib/lab
load lib/natt
load lib/programs
load lib/sockctl

programs_suite

ACTIVATE=$NATT_BUILD/tests/progs/activate

# exec_self NAME: sockctl NAME execs itself (/proc/self/exe) and the new image says it is ready, with the
# same pid.
exec_self() {
	local pid
	pid=$(natt_pid "$1")
	ctl "$1" "exec /proc/self/exe --banner" "^ready $pid\$"
}

@test "exec: sockets without CLOEXEC stay published under the new image, renewed, reachable, and retired at SIGTERM" {
	natt_start a lan1 "${NATT_OPTS[@]}" --lifetime 10 -- "$SOCKCTL"
	ctl a "option cloexec off" '^ok$'
	sock a tcp 8640
	local t=$FD
	sock a udp 8640
	local u=$FD
	wait_published tcp 8640
	wait_published udp 8640
	exec_self a
	still_published tcp 8640 a
	still_published udp 8640
	# the new image renews them: more than two 10 s leases
	stays_up_for 22 tcp 8640
	rule_present_proto udp 8640
	published_by tcp 8640 "$(natt_pid a)"
	published_by udp 8640 "$(natt_pid a)"
	ctl a "adopt $t" '^ok$'
	ctl a "adopt $u" '^ok$'
	ctl a "echo" '^serving$'
	run inet_tcp_echo 8640 natt-exec-probe
	assert_success
	assert_output "hello from sockctl"
	run inet_udp_echo 8640 natt-exec-probe
	assert_success
	assert_output "natt-exec-probe"
	natt_signal a TERM
	natt_wait_exit a 10
	assert_router_empty
	assert_status_gone tcp 8640
	assert_status_gone udp 8640
}

@test "exec over PCP: the new image renews and deletes the same mapping (the nonce follows the socket)" {
	local mark
	mark=$(router_log_lines)
	natt_start a lan1 "${NATT_OPTS[@]}" --protocols pcp --lifetime 6 -- "$SOCKCTL"
	ctl a "option cloexec off" '^ok$'
	sock a tcp 8649
	wait_published tcp 8649
	exec_self a
	still_published tcp 8649 a
	# renewed by the new image (every 3 s) past the first image's lease: the router accepts its
	# requests for the mapping
	stays_up_for 8 tcp 8649
	published_by tcp 8649 "$(natt_pid a)"
	# one mapping, named by one nonce, from the first request to the last (a random nonce in the new
	# image: a second one here, and the router refuses its delete)
	run router_log_since "$mark" "PCP MAP: added mapping TCP 8649->"
	[ "${#lines[@]}" -ge 3 ] || fail "fewer than three requests for the mapping: $output"
	assert_equal "$(grep -o "'PCP MAP [0-9a-f]*'" <<<"$output" | sort -u | wc -l)" 1
	local t0
	t0=$(now_s)
	natt_signal a TERM
	natt_wait_exit a 10
	# deleted by the new image at once, not left to run out (a 6 s lease)
	wait_until 2 rule_absent_proto tcp 8649 || fail "the mapping was not deleted at exit: $(router_rules)"
	tap_note "exec over PCP: the mapping deleted $(elapsed_since "$t0") s after SIGTERM"
	assert_status_gone tcp 8649
}

@test "exec: the new image follows the inherited sockets' close; CLOEXEC sockets' mappings go at exec" {
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	sock a tcp 8641 # CLOEXEC (sockctl's default)
	local gone_at_exec=$FD
	ctl a "option cloexec off" '^ok$'
	sock a tcp 8642
	local kept=$FD
	sock a udp 8643
	local kept_udp=$FD
	wait_published tcp 8641
	wait_published tcp 8642
	wait_published udp 8643
	exec_self a
	# the CLOEXEC socket was deleted before exec returned in the new image (not some time later)
	rule_present_proto tcp 8641 && fail "$(printf 'tcp port 8641 (CLOEXEC) still forwarded right after exec:\n%s' "$(router_rules)")"
	gone tcp 8641 1
	still_published tcp 8642 a
	still_published udp 8643
	# the kernel's view: nothing listens on 8641 any more (its fd number may be reused, by natt too)
	run host_listens lan1 tcp 8641
	assert_failure
	ctl a "close $kept" '^ok$'
	gone tcp 8642
	still_published udp 8643 a
	ctl a "close $kept_udp" '^ok$'
	gone udp 8643
	# the new image's natt publishes new sockets too
	sock a tcp 8644
	wait_published tcp 8644
	ctl a "close $FD" '^ok$'
	gone tcp 8644
}

@test "exec: a CLOEXEC socket with a copy that survives exec stays published" {
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	sock a tcp 8645
	local s=$FD
	wait_published tcp 8645
	# dup() gives a copy without FD_CLOEXEC: the socket survives exec through it
	ctl a "dup $s" '^[0-9]+$'
	local copy=$NATT_LAST_REPLY
	exec_self a
	still_published tcp 8645 a
	ctl a "close $copy" '^ok$'
	gone tcp 8645
}

@test "exec that fails keeps every mapping, CLOEXEC or not" {
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	sock a tcp 8646
	local c=$FD
	ctl a "option cloexec off" '^ok$'
	sock a udp 8646
	local k=$FD
	wait_published tcp 8646
	wait_published udp 8646
	ctl a "exec /nonexistent/program" '^ERR exec ENOENT$'
	# (natt may retire the CLOEXEC one before exec and publish it again when exec fails)
	wait_published tcp 8646
	still_published tcp 8646 a
	still_published udp 8646
	ctl a "close $c" '^ok$'
	gone tcp 8646
	ctl a "close $k" '^ok$'
	gone udp 8646
}

# start_activated NAME PORT LAUNCHER...: LAUNCHER (outside natt-run) makes the socket on PORT and starts
# natt-run sockctl --banner with it on fd 3.
start_activated() {
	local name=$1 port=$2
	shift 2
	plain_start "$name" lan1 "$@" -- "$NATT_RUN" --status "$NATT_STATUS" "${NATT_OPTS[@]}" "$SOCKCTL" --banner
}

@test "socket activation (systemd-socket-activate): the server starts with a listening socket and it is published" {
	require_program systemd-socket-activate systemd
	# it starts the service with a clean environment: pass on what chooses the shim under test (and the
	# sanitizers' settings, for make check-asan)
	local var pass=()
	for var in PATH NATT_PRELOAD_LIBRARY ASAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS LD_PRELOAD; do
		[ -z "${!var:-}" ] || pass+=(-E "$var")
	done
	start_activated act 8647 systemd-socket-activate "${pass[@]}" -l 0.0.0.0:8647
	# systemd-socket-activate starts the service at the first connection
	wait_until 10 host_listens lan1 tcp 8647
	on_lan1 timeout 3 socat -u /dev/null TCP4:10.77.0.2:8647
	natt_expect act "^ready $(natt_pid act)\$"
	wait_published tcp 8647
	assert_assignment tcp 8647 upnp "$PUBLIC_ADDR" 8647
	published_by tcp 8647 "$(natt_pid act)"
	ctl act "adopt 3" '^ok$'
	ctl act "echo" '^serving$'
	run inet_tcp_echo 8647 natt-activation-probe
	assert_success
	assert_output "hello from sockctl"
	natt_signal act TERM
	natt_wait_exit act 10
	assert_router_empty
	assert_status_gone tcp 8647
}

@test "socket activation by a launcher (TCP): published at start, followed to its close" {
	start_activated act 8648 "$ACTIVATE" 8648
	natt_expect act "^ready $(natt_pid act)\$"
	wait_published tcp 8648
	published_by tcp 8648 "$(natt_pid act)"
	ctl act "close 3" '^ok$'
	gone tcp 8648
}

@test "socket activation by a launcher (UDP): published at start, reachable, retired at exit" {
	start_activated act 8649 "$ACTIVATE" --udp 8649
	natt_expect act "^ready $(natt_pid act)\$"
	wait_published udp 8649
	ctl act "adopt 3" '^ok$'
	ctl act "echo" '^serving$'
	run inet_udp_echo 8649 natt-activation-probe
	assert_success
	assert_output "natt-activation-probe"
	natt_signal act TERM
	natt_wait_exit act 10
	assert_router_empty
}

@test "socket activation meant for another process (LISTEN_PID not ours): the socket is left alone" {
	# sd_listen_fds(3): the variables describe fds only for the process LISTEN_PID names; a child that
	# inherited them (and not the fds' meaning) must not take fd 3 for a socket handed to it.
	local mark
	mark=$(router_log_lines)
	start_activated act 8650 "$ACTIVATE" --listen-pid 1 8650
	natt_expect act "^ready $(natt_pid act)\$"
	# a socket taken up at start would be published before one the program makes now
	caught_up act
	run status_has tcp 8650 published
	assert_failure
	assert_equal "$(router_maps_since "$mark" tcp 8650)" 0
	run router_rules
	assert_output ""
	natt_signal act TERM
	natt_wait_exit act 10
}

@test "inetd style (the listening socket is standard input): published at start, retired at SIGTERM" {
	# a plain program (sleep) that never touches its standard input: natt alone looks at fd 0
	plain_start inetd lan1 "$ACTIVATE" --inetd 8651 -- "$NATT_RUN" --status "$NATT_STATUS" "${NATT_OPTS[@]}" sleep 120
	wait_published tcp 8651
	assert_assignment tcp 8651 upnp "$PUBLIC_ADDR" 8651
	published_by tcp 8651 "$(natt_pid inetd)"
	assert_rule_present 8651
	natt_signal inetd TERM
	natt_wait_exit inetd 10
	assert_router_empty
	assert_status_gone tcp 8651
}
