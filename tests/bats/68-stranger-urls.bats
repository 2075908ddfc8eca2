#!/usr/bin/env bats
# Whose URLs natt follows. A router without miniupnpd whose address answers natt's SSDP search (a
# responder of the test's own, standing in for a LAN host that spoofs the gateway) names URLs on lan2:
# natt must neither fetch a description there nor call a control URL there — only the gateway itself.

bats_require_minimum_version 1.5.0

load lib/lab
load lib/natt
load lib/programs

PY=/usr/bin/python3

setup_file() {
	require_root
	lab_up none 2
}
teardown_file() { lab_down; }
setup() {
	natt_test_setup
	programs_setup
}
# (programs_teardown ends with natt_test_teardown; its status is the test's)
teardown() {
	programs_teardown
}

# The SSDP responder: answers every M-SEARCH with LOCATION $1.
RESPONDER='
import socket, struct, sys
location = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 1900))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
             struct.pack("4s4s", socket.inet_aton("239.255.255.250"), socket.inet_aton("10.77.0.1")))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(2048)
    if data.startswith(b"M-SEARCH"):
        s.sendto(("HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n"
                  "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nUSN: uuid:x\r\nEXT:\r\n"
                  "LOCATION: %s\r\n\r\n" % location).encode(), peer)
'

# An HTTP server that logs each request line to stdout and serves an IGD description whose control URL
# is $2 (any path).
HTTPD='
import http.server, sys
control = sys.argv[2]
desc = ("<?xml version=\"1.0\"?><root><device><serviceList><service>"
        "<serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>"
        "<controlURL>%s</controlURL><SCPDURL>/scpd.xml</SCPDURL></service></serviceList></device></root>" % control).encode()
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def answer(self):
        print("REQUEST", self.command, self.path, flush=True)
        self.send_response(200); self.send_header("Content-Length", str(len(desc))); self.end_headers()
        self.wfile.write(desc)
    do_GET = answer
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.answer()
print("ready", flush=True)
http.server.HTTPServer(("0.0.0.0", int(sys.argv[1])), H).serve_forever()
'

ready() { wait_until 20 grep -q '^ready' "$(bg_out "$1")" || fail "$(printf '%s did not start:\n%s' "$1" "$(cat "$(bg_out "$1")")")"; }

@test "an SSDP answer from the gateway's address whose LOCATION names another host: not fetched" {
	start_bg stranger lan2 "$PY" -c "$HTTPD" 8740 http://10.77.0.3:8740/ctl
	start_bg ssdp router "$PY" -c "$RESPONDER" http://10.77.0.3:8740/rootDesc.xml
	ready stranger
	ready ssdp
	natt_start srv lan1 --protocols upnp --log debug -- "$PY" -m http.server 8741
	wait_state tcp 8741 pending 30
	sleep 4 # discovery retries meanwhile
	run grep REQUEST "$(bg_out stranger)"
	[ -z "$output" ] || fail "$(printf 'natt fetched from the third host:\n%s' "$output")"
	natt_signal srv TERM
	natt_wait_exit srv 10
}

@test "a description on the gateway whose control URL names another host: never called" {
	start_bg stranger lan2 "$PY" -c "$HTTPD" 8742 http://10.77.0.3:8742/ctl
	start_bg igd router "$PY" -c "$HTTPD" 8743 http://10.77.0.3:8742/ctl
	start_bg ssdp router "$PY" -c "$RESPONDER" http://10.77.0.1:8743/rootDesc.xml
	ready stranger
	ready igd
	ready ssdp
	natt_start srv lan1 --protocols upnp --log debug -- "$PY" -m http.server 8744
	wait_until 30 grep -q "REQUEST GET /rootDesc.xml" "$(bg_out igd)" ||
		fail "$(printf 'natt never fetched the gateway'"'"'s description:\n%s' "$(cat "$(natt_stderr srv)")")"
	sleep 4
	run grep REQUEST "$(bg_out stranger)"
	[ -z "$output" ] || fail "$(printf 'natt called the third host:\n%s' "$output")"
	status_has tcp 8744 pending || fail "$(cat "$NATT_STATUS")"
	natt_signal srv TERM
	natt_wait_exit srv 10
}
