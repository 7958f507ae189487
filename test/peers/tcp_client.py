"""The tutorial's tcp_client.py, with the address from argv.

usage: tcp_client.py HOST PORT

Connects, sends b'Hello TCP', prints the reply of one recv(1024).
"""
import socket
import sys

host = sys.argv[1]
port = int(sys.argv[2])
family = socket.AF_INET6 if ":" in host else socket.AF_INET

with socket.socket(family, socket.SOCK_STREAM) as s:
    s.connect((host, port))
    s.sendall(b"Hello TCP")
    data = s.recv(1024)
    print(data)
