# Helpers for bats suites that run programs in the network lab (scripts/natt-lab).
#
# A suite shares one lab between its tests:
#
#     load lib/lab
#     setup_file()    { lab_up dual 2; }      # exports LAB_ID (nothing happens without root)
#     teardown_file() { lab_down; }           # always runs, also after failures
#     setup()         { lab_setup; }          # skips the test when there is no lab (not root)
#     teardown()      { lab_teardown; }       # kills what this test started with start_bg
#
#     @test "a server on lan1 is reachable from the internet host" {
#         start_bg web lan1 "$NATT_RUN" -- python3 -m http.server 8000
#         wait_until 5 router_has_rule 'dport 8000 '
#         run on_inet curl -s http://100.130.0.1:8000/
#         assert_success
#         stop_bg web
#     }
#
# Addresses: router 10.77.0.1 (LAN) / 100.130.0.1 (WAN), lan1 10.77.0.2, lan2 10.77.0.3,
# inet 100.130.0.2; with `lab_up MODE HOSTS --ipv6` also router 2a01:77:1::1 / 2a01:77:ff::1,
# lan1 2a01:77:1::2, lan2 2a01:77:1::3, inet 2a01:77:ff::2. See scripts/natt-lab --help.

# shellcheck disable=SC2034,SC2119,SC2120  # variables and optional arguments meant for the suites

NATT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
NATT_BUILD=${NATT_BUILD:-$NATT_ROOT/build}
NATT_LAB=$NATT_ROOT/scripts/natt-lab
NATT_RUN=$NATT_ROOT/scripts/natt-run
export NATT_ROOT NATT_BUILD NATT_LAB NATT_RUN

# Debian's bats-support and bats-assert live in /usr/lib/bats/<name>/load.bash.
BATS_LIB_DIR=${BATS_LIB_DIR:-/usr/lib/bats}
load "$BATS_LIB_DIR/bats-support/load"
load "$BATS_LIB_DIR/bats-assert/load"

# --- privileges -----------------------------------------------------------------------------

# Why the lab cannot run here, or nothing when it can.
# A line in the TAP output that is no test result.
tap_note() { echo "# $*" >&3; }

# Seconds since the epoch with microseconds, and the difference of two such values ("1.234").
now_s() { echo "$EPOCHREALTIME"; }
elapsed_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

lab_unavailable_reason() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "needs root (the lab creates network namespaces)"
    elif ! unshare --net true 2>/dev/null; then
        echo "cannot create network namespaces here (missing CAP_SYS_ADMIN?)"
    fi
}

# In setup() or a test: skip with a clear message unless we may build labs.
# In setup_file (where bats 1.8 turns a skip into "not ok ... setup_file failed"): record the
# reason in LAB_SKIP instead; lab_up then builds nothing and lab_setup skips each test.
require_root() {
    local why
    why=$(lab_unavailable_reason)
    [ -n "$why" ] || return 0
    if [ -z "${BATS_TEST_NAME:-}" ]; then
        export LAB_SKIP=$why
        return 0
    fi
    skip "$why"
}

# --- the lab of this file -------------------------------------------------------------------

# lab_up MODE [HOSTS [natt-lab up options...]] — for setup_file (or a test). Builds a lab and
# exports LAB_ID; e.g. `lab_up dual 2 --config-extra "deny 8000-8000 10.77.0.3/32 8000-8000"`. Without root it builds nothing and records why, so that lab_setup skips every test
# (bats 1.8 cannot skip from setup_file).
lab_up() {
    local mode=${1:-dual} hosts=${2:-1}
    shift $(( $# >= 2 ? 2 : $# ))
    LAB_SKIP=$(lab_unavailable_reason)
    export LAB_SKIP
    [ -z "$LAB_SKIP" ] || return 0
    # The owner is this bats file's process: scripts/natt-lab gc (tests/run-all) removes the
    # lab after a crash once that process is gone, and never while it runs.
    LAB_ID=$("$NATT_LAB" up --mode "$mode" --hosts "$hosts" --owner "${NATT_LAB_OWNER:-$$}" "$@")
    export LAB_ID
}

# For teardown_file: kills what start_bg started in setup_file, then the lab with every
# process still inside it. Safe to call when lab_up failed half-way or never ran.
lab_down() {
    bg_kill_all "$(bg_dir_file)"
    if [ -n "${LAB_ID:-}" ]; then
        "$NATT_LAB" down "$LAB_ID"
        unset LAB_ID
    fi
}

# For setup(): skip the test when there is no lab.
lab_setup() {
    [ -z "${LAB_SKIP:-}" ] || skip "$LAB_SKIP"
    [ -n "${LAB_ID:-}" ] || skip "no lab (did setup_file call lab_up?)"
}

# For teardown(): kill this test's background processes; after a failure, show the tail of
# miniupnpd's log and of each background process's output.
lab_teardown() {
    if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -n "${LAB_ID:-}" ]; then
        lab_diagnostics
    fi
    bg_kill_all "$(bg_dir)"
}

lab_diagnostics() {
    local f
    echo "# --- natt-lab $LAB_ID: miniupnpd log (tail) ---"
    "$NATT_LAB" log "$LAB_ID" 2>/dev/null | tail -n 25 | sed 's/^/#   /'
    echo "# --- router rules ---"
    router_rules 2>/dev/null | sed 's/^/#   /'
    for f in "$(bg_dir)"/*.out "$(bg_dir_file)"/*.out; do
        [ -f "$f" ] || continue
        echo "# --- output of ${f##*/} (tail) ---"
        tail -n 25 "$f" | sed 's/^/#   /'
    done
}

# lab CMD [ARGS...] — scripts/natt-lab CMD LAB_ID ARGS..., e.g. `lab reboot`, `lab info`,
# `lab set-ext-addr 100.131.0.1/24`, `lab router-stop --flush`.
lab() {
    local cmd=$1; shift
    "$NATT_LAB" "$cmd" "$LAB_ID" "$@"
}

# lab_info KEY — one value of `natt-lab info` (mode, ext_ip, http_port, desc_url, log, ...).
lab_info() {
    "$NATT_LAB" info "$LAB_ID" | sed -n "s/^$1=//p"
}

# --- running things in the lab --------------------------------------------------------------

lab_ns() { printf 'natt-%s-%s' "$LAB_ID" "$1"; }
on_host() { local host=$1; shift; ip netns exec "$(lab_ns "$host")" "$@"; }
on_lan1() { on_host lan1 "$@"; }
on_lan2() { on_host lan2 "$@"; }
on_router() { on_host router "$@"; }
on_inet() { on_host inet "$@"; }

# miniupnpd's rules, one per line (empty when none); optional CHAIN: prerouting (default, the
# dnat rules), postrouting, forward.
router_rules() { "$NATT_LAB" rules "$LAB_ID" "$@"; }
router_rules_count() { "$NATT_LAB" rules-count "$LAB_ID" "$@"; }
# router_has_rule TEXT — some dnat rule contains TEXT, e.g. 'dport 8000 ' or '10.77.0.2:8000'.
router_has_rule() { router_rules | grep -qF -- "$1"; }

# IPv6 (labs built with --ipv6; addresses in scripts/natt-lab --help). The pinholes miniupnpd opened
# in its forward chain for PORT (an IPv6 destination match: @nh,192,128), one per line.
router_pinholes() { router_rules forward | grep -E -- "th dport $1 @nh,192,128 " || true; }
# inet_connects6 ADDRESS PORT — whether the inet host opens a TCP connection to [ADDRESS]:PORT
# within 2 s (a SYN the router's forward chain drops gets no answer at all).
inet_connects6() { on_inet timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null; }

# host_listens HOST tcp|udp PORT — some socket in HOST listens on (is bound to) PORT.
host_listens() {
    local flag=-t
    [ "$2" = udp ] && flag=-u
    on_host "$1" ss -Hln "$flag" "sport = :$3" | grep -q .
}

# wait_until TIMEOUT_SECONDS CMD [ARGS...] — run CMD every 50 ms until it succeeds (0) or
# TIMEOUT (may be fractional) has passed (1, with a message). CMD may be a shell function.
wait_until() {
    local timeout=$1 now deadline
    shift
    deadline=$(( ${EPOCHREALTIME/./} + $(awk -v t="$timeout" 'BEGIN { printf "%d", t * 1000000 }') ))
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        now=${EPOCHREALTIME/./}
        if [ "$now" -ge "$deadline" ]; then
            echo "wait_until: gave up after ${timeout}s: $*" >&2
            return 1
        fi
        sleep 0.05
    done
}

# --- background processes -------------------------------------------------------------------

# Where start_bg keeps NAME.pid and NAME.out: per test, or per file in setup_file.
bg_dir() { echo "${BATS_TEST_TMPDIR:-$(bg_dir_file)}/natt-bg"; }
bg_dir_file() { echo "${BATS_FILE_TMPDIR:-${TMPDIR:-/tmp}}/natt-bg-file"; }

# start_bg NAME HOST CMD [ARGS...] — run CMD in HOST in the background: its own session and
# process group (so stop_bg reaches its children), default signal dispositions (a background
# job of a script would otherwise inherit SIGINT/SIGQUIT ignored), no fd 3 (bats would wait
# for it). Output goes to $(bg_out NAME).
start_bg() {
    local name=$1 host=$2 dir
    shift 2
    dir=$(bg_dir)
    mkdir -p "$dir"
    [ ! -e "$dir/$name.pid" ] || { echo "start_bg: $name is already running" >&2; return 1; }
    # A script's background job is no process group leader: setsid does not fork, and $! is
    # the pid that env, ip netns exec and finally CMD run as.
    ( exec setsid env --default-signal ip netns exec "$(lab_ns "$host")" "$@" ) \
        </dev/null >"$dir/$name.out" 2>&1 3>&- &
    # Line 2: the shell that started it; only that one can wait for its exit status.
    printf '%s\n%s\n' "$!" "$BASHPID" > "$dir/$name.pid"
}

bg_pid() { head -n 1 "$(bg_dir)/$1.pid" 2>/dev/null || head -n 1 "$(bg_dir_file)/$1.pid"; }
bg_out() {
    if [ -e "$(bg_dir)/$1.pid" ]; then echo "$(bg_dir)/$1.out"; else echo "$(bg_dir_file)/$1.out"; fi
}

# Alive and not a zombie (kill -0 also succeeds on zombies).
bg_alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*") "}
    [ "${stat%% *}" != Z ]
}

# stop_bg NAME [SIGNAL] [TIMEOUT] — send SIGNAL (default TERM) to NAME, wait up to TIMEOUT
# seconds (default 5) for it to exit, then SIGKILL its process group. Sets BG_STATUS to its
# exit status when it was started by this same test process (else empty). Returns 1 when it
# had to be killed.
stop_bg() {
    local name=$1 sig=${2:-TERM} timeout=${3:-5} pid parent file rc=0
    file=$(bg_dir)/$name.pid
    [ -e "$file" ] || file=$(bg_dir_file)/$name.pid
    { read -r pid; read -r parent; } < "$file" 2>/dev/null ||
        { echo "stop_bg: no background process $name" >&2; return 1; }
    BG_STATUS=
    kill -s "$sig" "$pid" 2>/dev/null || true
    if ! wait_until "$timeout" eval "! bg_alive $pid"; then
        echo "stop_bg: $name (pid $pid) did not exit within ${timeout}s of SIG$sig; killing it" >&2
        rc=1
    fi
    kill -KILL -- "-$pid" 2>/dev/null || true
    if [ "$parent" = "$BASHPID" ]; then
        wait "$pid" 2>/dev/null && BG_STATUS=0 || BG_STATUS=$?
    fi
    rm -f "$file"
    return $rc
}

# Kill every process group start_bg recorded in DIR (TERM, then KILL after a second).
bg_kill_all() {
    local dir=$1 f pid any pids=()
    for f in "$dir"/*.pid; do
        [ -f "$f" ] || continue
        pid=$(head -n 1 "$f")
        kill -TERM -- "-$pid" 2>/dev/null || true
        pids+=("$pid")
        rm -f "$f"
    done
    [ ${#pids[@]} -gt 0 ] || return 0
    for _ in $(seq 20); do
        any=0
        for pid in "${pids[@]}"; do bg_alive "$pid" && any=1; done
        [ $any = 1 ] || return 0
        sleep 0.05
    done
    for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
}
