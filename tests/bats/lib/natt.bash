# Helpers for suites that run programs under natt-run inside the lab (load after lib/lab).
# Each test gets a directory of its own ($NATT_TEST_DIR) with a status file ($NATT_STATUS) and the
# stdout/stderr of every program it started; natt_test_teardown kills what is still running.

# natt_suite [MODE [HOSTS [natt-lab up options...]]] — the set-ups of a suite whose tests run programs
# under natt in one lab of its own (default: dual, one LAN host): setup_file builds it (or records why
# it cannot: every test then skips), teardown_file removes it, setup and teardown give each test its
# directory and kill what it left. A suite may define its own setup() after this call.
natt_suite() {
	NATT_SUITE_LAB=("$@")
	setup_file() { require_root; lab_up "${NATT_SUITE_LAB[@]}"; }
	teardown_file() { lab_down; }
	setup() { natt_test_setup; }
	teardown() { natt_test_teardown; }
}

natt_test_setup() {
	lab_setup
	NATT_TEST_DIR=$(mktemp -d "${BATS_TEST_TMPDIR:-/tmp}/natt.XXXXXX")
	chmod 755 "$NATT_TEST_DIR"
	NATT_STATUS=$NATT_TEST_DIR/status.json
	export NATT_TEST_DIR NATT_STATUS
}

natt_test_teardown() {
	lab_teardown
	local pidfile
	for pidfile in "$NATT_TEST_DIR"/*.pid; do
		[ -e "$pidfile" ] || continue
		# waiting here, with stderr closed, keeps bash's "Killed" job notice out of the TAP stream
		{ kill -KILL "$(cat "$pidfile")" && wait "$(cat "$pidfile")"; } 2>/dev/null || true
	done
	if [ -n "${NATT_TEST_DIR:-}" ] && [ "${BATS_TEST_COMPLETED:-}" != 1 ]; then
		for f in "$NATT_TEST_DIR"/*.err "$NATT_TEST_DIR"/status.json; do
			[ -e "$f" ] && { echo "# --- $f"; sed 's/^/# /' "$f"; } >&3
		done
	fi
	return 0
}

# manager_switches PID: the voluntary context switches of natt's thread in process PID (its wake-ups:
# preemption on a busy machine is not counted).
manager_switches() {
	local task
	for task in /proc/"$1"/task/*; do
		[ "$(cat "$task/comm" 2>/dev/null)" = natt ] || continue
		awk '/^voluntary_ctxt_switches/ { print $2 }' "$task/status"
		return 0
	done
	return 1
}

# natt_start NAME HOST [natt-run options] -- command [args]: runs natt-run in the lab host's namespace,
# in the background, stdin from a fifo that natt_send writes to. A test may set the array
# NATT_START_WRAP to a command natt-run is to run under (its last argument being natt-run's path).
natt_start() {
	local name=$1 host=$2
	shift 2
	local dir=$NATT_TEST_DIR
	mkfifo "$dir/$name.in"
	ip netns exec "natt-$LAB_ID-$host" ${NATT_START_WRAP[@]+"${NATT_START_WRAP[@]}"} \
		"$NATT_ROOT/scripts/natt-run" --status "$NATT_STATUS" "$@" \
		<"$dir/$name.in" >"$dir/$name.out" 2>"$dir/$name.err" &
	echo $! >"$dir/$name.pid"
	# Hold the fifo open for writing so the program sees no end of input until the test ends.
	eval "exec {NATT_FIFO_$name}>\"$dir/$name.in\""
	echo 0 >"$dir/$name.consumed"
}

natt_pid() { cat "$NATT_TEST_DIR/$1.pid"; }
natt_stderr() { echo "$NATT_TEST_DIR/$1.err"; }
natt_stdout() { echo "$NATT_TEST_DIR/$1.out"; }
natt_signal() { kill -"$2" "$(natt_pid "$1")"; }

natt_send() {
	local var="NATT_FIFO_$1"
	echo "$2" >&"${!var}"
}

# natt_expect NAME REGEX [TIMEOUT]: waits for the program's next unread stdout line; it must match.
natt_expect() {
	local name=$1 regex=$2 timeout=${3:-10} consumed line
	consumed=$(cat "$NATT_TEST_DIR/$name.consumed")
	local deadline=$((SECONDS + timeout))
	while [ $SECONDS -le $deadline ]; do
		line=$(sed -n "$((consumed + 1))p" "$NATT_TEST_DIR/$name.out")
		if [ -n "$line" ]; then
			echo $((consumed + 1)) >"$NATT_TEST_DIR/$name.consumed"
			NATT_LAST_REPLY=$line
			[[ $line =~ $regex ]] && return 0
			echo "expected /$regex/, got: $line" >&2
			return 1
		fi
		sleep 0.05
	done
	echo "no reply from $name within ${timeout}s (expected /$regex/)" >&2
	return 1
}

# natt_wait_exit NAME TIMEOUT: waits until the process is gone; fails if it outlives TIMEOUT.
natt_wait_exit() {
	local pid deadline=$((SECONDS + $2))
	pid=$(natt_pid "$1")
	while kill -0 "$pid" 2>/dev/null; do
		[ $SECONDS -le $deadline ] || { echo "$1 (pid $pid) still running after $2 s" >&2; return 1; }
		sleep 0.05
	done
}

# status_query JQ: runs jq on the status file, empty output when there is none yet.
status_query() {
	[ -s "$NATT_STATUS" ] || return 1
	jq -r "$@" "$NATT_STATUS"
}

# wait_state PROTO PORT STATE [TIMEOUT]
wait_state() {
	local proto=$1 port=$2 state=$3 timeout=${4:-15}
	wait_until "$timeout" status_has "$proto" "$port" "$state" || {
		echo "no $proto socket on port $port in state $state within ${timeout}s; status:" >&2
		cat "$NATT_STATUS" >&2 2>/dev/null
		return 1
	}
}

status_has() {
	[ -s "$NATT_STATUS" ] &&
		jq -e --arg p "$1" --argjson port "$2" --arg s "$3" \
			'any(.sockets[]; .protocol == $p and .local_port == $port and .state == $s)' "$NATT_STATUS" >/dev/null 2>&1
}

wait_published() {
	wait_state "$1" "$2" published "${3:-15}" || return 1
	[ -z "${LAB_ID:-}" ] || PUBLISHED_AT["$1 $2"]=$(router_log_lines)
}

# assert_assignment PROTO LOCAL_PORT TECHNIQUE ADDRESS PORT
assert_assignment() {
	local got
	got=$(jq -r --arg p "$1" --argjson port "$2" \
		'.sockets[] | select(.protocol == $p and .local_port == $port) | .assignments[] | select(.technique != null)
		 | "\(.technique) \(.address) \(.port)"' "$NATT_STATUS")
	[ "$got" = "$3 $4 $5" ] || { echo "expected assignment '$3 $4 $5', got '$got'" >&2; return 1; }
}

rule_present() { router_rules | grep -q "dport $1 "; }
rule_absent() { ! router_rules | grep -q "dport $1 "; }

# rule_present_proto PROTO PORT — some dnat rule for external PORT of PROTO (tcp 0x6, udp 0x11).
proto_code() { if [ "$1" = udp ]; then echo 0x11; else echo 0x6; fi; }
rule_present_proto() { router_rules | grep -qE "@nh,72,8 $(proto_code "$1") th dport $2 "; }
rule_absent_proto() { ! rule_present_proto "$@"; }
rule_count_proto() { router_rules | grep -cE "@nh,72,8 $(proto_code "$1") th dport $2 " || true; }

# --- miniupnpd's log: what the router was asked and did, not only what it holds now ---------------

# How many lines of miniupnpd's log (all starts of this lab) match the extended REGEX.
router_log_count() { lab log 2>/dev/null | grep -cE -- "$1" || true; }
# Lines after line N that match REGEX.
router_log_since() { lab log 2>/dev/null | tail -n "+$(($1 + 1))" | grep -E -- "$2" || true; }
router_log_lines() { lab log 2>/dev/null | wc -l; }

# The log's words for the deletion of external PORT of PROTO, by each way it can go: UPnP
# DeletePortMapping, NAT-PMP or PCP lifetime 0 (the request names the internal port: ours are the same),
# and the rule's removal itself (also on expiry).
router_delete_regex() {
	local proto=${1,,} port=$2 up=${1^^}
	printf '%s' "DeletePortMapping: external port: $port, protocol: $up( |\$)|removing redirect rule port $port $up( |\$)|(NAT-PMP|PCP:) $up port $port mapping removed|port mapping request : [0-9]+->[0-9.]+:$port $proto lifetime=0s"
}
# The log's words for a mapping made (or renewed) by anyone: UPnP AddPortMapping/AddAnyPortMapping,
# NAT-PMP with a lease, PCP MAP (miniupnpd says "added" for a renewal too).
ROUTER_MAP_REGEX='AddPortMapping: ext port [0-9]+ to |AddAnyPortMapping|NAT-PMP port mapping request : [0-9]+->[0-9.]+:[0-9]+ (tcp|udp) lifetime=[1-9]|PCP MAP: added mapping '

# router_map_regex PROTO PORT — the log's words for a mapping of external PORT made or renewed (UPnP,
# NAT-PMP with a lease, PCP MAP).
router_map_regex() {
	local proto=${1,,} port=$2 up=${1^^}
	printf '%s' "AddPortMapping: ext port $port to [0-9.]+:[0-9]+ protocol $up |NAT-PMP port mapping request : $port->[0-9.]+:[0-9]+ $proto lifetime=[1-9]|PCP MAP: added mapping $up $port->"
}
# router_maps_since LINE PROTO PORT — how many times that mapping was asked for after line LINE.
router_maps_since() { router_log_since "$1" "$(router_map_regex "$2" "$3")" | grep -c . || true; }

# router_deletes_since LINE PROTO PORT — the log's lines after line LINE that delete that mapping.
router_deletes_since() { router_log_since "$1" "$(router_delete_regex "$2" "$3")"; }

# Where the log stood when wait_published last saw PROTO PORT published (0: never).
declare -gA PUBLISHED_AT=()
published_mark() { echo "${PUBLISHED_AT["$1 $2"]:-0}"; }

# assert_not_deleted_since LINE PROTO PORT — the router's log shows no deletion of that mapping after
# line LINE: a mapping deleted and made again in between passes a look at the rules, not this.
assert_not_deleted_since() {
	local deleted
	deleted=$(router_deletes_since "$1" "$2" "$3")
	[ -z "$deleted" ] ||
		fail "$(printf 'the router deleted %s port %s (its log since line %s):\n%s' "$2" "$3" "$1" "$deleted")"
}

# wait_rule_gone PORT [TIMEOUT]
wait_rule_gone() {
	wait_until "${2:-10}" rule_absent "$1" || { echo "router still forwards port $1:" >&2; router_rules >&2; return 1; }
}

# on_host_wait_port HOST PORT: waits until something listens on PORT in HOST.
on_host_wait_port() {
	wait_until 20 ip netns exec "natt-$LAB_ID-$1" sh -c "ss -Htln 'sport = :$2' | grep -q ."
}

# publish_round_trip TECHNIQUE PORT [natt-run options]: a TCP and a UDP server under natt-run on lan1
# are published with TECHNIQUE at the router's address, answer from the internet host, and leave nothing
# at the router once they got SIGTERM.
publish_round_trip() {
	local technique=$1 port=$2
	shift 2
	natt_start tcp lan1 "$@" -- python3 -m http.server "$port"
	natt_start udp lan1 "$@" -- socat UDP4-RECVFROM:"$port",fork EXEC:cat
	wait_published tcp "$port"
	wait_published udp "$port"
	assert_assignment tcp "$port" "$technique" 100.130.0.1 "$port"
	assert_assignment udp "$port" "$technique" 100.130.0.1 "$port"
	run on_inet curl -sS --max-time 5 "http://100.130.0.1:$port/"
	assert_success
	assert_output --partial "Directory listing"
	run on_inet sh -c "echo natt-udp-probe | socat -T2 - UDP4:100.130.0.1:$port"
	assert_success
	assert_output "natt-udp-probe"
	natt_signal tcp TERM
	natt_signal udp TERM
	natt_wait_exit tcp 10
	natt_wait_exit udp 10
	run router_rules
	assert_output ""
}

# plain_start NAME HOST command [args]: like natt_start, without natt-run (for libnatt programs).
plain_start() {
	local name=$1 host=$2
	shift 2
	local dir=$NATT_TEST_DIR
	mkfifo "$dir/$name.in"
	ip netns exec "natt-$LAB_ID-$host" env NATT_STATUS_FILE="$NATT_STATUS" "$@" \
		<"$dir/$name.in" >"$dir/$name.out" 2>"$dir/$name.err" &
	echo $! >"$dir/$name.pid"
	eval "exec {NATT_FIFO_$name}>\"$dir/$name.in\""
	echo 0 >"$dir/$name.consumed"
}

# natt_start_watch NAME HOST [natt watch options]: runs `natt watch` in the lab host's namespace, in
# the background, with the test's status file.
natt_start_watch() {
	local name=$1 host=$2
	shift 2
	ip netns exec "natt-$LAB_ID-$host" "$NATT_BUILD/natt" watch --status "$NATT_STATUS" "$@" \
		</dev/null >"$NATT_TEST_DIR/$name.out" 2>"$NATT_TEST_DIR/$name.err" &
	echo $! >"$NATT_TEST_DIR/$name.pid"
}
