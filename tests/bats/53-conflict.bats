#!/usr/bin/env bats
# Conflicts: another LAN host (lan2) holds the external port natt wants.
# natt must publish on another external port, report the port granted, be reachable there, leave
# lan2's mapping alone, and at exit delete only its own. And it must never delete a mapping that has
# gone to someone else since it made it (checked before DeletePortMapping).

load lib/lab
load lib/natt
load lib/resilience

natt_suite dual 2

# lan2_server PORT — a TCP server on lan2 that says "lan2", to tell whose port the internet reaches.
lan2_server() {
	start_bg lan2srv lan2 socat TCP-LISTEN:"$1",reuseaddr,fork SYSTEM:'echo lan2'
	wait_until 5 host_listens lan2 tcp "$1"
}

from_inet() { on_inet socat -T2 - TCP:100.130.0.1:"$1",connect-timeout=2 </dev/null; }

@test "UPnP conflict: lan2 holds the port; natt gets another one, reports it, is reachable there, deletes only its own" {
	local port=8530 ext
	lan2_server $port
	run upnpc_on lan2 -e lan2-holds -a 10.77.0.3 $port $port TCP 600
	assert_success
	router_rule_to $port 10.77.0.3:$port

	serve srv lan1 $port --log info --protocols upnp
	wait_published tcp $port
	ext=$(status_public tcp $port port)
	tap_note "UPnP conflict on $port: natt was granted external port $ext"
	[ "$ext" != "$port" ] || fail "natt claims external port $port, which lan2 holds"
	assert_equal "$(status_public tcp $port technique)" upnp
	assert_equal "$(status_public tcp $port address)" 100.130.0.1
	# the router agrees: natt's port goes to lan1, lan2's port still to lan2
	router_rule_to "$ext" 10.77.0.2:$port
	router_rule_to $port 10.77.0.3:$port
	run from_inet "$ext"
	assert_output "hello from echoserv"
	run from_inet $port
	assert_output "lan2"

	serve_stop srv
	run rule_present_proto tcp "$ext"
	assert_failure
	router_rule_to $port 10.77.0.3:$port
	run from_inet $port
	assert_output "lan2"
	upnpc_on lan2 -d $port TCP >/dev/null
	stop_bg lan2srv
}

@test "NAT-PMP conflict: lan2 holds the port; natt gets another one, reports it, is reachable there, deletes only its own" {
	local port=8531 ext
	lan2_server $port
	run on_lan2 timeout 10 natpmpc -g 10.77.0.1 -a $port $port tcp 600
	assert_success
	router_rule_to $port 10.77.0.3:$port

	serve srv lan1 $port --log info --protocols nat-pmp
	wait_published tcp $port
	ext=$(status_public tcp $port port)
	tap_note "NAT-PMP conflict on $port: the router granted external port $ext"
	[ "$ext" != "$port" ] || fail "natt claims external port $port, which lan2 holds"
	assert_equal "$(status_public tcp $port technique)" nat-pmp
	router_rule_to "$ext" 10.77.0.2:$port
	router_rule_to $port 10.77.0.3:$port
	run from_inet "$ext"
	assert_output "hello from echoserv"
	run from_inet $port
	assert_output "lan2"

	serve_stop srv
	run rule_present_proto tcp "$ext"
	assert_failure
	router_rule_to $port 10.77.0.3:$port
	run from_inet $port
	assert_output "lan2"
	on_lan2 timeout 10 natpmpc -g 10.77.0.1 -a $port $port tcp 0 >/dev/null || true
	stop_bg lan2srv
}

@test "never delete what is not ours: the port went to lan2 behind natt's back; natt's exit leaves it alone" {
	local port=8532 lines
	serve srv lan1 $port --log info --protocols upnp
	wait_published tcp $port
	router_rule_to $port 10.77.0.2:$port
	# a router that gave the port away: natt's mapping disappears, lan2 takes the port
	run upnpc_on lan1 -d $port TCP
	assert_success
	run upnpc_on lan2 -e lan2-holds -a 10.77.0.3 $port $port TCP 600
	assert_success
	router_rule_to $port 10.77.0.3:$port
	lines=$(router_log_lines)

	serve_stop srv
	# lan2's mapping is still there...
	router_rule_to $port 10.77.0.3:$port
	run router_lease TCP $port
	assert_success
	# ...and natt did not even ask to delete it. (This lab's miniupnpd runs in secure mode, which
	# would refuse lan1 deleting lan2's mapping with 606 anyway: the router's log is what shows
	# whether natt checked first.)
	run router_log_since "$lines" "DeletePortMapping: external port: $port, protocol: TCP"
	assert_output ""
	grep -q "not deleting tcp port $port" "$(natt_stderr srv)" ||
		fail "natt did not say why it left port $port alone: $(cat "$(natt_stderr srv)")"
	upnpc_on lan2 -d $port TCP >/dev/null
}
