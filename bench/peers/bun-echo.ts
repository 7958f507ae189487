/**
 * The least a Bun program can do per chunk: Bun.listen / Bun.udpSocket echo
 * prefix + each chunk (TCP) or prefix + each datagram (UDP), nothing else.
 * Not a tool anyone would use instead of sockdemo, so not one of the peers
 * sockdemo must beat: the bench shows it as the ceiling for any server
 * written for Bun, measured in the same run as sockdemo's Bun adapter.
 * Bun's write() takes what the kernel accepts and returns the count, so the
 * rest is queued here and reading pauses until it drains, as in the adapter.
 * Like sockdemo, it frees each chunk of 16 KiB or more as soon as it is
 * written instead of leaving it to the collector (see src/runtime/bun.ts):
 * without that, under the stream, its peak RSS is ~80 MB and its throughput
 * below sockdemo's.
 *
 * With --print it also writes sockdemo's two lines per chunk to stdout
 * (`data:  b'…' addr:  (…)`, `reply: …`, UDP's led by `at <local time>`),
 * batched into one write per event-loop turn as sockdemo does, but copies
 * each payload raw between the quotes instead of rendering it: less than any
 * program printing those lines must do, so its throughput is the most human
 * output can reach on Bun. For the bench's printable TCP messages its lines
 * are byte for byte sockdemo's.
 *
 *   bun bench/peers/bun-echo.ts tcp|udp [--port 0] [--prefix TEXT] [--print]
 *
 * Prints "port N" once bound (on stderr with --print).
 */
import { writeSync } from "node:fs";

const [proto = "tcp", ...rest] = process.argv.slice(2);
let port = 0;
let prefixText = "";
let printing = false;
for (let i = 0; i < rest.length; i += 2) {
  if (rest[i] === "--port") port = Number(rest[i + 1]);
  else if (rest[i] === "--prefix") prefixText = rest[i + 1] ?? "";
  else if (rest[i] === "--print") {
    printing = true;
    i--;
  } else throw new Error(`unknown option ${rest[i]}`);
}
const encoder = new TextEncoder();
const prefix = encoder.encode(prefixText);
const answer = (chunk: Uint8Array): Uint8Array => {
  if (prefix.length === 0) return chunk;
  const out = new Uint8Array(prefix.length + chunk.length);
  out.set(prefix);
  out.set(chunk, prefix.length);
  return out;
};

// --- --print: the output side, kept as cheap as it can be ---
const FLUSH_AT = 64 * 1024;
let out = new Uint8Array(4 * FLUSH_AT);
let used = 0;
let flushScheduled = false;
const flushOutput = (): void => {
  flushScheduled = false;
  for (let at = 0; at < used; ) at += writeSync(1, out, at, used - at);
  used = 0;
};
const put = (bytes: Uint8Array): void => {
  out.set(bytes, used);
  used += bytes.length;
};
const AT = encoder.encode("at ");
const DATA = encoder.encode("data:  b'");
const REPLY = encoder.encode("reply: b'");
const pad2 = (n: number) => String(n).padStart(2, "0");
/** `YYYY-MM-DD HH:MM:SS` of the current second, rebuilt once a second. */
let second = Number.NaN;
let secondText = new Uint8Array(0);
const putNow = (): void => {
  const ms = performance.timeOrigin + performance.now();
  const s = Math.floor(ms / 1000);
  if (s !== second) {
    const d = new Date(s * 1000);
    second = s;
    secondText = encoder.encode(
      `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.`,
    );
  }
  put(secondText);
  let micros = Math.floor((ms - s * 1000) * 1000);
  for (let i = used + 5; i >= used; i--, micros = Math.floor(micros / 10))
    out[i] = 0x30 + (micros % 10);
  used += 6;
  out[used++] = 0x20;
};
/** The two lines sockdemo prints for one chunk; `addr` is ` addr:  (…)\n`. */
const print = (chunk: Uint8Array, reply: Uint8Array, addr: Uint8Array, stamped: boolean): void => {
  const room = 2 * (reply.length + addr.length) + 64;
  if (used + room > out.length) flushOutput();
  if (room > out.length) out = new Uint8Array(room);
  if (stamped) {
    put(AT);
    putNow();
  }
  put(DATA);
  put(chunk);
  out[used++] = 0x27;
  put(addr);
  put(REPLY);
  put(reply);
  out[used++] = 0x27;
  put(addr);
  if (used >= FLUSH_AT) flushOutput();
  else if (!flushScheduled) {
    flushScheduled = true;
    setImmediate(flushOutput);
  }
};
const addrEnding = (address: string, port: number) =>
  encoder.encode(` addr:  ('${address}', ${port})\n`);

/** ArrayBuffer#transfer(0) drops the contents at once; only for a buffer of its own. */
const freeNow = (bytes: Uint8Array): void => {
  const buffer = bytes.buffer as ArrayBuffer;
  if (bytes.byteLength < 16 * 1024 || bytes.byteOffset !== 0) return;
  if (bytes.byteLength === buffer.byteLength) buffer.transfer(0);
};

interface Pending {
  addr: Uint8Array;
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
        socket.data = {
          addr: addrEnding(socket.remoteAddress, socket.remotePort),
          queue: [],
          finished: false,
        };
        socket.setNoDelay(true);
      },
      data(socket, chunk) {
        const reply = answer(chunk);
        if (printing) print(chunk, reply, socket.data.addr, false);
        socket.data.queue.push(reply);
        flush(socket);
        if (socket.data.queue.length > 0) return socket.pause();
        freeNow(chunk);
        if (reply !== chunk) freeNow(reply);
      },
      drain: flush,
      end(socket) {
        socket.data.finished = true;
        if (socket.data.queue.length === 0) socket.end();
      },
      error() {},
    },
  });
  (printing ? console.error : console.log)(`port ${server.port}`);
} else {
  // A few peers at a time: their address endings, by port.
  const endings = new Map<number, Uint8Array>();
  const udpAddrEnding = (address: string, port: number): Uint8Array => {
    const known = endings.get(port);
    if (known !== undefined) return known;
    const ending = addrEnding(address, port);
    endings.set(port, ending);
    return ending;
  };
  const socket = await globalThis.Bun.udpSocket({
    hostname: "127.0.0.1",
    port,
    binaryType: "uint8array",
    socket: {
      data(s, bytes, fromPort, fromAddress) {
        const reply = answer(bytes);
        if (printing) print(bytes, reply, udpAddrEnding(fromAddress, fromPort), true);
        s.send(reply, fromPort, fromAddress);
      },
      error() {},
    },
  });
  (printing ? console.error : console.log)(`port ${socket.port}`);
}
process.on("SIGTERM", () => process.exit(0));
