"""The tutorial's udp_client.py, with the address from argv.

usage: udp_client.py HOST PORT [--reply]

Sends b'Hello UDP'. With --reply it also waits (2 s at most) for one answer
and prints it, for servers that echo.
"""
import socket
import sys
from datetime import datetime

host = sys.argv[1]
port = int(sys.argv[2])
family = socket.AF_INET6 if ":" in host else socket.AF_INET

with socket.socket(family, socket.SOCK_DGRAM) as s:
    print("The client started at", datetime.now())
    s.sendto(b"Hello UDP", (host, port))
    if "--reply" in sys.argv[3:]:
        s.settimeout(2)
        data, addr = s.recvfrom(1024)
        print(data)
