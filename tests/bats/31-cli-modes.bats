#!/usr/bin/env bats
# The `natt` command on routers offering only one technique, or none: one lab, whose router starts
# NAT-PMP only and is restarted in the other modes as the tests need (tests run in file order; each
# names the mode it needs, so a single test also runs on its own). Effects are checked at the router.

bats_require_minimum_version 1.5.0

load lib/lab

NATT=$NATT_BUILD/natt

setup_file() {
    require_root
    lab_up natpmp
    [ -z "${LAB_ID:-}" ] || echo natpmp > "$BATS_FILE_TMPDIR/mode"
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

# router_mode natpmp|upnp|none — restart the lab's miniupnpd in that mode unless it runs so already.
router_mode() {
    [ "$(cat "$BATS_FILE_TMPDIR/mode")" = "$1" ] && return 0
    lab router-stop --flush
    [ "$1" = none ] || lab router-start --mode "$1"
    echo "$1" > "$BATS_FILE_TMPDIR/mode"
}

natt_on() { local host=$1; shift; on_host "$host" "$NATT" "$@"; }
rule() {
    router_rules | grep -qE -- "@nh,72,8 0x6 th dport $1 dnat ip to ${2//./\\.}\$"
}
no_rule() { ! router_rules | grep -qE -- "@nh,72,8 0x6 th dport $1 "; }

@test "NAT-PMP-only router: --upnp fails clearly (exit 1), nothing is mapped" {
    router_mode natpmp
    run --separate-stderr natt_on lan1 map --upnp 60100 60100
    assert_failure 1
    [ -z "$output" ]
    [ "$stderr" = "natt: map: no UPnP IGD answered at 10.77.0.1 within 2 s" ]
    no_rule 60100
    run --separate-stderr natt_on lan1 external-ip --upnp
    assert_failure 1
    [ "$stderr" = "natt: external-ip: no UPnP IGD answered at 10.77.0.1 within 2 s" ]
}

@test "NAT-PMP-only router: list (UPnP only) fails clearly" {
    router_mode natpmp
    run --separate-stderr natt_on lan1 list
    assert_failure 1
    [ "$stderr" = "natt: list: no UPnP IGD answered at 10.77.0.1 within 2 s" ]
    run --separate-stderr natt_on lan1 call -t 0.5 WANIPConnection GetExternalIPAddress
    assert_failure 1
    [ "$stderr" = "natt: call: no UPnP device offering WANIPConnection answered within 0.5 s" ]
}

@test "NAT-PMP-only router: a refusal prints the NAT-PMP result and its meaning, exit 1" {
    router_mode natpmp
    # with a shared (CGNAT) WAN address miniupnpd answers NAT-PMP requests with result 3
    lab set-ext-addr 100.64.0.1/24
    run --separate-stderr natt_on lan1 external-ip --nat-pmp
    local rc=$status err=$stderr
    lab set-ext-addr 100.130.0.1/24
    [ "$rc" = 1 ] || fail "exit status $rc, expected 1 (stderr: $err)"
    [ -z "$output" ]
    [ "$err" = "natt: external-ip: the router refused: NAT-PMP result 3 (Network Failure: its internet side is down)" ]
}

@test "NAT-PMP-only router: map and unmap without a technique use NAT-PMP" {
    router_mode natpmp
    run --separate-stderr natt_on lan1 map 60101 60102
    assert_success
    assert_output "tcp 100.130.0.1:60101 -> 10.77.0.2:60102 lifetime 3600 (nat-pmp)"
    rule 60101 10.77.0.2:60102
    run --separate-stderr natt_on lan1 unmap 60101 60102
    assert_success
    assert_output "unmapped tcp local port 60102 (nat-pmp)"
    no_rule 60101
    run --separate-stderr natt_on lan1 unmap-all
    assert_success
    assert_output "unmapped every tcp port of this host (nat-pmp)"
}

@test "UPnP-only router: --nat-pmp fails clearly, the default falls back to UPnP" {
    router_mode upnp
    run --separate-stderr natt_on lan1 map --nat-pmp 60103 60103
    assert_failure 1
    [ "$stderr" = "natt: map: the gateway 10.77.0.1 does not offer NAT-PMP" ]
    no_rule 60103

    run --separate-stderr natt_on lan1 map 60104 60105
    assert_success
    assert_output "tcp 100.130.0.1:60104 -> 10.77.0.2:60105 lifetime 3600 (upnp)"
    [ -z "$stderr" ]
    rule 60104 10.77.0.2:60105
    run --separate-stderr natt_on lan1 external-ip
    assert_success
    assert_output "100.130.0.1"
    run --separate-stderr natt_on lan1 unmap 60104 60105
    assert_success
    assert_output "unmapped tcp 60104 -> 10.77.0.2:60105 (upnp)"
    no_rule 60104
    # nothing of ours is left: unmap-all over UPnP says so
    run --separate-stderr natt_on lan1 unmap-all
    assert_success
    assert_output "no tcp mapping of 10.77.0.2 (upnp)"
}

@test "router without NAT-PMP or UPnP: a clear message, exit 1" {
    # (each command waits 2 s for SSDP answers; NAT-PMP is refused at once by ICMP, unless the
    # router's ICMP rate limit swallows that and NAT-PMP waits its 2 s too)
    router_mode none
    run --separate-stderr natt_on lan1 external-ip
    assert_failure 1
    [ -z "$output" ]
    [ "$stderr" = "natt: external-ip: the gateway 10.77.0.1 answered neither NAT-PMP nor UPnP IGD" ]
    run --separate-stderr natt_on lan1 unmap-all -u
    assert_failure 1
    [ "$stderr" = "natt: unmap-all: the gateway 10.77.0.1 answered neither NAT-PMP nor UPnP IGD" ]
    run --separate-stderr natt_on lan1 discover -t 0.3
    assert_failure 1
    [ "$stderr" = "natt: discover: no UPnP device answered within 0.3 s" ]
}
