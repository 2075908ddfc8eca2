#!/usr/bin/env bats
# IPv6 pinholes through UPnP IGD v2 (WANIPv6FirewallControl) at the lab's dual router with IPv6:
# the `natt` command (map -6 --upnp, unmap -6 --upnp --id) and libnatt's calls (natt/igd.h, through
# tests/progs/igdctl). The IGD is found over IPv4; the pinhole requests go to the router's IPv6
# address, since miniupnpd (secure mode) opens a pinhole only for the address asking. Checked by the
# router's forward rules and by real connections from the internet host.

bats_require_minimum_version 1.5.0

load lib/lab

NATT=$NATT_BUILD/natt
IGDCTL=$NATT_BUILD/tests/progs/igdctl
LAN1_IP6=2a01:77:1::2

setup_file() {
    require_root
    lab_up dual 1 --ipv6
}

teardown_file() {
    lab_down
}

setup() {
    lab_setup
    [ -x "$NATT" ] || skip "build/natt is not built (make build/natt)"
}

teardown() {
    lab_teardown
}

natt_on() { local host=$1; shift; on_host "$host" "$NATT" "$@"; }

@test "map -6 --upnp: an IGDv2 pinhole lets the internet in over IPv6; renewed by its ID; unmap closes it" {
    start_bg web lan1 python3 -m http.server --bind :: 9620
    wait_until 5 host_listens lan1 tcp 9620
    run inet_connects6 "$LAN1_IP6" 9620
    assert_failure
    run --separate-stderr natt_on lan1 map -6 --upnp -l 600 9620
    assert_success
    assert_output --regexp "^tcp \[$LAN1_IP6\]:9620 pinhole lifetime 600 \(upnp, id [0-9]+\)$"
    [ -z "$stderr" ]
    id=$(sed -n 's/.*(upnp, id \([0-9]*\))$/\1/p' <<<"$output")
    run router_pinholes 9620
    assert_output --partial "@nh,192,128 0x2a010077000100000000000000000002 @nh,48,8 0x6 accept"
    run on_inet curl -s -m 3 -o /dev/null -w '%{http_code}' "http://[$LAN1_IP6]:9620/"
    assert_output 200
    run --separate-stderr natt_on lan1 map -6 --upnp --id "$id" -l 900 9620
    assert_success
    assert_output "tcp [$LAN1_IP6]:9620 pinhole lifetime 900 (upnp, id $id)"
    grep -q "UpdatePinhole: (inbound) updating lease duration to 900 for pinhole with ID: $id" "$(lab_info log)"
    run natt_on lan1 unmap -6 --upnp --id "$id" 9620
    assert_success
    assert_output "unmapped pinhole $id (upnp)"
    [ -z "$(router_pinholes 9620)" ]
    run inet_connects6 "$LAN1_IP6" 9620
    assert_failure
}

@test "libnatt: add, update and delete a UDP pinhole on one IGD handle" {
    run on_lan1 "$IGDCTL" pinhole udp 9621 300
    assert_success
    assert_output --regexp "^pinhole udp \[$LAN1_IP6\]:9621 id [0-9]+$"
    id=${output##* }
    run router_pinholes 9621
    assert_output --partial "@nh,48,8 0x11 accept"
    run on_lan1 "$IGDCTL" repin "$id" 600 unpin "$id"
    assert_success
    assert_line --index 0 "repinned $id lifetime 600"
    assert_line --index 1 "unpinned $id"
    [ -z "$(router_pinholes 9621)" ]
    # gone: the router refuses a second delete (miniupnpd 2.3.1 says 402, not the 704 of the spec)
    run on_lan1 "$IGDCTL" unpin "$id"
    assert_failure 1
    assert_output "unpin: UPnP error 402 (Invalid Args: the router rejected the arguments)"
}

@test "the router opens a pinhole only for the address asking: another LAN address is refused" {
    # the same service asked over IPv4 for lan1's IPv6 address: miniupnpd's secure mode says 606
    run on_lan1 "$NATT" call WANIPv6FirewallControl AddPinhole RemoteHost= RemotePort=0 \
        InternalClient="$LAN1_IP6" InternalPort=9622 Protocol=6 LeaseTime=300
    assert_failure 1
    assert_output --partial "UPnP error 606"
    [ -z "$(router_pinholes 9622)" ]
}
