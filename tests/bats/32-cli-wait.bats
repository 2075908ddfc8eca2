#!/usr/bin/env bats
# natt wait and natt status --follow against servers published by natt-run at the lab's router: the
# address printed is the one the router really forwards (checked in its rules and with a request from
# the internet host), a timeout exits 1, entries of dead processes do not count, and --follow reports
# the publication and the retirement as they happen.

bats_require_minimum_version 1.5.0

load lib/lab
load lib/natt

NATT=$NATT_BUILD/natt

setup_file() {
	require_root
	lab_up dual
}

teardown_file() {
	lab_down
}

setup() {
	natt_test_setup
	[ -x "$NATT" ] || skip "build/natt is not built (make build/natt)"
	# a directory natt-run creates itself: natt wait starts before it exists
	NATT_STATUS=$NATT_TEST_DIR/run/natt/status.json
}

teardown() {
	natt_test_teardown
}

@test "natt-run server & natt wait --port: prints the public address:port the router forwards" {
	ext=$(lab_info ext_ip)
	# another published socket first: wait --port must not take it
	natt_start udp lan1 -- socat UDP4-RECVFROM:9300,fork EXEC:cat
	[ ! -e "$NATT_TEST_DIR/run" ]
	"$NATT" wait --port 8300 --timeout 30 "$NATT_STATUS" >"$NATT_TEST_DIR/wait.out" 2>"$NATT_TEST_DIR/wait.err" &
	waiter=$!
	echo "$waiter" >"$NATT_TEST_DIR/waiter.pid"
	wait_published udp 9300
	# the UDP socket is published, the waiter keeps waiting for 8300
	sleep 0.3
	kill -0 "$waiter"
	natt_start web lan1 -- python3 -m http.server 8300
	wait "$waiter"
	run cat "$NATT_TEST_DIR/wait.out"
	assert_output "$ext:8300"
	[ ! -s "$NATT_TEST_DIR/wait.err" ]
	# the router forwards exactly that, and the server answers there from the internet
	router_has_rule "dport 8300 dnat ip to 10.77.0.2:8300"
	run on_inet curl -sS --max-time 5 "http://$ext:8300/"
	assert_success
	assert_output --partial "Directory listing"
	# without --port: the first published socket's address (here both are on the router's address)
	run --separate-stderr "$NATT" wait --timeout 5 "$NATT_STATUS"
	assert_success
	assert_output --regexp "^${ext//./\\.}:(8300|9300)\$"
	# NATT_STATUS_FILE names the file when no FILE is given, as for natt status
	NATT_STATUS_FILE=$NATT_STATUS run --separate-stderr "$NATT" wait -p 9300 -t 5
	assert_success
	assert_output "$ext:9300"
	natt_signal web TERM
	natt_signal udp TERM
	natt_wait_exit web 10
	natt_wait_exit udp 10
	run router_rules
	assert_output ""
}

@test "natt wait --timeout: exit 1 with a message when no such address shows up; dead processes do not count" {
	natt_start web lan1 -- python3 -m http.server 8310
	wait_published tcp 8310
	started=$EPOCHREALTIME
	run --separate-stderr "$NATT" wait --port 8311 --timeout 1.5 "$NATT_STATUS"
	elapsed=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
	assert_failure 1
	assert_output ""
	[ "$stderr" = "natt: wait: no public address for port 8311 in $NATT_STATUS within 1.500 s" ]
	[ "$elapsed" -ge 1500 ] && [ "$elapsed" -lt 5000 ] || { echo "returned after $elapsed ms" >&2; false; }
	# SIGKILL leaves the entry in the file (and the mapping at the router until its lease ends): the
	# process is gone, so that address is not the server's any more
	natt_signal web KILL
	natt_wait_exit web 5
	status_has tcp 8310 published
	run --separate-stderr "$NATT" wait --port 8310 --timeout 1 "$NATT_STATUS"
	assert_failure 1
	assert_output ""
	on_lan1 "$NATT" unmap --upnp 8310 8310 >/dev/null
}

@test "natt status --follow prints the publication and the retirement as they happen" {
	ext=$(lab_info ext_ip)
	"$NATT" status --follow "$NATT_STATUS" >"$NATT_TEST_DIR/follow.out" 2>"$NATT_TEST_DIR/follow.err" &
	echo $! >"$NATT_TEST_DIR/follow.pid"
	natt_start web lan1 -- python3 -m http.server 8320
	pid=$(natt_pid web)
	wait_until 15 grep -q "published as $ext:8320 (upnp)" "$NATT_TEST_DIR/follow.out"
	run cat "$NATT_TEST_DIR/follow.out"
	assert_line --regexp "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z python3\\[$pid\\] tcp 0\\.0\\.0\\.0:8320 published as ${ext//./\\.}:8320 \\(upnp\\)\$"
	refute_output --partial retired
	natt_signal web TERM
	natt_wait_exit web 10
	wait_until 10 grep -q "retired" "$NATT_TEST_DIR/follow.out"
	run cat "$NATT_TEST_DIR/follow.out"
	assert_line --regexp "^[0-9T:Z-]+ python3\\[$pid\\] tcp 0\\.0\\.0\\.0:8320 retired \\(was ${ext//./\\.}:8320, upnp\\)\$"
	# the retirement came after the publication, and nothing else was said
	[ "$(grep -c . "$NATT_TEST_DIR/follow.out")" -le 3 ]
	grep -n "published as" "$NATT_TEST_DIR/follow.out" | head -n 1 | grep -q "^[12]:"
	tail -n 1 "$NATT_TEST_DIR/follow.out" | grep -q retired
	# still following: a new server is reported too
	natt_start web2 lan1 -- python3 -m http.server 8321
	wait_until 15 grep -q "published as $ext:8321 (upnp)" "$NATT_TEST_DIR/follow.out"
	[ ! -s "$NATT_TEST_DIR/follow.err" ]
	natt_signal web2 TERM
	natt_wait_exit web2 10
}
