#!/usr/bin/env bats
# libnatt's high-level API (tests/progs/listener) and persistent mappings on routers that offer only one
# technique: a UPnP-only lab and a NAT-PMP-only lab, built side by side. Each test names its router
# first ("upnp-only: ...", "natpmp-only: ..."); every effect is checked at the router's nft chain.

load lib/lab
load lib/natt
load lib/resilience

LISTENER=$NATT_BUILD/tests/progs/listener
PERSISTENT=$NATT_BUILD/tests/progs/persistent

setup_file() {
	require_root
	lab_up upnp
	LAB_UPNP=${LAB_ID:-}
	unset LAB_ID
	lab_up natpmp
	LAB_NATPMP=${LAB_ID:-}
	export LAB_UPNP LAB_NATPMP
}
teardown_file() {
	local id
	for id in ${LAB_UPNP:-} ${LAB_NATPMP:-}; do
		LAB_ID=$id lab_down
	done
}
setup() {
	# the lab of the router the test names
	case $BATS_TEST_DESCRIPTION in
	upnp-only*) LAB_ID=${LAB_UPNP:-} TECH=upnp ;;
	*) LAB_ID=${LAB_NATPMP:-} TECH=pcp ;; # miniupnpd answers PCP wherever it answers NAT-PMP
	esac
	export LAB_ID TECH
	natt_test_setup
}
teardown() { natt_test_teardown; }

# callback_said NAME TEXT: a callback line (stderr) of the program contains TEXT.
callback_said() { grep -qF -- "$2" "$(natt_stderr "$1")"; }

# A listening TCP socket published with natt_listener_publish_socket: the callback, natt_listener_state
# and natt_listener_assignments name the router's address with the technique, the internet reaches the
# server, and stop deletes the mapping and ends natt's thread.
tcp_socket_round_trip() {
	local port=$1
	plain_start l lan1 "$LISTENER" socket tcp "$port"
	natt_expect l "^published$"
	wait_until 10 callback_said l "change published local:10.77.0.2:$port $TECH:100.130.0.1:$port"
	natt_send l state
	natt_expect l "^state published$"
	natt_send l assignments
	natt_expect l "^assignments 2 local:10\.77\.0\.2:$port $TECH:100\.130\.0\.1:$port$"
	router_rule_to "$port" "10.77.0.2:$port"
	run on_inet timeout 5 socat -u "TCP4:100.130.0.1:$port" -
	assert_output "hello from listener"
	natt_send l stop
	natt_expect l "^stopped 0$" 10
	run rule_present_proto tcp "$port"
	assert_failure
	natt_send l threads
	natt_expect l "^threads 1$"
	# the listener is gone: asked again, the state is refused (natt_listener_state(NULL))
	natt_send l state
	natt_expect l "^state error Invalid argument$"
}

# natt_listener_publish of (udp, 10.77.0.2, PORT) without a socket, for a server in another process.
udp_address_round_trip() {
	local port=$1
	plain_start l lan1 "$LISTENER" address udp 10.77.0.2 "$port"
	natt_expect l "^published$"
	wait_until 10 callback_said l "change published local:10.77.0.2:$port $TECH:100.130.0.1:$port"
	natt_send l assignments
	natt_expect l "^assignments 2 local:10\.77\.0\.2:$port $TECH:100\.130\.0\.1:$port$"
	rule_present_proto udp "$port"
	router_rule_to "$port" "10.77.0.2:$port"
	start_bg echo lan1 socat "UDP4-RECVFROM:$port,fork" EXEC:cat
	wait_until 5 host_listens lan1 udp "$port"
	run on_inet sh -c "echo libnatt-address-probe | socat -T2 - UDP4:100.130.0.1:$port"
	assert_output "libnatt-address-probe"
	natt_send l stop
	natt_expect l "^stopped 0$" 10
	run rule_present_proto udp "$port"
	assert_failure
}

# A program that returns from main without stopping its listener: the mapping is gone when it has exited.
exit_without_stop() {
	local port=$1
	plain_start l lan1 "$LISTENER" socket udp "$port"
	natt_expect l "^published$"
	wait_until 10 callback_said l "change published"
	rule_present_proto udp "$port"
	natt_send l exit
	natt_wait_exit l 5
	run rule_present_proto udp "$port"
	assert_failure
}

# A persistent mapping with technique "any" (UPnP, PCP, NAT-PMP, asked at once) and no port wished for.
persistent_any() {
	local port=$1
	plain_start pm lan1 "$PERSISTENT" tcp "$port" any 60 30 any
	natt_expect pm "^mapping $port 60 100\.130\.0\.1$" 10
	router_rule_to "$port" "10.77.0.2:$port"
	natt_send pm current
	natt_expect pm "^current $port 100\.130\.0\.1$"
	natt_send pm stop
	natt_expect pm "^unmapped$" 10
	natt_expect pm "^stopped 0$" 10
	run rule_present_proto tcp "$port"
	assert_failure
}

@test "upnp-only: a TCP socket through natt_listener_publish_socket: state and assignments (upnp), reachable, stop deletes it" {
	tcp_socket_round_trip 9600
}

@test "upnp-only: natt_listener_publish of (udp, 10.77.0.2, port) without a socket: reachable, stop deletes it" {
	udp_address_round_trip 9601
}

@test "upnp-only: a program that exits without stopping its listener leaves nothing at the router" {
	exit_without_stop 9602
}

@test "upnp-only: a persistent mapping with any technique falls back to UPnP; stop deletes it" {
	persistent_any 9603
}

@test "natpmp-only: a TCP socket through natt_listener_publish_socket: state and assignments (pcp), reachable, stop deletes it" {
	tcp_socket_round_trip 9610
}

@test "natpmp-only: natt_listener_publish of (udp, 10.77.0.2, port) without a socket: reachable, stop deletes it" {
	udp_address_round_trip 9611
}

@test "natpmp-only: a program that exits without stopping its listener leaves nothing at the router" {
	exit_without_stop 9612
}

@test "natpmp-only: a persistent mapping with any technique is made over PCP; stop deletes it" {
	persistent_any 9613
}

@test "natpmp-only: the router refuses (NAT-PMP result 3): state failed with the reason, published once it accepts" {
	# with a shared (CGNAT) WAN address miniupnpd answers the external address request with result 3,
	# Network Failure (it still accepts the mapping request before it)
	lab set-ext-addr 100.64.0.1/24 2>/dev/null
	# (NAT-PMP alone: this miniupnpd grants the same mapping over PCP, reporting the shared address)
	plain_start l lan1 NATT_PROTOCOLS=nat-pmp "$LISTENER" socket tcp 9614
	natt_expect l "^published$"
	wait_until 10 callback_said l "change failed"
	natt_send l state
	natt_expect l "^state failed: NAT-PMP external address: the router reports a network failure$"
	run callback_said l "nat-pmp:"
	assert_failure
	# nothing at the router that natt does not know of (it would stay after the program ends)
	run rule_present_proto tcp 9614
	assert_failure
	# the router's announcement of its new address makes natt ask again at once
	lab set-ext-addr 100.130.0.1/24 2>/dev/null
	wait_until 10 callback_said l "change published local:10.77.0.2:9614 nat-pmp:100.130.0.1:9614"
	router_rule_to 9614 10.77.0.2:9614
	natt_send l stop
	natt_expect l "^stopped 0$" 10
	run rule_present_proto tcp 9614
	assert_failure
}
