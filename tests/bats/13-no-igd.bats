#!/usr/bin/env bats
# A router with neither UPnP IGD nor NAT-PMP: the program is not held up, serves locally, exits promptly,
# and the status file says why nothing is public.

load lib/lab
load lib/natt

natt_suite none

@test "no IGD: listen() returns at once and the server serves locally" {
	natt_start ctl lan1 -- "$NATT_BUILD/tests/progs/sockctl"
	natt_send ctl "tcp 0.0.0.0 8300"
	# Discovery takes 3 s without a router (1.2 s SSDP + 1.8 s NAT-PMP); a hook that waited would miss this.
	natt_expect ctl "^[0-9]+ 8300$" 2
	natt_send ctl "udp 0.0.0.0 8301"
	natt_expect ctl "^[0-9]+ 8301$" 2
	natt_send ctl "echo"
	natt_expect ctl "^serving$" 2
	run on_lan1 socat -T2 - TCP4:10.77.0.2:8300
	assert_output "hello from sockctl"
	wait_state tcp 8300 pending
	wait_state udp 8301 pending
	run status_query '.sockets[] | select(.local_port == 8300) | .error'
	assert_output --partial "no UPnP IGD answered"
	assert_output --partial "no NAT-PMP answer"
	run status_query '.sockets[] | select(.local_port == 8300) | [.assignments[] | select(.technique != null)] | length'
	assert_output "0"
}

@test "no IGD: python http.server exits promptly on SIGTERM" {
	natt_start web lan1 -- python3 -m http.server 8302
	wait_state tcp 8302 pending
	natt_signal web TERM
	natt_wait_exit web 3
	run jq -e --argjson pid "$(natt_pid web)" '[.sockets[] | select(.pid == $pid)] | length == 0' "$NATT_STATUS"
	assert_success
}
