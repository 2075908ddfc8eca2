#!/usr/bin/env bats
# The `natt` command over PCP (RFC 6887) at a router that answers NAT-PMP/PCP with UPnP switched
# off, on a lab with IPv6: IPv4 mappings through the NAT, IPv6 pinholes through the router's
# firewall, nonces, refusals in words. Every effect is checked at the router (its nft rules) and by
# real connections from the internet host, not only through natt's own output.

bats_require_minimum_version 1.5.0

load lib/lab

NATT=$NATT_BUILD/natt
LAN1_IP6=2a01:77:1::2

setup_file() {
    require_root
    lab_up natpmp 1 --ipv6
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

# serve NAME PORT — a TCP server on lan1 bound to [::]:PORT (IPv4 and IPv6), answering HTTP.
serve() {
    start_bg "$1" lan1 python3 -m http.server --bind :: "$2"
    wait_until 5 host_listens lan1 tcp "$2"
}

# The nonce of natt map's line "... (pcp, nonce HEX)".
nonce_of() { sed -n 's/.*(pcp, nonce \([0-9a-f]\{24\}\))$/\1/p' <<<"$1"; }

@test "lab: IPv6 goes out from the LAN, but nothing comes in from the internet unasked" {
    start_bg far inet python3 -m http.server --bind :: 9600
    wait_until 5 host_listens inet tcp 9600
    run on_lan1 curl -s -m 3 -o /dev/null -w '%{http_code}' "http://[2a01:77:ff::2]:9600/"
    assert_output 200
    serve web 9601
    # the server answers on the LAN itself...
    run on_router curl -s -m 2 -o /dev/null -w '%{http_code}' "http://[$LAN1_IP6]:9601/"
    assert_output 200
    # ...and the internet host's SYN is dropped at the router's forward chain
    run inet_connects6 "$LAN1_IP6" 9601
    assert_failure
}

@test "map -6: a PCP pinhole lets the internet in over IPv6; unmap with its nonce closes it again" {
    serve web 9602
    run inet_connects6 "$LAN1_IP6" 9602
    assert_failure
    run --separate-stderr natt_on lan1 map -6 -l 600 9602
    assert_success
    assert_output --regexp "^tcp \[$LAN1_IP6\]:9602 pinhole lifetime 600 \(pcp, nonce [0-9a-f]{24}\)$"
    [ -z "$stderr" ]
    nonce=$(nonce_of "$output")
    # the router's own record: a forward rule for exactly that address and port
    run router_pinholes 9602
    assert_output --partial "@nh,192,128 0x2a010077000100000000000000000002 @nh,48,8 0x6 accept"
    run on_inet curl -s -m 3 -o /dev/null -w '%{http_code}' "http://[$LAN1_IP6]:9602/"
    assert_output 200

    # another nonce may not delete it
    run --separate-stderr natt_on lan1 unmap -6 --nonce 000000000000000000000000 9602
    assert_failure 1
    assert_equal "$stderr" "natt: unmap: the router refused: PCP result 2 NOT_AUTHORIZED (the pinhole of local port 9602 was made with another nonce)"
    [ -n "$(router_pinholes 9602)" ]

    run --separate-stderr natt_on lan1 unmap -6 --nonce "$nonce" 9602
    assert_success
    assert_output "unmapped tcp local port 9602 (pcp, ipv6 pinhole)"
    [ -z "$(router_pinholes 9602)" ]
    run inet_connects6 "$LAN1_IP6" 9602
    assert_failure
}

@test "map -6 -u: a UDP pinhole, the router's IPv6 address given with -g" {
    run --separate-stderr natt_on lan1 map -6 -u -g 2a01:77:1::1 9603
    assert_success
    assert_output --regexp "^udp \[$LAN1_IP6\]:9603 pinhole lifetime 3600 \(pcp, nonce [0-9a-f]{24}\)$"
    nonce=$(nonce_of "$output")
    run router_pinholes 9603
    assert_output --partial "@nh,48,8 0x11 accept"
    run natt_on lan1 unmap -6 -u --nonce "$nonce" 9603
    assert_success
    [ -z "$(router_pinholes 9603)" ]
}

@test "map --pcp: an IPv4 mapping through the NAT, reachable at the public address; renewed and deleted by its nonce" {
    serve web 9604
    run --separate-stderr natt_on lan1 map --pcp 9604 9604
    assert_success
    assert_output --regexp '^tcp 100\.130\.0\.1:9604 -> 10\.77\.0\.2:9604 lifetime 3600 \(pcp, nonce [0-9a-f]{24}\)$'
    nonce=$(nonce_of "$output")
    router_has_rule "th dport 9604 dnat ip to 10.77.0.2:9604"
    run on_inet curl -s -m 3 -o /dev/null -w '%{http_code}' http://100.130.0.1:9604/
    assert_output 200
    # the same nonce renews the same mapping (one rule, the new lifetime)
    run --separate-stderr natt_on lan1 map --pcp -l 1200 --nonce "$nonce" 9604 9604
    assert_success
    assert_output "tcp 100.130.0.1:9604 -> 10.77.0.2:9604 lifetime 1200 (pcp, nonce $nonce)"
    [ "$(router_rules | grep -c 'dport 9604 ')" -eq 1 ]
    run natt_on lan1 unmap --pcp --nonce "$nonce" 9604 9604
    assert_success
    assert_output "unmapped tcp local port 9604 (pcp)"
    ! router_has_rule "dport 9604 "
    # nothing left to delete: miniupnpd's NO_RESOURCES, said as such
    run --separate-stderr natt_on lan1 unmap --pcp --nonce "$nonce" 9604 9604
    assert_failure 1
    assert_equal "$stderr" "natt: unmap: the router has no tcp mapping of local port 9604 (PCP result 8 NO_RESOURCES)"
}

@test "external-ip --pcp: the public address, and the short mapping it took is gone again" {
    before=$(router_rules_count)
    run --separate-stderr natt_on lan1 external-ip --pcp
    assert_success
    assert_output "100.130.0.1"
    [ -z "$stderr" ]
    [ "$(router_rules_count)" -eq "$before" ]
}

@test "no PCP at the gateway: said at once (ICMP port unreachable), not after the whole timeout" {
    run --separate-stderr natt_on lan1 external-ip --pcp -g 10.77.0.3
    # 10.77.0.3 is no host here: no answer at all, the whole timeout
    assert_failure 1
    assert_equal "$stderr" "natt: external-ip: no PCP answer from 10.77.0.3 within 7 s"
    start=${EPOCHREALTIME/./}
    run --separate-stderr natt_on lan1 external-ip --pcp -g 10.77.0.2
    assert_failure 1
    assert_equal "$stderr" "natt: external-ip: the gateway 10.77.0.2 does not offer PCP"
    # well within the 7 s a silent gateway costs (a loaded machine may take a while to run it at all)
    [ $(( ${EPOCHREALTIME/./} - start )) -lt 3000000 ]
}
