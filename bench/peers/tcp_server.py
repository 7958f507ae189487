"""The tutorial's tcp_server.py, made able to serve a benchmark.

The tutorial accepts one client, prints `data:  b'...' addr:  (...)`, replies
b'Receive: ' + data (recv(1024)) and is done. This is the same loop body,
served the way Python servers usually serve several clients at once: one
thread per connection (socketserver.ThreadingTCPServer), each repeating
recv(1024) -> print -> sendall(prefix + data) until the client closes.

    python3 bench/peers/tcp_server.py [--port 0] [--prefix 'Receive: ']

Prints "port N" once bound (the `print` lines go to stdout like the tutorial's;
the bench sends stdout to a file).
"""
import datetime
import socket
import socketserver
import sys

args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
PORT = int(args.get("--port", "0"))
PREFIX = args.get("--prefix", "Receive: ").encode()


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        conn, addr = self.request, self.client_address
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                data = conn.recv(1024)
                if not data:
                    break
                print("data: ", data, "addr: ", addr)
                conn.sendall(PREFIX + data)
        except ConnectionError:
            pass  # the load generator resets its connections when a run ends


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 511


with Server(("127.0.0.1", PORT), Handler) as server:
    print("The server started at", datetime.datetime.now())
    print("port", server.server_address[1], flush=True)
    print("Waiting...")
    server.serve_forever()
