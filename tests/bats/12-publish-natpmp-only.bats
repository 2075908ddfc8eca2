#!/usr/bin/env bats
# A router that offers only NAT-PMP (and PCP, which miniupnpd answers wherever it answers NAT-PMP).

load lib/lab
load lib/natt

natt_suite natpmp

@test "natpmp-only router (UPnP off): the default settings take PCP" {
	publish_round_trip pcp 8200
}

@test "natpmp-only router: --protocols nat-pmp publishes TCP and UDP" {
	publish_round_trip nat-pmp 8201 --protocols nat-pmp
}
