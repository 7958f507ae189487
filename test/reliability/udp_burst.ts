/**
 * Sends COUNT numbered datagrams of SIZE bytes to 127.0.0.1:PORT through one
 * socket adapter, alternating send() and reply() and waiting for none of
 * them, then closes the socket and exits as soon as close() resolves: a
 * datagram close() did not wait for is lost.
 *
 *   bun test/reliability/udp_burst.ts bun|node PORT COUNT SIZE
 *
 * Datagram n starts with n (4 bytes, big-endian); byte j after that is
 * (n + j) mod 256 (udp_sink.py checks it). Prints one JSON object: how many
 * send() promises had resolved when close() did, the failures, and how long
 * close() took from the first send.
 */
import { bunRuntime } from "../../src/runtime/bun.ts";
import { nodeRuntime } from "../../src/runtime/node.ts";

const [adapter, portText, countText, sizeText] = process.argv.slice(2);
const runtime = adapter === "node" ? nodeRuntime : bunRuntime;
const port = Number(portText);
const count = Number(countText);
const size = Number(sizeText);

const socket = await runtime.bindUdp({ host: "127.0.0.1", port: 0, message() {}, error() {} });
const peer = { address: "127.0.0.1", port, family: "IPv4" as const };
let sendsResolved = 0;
const failures: string[] = [];
const started = performance.now();
for (let n = 0; n < count; n++) {
  const bytes = new Uint8Array(size);
  new DataView(bytes.buffer).setUint32(0, n);
  for (let j = 4; j < size; j++) bytes[j] = (n + j) & 0xff;
  if (n % 2 === 0) {
    socket.send(bytes, { host: peer.address, port }).then(
      () => sendsResolved++,
      (error: { code?: string }) => failures.push(`send ${n}: ${error.code}`),
    );
  } else socket.reply(bytes, peer, (error) => failures.push(`reply ${n}: ${error.code}`));
}
await socket.close();
const closeMs = performance.now() - started;
console.log(JSON.stringify({ sendsResolved, failures, closeMs }));
process.exit(0);
