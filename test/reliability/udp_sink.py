"""A UDP receiver that drops nothing: its receive buffer holds every datagram
even if it reads none of them in time.

    python3 udp_sink.py COUNT TIMEOUT

Binds 127.0.0.1 port 0 and prints {"port": N}, then receives until COUNT
datagrams arrived or TIMEOUT seconds passed without one, and prints
{"sequence": [...], "exact": [...]}: each datagram's number (its first 4
bytes, big-endian) in arrival order, and whether the rest is the pattern
udp_burst.ts fills it with (byte j is (number + j) mod 256).
"""

import json
import socket
import struct
import sys

SO_RCVBUFFORCE = 33  # Linux: like SO_RCVBUF, but past net.core.rmem_max (needs CAP_NET_ADMIN)

count, timeout = int(sys.argv[1]), float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
except OSError:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
s.bind(("127.0.0.1", 0))
print(json.dumps({"port": s.getsockname()[1]}), flush=True)
s.settimeout(timeout)
sequence, exact = [], []
while len(sequence) < count:
    try:
        data = s.recv(70000)
    except socket.timeout:
        break
    number = struct.unpack(">I", data[:4])[0]
    pattern = bytes((number + j) & 0xFF for j in range(4, len(data)))
    sequence.append(number)
    exact.append(data[4:] == pattern)
print(json.dumps({"sequence": sequence, "exact": exact}), flush=True)
