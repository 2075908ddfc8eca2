# Helpers for the resilience suites (tests/bats/5*-*.bats): routers that reboot, vanish,
# renumber, refuse or hand ports to others, and programs that end in every possible way.
# Load after lib/lab and lib/natt.

SOCKCTL=$NATT_BUILD/tests/progs/sockctl
LISTEN_EXEC=$NATT_BUILD/tests/progs/listen_exec
export SOCKCTL LISTEN_EXEC

# A line in the TAP output (bats shows what goes to fd 3 as is): measured figures, observations.

# --- upnpc against the lab router -----------------------------------------------------------

# upnpc_on HOST ARGS... — upnpc without discovery (-u), at the router's current description URL
# (it changes at every router start).
upnpc_on() {
	local host=$1 url
	shift
	url=$(lab_info desc_url)
	[ -n "$url" ] || { echo "upnpc_on: the router offers no UPnP now" >&2; return 1; }
	on_host "$host" timeout 10 upnpc -u "$url" "$@"
}

# The router's port mapping list as "PROTO EXTPORT CLIENT:PORT LEASE" lines (all mappings, also those
# made through NAT-PMP, which miniupnpd lists too).
router_mappings() {
	upnpc_on lan1 -l 2>/dev/null |
		awk '$1 ~ /^[0-9]+$/ && ($2 == "TCP" || $2 == "UDP") {
			split($3, a, "->"); print $2, a[1], a[2], $NF }'
}

# router_lease PROTO EXTPORT — remaining lease (seconds) the router shows for that mapping; fails when
# there is none.
router_lease() {
	local proto=${1^^}
	# upnpc lists by index; a renewal in between reorders miniupnpd's list, so a mapping may show
	# twice: the larger lease is the newer.
	router_mappings | awk -v p="$proto" -v port="$2" '$1 == p && $2 == port && (!found || $4 > max) {
			max = $4; found = 1 }
		END { if (found) print max; exit !found }'
}

# router_rule_to PORT TARGET — a dnat rule for external PORT goes to TARGET (e.g. 10.77.0.3:8530).
router_rule_to() { router_rules | grep -qE "dport $1 dnat ip to $2\$"; }


# --- the status file ------------------------------------------------------------------------

# status_public PROTO LOCAL_PORT FIELD — FIELD (address, port, technique, lifetime, expires, ...) of the
# socket's public assignment (technique not null); empty when it has none.
status_public() {
	status_query --arg p "$1" --argjson port "$2" --arg f "$3" \
		'.sockets[] | select(.protocol == $p and .local_port == $port) | .assignments[]
		 | select(.technique != null) | .[$f]' 2>/dev/null | head -n 1
}

# status_field PROTO LOCAL_PORT FIELD — a field of the socket entry itself (state, error, warning, ...).
status_field() {
	status_query --arg p "$1" --argjson port "$2" --arg f "$3" \
		'.sockets[] | select(.protocol == $p and .local_port == $port) | .[$f] // ""' 2>/dev/null | head -n 1
}

# status_public_is PROTO LOCAL_PORT ADDRESS — published, and the public assignment names ADDRESS.
status_public_is() {
	status_has "$1" "$2" published && [ "$(status_public "$1" "$2" address)" = "$3" ]
}

# No entry of the process NAME (natt_start) is left in the status file.
status_has_no_pid() {
	local pid
	pid=$(natt_pid "$1")
	[ ! -s "$NATT_STATUS" ] ||
		jq -e --argjson pid "$pid" '[.sockets[] | select(.pid == $pid)] | length == 0' "$NATT_STATUS" >/dev/null
}

# --- processes ------------------------------------------------------------------------------

# utime + stime of every thread of PID, in clock ticks (sysconf CLK_TCK, 100 on Linux).
cpu_ticks() {
	local stat
	stat=$(cat "/proc/$1/stat") || return 1
	stat=${stat##*") "}
	# shellcheck disable=SC2086
	set -- $stat
	echo $(($12 + $13))
}

# natt_close_stdin NAME — end of input for a program started with natt_start (sockctl then returns
# from main). Only when no program started after it still runs: each holds a copy of the fifo's write end.
natt_close_stdin() {
	local var="NATT_FIFO_$1"
	eval "exec ${!var}>&-"
}

# natt_reap NAME TIMEOUT — waits for the process (started by this test with natt_start) to end and
# sets NATT_EXIT_STATUS to its wait status (128 + N for signal N). Not in $(...): a subshell cannot
# wait for the test's children.
natt_reap() {
	local pid
	NATT_EXIT_STATUS=
	natt_wait_exit "$1" "$2" || return 1
	pid=$(natt_pid "$1")
	NATT_EXIT_STATUS=0
	wait "$pid" 2>/dev/null || NATT_EXIT_STATUS=$?
}

# sockctl_open NAME PROTO PORT — asks a sockctl started with natt_start for a socket on 0.0.0.0:PORT.
sockctl_open() {
	natt_send "$1" "$2 0.0.0.0 $3"
	natt_expect "$1" "^[0-9]+ $3\$"
}

# --- a server that stops at the end of its input ------------------------------------------------

ECHOSERV=$NATT_BUILD/tests/progs/echoserv
export ECHOSERV

# serve NAME HOST PORTS [natt-run options] — echoserv under natt-run on HOST with a TCP and a UDP socket
# on each of PORTS (space-separated), serving. It answers TCP with "hello from echoserv" and echoes UDP.
serve() {
	local name=$1 host=$2 ports=$3 p args=()
	shift 3
	for p in $ports; do args+=("tcp:$p" "udp:$p"); done
	natt_start "$name" "$host" "$@" -- "$ECHOSERV" "${args[@]}"
	natt_expect "$name" '^serving$'
}

# serve_stop NAME — "quit": echoserv returns from main (the plainest exit path, so that a test of
# something else does not hang on how signals are handled); waits for it to end. (Not end of input:
# every program natt_start started later holds a copy of the fifo's write end.)
serve_stop() {
	natt_send "$1" quit
	natt_wait_exit "$1" 10
}

# reach_tcp ADDRESS PORT / reach_udp ADDRESS PORT — from the internet host: the TCP greeting, the UDP echo.
reach_tcp() { on_inet socat -T2 - TCP:"$1":"$2",connect-timeout=2 </dev/null; }
reach_udp() { on_inet sh -c "echo natt-udp-probe | socat -T2 - UDP4:$1:$2"; }
