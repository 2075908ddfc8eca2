#!/usr/bin/env bats
# Natt's own descriptors. Daemons close every fd at start-up (one close() each,
# close_range(3, ~0U, 0), closefrom(3)) and put descriptors on fixed numbers with dup2; natt's manager
# must survive all of it: its fds are protected (close() on them fails with EBADF, as if they were never
# open, and the range calls step around them) or it recovers, and sockets published afterwards are
# published and retired as before. natt's own fds are always CLOEXEC.

load lib/lab
load lib/natt
load lib/programs
load lib/sockctl

programs_suite

# start_ctl NAME [natt-run options]: sockctl under natt-run; BASE_FDS are the fds it started with
# (stdio, and whatever the test harness leaks into it), before natt opened any.
start_ctl() {
	local name=$1
	shift
	natt_start "$name" lan1 "${NATT_OPTS[@]}" "$@" -- "$SOCKCTL"
	ctl "$name" "fds" '^[0-9 ]+$'
	BASE_FDS=$NATT_LAST_REPLY
}

# natt_fds NAME APP_FDS...: the fds of sockctl NAME that are natt's (not in BASE_FDS, not one of APP_FDS).
natt_fds() {
	local name=$1 fd out=()
	shift
	ctl "$name" "fds" '^[0-9 ]+$'
	for fd in $NATT_LAST_REPLY; do
		[[ " $BASE_FDS $* " == *" $fd "* ]] && continue
		out+=("$fd")
	done
	echo "${out[*]}"
}

# fd_target PID FD: what /proc/PID/fd/FD points to.
fd_target() { readlink "/proc/$1/fd/$2"; }

# publishes_again NAME PORT: after whatever the program did, natt still publishes a new socket, and
# retires it when it closes.
publishes_again() {
	sock "$1" tcp "$2"
	wait_published tcp "$2" 10
	ctl "$1" "close $FD" '^ok$'
	gone tcp "$2"
}

@test "natt's own fds are CLOEXEC, and close() on them fails with EBADF and leaves them open" {
	start_ctl a
	sock a tcp 8660
	local s=$FD
	wait_published tcp 8660
	local pid ours fd flags
	pid=$(natt_pid a)
	ours=$(natt_fds a "$s")
	[ -n "$ours" ] || fail "no fd of natt's found in the process (fds: $NATT_LAST_REPLY)"
	for fd in $ours; do
		flags=$(awk '/^flags:/ { print $2 }' "/proc/$pid/fdinfo/$fd")
		(( 8#$flags & 8#2000000 )) || fail "natt's fd $fd ($(fd_target "$pid" "$fd")) is not CLOEXEC (flags $flags)"
	done
	for fd in $ours; do
		local before
		before=$(fd_target "$pid" "$fd")
		ctl a "close $fd" '^ERR close EBADF$'
		[ "$(fd_target "$pid" "$fd")" = "$before" ] || fail "natt's fd $fd ($before) was closed"
	done
	publishes_again a 8661
	ctl a "close $s" '^ok$'
	gone tcp 8660
}

@test "close() on every fd from 3 to 1023 after publishing: natt's fds survive, later sockets are published" {
	start_ctl a
	sock a tcp 8662
	wait_published tcp 8662
	# only the program's own fds were open for it (its socket, and those it started with): natt's
	# fds are not there as far as it can tell
	local fd expected=1
	for fd in $BASE_FDS; do
		[ "$fd" -lt 3 ] || [ "$fd" -gt 1023 ] || expected=$((expected + 1))
	done
	ctl a "close-each 3 1023" "^ok $expected\$"
	gone tcp 8662
	publishes_again a 8663
}

@test "close_range(3, ~0U, 0) after publishing: the manager survives, later sockets are published" {
	start_ctl a
	sock a tcp 8664
	local s=$FD
	sock a udp 8665
	local u=$FD
	wait_published tcp 8664
	wait_published udp 8665
	local pid ours
	pid=$(natt_pid a)
	ours=$(natt_fds a "$s" "$u")
	ctl a "close-range 3 4294967295" '^ok$'
	gone tcp 8664
	gone udp 8665
	[ "$(natt_fds a)" = "$ours" ] || fail "natt's fds were '$ours', now '$(natt_fds a)'"
	publishes_again a 8666
	# and once more: the whole range again, with natt's fds in it
	sock a udp 8667
	wait_published udp 8667
	ctl a "close-range 3 4294967295" '^ok$'
	gone udp 8667
	publishes_again a 8668
}

@test "closefrom(3) after publishing: the manager survives, later sockets are published" {
	start_ctl a
	sock a tcp 8669
	wait_published tcp 8669
	ctl a "closefrom 3" '^ok$'
	gone tcp 8669
	publishes_again a 8670
}

@test "close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) leaves natt working and the mapping in place" {
	start_ctl a
	sock a tcp 8671
	local s=$FD
	wait_published tcp 8671
	ctl a "close-range 3 4294967295 cloexec" '^ok$'
	sleep 1
	rule_present_proto tcp 8671
	publishes_again a 8672
	ctl a "close $s" '^ok$'
	gone tcp 8671
}

@test "dup2 of a file onto natt's own fd numbers: natt keeps publishing and retiring" {
	start_ctl a
	sock a tcp 8673
	local s=$FD
	wait_published tcp 8673
	local ours fd null
	ours=$(natt_fds a "$s")
	ctl a "open /dev/null" '^[0-9]+$'
	null=$NATT_LAST_REPLY
	# a program that puts its own descriptors on fixed numbers (as supervisors do for their children)
	for fd in $ours; do
		[ "$fd" != "$null" ] || continue
		ctl a "dup2 $null $fd" "^$fd\$"
	done
	sleep 0.5
	sock a tcp 8674
	local t=$FD
	wait_published tcp 8674 10
	ctl a "close $s" '^ok$'
	gone tcp 8673
	ctl a "close $t" '^ok$'
	gone tcp 8674
	# and the manager is not left spinning on a descriptor that is no longer its own
	local pid ticks1 ticks2
	pid=$(natt_pid a)
	ticks1=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	sleep 2
	ticks2=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
	[ $((ticks2 - ticks1)) -lt 50 ] || fail "the process used $((ticks2 - ticks1)) ticks of CPU in 2 s while idle"
}

@test "a thread closes every fd it does not know of, again and again, while natt publishes and retires: natt recovers, the program's files are untouched" {
	local scratch=$NATT_TEST_DIR/scratch port
	natt_start storm lan1 "${NATT_OPTS[@]}" -- "$PROGS/fdstorm" 0.0.0.0 8675 8 6 "$scratch"
	natt_expect storm '^done [0-9]+ [0-9]+ [0-9]+ (clean|dirty)$' 40
	[[ $NATT_LAST_REPLY =~ ^done\ ([0-9]+)\ ([0-9]+)\ ([0-9]+)\ ([a-z]+)$ ]]
	local sweeps=${BASH_REMATCH[1]} foreign=${BASH_REMATCH[2]} own_errors=${BASH_REMATCH[3]} scratch_state=${BASH_REMATCH[4]}
	echo "# $sweeps sweeps over fds 3-1023; $foreign of natt's fds closed before natt could protect them" >&3
	[ "$sweeps" -gt 100 ] || fail "only $sweeps sweeps: the storm did not run"
	# the program's own descriptors never failed: natt took none of them for its own
	[ "$own_errors" = 0 ] || fail "$own_errors operations on the program's own fds failed"
	# natt never wrote into a file of the program's that got the number of one of natt's
	[ "$scratch_state" = clean ] || fail "the program's scratch file holds more than its own lines: $(grep -v '^storm$' "$scratch" | head -3)"
	# and natt still works: every socket, reopened many times meanwhile, is published at the router
	for port in 8675 8676 8677 8678 8679 8680 8681 8682; do
		wait_published tcp "$port" 15
		wait_until 10 rule_present_proto tcp "$port" || fail "no rule for port $port at the router: $(router_rules)"
	done
	natt_send storm quit
	natt_wait_exit storm 10
	wait_host_idle lan1
	assert_router_empty
}
