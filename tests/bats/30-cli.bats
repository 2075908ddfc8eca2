#!/usr/bin/env bats
# The `natt` command against the lab's router offering UPnP IGD and NAT-PMP, with two LAN hosts.
# Every effect is checked at the router itself — its dnat rules (router_rules) or `upnpc -l` run on a
# LAN host — not only through natt's own output. Each test uses ports of its own.

bats_require_minimum_version 1.5.0

load lib/lab

NATT=$NATT_BUILD/natt

setup_file() {
    require_root
    lab_up dual 2
    # upnpc skips its 2 s discovery when told where the router's description is
    [ -z "${LAB_ID:-}" ] || export LAB_DESC_URL=$(lab_info desc_url)
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

# natt_on HOST ARGS... — run natt in a lab host.
natt_on() { local host=$1; shift; on_host "$host" "$NATT" "$@"; }

# rule PROTO PUBLIC_PORT TARGET — the router forwards PROTO PUBLIC_PORT to TARGET (a.b.c.d:port).
rule() {
    local p=0x6
    [ "$1" = udp ] && p=0x11
    router_rules | grep -qE -- "@nh,72,8 $p th dport $2 dnat ip to ${3//./\\.}\$"
}
no_rule() {
    local p=0x6
    [ "$1" = udp ] && p=0x11
    ! router_rules | grep -qE -- "@nh,72,8 $p th dport $2 "
}

# upnpc_lan2 ARGS... — miniupnpc's own client on lan2: an independent UPnP client.
upnpc_lan2() { on_lan2 upnpc -u "$LAB_DESC_URL" "$@"; }
# upnpc_table — the router's table as upnpc lists it.
upnpc_table() { upnpc_lan2 -l 2>/dev/null | grep -E '^ *[0-9]+ (TCP|UDP) '; }

@test "external-ip prints the router's public address (either technique)" {
    run --separate-stderr natt_on lan1 external-ip
    assert_success
    assert_output "100.130.0.1"
    [ -z "$stderr" ]
    run --separate-stderr natt_on lan1 external-ip --upnp
    assert_success
    assert_output "100.130.0.1"
    run --separate-stderr natt_on lan1 external-ip --nat-pmp -g 10.77.0.1
    assert_success
    assert_output "100.130.0.1"
}

@test "map over NAT-PMP creates the router's forward, unmap removes it" {
    run --separate-stderr natt_on lan1 map --nat-pmp 60011 60022
    assert_success
    assert_output "tcp 100.130.0.1:60011 -> 10.77.0.2:60022 lifetime 3600 (nat-pmp)"
    rule tcp 60011 10.77.0.2:60022
    # made through NAT-PMP: miniupnpd names it so
    upnpc_table | grep -E "TCP +60011->10\.77\.0\.2:60022 +'NAT-PMP 60011 tcp'"

    run --separate-stderr natt_on lan1 unmap --nat-pmp 60011 60022
    assert_success
    assert_output "unmapped tcp local port 60022 (nat-pmp)"
    no_rule tcp 60011
}

@test "py-natpmp's example: map -u -l 1800 60009 60009 makes a UDP forward with that lifetime" {
    local t0=$SECONDS
    run --separate-stderr natt_on lan1 map -u -l 1800 60009 60009
    assert_success
    assert_output "udp 100.130.0.1:60009 -> 10.77.0.2:60009 lifetime 1800 (nat-pmp)"
    rule udp 60009 10.77.0.2:60009
    no_rule tcp 60009
    # the lease the router keeps is the one asked for (a few seconds may have passed)
    lease=$(upnpc_table | awk '$2 == "UDP" && $3 ~ /^60009->/ { print $NF }')
    # (the seconds since the request, and one for the rounding)
    local passed=$((SECONDS - t0 + 1))
    [ -n "$lease" ] || fail "no UDP mapping 60009 in the router's table"
    [ "$lease" -ge $((1800 - passed)) ] || fail "the router keeps a lease of $lease s, $passed s after asking 1800"
    [ "$lease" -le 1800 ] || fail "the router keeps a lease of $lease s, asked 1800"
    run natt_on lan1 unmap -u 60009 60009
    assert_success
    no_rule udp 60009
}

@test "py-natpmp's example: map -g GATEWAY PUBLIC PRIVATE" {
    run --separate-stderr natt_on lan1 map -g 10.77.0.1 60012 60023
    assert_success
    assert_output "tcp 100.130.0.1:60012 -> 10.77.0.2:60023 lifetime 3600 (nat-pmp)"
    rule tcp 60012 10.77.0.2:60023
    natt_on lan1 unmap -g 10.77.0.1 60012 60023
    no_rule tcp 60012
}

@test "map over UPnP creates the forward under natt's name, unmap --upnp removes it" {
    run --separate-stderr natt_on lan1 map --upnp -l 600 60013 60024
    assert_success
    assert_output "tcp 100.130.0.1:60013 -> 10.77.0.2:60024 lifetime 600 (upnp)"
    rule tcp 60013 10.77.0.2:60024
    upnpc_table | grep -E "TCP +60013->10\.77\.0\.2:60024 +'natt map' +'' +(59[0-9]|600)\$"

    run --separate-stderr natt_on lan1 unmap --upnp 60013 60024
    assert_success
    assert_output "unmapped tcp 60013 -> 10.77.0.2:60024 (upnp)"
    no_rule tcp 60013
    # and the entry is gone from the UPnP table too
    run natt_on lan1 call WANIPConnection GetSpecificPortMappingEntry NewRemoteHost= NewExternalPort=60013 NewProtocol=TCP
    assert_failure 1
}

@test "unmap without a technique also removes a mapping made over UPnP (NAT-PMP alone cannot)" {
    natt_on lan1 map --upnp 60014 60025
    rule tcp 60014 10.77.0.2:60025
    run --separate-stderr natt_on lan1 unmap 60014 60025
    assert_success
    assert_output "unmapped tcp 60014 -> 10.77.0.2:60025 (upnp)"
    no_rule tcp 60014
}

@test "map over UPnP of a port another host holds: UPnP error 718, exit 1, the other host's forward stays" {
    upnpc_lan2 -e bats-lan2 -a 10.77.0.3 61000 61000 TCP 600 >/dev/null
    rule tcp 61000 10.77.0.3:61000
    run --separate-stderr natt_on lan1 map --upnp 61000 61000
    assert_failure 1
    [ -z "$output" ]
    [[ $stderr == "natt: map: the router refused: UPnP error 718 (ConflictInMappingEntry"* ]]
    [ "$(wc -l <<<"$stderr")" -eq 1 ]
    rule tcp 61000 10.77.0.3:61000

    # unmap does not delete another host's mapping
    run --separate-stderr natt_on lan1 unmap --upnp 61000 61000
    assert_failure 1
    [[ $stderr == *"mapped to 10.77.0.3:61000, another host"* ]]
    rule tcp 61000 10.77.0.3:61000

    # NAT-PMP lets the router choose another port: the one printed is the one forwarded
    run --separate-stderr natt_on lan1 map --nat-pmp 61000 61000
    assert_success
    [[ $output =~ ^tcp\ 100\.130\.0\.1:([0-9]+)\ -\>\ 10\.77\.0\.2:61000\ lifetime\ 3600\ \(nat-pmp\)$ ]]
    port=${BASH_REMATCH[1]}
    [ "$port" != 61000 ]
    rule tcp "$port" 10.77.0.2:61000
    rule tcp 61000 10.77.0.3:61000
    natt_on lan1 unmap --nat-pmp "$port" 61000
    no_rule tcp "$port"
    upnpc_lan2 -d 61000 TCP >/dev/null
}

@test "unmap-all removes this host's mappings of the protocol, and only those" {
    natt_on lan1 map --nat-pmp 62001 62001
    natt_on lan1 map --upnp 62002 62002
    natt_on lan1 map -u --upnp 62003 62003
    upnpc_lan2 -e bats-lan2 -a 10.77.0.3 62004 62004 TCP 600 >/dev/null
    rule tcp 62001 10.77.0.2:62001
    rule tcp 62002 10.77.0.2:62002
    rule udp 62003 10.77.0.2:62003
    rule tcp 62004 10.77.0.3:62004

    run --separate-stderr natt_on lan1 unmap-all
    assert_success
    assert_line "unmapped every tcp port of this host (nat-pmp)"
    assert_line "unmapped tcp 62002 -> 10.77.0.2:62002 (upnp)"
    no_rule tcp 62001
    no_rule tcp 62002
    rule udp 62003 10.77.0.2:62003   # another protocol
    rule tcp 62004 10.77.0.3:62004   # another host's, made with upnpc
    run upnpc_table
    refute_output --partial "10.77.0.2:62001"
    refute_output --partial "10.77.0.2:62002"

    run --separate-stderr natt_on lan1 unmap-all -u --upnp
    assert_success
    assert_output "unmapped udp 62003 -> 10.77.0.2:62003 (upnp)"
    no_rule udp 62003
    rule tcp 62004 10.77.0.3:62004
    upnpc_lan2 -d 62004 TCP >/dev/null
}

@test "list shows a mapping made by upnpc on another host" {
    upnpc_lan2 -e bats-list -a 10.77.0.3 63001 63000 UDP 900 >/dev/null
    run --separate-stderr natt_on lan1 list
    assert_success
    assert_line --regexp '^udp 63000 -> 10\.77\.0\.3:63001 lease (89[0-9]|900) "bats-list"$'
    upnpc_lan2 -d 63000 UDP >/dev/null
    run --separate-stderr natt_on lan1 list -g 10.77.0.1
    assert_success
    refute_output --partial "63000"
}

@test "discover lists WANIPConnection with AddPortMapping and its argument names" {
    run --separate-stderr natt_on lan1 discover -t 0.5
    assert_success
    assert_line "WANIPConnection:2  urn:schemas-upnp-org:service:WANIPConnection:2"
    assert_line "    AddPortMapping(NewRemoteHost, NewExternalPort, NewProtocol, NewInternalPort, NewInternalClient, NewEnabled, NewPortMappingDescription, NewLeaseDuration)"
    assert_line "    GetExternalIPAddress() -> NewExternalIPAddress"
    assert_line --regexp '^  control +http://10\.77\.0\.1:[0-9]+/ctl/IPConn$'
}

@test "call GetExternalIPAddress prints NewExternalIPAddress=100.130.0.1" {
    run --separate-stderr natt_on lan1 call WANIPConnection GetExternalIPAddress
    assert_success
    assert_output "NewExternalIPAddress=100.130.0.1"
    run --separate-stderr natt_on lan1 call urn:schemas-upnp-org:service:WANIPConnection:1 GetExternalIPAddress
    assert_success
    assert_output "NewExternalIPAddress=100.130.0.1"
}

@test "call passes arguments in any order and its effect is real: AddPortMapping makes a forward" {
    run --separate-stderr natt_on lan1 call WANIPConnection AddPortMapping NewLeaseDuration=300 \
        NewProtocol=TCP NewExternalPort=63100 NewRemoteHost= NewInternalPort=63101 \
        NewInternalClient=10.77.0.2 NewEnabled=1 NewPortMappingDescription=bats-call
    assert_success
    assert_output ""
    rule tcp 63100 10.77.0.2:63101
    run --separate-stderr natt_on lan1 call WANIPConnection GetSpecificPortMappingEntry NewRemoteHost= \
        NewExternalPort=63100 NewProtocol=TCP
    assert_success
    assert_line "NewInternalPort=63101"
    assert_line "NewInternalClient=10.77.0.2"
    assert_line "NewPortMappingDescription=bats-call"
    natt_on lan1 call WANIPConnection DeletePortMapping NewRemoteHost= NewExternalPort=63100 NewProtocol=TCP
    no_rule tcp 63100
}

@test "call with a bad argument prints the UPnP error code and exits 1" {
    run --separate-stderr natt_on lan1 call WANIPConnection GetSpecificPortMappingEntry NewRemoteHost= \
        NewExternalPort=notaport NewProtocol=TCP
    assert_failure 1
    [ -z "$output" ]
    [ "$stderr" = "natt: call: GetSpecificPortMappingEntry failed: UPnP error 402 (Invalid Args)" ]

    run --separate-stderr natt_on lan1 call WANIPConnection GetSpecificPortMappingEntry NewRemoteHost= \
        NewExternalPort=1 NewProtocol=TCP
    assert_failure 1
    [ "$stderr" = "natt: call: GetSpecificPortMappingEntry failed: UPnP error 714 (NoSuchEntryInArray)" ]

    run --separate-stderr natt_on lan1 call WANIPConnection GetExternalIPAddress NewFoo=1
    assert_failure 1
    [[ $stderr == "natt: call: GetExternalIPAddress has no argument NewFoo"* ]]

    run --separate-stderr natt_on lan1 call WANIPConnection NoSuchAction
    assert_failure 1
    [[ $stderr == "natt: call: WANIPConnection:2 has no action NoSuchAction (its actions: "*"AddPortMapping"* ]]

    run --separate-stderr natt_on lan1 call -t 0.3 WANPPPConnection GetStatusInfo
    assert_failure 1
    [ "$stderr" = "natt: call: no UPnP device offering WANPPPConnection answered within 0.3 s" ]
}

@test "gateway and interfaces describe the LAN host" {
    run --separate-stderr natt_on lan1 gateway
    assert_success
    assert_output "10.77.0.1 dev eth0"
    run --separate-stderr natt_on lan1 interfaces
    assert_success
    assert_line --regexp '^\* eth0 +10\.77\.0\.2/24 +up,running,broadcast,multicast +private$'
    assert_line --regexp '^  lo +127\.0\.0\.1/8 +up,running,loopback +loopback$'
    assert_line --regexp '^  eth0 +fe80::[0-9a-f:]+/64 .* link-local$'
    assert_line "* the address toward the gateway 10.77.0.1: 10.77.0.2"
}

@test "no gateway, or a gateway that does not answer: a clear message, exit 1" {
    # the inet host has no default route
    run --separate-stderr natt_on inet external-ip
    assert_failure 1
    [ "$stderr" = "natt: external-ip: no IPv4 default gateway (give the router's address with -g GATEWAY)" ]
    run --separate-stderr natt_on inet gateway
    assert_failure 1
    [ "$stderr" = "natt: gateway: no IPv4 default gateway" ]
    # nobody at 10.77.0.99
    run --separate-stderr natt_on lan1 map --nat-pmp -g 10.77.0.99 60030 60030
    assert_failure 1
    [ "$stderr" = "natt: map: no NAT-PMP answer from 10.77.0.99 within 2 s" ]
    no_rule tcp 60030
}

@test "status renders a status file written by natt-run for a real server" {
    [ -e "$NATT_BUILD/libnattpreload.so" ] || skip "libnattpreload.so is not built"
    sfile=$BATS_TEST_TMPDIR/status.json
    start_bg web lan1 "$NATT_RUN" --status "$sfile" -- python3 -m http.server 60040
    wait_until 10 eval "[ -s '$sfile' ] && grep -q '\"published\"' '$sfile'"
    rule tcp 60040 10.77.0.2:60040
    run --separate-stderr "$NATT" status "$sfile"
    assert_success
    assert_line --regexp "^[0-9]+ +python3 +tcp +0\.0\.0\.0:60040 +published +100\.130\.0\.1:60040 upnp, expires [0-9TZ:-]+ \(in (59 min|1 h 0 min)\)$"
    run "$NATT" status --json "$sfile"
    assert_success
    [ "$output" = "$(cat "$sfile")" ]
    stop_bg web
    no_rule tcp 60040
}
