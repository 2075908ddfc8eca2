#!/usr/bin/env bats
# Routers that answer what miniupnpd will not, run by the test on the lab's router host (a lab with no
# miniupnpd): a NAT-PMP router whose external address is private or shared — a router behind another
# NAT. natt publishes there all the same, and says that the address is not reachable from the
# internet ("warning": "double-nat" in the status file, "double NAT" in the -v line).

load lib/lab
load lib/natt
load lib/resilience

natt_suite none

ROUTERS=$BATS_TEST_DIRNAME/routers

# natpmp_router EXTERNAL_ADDRESS — tests/bats/routers/natpmp.py on the router's LAN address, answering
# with EXTERNAL_ADDRESS; its requests are in $(bg_out pmp).
natpmp_router() {
	start_bg pmp router python3 -u "$ROUTERS/natpmp.py" 10.77.0.1 "$1"
	wait_until 30 grep -qx ready "$(bg_out pmp)" || fail "the NAT-PMP router did not start: $(cat "$(bg_out pmp)")"
}

# published_behind EXTERNAL_ADDRESS PORT — sockctl under natt-run -v (NAT-PMP) on lan1 publishes a TCP
# socket on PORT through a router that says its external address is EXTERNAL_ADDRESS.
published_behind() {
	natpmp_router "$1"
	natt_start srv lan1 -v --protocols nat-pmp -- "$SOCKCTL"
	sockctl_open srv tcp "$2"
	wait_published tcp "$2"
	assert_assignment tcp "$2" nat-pmp "$1" "$2"
	grep -qx "map tcp $2 $2 [1-9][0-9]*" "$(bg_out pmp)" || fail "the router was not asked for the mapping: $(cat "$(bg_out pmp)")"
}

# deleted_at_exit PORT — sockctl ends; the router was asked to delete the mapping (lifetime 0).
deleted_at_exit() {
	natt_send srv "exit 0"
	natt_wait_exit srv 10
	grep -qx "map tcp $1 0 0" "$(bg_out pmp)" || fail "no deletion asked at exit: $(cat "$(bg_out pmp)")"
}

@test "double NAT: a router with a private external address (192.168.1.1): published, with the warning double-nat" {
	published_behind 192.168.1.1 8700
	assert_equal "$(status_field tcp 8700 warning)" double-nat
	assert_equal "$(status_public tcp 8700 double_nat)" true
	wait_until 5 grep -qF "tcp 0.0.0.0:8700 published as 192.168.1.1:8700 (nat-pmp, double NAT" "$(natt_stderr srv)" ||
		fail "no -v line telling of the double NAT: $(cat "$(natt_stderr srv)")"
	deleted_at_exit 8700
}

@test "double NAT: a router with a shared (carrier-grade NAT, RFC 6598) external address: the warning double-nat" {
	published_behind 100.64.0.1 8701
	assert_equal "$(status_field tcp 8701 warning)" double-nat
	assert_equal "$(status_public tcp 8701 double_nat)" true
	deleted_at_exit 8701
}

@test "no double NAT: the same router with a public external address gives no warning" {
	published_behind 100.130.0.1 8702
	assert_equal "$(status_field tcp 8702 warning)" ""
	assert_equal "$(status_public tcp 8702 double_nat)" false
	grep -qF "tcp 0.0.0.0:8702 published as 100.130.0.1:8702 (nat-pmp)" "$(natt_stderr srv)" ||
		fail "unexpected -v line: $(cat "$(natt_stderr srv)")"
	deleted_at_exit 8702
}

@test "a router that keeps only permanent mappings (UPnP 725): published with lease 0, not renewed, deleted at exit" {
	start_bg igd router python3 -u "$ROUTERS/igd-permanent.py" 10.77.0.1 100.130.0.1
	wait_until 30 grep -qx ready "$(bg_out igd)" || fail "the IGD did not start: $(cat "$(bg_out igd)")"
	natt_start srv lan1 -v --protocols upnp --lifetime 10 -- "$SOCKCTL"
	sockctl_open srv tcp 8710
	wait_published tcp 8710
	assert_assignment tcp 8710 upnp 100.130.0.1 8710
	# asked with the lease given, refused with 725, asked again for a permanent one
	run grep "^AddPortMapping" "$(bg_out igd)"
	assert_line --index 0 --regexp "NewExternalPort=8710 .*NewLeaseDuration=10 .*-> 725$"
	assert_line --index 1 --regexp "NewExternalPort=8710 .*NewLeaseDuration=0 .*-> ok$"
	assert_equal "${#lines[@]}" 2
	# the status file: a lease of 0 (permanent), no expiry
	assert_equal "$(status_public tcp 8710 lifetime)" 0
	assert_equal "$(status_public tcp 8710 expires)" null
	# a bounded lease of 10 s is renewed after 5 s; a permanent one is not (it is looked at every half
	# hour): nothing asked again for 1.5 times that
	sleep 7.5
	run grep -c "^AddPortMapping" "$(bg_out igd)"
	assert_output 2
	# at exit: deleted at once (made at this opening of the IGD, which keeps it until it restarts:
	# still ours), without asking first
	natt_send srv "exit 0"
	natt_wait_exit srv 10
	run grep -c "^GetSpecificPortMappingEntry" "$(bg_out igd)"
	assert_output 0
	grep -qE "^DeletePortMapping .*NewExternalPort=8710 .*-> ok$" "$(bg_out igd)" ||
		fail "not deleted at exit: $(cat "$(bg_out igd)")"
}
