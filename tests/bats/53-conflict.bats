#!/usr/bin/env bats
# Conflicts: another LAN host (lan2) holds the external port natt wants.
# natt must publish on another external port, report the port granted, be reachable there, leave
# lan2's mapping alone, and at exit delete only its own. And it must never delete a mapping that may
# have gone to someone else since it made it: one made at another opening of the IGD (the router
# restarted) is checked before DeletePortMapping.

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

@test "a mapping natt made at this IGD, its lease running, is deleted without asking first" {
	local port=8533
	serve srv lan1 $port --protocols upnp
	wait_published tcp $port
	wait_published udp $port
	local asked deleted
	asked=$(router_log_count "#GetSpecificPortMappingEntry")
	deleted=$(router_log_count "DeletePortMapping: external port: $port, protocol: TCP")
	serve_stop srv
	rule_absent $port
	# the router refuses another host a port natt holds: nothing to check before the delete
	[ "$(router_log_count "DeletePortMapping: external port: $port, protocol: TCP")" -gt "$deleted" ] ||
		fail "no DeletePortMapping of $port"
	assert_equal "$(router_log_count "#GetSpecificPortMappingEntry")" "$asked"
}

@test "never delete what is not ours: the router restarted unseen and lan2 took the port; natt's exit asks first and leaves it alone" {
	local port=8532
	NATT_VERIFY_INTERVAL=0 serve srv lan1 $port --log info --protocols upnp
	wait_published tcp $port
	router_rule_to $port 10.77.0.2:$port
	# natt does not hear of the restart: the router's announcements do not reach lan1
	on_lan1 nft -f - <<-EOF
		table inet natt_test {
			chain input { type filter hook input priority 0; udp dport { 1900, 5350 } drop; }
		}
	EOF
	lab router-stop --flush
	lab router-start
	# the router's table is empty; lan2 takes the port
	run upnpc_on lan2 -e lan2-holds -a 10.77.0.3 $port $port TCP 600
	assert_success
	router_rule_to $port 10.77.0.3:$port
	local asked deleted
	asked=$(router_log_count "GetSpecificPortMappingEntry: rhost='' $port TCP")
	deleted=$(router_log_count "DeletePortMapping: external port: $port, protocol: TCP")

	serve_stop srv
	on_lan1 nft delete table inet natt_test
	# lan2's mapping is still there...
	router_rule_to $port 10.77.0.3:$port
	run router_lease TCP $port
	assert_success
	# ...and natt did not even ask to delete it: the IGD it found again is another opening, so it asked
	# first. (This lab's miniupnpd runs in secure mode, which would refuse lan1 deleting lan2's mapping
	# with 606 anyway: the router's log is what shows whether natt checked first.)
	[ "$(router_log_count "GetSpecificPortMappingEntry: rhost='' $port TCP")" -gt "$asked" ] ||
		fail "natt did not ask the router first"
	assert_equal "$(router_log_count "DeletePortMapping: external port: $port, protocol: TCP")" "$deleted"
	grep -q "not deleting tcp port $port" "$(natt_stderr srv)" ||
		fail "natt did not say why it left port $port alone: $(cat "$(natt_stderr srv)")"
	upnpc_on lan2 -d $port TCP >/dev/null
}
