#!/usr/bin/env bats
# Two C servers written for these tests: a pre-fork server
# (tests/progs/prefork.c: the parent listens, workers accept on inherited copies) and a server that
# listens, then daemonizes (tests/progs/daemonize.c: the parent exits at once, the child serves).
# A mapping belongs to the socket: it lives while any process holds it, whichever process made it,
# and goes when the last holder is gone.

load lib/lab
load lib/natt
load lib/programs

programs_suite

# prefork_workers: the pids the pre-fork server reported as its workers so far.
prefork_workers() { sed -n 's/^worker //p' "$(natt_stdout prefork)"; }
# prefork_started N: at least N workers have been started so far.
prefork_started() { [ "$(prefork_workers | wc -l)" -ge "$1" ]; }

@test "pre-fork server: published, every worker reachable, retired when SIGTERM to the parent ends it" {
	natt_start prefork lan1 "${NATT_OPTS[@]}" -- "$PROGS/prefork" 8301 3
	natt_expect prefork "^listening 8301$"
	wait_until 5 prefork_started 3
	wait_published tcp 8301
	assert_assignment tcp 8301 upnp "$PUBLIC_ADDR" 8301
	run inet_http 8301
	assert_success
	assert_output --regexp '^prefork [0-9]+$'
	assert_published_by_live_process tcp 8301
	# the workers all share the one listening socket: several requests, all answered by them
	local i served=""
	for i in 1 2 3 4 5 6; do
		run inet_http 8301
		assert_success
		served+="${output#prefork } "
	done
	for i in $served; do prefork_workers | grep -qx "$i" || fail "answered by $i, no worker of ours"; done
	# SIGTERM to the parent: it ends the workers, waits for them and exits 0
	natt_signal prefork TERM
	local rc=0
	wait "$(natt_pid prefork)" || rc=$?
	[ $rc = 0 ] || fail "prefork exited with status $rc"
	grep -qx exiting "$(natt_stdout prefork)"
	wait_host_idle lan1
	assert_router_empty
	assert_status_gone tcp 8301
}

@test "pre-fork server whose workers exit after each request (and are replaced): stays published" {
	# MAX_REQUESTS 1: each worker serves one connection, exits (closing its copy of the socket
	# through exit()) and the parent forks a new one
	natt_start prefork lan1 "${NATT_OPTS[@]}" -- "$PROGS/prefork" 8302 2 1
	natt_expect prefork "^listening 8302$"
	wait_published tcp 8302
	local i
	for i in 1 2 3 4 5; do
		run inet_http 8302
		assert_success
		assert_output --regexp '^prefork [0-9]+$'
	done
	# five workers have come and gone; two live
	wait_until 5 prefork_started 7
	sleep 1
	assert_rule_present 8302
	assert_published_by_live_process tcp 8302
	run inet_http 8302
	assert_success
	assert_output --regexp '^prefork [0-9]+$'
	natt_signal prefork TERM
	natt_wait_exit prefork 10
	wait_host_idle lan1
	assert_router_empty
	assert_status_gone tcp 8302
}

# daemon_round_trip PORT [daemonize options]: the server listens, daemonizes, stays published and
# reachable after its first process has exited, and is retired when SIGTERM ends the daemon.
daemon_round_trip() {
	local port=$1 pidfile=$NATT_TEST_DIR/daemonized.pid daemon rc=0
	shift
	natt_start daemon lan1 "${NATT_OPTS[@]}" -- "$PROGS/daemonize" "$@" "$pidfile" "$port"
	# the first process exits at once, with status 0
	wait "$(natt_pid daemon)" || rc=$?
	[ $rc = 0 ] || fail "daemonize exited with status $rc: $(cat "$(natt_stderr daemon)")"
	grep -qx "listening $port" "$(natt_stdout daemon)"
	wait_file "$pidfile"
	daemon=$(cat "$pidfile")
	alive "$daemon"
	[ "$daemon" != "$(natt_pid daemon)" ]
	wait_published tcp "$port"
	assert_assignment tcp "$port" upnp "$PUBLIC_ADDR" "$port"
	# whatever the exit of the first process did, the daemon still holds the socket
	sleep 2
	assert_rule_present "$port"
	assert_published_by_live_process tcp "$port"
	run inet_http "$port"
	assert_success
	assert_output "daemon $daemon"
	# the daemon left SIGTERM at its default action
	kill -TERM "$daemon"
	wait_until 10 eval "! alive $daemon"
	wait_host_idle lan1
	assert_router_empty
	assert_status_gone tcp "$port"
}

@test "server that listens, then daemonizes: stays published after its parent exits, retired with the daemon" {
	daemon_round_trip 8303
}

@test "server that listens, then daemonizes closing every other fd (close() each): the same" {
	daemon_round_trip 8304 --close-fds
}

@test "server that listens, then calls glibc's daemon(3) and no hooked function after: the same" {
	daemon_round_trip 8305 --daemon3
}
