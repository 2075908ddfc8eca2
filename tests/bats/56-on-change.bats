#!/usr/bin/env bats
# The on-change command (natt-run --on-change CMD) runs once per change
# of the public addresses, with NATT_SUMMARY (one line) and NATT_STATUS_FILE in its environment, after
# the status file says the same; and an external address change at the router shows in the status file
# and reaches the on-change command.

load lib/lab
load lib/natt
load lib/resilience

natt_suite
setup() {
	natt_test_setup
	HOOK_LOG=$NATT_TEST_DIR/on-change.log
	# One line per run: the summary | the status file's path | the states the status file gave at that
	# moment for the ports under test.
	cat >"$NATT_TEST_DIR/hook.sh" <<-'EOF'
		snapshot=$(jq -c '[.sockets[] | select(.local_port >= 8560 and .local_port <= 8569)
			| "\(.protocol)/\(.local_port)=\(.state)@\([.assignments[] | select(.technique != null) | .address][0])"]' \
			"$NATT_STATUS_FILE" 2>&1)
		printf '%s|%s|%s\n' "$NATT_SUMMARY" "$NATT_STATUS_FILE" "$snapshot" >>"$HOOK_LOG"
	EOF
	export HOOK_LOG
}
teardown() {
	natt_test_teardown
	[ -z "${LAB_ID:-}" ] || [ "$(lab_info ext_ip)" = 100.130.0.1 ] || lab set-ext-addr 100.130.0.1/24
}

hook_lines() { [ -s "$HOOK_LOG" ] && wc -l <"$HOOK_LOG" || echo 0; }

@test "on-change: one line when published, one when retired, with NATT_STATUS_FILE set and already up to date" {
	natt_start srv lan1 --on-change "sh $NATT_TEST_DIR/hook.sh" -- "$ECHOSERV" tcp:8560
	natt_expect srv '^serving$'
	wait_published tcp 8560
	wait_until 5 eval '[ "$(hook_lines)" -ge 1 ]' || fail "the on-change command did not run"
	sleep 0.5 # nothing more should come
	run cat "$HOOK_LOG"
	tap_note "on-change after publishing: $output"
	assert_equal "$(hook_lines)" 1
	IFS='|' read -r summary file snapshot <"$HOOK_LOG"
	assert_equal "$summary" "tcp 0.0.0.0:8560 published as 100.130.0.1:8560 (upnp)"
	assert_equal "$file" "$NATT_STATUS"
	assert_equal "$snapshot" '["tcp/8560=published@100.130.0.1"]'

	serve_stop srv
	wait_until 5 eval '[ "$(hook_lines)" -ge 2 ]' || fail "the on-change command did not run at retirement"
	sleep 0.5
	run cat "$HOOK_LOG"
	tap_note "on-change after exit: $(tail -n 1 "$HOOK_LOG")"
	assert_equal "$(hook_lines)" 2
	IFS='|' read -r summary file snapshot < <(tail -n 1 "$HOOK_LOG")
	assert_equal "$summary" "tcp 0.0.0.0:8560 retired (was 100.130.0.1:8560, upnp)"
	assert_equal "$file" "$NATT_STATUS"
	assert_equal "$snapshot" '[]'
}

# change_address_and_wait — the router's WAN address becomes 100.131.0.1; both mappings (tcp 8561
# through UPnP, tcp 8562 through NAT-PMP) must show it in the status file within 10 s.
change_address_and_wait() {
	local t0 took
	lab set-ext-addr 100.131.0.1/24
	t0=$(now_s)
	wait_until 10 status_public_is tcp 8561 100.131.0.1 ||
		fail "status file still says $(status_public tcp 8561 address) for the UPnP mapping"
	took=$(elapsed_since "$t0")
	tap_note "external address change seen in the status file (upnp): $took s"
	wait_until 10 status_public_is tcp 8562 100.131.0.1 ||
		fail "status file still says $(status_public tcp 8562 address) for the NAT-PMP mapping"
	took=$(elapsed_since "$t0")
	tap_note "external address change seen in the status file (nat-pmp): $took s"
}

# start_pair [natt-run options] — echoserv "up" (UPnP, tcp 8561) and "pmp" (NAT-PMP, tcp 8562).
start_pair() {
	natt_start up lan1 "$@" --protocols upnp -- "$ECHOSERV" tcp:8561
	natt_start pmp lan1 "$@" --protocols nat-pmp -- "$ECHOSERV" tcp:8562
	natt_expect up '^serving$'
	natt_expect pmp '^serving$'
	wait_published tcp 8561
	wait_published tcp 8562
	assert_equal "$(status_public tcp 8561 address)" 100.130.0.1
	assert_equal "$(status_public tcp 8562 address)" 100.130.0.1
}

@test "external address change: the status file shows the new address, the server is reachable there" {
	start_pair
	change_address_and_wait
	run on_inet socat -T2 - TCP:100.131.0.1:8561,connect-timeout=2 </dev/null
	assert_output "hello from echoserv"
	rule_present_proto tcp 8561
	rule_present_proto tcp 8562
}

@test "external address change: the on-change command runs with the new address" {
	start_pair --on-change "sh $NATT_TEST_DIR/hook.sh"
	wait_until 5 eval '[ "$(hook_lines)" -ge 2 ]' || fail "the on-change command did not run at publication"
	change_address_and_wait
	wait_until 5 grep -qF "tcp 0.0.0.0:8561 published as 100.131.0.1:8561 (upnp)" "$HOOK_LOG" ||
		fail "no on-change run with the new address for 8561: $(cat "$HOOK_LOG")"
	wait_until 5 grep -qF "tcp 0.0.0.0:8562 published as 100.131.0.1:8562 (nat-pmp)" "$HOOK_LOG" ||
		fail "no on-change run with the new address for 8562: $(cat "$HOOK_LOG")"
	run grep -F "published as 100.131.0.1:8561" "$HOOK_LOG"
	tap_note "on-change: $output"
	# the status file already said so when the command ran
	assert_output --partial "tcp/8561=published@100.131.0.1"
}

@test "on-change: the command's start leaves the program's view of its signals as it was" {
	# natt's child shares the program's memory until it execs, and resets the handlers it inherited
	# there: the program must still see SIGTERM at its default action (natt holds it for clean-up).
	local sockctl=$NATT_BUILD/tests/progs/sockctl
	natt_start ctl lan1 --on-change "sh $NATT_TEST_DIR/hook.sh" -- "$sockctl"
	natt_send ctl "tcp 0.0.0.0 8563"
	natt_expect ctl '^[0-9]+ 8563$'
	wait_published tcp 8563
	wait_until 5 eval '[ "$(hook_lines)" -ge 1 ]' || fail "the on-change command did not run"
	natt_send ctl "sigquery 15"
	natt_expect ctl '^default$'
	# and the clean-up at SIGTERM still works, with the status of the default action
	local rc=0
	natt_signal ctl TERM
	wait "$(natt_pid ctl)" || rc=$?
	assert_equal "$rc" 143
	wait_until 5 eval '! rule_present_proto tcp 8563' || fail "the mapping outlived the program: $(router_rules)"
}

# host_processes: the pids of lan1's processes that are not natt's own (comm "natt").
host_processes() {
	local pid
	for pid in $(ip netns pids "$(lab_ns lan1)"); do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = natt ] || echo "$pid"
	done
}

@test "on-change: the command runs without LD_PRELOAD, and the program never sees it as a child" {
	cat >"$NATT_TEST_DIR/env-hook.sh" <<-'EOF'
		printf '%s|%s\n' "${LD_PRELOAD-<unset>}" "$NATT_SUMMARY" >>"$HOOK_LOG"
	EOF
	natt_start ctl lan1 --on-change "sh $NATT_TEST_DIR/env-hook.sh" -- "$SOCKCTL"
	natt_send ctl "sigchld-watch"
	natt_expect ctl '^ok$'
	# the program's own child is seen (its SIGCHLD, reaped by posix_spawn's caller): the watch works
	natt_send ctl "spawn /bin/true"
	natt_expect ctl '^ok 0$'
	natt_send ctl "children"
	natt_expect ctl '^sigchld 1 wait ECHILD$'
	natt_send ctl "tcp 0.0.0.0 8564"
	natt_expect ctl '^[0-9]+ 8564$'
	wait_published tcp 8564
	wait_until 5 eval '[ "$(hook_lines)" -ge 1 ]' || fail "the on-change command did not run"
	IFS='|' read -r preload summary <"$HOOK_LOG"
	assert_equal "$summary" "tcp 0.0.0.0:8564 published as 100.130.0.1:8564 (upnp)"
	[[ $preload != *nattpreload* ]] || fail "the on-change command ran with LD_PRELOAD=$preload"
	# once the command has ended (the program is the host's only process again, but for natt-run's
	# status relay, a natt process beside it when run as root), the program got no signal for it and
	# has no child to wait for
	wait_until 5 eval '[ "$(host_processes)" = "$(natt_pid ctl)" ]' ||
		fail "the on-change command did not end: $(ip netns pids "$(lab_ns lan1)" | xargs ps -o pid,args -p)"
	natt_send ctl "children"
	natt_expect ctl '^sigchld 1 wait ECHILD$'
	natt_send ctl "exit 0"
	natt_wait_exit ctl 10
}
