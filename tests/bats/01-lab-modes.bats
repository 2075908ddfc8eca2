#!/usr/bin/env bats
# The lab's other router modes (UPnP only, NAT-PMP only, none), its clean-up and its
# bookkeeping. Each test builds its own lab (about half a second) and teardown removes it.
# Without an IGD, upnpc's discovery gives up only after about 8 s: two tests pay that.

load lib/lab

setup() { require_root; }
teardown() { lab_teardown; lab_down; }

# NAT-PMP fails at once when nothing listens on 10.77.0.1:5351 (ICMP port unreachable).
natpmp_works() { on_lan1 timeout 10 natpmpc | grep -q "Public IP address : 100.130.0.1"; }
upnp_works() { on_lan1 timeout 20 upnpc -s | grep -q "ExternalIPAddress = 100.130.0.1"; }

@test "lab modes: upnp — upnpc works, natpmpc fails" {
    lab_up upnp
    run upnp_works
    assert_success
    run on_lan1 timeout 10 natpmpc
    assert_failure
    run on_router ss -Hlnu 'sport = :5351'
    assert_output ""
}

@test "lab modes: natpmp — natpmpc works (also a TCP forward), upnpc fails" {
    lab_up natpmp
    run natpmp_works
    assert_success
    start_bg tcp lan1 socat TCP-LISTEN:7101,reuseaddr,fork SYSTEM:'echo natpmp-tcp-ok'
    wait_until 5 host_listens lan1 tcp 7101
    run on_lan1 timeout 10 natpmpc -a 7101 7101 tcp 60
    assert_success
    run on_inet socat -T2 - TCP:100.130.0.1:7101,connect-timeout=2 </dev/null
    assert_output "natpmp-tcp-ok"
    run on_lan1 timeout 20 upnpc -s
    assert_failure
}

@test "lab modes: none — no miniupnpd, both fail, the router still routes and masquerades" {
    lab_up none
    run pgrep -a miniupnpd
    refute_output --partial "/run/natt-lab/$LAB_ID/"
    run on_lan1 timeout 10 natpmpc
    assert_failure
    run on_lan1 timeout 20 upnpc -s
    assert_failure
    # Outbound works, with the router's public address as source.
    start_bg peer inet socat TCP-LISTEN:7102,reuseaddr,fork SYSTEM:'echo \$SOCAT_PEERADDR'
    wait_until 5 host_listens inet tcp 7102
    run on_lan1 socat -T2 - TCP:100.130.0.2:7102,connect-timeout=2 </dev/null
    assert_output "100.130.0.1"
}

@test "lab modes: none, then router-start --mode dual — a gateway appears" {
    lab_up none
    run on_lan1 timeout 10 natpmpc
    assert_failure
    lab router-start --mode dual
    run natpmp_works
    assert_success
    run on_lan1 upnpc -u "$(lab_info desc_url)" -s
    assert_output --partial "ExternalIPAddress = 100.130.0.1"
    # router-stop leaves miniupnpd's rules (as it does on SIGTERM); --flush empties them.
    run on_lan1 timeout 10 natpmpc -a 7103 7103 udp 60
    assert_success
    lab router-stop
    assert_equal "$(router_rules_count)" 1
    run on_lan1 timeout 10 natpmpc
    assert_failure
    lab router-stop --flush
    assert_equal "$(router_rules_count)" 0
}

@test "lab: down removes every namespace, process and file of the lab; twice is fine" {
    lab_up dual 2
    local id=$LAB_ID dir pids
    dir=$(lab_info state_dir)
    start_bg sleeper lan2 sleep 600
    start_bg udp lan1 socat UDP-LISTEN:7104,fork PIPE
    wait_until 5 host_listens lan1 udp 7104
    pids="$(lab_info miniupnpd_pid) $(bg_pid sleeper) $(bg_pid udp)"
    # The lab's down, not lab_teardown, must get rid of them.
    rm -rf "$(bg_dir)"

    run "$NATT_LAB" down "$id"
    assert_success
    unset LAB_ID
    run ip netns list
    refute_output --partial "natt-$id-"
    for pid in $pids; do
        run bg_alive "$pid"
        assert_failure
    done
    [ ! -e "$dir" ]
    run "$NATT_LAB" down "$id"
    assert_success
}

@test "lab: down cleans up a half-built lab (namespaces without state, a process inside)" {
    local id="half$$"
    ip netns add "natt-$id-router"
    ip netns add "natt-$id-lan1"
    ( exec setsid ip netns exec "natt-$id-lan1" sleep 600 ) </dev/null >/dev/null 2>&1 3>&- &
    local pid=$!
    run "$NATT_LAB" down "$id"
    assert_success
    run ip netns list
    refute_output --partial "natt-$id-"
    wait "$pid" || true
    run bg_alive "$pid"
    assert_failure
}

@test "lab: gc removes labs whose owner died, never one whose owner lives or one without owner" {
    local dead live manual
    dead=$("$NATT_LAB" up --mode none --owner 999999999)
    live=$("$NATT_LAB" up --mode none --owner $$)
    manual=$(env -u NATT_LAB_OWNER "$NATT_LAB" up --mode none)
    # Only these three: other labs on this machine (a concurrent run, someone's manual lab)
    # are none of this test's business.
    run "$NATT_LAB" gc --before $(( $(date +%s) + 1 )) "$dead" "$live" "$manual"
    assert_success
    run ip netns list
    "$NATT_LAB" down "$live" "$manual"
    refute_output --partial "natt-$dead-"
    assert_output --partial "natt-$live-router"
    assert_output --partial "natt-$manual-router"
}

@test "lab: up refuses an ID in use; a failed up leaves nothing behind" {
    lab_up none
    run "$NATT_LAB" up --mode none --id "$LAB_ID"
    assert_failure
    assert_output --partial "exists already"
    run "$NATT_LAB" up --mode none --id "bad/id"
    assert_failure
    # miniupnpd refuses to start on a bad config line: up fails and cleans up.
    run "$NATT_LAB" up --id "fail$$" --config-extra "no_such_option=1"
    assert_failure
    run ip netns list
    refute_output --partial "natt-fail$$-"
    [ ! -e "/run/natt-lab/fail$$" ]
}

@test "lab: natt-lab needs root, and says so" {
    run setpriv --reuid=65534 --regid=65534 --clear-groups "$NATT_LAB" list
    assert_failure 1
    assert_output --partial "needs root"
}
