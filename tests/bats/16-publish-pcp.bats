#!/usr/bin/env bats
# PCP (RFC 6887) as a technique of natt-run and libnatt: miniupnpd answers PCP wherever it answers
# NAT-PMP. Mappings made, reachable, renewed with the same nonce, restored after a reboot, deleted at
# the end; a router without PCP costs no more than its refusal before the next technique.

load lib/lab
load lib/natt
load lib/resilience

# (The lab's miniupnpd grants PCP leases as short as asked: min_lifetime=2, where its own default is
# 120 s; short ones make renewals seen.)
natt_suite natpmp 1

@test "nat-pmp/pcp router: --protocols pcp publishes TCP and UDP, reachable from the internet, nothing left after" {
	publish_round_trip pcp 8230 --protocols pcp
}

@test "--protocols pcp,nat-pmp on a router that speaks both: PCP first, named by -v" {
	natt_start srv lan1 --protocols pcp,nat-pmp -v -- python3 -m http.server 8231
	wait_published tcp 8231
	assert_assignment tcp 8231 pcp 100.130.0.1 8231
	# -v names the technique
	wait_until 5 grep -q "8231.*pcp" "$(natt_stderr srv)"
	natt_signal srv TERM
	natt_wait_exit srv 10
	run router_rules
	assert_output ""
}

@test "PCP renewal: --lifetime 6 keeps the mapping past three lifetimes, renewed by the same mapping" {
	local mark
	mark=$(router_log_lines)
	natt_start srv lan1 --protocols pcp --lifetime 6 -- python3 -m http.server 8233
	wait_published tcp 8233
	assert_equal "$(status_public tcp 8233 lifetime)" 6
	local first
	first=$(status_public tcp 8233 expires)
	# the router removes a PCP mapping whose lease ran out: three leases without a gap
	local t
	for t in $(seq 1 19); do
		sleep 1
		rule_present_proto tcp 8233 || fail "after $t s the router no longer forwards tcp 8233"
	done
	status_has tcp 8233 published
	[ "$(status_public tcp 8233 expires)" != "$first" ] || fail "the expiry never moved: not renewed"
	rule_present_proto tcp 8233
	run on_inet curl -sS --max-time 5 "http://100.130.0.1:8233/"
	assert_success
	# one rule all along, and every request named the same mapping: miniupnpd labels the rule with
	# the request's nonce
	assert_equal "$(rule_count_proto tcp 8233)" 1
	local nonces
	nonces=$(router_log_since "$mark" "PCP MAP: added mapping TCP 8233->" | grep -o "'PCP MAP [0-9a-f]*'" | sort -u)
	[ "$(grep -c . <<<"$nonces")" = 1 ] || fail "the renewals named different mappings: $nonces"
	# renewed at half the lease: about seven requests in 19 s (the first, then one every 3 s)
	local renewals
	renewals=$(router_maps_since "$mark" tcp 8233)
	tap_note "$renewals PCP requests for tcp 8233 in 19 s"
	[ "$renewals" -ge 5 ] || fail "only $renewals PCP requests reached the router"
	natt_signal srv TERM
	natt_wait_exit srv 10
	run router_rules
	assert_output ""
}

@test "PCP: router reboot (epoch reset, table lost): the mapping is back within 10 s" {
	natt_start srv lan1 --protocols pcp -- python3 -m http.server 8234
	wait_published tcp 8234
	lab reboot
	local t0 took
	t0=$(now_s)
	wait_until 10 rule_present_proto tcp 8234 || fail "not restored within 10 s of the reboot"
	took=$(elapsed_since "$t0")
	tap_note "restore after reboot (NAT-PMP/PCP router, pcp): $took s"
	assert_assignment tcp 8234 pcp 100.130.0.1 8234
	run on_inet curl -sS --max-time 5 "http://100.130.0.1:8234/"
	assert_success
	natt_signal srv TERM
	natt_wait_exit srv 10
	run router_rules
	assert_output ""
}

@test "libnatt persistent mapping over PCP: callback with port and address, stop deletes it" {
	plain_start pm lan1 "$NATT_BUILD/tests/progs/persistent" udp 9430 pcp 60 30
	natt_expect pm "^mapping 9430 60 100\.130\.0\.1$" 10
	rule_present_proto udp 9430
	natt_send pm current
	natt_expect pm "^current 9430 100\.130\.0\.1$"
	natt_send pm stop
	natt_expect pm "^unmapped$" 10
	natt_expect pm "^stopped 0$" 10
	run rule_present_proto udp 9430
	assert_failure
}

@test "a router without PCP (UPnP only): --protocols pcp,upnp publishes through UPnP at once" {
	lab router-stop --flush
	lab router-start --mode upnp
	natt_start srv lan1 --protocols pcp,upnp -- "$SOCKCTL"
	local t0 took
	t0=$(now_s)
	sockctl_open srv tcp 8232
	wait_published tcp 8232
	took=$(elapsed_since "$t0")
	tap_note "listen to published, PCP refused first (ICMP port unreachable), then UPnP: $took s"
	assert_assignment tcp 8232 upnp 100.130.0.1 8232
	# no PCP answer waited for: without the router's ICMP, PCP's 1.8 s would show here
	awk -v t="$took" 'BEGIN { exit !(t < 1.5) }' || fail "published only after $took s"
	natt_signal srv TERM
	natt_wait_exit srv 10
	run router_rules
	assert_output ""
	# back to the suite's router for whatever test comes after
	lab router-stop --flush
	lab router-start --mode natpmp
}
