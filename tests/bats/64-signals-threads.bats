#!/usr/bin/env bats
# Threads and signals. Many threads binding, listening, copying and closing
# at once (while another thread forks) are safe: no crash, no hang, and nothing left at the router. A
# hook called from a signal handler (close() of a published socket in a SIGUSR1 handler, while the
# main thread is inside bind/listen/dup/close) or interrupted by one never deadlocks. Each program runs
# under a time limit: a deadlock shows as a time-out.
# `make check-tsan` runs this suite with ThreadSanitizer builds of the shim and the programs.

load lib/lab
load lib/natt
load lib/programs

programs_suite

BINDSTORM=$NATT_BUILD/tests/progs/bindstorm
SIGCLOSE=$NATT_BUILD/tests/progs/sigclose
SIGVIEW=$NATT_BUILD/tests/progs/sigview
LAN_ADDR=10.77.0.2
# Sanitizer runs are several times slower.
TIME_LIMIT=${NATT_TEST_TIME_LIMIT:-120}
# The programs' own deadline comes later, so that a hung one is still there to be looked at.
KILL_AFTER=$((TIME_LIMIT + 120))

# maps_since LINE: how many mappings the router was asked for (by anyone: only this test's program runs)
# after line LINE of its log.
maps_since() { router_log_since "$1" "$ROUTER_MAP_REGEX" | grep -c . || true; }

# published_some LINE [MIN]: the router was asked for at least MIN (default 1) mappings since line LINE
# of its log, so that "nothing left at the router" afterwards says something; the count goes to the TAP.
published_some() {
	local n
	n=$(maps_since "$1")
	echo "# $n mappings asked of the router" >&3
	[ "$n" -ge "${2:-1}" ] || fail "only $n mappings reached the router during the run (at least ${2:-1} expected)"
}

# finishes NAME: the program ends by itself within TIME_LIMIT with exit status 0; its last line is in
# LAST_LINE.
finishes() {
	local pid status=0
	pid=$(natt_pid "$1")
	if ! wait_until "$TIME_LIMIT" eval "! alive $pid"; then
		echo "# $1 (pid $pid) still running after ${TIME_LIMIT}s:" >&3
		describe_stuck "$pid" >&3
		fail "$1 did not finish within ${TIME_LIMIT}s (deadlock?)"
	fi
	wait "$pid" || status=$?
	[ "$status" = 0 ] || fail "$(printf '%s exited with status %s; stderr:\n%s' "$1" "$status" "$(tail -n 30 "$(natt_stderr "$1")")")"
	LAST_LINE=$(tail -n 1 "$(natt_stdout "$1")")
}

@test "close() of published sockets in a SIGUSR1 handler while the main thread binds, listens, dups and closes: no deadlock" {
	local mark
	mark=$(router_log_lines)
	natt_start sig lan1 -- timeout -s KILL "$KILL_AFTER" "$SIGCLOSE" "$LAN_ADDR" 20000
	finishes sig
	[[ $LAST_LINE =~ ^done\ 20000\ ([0-9]+)\ ([0-9]+)\ ([0-9]+)$ ]] || fail "unexpected output: $LAST_LINE"
	local signals=${BASH_REMATCH[1]} handler_closes=${BASH_REMATCH[2]} errors=${BASH_REMATCH[3]}
	echo "# $signals signals, $handler_closes published sockets closed in the handler" >&3
	[ "$handler_closes" -gt 100 ] || fail "only $handler_closes closes happened in the signal handler"
	[ "$errors" = 0 ] || fail "$errors close() calls on the program's own open fds failed"
	published_some "$mark"
	wait_host_idle lan1
	assert_router_empty
}

@test "bind() and listen() (published by natt) inside a signal handler that interrupts natt's own publishing: no deadlock" {
	local mark
	mark=$(router_log_lines)
	natt_start sig lan1 -- timeout -s KILL "$KILL_AFTER" "$SIGCLOSE" "$LAN_ADDR" 20000 --bind-in-handler
	finishes sig
	[[ $LAST_LINE =~ ^done\ 20000\ ([0-9]+)\ ([0-9]+)\ ([0-9]+)$ ]] || fail "unexpected output: $LAST_LINE"
	[ "${BASH_REMATCH[1]}" -gt 100 ] || fail "only ${BASH_REMATCH[1]} signals were handled"
	# a socket the handler makes while the thread it interrupted is inside natt is still the program's:
	# its close() succeeds (natt must not take it for one of its own)
	[ "${BASH_REMATCH[3]}" = 0 ] || fail "${BASH_REMATCH[3]} close() calls on the program's own open fds failed"
	published_some "$mark"
	wait_host_idle lan1
	assert_router_empty
}

@test "SIGTERM (default action) while hooks run in a tight loop and in signal handlers: clean exit, nothing left" {
	local mark
	mark=$(router_log_lines)
	natt_start sig lan1 -- "$SIGCLOSE" "$LAN_ADDR" 100000000
	local pid
	pid=$(natt_pid sig)
	# let it publish (the manager is busy), then stop it mid-flight
	wait_until 20 eval '[ "$(maps_since "$mark")" -ge 3 ]' ||
		fail "nothing reached the router within 20 s: $(maps_since "$mark") mappings"
	alive "$pid" || fail "the program ended before SIGTERM"
	kill -TERM "$pid"
	wait_until 10 eval "! alive $pid" || fail "the program did not end within 10 s of SIGTERM"
	local status=0
	wait "$pid" || status=$?
	# it died of SIGTERM, as it would have without natt (128 + 15)
	[ "$status" = 143 ] || fail "exit status $status, expected 143 (killed by SIGTERM)"
	assert_router_empty
}

@test "8 threads x 100 rounds of socket/bind/listen/dup/close (TCP and UDP) with a forking thread: no crash, nothing left" {
	local mark
	mark=$(router_log_lines)
	natt_start storm lan1 --publish-ephemeral-udp -- timeout -s KILL "$KILL_AFTER" "$BINDSTORM" "$LAN_ADDR" 8 100 --forker --hold 10
	finishes storm
	[ "$LAST_LINE" = "done 800" ] || fail "unexpected output: $LAST_LINE"
	published_some "$mark"
	wait_host_idle lan1
	assert_router_empty
}

# published_count N: the status file shows exactly N sockets, all published.
published_count() {
	jq -e --argjson n "$1" '(.sockets | length) == $n and all(.sockets[]; .state == "published")' \
		"$NATT_STATUS" >/dev/null 2>&1
}

@test "16 threads x 300 rounds, sockets closed at once: no crash, nothing left" {
	# Each thread's first round's sockets (a TCP listener and a UDP one) stay through the storm and
	# until they are published: the rest may all be gone before the manager is up (a sanitizer's start
	# is slow), and "nothing left" must follow something published.
	local mark
	mark=$(router_log_lines)
	natt_start storm lan1 --publish-ephemeral-udp -- timeout -s KILL "$KILL_AFTER" "$BINDSTORM" "$LAN_ADDR" 16 300 --keep-first
	if ! natt_expect storm '^storm over$' "$TIME_LIMIT"; then
		describe_stuck "$(natt_pid storm)" >&3
		fail "the storm did not end within ${TIME_LIMIT}s (deadlock?)"
	fi
	wait_until "$TIME_LIMIT" published_count 32 ||
		fail "$(printf 'the 32 sockets kept through the storm are not all published:\n%s' "$(cat "$NATT_STATUS")")"
	natt_send storm end
	finishes storm
	[ "$LAST_LINE" = "done 4800" ] || fail "unexpected output: $LAST_LINE"
	published_some "$mark" 32
	wait_host_idle lan1
	assert_router_empty
}

@test "threads storm while published sockets are in place: those stay published and the storm leaves nothing" {
	natt_start ctl lan1 -- "$NATT_BUILD/tests/progs/sockctl"
	natt_send ctl "tcp 0.0.0.0 8680"
	natt_expect ctl '^[0-9]+ 8680$'
	wait_published tcp 8680
	# a second process storms on the same host (its own natt), then exits
	local mark
	mark=$(router_log_lines)
	natt_start storm lan1 --publish-ephemeral-udp -- timeout -s KILL "$KILL_AFTER" "$BINDSTORM" "$LAN_ADDR" 8 100 --hold 5
	finishes storm
	published_some "$mark" 2
	wait_until 10 eval '[ "$(router_rules | grep -vc "dport 8680 ")" = 0 ]' ||
		fail "$(printf 'rules left by the storm:\n%s' "$(router_rules)")"
	assert_rule_present 8680
	assert_not_deleted_since "$(published_mark tcp 8680)" tcp 8680
	status_has tcp 8680 published || fail "$(printf 'port 8680 is no longer published:\n%s' "$(cat "$NATT_STATUS")")"
	# (exit, not SIGTERM: under ThreadSanitizer a signal waits for its next interceptor, and glibc's
	# fgets() reads past them)
	natt_send ctl "exit 0"
	natt_wait_exit ctl 10
	assert_router_empty
}

@test "the program sees its own handlers; publishing first from a handler, and a handler left by siglongjmp, leave natt working" {
	# natt runs the program's handlers through its own, to know when a thread is inside one (it then
	# starts no thread and takes no lock): sigaction() and signal() still report the program's.
	natt_start view lan1 -- "$SIGVIEW" "$LAN_ADDR" 8690 8691
	natt_expect view '^view ok$'
	natt_expect view '^signal ok$'
	natt_expect view '^resethand ok$'
	natt_expect view '^handler listened$'
	natt_expect view '^jumped$'
	natt_expect view '^ready$'
	wait_published tcp 8690
	wait_published tcp 8691
	natt_send view quit
	natt_wait_exit view 10
	assert_router_empty
}
