#!/usr/bin/env bats
# The lab itself, in dual mode (UPnP IGD + NAT-PMP), proven with Debian's upnpc and natpmpc
# from the LAN hosts and socat servers — no natt code. If this file fails, every other lab
# test would fail for the wrong reason.

load lib/lab

setup_file() { lab_up dual 2; }
teardown_file() { lab_down; }
setup() { lab_setup; }
teardown() { lab_teardown; }

# upnpc without discovery (-u): fast, and talks to the router's current HTTP port.
upnpc_lan1() { on_lan1 upnpc -u "$(lab_info desc_url)" "$@"; }
upnpc_lan2() { on_lan2 upnpc -u "$(lab_info desc_url)" "$@"; }

@test "lab: namespaces, addresses and routes are as documented" {
    run ip netns list
    assert_output --partial "natt-$LAB_ID-router"
    assert_output --partial "natt-$LAB_ID-lan1"
    assert_output --partial "natt-$LAB_ID-lan2"
    assert_output --partial "natt-$LAB_ID-inet"
    run on_lan1 ip -4 -br addr show dev eth0
    assert_output --partial "10.77.0.2/24"
    run on_lan2 ip -4 -br addr show dev eth0
    assert_output --partial "10.77.0.3/24"
    run on_lan1 ip route show default
    assert_output --partial "via 10.77.0.1"
    run on_inet ip -4 -br addr show dev eth0
    assert_output --partial "100.130.0.2/24"
    # The internet host has no way into the LAN except the router's port forwards.
    run on_inet ip route get 10.77.0.2
    assert_failure
    run on_router sysctl -n net.ipv4.ip_forward
    assert_output 1
}

@test "lab: upnpc on lan1 discovers the router through SSDP multicast" {
    run on_lan1 timeout 20 upnpc -s
    assert_success
    assert_output --partial "desc: $(lab_info desc_url)"
    assert_output --partial "ExternalIPAddress = 100.130.0.1"
}

@test "lab: upnpc -a forwards a TCP port to a socat server on lan1, upnpc -d removes it" {
    start_bg tcp lan1 socat TCP-LISTEN:7001,reuseaddr,fork SYSTEM:'echo lab-tcp-ok'
    wait_until 5 host_listens lan1 tcp 7001
    # No forward yet: the internet host cannot reach it.
    run on_inet socat -T1 - TCP:100.130.0.1:7001,connect-timeout=1 </dev/null
    assert_failure

    run upnpc_lan1 -a 10.77.0.2 7001 7001 TCP
    assert_success
    assert_output --partial "external 100.130.0.1:7001 TCP is redirected to internal 10.77.0.2:7001"
    run router_rules
    assert_output --partial "th dport 7001 dnat ip to 10.77.0.2:7001"
    run router_rules forward
    assert_output --partial "th dport 7001"

    run on_inet socat -T2 - TCP:100.130.0.1:7001,connect-timeout=2 </dev/null
    assert_success
    assert_output "lab-tcp-ok"

    run upnpc_lan1 -d 7001 TCP
    assert_success
    run router_rules
    refute_output --partial "dport 7001 "
    run on_inet socat -T1 - TCP:100.130.0.1:7001,connect-timeout=1 </dev/null
    assert_failure
    stop_bg tcp
}

@test "lab: natpmpc on lan1 gets the external address 100.130.0.1" {
    run on_lan1 timeout 10 natpmpc
    assert_success
    assert_output --partial "using gateway : 10.77.0.1"
    assert_output --partial "Public IP address : 100.130.0.1"
}

@test "lab: natpmpc maps a UDP port that a socat echo on lan1 answers through" {
    start_bg udp lan1 socat UDP-LISTEN:7002,reuseaddr,fork PIPE
    wait_until 5 host_listens lan1 udp 7002

    run on_lan1 timeout 10 natpmpc -a 7002 7002 udp 60
    assert_success
    assert_output --partial "Mapped public port 7002 protocol UDP to local port 7002"
    run router_rules
    assert_output --partial "th dport 7002 dnat ip to 10.77.0.2:7002"

    run on_inet bash -c 'echo lab-udp-ping | socat -T2 - UDP:100.130.0.1:7002'
    assert_success
    assert_output "lab-udp-ping"

    # Lifetime 0 deletes the mapping.
    run on_lan1 timeout 10 natpmpc -a 7002 7002 udp 0
    assert_success
    run router_rules
    refute_output --partial "dport 7002 "
    stop_bg udp
}

@test "lab: secure mode — lan1 cannot forward to lan2, nor ports below 1024; lan2 maps its own" {
    run upnpc_lan1 -a 10.77.0.3 7003 7003 TCP
    assert_output --partial "failed with code"
    run upnpc_lan1 -a 10.77.0.2 80 80 TCP
    assert_output --partial "failed with code 606"
    run upnpc_lan2 -a 10.77.0.3 7003 7003 TCP
    assert_output --partial "is redirected to internal 10.77.0.3:7003"
    run router_rules
    assert_output --partial "dnat ip to 10.77.0.3:7003"
    refute_output --partial "10.77.0.2:7003"
    run upnpc_lan2 -d 7003 TCP
    assert_success
    assert_equal "$(router_rules_count)" 0
}

natpmp_epoch() { on_lan1 timeout 10 natpmpc | sed -n 's/^epoch = //p'; }
epoch_at_least() { [ "$(natpmp_epoch)" -ge "$1" ]; }

@test "lab: reboot empties the table; miniupnpd answers again with a new HTTP port and epoch" {
    run on_lan1 timeout 10 natpmpc -a 7004 7004 tcp 600
    assert_success
    run upnpc_lan1 -a 10.77.0.2 7005 7005 UDP
    assert_success
    assert_equal "$(router_rules_count)" 2
    local old_url old_bootid before after t0 t1
    old_url=$(lab_info desc_url)
    old_bootid=$(lab_info bootid)
    wait_until 5 epoch_at_least 3
    before=$(natpmp_epoch)

    lab reboot
    t0=${EPOCHREALTIME%.*}
    after=$(natpmp_epoch)
    t1=${EPOCHREALTIME%.*}
    # The epoch started again at the reboot: at most the seconds since it, and below the old.
    [ "$after" -le $((t1 - t0 + 1)) ]
    [ "$after" -lt "$before" ]
    assert_equal "$(router_rules_count)" 0
    assert_equal "$(router_rules_count forward)" 0
    refute [ "$(lab_info desc_url)" = "$old_url" ]
    [ "$(lab_info bootid)" -gt "$old_bootid" ]
    run on_lan1 curl -s --max-time 2 "$old_url"
    assert_failure

    run on_lan1 timeout 20 upnpc -s
    assert_success
    assert_output --partial "desc: $(lab_info desc_url)"
    assert_output --partial "ExternalIPAddress = 100.130.0.1"
}

@test "lab: set-ext-addr — both protocols report the router's new address" {
    lab set-ext-addr 100.131.0.1/24
    run on_lan1 timeout 10 natpmpc
    assert_output --partial "Public IP address : 100.131.0.1"
    run upnpc_lan1 -s
    assert_output --partial "ExternalIPAddress = 100.131.0.1"
    run on_inet ip -4 -br addr show dev eth0
    assert_output --partial "100.131.0.2/24"

    # A shared (CGNAT, RFC 6598) address: miniupnpd 2.3.1 refuses every mapping.
    lab set-ext-addr 100.64.0.1/24
    run on_lan1 timeout 10 natpmpc -a 7006 7006 tcp 60
    assert_failure
    run upnpc_lan1 -a 10.77.0.2 7006 7006 TCP
    assert_output --partial "failed with code 501"
    assert_equal "$(router_rules_count)" 0

    lab set-ext-addr 100.130.0.1/24
    run on_lan1 timeout 10 natpmpc
    assert_output --partial "Public IP address : 100.130.0.1"
}
