#!/usr/bin/env bats
# Clean-up on every exit path short of SIGKILL: return from main, exit(),
# _exit(), SIGTERM/SIGINT/SIGHUP left at their default action (the exit status stays the signal's),
# exec of another program (the CLOEXEC sockets' mappings go, though the process lives on). Each time
# the router's rules for the program's TCP and UDP ports are gone by the time the process has ended (or
# exec'd), and the status file no longer lists them. After SIGKILL nothing can clean up: the mapping
# expires with its lease (--lifetime 10), and miniupnpd removes it on its own schedule.

load lib/lab
load lib/natt
load lib/resilience

natt_suite

# published_pair NAME PORT — sockctl NAME opens TCP and UDP sockets on PORT; both get published.
published_pair() {
	sockctl_open "$1" tcp "$2"
	sockctl_open "$1" udp "$2"
	wait_published tcp "$2"
	wait_published udp "$2"
	rule_present_proto tcp "$2"
	rule_present_proto udp "$2"
}

# gone_at_exit NAME PORT — checked right after the process ended: no rule left, no status entry.
gone_at_exit() {
	run rule_present_proto tcp "$2"
	assert_failure
	run rule_present_proto udp "$2"
	assert_failure
	status_has_no_pid "$1" || fail "the status file still lists $1: $(cat "$NATT_STATUS")"
}

@test "return from main: mappings deleted by the time the process ends, exit status 0" {
	natt_start srv lan1 -- "$SOCKCTL"
	published_pair srv 8550
	natt_close_stdin srv # end of input: sockctl returns from main
	natt_reap srv 10
	assert_equal "$NATT_EXIT_STATUS" 0
	gone_at_exit srv 8550
}

@test "exit(3): mappings deleted by the time the process ends, exit status 3" {
	natt_start srv lan1 -- "$SOCKCTL"
	published_pair srv 8551
	natt_send srv "exit 3"
	natt_reap srv 10
	assert_equal "$NATT_EXIT_STATUS" 3
	gone_at_exit srv 8551
}

@test "_exit(4): mappings deleted by the time the process ends, exit status 4" {
	natt_start srv lan1 -- "$SOCKCTL"
	published_pair srv 8552
	natt_send srv "_exit 4"
	natt_reap srv 10
	assert_equal "$NATT_EXIT_STATUS" 4
	gone_at_exit srv 8552
}

@test "_Exit(6): mappings deleted by the time the process ends, exit status 6" {
	natt_start srv lan1 -- "$SOCKCTL"
	published_pair srv 8559
	natt_send srv "_Exit 6"
	natt_reap srv 10
	assert_equal "$NATT_EXIT_STATUS" 6
	gone_at_exit srv 8559
}

@test "return from main with 20 published sockets: all 20 mappings deleted by the time it ends" {
	local i t0
	natt_start srv lan1 --log info -- "$SOCKCTL"
	for i in $(seq 0 19); do natt_send srv "tcp 0.0.0.0 $((8580 + i))"; done
	for i in $(seq 0 19); do natt_expect srv "^[0-9]+ $((8580 + i))\$"; done
	for i in $(seq 0 19); do wait_published tcp $((8580 + i)) 20; done
	t0=$(now_s)
	natt_close_stdin srv
	natt_reap srv 15
	tap_note "20 sockets: the process took $(elapsed_since "$t0") s to end after its input closed"
	assert_equal "$NATT_EXIT_STATUS" 0
	local left
	left=$(router_rules_count)
	[ "$left" = 0 ] || fail "$left of 20 mappings left at the router (default lease: an hour): $(cat "$(natt_stderr srv)")"
}

# crowd_count_is N — the router holds N mappings.
crowd_count_is() { [ "$(router_rules_count)" -eq "$1" ]; }

@test "thirty servers of ten sockets ending at once (exit, SIGTERM), the router slower with each mapping: every mapping deleted" {
	# The lab's miniupnpd walks (and logs) its whole rule set at each request: with 300 mappings the
	# deletions take seconds in all, longer than a process gives a router that does not answer. The
	# servers queue at the gateway lock; while the router answers its holders, each one's turn comes
	# nearer and it waits on (up to the 30 s cap).
	local i n=30 t0 survivors="" left
	for i in $(seq 1 $n); do
		natt_start "c$i" lan1 -- env --default-signal=TERM "$SOCKCTL"
		natt_send "c$i" "tcp-threads 10 0.0.0.0 $((9100 + 10 * i))"
	done
	for i in $(seq 1 $n); do natt_expect "c$i" '^ok 10$' 30; done
	wait_until 120 crowd_count_is $((n * 10)) || fail "not all published: $(router_rules_count) of $((n * 10))"
	t0=$(now_s)
	for i in $(seq 1 $n); do
		if ((i % 2)); then natt_send "c$i" "exit 0"; else natt_signal "c$i" TERM; fi
	done
	for i in $(seq 1 $n); do
		if ! natt_reap "c$i" 60; then
			survivors+=" c$i(still running)"
		elif [ "$NATT_EXIT_STATUS" != $((i % 2 ? 0 : 143)) ]; then
			survivors+=" c$i(status $NATT_EXIT_STATUS)"
		fi
	done
	tap_note "$((n * 10)) mappings of $n processes: the last process ended $(elapsed_since "$t0") s after the first was told to"
	[ -z "$survivors" ] || fail "after exit / SIGTERM:$survivors"
	left=$(router_rules_count)
	[ "$left" = 0 ] || fail "$left of $((n * 10)) mappings left at the router once the processes had ended"
}

@test "SIGTERM, SIGINT, SIGHUP at their default action: mappings deleted, exit status 143, 130, 129" {
	local sig port status
	# (a background job of a script starts with SIGINT ignored: give the programs the defaults back)
	natt_start term lan1 -- env --default-signal=TERM,INT,HUP "$SOCKCTL"
	natt_start int lan1 -- env --default-signal=TERM,INT,HUP "$SOCKCTL"
	natt_start hup lan1 -- env --default-signal=TERM,INT,HUP "$SOCKCTL"
	published_pair term 8553
	published_pair int 8554
	published_pair hup 8555
	natt_signal term TERM
	natt_signal int INT
	natt_signal hup HUP
	for sig in term:8553:143 int:8554:130 hup:8555:129; do
		IFS=: read -r name port status <<<"$sig"
		natt_reap "$name" 10
		assert_equal "SIG${name^^} exit status $NATT_EXIT_STATUS" "SIG${name^^} exit status $status"
		gone_at_exit "$name" "$port"
	done
}

@test "SIGTERM to five servers at once: every one ends with status 143 (the re-raised signal is not caught again)" {
	# The clean-up ends by restoring SIG_DFL and sending the signal again; if that second signal were
	# held again, the process would outlive its SIGTERM. A race, so five tries.
	local i
	for i in 1 2 3 4 5; do
		natt_start "t$i" lan1 -- "$SOCKCTL"
		sockctl_open "t$i" tcp $((8570 + i))
	done
	for i in 1 2 3 4 5; do wait_published tcp $((8570 + i)); done
	for i in 1 2 3 4 5; do natt_signal "t$i" TERM; done
	local survivors=""
	for i in 1 2 3 4 5; do
		if natt_reap "t$i" 3; then
			[ "$NATT_EXIT_STATUS" = 143 ] || survivors+=" t$i(status $NATT_EXIT_STATUS)"
		else
			survivors+=" t$i(still running)"
		fi
	done
	[ -z "$survivors" ] || fail "after SIGTERM:$survivors"
	for i in 1 2 3 4 5; do
		run rule_present_proto tcp $((8570 + i))
		assert_failure
	done
}

@test "SIGTERM while the router no longer answers: the process still ends within seconds, status 143" {
	# Each deletion would wait out NAT-PMP's retransmissions (1.8 s); at a signal natt gives the router
	# as long as at exit (3 s), then leaves the rest to the leases.
	local port t0 took
	natt_start dead lan1 --protocols nat-pmp -- env --default-signal=TERM "$SOCKCTL"
	for port in 8580 8581 8582 8583 8584 8585; do sockctl_open dead tcp "$port"; done
	for port in 8580 8581 8582 8583 8584 8585; do wait_published tcp "$port"; done
	on_router nft -f - <<-'EOF'
		table inet natt_test {
			chain input {
				type filter hook input priority -10; policy accept;
				udp dport 5351 drop
			}
		}
	EOF
	t0=$(now_s)
	natt_signal dead TERM
	natt_reap dead 7 || { on_router nft delete table inet natt_test; fail "still running 7 s after SIGTERM"; }
	took=$(elapsed_since "$t0")
	on_router nft delete table inet natt_test
	tap_note "SIGTERM with a silent router (6 NAT-PMP mappings): ended after $took s"
	assert_equal "$NATT_EXIT_STATUS" 143
	# what could not be deleted is left to its lease: delete it here for the next tests
	on_lan1 "$NATT_BUILD/natt" unmap-all >/dev/null 2>&1 || true
}

@test "exec of another program: the CLOEXEC sockets' mappings go, the process lives on as the new program" {
	natt_start srv lan1 --log info -- "$LISTEN_EXEC" 8556 /bin/sleep 30
	natt_expect srv '^listening 8556$'
	wait_published tcp 8556
	wait_published udp 8556
	local pid
	pid=$(natt_pid srv)
	natt_send srv go
	wait_until 5 eval "[ \"\$(cat /proc/$pid/comm)\" = sleep ]" || fail "the program did not exec sleep"
	# exec closed the sockets: their mappings must be gone, at most a moment after exec
	wait_until 3 eval 'rule_absent_proto tcp 8556 && rule_absent_proto udp 8556' ||
		fail "the router still forwards port 8556 to a process that closed it at exec: $(router_rules)"
	wait_until 3 status_has_no_pid srv || fail "the status file still lists the exec'd process: $(cat "$NATT_STATUS")"
	# the new program runs undisturbed
	bg_alive "$pid"
	kill -TERM "$pid"
	natt_reap srv 5
	assert_equal "$NATT_EXIT_STATUS" 143
}

@test "SIGKILL: no clean-up possible; the mappings expire at the router within the lease (--lifetime 10)" {
	natt_start srv lan1 --lifetime 10 -- "$SOCKCTL"
	published_pair srv 8557
	local t0 took bound=15
	natt_signal srv KILL
	natt_reap srv 5
	assert_equal "$NATT_EXIT_STATUS" 137
	t0=$(now_s)
	wait_until $bound eval 'rule_absent_proto tcp 8557 && rule_absent_proto udp 8557' ||
		fail "port 8557 still forwarded ${bound} s after SIGKILL with a 10 s lease"
	took=$(elapsed_since "$t0")
	tap_note "after SIGKILL (lease 10 s, renewed at 5 s): gone at the router $took s later"
}
