/**
 * The least a Bun program can do per chunk: Bun.listen / Bun.udpSocket echo
 * prefix + each chunk (TCP) or prefix + each datagram (UDP), nothing else.
 * Not a tool anyone would use instead of sockdemo, so not one of the peers
 * sockdemo must beat: the bench shows it as the ceiling for any server
 * written for Bun, measured in the same run as sockdemo's Bun adapter.
 * Bun's write() takes what the kernel accepts and returns the count, so the
 * rest is queued here and reading pauses until it drains, as in the adapter.
 *
 *   bun bench/peers/bun-echo.ts tcp|udp [--port 0] [--prefix TEXT]
 *
 * Prints "port N" once bound.
 */
const [proto = "tcp", ...rest] = process.argv.slice(2);
let port = 0;
let prefixText = "";
for (let i = 0; i < rest.length; i += 2) {
  if (rest[i] === "--port") port = Number(rest[i + 1]);
  else if (rest[i] === "--prefix") prefixText = rest[i + 1] ?? "";
  else throw new Error(`unknown option ${rest[i]}`);
}
const prefix = new TextEncoder().encode(prefixText);
const answer = (chunk: Uint8Array): Uint8Array => {
  if (prefix.length === 0) return chunk;
  const out = new Uint8Array(prefix.length + chunk.length);
  out.set(prefix);
  out.set(chunk, prefix.length);
  return out;
};

interface Pending {
  queue: Uint8Array[];
  finished: boolean;
}

if (proto === "tcp") {
  const flush = (socket: Bun.Socket<Pending>): void => {
    const { queue } = socket.data;
    while (queue.length > 0) {
      const head = queue[0] as Uint8Array;
      const written = socket.write(head);
      if (written < head.length) {
        queue[0] = head.subarray(Math.max(written, 0));
        return;
      }
      queue.shift();
    }
    socket.resume();
    if (socket.data.finished) socket.end();
  };
  const server = globalThis.Bun.listen<Pending>({
    hostname: "127.0.0.1",
    port,
    allowHalfOpen: true,
    socket: {
      open(socket) {
        socket.data = { queue: [], finished: false };
        socket.setNoDelay(true);
      },
      data(socket, chunk) {
        socket.data.queue.push(answer(chunk));
        flush(socket);
        if (socket.data.queue.length > 0) socket.pause();
      },
      drain: flush,
      end(socket) {
        socket.data.finished = true;
        if (socket.data.queue.length === 0) socket.end();
      },
      error() {},
    },
  });
  console.log(`port ${server.port}`);
} else {
  const socket = await globalThis.Bun.udpSocket({
    hostname: "127.0.0.1",
    port,
    binaryType: "uint8array",
    socket: {
      data(s, bytes, fromPort, fromAddress) {
        s.send(answer(bytes), fromPort, fromAddress);
      },
      error() {},
    },
  });
  console.log(`port ${socket.port}`);
}
process.on("SIGTERM", () => process.exit(0));
