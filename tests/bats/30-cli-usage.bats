#!/usr/bin/env bats
# The `natt` command without any network: bad command lines (exit 2, one line on stderr, nothing
# sent), help and version, `natt status` on sample status files, and the man pages. Needs no root.
# Nothing here may reach a router: every command line below fails before any network step, or reads
# only a file.

bats_require_minimum_version 1.5.0

load "${BATS_LIB_DIR:-/usr/lib/bats}/bats-support/load"
load "${BATS_LIB_DIR:-/usr/lib/bats}/bats-assert/load"

NATT_ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
NATT=${NATT_BUILD:-$NATT_ROOT/build}/natt

setup() {
    [ -x "$NATT" ] || skip "build/natt is not built (make build/natt)"
}

# bad_usage MESSAGE ARGS... — natt ARGS exits 2 with exactly "natt: MESSAGE" on stderr, nothing on
# stdout.
bad_usage() {
    local message=$1
    shift
    run --separate-stderr "$NATT" "$@"
    if [ "$status" -ne 2 ] || [ -n "$output" ] || [ "$stderr" != "natt: $message" ]; then
        echo "natt $*: status $status, stdout '$output', stderr '$stderr'" >&2
        echo "expected stderr 'natt: $message'" >&2
        return 1
    fi
}

@test "bad ports, lifetimes and addresses: one clear line, exit 2" {
    bad_usage 'map: "70000" is not a port (1-65535)' map 70000 80
    bad_usage 'map: "0" is not a port (1-65535)' map 8000 0
    bad_usage 'map: "80x" is not a port (1-65535)' map 80x 80
    bad_usage 'unmap: "65536" is not a port (1-65535)' unmap -u 65536 1
    bad_usage 'map: "0" is not a lifetime (1-604800 seconds)' map -l 0 1 2
    bad_usage 'map: "604801" is not a lifetime (1-604800 seconds)' map -u -l 604801 60009 60009
    bad_usage 'map: "10.0.1" is not an IP address (-g GATEWAY)' map -g 10.0.1 60011 60022
    bad_usage 'external-ip: "router" is not an IP address (--gateway GATEWAY)' external-ip --gateway router
    bad_usage 'discover: "0" is not a time in seconds (such as 2 or 0.5; at most 600)' discover -t 0
}

@test "unknown commands and options, missing and extra arguments: exit 2" {
    bad_usage 'no command given (see natt help)'
    bad_usage '"mapp" is not a natt command (see natt help)' mapp 1 2
    bad_usage 'unknown option "--bogus" (see natt help)' --bogus
    bad_usage 'map: unknown option "--bogus" (see natt map --help)' map --bogus 1 2
    bad_usage 'list: unknown option "-u" (see natt list --help)' list -u
    bad_usage 'map: missing PUBLIC_PORT and PRIVATE_PORT (see natt map --help)' map
    bad_usage 'map: missing PRIVATE_PORT after PUBLIC_PORT 60011 (see natt map --help)' map 60011
    bad_usage 'map: option -l needs a value' map 1 2 -l
    bad_usage 'map: unexpected argument "3" (see natt map --help)' map 1 2 3
    bad_usage 'map: --upnp, --nat-pmp and --pcp exclude each other' map --upnp --nat-pmp 1 2
    bad_usage 'call: missing SERVICE and ACTION (see natt call --help)' call
    bad_usage 'call: "NewProtocol" is not NAME=VALUE' call WANIPConnection AddPortMapping NewProtocol
    bad_usage 'status: unexpected argument "b" (see natt status --help)' status a b
    bad_usage 'wait: "70000" is not a port (1-65535)' wait --port 70000
    bad_usage 'wait: "soon" is not a time in seconds (such as 2 or 0.5; at most 86400)' wait --timeout soon
    bad_usage "status: standard input (\"-\") cannot be watched: give the status file's path" status --follow -
    bad_usage 'help: "mapp" is not a natt command' help mapp
}

@test "help: the overview, and each command's own with --help, -h or natt help COMMAND" {
    run --separate-stderr "$NATT" help
    assert_success
    assert_line --index 0 "Usage: natt COMMAND [OPTIONS] [ARGUMENTS]"
    for c in external-ip map unmap unmap-all list discover call status wait gateway interfaces watch; do
        assert_line --regexp "^  $c "
    done
    run "$NATT" --help
    assert_success
    assert_line --index 0 "Usage: natt COMMAND [OPTIONS] [ARGUMENTS]"

    for c in external-ip map unmap unmap-all list discover call status wait gateway interfaces watch; do
        run --separate-stderr "$NATT" "$c" --help
        assert_success
        assert_line --index 0 --regexp "^Usage: natt $c( |\$)"
        [ -z "$stderr" ]
        help=$output
        run "$NATT" help "$c"
        assert_output "$help"
        run "$NATT" "$c" -h
        assert_output "$help"
    done
    # --help wins over a bad value: the user asked how to say it
    run "$NATT" map 70000 --help
    assert_success
    assert_line --index 0 "Usage: natt map [-u] [-l LIFETIME] [-g GATEWAY] [--upnp|--nat-pmp|--pcp [--nonce HEX]]"
    assert_line "  natt map -u -l 1800 60009 60009"
}

@test "--version prints natt's version" {
    run --separate-stderr "$NATT" --version
    assert_success
    assert_output --regexp '^natt [0-9]+\.[0-9]+\.[0-9]+$'
}

# A status file as natt-run writes it (its schema), with a socket of each state.
write_sample() {
    local now_plus_hour
    now_plus_hour=$(date -u -d '+3600 seconds' +%Y-%m-%dT%H:%M:%SZ)
    cat > "$1" <<EOF
{ "version": 1, "updated": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "sockets": [
    { "pid": $$, "command": "python3", "protocol": "tcp", "local_address": "0.0.0.0", "local_port": 8000,
      "state": "published", "gateway": "10.77.0.1",
      "assignments": [
        { "protocol": "tcp", "address": "10.77.0.2", "port": 8000, "technique": null },
        { "protocol": "tcp", "address": "100.130.0.1", "port": 8000, "technique": "upnp", "lifetime": 3600,
          "expires": "$now_plus_hour", "internal_address": "10.77.0.2", "double_nat": false } ] },
    { "pid": $$, "command": "socat", "protocol": "udp", "local_address": "::", "local_port": 9000,
      "state": "failed", "error": "UPnP error 718 (ConflictInMappingEntry: the external port is held by another client)",
      "assignments": [ { "protocol": "udp", "address": "10.77.0.2", "port": 9000, "technique": null } ] },
    { "pid": $$, "command": "srv", "protocol": "tcp", "local_address": "10.77.0.2", "local_port": 7000,
      "state": "pending", "assignments": [] },
    { "pid": 2147483646, "command": "gone", "protocol": "udp", "local_address": "0.0.0.0", "local_port": 5000,
      "state": "published",
      "assignments": [
        { "protocol": "udp", "address": "100.130.0.1", "port": 5000, "technique": "nat-pmp", "lifetime": 0, "expires": null },
        { "protocol": "udp", "address": "100.130.0.1", "port": 5001, "technique": "upnp", "lifetime": 7200,
          "expires": "$now_plus_hour" } ] }
  ] }
EOF
}

@test "status renders a status file as a table; --json passes it through unchanged" {
    f=$BATS_TEST_TMPDIR/status.json
    write_sample "$f"
    run --separate-stderr "$NATT" status "$f"
    assert_success
    [ -z "$stderr" ]
    assert_line --index 0 --regexp "^$f, updated [0-9TZ:-]+ \(([0-9]+ s ago|in 0 s)\)\$"
    assert_line --regexp '^PID +COMMAND +PROTO +LOCAL +STATE +PUBLIC$'
    assert_line --regexp "^$$ +python3 +tcp +0\.0\.0\.0:8000 +published +100\.130\.0\.1:8000 upnp, expires [0-9TZ:-]+ \(in (59 min|1 h 0 min)\)\$"
    assert_line --regexp "^$$ +socat +udp +\[::\]:9000 +failed +UPnP error 718 \(ConflictInMappingEntry: the external port is held by another client\)\$"
    assert_line --regexp "^$$ +srv +tcp +10\.77\.0\.2:7000 +pending +\(asking the router\)\$"
    # a process that is gone, with two public names: one line each
    assert_line --regexp '^2147483646 +gone +udp +0\.0\.0\.0:5000 +published \(process gone\) +100\.130\.0\.1:5000 nat-pmp, permanent$'
    assert_line --regexp '^ +100\.130\.0\.1:5001 upnp, expires [0-9TZ:-]+ \(in (59 min|1 h 0 min)\)$'
    # local names are not public ones
    refute_output --partial "10.77.0.2:8000"

    run "$NATT" status --json "$f"
    assert_success
    [ "$output" = "$(cat "$f")" ]
    cmp <("$NATT" status --json "$f") "$f"
    # standard input
    run "$NATT" status - < "$f"
    assert_success
    assert_line --index 0 --regexp '^standard input, updated '
}

@test "status finds the file where natt-run writes it: NATT_STATUS_FILE, XDG_RUNTIME_DIR, /tmp/natt-UID" {
    mkdir -p "$BATS_TEST_TMPDIR/xdg/natt"
    write_sample "$BATS_TEST_TMPDIR/xdg/natt/status.json"
    XDG_RUNTIME_DIR=$BATS_TEST_TMPDIR/xdg run "$NATT" status
    assert_success
    assert_line --index 0 --regexp "^$BATS_TEST_TMPDIR/xdg/natt/status.json, updated "
    write_sample "$BATS_TEST_TMPDIR/other.json"
    NATT_STATUS_FILE=$BATS_TEST_TMPDIR/other.json XDG_RUNTIME_DIR=$BATS_TEST_TMPDIR/xdg run "$NATT" status
    assert_success
    assert_line --index 0 --regexp "^$BATS_TEST_TMPDIR/other.json, updated "
    # without XDG_RUNTIME_DIR: /tmp/natt-UID/status.json (absent here or not, the path is that one)
    run --separate-stderr env -u XDG_RUNTIME_DIR -u NATT_STATUS_FILE "$NATT" status
    if [ "$status" -ne 0 ]; then
        [ "$stderr" = "natt: status: no status file at /tmp/natt-$(id -u)/status.json (nothing publishes under natt-run with this file)" ]
    else
        assert_line --index 0 --regexp "^/tmp/natt-$(id -u)/status.json"
    fi
}

@test "status: missing, empty, broken and foreign files give one line and exit 1" {
    run --separate-stderr "$NATT" status "$BATS_TEST_TMPDIR/none.json"
    assert_failure 1
    [ "$stderr" = "natt: status: no status file at $BATS_TEST_TMPDIR/none.json (nothing publishes under natt-run with this file)" ]
    printf '{"version": 1, "sockets": [' > "$BATS_TEST_TMPDIR/cut.json"
    run --separate-stderr "$NATT" status "$BATS_TEST_TMPDIR/cut.json"
    assert_failure 1
    [[ $stderr == "natt: status: $BATS_TEST_TMPDIR/cut.json is not valid JSON: "* ]]
    echo '{"hello": "world"}' > "$BATS_TEST_TMPDIR/other.json"
    run --separate-stderr "$NATT" status "$BATS_TEST_TMPDIR/other.json"
    assert_failure 1
    [ "$stderr" = "natt: status: $BATS_TEST_TMPDIR/other.json is not a natt status file (no \"sockets\" list)" ]
    # an empty list is fine
    echo '{"version": 1, "updated": "2026-01-01T00:00:00Z", "sockets": []}' > "$BATS_TEST_TMPDIR/empty.json"
    run "$NATT" status "$BATS_TEST_TMPDIR/empty.json"
    assert_success
    assert_line "no sockets: nothing is published"
    # odd field types and terminal control characters are shown harmlessly
    printf '{"version":1,"sockets":[{"pid":"x","command":"a\\u001b[2Jb","protocol":5,"state":"published","assignments":[7,{"technique":"upnp"}]}]}' > "$BATS_TEST_TMPDIR/odd.json"
    run --separate-stderr "$NATT" status "$BATS_TEST_TMPDIR/odd.json"
    assert_success
    assert_line --regexp '^\? +a\?\[2Jb +\? +\?:\? +published +\?:\? upnp$'
}

@test "the man pages render without warnings" {
    command -v man >/dev/null || skip "man is not installed"
    for page in "$NATT_ROOT/man/natt.1" "$NATT_ROOT/man/natt-run.1"; do
        run --separate-stderr env MANWIDTH=80 man --warnings -l "$page"
        assert_success
        [ -z "$stderr" ] || { echo "$page: $stderr" >&2; false; }
        assert_output --partial "SYNOPSIS"
    done
    # every command has its entry in natt(1)
    run env MANWIDTH=80 man -l "$NATT_ROOT/man/natt.1"
    for c in external-ip map unmap unmap-all list discover call status wait gateway interfaces watch; do
        assert_line --regexp "^       $c( |\$)"
    done
    # and every natt-run option in natt-run(1)
    opts=$("$NATT_ROOT/scripts/natt-run" --help | grep -oE '^  (-[a-z], )?--[a-z-]+' | grep -oE -- '--[a-z-]+')
    run env MANWIDTH=80 man -l "$NATT_ROOT/man/natt-run.1"
    for o in $opts; do
        assert_output --partial "$o"
    done
}
