#!/usr/bin/env bats
# The preload library in two halves: libnattpreload.so (the hooks and the fd table) is all a process
# loads at its start; the engine, libnattpreload-engine.so beside it, comes with the first socket to
# publish. A process with no server socket (a loopback server, a client, most children of a
# wrapped script) never maps it; threads that publish their first sockets at once all get them
# published. Without a loadable engine file nothing is published, natt says why when asked (--log),
# and the program runs as it would without natt. A socket a signal handler made before anything was
# published (a handler cannot load the engine) is published with the next one outside, unless it was
# closed meanwhile (its number may be another socket's by then). The first socket to publish does not
# wait for the engine: a thread of natt's loads it, publishes what listen() and bind() handed over
# meanwhile and goes on as the manager; a process that ends at once ends at once, leaving nothing
# behind.

load lib/lab
load lib/natt
load lib/resilience

natt_suite

ENGINE=libnattpreload-engine.so
SOCKCTL=$NATT_BUILD/tests/progs/sockctl

engine_mapped() { grep -q "/$ENGINE\$" "/proc/$1/maps"; }

# sockctl_pid NAME: the pid of the sockctl started as NAME (natt-run runs it in its own place).
sockctl_pid() {
	natt_send "$1" pid
	natt_expect "$1" '^[0-9]+$' || return 1
	echo "$NATT_LAST_REPLY"
}

@test "a process that publishes nothing never maps the engine; its first published socket does" {
	# (a sanitizer run's NATT_PRELOAD_LIBRARY names its runtime too, as LD_PRELOAD takes it)
	run env LD_PRELOAD="${NATT_PRELOAD_LIBRARY:-$NATT_BUILD/libnattpreload.so}" cat /proc/self/maps
	assert_success
	assert_output --partial "/libnattpreload.so"
	refute_output --partial "$ENGINE"

	natt_start srv lan1 -- "$SOCKCTL"
	local pid
	pid=$(sockctl_pid srv)
	natt_send srv "tcp 127.0.0.1 8601"
	natt_expect srv '^[0-9]+ 8601$'
	natt_send srv "udp 0.0.0.0 0"
	natt_expect srv '^[0-9]+ [0-9]+$'
	run engine_mapped "$pid"
	assert_failure
	natt_send srv "tcp 0.0.0.0 8602"
	natt_expect srv '^[0-9]+ 8602$'
	# (loaded by a thread of natt's: listen() does not wait for it)
	local tries
	for tries in $(seq 100); do engine_mapped "$pid" && break; sleep 0.05; done
	engine_mapped "$pid" || fail "the engine is not mapped after the first listen() to publish"
	wait_published tcp 8602
	rule_present 8602
	run status_has tcp 8601 published
	assert_failure
}

@test "without a loadable engine file: nothing is published, --log says why, the program runs as without natt" {
	# In a mount namespace of their own, the engine's file is empty for these two (for every other
	# test running meanwhile it stays as it is).
	NATT_START_WRAP=(unshare -m --propagation private sh -c 'mount --bind /dev/null "$0" && exec "$@"'
		"$NATT_BUILD/$ENGINE")
	natt_start quiet lan1 -- "$SOCKCTL"
	natt_start told lan1 --log error -- "$SOCKCTL"
	NATT_START_WRAP=()
	natt_send quiet "tcp 0.0.0.0 8603"
	natt_expect quiet '^[0-9]+ 8603$'
	natt_send told "tcp 0.0.0.0 8604"
	natt_expect told '^[0-9]+ 8604$'
	natt_send told "tcp 0.0.0.0 8605"
	natt_expect told '^[0-9]+ 8605$'
	natt_send quiet "exit 5"
	natt_reap quiet 10
	assert_equal "$NATT_EXIT_STATUS" 5
	natt_send told "exit 6"
	natt_reap told 10
	assert_equal "$NATT_EXIT_STATUS" 6
	run cat "$(natt_stderr quiet)"
	assert_output ""
	# said once, however many sockets there were
	run cat "$(natt_stderr told)"
	assert_output --regexp "^natt\[[0-9]+\] error: cannot load $ENGINE: .*; nothing is published$"
	assert_equal "$(wc -l <"$(natt_stderr told)")" 1
	run rule_present 8603
	assert_failure
	run rule_present 8604
	assert_failure
	[ ! -e "$NATT_STATUS" ] || fail "a status file was written: $(cat "$NATT_STATUS")"
}

@test "sockets a signal handler made before anything was published are published with the next one" {
	natt_start srv lan1 -- "$SOCKCTL"
	local pid
	pid=$(sockctl_pid srv)
	natt_send srv "in-handler tcp 0.0.0.0 8606"
	natt_expect srv '^[0-9]+ 8606$'
	natt_send srv "in-handler udp 0.0.0.0 8607"
	natt_expect srv '^[0-9]+ 8607$'
	run engine_mapped "$pid"
	assert_failure
	natt_send srv "tcp 0.0.0.0 8608"
	natt_expect srv '^[0-9]+ 8608$'
	wait_published tcp 8608
	wait_published tcp 8606
	wait_published udp 8607
	rule_present_proto tcp 8606
	rule_present_proto udp 8607
}

@test "a socket a signal handler made, closed before the engine came, is not taken for the socket now at its number" {
	natt_start srv lan1 -- "$SOCKCTL"
	natt_send srv "in-handler udp 0.0.0.0 8609"
	natt_expect srv '^([0-9]+) 8609$'
	local fd=${BASH_REMATCH[1]}
	natt_send srv "close $fd"
	natt_expect srv '^ok$'
	# a client's socket (port 0: not one to publish) gets the number
	natt_send srv "udp 0.0.0.0 0"
	natt_expect srv "^$fd ([0-9]+)\$"
	local client_port=${BASH_REMATCH[1]}
	natt_send srv "tcp 0.0.0.0 8610"
	natt_expect srv '^[0-9]+ 8610$'
	wait_published tcp 8610
	run status_query '[.sockets[] | select(.protocol == "udp")] | length'
	assert_output 0
	run rule_present_proto udp "$client_port"
	assert_failure
}

@test "32 threads listening for the first time at once: every socket is published" {
	natt_start srv lan1 -- "$SOCKCTL"
	natt_send srv "tcp-threads 32 0.0.0.0 8620"
	natt_expect srv '^ok 32$' 20
	local port
	for port in $(seq 8620 8651); do
		wait_published tcp "$port" || fail "tcp $port was not published"
	done
	run status_query '[.sockets[] | select(.protocol == "tcp" and .state == "published")] | length'
	assert_output 32
}

@test "the first listen() does not load the engine itself: a thread of natt's does, and publishes the socket" {
	# (one trace file per thread)
	local trace=$NATT_TEST_DIR/trace
	natt_start ctl lan1 -- strace -ff -qq -o "$trace" -e trace=openat,listen "$SOCKCTL" --banner
	natt_expect ctl '^ready [0-9]+$'
	local pid=${NATT_LAST_REPLY#ready }
	natt_send ctl "tcp 0.0.0.0 8661"
	natt_expect ctl '^[0-9]+ 8661$'
	wait_published tcp 8661
	rule_present 8661
	grep -q '^listen(' "$trace.$pid" || fail "no listen() in the program's thread: $(ls "$trace".*)"
	run grep -c "$ENGINE" "$trace.$pid"
	assert_output 0
	local f opened=
	for f in "$trace".*; do
		[ "$f" != "$trace.$pid" ] && grep -q "$ENGINE" "$f" && opened=$f
	done
	[ -n "$opened" ] || fail "no thread opened $ENGINE"
}

@test "the thread that loads the engine goes on as the manager: one thread of natt's for the first publish" {
	# (one trace file per thread; the manager binds the announcement sockets, 1900 and 5350, and asks
	# the router: connect())
	local trace=$NATT_TEST_DIR/trace
	natt_start ctl lan1 -- strace -ff -qq -o "$trace" -e trace=openat,bind,connect,clone,clone3 "$SOCKCTL" --banner
	natt_expect ctl '^ready [0-9]+$'
	local pid=${NATT_LAST_REPLY#ready }
	natt_send ctl "tcp 0.0.0.0 8663"
	natt_expect ctl '^[0-9]+ 8663$'
	wait_published tcp 8663
	rule_present 8663
	local f loader= announcer=
	for f in "$trace".*; do
		grep -q "$ENGINE" "$f" && loader=$f
		grep -q 'sin_port=htons(1900)' "$f" && announcer=$f
	done
	[ -n "$loader" ] || fail "no thread opened $ENGINE"
	[ -n "$announcer" ] || fail "no thread bound the announcement socket"
	assert_equal "$announcer" "$loader"
	grep -q 'sin_addr=inet_addr("10\.77\.0\.1")' "$loader" || fail "the manager's requests to the router are not in $loader"
	# (the one thread the program's thread started)
	run grep -c '^clone' "$trace.$pid"
	assert_output 1
}

@test "a program that ends right after its first listen() ends at once, and leaves no mapping behind" {
	natt_start srv lan1 -- "$SOCKCTL"
	natt_send srv "tcp 0.0.0.0 8662"
	natt_expect srv '^[0-9]+ 8662$'
	local start=$EPOCHREALTIME took
	natt_send srv "exit 7"
	natt_reap srv 10
	assert_equal "$NATT_EXIT_STATUS" 7
	took=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
	awk -v t="$took" 'BEGIN { exit !(t <= 2.5) }' || fail "exit took $took s"
	# (a mapping made after the program's end would show by now)
	sleep 1
	run rule_present 8662
	assert_failure
}
