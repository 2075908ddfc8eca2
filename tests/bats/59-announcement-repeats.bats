#!/usr/bin/env bats
# The router's periodic announcements: miniupnpd repeats its SSDP NOTIFY burst (13 datagrams, sent
# twice) every notify_interval seconds, 2 s on this UPnP-only router. Once natt has read one that
# changes nothing, a kernel filter drops its repeats, and natt's thread sleeps through them. What
# differs (a restart: new BOOTID and LOCATION; a byebye) still reaches it: the mappings come back.

load lib/lab
load lib/natt
load lib/programs

programs_suite upnp 1 --config-extra "notify_interval=2"

# notifies_during SECONDS: how many NOTIFYs from the router reached lan1 within SECONDS (a listener of
# its own on the group: what natt's socket would have had without its filter).
notifies_during() {
	on_lan1 /usr/bin/python3 -c '
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", 1900))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
             struct.pack("4s4s", socket.inet_aton("239.255.255.250"), socket.inet_aton("0.0.0.0")))
end = time.time() + float(sys.argv[1])
n = 0
while True:
    left = end - time.time()
    if left <= 0:
        break
    s.settimeout(left)
    try:
        data, sender = s.recvfrom(4096)
    except socket.timeout:
        break
    n += sender[0] == "10.77.0.1" and data.startswith(b"NOTIFY")
print(n)' "$1"
}

# quiet_through_bursts PID: natt's thread in PID wakes at most twice in 8 s of the router's bursts.
quiet_through_bursts() {
	local before after heard
	before=$(manager_switches "$1") || fail "no thread named natt in $1"
	heard=$(notifies_during 8)
	after=$(manager_switches "$1")
	tap_note "natt's thread: $((after - before)) wake-ups while $heard NOTIFYs from the router reached the host"
	[ "$heard" -ge 40 ] || fail "only $heard NOTIFYs from the router in 8 s: the measurement says nothing"
	[ $((after - before)) -le 2 ] || fail "natt's thread woke $((after - before)) times in 8 s of repeated NOTIFYs"
}

@test "the router's repeated NOTIFY bursts do not wake natt's thread; after a reboot the new ones are heard, then dropped too" {
	natt_start srv lan1 -- /usr/bin/python3 -m http.server 8591
	wait_published tcp 8591
	local pid
	pid=$(natt_pid srv)
	# a burst every 2 s: the first one read teaches the filter
	sleep 3
	quiet_through_bursts "$pid"

	# a reboot (its byebye, then new BOOTID and LOCATION) passes the filter: the mapping is back
	lab reboot
	wait_until 10 rule_present_proto tcp 8591 || fail "the mapping was not made again within 10 s of the reboot"
	status_has tcp 8591 published
	sleep 3
	quiet_through_bursts "$pid"

	natt_signal srv TERM
	natt_wait_exit srv 10
	assert_router_empty
}

# byebye_from_router: an ssdp:byebye of the router's root device, from the router's address (another
# port: miniupnpd holds 1900) to lan1's SSDP port, which natt's socket shares.
byebye_from_router() {
	lab exec router /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.77.0.1", 0))
s.sendto(b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNT: upnp:rootdevice\r\n"
         b"USN: uuid:0e0781cc-c04a-9375-e2ea-877af54a7a17::upnp:rootdevice\r\nNTS: ssdp:byebye\r\n\r\n",
         ("10.77.0.2", 1900))'
}

@test "after the router's byebye, announcements like those dropped are heard again: the IGD is opened again and the mapping renewed" {
	natt_start srv lan1 -- /usr/bin/python3 -m http.server 8592
	wait_published tcp 8592
	local pid mark
	pid=$(natt_pid srv)
	sleep 3
	quiet_through_bursts "$pid"
	mark=$(router_log_lines)
	byebye_from_router
	# the next burst, the same as before (same BOOTID and LOCATION), reopens what the byebye closed
	wait_until 10 eval '[ "$(router_log_since "$mark" "$ROUTER_MAP_REGEX" | grep -c 8592)" -ge 1 ]' ||
		fail "no mapping request for port 8592 within 10 s of the byebye: the announcements after it were not heard"
	status_has tcp 8592 published
	natt_signal srv TERM
	natt_wait_exit srv 10
	assert_router_empty
}

@test "another device of the router's (a media server) announcing its own LOCATION: the IGD stays open, nothing is mapped again" {
	natt_start srv lan1 --log info -- /usr/bin/python3 -m http.server 8593
	wait_published tcp 8593
	local mark
	mark=$(router_log_lines)
	lab exec router /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.77.0.1", 0))
for _ in range(3):
    s.sendto(b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=1800\r\n"
             b"LOCATION: http://10.77.0.1:8200/rootDesc.xml\r\nNT: urn:schemas-upnp-org:device:MediaServer:1\r\n"
             b"NTS: ssdp:alive\r\nUSN: uuid:4d696e69-444c-164e-9d41-001122334455::urn:schemas-upnp-org:device:MediaServer:1\r\n"
             b"BOOTID.UPNP.ORG: 7\r\n\r\n", ("10.77.0.2", 1900))'
	sleep 3
	run grep -c "restarted" "$(natt_stderr srv)"
	assert_output 0
	run router_log_since "$mark" "$ROUTER_MAP_REGEX"
	assert_output ""
	status_has tcp 8593 published
	natt_signal srv TERM
	natt_wait_exit srv 10
	assert_router_empty
}
