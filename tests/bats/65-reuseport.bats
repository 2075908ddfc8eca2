#!/usr/bin/env bats
# SO_REUSEPORT groups: several sockets on one port are one mapping at the router
# until the last of them closes, in whatever order they close, and whether they live in one process or
# in several.

load lib/lab
load lib/natt
load lib/programs
load lib/sockctl

programs_suite

# group NAME PROTO PORT COUNT: COUNT sockets with SO_REUSEPORT on PORT in sockctl NAME; fds in GROUP;
# where the router's log stood before, in GROUP_MARK.
group() {
	local name=$1 proto=$2 port=$3 count=$4 i
	ctl "$name" "option reuseport on" '^ok$'
	GROUP=()
	for ((i = 0; i < count; i++)); do
		sock "$name" "$proto" "$port"
		GROUP+=("$FD")
	done
}

# one_mapping PROTO PORT: every socket of the group is published on the same external port, PORT (natt
# publishes each, and must not take its own mapping for another host's and move to a free port), and
# the router holds one rule for it.
one_mapping() {
	local ports
	ports=$(status_query --arg p "$1" --argjson port "$2" \
		'[.sockets[] | select(.protocol == $p and .local_port == $port) | .state + " " + ([.assignments[]
		  | select(.technique != null) | .port | tostring] | join(","))] | unique | join(";")')
	[ "$ports" = "published $2" ] ||
		fail "$(printf 'the group on %s port %s is not published on that one port (%s):\n%s' "$1" "$2" "$ports" "$(cat "$NATT_STATUS")")"
	[ "$(rule_count_proto "$1" "$2")" = 1 ] || fail "$(printf 'not one rule for %s port %s:\n%s' "$1" "$2" "$(router_rules)")"
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
			still_published "$proto" "$port" "$name"
			one_mapping "$proto" "$port"
		fi
	done
	gone "$proto" "$port"
}

@test "SO_REUSEPORT, TCP: two sockets on one port are one mapping; closing one keeps it, closing both removes it" {
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	group a tcp 8690 2
	wait_published tcp 8690
	caught_up a
	one_mapping tcp 8690
	closes_last a tcp 8690 "${GROUP[0]}" "${GROUP[1]}"
}

@test "SO_REUSEPORT, UDP: two sockets on one port are one mapping; closing one keeps it, closing both removes it" {
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	group a udp 8691 2
	wait_published udp 8691
	caught_up a
	one_mapping udp 8691
	closes_last a udp 8691 "${GROUP[1]}" "${GROUP[0]}"
}

@test "SO_REUSEPORT, four TCP sockets closed newest first and oldest first: the mapping goes with the last" {
	natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
	group a tcp 8692 4
	wait_published tcp 8692
	caught_up a
	one_mapping tcp 8692
	closes_last a tcp 8692 "${GROUP[3]}" "${GROUP[0]}" "${GROUP[2]}" "${GROUP[1]}"
	# and a new group on the same port is published again
	group a tcp 8692 2
	wait_published tcp 8692
	closes_last a tcp 8692 "${GROUP[@]}"
}

@test "SO_REUSEPORT over PCP: the group is one mapping with one nonce; the last close deletes it" {
	# the router knows a PCP mapping by its nonce and refuses a delete with another: a socket of the
	# group with a nonce of its own would leave the mapping behind
	natt_start a lan1 "${NATT_OPTS[@]}" --protocols pcp -- "$SOCKCTL"
	group a tcp 8695 3
	wait_published tcp 8695
	caught_up a
	one_mapping tcp 8695
	[ "$(status_query '[.sockets[] | select(.local_port == 8695) | .assignments[] | select(.technique != null)
		| .technique] | unique | join(",")')" = pcp ] || fail "not published over PCP: $(cat "$NATT_STATUS")"
	# newest first: the last to close is the first mapped, whose nonce a later MAP would have replaced
	closes_last a tcp 8695 "${GROUP[2]}" "${GROUP[1]}" "${GROUP[0]}"
}

@test "SO_REUSEPORT, renewals: a group keeps one mapping renewed after its first socket closed" {
	natt_start a lan1 "${NATT_OPTS[@]}" --lifetime 10 -- "$SOCKCTL"
	group a tcp 8693 2
	wait_published tcp 8693
	ctl a "close ${GROUP[0]}" '^ok$'
	# more than two 10 s leases, renewed without a deletion
	stays_up_for 22 tcp 8693
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
	ctl a "close $fa" '^ok$'
	still_published tcp 8694 a
	# natt in a looks again each second whether another process still holds the socket: two looks
	stays_up_for 2 tcp 8694
	ctl b "close $fb" '^ok$'
	gone tcp 8694
}
