"""The tutorial's tcp_server.py, with the address from argv.

usage: tcp_server.py [HOST] [PORT] [--count N]   (defaults 127.0.0.1 0, forever)

Binds (port 0 = any free port), prints `port: N` first so a test can find it,
then serves connections one after another: every recv(1024) chunk is printed
and answered with b'Receive: ' + chunk until the client closes. --count N
exits after N connections instead of serving forever.
"""
import socket
import sys
from datetime import datetime

args = [a for a in sys.argv[1:]]
count = None
if "--count" in args:
    at = args.index("--count")
    count = int(args[at + 1])
    del args[at : at + 2]
host = args[0] if len(args) > 0 else "127.0.0.1"
port = int(args[1]) if len(args) > 1 else 0
family = socket.AF_INET6 if ":" in host else socket.AF_INET

with socket.socket(family, socket.SOCK_STREAM) as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(1)
    print("port:", s.getsockname()[1])
    print("The server started at", datetime.now())
    print("Waiting...")
    served = 0
    while count is None or served < count:
        conn, addr = s.accept()
        with conn:
            while True:
                data = conn.recv(1024)
                if not data:
                    break
                print("data: ", data, "addr: ", addr)
                conn.sendall(b"Receive: " + data)
        served += 1
