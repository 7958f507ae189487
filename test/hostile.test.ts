/**
 * Hostile input on the wire and UDP's failure modes, against the compiled
 * binary with each socket adapter:
 * - every byte value and a 5 MiB random flood through tcp-server and
 *   udp-server: stdout stays printable ASCII + \n (no ESC, no CR) and every
 *   payload printed round-trips to the exact bytes, as a Python bytes literal,
 *   as a hex dump and as --json base64 (checked by reliability/hostile_check.py);
 * - ICMP port unreachable on the client and on the server side, the largest
 *   datagrams, EMSGSIZE, and what each runtime reports for truncation.
 * Needs `bun scripts/build.ts` first.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { Buffer } from "node:buffer";
import dgram from "node:dgram";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  ADAPTERS,
  checkBinary,
  closedUdpPort,
  exchange,
  MiB,
  mb,
  PrefixedEchoVerifier,
  PrngStream,
  prefixedEcho,
  pythonHelper,
  reapAll,
  removeDir,
  runCli,
  sleep,
  startServer,
  tempDir,
  waitUntil,
  within,
} from "./_reliability.ts";

const log = (...parts: unknown[]) => console.log("[hostile]", ...parts);

let dir = "";
beforeAll(() => {
  checkBinary();
  dir = tempDir("hostile");
});
afterEach(reapAll);
afterAll(() => removeDir(dir));

const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);
/** Terminal escapes, bare CRs, a BEL and a NUL, as an attacker would send them. */
const ESCAPES = Buffer.from(
  "\x1b[2J\x1b[H\x1b]0;pwned\x07\rfake prompt$ \x1b[31mred\x1b[0m\r\n\x00\x7f\x9b\xff'\"\\",
  "latin1",
);
const FLOOD = 5 * MiB;

type Mode = "literal" | "hex" | "json";
const MODE_FLAGS: Record<Mode, string[]> = { literal: [], hex: ["--hex"], json: ["--json"] };

interface CheckResult {
  ok: boolean;
  problems: string[];
  lines: number;
  fileBytes: number;
  dataPayloads: number;
  replyPayloads: number;
  bytesChecked: Record<string, number>;
}

/** Send datagrams one at a time, each waiting for its echo (prefix + datagram). */
async function udpPingPong(
  host: string,
  port: number,
  datagrams: Uint8Array[],
  prefix: string,
): Promise<number> {
  const socket = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
  await new Promise<void>((resolve) => socket.bind(0, host, () => resolve()));
  const localPort = socket.address().port;
  let wake: ((reply: Buffer) => void) | undefined;
  socket.on("message", (reply) => wake?.(reply));
  try {
    for (const [i, datagram] of datagrams.entries()) {
      const replied = new Promise<Buffer>((resolve) => {
        wake = resolve;
      });
      socket.send(datagram, port, host);
      const reply = await within(replied, 3000, `echo of datagram ${i}`);
      const want = Buffer.concat([Buffer.from(prefix), datagram]);
      if (!reply.equals(want)) throw new Error(`echo of datagram ${i} differs`);
    }
  } finally {
    socket.close();
  }
  return localPort;
}

for (const adapter of ADAPTERS) {
  describe(`${adapter} adapter`, () => {
    for (const mode of ["literal", "hex", "json"] as Mode[]) {
      test(`tcp-server ${mode}: every byte value and a 5 MiB flood print safely and round-trip`, async () => {
        const file = join(dir, `tcp-${adapter}-${mode}.out`);
        const server = await startServer(["tcp-server", "--port", "0", ...MODE_FLAGS[mode]], {
          adapter,
          stdoutFile: file,
        });
        const first = Buffer.concat([ALL_BYTES, ESCAPES]);
        const small = await exchange(server.host, server.port, first);
        const verifier = new PrefixedEchoVerifier(Buffer.from("Receive: "), first);
        verifier.push(small.reply);
        verifier.finish();
        const flood = new PrngStream(31337).next(FLOOD);
        const big = await within(
          prefixedEcho(server.host, server.port, flood, "Receive: "),
          60_000,
          "5 MiB flood",
        );
        expect((await server.stop()).code).toBe(0);
        expect(server.stderr()).toBe("");
        const smallPath = join(dir, `tcp-${adapter}-${mode}-small.bin`);
        const floodPath = join(dir, `tcp-${adapter}-${mode}-flood.bin`);
        writeFileSync(smallPath, first);
        writeFileSync(floodPath, flood);
        const started = performance.now();
        const check = await pythonHelper<CheckResult>(
          "hostile_check.py",
          {
            file,
            mode,
            proto: "tcp",
            prefix: "Receive: ",
            expected: {
              [`127.0.0.1 ${small.localPort}`]: { path: smallPath },
              [`127.0.0.1 ${big.localPort}`]: { path: floodPath },
            },
          },
          60_000,
        );
        expect(check.problems).toEqual([]);
        expect(check.ok).toBe(true);
        expect(check.bytesChecked[`127.0.0.1 ${big.localPort}`]).toBe(FLOOD);
        expect(check.dataPayloads).toBe(check.replyPayloads);
        log(
          `${adapter} tcp ${mode}: ${first.length + FLOOD} hostile bytes in ${check.dataPayloads} chunks;` +
            ` ${check.lines} lines (${mb(check.fileBytes / 1024)}) all printable ASCII, every payload round-trips` +
            ` (checked in ${((performance.now() - started) / 1000).toFixed(1)} s)`,
        );
        for (const path of [file, smallPath, floodPath]) rmSync(path);
      }, 120_000);

      test(`udp-server ${mode}: every byte value and a 5 MiB flood print safely and round-trip`, async () => {
        const file = join(dir, `udp-${adapter}-${mode}.out`);
        const server = await startServer(
          ["udp-server", "--host", "::1", "--port", "0", "--echo", ...MODE_FLAGS[mode]],
          { adapter, stdoutFile: file },
        );
        const source = new PrngStream(4242);
        const datagrams: Uint8Array[] = [ALL_BYTES, ESCAPES];
        for (let sent = 0; sent < FLOOD; sent += 60_000) {
          datagrams.push(source.next(Math.min(60_000, FLOOD - sent)));
        }
        const localPort = await within(
          udpPingPong("::1", server.port, datagrams, "Receive: "),
          60_000,
          "UDP ping-pong",
        );
        expect((await server.stop()).code).toBe(0);
        expect(server.stderr()).toBe("");
        const path = join(dir, `udp-${adapter}-${mode}.bin`);
        writeFileSync(path, Buffer.concat(datagrams));
        const check = await pythonHelper<CheckResult>(
          "hostile_check.py",
          {
            file,
            mode,
            proto: "udp",
            prefix: "Receive: ",
            expected: {
              [`::1 ${localPort}`]: { path, lengths: datagrams.map((d) => d.length) },
            },
          },
          60_000,
        );
        expect(check.problems).toEqual([]);
        expect(check.ok).toBe(true);
        expect(check.dataPayloads).toBe(datagrams.length);
        log(
          `${adapter} udp ${mode}: ${datagrams.length} datagrams (${Buffer.concat(datagrams).length} bytes)` +
            ` round-trip; ${check.lines} lines (${mb(check.fileBytes / 1024)}) all printable ASCII`,
        );
        for (const done of [file, path]) rmSync(done);
      }, 120_000);
    }

    test("udp-client to a closed port: exit 1 and one ECONNREFUSED line", async () => {
      for (const host of ["127.0.0.1", "::1"]) {
        const port = await closedUdpPort(host);
        const ran = await runCli(["udp-client", "--host", host, "--port", String(port)], adapter);
        expect(ran.code).toBe(1);
        const lines = ran.stderr.split("\n").filter(Boolean);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toStartWith("sockdemo: ");
        expect(lines[0]).toContain("ECONNREFUSED");
        expect(lines[0]).toContain("nothing is listening on udp");
        expect(ran.stdout).toContain("sent:  b'Hello UDP'");
        log(`${adapter}: udp-client to closed ${host} port: exit 1 in ${ran.ms.toFixed(0)} ms`);
      }
    }, 30_000);

    test("udp-server --echo: a reply to a vanished client is one non-fatal line; serving goes on", async () => {
      const server = await startServer(["udp-server", "--port", "0", "--echo"], { adapter });
      const errorLines = () => server.stderr().split("\n").filter(Boolean);
      for (let i = 1; i <= 3; i++) {
        await pythonHelper("udp_peer.py", { action: "gone", host: server.host, port: server.port });
        await waitUntil(() => errorLines().length >= i, 3000, `error line ${i}`);
      }
      const later = await pythonHelper<{ results: { exact: boolean }[] }>("udp_peer.py", {
        action: "echo",
        host: server.host,
        port: server.port,
        sizes: [5, 500],
        prefix: "Receive: ",
      });
      expect(later.results.map((r) => r.exact)).toEqual([true, true]);
      await sleep(300);
      // One line per unreachable reply: Bun reports each ICMP error twice (see bindUdp).
      const lines = errorLines();
      expect(lines).toHaveLength(3);
      for (const line of lines) {
        expect(line).toMatch(
          /^sockdemo: read: connection refused \(ECONNREFUSED\): an earlier reply could not be delivered; still serving$/,
        );
      }
      expect((await server.stop()).code).toBe(0);
      expect(server.stdout()).toContain("summary: 5 datagrams,");
    }, 30_000);

    test("the largest datagrams echo exactly; a reply too big for one datagram is EMSGSIZE, not fatal", async () => {
      const v4 = await startServer(["udp-server", "--port", "0", "--echo", "--prefix", ""], {
        adapter,
      });
      const sizes = [0, 1, 1472, 1473, 9000, 65_000, 65_507];
      const echoed = await pythonHelper<{
        results: { size: number; reply: number; exact: boolean }[];
      }>("udp_peer.py", { action: "echo", host: "127.0.0.1", port: v4.port, sizes, prefix: "" });
      expect(echoed.results).toEqual(sizes.map((size) => ({ size, reply: size, exact: true })));
      expect((await v4.stop()).code).toBe(0);
      expect(v4.stderr()).toBe("");

      // IPv6 carries 20 more bytes; --json shows what the runtime says about truncation.
      const v6 = await startServer(
        ["udp-server", "--host", "::1", "--port", "0", "--echo", "--prefix", "", "--json"],
        { adapter },
      );
      const big6 = await pythonHelper<{
        results: { size: number; reply: number; exact: boolean }[];
      }>("udp_peer.py", {
        action: "echo",
        host: "::1",
        port: v6.port,
        sizes: [65_527],
        prefix: "",
      });
      expect(big6.results).toEqual([{ size: 65_527, reply: 65_527, exact: true }]);
      expect((await v6.stop()).code).toBe(0);
      const data = v6
        .stdout()
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { event: string; bytes?: number; truncated?: boolean })
        .filter((e) => e.event === "data");
      expect(data).toHaveLength(1);
      expect(data[0]?.bytes).toBe(65_527);
      // Nothing on loopback exceeds the receive buffer, so nothing is cut; whatever the flag says, no crash.
      expect(data[0]?.truncated).toBe(false);

      // With the default prefix a 65,507-byte datagram's reply would be 65,516 bytes.
      const prefixed = await startServer(["udp-server", "--port", "0", "--echo"], { adapter });
      const tooBig = await pythonHelper<{ results: { size: number; reply: number | null }[] }>(
        "udp_peer.py",
        {
          action: "echo",
          host: "127.0.0.1",
          port: prefixed.port,
          sizes: [65_507],
          prefix: "Receive: ",
          timeout: 1,
        },
      );
      expect(tooBig.results[0]?.reply).toBeNull();
      await prefixed.waitFor(/EMSGSIZE/, 3000, "stderr");
      const after = await pythonHelper<{ results: { exact: boolean }[] }>("udp_peer.py", {
        action: "echo",
        host: "127.0.0.1",
        port: prefixed.port,
        sizes: [100],
        prefix: "Receive: ",
      });
      expect(after.results[0]?.exact).toBe(true);
      expect((await prefixed.stop()).code).toBe(0);
      const lines = prefixed.stderr().split("\n").filter(Boolean);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^sockdemo: send 127\.0\.0\.1:\d+: .*\(EMSGSIZE\) — .*65507 bytes/);
      log(
        `${adapter}: datagrams ${sizes.join(", ")} (IPv4) and 65527 (IPv6) echoed exactly; truncated flag: ${data[0]?.truncated}; 65507 + prefix: one EMSGSIZE line, still serving`,
      );
    }, 30_000);

    test("udp-client --stdin with a 70,000-byte line: exit 1 with EMSGSIZE, no crash", async () => {
      for (const host of ["127.0.0.1", "::1"]) {
        const port = await closedUdpPort(host);
        const ran = await runCli(
          ["udp-client", "--stdin", "--host", host, "--port", String(port)],
          adapter,
          { stdin: `${"A".repeat(70_000)}\n` },
        );
        expect(ran.code).toBe(1);
        const lines = ran.stderr.split("\n").filter(Boolean);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(
          /^sockdemo: send .*: message too long for one datagram \(EMSGSIZE\) — one UDP datagram holds at most 65507 bytes over IPv4 \(65527 over IPv6\)$/,
        );
        expect(ran.stderr).not.toContain("    at ");
      }
    }, 30_000);
  });
}
