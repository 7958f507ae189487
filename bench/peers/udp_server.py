"""The tutorial's udp_server.py with a reply: recvfrom(1024), print the
arrival time, data and sender, and answer b'Receive: ' + data to the sender
(the tutorial's server does not reply; a ping-pong benchmark needs one).
One thread, one socket: UDP needs nothing more to serve many peers.

    python3 bench/peers/udp_server.py [--port 0] [--prefix 'Receive: ']
"""
import datetime
import socket
import sys

args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
PORT = int(args.get("--port", "0"))
PREFIX = args.get("--prefix", "Receive: ").encode()

sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", PORT))
print("The server started at", datetime.datetime.now())
print("port", sock.getsockname()[1], flush=True)
print("Waiting...")
while True:
    data, addr = sock.recvfrom(1024)
    print("at", datetime.datetime.now(), "data: ", data, "addr: ", addr)
    sock.sendto(PREFIX + data, addr)
