#!/usr/bin/env bats
# libnatt's high-level API and persistent mappings, in programs linked with the library (no preload),
# checked at the router itself.

load lib/lab
load lib/natt
load lib/resilience

natt_suite dual 2

# The external port of the last "mapping PORT LIFETIME ADDRESS" line natt_expect read.
reply_port() {
	local port=${NATT_LAST_REPLY#mapping }
	echo "${port%% *}"
}
# lease_at_most / lease_at_least PROTO PORT SECONDS: the lease the router has left for that mapping.
lease_at_most() { local l; l=$(router_lease "$1" "$2") && [ "$l" -le "$3" ]; }
lease_at_least() { local l; l=$(router_lease "$1" "$2") && [ "$l" -ge "$3" ]; }

@test "udp-echo example: publishes its socket, prints its public address, answers from the internet" {
	plain_start echo lan1 "$NATT_BUILD/examples/udp-echo" 9400
	wait_until 10 grep -q "reachable at 100.130.0.1:9400 (upnp)" "$(natt_stdout echo)"
	grep -q "reachable at 10.77.0.2:9400 (local)" "$(natt_stdout echo)"
	run on_inet sh -c 'echo libnatt-probe | socat -T2 - UDP4:100.130.0.1:9400'
	assert_output "libnatt-probe"
	rule_present 9400
	natt_signal echo TERM
	natt_wait_exit echo 10
	run rule_present 9400
	assert_failure
}

@test "persistent mapping over NAT-PMP: callback with port and address, current, refresh seen at the router, stop deletes it" {
	plain_start pm lan1 "$NATT_BUILD/tests/progs/persistent" tcp 9401 nat-pmp 60 30
	natt_expect pm "^mapping 9401 60 100\.130\.0\.1$" 10
	rule_present 9401
	natt_send pm current
	natt_expect pm "^current 9401 100\.130\.0\.1$"
	# the lease the router has left falls (the next regular refresh is 30 s away) ...
	wait_until 15 lease_at_most tcp 9401 56
	natt_send pm refresh
	natt_expect pm "^ok$"
	# ... and rises again once refresh asked the router: without a new request it could only keep
	# falling from 56 (a loaded machine reads the router seconds after the refresh, so not 60)
	wait_until 5 lease_at_least tcp 9401 57
	natt_send pm stop
	natt_expect pm "^unmapped$" 10 # on_mapping's last call, as Racket's on-mapping #f #f
	natt_expect pm "^stopped 0$" 10
	run rule_present 9401
	assert_failure
	# the last mapping stopped: natt's thread is gone too
	natt_send pm threads
	natt_expect pm "^threads 1$"
}

@test "persistent mapping: each new external port reaches the callback, the second change too" {
	# lan2 holds external port 9402 first, so the router has to give lan1 another one
	on_lan2 upnpc -e natt-test -a 10.77.0.3 9402 9402 TCP >/dev/null
	plain_start pm lan1 "$NATT_BUILD/tests/progs/persistent" tcp 9402 upnp 60 30
	natt_expect pm "^mapping [0-9]+ 60 100\.130\.0\.1$" 10
	port=$(reply_port)
	[ "$port" != 9402 ]
	router_rule_to "$port" 10.77.0.2:9402
	router_rule_to 9402 10.77.0.3:9402
	# second change: our mapping disappears from the router and lan2 takes its port, so the refresh
	# cannot have it back and must take a third one
	on_lan1 upnpc -d "$port" TCP >/dev/null
	on_lan2 upnpc -e natt-test -a 10.77.0.3 "$port" "$port" TCP >/dev/null
	natt_send pm refresh
	natt_expect pm "^ok$"
	natt_expect pm "^mapping [0-9]+ 60 100\.130\.0\.1$" 10
	second=$(reply_port)
	[ "$second" != "$port" ] || fail "the refresh kept port $port, which lan2 holds now"
	[ "$second" != 9402 ] || fail "the refresh took port 9402, which lan2 holds"
	router_rule_to "$second" 10.77.0.2:9402
	natt_send pm current
	natt_expect pm "^current $second 100\.130\.0\.1$"
	natt_send pm stop
	natt_expect pm "^unmapped$" 10
	natt_expect pm "^stopped 0$" 10
	run rule_present "$second"
	assert_failure
	# lan2's mappings are not ours and stay
	router_rule_to 9402 10.77.0.3:9402
	router_rule_to "$port" 10.77.0.3:"$port"
	on_lan2 upnpc -d 9402 TCP >/dev/null
	on_lan2 upnpc -d "$port" TCP >/dev/null
}

@test "persistent mapping with a short lease is refreshed at the interval given, not at half the lease" {
	# lease 20 s, refresh every 2 s: the lease left at the router never falls much below 18 s. At half
	# the lease (10 s) it would fall to 10 s within the 12 s watched.
	plain_start pm lan1 "$NATT_BUILD/tests/progs/persistent" udp 9403 nat-pmp 20 2
	natt_expect pm "^mapping 9403 20 100\.130\.0\.1$" 10
	local start=$SECONDS lease min=99 last=0 raises=0
	while [ $((SECONDS - start)) -lt 12 ]; do
		lease=$(router_lease udp 9403) || fail "after $((SECONDS - start)) s the router has no mapping"
		[ "$lease" -ge "$min" ] || min=$lease
		[ "$lease" -le "$last" ] || [ "$last" = 0 ] || raises=$((raises + 1))
		last=$lease
		sleep 0.3
	done
	tap_note "lease 20 s, refresh 2 s: lowest lease left at the router $min s, $raises refreshes seen"
	[ "$min" -ge 15 ] || fail "the lease fell to $min s: not refreshed every 2 s"
	# about 6 refreshes happened; a loaded machine samples less often and sees fewer
	[ "$raises" -ge 2 ] || fail "only $raises refreshes seen in 12 s"
	natt_send pm stop
	natt_expect pm "^unmapped$" 10
	natt_expect pm "^stopped 0$" 10
	run rule_present_proto udp 9403
	assert_failure
}

@test "persistent mapping: losing it reaches the callback (unmapped), and so does the mapping made again" {
	plain_start pm lan1 "$NATT_BUILD/tests/progs/persistent" tcp 9404 nat-pmp 60 30
	natt_expect pm "^mapping 9404 60 100\.130\.0\.1$" 10
	# the router goes (NAT-PMP refused at once by ICMP): the refresh asked now fails
	lab router-stop --flush
	natt_send pm refresh
	natt_expect pm "^ok$"
	natt_expect pm "^unmapped$" 10
	natt_send pm current
	natt_expect pm "^none$"
	# back, with a new epoch and its announcement: natt maps again and says so
	lab router-start
	natt_expect pm "^mapping 9404 60 100\.130\.0\.1$" 15
	rule_present 9404
	natt_send pm stop
	natt_expect pm "^unmapped$" 10
	natt_expect pm "^stopped 0$" 10
	run rule_present 9404
	assert_failure
}

@test "a callback that comes before natt_listener_publish_socket() returns finds its listener whole" {
	# (the publishing thread loses its CPU right after waking natt's thread, as on a loaded machine:
	# natt publishes and calls back meanwhile, and the callback asks natt_listener_state())
	plain_start l lan1 env LISTENER_SLOW_WAKE=1 "$NATT_BUILD/tests/progs/listener" socket tcp 9420
	natt_expect l "^published$" 10
	grep -qx "slow wake: a callback came first" "$(natt_stderr l)" ||
		fail "natt did not call back while the publishing call waited: $(cat "$(natt_stderr l)")"
	wait_until 10 grep -qx "change published local:10.77.0.2:9420 upnp:100.130.0.1:9420" "$(natt_stderr l)"
	rule_present 9420
	natt_send l stop
	natt_expect l "^stopped 0$" 10
	run rule_present 9420
	assert_failure
}
