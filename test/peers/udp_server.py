"""The tutorial's udp_server.py, with the address from argv.

usage: udp_server.py [HOST] [PORT]   (defaults 127.0.0.1 0)

Binds (port 0 = any free port), prints `port: N` first so a test can find it,
then exactly what the tutorial prints, and receives one datagram.
"""
import socket
import sys
from datetime import datetime

host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
family = socket.AF_INET6 if ":" in host else socket.AF_INET

with socket.socket(family, socket.SOCK_DGRAM) as s:
    s.bind((host, port))
    print("port:", s.getsockname()[1])
    print("The server started at", datetime.now())
    print("Waiting...")
    data, addr = s.recvfrom(1024)
    print("at", datetime.now(), "data: ", data, "addr: ", addr)
