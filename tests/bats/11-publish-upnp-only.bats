#!/usr/bin/env bats
# A router that offers only UPnP IGD.

load lib/lab
load lib/natt

natt_suite upnp

@test "upnp-only router: TCP and UDP are published through UPnP and cleaned up" {
	publish_round_trip upnp 8100
}

@test "upnp-only router: NAT-PMP preferred falls back to UPnP" {
	publish_round_trip upnp 8101 --protocols nat-pmp,upnp
}

@test "upnp-only router: NAT-PMP alone leaves the socket pending with the reason" {
	natt_start web lan1 --protocols nat-pmp -- python3 -m http.server 8102
	wait_state tcp 8102 pending
	run status_query '.sockets[] | select(.local_port == 8102) | .error'
	assert_output --partial "NAT-PMP"
	run rule_present 8102
	assert_failure
}
