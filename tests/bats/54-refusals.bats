#!/usr/bin/env bats
# Routers that say no. A deny rule in miniupnpd.conf ("deny 8500-8599
# 0.0.0.0/0 0-65535": external ports 8500-8599, any client, any internal port) makes UPnP refuse those
# ports with 606: natt says "failed" with the reason in words, tries again later, and the program serves
# on regardless (its other ports are published). Through NAT-PMP the same rule does not refuse:
# miniupnpd searches upward for an external port the rules allow and grants that one (8600), so a dual
# natt ends up published there. A router whose own WAN address is reserved (double NAT, CGNAT space)
# refuses everything (miniupnpd: "Port forwarding is impossible", UPnP 501, NAT-PMP result 3): natt says
# "failed" with the router's reason.
#
# Not testable here: miniupnpd never answers 725 OnlyPermanentLeasesSupported, nor 402 to a lease of 0
# (natt-lab cannot make it), so the "lease 0" and "bounded lease" fallbacks have no lab test: the
# policy (lib/upnp/igd_client.c, shared by the engine, the CLI and libnatt) is unit-tested against fake routers in
# tests/unit/test_upnp_call.c (test_lease_policy, test_igd_map_permanent). Nor can
# this miniupnpd (Debian 2.3.1: no ext_allow_private_ipv4; ext_ip= refuses reserved addresses) map
# anything with a reserved WAN address, so a published mapping flagged "double-nat" cannot be produced.
# (A deny rule on internal ports instead, e.g. "deny 0-65535 0.0.0.0/0 8500-8599", would make NAT-PMP
# refuse too, but miniupnpd then tries every external port in turn, logging each, and stops answering
# anyone for a minute.)

load lib/lab
load lib/natt
load lib/resilience

natt_suite dual 1 --config-extra 'deny 8500-8599 0.0.0.0/0 0-65535'
teardown() {
	natt_test_teardown
	[ -z "${LAB_ID:-}" ] || [ "$(lab_info ext_ip)" = 100.130.0.1 ] || lab set-ext-addr 100.130.0.1/24
}

attempts_8540() { router_log_count "AddPortMapping: ext port 8540 to 10.77.0.2:8540 protocol TCP"; }

@test "deny rule (UPnP): state failed with the reason in words, retried, the program serves locally, other ports published" {
	serve srv lan1 "8540 8640" --log info --protocols upnp # 8640: outside the denied range
	wait_state tcp 8540 failed
	wait_state udp 8540 failed
	wait_published tcp 8640
	run status_field tcp 8540 error
	tap_note "deny rule, status error: $output"
	assert_output --partial "606"
	assert_output --regexp "[Nn]ot authorized"
	run status_query '[.sockets[] | select(.local_port == 8540) | .assignments[] | select(.technique != null)] | length'
	assert_output "0"
	run rule_present_proto tcp 8540
	assert_failure
	# the program is unaffected: it answers on the LAN, and its other port is public
	run on_lan1 socat -T2 - TCP4:10.77.0.2:8540
	assert_output "hello from echoserv"
	run on_inet socat -T2 - TCP:100.130.0.1:8640,connect-timeout=2 </dev/null
	assert_output "hello from echoserv"
	# retried later (back-off), not given up and not hammered. The back-off starts at 1 s and doubles at
	# each refusal (up to 60 s): after N attempts the next comes 2^(N-1) s after the last one at most;
	# and none comes sooner than 1 s after another.
	local first later bound t0 took
	first=$(attempts_8540)
	[ "$first" -ge 1 ] || fail "no AddPortMapping for tcp 8540 in the router's log"
	bound=$(( (1 << (first - 1)) + 2 )) # (+2 s for a loaded machine)
	t0=$(now_s)
	wait_until "$bound" eval '[ "$(attempts_8540)" -gt "$first" ]' ||
		fail "no new attempt for the refused port within ${bound} s of $first attempts"
	took=$(elapsed_since "$t0")
	later=$(attempts_8540)
	tap_note "deny rule: AddPortMapping for tcp 8540 asked $first times in the first seconds, attempt $later $took s later (bound $bound s)"
	[ "$later" = $((first + 1)) ] || fail "$later attempts where $((first + 1)) were due: no back-off"
	# the next one is due 2^$first s later at the earliest: none within the next half second
	sleep 0.5
	[ "$(attempts_8540)" = "$later" ] || fail "attempt $((later + 1)) came less than 0.5 s after attempt $later: no back-off"
	serve_stop srv
	run router_rules
	assert_output ""
}

@test "deny rule, dual: UPnP refuses, NAT-PMP grants another port (8600): published there and reachable" {
	serve srv lan1 8541 --log info --protocols upnp,nat-pmp
	wait_published tcp 8541
	local ext
	ext=$(status_public tcp 8541 port)
	tap_note "deny rule, dual: tcp 8541 published through $(status_public tcp 8541 technique) on external port $ext"
	assert_equal "$(status_public tcp 8541 technique)" nat-pmp
	[ "$ext" -lt 8500 ] || [ "$ext" -gt 8599 ] || fail "natt claims denied external port $ext"
	router_rule_to "$ext" 10.77.0.2:8541
	run on_inet socat -T2 - TCP:100.130.0.1:"$ext",connect-timeout=2 </dev/null
	assert_output "hello from echoserv"
	serve_stop srv
	run router_rules
	assert_output ""
}

@test "router with a reserved WAN address (double NAT): state failed with the router's reason" {
	lab set-ext-addr 100.64.0.1/24
	serve srv lan1 8650 --log debug
	wait_until 15 eval 'status_has tcp 8650 failed || status_has tcp 8650 pending' ||
		fail "no verdict for tcp 8650: $(cat "$NATT_STATUS" 2>/dev/null)"
	run status_field tcp 8650 error
	tap_note "reserved WAN address: state $(status_field tcp 8650 state), error: $output, warning: '$(status_field tcp 8650 warning)'"
	assert_equal "$(status_field tcp 8650 state)" failed
	assert_output --partial "501"
	run rule_present_proto tcp 8650
	assert_failure
	run on_lan1 socat -T2 - TCP4:10.77.0.2:8650
	assert_output "hello from echoserv"

	# the WAN address turns public again: the same process is published
	lab set-ext-addr 100.130.0.1/24
	wait_published tcp 8650 15
	assert_equal "$(status_public tcp 8650 address)" 100.130.0.1
	run status_field tcp 8650 warning
	assert_output ""
	serve_stop srv
}
