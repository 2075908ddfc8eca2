#!/usr/bin/env bats
# Issue 5, semantics 7 — SO_REUSEPORT groups: several sockets on one port are one mapping at the router
# until the last of them closes, in whatever order they close, and whether they live in one process or
# in several.

load lib/lab
load lib/natt
load lib/programs

SOCKCTL=$NATT_BUILD/tests/progs/sockctl

setup_file() {
	require_root
	lab_up dual
}
teardown_file() { lab_down; }
setup() { programs_setup; }
teardown() { programs_teardown; }

proto_code() { if [ "$1" = udp ]; then echo 0x11; else echo 0x6; fi; }
has_rule() { router_rules | grep -q "@nh,72,8 $(proto_code "$1") th dport $2 "; }
rule_count() { router_rules | grep -c "@nh,72,8 $(proto_code "$1") th dport $2 " || true; }

ctl() { natt_send "$1" "$2" && natt_expect "$1" "$3"; }

sock() {
	ctl "$1" "$2 0.0.0.0 $3" "^[0-9]+ $3\$"
	FD=${NATT_LAST_REPLY%% *}
}

still_published() {
	sleep "${3:-1.5}"
	has_rule "$1" "$2" ||
		fail "$(printf 'the router no longer forwards %s port %s; rules:\n%s\nstatus:\n%s' "$1" "$2" "$(router_rules)" "$(cat "$NATT_STATUS" 2>/dev/null)")"
	status_has "$1" "$2" published ||
		fail "$(printf '%s port %s is no longer published:\n%s' "$1" "$2" "$(cat "$NATT_STATUS")")"
}

gone() {
	wait_until "${3:-10}" eval "! has_rule $1 $2" ||
		fail "$(printf 'the router still forwards %s port %s:\n%s' "$1" "$2" "$(router_rules)")"
	wait_until 5 eval "! status_has $1 $2 published" ||
		fail "$(printf 'the status file still lists %s port %s as published:\n%s' "$1" "$2" "$(cat "$NATT_STATUS")")"
	assert_status_gone "$1" "$2"
}

# one_mapping PROTO PORT: exactly one rule at the router for it.
one_mapping() {
	local n
	n=$(rule_count "$1" "$2")
	[ "$n" = 1 ] || fail "$(printf '%s rules for %s port %s, expected one:\n%s' "$n" "$1" "$2" "$(router_rules)")"
}

# group NAME PROTO PORT COUNT: COUNT sockets with SO_REUSEPORT on PORT in sockctl NAME; fds in GROUP.
group() {
	local name=$1 proto=$2 port=$3 count=$4 i
	ctl "$name" "option reuseport on" '^ok$'
	GROUP=()
	for ((i = 0; i < count; i++)); do
		sock "$name" "$proto" "$port"
		GROUP+=("$FD")
	done
}

# closes_last NAME PROTO PORT FDS...: closes FDS in order; the mapping stays until the last.
closes_last() {
	local name=$1 proto=$2 port=$3 n
	shift 3
	n=$#
	for fd in "$@"; do
		ctl "$name" "close $fd" '^ok$'
		n=$((n - 1))
		if [ $n -gt 0 ]; then
			still_published "$proto" "$port"
			one_mapping "$proto" "$port"
		fi
	done
	gone "$proto" "$port"
}

@test "SO_REUSEPORT, TCP: two sockets on one port are one mapping; closing one keeps it, closing both removes it" {
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	group a tcp 8690 2
	wait_published tcp 8690
	sleep 1
	one_mapping tcp 8690
	closes_last a tcp 8690 "${GROUP[0]}" "${GROUP[1]}"
}

@test "SO_REUSEPORT, UDP: two sockets on one port are one mapping; closing one keeps it, closing both removes it" {
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	group a udp 8691 2
	wait_published udp 8691
	sleep 1
	one_mapping udp 8691
	closes_last a udp 8691 "${GROUP[1]}" "${GROUP[0]}"
}

@test "SO_REUSEPORT, four TCP sockets closed newest first and oldest first: the mapping goes with the last" {
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	group a tcp 8692 4
	wait_published tcp 8692
	sleep 1
	one_mapping tcp 8692
	closes_last a tcp 8692 "${GROUP[3]}" "${GROUP[0]}" "${GROUP[2]}" "${GROUP[1]}"
	# and a new group on the same port is published again
	group a tcp 8692 2
	wait_published tcp 8692
	closes_last a tcp 8692 "${GROUP[@]}"
}

@test "SO_REUSEPORT, renewals: a group keeps one mapping renewed after its first socket closed" {
	natt_start a lan1 "${NATT_OPTS[@]}" --lifetime 10 -- "$SOCKCTL"
	group a tcp 8693 2
	wait_published tcp 8693
	ctl a "close ${GROUP[0]}" '^ok$'
	local end=$((SECONDS + 22))
	while [ $SECONDS -lt $end ]; do
		has_rule tcp 8693 || fail "$(printf 'tcp port 8693 stopped being forwarded %s s before the end:\n%s' $((end - SECONDS)) "$(cat "$NATT_STATUS")")"
		sleep 1
	done
	one_mapping tcp 8693
	ctl a "close ${GROUP[1]}" '^ok$'
	gone tcp 8693
}

@test "SO_REUSEPORT across two processes: the first to close leaves the other's mapping in place" {
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	natt_start b lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	group a tcp 8694 1
	local fa=${GROUP[0]}
	group b tcp 8694 1
	local fb=${GROUP[0]}
	wait_until 15 eval '[ "$(jq "[.sockets[] | select(.local_port == 8694 and .state == \"published\")] | length" "$NATT_STATUS")" = 2 ]' ||
		fail "$(printf 'both processes should have published port 8694:\n%s' "$(cat "$NATT_STATUS")")"
	one_mapping tcp 8694
	ctl a "close $fa" '^ok$'
	still_published tcp 8694 2
	one_mapping tcp 8694
	ctl b "close $fb" '^ok$'
	gone tcp 8694
}
