#!/usr/bin/env python3
"""A NAT-PMP router (RFC 6886) that says what the test wants, for what miniupnpd will not do: answer
with a private or shared external address (a router behind another NAT; miniupnpd refuses to map at
all then).

    natpmp.py LISTEN_ADDRESS EXTERNAL_ADDRESS

Answers the external-address request with EXTERNAL_ADDRESS and grants every mapping request as asked
(the external port asked, or the internal port; lifetime 0 deletes). Prints "ready" once it listens,
then one line per request: "address", "map udp|tcp INTERNAL EXTERNAL LIFETIME".
"""
import socket
import struct
import sys
import time

listen, external = sys.argv[1], socket.inet_aton(sys.argv[2])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((listen, 5351))
started = time.monotonic()
print("ready", flush=True)
while True:
    data, peer = sock.recvfrom(1100)
    if len(data) < 2 or data[0] != 0:
        continue
    epoch = int(time.monotonic() - started)
    op = data[1]
    if op == 0:
        print("address", flush=True)
        sock.sendto(struct.pack("!BBHI4s", 0, 128, 0, epoch, external), peer)
    elif op in (1, 2) and len(data) >= 12:
        _, _, _, internal, asked, lifetime = struct.unpack("!BBHHHI", data[:12])
        granted = (asked or internal) if lifetime else 0
        print(f"map {'udp' if op == 1 else 'tcp'} {internal} {granted} {lifetime}", flush=True)
        sock.sendto(struct.pack("!BBHIHHI", 0, 128 + op, 0, epoch, internal, granted, lifetime), peer)
