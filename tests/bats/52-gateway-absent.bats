#!/usr/bin/env bats
# Gateway absent, then present: a program started while the router offers
# neither UPnP nor NAT-PMP is "pending" with the reason, keeps serving locally, costs next to no CPU
# while it waits (back-off, no busy loop), and is published without a restart soon after the router
# comes up. And the reverse: a router that goes away turns "published" into "pending".

load lib/lab
load lib/natt
load lib/resilience

natt_suite
teardown() {
	on_lan1 nft delete table inet natt_test 2>/dev/null || true
	natt_test_teardown
	# leave the router running for the next test
	[ -z "${LAB_ID:-}" ] || [ -n "$(lab_info miniupnpd_pid)" ] || lab router-start
}

APPEAR_BOUND=5 # seconds from the router's start to "published"
IDLE_WINDOW=10 # seconds of CPU measurement while the router is absent

# Counts, as they leave lan1, the SSDP (M-SEARCH) and NAT-PMP requests sent toward the router.
count_requests() {
	on_lan1 nft -f - <<-'EOF'
		table inet natt_test {
			chain output {
				type filter hook output priority -10; policy accept;
				udp dport 1900 counter
				udp dport 5351 counter
			}
		}
	EOF
}
# requests_seen 1900|5351 — packets counted so far.
requests_seen() {
	on_lan1 nft list table inet natt_test | awk -v port="$1" '$0 ~ "dport " port " counter" {
		for (i = 1; i <= NF; i++) if ($i == "packets") print $(i + 1) }'
}

@test "gateway absent at start: pending with the reason, serving locally, idle, published within 5 s of its appearance" {
	lab router-stop --flush
	serve srv lan1 8520 --log debug
	wait_state tcp 8520 pending
	wait_state udp 8520 pending
	run status_field tcp 8520 error
	assert_output --partial "UPnP"
	assert_output --partial "NAT-PMP"
	run status_query '[.sockets[] | select(.local_port == 8520) | .assignments[] | select(.technique != null)] | length'
	assert_output "0"
	# the program is not held up: it serves on the LAN
	run on_lan1 socat -T2 - TCP4:10.77.0.2:8520
	assert_output "hello from echoserv"

	# no busy loop while the router is away: CPU time and requests over IDLE_WINDOW seconds
	count_requests
	local pid ticks0 ticks1 cpu ssdp natpmp
	pid=$(natt_pid srv)
	ticks0=$(cpu_ticks "$pid")
	sleep $IDLE_WINDOW
	ticks1=$(cpu_ticks "$pid")
	cpu=$((ticks1 - ticks0))
	ssdp=$(requests_seen 1900)
	natpmp=$(requests_seen 5351)
	tap_note "router absent for ${IDLE_WINDOW} s: CPU $cpu ticks of $(getconf CLK_TCK)/s ($((cpu * 100 / (IDLE_WINDOW * $(getconf CLK_TCK))))%), SSDP packets $ssdp, NAT-PMP packets $natpmp"
	# < 5% of one CPU
	[ "$cpu" -lt $((IDLE_WINDOW * $(getconf CLK_TCK) / 20)) ] || fail "the process used $cpu ticks in ${IDLE_WINDOW} s"
	# back-off: a few attempts, not one after another (each attempt is an M-SEARCH burst and a
	# NAT-PMP request with its retransmissions)
	[ "$ssdp" -le 20 ] || fail "$ssdp SSDP packets in ${IDLE_WINDOW} s while the router is away"
	[ "$natpmp" -le 20 ] || fail "$natpmp NAT-PMP packets in ${IDLE_WINDOW} s while the router is away"
	# still pending, still saying why
	status_has tcp 8520 pending
	[ -n "$(status_field tcp 8520 error)" ]

	# the router appears: published without restarting the program
	lab router-start
	local t0 took
	t0=$(now_s)
	wait_until $APPEAR_BOUND eval 'status_has tcp 8520 published && status_has udp 8520 published && rule_present_proto tcp 8520 && rule_present_proto udp 8520' ||
		fail "not published within ${APPEAR_BOUND}s of the router's start"
	took=$(elapsed_since "$t0")
	tap_note "published $took s after the router appeared"
	assert_equal "$(status_field tcp 8520 error)" ""
	# the same process all along, still running
	assert_equal "$(natt_pid srv)" "$pid"
	kill -0 "$pid" || fail "the server (pid $pid) has ended"
	run on_inet socat -T2 - TCP:100.130.0.1:8520,connect-timeout=2 </dev/null
	assert_output "hello from echoserv"

	serve_stop srv
	run router_rules
	assert_output ""
}

@test "gateway gone: published turns into pending with a reason; back when the router returns" {
	local verify=3 t0 took
	NATT_VERIFY_INTERVAL=$verify serve srv lan1 8521 --log debug
	wait_published tcp 8521
	lab router-stop --flush
	t0=$(now_s)
	# the check every 3 s finds the router gone; then one UPnP and one NAT-PMP attempt fail
	wait_until $((verify + 7)) status_has tcp 8521 pending ||
		fail "still '$(status_field tcp 8521 state)' $((verify + 7)) s after the router went away"
	took=$(elapsed_since "$t0")
	tap_note "pending $took s after the router went away (verification every ${verify} s)"
	[ -n "$(status_field tcp 8521 error)" ]
	run status_query '[.sockets[] | select(.local_port == 8521) | .assignments[] | select(.technique != null)] | length'
	assert_output "0"

	lab router-start
	t0=$(now_s)
	wait_until $APPEAR_BOUND eval 'status_has tcp 8521 published && rule_present_proto tcp 8521' ||
		fail "not published again within ${APPEAR_BOUND}s of the router's return"
	took=$(elapsed_since "$t0")
	tap_note "published again $took s after the router returned"
	serve_stop srv
	run router_rules
	assert_output ""
}
