#!/usr/bin/env bats
# Copies and replacements. A mapping belongs to the socket, so every copy of
# the fd (dup, dup2, dup3, fcntl F_DUPFD and F_DUPFD_CLOEXEC) holds it until the last copy closes;
# dup2/dup3 onto a published fd end that copy; close_range (with and without CLOSE_RANGE_CLOEXEC) and
# closefrom end many at once; fclose() of a stream on the socket ends it too; and an fd number that a
# path natt does not see closed (the raw system call) and that now names something else is never
# taken for the old socket. The same holds for a copy made, or a close done, right after listen(),
# before natt's manager has looked at the socket. tests/progs/sockctl makes the program do each step.

load lib/lab
load lib/natt
load lib/programs
load lib/sockctl

programs_suite

# copy_holds NAME PORT COPY_COMMAND: COPY_COMMAND (with FD for the original) makes a copy of a published
# TCP socket; the original closes first (the mapping stays), then the copy (the mapping goes).
copy_holds() {
	local name=$1 port=$2 cmd=$3 orig copy
	natt_start "$name" lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	sock "$name" tcp "$port"
	orig=$FD
	wait_published tcp "$port"
	ctl "$name" "${cmd//FD/$orig}" '^[0-9]+$'
	copy=$NATT_LAST_REPLY
	[ "$copy" != "$orig" ]
	ctl "$name" "close $orig" '^ok$'
	still_published tcp "$port" "$name"
	ctl "$name" "close $copy" '^ok$'
	gone tcp "$port"
	kill -0 "$(natt_pid "$name")"
}

@test "dup: the copy keeps the mapping after the original closes; the last close deletes it" {
	copy_holds a 8600 "dup FD"
}

@test "dup2: the copy keeps the mapping after the original closes; the last close deletes it" {
	copy_holds a 8601 "dup2 FD 40"
}

@test "dup3: the copy keeps the mapping after the original closes; the last close deletes it" {
	copy_holds a 8602 "dup3 FD 41"
}

@test "fcntl F_DUPFD: the copy keeps the mapping after the original closes; the last close deletes it" {
	copy_holds a 8603 "dupfd FD 50"
}

@test "fcntl F_DUPFD_CLOEXEC: the copy keeps the mapping after the original closes; the last close deletes it" {
	copy_holds a 8604 "dupfd-cloexec FD 60"
}

@test "dup() at once after listen() and the original closed, before natt looked at the socket: the copy is published; its close deletes it" {
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	ctl a "tcp-then dup-close 0.0.0.0 8620" '^[0-9]+ 8620$'
	local copy=${NATT_LAST_REPLY%% *}
	wait_published tcp 8620
	still_published tcp 8620 a
	ctl a "close $copy" '^ok$'
	gone tcp 8620
}

@test "close() at once after listen(), before natt looked at the socket: nothing is published, later sockets are" {
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	ctl a "tcp-then close 0.0.0.0 8621" '^ok$'
	sock a tcp 8622
	wait_published tcp 8622
	run rule_present_proto tcp 8621
	assert_failure
	run status_has tcp 8621 published
	assert_failure
	ctl a "close $FD" '^ok$'
	gone tcp 8622
	end_program a
}

@test "many copies of one socket (each kind): the mapping goes with the last of them, whatever the order" {
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	sock a udp 8605
	local fds=("$FD")
	wait_published udp 8605
	ctl a "dup $FD" '^[0-9]+$'
	fds+=("$NATT_LAST_REPLY")
	ctl a "dup2 $FD 70" '^70$'
	ctl a "dup3 ${fds[1]} 71" '^71$'
	ctl a "dupfd 70 80" '^80$'
	ctl a "dupfd-cloexec 80 90" '^90$'
	fds+=(70 71 80 90)
	# close in an order that is neither creation order nor its reverse
	local order=("${fds[2]}" "${fds[0]}" "${fds[5]}" "${fds[3]}" "${fds[1]}")
	local fd
	for fd in "${order[@]}"; do
		ctl a "close $fd" '^ok$'
	done
	still_published udp 8605 a
	ctl a "close ${fds[4]}" '^ok$'
	gone udp 8605
}

# replace_ends NAME CMD PORT1 PORT2: CMD A B puts a copy of B's socket on A (published on PORT1): A's
# mapping goes, B's stays until both of its fds are closed.
replace_ends() {
	local name=$1 cmd=$2 p1=$3 p2=$4 a b
	natt_start "$name" lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	sock "$name" tcp "$p1"
	a=$FD
	sock "$name" tcp "$p2"
	b=$FD
	wait_published tcp "$p1"
	wait_published tcp "$p2"
	ctl "$name" "$cmd $b $a" "^$a\$"
	gone tcp "$p1"
	still_published tcp "$p2" "$name"
	ctl "$name" "close $b" '^ok$'
	still_published tcp "$p2" "$name"
	ctl "$name" "close $a" '^ok$'
	gone tcp "$p2"
}

@test "dup2 onto a published fd ends that copy: its mapping goes, the other socket's stays" {
	replace_ends a dup2 8606 8607
}

@test "dup3 onto a published fd ends that copy: its mapping goes, the other socket's stays" {
	replace_ends a dup3 8608 8609
}

@test "dup2 of a plain file onto a published fd ends the socket's mapping" {
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	sock a udp 8610
	local s=$FD
	wait_published udp 8610
	ctl a "open /dev/null" '^[0-9]+$'
	ctl a "dup2 $NATT_LAST_REPLY $s" "^$s\$"
	gone udp 8610
	# and the file now on that number is not a socket of natt's: closing it changes nothing
	sock a tcp 8611
	wait_published tcp 8611
	ctl a "close $s" '^ok$'
	still_published tcp 8611 a
	end_program a
}

@test "close_range over published sockets (and natt's own fds between them) retires them; natt keeps working" {
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	sock a tcp 8612
	local first=$FD
	wait_published tcp 8612
	# natt's manager has opened its own fds by now: the next socket lies above them
	sock a udp 8613
	local last=$FD
	wait_published udp 8613
	ctl a "close-range $first $last" '^ok$'
	gone tcp 8612
	gone udp 8613
	# the manager survived: a new socket is published, and retired when it closes
	sock a tcp 8614
	wait_published tcp 8614
	ctl a "close $FD" '^ok$'
	gone tcp 8614
}

@test "close_range with CLOSE_RANGE_CLOEXEC ends nothing now; exec then closes the socket and its mapping goes" {
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	ctl a "option cloexec off" '^ok$'
	sock a tcp 8615
	local s=$FD
	wait_published tcp 8615
	ctl a "close-range $s $s cloexec" '^ok$'
	still_published tcp 8615 a
	ctl a "exec $SOCKCTL --banner" '^ready [0-9]+$'
	gone tcp 8615
	# the kernel's view: the socket is really gone (its fd number may be reused, by natt too)
	run host_listens lan1 tcp 8615
	assert_failure
}

@test "closefrom over published sockets retires them; natt keeps working" {
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	sock a tcp 8616
	local first=$FD
	sock a udp 8617
	wait_published tcp 8616
	wait_published udp 8617
	ctl a "closefrom $first" '^ok$'
	gone tcp 8616
	gone udp 8617
	sock a udp 8618
	wait_published udp 8618
	ctl a "close $FD" '^ok$'
	gone udp 8618
}

@test "fd reused after a close natt did not see: a new socket on that number is published, the old mapping goes" {
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	sock a tcp 8619
	local s=$FD
	wait_published tcp 8619
	ctl a "sys-close $s" '^ok$'
	# the lowest free number is the one just closed
	ctl a "tcp 0.0.0.0 8620" "^$s 8620\$"
	wait_published tcp 8620
	gone tcp 8619
	ctl a "close $s" '^ok$'
	gone tcp 8620
}

@test "a close natt did not see, the number not reused: the mapping goes at the next renewal" {
	# --lifetime 10: natt renews after 5 s, and looks first whether the socket still exists
	natt_start a lan1 "${NATT_OPTS[@]}" --lifetime 10 -- "$SOCKCTL"
	sock a tcp 8625
	local s=$FD
	wait_published tcp 8625
	# the socket's last copy on a high number, which neither the program nor natt's own descriptors
	# (the kernel gives the lowest free one) take again: only the check at renewal can notice its end
	ctl a "dupfd $s 200" '^200$'
	ctl a "close $s" '^ok$'
	local t0
	t0=$(now_s)
	ctl a "sys-close 200" '^ok$'
	# the renewal is due half a lease (5 s) after publishing at the latest; 3 s more for a loaded machine
	gone tcp 8625 8
	tap_note "a socket closed behind natt's back: its mapping went $(elapsed_since "$t0") s later"
	end_program a
}

@test "fd reused for a file after a close natt did not see: the file is not taken for the socket" {
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	sock a tcp 8621
	local s=$FD
	wait_published tcp 8621
	ctl a "sys-close $s" '^ok$'
	ctl a "open /etc/hostname" "^$s\$"
	# copies of the file are no copies of the socket: the mapping must not be kept alive by them
	ctl a "dup $s" '^[0-9]+$'
	local copy=$NATT_LAST_REPLY
	ctl a "dupfd $s 100" '^100$'
	ctl a "close $s" '^ok$'
	gone tcp 8621
	ctl a "close $copy" '^ok$'
	ctl a "close 100" '^ok$'
	# natt still works for new sockets
	sock a tcp 8622
	wait_published tcp 8622
	ctl a "close $FD" '^ok$'
	gone tcp 8622
}

@test "fclose() of a stream on a published socket (fdopen): the mapping goes at once" {
	# fclose() ends the fd with glibc's internal close, which no preload sees; natt reads the
	# stream's fd before. The default lease (3600 s): nothing but the fclose can retire it in time.
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	sock a tcp 8623
	local s=$FD
	sock a tcp 8624
	wait_published tcp 8623
	wait_published tcp 8624
	ctl a "fclose $s" '^ok$'
	gone tcp 8623 5
	# the other socket is untouched
	still_published tcp 8624 a
	end_program a
}
