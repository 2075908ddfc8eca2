#!/usr/bin/env bats
# Router reboot: miniupnpd stops, its chains are flushed, it starts again with a
# new epoch, a new HTTP port and a new BOOTID. Every mapping (TCP and UDP) must be back within 10 s of
# the router answering again, on UPnP-only, NAT-PMP-only and dual routers, without the program
# noticing. Also: a router that stays down for 5 s, and a reboot whose announcements never reach the
# host (only the periodic verification can notice it). The restore time per case goes to the TAP output.

load lib/lab
load lib/natt
load lib/resilience

natt_suite
teardown() {
	on_lan1 nft delete table inet natt_test 2>/dev/null || true
	# (a test that changed the router's settings gets the lab's back, whatever became of it)
	if [ -e "$BATS_TEST_TMPDIR/config-extra" ]; then
		cp "$BATS_TEST_TMPDIR/config-extra" "$(lab_info state_dir)/config-extra"
		lab router-stop --flush
		lab router-start
	fi
	natt_test_teardown
}

RESTORE_BOUND=10

# serve_pair NAME PORT [natt-run options] — echoserv on lan1 with a TCP and a UDP socket on PORT,
# both published.
serve_pair() {
	serve "$1" lan1 "$2" --log info "${@:3}"
	wait_published tcp "$2"
	wait_published udp "$2"
}

both_rules() { rule_present_proto tcp "$1" && rule_present_proto udp "$1"; }

# Both mappings at the router (the reboot emptied its table: a rule there was made again after it),
# and the status file says published with an expiry later than BEFORE (seconds since the epoch: the
# status file was updated by the new mapping).
restored() {
	local port=$1 before=$2 proto exp
	both_rules "$port" || return 1
	for proto in tcp udp; do
		status_has "$proto" "$port" published || return 1
		exp=$(status_public "$proto" "$port" expires)
		[ -n "$exp" ] && [ "$(date -u -d "$exp" +%s)" -gt "$before" ] || return 1
	done
}

# past_second EXPIRY LIFETIME — waits until the wall clock is past the second the mapping expiring at
# EXPIRY was made, so that a mapping made again has a later expiry (the status file counts seconds).
past_second() {
	while [ "$(date -u +%s)" -le $(($1 - $2)) ]; do sleep 0.1; done
}

# latest_expiry PORT — the later expiry (seconds since the epoch) of PORT's TCP and UDP mappings.
latest_expiry() {
	local a b
	a=$(date -u -d "$(status_public tcp "$1" expires)" +%s)
	b=$(date -u -d "$(status_public udp "$1" expires)" +%s)
	echo $((a > b ? a : b))
}

# reachable PORT — from the internet host, through the router's public address.
reachable() {
	run reach_tcp 100.130.0.1 "$1"
	assert_success
	assert_output "hello from echoserv"
	run reach_udp 100.130.0.1 "$1"
	assert_success
	assert_output "natt-udp-probe"
}

# reboot_round MODE TECHNIQUE PORT — the router (re)started in MODE; a program published through
# TECHNIQUE; `natt-lab reboot`; both mappings back within RESTORE_BOUND s.
reboot_round() {
	local mode=$1 technique=$2 port=$3 t0 before took
	lab router-stop --flush
	lab router-start --mode "$mode"
	serve_pair srv "$port"
	assert_equal "$(status_public tcp "$port" technique)" "$technique"
	assert_equal "$(status_public udp "$port" technique)" "$technique"
	reachable "$port"

	before=$(latest_expiry "$port")
	past_second "$before" "$(status_public tcp "$port" lifetime)"
	lab reboot
	t0=$(now_s)
	wait_until $RESTORE_BOUND restored "$port" "$before" ||
		fail "$mode router: mappings of port $port not restored within ${RESTORE_BOUND}s of the reboot"
	took=$(elapsed_since "$t0")
	tap_note "restore after reboot ($mode router, $technique): $took s"
	assert_equal "$(status_public tcp "$port" port)" "$port"
	assert_equal "$(status_public udp "$port" port)" "$port"
	assert_equal "$(status_public tcp "$port" technique)" "$technique"
	reachable "$port"
	# the program never noticed: still the same process, still serving
	kill -0 "$(natt_pid srv)"

	serve_stop srv
	run router_rules
	assert_output ""
}

@test "reboot of a UPnP-only router: TCP and UDP mappings back within 10 s" {
	reboot_round upnp upnp 8510
}

@test "reboot of a NAT-PMP-only router: TCP and UDP mappings back within 10 s" {
	reboot_round natpmp pcp 8511
}

@test "reboot of a dual router: TCP and UDP mappings back within 10 s" {
	reboot_round dual upnp 8512
}

@test "a router that stays down for 5 s (table lost): mappings back within 10 s of its start" {
	local t0 took before
	serve_pair srv 8513
	before=$(latest_expiry 8513)
	past_second "$before" "$(status_public tcp 8513 lifetime)"
	lab router-stop --flush
	sleep 5
	lab router-start
	t0=$(now_s)
	wait_until $RESTORE_BOUND restored 8513 "$before" ||
		fail "mappings of port 8513 not restored within ${RESTORE_BOUND}s of the router's start"
	took=$(elapsed_since "$t0")
	tap_note "restore after 5 s down (dual router, upnp): $took s"
	reachable 8513
	serve_stop srv
	run router_rules
	assert_output ""
}

@test "reboot unannounced (SSDP and NAT-PMP multicast dropped at the host): verification restores it" {
	# The host hears no ssdp:alive/byebye and no 224.0.0.1:5350 announcement; only the periodic check
	# (NATT_VERIFY_INTERVAL, 3 s here) can find out that the router lost its table.
	local verify=3 t0 took before_up before_pmp router_up
	# A router that reboots within about 2.5 s of its previous start shows no loss in its NAT-PMP
	# epoch (RFC 6886 3.6 readings are whole seconds); this one has been up a while when it reboots.
	lab router-stop --flush
	lab router-start
	router_up=$(now_s)
	NATT_VERIFY_INTERVAL=$verify serve_pair up 8514 --protocols upnp
	NATT_VERIFY_INTERVAL=$verify serve_pair pmp 8515 --protocols nat-pmp
	on_lan1 nft -f - <<-'EOF'
		table inet natt_test {
			chain input {
				type filter hook input priority -10; policy accept;
				ip daddr { 239.255.255.250, 224.0.0.1 } counter drop
			}
		}
	EOF
	before_up=$(latest_expiry 8514)
	before_pmp=$(latest_expiry 8515)
	past_second "$before_up" "$(status_public tcp 8514 lifetime)"
	past_second "$before_pmp" "$(status_public tcp 8515 lifetime)"
	while [ "$(elapsed_since "$router_up" | cut -d. -f1)" -lt 5 ]; do sleep 0.2; done
	lab reboot
	t0=$(now_s)
	wait_until $((verify + RESTORE_BOUND)) restored 8514 "$before_up" ||
		fail "UPnP mappings not restored within $((verify + RESTORE_BOUND))s of an unannounced reboot"
	took=$(elapsed_since "$t0")
	tap_note "restore after unannounced reboot (upnp, verify every ${verify} s): $took s"
	wait_until $((verify + RESTORE_BOUND)) restored 8515 "$before_pmp" ||
		fail "NAT-PMP mappings not restored within $((verify + RESTORE_BOUND))s of an unannounced reboot"
	took=$(elapsed_since "$t0")
	tap_note "restore after unannounced reboot (nat-pmp, verify every ${verify} s): $took s"
	# the drop rule did see the router's announcements: they were really lost
	run on_lan1 nft list table inet natt_test
	refute_output --partial "packets 0 "
	reachable 8514
	reachable 8515
	serve_stop up
	serve_stop pmp
	run router_rules
	assert_output ""
}

@test "a router that restarts on the same HTTP port (only its BOOTID new): mappings back once, its later announcements change nothing" {
	# miniupnpd on a fixed port (as OpenWrt's, port 5000) announcing every 2 s; the lab's own
	# settings come back after the test
	local extra mark
	extra="$(lab_info state_dir)/config-extra"
	cp "$extra" "$BATS_TEST_TMPDIR/config-extra" 2>/dev/null || : > "$BATS_TEST_TMPDIR/config-extra"
	printf 'http_port=5000\nnotify_interval=2\n' >> "$extra"
	lab router-stop --flush
	lab router-start --mode upnp
	serve_pair srv 8516 --protocols upnp
	local before
	before=$(latest_expiry 8516)
	past_second "$before" "$(status_public tcp 8516 lifetime)"
	mark=$(router_log_lines)
	lab reboot
	assert_equal "$(lab_info http_port)" 5000
	wait_until $RESTORE_BOUND restored 8516 "$before" ||
		fail "mappings of port 8516 not restored within ${RESTORE_BOUND}s of the reboot"
	# three announcement rounds later: each mapping made once again, the description read once (what
	# the file beside the status file says is from before the restart: its BOOTID is the old one)
	on_lan1 nft -f - <<-'EOF'
		table inet natt_test {
			chain input {
				type filter hook input priority -10; policy accept;
				ip saddr 10.77.0.1 ip daddr 239.255.255.250 udp dport 1900 counter
			}
		}
	EOF
	sleep 7
	run on_lan1 nft list table inet natt_test
	assert_output --regexp "packets [1-9]"
	run router_log_since "$mark" "AddPortMapping: ext port 8516 "
	assert_equal "${#lines[@]}" 2
	run router_log_since "$mark" "GET /rootDesc.xml"
	assert_equal "${#lines[@]}" 1
	run grep -c "the router's UPnP device restarted" "$(natt_stderr srv)"
	[ "$output" -le 1 ] || fail "restarts seen: $output"
	grep -q "^bootid $(lab_info bootid)\$" "$(dirname "$NATT_STATUS")/.natt-gateway-10.77.0.1.igd" ||
		fail "not the new BOOTID beside the status file: $(cat "$(dirname "$NATT_STATUS")/.natt-gateway-10.77.0.1.igd")"
	reachable 8516
	serve_stop srv
	run router_rules
	assert_output ""
}
