#!/usr/bin/env bats
# One queue per gateway: the requests of all natt processes of a host to one
# router are serialized (RFC 6886 asks it of NAT-PMP clients; UPnP routers choke on bursts too), through
# a lock next to the status file. Two processes asking for 20 mappings each at the same moment must both
# end fully published, and their exchanges with the router must never overlap: strace records, per
# process, each HTTP exchange with the router (connect() to its control port ... close()), and no
# exchange of one process may start before the other's current one has ended.

load lib/lab
load lib/natt
load lib/resilience

natt_suite

N=20

# overlaps TRACE_A TRACE_B HTTP_PORT — prints the overlapping exchanges (nothing when none) and a summary
# line "exchanges COUNT_A COUNT_B MEAN_MS MAX_MS" on stderr.
overlaps() {
	python3 - "$@" <<-'EOF'
		import re, sys
		def exchanges(path, port):
		    open_at, spans = {}, []
		    con = re.compile(r'^(\d+)\s+([\d.]+) connect\((\d+), \{sa_family=AF_INET, sin_port=htons\(' + port +
		                     r'\), sin_addr=inet_addr\("10\.77\.0\.1"\)')
		    clo = re.compile(r'^(\d+)\s+([\d.]+) close\((\d+)\)')
		    for line in open(path):
		        m = con.match(line)
		        if m:
		            open_at[(m[1], m[3])] = float(m[2])
		            continue
		        m = clo.match(line)
		        if m and (m[1], m[3]) in open_at:
		            spans.append((open_at.pop((m[1], m[3])), float(m[2])))
		    return sorted(spans)
		a, b = exchanges(sys.argv[1], sys.argv[3]), exchanges(sys.argv[2], sys.argv[3])
		spans = [e - s for s, e in a + b]
		mean = 1000 * sum(spans) / len(spans) if spans else 0
		print(f"exchanges {len(a)} {len(b)} {mean:.0f} {1000 * max(spans or [0]):.0f}", file=sys.stderr)
		for s1, e1 in a:
		    for s2, e2 in b:
		        if s1 < e2 and s2 < e1:
		            print(f"A {s1:.6f}-{e1:.6f} overlaps B {s2:.6f}-{e2:.6f}")
	EOF
}

@test "one queue per gateway: two processes, 20 sockets each at once, both fully published, exchanges never overlap" {
	local i http_port summary out
	http_port=$(lab_info http_port)
	for p in a b; do
		natt_start "$p" lan1 -- strace -f -ttt -qq -e trace=connect,close -o "$NATT_TEST_DIR/$p.trace" "$SOCKCTL"
	done
	# both ask at once, interleaved
	for i in $(seq 0 $((N - 1))); do
		natt_send a "tcp 0.0.0.0 $((8700 + i))"
		natt_send b "tcp 0.0.0.0 $((8750 + i))"
	done
	for i in $(seq 0 $((N - 1))); do
		natt_expect a "^[0-9]+ $((8700 + i))\$"
		natt_expect b "^[0-9]+ $((8750 + i))\$"
	done
	for i in $(seq 0 $((N - 1))); do
		wait_published tcp $((8700 + i)) 30
		wait_published tcp $((8750 + i)) 30
	done
	assert_equal "$(router_rules_count)" $((2 * N))
	# the queue is that lock file, beside the status file
	[ -e "$NATT_TEST_DIR/.natt-gateway-10.77.0.1.lock" ] ||
		fail "$(printf 'no gateway lock file next to the status file:\n%s' "$(ls -la "$NATT_TEST_DIR")")"
	# both end (end of input); their deletions go through the queue too (whether they all make it
	# before the processes end is 55-exit-paths' business)
	natt_close_stdin a
	natt_close_stdin b
	natt_wait_exit a 20
	natt_wait_exit b 20

	out=$(overlaps "$NATT_TEST_DIR/a.trace" "$NATT_TEST_DIR/b.trace" "$http_port" 2>"$NATT_TEST_DIR/summary")
	summary=$(cat "$NATT_TEST_DIR/summary")
	read -r _ na nb mean max <<<"$summary"
	tap_note "router exchanges (HTTP connect..close, under strace): $na and $nb, $mean ms on average, $max ms at most; overlapping pairs: $(grep -c . <<<"$out" || true)"
	# each process made at least its 20 AddPortMapping exchanges
	[ "$na" -ge $N ] && [ "$nb" -ge $N ] || fail "too few exchanges traced: $summary"
	[ -z "$out" ] || fail "exchanges of the two processes overlap: $(head -n 5 <<<"$out")"
}

@test "a process that takes the gateway lock and hangs: natt goes ahead after a bounded wait" {
	# The holder may be a stopped or stuck natt process; the queue must not stall the whole host.
	local lock t0 took holder
	lock=$(dirname "$NATT_STATUS")/.natt-gateway-10.77.0.1.lock
	python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.lockf(f, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(120)' "$lock" >"$NATT_TEST_DIR/holder.out" &
	holder=$!
	wait_until 5 grep -q locked "$NATT_TEST_DIR/holder.out" || fail "the lock holder did not start"
	t0=$(now_s)
	serve srv lan1 8590 --log warn
	wait_published tcp 8590 30
	took=$(elapsed_since "$t0")
	kill "$holder"
	wait "$holder" 2>/dev/null || true
	tap_note "published $took s after start, past a hung holder of the gateway lock"
	grep -q "gateway lock .* held too long" "$(natt_stderr srv)" ||
		fail "no warning about the lock: $(cat "$(natt_stderr srv)")"
	serve_stop srv
}
