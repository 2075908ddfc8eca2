#!/usr/bin/env bats
# A mapping belongs to a socket, not to an fd or a process: a forked child
# closing its inherited copy retires nothing; a server that listens and then daemonizes (the parent
# exits, the child serves) stays published, renewed by the child; a child that keeps the socket after
# the parent closed its copy keeps it published; the last holder's close deletes it; a child forked
# right after listen(), before natt's manager looked at the socket, can take the mapping over too.
# vfork + exec and posix_spawn in a program with published sockets are safe: no crash, and the
# mappings stay.

load lib/lab
load lib/natt
load lib/programs
load lib/sockctl

programs_suite

DAEMONIZE=$NATT_BUILD/tests/progs/daemonize

# lists_pid PROTO PORT PID: the status file has an entry of process PID for PORT.
lists_pid() { status_pids "$1" "$2" | grep -qx "$3"; }

@test "a forked child closing its inherited copies retires nothing; the parent's close does" {
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	sock a tcp 8630
	local t=$FD
	sock a udp 8630
	local u=$FD
	wait_published tcp 8630
	wait_published udp 8630
	ctl a "fork-close $t" '^ok$'
	ctl a "fork-close $u" '^ok$'
	still_published tcp 8630 a
	still_published udp 8630
	published_by tcp 8630 "$(natt_pid a)"
	ctl a "close $t" '^ok$'
	gone tcp 8630
	ctl a "close $u" '^ok$'
	gone udp 8630
}

@test "a socket kept by a child after the parent closed its copy stays published (renewed) until the child closes it" {
	natt_start a lan1 "${NATT_OPTS[@]}" --lifetime 10 -- "$SOCKCTL"
	sock a tcp 8631
	local t=$FD
	wait_published tcp 8631
	# the child holds every fd for 28 s (the watch below takes 19 to 22), then closes the socket and
	# exits through exit()
	ctl a "fork-hold $t 28" '^child [0-9]+$'
	local child=${NATT_LAST_REPLY#child }
	ctl a "close $t" '^ok$'
	# more than two 10 s leases: someone must renew it while the child holds the socket
	stays_up_for 20 tcp 8631
	alive "$child"
	natt_send a reap
	natt_expect a '^ok 1$' 15 # (the child's hold ends first)
	gone tcp 8631 12
	end_program a
}

@test "fork() at once after listen(), before natt looked at the socket; the parent exits: the child takes the mapping over" {
	natt_start a lan1 "${NATT_OPTS[@]}" --lifetime 10 -- "$SOCKCTL"
	ctl a "tcp-then fork-hold 0.0.0.0 8639" '^[0-9]+ 8639 child [0-9]+$'
	local child=${NATT_LAST_REPLY##* }
	wait_published tcp 8639
	natt_send a "exit 0"
	natt_wait_exit a 10
	wait_until 5 published_by tcp 8639 "$child" ||
		fail "$(printf 'the status file does not name the child (pid %s) for port 8639:\n%s' "$child" "$(cat "$NATT_STATUS")")"
	# renewed by the child: more than two 10 s leases
	stays_up_for 22 tcp 8639
	kill -TERM "$child"
	wait_until 10 eval "! alive $child"
	gone tcp 8639
}

@test "listen, then daemonize: the child takes the mapping over, renews it, and deletes it at SIGTERM" {
	local pidfile=$NATT_TEST_DIR/daemon.pid
	natt_start d lan1 "${NATT_OPTS[@]}" --lifetime 10 -- "$DAEMONIZE" "$pidfile" 8632
	natt_expect d '^listening 8632$'
	wait_file "$pidfile"
	local daemon
	daemon=$(cat "$pidfile")
	natt_wait_exit d 10
	# the daemon's pid replaces the parent's in the status file within a few seconds
	wait_until 5 published_by tcp 8632 "$daemon" ||
		fail "$(printf 'the status file does not name the daemon (pid %s) for port 8632:\n%s' "$daemon" "$(cat "$NATT_STATUS")")"
	rule_present_proto tcp 8632
	# renewed by the daemon: more than two 10 s leases
	stays_up_for 22 tcp 8632
	run inet_http 8632
	assert_success
	assert_output "daemon $daemon"
	published_by tcp 8632 "$daemon"
	kill -TERM "$daemon"
	wait_until 10 eval "! alive $daemon"
	gone tcp 8632
}

@test "listen, then daemonize closing every other fd: the daemon still takes the mapping over" {
	local pidfile=$NATT_TEST_DIR/daemon.pid
	natt_start d lan1 "${NATT_OPTS[@]}" --lifetime 10 -- "$DAEMONIZE" --close-fds "$pidfile" 8633
	natt_expect d '^listening 8633$'
	wait_file "$pidfile"
	local daemon
	daemon=$(cat "$pidfile")
	natt_wait_exit d 10
	wait_until 5 published_by tcp 8633 "$daemon" ||
		fail "$(printf 'the status file does not name the daemon (pid %s) for port 8633:\n%s' "$daemon" "$(cat "$NATT_STATUS")")"
	stays_up_for 22 tcp 8633
	run inet_http 8633
	assert_success
	assert_output "daemon $daemon"
	kill -TERM "$daemon"
	wait_until 10 eval "! alive $daemon"
	gone tcp 8633
}

# spawn_keeps NAME COMMAND PORT CLOEXEC: a program with published TCP and UDP sockets (FD_CLOEXEC on or
# off) runs a child with COMMAND (vfork-exec or spawn): no crash, the mappings stay, and they still go
# when the program closes the sockets.
spawn_keeps() {
	local name=$1 cmd=$2 port=$3 cloexec=$4 t u
	natt_start "$name" lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	ctl "$name" "option cloexec $cloexec" '^ok$'
	sock "$name" tcp "$port"
	t=$FD
	sock "$name" udp "$port"
	u=$FD
	wait_published tcp "$port"
	wait_published udp "$port"
	# children that run and exit (the preload library is loaded into them too: one that lives long
	# enough for its natt to act), one whose exec fails (it leaves through _exit), and a shell
	ctl "$name" "$cmd /bin/true" '^ok 0$'
	ctl "$name" "$cmd /bin/sleep 2" '^ok 0$'
	# (vfork: the child's exec fails and it leaves through _exit(127); posix_spawn reports ENOENT)
	ctl "$name" "$cmd /nonexistent/program" '^(ok 127|ERR spawn ENOENT)$'
	ctl "$name" "$cmd /bin/sh -c exit" '^ok 0$'
	still_published tcp "$port" "$name"
	still_published udp "$port"
	published_by tcp "$port" "$(natt_pid "$name")"
	# natt in the program still follows its sockets
	ctl "$name" "close $t" '^ok$'
	gone tcp "$port"
	still_published udp "$port" "$name"
	ctl "$name" "close $u" '^ok$'
	gone udp "$port"
	end_program "$name"
}

@test "vfork + exec in a program with published (CLOEXEC) sockets: no crash, the mappings stay" {
	spawn_keeps a vfork-exec 8634 on
}

@test "vfork + exec in a program with published sockets the child inherits: the mappings stay" {
	spawn_keeps a vfork-exec 8635 off
}

@test "posix_spawn in a program with published (CLOEXEC) sockets: no crash, the mappings stay" {
	spawn_keeps a spawn 8636 on
}

@test "posix_spawn in a program with published sockets the child inherits: the mappings stay" {
	spawn_keeps a spawn 8637 off
}

@test "a vfork child closing its copy of a published socket retires nothing; the parent's close does" {
	# The vfork child shares the parent's memory, natt's fd table included, but not its descriptors.
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	sock a tcp 8638
	local t=$FD
	wait_published tcp 8638
	ctl a "vfork-close $t" '^ok$'
	still_published tcp 8638 a
	ctl a "close $t" '^ok$'
	gone tcp 8638
	end_program a
}

@test "posix_spawn of a child that keeps the socket: the parent's close leaves the mapping, the child's end takes it" {
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	ctl a "option cloexec off" '^ok$'
	sock a tcp 8639
	local t=$FD child
	wait_published tcp 8639
	# (the child would end by itself after 60 s: it is ended earlier, below)
	ctl a "spawn-hold 60" '^child [0-9]+$'
	child=${NATT_LAST_REPLY#child }
	# the child (preloaded too) starts with a listening socket it inherited: it publishes it as well
	wait_until 5 lists_pid tcp 8639 "$child" ||
		fail "the spawned child $child did not take up the socket: $(cat "$NATT_STATUS")"
	ctl a "close $t" '^ok$'
	still_published tcp 8639 a
	# natt in a looks each second whether another process still holds the socket: two looks
	stays_up_for 2 tcp 8639
	alive "$child" || fail "the child $child ended before the end of the watch"
	# the last holder ends (SIGTERM at its default action: natt in it deletes the mapping first)
	kill -TERM "$child"
	ctl a "reap" '^ok 1$'
	gone tcp 8639
	end_program a
}
