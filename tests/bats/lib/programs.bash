# Helpers for the suites that run real programs under natt-run in the lab (tests/bats/4*-programs*.bats).
# Load after lib/lab and lib/natt:
#
#     load lib/lab
#     load lib/natt
#     load lib/programs
#     programs_suite            # or programs_suite MODE HOSTS ...: as natt_suite (lib/natt)
#
# What they add to lib/natt: reaching a server from the internet host through the router's public
# address, waiting for every process of a LAN host to be gone (daemons, workers and children are not
# the process natt_start started), strict checks that nothing is left at the router, and a teardown
# that leaves the next test a LAN without processes and a router without rules even after a failure.
#
# NATT_TEST_LOG=debug (environment) runs every natt-run of these suites with --log debug.

# shellcheck disable=SC2034  # variables meant for the suites

PROGS=$NATT_BUILD/tests/progs
PUBLIC_ADDR=100.130.0.1

# Options every test passes to natt-run: -v, and --log LEVEL when NATT_TEST_LOG is set.
NATT_OPTS=(-v)
[ -z "${NATT_TEST_LOG:-}" ] || NATT_OPTS+=(--log "$NATT_TEST_LOG")

# --- setup and teardown ----------------------------------------------------------------------

# programs_suite [MODE [HOSTS [natt-lab up options...]]] — natt_suite with this file's setup/teardown.
programs_suite() {
	natt_suite "$@"
	setup() { programs_setup; }
	teardown() { programs_teardown; }
}

programs_setup() {
	natt_test_setup
}

programs_teardown() {
	local failed=0 pids
	[ "${BATS_TEST_COMPLETED:-}" = 1 ] || failed=1
	if [ $failed = 1 ] && [ -n "${NATT_TEST_DIR:-}" ]; then
		local f
		for f in "$NATT_TEST_DIR"/*.log "$NATT_TEST_DIR"/*/*.log; do
			[ -s "$f" ] || continue
			{ echo "# --- $f (tail)"; tail -n 40 "$f" | sed 's/^/# /'; } >&3
		done
		pids=$(lan_pids)
		if [ -n "$pids" ]; then
			{ echo "# --- processes still in the LAN hosts"; ps -o pid,ppid,user,args -p "${pids//$'\n'/,}" | sed 's/^/# /'; } >&3
		fi
	fi
	natt_test_teardown
	[ -n "${LAB_ID:-}" ] || return 0
	# Daemons, workers and children of scripts are not what natt_test_teardown knows about: TERM
	# (so that they may still clean up), then KILL.
	pids=$(lan_pids)
	if [ -n "$pids" ]; then
		# shellcheck disable=SC2086
		kill -TERM $pids 2>/dev/null || true
		wait_until 3 lan_idle || true
		pids=$(lan_pids)
		# shellcheck disable=SC2086
		[ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
		wait_until 3 lan_idle || true
	fi
	# Mappings left behind: the next test starts from an empty router all the same. After a test that
	# passed they are a failure of their own (something outlived the program at the router).
	local rules
	rules=$(router_rules 2>/dev/null)
	if [ -n "$rules" ]; then
		echo "# (router rules left behind: rebooting the lab's router)" >&3
		lab reboot >/dev/null 2>&1 || true
		if [ $failed = 0 ]; then
			printf '# router rules left behind by a test that passed:\n%s\n' "$rules" | sed '2,$s/^/#   /' >&3
			return 1
		fi
	fi
	return 0
}

# require_program COMMAND PACKAGE: the test fails (it is not skipped) when COMMAND is missing.
require_program() {
	command -v "$1" >/dev/null 2>&1 && return 0
	fail "$1 is not installed (Debian package $2; scripts/install-deps installs it)"
}

# --- processes of the LAN hosts --------------------------------------------------------------

# host_pids HOST: the pids of every process in HOST's network namespace, one a line.
host_pids() {
	ip netns pids "$(lab_ns "$1")" 2>/dev/null || true
}

lan_pids() {
	host_pids lan1
	ip netns list | grep -q "^$(lab_ns lan2)\b" && host_pids lan2
	return 0
}

host_idle() { [ -z "$(host_pids "$1")" ]; }
lan_idle() { [ -z "$(lan_pids)" ]; }

# wait_host_idle HOST [TIMEOUT]: every process in HOST has ended (default 10 s).
wait_host_idle() {
	local host=$1 timeout=${2:-10} pids
	wait_until "$timeout" host_idle "$host" && return 0
	pids=$(host_pids "$host")
	echo "processes still running in $host after ${timeout}s:" >&2
	ps -o pid,ppid,user,args -p "${pids//$'\n'/,}" >&2
	return 1
}

# alive PID: the process exists and is no zombie.
alive() { bg_alive "$1"; }

# describe_stuck PID: for PID and every process under it, each thread's kernel wait channel and, when
# gdb is installed, every thread's stack: what a hang report needs.
describe_stuck() {
	local p t
	for p in "$1" $(descendants "$1"); do
		[ -d "/proc/$p" ] || continue
		echo "# process $p: $(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null)"
		for t in /proc/"$p"/task/*; do
			echo "#   thread ${t##*/} $(cat "$t/comm" 2>/dev/null) waits in $(cat "$t/wchan" 2>/dev/null)"
		done
		if command -v gdb >/dev/null; then
			timeout 60 gdb -p "$p" -batch -ex "thread apply all bt" 2>&1 |
				grep -E '^(Thread|#[0-9])' | sed 's/^/#     /'
		fi
	done
}

# descendants PID: the pids of every process under PID.
descendants() {
	local child
	for child in $(pgrep -P "$1"); do
		echo "$child"
		descendants "$child"
	done
}

# wait_file FILE [TIMEOUT]: FILE exists and is not empty.
wait_file() {
	wait_until "${2:-10}" test -s "$1" || { echo "no file $1 within ${2:-10}s" >&2; return 1; }
}

# pids_named HOST NAME: pids of HOST's processes whose command name (comm) is NAME.
pids_named() {
	local pid
	for pid in $(host_pids "$1"); do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] && echo "$pid"
	done
	return 0
}

# children_of PID: pids of PID's living children.
children_of() {
	local pid
	for pid in $(pgrep -P "$1"); do alive "$pid" && echo "$pid"; done
	return 0
}

# no_children PID: PID has no living child (left).
no_children() { [ -z "$(children_of "$1")" ]; }

# --- reaching a server from the internet host ------------------------------------------------

# inet_http PORT [PATH]: GET http://100.130.0.1:PORT/PATH from the internet host; prints the body.
inet_http() {
	on_inet curl -sS --max-time 5 "http://$PUBLIC_ADDR:$1/${2:-}"
}

# wait_http PORT REGEX [TIMEOUT]: GET until the body matches REGEX (grep -E).
wait_http() {
	local port=$1 regex=$2 timeout=${3:-10}
	wait_until "$timeout" eval "inet_http $port | grep -qE -- \"\$regex\"" && return 0
	echo "http://$PUBLIC_ADDR:$port/ from the internet host never answered /$regex/ within ${timeout}s; last try:" >&2
	inet_http "$port" >&2
	return 1
}

# inet_tcp_echo PORT TEXT: sends TEXT over TCP from the internet host, prints what comes back.
inet_tcp_echo() {
	on_inet sh -c "echo '$2' | socat -T3 - TCP4:$PUBLIC_ADDR:$1"
}

# inet_udp_echo PORT TEXT: sends TEXT in one datagram from the internet host, prints the answer.
inet_udp_echo() {
	on_inet sh -c "echo '$2' | socat -T3 - UDP4:$PUBLIC_ADDR:$1"
}

# --- the status file -------------------------------------------------------------------------

# status_pids PROTO PORT: pids of the status file's entries for that local port.
status_pids() {
	[ -s "$NATT_STATUS" ] || return 0
	jq -r --arg p "$1" --argjson port "$2" \
		'.sockets[] | select(.protocol == $p and .local_port == $port) | .pid' "$NATT_STATUS"
}

# assert_published_by_live_process PROTO PORT: the status file has the socket published at the
# router's public address, and every entry for it names a process that is still running (an entry
# of a process that has exited is stale: that process holds nothing any more).
assert_published_by_live_process() {
	local proto=$1 port=$2 pid
	status_has "$proto" "$port" published ||
		fail "$(printf 'no published %s entry for port %s in the status file:\n%s' "$proto" "$port" "$(cat "$NATT_STATUS" 2>/dev/null)")"
	jq -e --arg p "$proto" --argjson port "$port" --arg a "$PUBLIC_ADDR" \
		'any(.sockets[] | select(.protocol == $p and .local_port == $port and .state == "published")
		     | .assignments[]; .technique != null and .address == $a and .port == $port)' "$NATT_STATUS" >/dev/null ||
		fail "$(printf 'the %s entry for port %s has no assignment %s:%s:\n%s' "$proto" "$port" "$PUBLIC_ADDR" "$port" "$(cat "$NATT_STATUS")")"
	for pid in $(status_pids "$proto" "$port"); do
		alive "$pid" ||
			fail "$(printf 'the status file names pid %s for %s port %s, which has exited:\n%s' "$pid" "$proto" "$port" "$(cat "$NATT_STATUS")")"
	done
}

# assert_status_gone PROTO PORT: no entry for that local port is left in the status file.
assert_status_gone() {
	local n
	[ -s "$NATT_STATUS" ] || return 0
	n=$(jq --arg p "$1" --argjson port "$2" '[.sockets[] | select(.protocol == $p and .local_port == $port)] | length' "$NATT_STATUS")
	[ "$n" = 0 ] || fail "$(printf 'the status file still lists %s port %s:\n%s' "$1" "$2" "$(cat "$NATT_STATUS")")"
}

# --- the router ------------------------------------------------------------------------------

router_empty() { [ -z "$(router_rules)" ]; }

# assert_router_empty: the router forwards nothing any more, right now (call it once the program
# and all its processes have ended). On failure it also tells whether the rules went away later.
assert_router_empty() {
	local rules late
	rules=$(router_rules)
	[ -n "$rules" ] || return 0
	if wait_until 10 router_empty 2>/dev/null; then
		late="they were deleted later, within 10 s"
	else
		late="still there 10 s later"
	fi
	fail "$(printf 'router rules left after the program ended (%s):\n%s\nstatus file:\n%s' \
		"$late" "$rules" "$(cat "$NATT_STATUS" 2>/dev/null)")"
}

# assert_rule_present PORT: the router forwards PORT (with the rules and status file on failure).
assert_rule_present() {
	rule_present "$1" ||
		fail "$(printf 'the router does not forward port %s any more; rules:\n%s\nstatus file:\n%s' \
			"$1" "$(router_rules)" "$(cat "$NATT_STATUS" 2>/dev/null)")"
}
