#!/usr/bin/env bats
# libnatt's UPnP low level (lib/include/natt/upnp.h) against the lab's real miniupnpd, through the
# example program examples/upnp-services: service scan and SCPD reading, generic action calls, UPnP
# errors; and libnatt's IGD port mapping calls (lib/include/natt/igd.h) through tests/progs/igdctl.
# Every mapping is checked at the router itself (its nft chain), not through natt's output.

load lib/lab

WANIP=urn:schemas-upnp-org:service:WANIPConnection:1

setup_file() { lab_up dual 2; }
teardown_file() { lab_down; }

setup() {
    lab_setup
    UPNP_SERVICES=$NATT_BUILD/examples/upnp-services
    IGDCTL=$NATT_BUILD/tests/progs/igdctl
    [ -x "$UPNP_SERVICES" ] || fail "$UPNP_SERVICES is not built (run make)"
    [ -x "$IGDCTL" ] || fail "$IGDCTL is not built (run make)"
}

teardown() { lab_teardown; }

# services [OPTIONS] — the example's listing, from lan1.
services() { on_lan1 "$UPNP_SERVICES" -t 1 "$@"; }
# call ACTION [NAME=VALUE]... — a generic call of an action of the router's WANIPConnection.
call() { on_lan1 "$UPNP_SERVICES" -t 2 -c "$WANIP" "$@"; }

# add_mapping PORT [DESCRIPTION] — AddPortMapping TCP PORT -> lan1:PORT, the 8 arguments in SCPD order.
add_mapping() {
    call AddPortMapping NewRemoteHost= NewExternalPort="$1" NewProtocol=TCP NewInternalPort="$1" \
        NewInternalClient=10.77.0.2 NewEnabled=1 NewPortMappingDescription="${2:-natt bats}" \
        NewLeaseDuration=600
}
delete_mapping() { call DeletePortMapping NewRemoteHost= NewExternalPort="$1" NewProtocol=TCP; }
# igdctl COMMAND... — libnatt's IGD calls from lan1, on one handle.
igdctl() { on_lan1 "$IGDCTL" "$@"; }

@test "upnp-services lists the router's WANIPConnection with its actions and their arguments" {
    run services
    assert_success
    # The lab's miniupnpd is an IGD:2: WANIPConnection:2 inside WANDevice/WANConnectionDevice.
    assert_output --partial "service urn:schemas-upnp-org:service:WANIPConnection:"
    assert_output --partial "  location $(lab_info desc_url)"
    # Absolute URLs on the router's own HTTP port, resolved from relative ones in the description.
    assert_output --regexp "  control  http://10\.77\.0\.1:$(lab_info http_port)/[^ ]+"
    assert_output --partial "  device   urn:schemas-upnp-org:device:WANConnectionDevice:"

    # AddPortMapping: exactly its 8 in arguments, in the SCPD's order, with their state variables.
    run bash -c "awk '/^service .*WANIPConnection:/ { s = 1; next } /^service / { s = 0 }
                      s && /^  action / { a = (\$2 == \"AddPortMapping\"); next }
                      s && a { print }' <<<\"\$0\"" "$output"
    assert_success
    assert_equal "$(echo "$output" | wc -l)" 8
    assert_equal "$(echo "$output" | awk '{ print $1 }' | sort -u)" "in"
    assert_equal "$(echo "$output" | awk '{ print $2 }' | paste -sd ' ')" \
        "NewRemoteHost NewExternalPort NewProtocol NewInternalPort NewInternalClient NewEnabled NewPortMappingDescription NewLeaseDuration"
    assert_line --index 1 "    in  NewExternalPort ui2 (ExternalPort)"
    assert_line --index 7 "    in  NewLeaseDuration ui4 (PortMappingLeaseDuration)"
}

@test "upnp-services -s with an IGD search target finds the same services" {
    run services -n -s urn:schemas-upnp-org:device:InternetGatewayDevice:1
    assert_success
    assert_output --partial "service urn:schemas-upnp-org:service:WANIPConnection:"
    refute_output --partial "  action "
}

@test "a generic GetExternalIPAddress call returns the router's WAN address" {
    run call GetExternalIPAddress
    assert_success
    assert_output "NewExternalIPAddress=100.130.0.1"
}

@test "a generic AddPortMapping call creates the rule in the router's chain; DeletePortMapping removes it" {
    refute router_has_rule 'dport 7401 '
    run add_mapping 7401 'natt <bats> & "co"'
    assert_success
    run router_rules
    assert_output --partial "th dport 7401 dnat ip to 10.77.0.2:7401"

    # The description went through XML escaping both ways, intact.
    run call GetSpecificPortMappingEntry NewRemoteHost= NewExternalPort=7401 NewProtocol=TCP
    assert_success
    assert_line "NewInternalClient=10.77.0.2"
    assert_line "NewInternalPort=7401"
    assert_line 'NewPortMappingDescription=natt <bats> & "co"'

    run delete_mapping 7401
    assert_success
    refute router_has_rule 'dport 7401 '
    run call GetSpecificPortMappingEntry NewRemoteHost= NewExternalPort=7401 NewProtocol=TCP
    assert_failure
    assert_output "UPnP error 714: NoSuchEntryInArray"
}

@test "a call with a bad argument yields the UPnP error code and description, and no rule" {
    # External port 0 is the wildcard, which IGD AddPortMapping does not allow.
    run add_mapping 0
    assert_failure
    assert_output --regexp '^UPnP error 716: Wildcard not permit+ed in ExtPort$'
    run router_rules_count
    assert_output 0

    # Arguments missing: 402 Invalid Args.
    run call AddPortMapping NewExternalPort=7402
    assert_failure
    assert_output "UPnP error 402: Invalid Args"
    refute router_has_rule 'dport 7402 '

    # An action the service does not have: 401 Invalid Action.
    run call NoSuchAction
    assert_failure
    assert_output "UPnP error 401: Invalid Action"
}

@test "calls the router's policy refuses yield its codes: 718 for another host, 606 outside the allowed ports" {
    # secure_mode: lan1 may not map for 10.77.0.99 (miniupnpd answers ConflictInMappingEntry).
    run call AddPortMapping NewRemoteHost= NewExternalPort=7403 NewProtocol=TCP NewInternalPort=7403 \
        NewInternalClient=10.77.0.99 NewEnabled=1 NewPortMappingDescription=x NewLeaseDuration=600
    assert_failure
    assert_output "UPnP error 718: ConflictInMappingEntry"
    refute router_has_rule 'dport 7403 '
    # The lab allows 1024-65535 only.
    run add_mapping 80
    assert_failure
    assert_output "UPnP error 606: Action not authorized"
    refute router_has_rule 'dport 80 '
}

@test "libnatt IGD calls: find, external address, map, get, list and unmap, seen at the router" {
    refute router_has_rule 'dport 7420 '
    run igdctl info external map tcp 7420 7420 600 get tcp 7420 list
    assert_success
    # The lab's miniupnpd is an IGD:2; lan1 is the internal client.
    assert_line --index 0 "igd urn:schemas-upnp-org:service:WANIPConnection:2 internal 10.77.0.2 any-port yes"
    assert_line --index 1 "external 100.130.0.1"
    assert_line --index 2 "mapped tcp 7420 -> 10.77.0.2:7420 lifetime 600"
    # get, then the table's only entry: the lease miniupnpd reports is what is left of the 600 s
    assert_line --index 3 --regexp '^entry tcp 7420 -> 10\.77\.0\.2:7420 lease (59[0-9]|600) "igdctl"$'
    assert_line --index 4 --regexp '^entry tcp 7420 -> 10\.77\.0\.2:7420 lease (59[0-9]|600) "igdctl"$'
    assert_line --index 5 "count 1"
    run router_rules
    assert_output --partial "th dport 7420 dnat ip to 10.77.0.2:7420"

    run igdctl unmap tcp 7420
    assert_success
    assert_output "unmapped tcp 7420"
    refute router_has_rule 'dport 7420 '
    run igdctl get tcp 7420
    assert_failure
    assert_output "get: not found"
    run igdctl unmap tcp 7420
    assert_failure
}

@test "libnatt IGD calls: a port held by another host is refused, any port is granted, unmap spares it" {
    on_lan2 upnpc -u "$(lab_info desc_url)" -e lan2 -a 10.77.0.3 7421 7421 TCP >/dev/null
    router_has_rule 'dport 7421 dnat ip to 10.77.0.3:7421'

    # Exactly 7421: ConflictInMappingEntry, and nothing changes at the router.
    run igdctl map tcp 7421 7421 600
    assert_failure
    assert_output "map: UPnP error 718 (ConflictInMappingEntry: the external port is held by another client)"
    assert_equal "$(router_rules_count)" 1

    # External port 0: AddAnyPortMapping, the router picks a free one.
    run igdctl map tcp 7421 0 600
    assert_success
    assert_output --regexp '^mapped tcp [0-9]+ -> 10\.77\.0\.2:7421 lifetime 600$'
    port=$(awk '{ print $3 }' <<<"$output")
    [ "$port" != 7421 ]
    router_has_rule "dport $port dnat ip to 10.77.0.2:7421"

    # lan2's mapping is not lan1's to delete.
    run igdctl unmap tcp 7421
    assert_failure
    assert_output "unmap: Operation not permitted"
    router_has_rule 'dport 7421 dnat ip to 10.77.0.3:7421'

    run igdctl unmap tcp "$port"
    assert_success
    refute router_has_rule "dport $port "
    on_lan2 upnpc -u "$(lab_info desc_url)" -d 7421 TCP >/dev/null
    assert_equal "$(router_rules_count)" 0
}

@test "libnatt IGD find: a given gateway that is not the router finds no IGD, the router's address does" {
    run igdctl -g 10.77.0.99 -t 500 info
    assert_failure
    assert_output "find: no UPnP internet gateway device found"
    run igdctl -g 10.77.0.1 info
    assert_success
    assert_output --partial "internal 10.77.0.2"
}

# time_waits HOST FILTER — TIME_WAIT sockets in HOST's namespace that match the ss FILTER.
time_waits() { on_host "$1" ss -Htan state time-wait "$2" | wc -l; }
# At the router, on its UPnP HTTP port, toward lan1 (lan2's exchanges in the tests above stay apart).
router_time_waits() { time_waits router "( sport = :$(lab_info http_port) and dst 10.77.0.2 )"; }
# At lan1, toward the router's UPnP HTTP port: where a FIN of ours would have left them instead.
lan1_time_waits() { time_waits lan1 "( dport = :$(lab_info http_port) )"; }

@test "natt's HTTP exchanges leave no TIME_WAIT socket at the router or at lan1; a miniupnpc client's leave one each" {
    # (A miniupnpc client closes once it has read the answer, as the router does once it has sent it:
    # whichever closes first keeps the TIME_WAIT, so upnpc's are counted at both ends.)
    # (before: the exchanges of the tests above were natt's too, from lan1)
    assert_equal "$(router_time_waits)" 0
    assert_equal "$(lan1_time_waits)" 0
    # The description, the external address, a mapping made, read and removed: each exchange
    # answered in full, the router closing first.
    run igdctl info external map tcp 7430 7430 600 get tcp 7430 unmap tcp 7430
    assert_success
    assert_line --index 2 "mapped tcp 7430 -> 10.77.0.2:7430 lifetime 600"
    assert_line --index 4 "unmapped tcp 7430"
    refute router_has_rule 'dport 7430 '
    assert_equal "$(router_time_waits)" 0
    assert_equal "$(lan1_time_waits)" 0
    # The same router keeps one for each exchange of a client that answers its FIN with a FIN.
    on_lan1 upnpc -u "$(lab_info desc_url)" -e natt-bats -a 10.77.0.2 7431 7431 TCP >/dev/null
    on_lan1 upnpc -u "$(lab_info desc_url)" -d 7431 TCP >/dev/null
    refute router_has_rule 'dport 7431 '
    local at_router at_lan1
    at_router=$(router_time_waits)
    at_lan1=$(lan1_time_waits)
    [ $((at_router + at_lan1)) -ge 2 ] ||
        fail "upnpc's exchanges left $at_router TIME_WAIT sockets at the router and $at_lan1 at lan1 (expected at least 2)"
}
