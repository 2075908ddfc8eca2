#!/usr/bin/env bats
# IPv6 publishing by natt-run: a socket on [::] (dual-stack) gets its IPv4 mapping and an inbound
# pinhole in the router's IPv6 firewall for the host's address; an IPv6-only socket gets the pinhole
# alone. Through PCP over IPv6 and through UPnP IGDv2 WANIPv6FirewallControl, each; renewed, restored
# after a router reboot, deleted at the end. The lab's router forwards IPv6 and its forward chain
# drops what comes in from the WAN unless miniupnpd opened a pinhole: the internet host reaches a LAN
# server over IPv6 only through one.

load lib/lab
load lib/natt
load lib/resilience
load lib/sockctl

natt_suite dual 2 --ipv6

LAN1_IP6=2a01:77:1::2
LAN2_IP6=2a01:77:1::3

# lan2's interface (its IPv6 addresses are changed by some tests, and put back by teardown).
lan2_dev() { on_lan2 ip -o link show | awk -F': ' '$2 != "lo" { sub("@.*", "", $2); print $2; exit }'; }

teardown() {
	local dev
	dev=$(lan2_dev)
	if [ -n "$dev" ]; then
		on_lan2 ip -6 addr del 2a01:77:1::33/64 dev "$dev" 2>/dev/null || true
		on_lan2 ip -6 addr del fd77::3/64 dev "$dev" 2>/dev/null || true
		on_lan2 ip -6 addr flush dev "$dev" temporary 2>/dev/null || true
		on_lan2 sysctl -qw "net.ipv6.conf.$dev.use_tempaddr=0" || true
		on_lan2 ip -6 addr show dev "$dev" | grep -q "$LAN2_IP6/64" ||
			on_lan2 ip -6 addr add "$LAN2_IP6/64" dev "$dev" nodad || true
		on_lan2 ip -6 route replace default via 2a01:77:1::1 || true # (gone with the address)
	fi
	natt_test_teardown
}

# pinhole_open PORT [ADDRESS]: the router's forward chain lets the internet in to ADDRESS:PORT.
pinhole_open() {
	local hex
	hex=$(python3 -c 'import ipaddress, sys; print(ipaddress.ip_address(sys.argv[1]).packed.hex())' "${2:-$LAN1_IP6}")
	router_pinholes "$1" | grep -q "@nh,192,128 0x$hex "
}
pinhole_closed() { [ -z "$(router_pinholes "$1")" ]; }

# status_public6 PROTO LOCAL_PORT FIELD: FIELD of the socket's IPv6 public assignment.
status_public6() {
	status_query --arg p "$1" --argjson port "$2" --arg f "$3" \
		'.sockets[] | select(.protocol == $p and .local_port == $port) | .assignments[]
		 | select(.technique != null and (.address | contains(":"))) | .[$f]' 2>/dev/null | head -n 1
}
status_public6_is() { [ "$(status_public6 "$1" "$2" address)" = "$3" ]; }

# inet_http6 ADDRESS PORT: the status code of a GET from the internet host over IPv6.
inet_http6() { on_inet curl -s -m 3 -o /dev/null -w '%{http_code}' "http://[$1]:$2/"; }

# dual_stack_round_trip PORT TECHNIQUE [natt-run options]: a web server on [::] under natt-run is
# unreachable over IPv6 before, reachable over both families through TECHNIQUE while it runs, and
# unreachable once it ended, nothing left at the router.
dual_stack_round_trip() {
	local port=$1 technique=$2
	shift 2
	start_bg plain lan1 python3 -m http.server --bind :: "$port"
	wait_until 5 host_listens lan1 tcp "$port"
	run inet_connects6 "$LAN1_IP6" "$port"
	assert_failure # without natt the router's firewall stops it
	stop_bg plain
	natt_start srv lan1 -v "$@" -- python3 -m http.server --bind :: "$port"
	wait_published tcp "$port"
	wait_until 5 status_public6_is tcp "$port" "$LAN1_IP6" ||
		fail "no IPv6 assignment for $LAN1_IP6: $(cat "$NATT_STATUS")"
	assert_equal "$(status_public6 tcp "$port" technique)" "$technique"
	assert_equal "$(status_public6 tcp "$port" port)" "$port"
	assert_equal "$(status_public6 tcp "$port" internal_address)" "$LAN1_IP6"
	[ -n "$(status_public6 tcp "$port" expires)" ] || fail "the IPv6 assignment has no expiry"
	pinhole_open "$port" || fail "no pinhole at the router: $(router_rules forward)"
	assert_equal "$(inet_http6 "$LAN1_IP6" "$port")" 200
	assert_equal "$(on_inet curl -s -m 3 -o /dev/null -w '%{http_code}' "http://100.130.0.1:$port/")" 200
	grep -q "tcp \[::\]:$port published as \[$LAN1_IP6\]:$port ($technique, IPv6 pinhole)" "$(natt_stderr srv)" ||
		fail "no -v line for the pinhole: $(cat "$(natt_stderr srv)")"
	# natt list: the router's IPv4 table, then the pinhole
	run on_lan1 "$NATT_BUILD/natt" list --status "$NATT_STATUS"
	assert_success
	assert_line --regexp "^tcp $port -> 10\.77\.0\.2:$port "
	assert_line --regexp "^tcp \[$LAN1_IP6\]:$port pinhole lease [0-9]+ \($technique, pid [0-9]+ python3\)$"
	natt_signal srv TERM
	natt_wait_exit srv 10
	grep -q "tcp \[::\]:$port retired (was \[$LAN1_IP6\]:$port, $technique, IPv6 pinhole)" "$(natt_stderr srv)"
	pinhole_closed "$port" || fail "pinhole left: $(router_pinholes "$port")"
	run inet_connects6 "$LAN1_IP6" "$port"
	assert_failure
	run router_rules
	assert_output ""
}

@test "[::] with default settings: IPv4 mapping and IPv6 pinhole, the internet reaches both, nothing after" {
	dual_stack_round_trip 8400 upnp
}

# round_trip_logged PORT TECHNIQUE REGEX: dual_stack_round_trip through TECHNIQUE alone, and the router's
# log shows REGEX (the technique's own request) during it.
round_trip_logged() {
	local mark
	mark=$(router_log_lines)
	dual_stack_round_trip "$1" "$2" --protocols "$2"
	router_log_since "$mark" "$3" | grep -q . || fail "no /$3/ in the router's log"
}

@test "[::] through PCP over IPv6 (--protocols pcp): the pinhole made, reached, deleted with its nonce" {
	round_trip_logged 8401 pcp "PCP MAP: added mapping TCP 8401->$LAN1_IP6:8401"
}

@test "[::] through UPnP IGDv2 (--protocols upnp): AddPinhole, reached, DeletePinhole" {
	round_trip_logged 8402 upnp "DeletePinhole: \(inbound\) pinhole with ID [0-9]+ successfully removed"
}

# renewed TECHNIQUE PORT REGEX: with a 4 s lease the pinhole stays open for 12 s, its expiry moves,
# and the router's log shows renewals (REGEX) of the same pinhole. (A renewal may take the rule away
# for a moment: miniupnpd 2.3.1 replaces the rule of an updated pinhole, and natt makes a PCP pinhole
# afresh. Looked at every 0.5 s, it must never be missing twice in a row; a lease that ran out leaves
# it missing for good.)
renewed() {
	local technique=$1 port=$2 regex=$3 mark first t renewals missing=0
	mark=$(router_log_lines)
	natt_start srv lan1 --protocols "$technique" --lifetime 4 -- python3 -m http.server --bind :: "$port"
	wait_published tcp "$port"
	wait_until 5 status_public6_is tcp "$port" "$LAN1_IP6"
	assert_equal "$(status_public6 tcp "$port" lifetime)" 4
	first=$(status_public6 tcp "$port" expires)
	for t in $(seq 1 24); do
		sleep 0.5
		if pinhole_open "$port"; then
			missing=0
		else
			missing=$((missing + 1))
			[ "$missing" -lt 2 ] || fail "after $t half-seconds the pinhole is gone (missing twice in a row)"
		fi
	done
	[ "$(status_public6 tcp "$port" expires)" != "$first" ] || fail "the IPv6 expiry never moved"
	renewals=$(router_log_since "$mark" "$regex" | grep -c . || true)
	tap_note "$technique: $renewals pinhole requests in 12 s with a 4 s lease"
	[ "$renewals" -ge 4 ] || fail "only $renewals pinhole requests reached the router"
	assert_equal "$(inet_http6 "$LAN1_IP6" "$port")" 200
	# both families kept: the IPv4 mapping of the same port is still there
	rule_present_proto tcp "$port" || fail "the IPv4 mapping of port $port went"
	natt_signal srv TERM
	natt_wait_exit srv 10
	pinhole_closed "$port"
}

@test "PCP pinhole renewed at half the lease with the same nonce" {
	renewed pcp 8403 "PCP MAP: added mapping TCP 8403->$LAN1_IP6:8403|updating pinhole to $LAN1_IP6:8403"
	local nonces
	nonces=$(lab log | grep -E "PCP MAP: added mapping TCP 8403->$LAN1_IP6" | grep -o "'PCP MAP [0-9a-f]*'" | sort -u)
	[ "$(grep -c . <<<"$nonces")" = 1 ] || fail "the pinhole's requests named different nonces: $nonces"
}

@test "UPnP pinhole renewed by UpdatePinhole of its ID" {
	renewed upnp 8404 "UpdatePinhole: \(inbound\) updating lease duration to 4 for pinhole with ID"
}

@test "an IPv6-only UDP socket (IPV6_V6ONLY) gets the pinhole alone, and answers the internet" {
	natt_start ctl lan1 -- "$SOCKCTL"
	ctl ctl "udp :: 8405 v6only" '^[0-9]+ 8405$'
	ctl ctl "echo" '^'
	wait_published udp 8405
	run status_query '.sockets[] | select(.local_port == 8405) | [.assignments[] | select(.technique != null) | .address] | join(" ")'
	assert_output "$LAN1_IP6"
	run rule_present_proto udp 8405
	assert_failure # no IPv4 side: nothing asked of the NAT
	run on_inet sh -c "echo natt-udp6-probe | socat -T2 - UDP6:[$LAN1_IP6]:8405"
	assert_output "natt-udp6-probe"
	natt_signal ctl TERM
	natt_wait_exit ctl 10
	pinhole_closed 8405
}

@test "a socket bound to the host's global IPv6 address opens the pinhole for that address" {
	natt_start ctl lan1 -- "$SOCKCTL"
	ctl ctl "tcp $LAN1_IP6 8406" '^[0-9]+ 8406$'
	wait_published tcp 8406
	assert_assignment tcp 8406 upnp "$LAN1_IP6" 8406
	pinhole_open 8406
	run inet_connects6 "$LAN1_IP6" 8406
	assert_success
	natt_signal ctl TERM
	natt_wait_exit ctl 10
	pinhole_closed 8406
}

@test "with privacy addresses preferred by the kernel, [::] publishes a stable address, never the temporary one" {
	local dev temp stable
	dev=$(lan2_dev)
	[ -n "$dev" ] || fail "no interface on lan2"
	on_lan2 sysctl -qw "net.ipv6.conf.$dev.use_tempaddr=2"
	on_lan2 ip -6 addr add 2a01:77:1::33/64 dev "$dev" mngtmpaddr nodad valid_lft 86400 preferred_lft 14400
	wait_until 10 sh -c "ip netns exec $(lab_ns lan2) ip -6 addr show dev $dev temporary | grep -v tentative | grep -q inet6"
	temp=$(on_lan2 ip -6 addr show dev "$dev" temporary | awk '/inet6/ { sub("/.*", "", $2); print $2; exit }')
	# the kernel itself would speak from the temporary address
	run on_lan2 ip -6 route get 2a01:77:1::1
	assert_output --partial "src $temp"
	natt_start srv lan2 -- python3 -m http.server --bind :: 8407
	wait_published tcp 8407
	wait_until 5 sh -c "[ -n \"\$(jq -r '.sockets[].assignments[] | select(.technique != null and (.address | contains(\":\"))) | .address' $NATT_STATUS)\" ]"
	stable=$(status_public6 tcp 8407 address)
	tap_note "temporary $temp; published $stable"
	[ "$stable" = 2a01:77:1::33 ] || [ "$stable" = "$LAN2_IP6" ] || fail "published $stable, not a stable address"
	pinhole_open 8407 "$stable"
	assert_equal "$(inet_http6 "$stable" 8407)" 200
	natt_signal srv TERM
	natt_wait_exit srv 10
	pinhole_closed 8407
}

@test "a host with link-local and unique local IPv6 addresses only: the IPv4 side published, the reason for IPv6 given" {
	local dev
	dev=$(lan2_dev)
	on_lan2 ip -6 addr del "$LAN2_IP6/64" dev "$dev"
	on_lan2 ip -6 addr add fd77::3/64 dev "$dev" nodad
	natt_start srv lan2 -v -- "$SOCKCTL"
	ctl srv "tcp :: 8408" '^[0-9]+ 8408$'
	ctl srv "tcp :: 8409 v6only" '^[0-9]+ 8409$'
	wait_published tcp 8408
	wait_state tcp 8409 local-only
	status_field tcp 8408 ipv6_error | grep -q "no global IPv6 address" ||
		fail "no ipv6_error: $(cat "$NATT_STATUS")"
	status_field tcp 8409 error | grep -q "no global IPv6 address"
	run status_public6 tcp 8408 address
	assert_output ""
	pinhole_closed 8408
	pinhole_closed 8409
	# said in the status file, not on every [::] socket's -v line
	run grep -cE '(^|[^0-9])8408([^0-9]|$)' "$(natt_stderr srv)"
	assert_output 1
	natt_signal srv TERM
	natt_wait_exit srv 10
}

@test "router reboot: the pinhole is back within 10 s, through PCP and through UPnP" {
	natt_start pcp lan1 --protocols pcp -- python3 -m http.server --bind :: 8410
	natt_start upnp lan1 --protocols upnp -- python3 -m http.server --bind :: 8411
	wait_until 10 status_public6_is tcp 8410 "$LAN1_IP6"
	wait_until 10 status_public6_is tcp 8411 "$LAN1_IP6"
	pinhole_open 8410
	pinhole_open 8411
	local mark t0 took
	mark=$(router_log_lines)
	lab reboot
	t0=$(now_s)
	wait_until 10 pinhole_open 8410 || fail "PCP pinhole not restored within 10 s"
	wait_until 10 pinhole_open 8411 || fail "UPnP pinhole not restored within 10 s"
	took=$(elapsed_since "$t0")
	tap_note "pinholes restored after the reboot in $took s"
	# made again at the new router (its table was flushed), not merely found there
	router_log_since "$mark" "PCP MAP: added mapping TCP 8410->$LAN1_IP6:8410" | grep -q . || fail "no new PCP pinhole"
	router_log_since "$mark" "AddPinhole: \(inbound\) from \[\]:0 to \[$LAN1_IP6\]:8411" | grep -q . ||
		fail "no new UPnP pinhole"
	assert_equal "$(inet_http6 "$LAN1_IP6" 8410)" 200
	assert_equal "$(inet_http6 "$LAN1_IP6" 8411)" 200
	natt_signal pcp TERM
	natt_signal upnp TERM
	natt_wait_exit pcp 10
	natt_wait_exit upnp 10
	pinhole_closed 8410
	pinhole_closed 8411
}

@test "--on-change reports the IPv6 assignment" {
	natt_start srv lan1 --on-change "echo \"\$NATT_SUMMARY\" >> $NATT_TEST_DIR/changes" -- python3 -m http.server --bind :: 8412
	wait_until 10 grep -q "published as \[$LAN1_IP6\]:8412 (upnp, IPv6 pinhole)" "$NATT_TEST_DIR/changes" ||
		fail "no on-change run for the pinhole: $(cat "$NATT_TEST_DIR/changes" 2>/dev/null)"
	natt_signal srv TERM
	natt_wait_exit srv 10
	grep -q "retired (was \[$LAN1_IP6\]:8412, upnp, IPv6 pinhole)" "$NATT_TEST_DIR/changes"
}

@test "libnatt: a listener on [::] hears of its IPv6 pinhole beside the IPv4 mapping; stop closes both" {
	plain_start lis lan1 "$NATT_BUILD/tests/progs/listener" address tcp :: 8413
	natt_expect lis '^published$' 30
	wait_until 10 grep -qE "^change published .*upnp:$LAN1_IP6:8413" "$(natt_stderr lis)" ||
		fail "no callback named the pinhole: $(cat "$(natt_stderr lis)")"
	grep -qE "^change published .*upnp:100\.130\.0\.1:8413.*upnp:$LAN1_IP6:8413" "$(natt_stderr lis)" ||
		fail "the callback did not name both: $(cat "$(natt_stderr lis)")"
	natt_send lis assignments
	natt_expect lis "^assignments [0-9]+ .*upnp:100\.130\.0\.1:8413 upnp:$LAN1_IP6:8413$"
	pinhole_open 8413
	natt_send lis stop
	natt_expect lis '^stopped 0$'
	pinhole_closed 8413
	run rule_present 8413
	assert_failure
}
