#!/usr/bin/env bats
# A router that offers only NAT-PMP.

load lib/lab
load lib/natt

natt_suite natpmp

@test "natpmp-only router: UPnP preferred (the default) falls back to NAT-PMP" {
	publish_round_trip nat-pmp 8200
}

@test "natpmp-only router: --protocols nat-pmp publishes TCP and UDP" {
	publish_round_trip nat-pmp 8201 --protocols nat-pmp
}
