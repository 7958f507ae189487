/**
 * Many concurrent clients, run as its own process so its open-file limit can
 * be raised with `ulimit -n` (Bun has no process.setrlimit):
 *
 *   sh -c 'ulimit -n 4096 && exec bun test/reliability/load.ts HOST PORT COUNT'
 *
 * 1. opens COUNT connections and keeps them all open; prints
 *    {"connected": COUNT, "fdLimit": N} once they are;
 * 2. waits for a line on stdin (the test checks the server meanwhile);
 * 3. every client sends its own message and half-closes; every reply is
 *    verified as "Receive: " + message (in whatever chunks it came);
 * 4. prints {"ok": N, "failures": [...], "ms": N} and exits.
 */
import { readFileSync } from "node:fs";
import net from "node:net";
import { PrefixedEchoVerifier } from "../_reliability.ts";

const [host = "127.0.0.1", portText = "0", countText = "1000"] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
const fdLimit = Number(
  /Max open files\s+(\d+)/.exec(readFileSync("/proc/self/limits", "utf8"))?.[1],
);

const sockets = await Promise.all(
  Array.from(
    { length: count },
    (_, i) =>
      new Promise<net.Socket>((resolve, reject) => {
        const socket = net.connect({ host, port });
        socket.once("connect", () => resolve(socket));
        socket.once("error", (error) => reject(new Error(`client ${i}: ${error.message}`)));
      }),
  ),
);
console.log(JSON.stringify({ connected: sockets.length, fdLimit }));

// Wait for the go-ahead.
await new Promise((resolve) => process.stdin.once("data", resolve));
process.stdin.pause();

const started = performance.now();
const failures: string[] = [];
let ok = 0;
await Promise.all(
  sockets.map(
    (socket, i) =>
      new Promise<void>((resolve) => {
        const message = Buffer.from(`client ${i} of ${count}: ${Math.random().toString(36)}`);
        const verifier = new PrefixedEchoVerifier(Buffer.from("Receive: "), message);
        let failed = false;
        const fail = (why: string) => {
          if (!failed && failures.length < 10) failures.push(`client ${i}: ${why}`);
          failed = true;
        };
        socket.removeAllListeners("error");
        socket.on("data", (chunk: Buffer) => {
          try {
            verifier.push(chunk);
          } catch (error) {
            fail((error as Error).message);
          }
        });
        socket.on("error", (error) => fail(error.message));
        socket.on("close", () => {
          if (!failed) {
            try {
              verifier.finish();
              ok++;
            } catch (error) {
              fail((error as Error).message);
            }
          }
          resolve();
        });
        socket.end(message);
      }),
  ),
);
console.log(JSON.stringify({ ok, failures, ms: Math.round(performance.now() - started) }));
process.exit(0);
