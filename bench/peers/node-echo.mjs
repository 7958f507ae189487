/**
 * A plain echo server on node:net / node:dgram: the peer sockdemo's node
 * adapter is compared with. No display, no bookkeeping: prefix + each chunk
 * (TCP) or prefix + each datagram (UDP), with the same backpressure rule as
 * sockdemo (pause reading while a reply is queued).
 *
 *   node bench/peers/node-echo.mjs tcp|udp [--port 0] [--prefix TEXT]
 *
 * Prints "port N" once bound.
 */
import dgram from "node:dgram";
import net from "node:net";

const [proto = "tcp", ...rest] = process.argv.slice(2);
let port = 0;
let prefixText = "";
for (let i = 0; i < rest.length; i += 2) {
  if (rest[i] === "--port") port = Number(rest[i + 1]);
  else if (rest[i] === "--prefix") prefixText = rest[i + 1] ?? "";
  else throw new Error(`unknown option ${rest[i]}`);
}
const prefix = Buffer.from(prefixText);
const answer = (chunk) => (prefix.length ? Buffer.concat([prefix, chunk]) : chunk);

if (proto === "tcp") {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    socket.on("data", (chunk) => {
      if (!socket.write(answer(chunk))) socket.pause();
    });
    socket.on("drain", () => socket.resume());
    socket.on("end", () => socket.end());
    socket.on("error", () => {});
  });
  server.listen({ host: "127.0.0.1", port, backlog: 511 }, () => {
    console.log(`port ${server.address().port}`);
  });
} else {
  const socket = dgram.createSocket("udp4");
  socket.on("message", (msg, rinfo) => socket.send(answer(msg), rinfo.port, rinfo.address));
  socket.on("error", () => {});
  socket.bind({ address: "127.0.0.1", port }, () => {
    console.log(`port ${socket.address().port}`);
  });
}
process.on("SIGTERM", () => process.exit(0));
