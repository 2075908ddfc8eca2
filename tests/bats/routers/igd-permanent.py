#!/usr/bin/env python3
"""A UPnP IGD that keeps only permanent port mappings (error 725 OnlyPermanentLeasesSupported to any
lease but 0), as some routers do and miniupnpd cannot be made to.

    igd-permanent.py ADDRESS EXTERNAL_ADDRESS

Answers SSDP searches (239.255.255.250:1900) on the interface of ADDRESS, serves an IGDv1 description,
its WANIPConnection:1 service description and the control URL on ADDRESS (a free port), and keeps its
mappings in memory. Prints "ready" once it listens, then one line per SOAP call: the action and its
arguments ("AddPortMapping NewExternalPort=8710 ... NewLeaseDuration=10") and the answer ("-> 725").
"""
import http.server
import re
import socket
import struct
import sys
import threading

ADDRESS, EXTERNAL = sys.argv[1], sys.argv[2]
SERVICE = "urn:schemas-upnp-org:service:WANIPConnection:1"
mappings = {}  # (protocol, external port) -> (client, internal port, description)
lock = threading.Lock()


def log(text):
    with lock:
        print(text, flush=True)


def device(kind, inner):
    return (f"<device><deviceType>urn:schemas-upnp-org:device:{kind}:1</deviceType>"
            f"<friendlyName>{kind}</friendlyName><UDN>uuid:natt-test-{kind}</UDN>{inner}</device>")


DESCRIPTION = ('<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0">'
               "<specVersion><major>1</major><minor>0</minor></specVersion>"
               + device("InternetGatewayDevice", "<deviceList>" + device("WANDevice", "<deviceList>" + device(
                   "WANConnectionDevice",
                   f"<serviceList><service><serviceType>{SERVICE}</serviceType>"
                   "<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><SCPDURL>/scpd.xml</SCPDURL>"
                   "<controlURL>/ctl</controlURL><eventSubURL>/evt</eventSubURL></service></serviceList>")
                   + "</deviceList>") + "</deviceList>")
               + "</root>")
ACTIONS = ["AddPortMapping", "DeletePortMapping", "GetSpecificPortMappingEntry",
           "GetGenericPortMappingEntry", "GetExternalIPAddress"]
SCPD = ('<?xml version="1.0"?><scpd xmlns="urn:schemas-upnp-org:service-1-0">'
        "<specVersion><major>1</major><minor>0</minor></specVersion><actionList>"
        + "".join(f"<action><name>{a}</name></action>" for a in ACTIONS) + "</actionList></scpd>")


def envelope(body):
    return ('<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
            's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>' + body + "</s:Body></s:Envelope>")


def fault(code, text):
    return 500, envelope("<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>"
                         '<UPnPError xmlns="urn:schemas-upnp-org:control-1-0">'
                         f"<errorCode>{code}</errorCode><errorDescription>{text}</errorDescription>"
                         "</UPnPError></detail></s:Fault>")


def answer(action, args, out=""):
    return 200, envelope(f'<u:{action}Response xmlns:u="{SERVICE}">{out}</u:{action}Response>')


def control(action, args):
    key = (args.get("NewProtocol", ""), args.get("NewExternalPort", ""))
    if action == "GetExternalIPAddress":
        return answer(action, args, f"<NewExternalIPAddress>{EXTERNAL}</NewExternalIPAddress>")
    if action == "AddPortMapping":
        if args.get("NewLeaseDuration", "0") != "0":
            return fault(725, "OnlyPermanentLeasesSupported")
        mappings[key] = (args.get("NewInternalClient", ""), args.get("NewInternalPort", ""),
                         args.get("NewPortMappingDescription", ""))
        return answer(action, args)
    if action == "GetSpecificPortMappingEntry":
        if key not in mappings:
            return fault(714, "NoSuchEntryInArray")
        client, port, desc = mappings[key]
        return answer(action, args, f"<NewInternalPort>{port}</NewInternalPort><NewInternalClient>{client}"
                      "</NewInternalClient><NewEnabled>1</NewEnabled><NewPortMappingDescription>"
                      f"{desc}</NewPortMappingDescription><NewLeaseDuration>0</NewLeaseDuration>")
    if action == "DeletePortMapping":
        if mappings.pop(key, None) is None:
            return fault(714, "NoSuchEntryInArray")
        return answer(action, args)
    if action == "GetGenericPortMappingEntry":
        return fault(713, "SpecifiedArrayIndexInvalid")
    return fault(401, "Invalid Action")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", 'text/xml; charset="utf-8"')
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/rootDesc.xml":
            self.reply(200, DESCRIPTION)
        elif self.path == "/scpd.xml":
            self.reply(200, SCPD)
        else:
            self.reply(404, "")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode(errors="replace")
        action = self.headers.get("SOAPAction", "").strip('"').split("#")[-1]
        args = dict(re.findall(r"<(New\w+)>([^<]*)</\1>", body))
        status, out = control(action, args)
        code = re.search(r"<errorCode>(\d+)", out)
        log(f"{action} " + " ".join(f"{k}={v}" for k, v in sorted(args.items()))
            + f" -> {code.group(1) if code else 'ok'}")
        self.reply(status, out)

    def log_message(self, *args):
        pass


http_server = http.server.ThreadingHTTPServer((ADDRESS, 0), Handler)
location = f"http://{ADDRESS}:{http_server.server_address[1]}/rootDesc.xml"


ssdp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
ssdp_sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ssdp_sock.bind(("0.0.0.0", 1900))
ssdp_sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                     struct.pack("4s4s", socket.inet_aton("239.255.255.250"), socket.inet_aton(ADDRESS)))


def ssdp(sock):
    while True:
        data, peer = sock.recvfrom(2048)
        text = data.decode(errors="replace")
        if not text.startswith("M-SEARCH"):
            continue
        st = re.search(r"(?im)^ST:\s*(\S+)", text)
        st = st.group(1) if st else "upnp:rootdevice"
        if st not in ("ssdp:all", "upnp:rootdevice") and "InternetGatewayDevice" not in st and SERVICE not in st:
            continue
        sock.sendto((f"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: {st}\r\n"
                     f"USN: uuid:natt-test-InternetGatewayDevice::{st}\r\nEXT:\r\n"
                     f"SERVER: Linux UPnP/1.1 natt-test/1\r\nLOCATION: {location}\r\n\r\n").encode(), peer)


threading.Thread(target=ssdp, args=(ssdp_sock,), daemon=True).start()
log("ready")
http_server.serve_forever()
