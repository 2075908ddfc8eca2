# Helpers for the suites that drive tests/progs/sockctl under natt-run in the lab, one command at a
# time (tests/bats/6*-*.bats), and look at one mapping at the router. Load after lib/lab, lib/natt and
# lib/programs:
#
#     load lib/lab
#     load lib/natt
#     load lib/programs
#     load lib/sockctl
#     programs_suite
#
#     @test "..." {
#         natt_start a lan1 "${NATT_OPTS[@]}" -- "$SOCKCTL"
#         sock a tcp 8600                 # its fd in FD
#         wait_published tcp 8600
#         ctl a "dup $FD" '^[0-9]+$'
#         ctl a "close $FD" '^ok$'
#         still_published tcp 8600 a      # after natt in a has handled the close
#         ...
#     }

# shellcheck disable=SC2034  # variables meant for the suites

SOCKCTL=$NATT_BUILD/tests/progs/sockctl
# A UDP port no suite uses: caught_up publishes it for a moment.
CAUGHT_UP_PORT=8999

# ctl NAME COMMAND REGEX — one sockctl command, whose reply must match REGEX (reply in NATT_LAST_REPLY).
ctl() { natt_send "$1" "$2" && natt_expect "$1" "$3"; }

# sock NAME tcp|udp PORT — a socket on 0.0.0.0:PORT in sockctl NAME; its fd in FD.
sock() {
	ctl "$1" "$2 0.0.0.0 $3" "^[0-9]+ $3\$"
	FD=${NATT_LAST_REPLY%% *}
}

# caught_up NAME — natt in sockctl NAME has handled every close the program made before: a socket
# opened now is published only after the retirements queued before it (each round of natt's manager
# retires first, then publishes), so once the router has mapped it, a wrong deletion would have reached
# the router already. The socket is closed again and gone when this returns.
caught_up() {
	local fd
	sock "$1" udp "$CAUGHT_UP_PORT"
	fd=$FD
	wait_published udp "$CAUGHT_UP_PORT"
	ctl "$1" "close $fd" '^ok$'
	gone udp "$CAUGHT_UP_PORT"
}

# still_published PROTO PORT [NAME] — the router forwards PORT for PROTO, its log shows no deletion of it
# since wait_published last saw it published (a deletion followed by a new mapping shows there, not in
# the rules), and the status file says published. With NAME: first wait until natt in sockctl NAME has
# handled what the program did (caught_up), instead of sleeping and hoping a wrong retirement is done.
still_published() {
	local proto=$1 port=$2
	[ -z "${3:-}" ] || caught_up "$3"
	rule_present_proto "$proto" "$port" ||
		fail "$(printf 'the router no longer forwards %s port %s; rules:\n%s\nstatus:\n%s' "$proto" "$port" \
			"$(router_rules)" "$(cat "$NATT_STATUS" 2>/dev/null)")"
	assert_not_deleted_since "$(published_mark "$proto" "$port")" "$proto" "$port"
	status_has "$proto" "$port" published ||
		fail "$(printf '%s port %s is no longer published:\n%s' "$proto" "$port" "$(cat "$NATT_STATUS")")"
}

# gone PROTO PORT [TIMEOUT] — the mapping is deleted at the router and the status file no longer lists it.
gone() {
	wait_until "${3:-10}" rule_absent_proto "$1" "$2" ||
		fail "$(printf 'the router still forwards %s port %s:\n%s' "$1" "$2" "$(router_rules)")"
	wait_until 5 eval "! status_has $1 $2 published" ||
		fail "$(printf 'the status file still lists %s port %s as published:\n%s' "$1" "$2" "$(cat "$NATT_STATUS")")"
	assert_status_gone "$1" "$2"
}

# end_program NAME — sockctl exits through exit(); every mapping it still had goes with it.
end_program() {
	natt_send "$1" "exit 0"
	natt_wait_exit "$1" 10
	assert_router_empty
}

# published_by PROTO PORT PID — the status file's published entries for PORT all name PID (and some do).
published_by() {
	local pids
	pids=$(jq -r --arg p "$1" --argjson port "$2" \
		'.sockets[] | select(.protocol == $p and .local_port == $port and .state == "published") | .pid' \
		"$NATT_STATUS" 2>/dev/null | sort -u)
	[ "$pids" = "$3" ]
}

# stays_up_for SECONDS PROTO PORT — the router forwards PORT at every check (each second) for SECONDS,
# and its log shows no deletion of it since it was published.
stays_up_for() {
	local end=$((SECONDS + $1))
	while [ $SECONDS -lt $end ]; do
		rule_present_proto "$2" "$3" ||
			fail "$(printf 'the router stopped forwarding %s port %s (%s s before the end of the watch):\n%s\nstatus:\n%s' \
				"$2" "$3" $((end - SECONDS)) "$(router_rules)" "$(cat "$NATT_STATUS" 2>/dev/null)")"
		sleep 1
	done
	assert_not_deleted_since "$(published_mark "$2" "$3")" "$2" "$3"
}
