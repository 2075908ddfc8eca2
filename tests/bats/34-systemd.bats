#!/usr/bin/env bats
# The systemd example (examples/systemd/natt-web.service). systemd is not the init of the machines the
# tests run on, so the unit is not started by systemd: its ExecStart line is run as systemd runs it —
# %t expanded, a clean environment with RUNTIME_DIRECTORY, the runtime directory created empty — in a
# LAN host of the lab, and what `systemctl stop` (SIGTERM to the main process) and Restart= (a new
# process after a crash) do is checked at the router. systemd-analyze verify checks the unit itself.

bats_require_minimum_version 1.5.0

load lib/lab
load lib/natt

UNIT=$NATT_ROOT/examples/systemd/natt-web.service
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
	RUN_ROOT=$NATT_TEST_DIR/run # %t: /run for a system service
	RUNTIME_DIRECTORY=$RUN_ROOT/natt-web
}

teardown() {
	natt_test_teardown
}

# The unit's ExecStart words, %t expanded, the tree's natt-run in place of the installed one.
exec_start() {
	local line
	line=$(sed -n 's/^ExecStart=//p' "$UNIT")
	line=${line//%t/$RUN_ROOT}
	line=${line/#\/usr\/bin\/natt-run /$NATT_ROOT/scripts/natt-run }
	read -ra EXEC_START <<<"$line"
}

# service_start NAME — what systemd does to start the service: an empty runtime directory (mode 0755),
# then ExecStart in a clean environment holding PATH, LANG and RUNTIME_DIRECTORY, in lan1. A python
# parent stands for systemd: it prints the main process's pid, then how it ended ("killed N" for a
# signal, "exited N"), as systemd tells code=killed from code=exited.
service_start() {
	local name=$1
	rm -rf "$RUNTIME_DIRECTORY"
	mkdir -p "$RUNTIME_DIRECTORY"
	chmod 755 "$RUN_ROOT" "$RUNTIME_DIRECTORY"
	exec_start
	# (a sanitizer run's choice of library and its options are kept)
	local keep=() v
	for v in NATT_PRELOAD_LIBRARY ASAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS; do
		[ -z "${!v:-}" ] || keep+=("$v=${!v}")
	done
	ip netns exec "$(lab_ns lan1)" env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		LANG=C.UTF-8 RUNTIME_DIRECTORY="$RUNTIME_DIRECTORY" "${keep[@]}" python3 -c '
import subprocess, sys
p = subprocess.Popen(sys.argv[1:])
print(p.pid, flush=True)
p.wait()
print("killed %d" % -p.returncode if p.returncode < 0 else "exited %d" % p.returncode, flush=True)
' "${EXEC_START[@]}" >"$NATT_TEST_DIR/$name.out" 2>"$NATT_TEST_DIR/$name.err" &
	echo $! >"$NATT_TEST_DIR/$name.parent.pid"
	wait_until 10 test -s "$NATT_TEST_DIR/$name.out"
	head -n 1 "$NATT_TEST_DIR/$name.out" >"$NATT_TEST_DIR/$name.pid"
}

# service_ended NAME — how the main process ended, once it has.
service_ended() {
	wait_until 15 eval "[ \$(wc -l <'$NATT_TEST_DIR/$1.out') -ge 2 ]" || return 1
	sed -n 2p "$NATT_TEST_DIR/$1.out"
}

@test "systemd-analyze verify accepts the example unit" {
	command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"
	# (with the tree's natt-run where the unit names the installed one, which may be absent here)
	local copy=$BATS_TEST_TMPDIR/natt-web.service
	sed "s|^ExecStart=/usr/bin/natt-run |ExecStart=$NATT_ROOT/scripts/natt-run |" "$UNIT" >"$copy"
	run --separate-stderr systemd-analyze verify --man=no "$copy"
	[ -z "$stderr" ] || { echo "$stderr" >&2; false; }
	assert_success
	# the unit is what the README describes
	grep -qx 'RuntimeDirectory=natt-web' "$UNIT"
	grep -qx 'Restart=on-failure' "$UNIT"
	exec_start
	[ "${EXEC_START[0]}" = "$NATT_ROOT/scripts/natt-run" ]
	[ "${EXEC_START[2]}" = "$RUNTIME_DIRECTORY/status.json" ]
}

@test "systemctl stop: SIGTERM deletes the mapping, and the server ends by SIGTERM (a clean stop for systemd)" {
	ext=$(lab_info ext_ip)
	service_start web
	# the status file is in the runtime directory, and says the router's address
	run timeout 30 "$NATT" wait --port 8000 --timeout 20 "$RUNTIME_DIRECTORY/status.json"
	assert_success
	assert_output "$ext:8000"
	router_has_rule "dport 8000 dnat ip to 10.77.0.2:8000"
	run on_inet curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://$ext:8000/"
	assert_output --regexp '^[1-5][0-9][0-9]$'
	pid=$(cat "$NATT_TEST_DIR/web.pid")
	grep -q libnattpreload.so "/proc/$pid/maps"
	# systemctl stop: SIGTERM to the main process
	kill -TERM "$pid"
	run service_ended web
	assert_output "killed 15"
	# deleted before the process ended
	run router_rules
	assert_output ""
	run jq -e --argjson pid "$pid" '[.sockets[] | select(.pid == $pid)] | length == 0' "$RUNTIME_DIRECTORY/status.json"
	assert_success
}

@test "Restart=on-failure: after a crash (SIGKILL) the new process publishes the same port again" {
	ext=$(lab_info ext_ip)
	service_start web
	run timeout 30 "$NATT" wait --port 8000 --timeout 20 "$RUNTIME_DIRECTORY/status.json"
	assert_output "$ext:8000"
	kill -KILL "$(cat "$NATT_TEST_DIR/web.pid")"
	run service_ended web
	assert_output "killed 9" # unclean: systemd restarts the service
	# nothing could clean up: the router still holds the mapping (until its lease ends)
	router_has_rule "dport 8000 dnat ip to 10.77.0.2:8000"
	# the restart: a new empty runtime directory, ExecStart again
	service_start web2
	run timeout 30 "$NATT" wait --port 8000 --timeout 20 "$RUNTIME_DIRECTORY/status.json"
	assert_success
	assert_output "$ext:8000"
	# one mapping, to the new server, which answers from the internet
	[ "$(router_rules | grep -c 'dport 8000 ')" = 1 ]
	run on_inet curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://$ext:8000/"
	assert_output --regexp '^[1-5][0-9][0-9]$'
	kill -TERM "$(cat "$NATT_TEST_DIR/web2.pid")"
	run service_ended web2
	assert_output "killed 15"
	run router_rules
	assert_output ""
}
