"""A UDP peer for the reliability suites: big datagrams and ICMP tricks.

    python3 udp_peer.py '{"action": "echo", "host": "127.0.0.1", "port": 5000,
                          "sizes": [0, 1, 65507], "prefix": "", "timeout": 2}'
        Sends one datagram of each size (seeded random bytes) and waits for its
        echo; reports each reply's length and whether it is prefix + datagram.

    python3 udp_peer.py '{"action": "gone", "host": ..., "port": ...}'
        Sends one datagram from a socket that cannot receive the answer: it is
        connected to another (closed) port first, so the kernel answers the
        server's reply with ICMP port unreachable, as for a client that has
        closed its socket, but without racing the close against the reply.
        The socket is closed right after.

Prints one JSON object.
"""

import json
import random
import socket
import sys

spec = json.loads(sys.argv[1])
family = socket.AF_INET6 if ":" in spec["host"] else socket.AF_INET
target = (spec["host"], spec["port"])

if spec["action"] == "echo":
    prefix = spec.get("prefix", "").encode()
    results = []
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(spec.get("timeout", 2))
        for size in spec["sizes"]:
            payload = random.Random(size).randbytes(size)
            s.sendto(payload, target)
            try:
                reply, _ = s.recvfrom(70000)
                results.append({"size": size, "reply": len(reply), "exact": reply == prefix + payload})
            except socket.timeout:
                results.append({"size": size, "reply": None, "exact": False})
    print(json.dumps({"results": results}))
elif spec["action"] == "gone":
    with socket.socket(family, socket.SOCK_DGRAM) as closed:
        closed.bind((spec["host"], 0))
        nowhere = closed.getsockname()[1]
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.connect((spec["host"], nowhere))
    s.sendto(b"gone", target)
    port = s.getsockname()[1]
    s.close()
    print(json.dumps({"port": port}))
else:
    raise SystemExit(f"unknown action {spec['action']}")
