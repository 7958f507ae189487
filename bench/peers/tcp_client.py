"""The tutorial's tcp_client.py: connect to 127.0.0.1, send b'Hello TCP',
print the reply. Like `sockdemo tcp-client` it half-closes after sending and
reads until the server closes, so both get the whole reply however it is
chunked.

    python3 bench/peers/tcp_client.py PORT
"""
import datetime
import socket
import sys

print("The client started at", datetime.datetime.now())
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5) as s:
    s.sendall(b"Hello TCP")
    s.shutdown(socket.SHUT_WR)
    reply = b""
    while chunk := s.recv(1024):
        reply += chunk
print(reply)
