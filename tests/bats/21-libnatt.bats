#!/usr/bin/env bats
# libnatt's high-level API and persistent mappings, in programs linked with the library (no preload),
# checked at the router itself.

load lib/lab
load lib/natt

setup_file() {
	require_root
	lab_up dual 2
}
teardown_file() { lab_down; }
setup() { natt_test_setup; }
teardown() { natt_test_teardown; }

@test "udp-echo example: publishes its socket, prints its public address, answers from the internet" {
	plain_start echo lan1 "$NATT_BUILD/examples/udp-echo" 9400
	wait_until 10 grep -q "reachable at 100.130.0.1:9400 (upnp)" "$(natt_stdout echo)"
	grep -q "reachable at 10.77.0.2:9400 (local)" "$(natt_stdout echo)"
	run on_inet sh -c 'echo libnatt-probe | socat -T2 - UDP4:100.130.0.1:9400'
	assert_output "libnatt-probe"
	rule_present 9400
	natt_signal echo TERM
	natt_wait_exit echo 10
	run rule_present 9400
	assert_failure
}

@test "persistent mapping over NAT-PMP: callback with the port, current, refresh, stop deletes it" {
	plain_start pm lan1 "$NATT_BUILD/tests/progs/persistent" tcp 9401 nat-pmp 60 2
	natt_expect pm "^mapping 9401 60$" 10
	rule_present 9401
	natt_send pm current
	natt_expect pm "^current 9401$"
	natt_send pm refresh
	natt_expect pm "^ok$"
	natt_send pm stop
	natt_expect pm "^stopped 0$" 10
	run rule_present 9401
	assert_failure
}

@test "persistent mapping: a new external port is reported when the router gives another" {
	# lan2 holds external port 9402 first, so the router has to give lan1 another one
	on_lan2 upnpc -e natt-test -a 10.77.0.3 9402 9402 TCP >/dev/null
	plain_start pm lan1 "$NATT_BUILD/tests/progs/persistent" tcp 9402 upnp 60 30
	natt_expect pm "^mapping [0-9]+ 60$" 10
	port=${NATT_LAST_REPLY#mapping }
	port=${port%% *}
	[ "$port" != 9402 ]
	run router_rules
	assert_output --partial "dport $port dnat ip to 10.77.0.2:9402"
	assert_output --partial "dport 9402 dnat ip to 10.77.0.3:9402"
	natt_send pm stop
	natt_expect pm "^stopped 0$" 10
	run rule_present "$port"
	assert_failure
	# lan2's mapping is not ours and stays
	rule_present 9402
	on_lan2 upnpc -d 9402 TCP >/dev/null
}

@test "persistent mapping with a short lease keeps being refreshed" {
	plain_start pm lan1 "$NATT_BUILD/tests/progs/persistent" udp 9403 nat-pmp 4 1
	natt_expect pm "^mapping 9403 4$" 10
	# a 4 s lease outlived three times over: refreshes kept it at the router
	sleep 12
	rule_present 9403
	natt_send pm stop
	natt_expect pm "^stopped 0$" 10
	run rule_present 9403
	assert_failure
}
