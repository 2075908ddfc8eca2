#!/usr/bin/env bats
# Conflicts on an IGDv1 router (miniupnpd with force_igd_desc_v1): no AddAnyPortMapping
# there, so when another LAN host holds the external port natt searches the next ports, in a bounded,
# deterministic order (the port after, then the next...), and reports the one granted.

load lib/lab
load lib/natt
load lib/resilience

natt_suite dual 2 --config-extra "force_igd_desc_v1=yes"

from_inet() { on_inet socat -T2 - TCP:100.130.0.1:"$1",connect-timeout=2 </dev/null; }

@test "IGDv1 conflict: lan2 holds the port and the next one; natt takes the one after, deterministically, and deletes only its own" {
	local port=8540
	start_bg lan2srv lan2 socat TCP-LISTEN:"$port",reuseaddr,fork SYSTEM:'echo lan2'
	wait_until 5 host_listens lan2 tcp "$port"
	run upnpc_on lan2 -e lan2-holds -a 10.77.0.3 $port $port TCP 600
	assert_success
	run upnpc_on lan2 -e lan2-holds-too -a 10.77.0.3 $port $((port + 1)) TCP 600
	assert_success

	serve srv lan1 $port --log debug --protocols upnp
	wait_published tcp $port
	grep -q "WANIPConnection:1" "$(natt_stderr srv)" || fail "the router is not IGDv1: $(grep IGD "$(natt_stderr srv)")"
	assert_equal "$(status_public tcp $port port)" $((port + 2))
	router_rule_to $((port + 2)) 10.77.0.2:$port
	router_rule_to $port 10.77.0.3:$port
	router_rule_to $((port + 1)) 10.77.0.3:$port
	run from_inet $((port + 2))
	assert_output "hello from echoserv"

	serve_stop srv
	run rule_present_proto tcp $((port + 2))
	assert_failure
	router_rule_to $port 10.77.0.3:$port
	router_rule_to $((port + 1)) 10.77.0.3:$port
	upnpc_on lan2 -d $port TCP >/dev/null
	upnpc_on lan2 -d $((port + 1)) TCP >/dev/null
	stop_bg lan2srv
}
