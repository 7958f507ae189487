/**
 * Reliability under load and faults, against the compiled binary with each
 * socket adapter: byte-exact echo of large concurrent streams, bounded memory
 * with a peer that never reads, a thousand concurrent clients, storms of
 * resets / vanishing / half-open peers, slowloris guards, and signals.
 *
 * Figures worth quoting (RSS peaks, fd counts, timings) are printed as
 * `[reliability] ...` lines. Needs `bun scripts/build.ts` first.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  ADAPTERS,
  attempt,
  checkBinary,
  collect,
  compileHelper,
  exchange,
  fdCount,
  HELPERS,
  hold,
  MiB,
  mb,
  openFileLimit,
  PrefixedEchoVerifier,
  PrngStream,
  prefixedEcho,
  RssSampler,
  reapAll,
  removeDir,
  run,
  StreamChecker,
  sleep,
  spawnTracked,
  startServer,
  streamEcho,
  tempDir,
  waitUntil,
  within,
} from "./_reliability.ts";

const log = (...parts: unknown[]) => console.log("[reliability]", ...parts);

let dir = "";
beforeAll(() => {
  checkBinary();
  dir = tempDir("reliability");
});
afterEach(reapAll);
afterAll(() => removeDir(dir));

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("the verifiers themselves", () => {
  const P = Buffer.from("Receive: ");
  const check = (sent: string, reply: string, pieces = 1) => {
    const verifier = new PrefixedEchoVerifier(P, Buffer.from(sent));
    const bytes = Buffer.from(reply);
    const step = Math.ceil(bytes.length / pieces) || 1;
    for (let at = 0; at < bytes.length; at += step) verifier.push(bytes.subarray(at, at + step));
    return verifier.finish();
  };

  test("a prefixed echo is accepted for any split, also one that the data itself imitates", () => {
    expect(check("abc", "Receive: abc")).toBe(1);
    expect(check("abc", "Receive: aReceive: bc", 7)).toBe(2);
    expect(check("xReceive: y", "Receive: xReceive: y")).toBe(1);
    expect(check("xReceive: y", "Receive: xReceive: Receive: y", 29)).toBe(2);
    expect(check("", "")).toBe(0);
  });

  test("a lost, extra, reordered or unprefixed byte is rejected", () => {
    expect(() => check("abc", "Receive: ab")).toThrow(/ended early/);
    expect(() => check("abc", "Receive: abcd")).toThrow(/fits no split/);
    expect(() => check("abc", "Receive: abcReceive: ")).toThrow(/ended early/);
    expect(() => check("abc", "Receive: bReceive: ac")).toThrow(/fits no split/);
    expect(() => check("abc", "abc")).toThrow(/fits no split/);
    expect(() => check("abc", "")).toThrow(/ended early/);
    expect(() => check("ab", "Receive: aReceive: Receive: b")).toThrow(/fits no split/);
  });

  test("the pseudo-random stream checker catches one changed byte anywhere", () => {
    const sent = new PrngStream(9).next(100_000);
    const ok = new StreamChecker(9);
    ok.push(sent.subarray(0, 3));
    ok.push(sent.subarray(3));
    expect(ok.received).toBe(100_000);
    const bad = Buffer.from(sent);
    bad[77_777] = (bad[77_777] as number) ^ 1;
    expect(() => new StreamChecker(9).push(bad)).toThrow(/byte 77777 differs/);
  });
});

for (const adapter of ADAPTERS) {
  describe(`${adapter} adapter`, () => {
    test("byte-exact: 16 connections × 32 MiB of random bytes through a pure echo", async () => {
      const server = await startServer(["tcp-server", "--port", "0", "--prefix", "", "--quiet"], {
        adapter,
      });
      const rss = new RssSampler(server.pid);
      const started = performance.now();
      const results = await within(
        Promise.all(
          Array.from({ length: 16 }, (_, k) =>
            streamEcho(server.host, server.port, 32 * MiB, 1000 + k),
          ),
        ),
        80_000,
        "16 × 32 MiB echo streams",
      );
      const seconds = (performance.now() - started) / 1000;
      const peak = rss.stop();
      const total = results.reduce((sum, r) => sum + r.received, 0);
      for (const result of results) expect(result.received).toBe(32 * MiB);
      expect(total).toBe(512 * MiB);
      const stopped = await server.stop();
      expect(stopped.code).toBe(0);
      expect(server.stderr()).toBe("");
      expect(server.stdout()).toContain(
        `summary: 16 connections, ${512 * MiB} bytes in, ${512 * MiB} bytes out`,
      );
      log(
        `${adapter}: 16 × 32 MiB echoed byte-exact (${total} bytes verified) in ${seconds.toFixed(2)} s` +
          ` (${((2 * total) / MiB / seconds).toFixed(0)} MiB/s through the server), server RSS peak ${mb(peak)}`,
      );
    }, 90_000);

    test("byte-exact with the default prefix: 16 × 1 MiB over ::1, human output to a file", async () => {
      const file = join(dir, `prefixed-${adapter}.out`);
      const server = await startServer(["tcp-server", "--host", "::1", "--port", "0"], {
        adapter,
        stdoutFile: file,
      });
      expect(server.host).toBe("::1");
      const payloads = Array.from({ length: 16 }, (_, k) => new PrngStream(2000 + k).next(MiB));
      const started = performance.now();
      const results = await within(
        Promise.all(payloads.map((p) => prefixedEcho("::1", server.port, p, "Receive: "))),
        60_000,
        "16 × 1 MiB prefixed echoes",
      );
      const seconds = (performance.now() - started) / 1000;
      expect((await server.stop()).code).toBe(0);
      expect(server.stderr()).toBe("");
      const out = readFileSync(file, "utf8");
      let chunks = 0;
      for (const result of results) {
        // Verified by PrefixedEchoVerifier: reply = concat("Receive: " + c) over a split of the sent MiB.
        expect(result.sent).toBe(MiB);
        const n = result.chunks as number;
        chunks += n;
        const peer = `('::1', ${result.localPort}, 0, 0)`;
        // The server printed each chunk it got and its reply: as many as the client saw prefixes.
        const dataLines = out.split(`addr:  ${peer}\n`).length - 1;
        expect(dataLines).toBe(2 * n);
        expect(out).toContain(
          `${peer} closed normally: the peer sent FIN first (done sending), then we did; ${MiB} bytes in, ${MiB + 9 * n} bytes out`,
        );
      }
      expect(out).toContain(
        `summary: 16 connections, ${16 * MiB} bytes in, ${16 * MiB + 9 * chunks} bytes out`,
      );
      log(
        `${adapter}: 16 × 1 MiB with prefix "Receive: " verified split by split (${chunks} server chunks,` +
          ` ${16 * MiB} bytes + ${chunks} prefixes) in ${seconds.toFixed(2)} s; human log ${mb(out.length / 1024)}`,
      );
      rmSync(file);
    }, 90_000);

    test("bounded memory: a client sends 200 MiB and does not read; others are still served", async () => {
      const server = await startServer(["tcp-server", "--port", "0", "--prefix", "", "--quiet"], {
        adapter,
      });
      const rss = new RssSampler(server.pid, 20);
      const baseline = rss.sample();
      let release!: () => void;
      const reading = new Promise<void>((resolve) => {
        release = resolve;
      });
      let sent = 0;
      const big = streamEcho(server.host, server.port, 200 * MiB, 77, {
        paused: reading,
        onProgress: (n) => {
          sent = n;
        },
      });
      big.catch(() => {}); // awaited below; keep an early failure from going unhandled
      // Wait until the sender is stuck: nothing more accepted for 500 ms.
      let last = -1;
      let since = performance.now();
      await waitUntil(
        () => {
          if (sent !== last) {
            last = sent;
            since = performance.now();
            return false;
          }
          return sent > 0 && performance.now() - since > 500;
        },
        30_000,
        "the non-reading client's writes to stall",
      );
      const stalledAt = sent;
      // Backpressure reached the sender: the server did not swallow the 200 MiB.
      expect(stalledAt).toBeLessThan(200 * MiB);
      const stalledRss = rss.sample();
      // Meanwhile another client is served.
      const other = await exchange(server.host, server.port, "anyone there?", 5000);
      expect(other.reply.toString()).toBe("anyone there?");
      expect(other.end).toBe("eof");
      await sleep(300);
      const whileStalled = rss.peakKiB;
      release();
      const result = await within(big, 60_000, "the 200 MiB echo once the client reads");
      const peak = rss.stop();
      expect(result.received).toBe(200 * MiB);
      expect(peak).toBeLessThan(100 * 1024);
      expect((await server.stop()).code).toBe(0);
      expect(server.stderr()).toBe("");
      log(
        `${adapter}: non-reading client stalled after ${(stalledAt / MiB).toFixed(1)} MiB sent;` +
          ` server RSS ${mb(baseline)} idle, ${mb(stalledRss)} stalled (peak ${mb(whileStalled)} while stalled),` +
          ` peak ${mb(peak)} over the whole 200 MiB (${result.received} bytes verified, ${rss.samples} samples)`,
      );
    }, 90_000);

    test("1,000 concurrent clients on one server all get their replies", async () => {
      const server = await startServer(["tcp-server", "--port", "0", "--quiet"], {
        adapter,
        fdLimit: 4096,
      });
      const serverLimit = openFileLimit(server.pid);
      expect(serverLimit).toBe(4096);
      const baseline = fdCount(server.pid);
      const load = spawnTracked(
        [
          "sh",
          "-c",
          `ulimit -n 4096 && exec '${process.execPath}' '${join(HELPERS, "load.ts")}' ${server.host} ${server.port} 1000`,
        ],
        { stdin: "pipe" },
      );
      const out = collect(load.stdout);
      const err = collect(load.stderr);
      const line = (n: number) =>
        waitUntil(
          () => {
            const lines = out.text().split("\n").filter(Boolean);
            if (lines.length >= n) return JSON.parse(lines[n - 1] as string);
            if (load.exitCode !== null) throw new Error(`load helper exited: ${err.text()}`);
            return undefined;
          },
          30_000,
          `load helper line ${n}`,
        );
      const connected = (await line(1)) as { connected: number; fdLimit: number };
      expect(connected.connected).toBe(1000);
      // All 1,000 are open on the server at the same time.
      const open = await waitUntil(
        () => fdCount(server.pid) - baseline >= 1000 && fdCount(server.pid) - baseline,
        10_000,
        "the server to hold 1,000 connections",
      );
      const sink = load.stdin as Bun.FileSink;
      sink.write("go\n");
      await sink.flush();
      const done = (await line(2)) as { ok: number; failures: string[]; ms: number };
      expect(done.failures).toEqual([]);
      expect(done.ok).toBe(1000);
      expect((await server.stop()).code).toBe(0);
      expect(server.stdout()).toMatch(/summary: 1000 connections, \d+ bytes in/);
      expect(server.stderr()).toBe("");
      log(
        `${adapter}: fd limit used: server ${serverLimit} (sh -c 'ulimit -n 4096 && exec sockdemo ...'),` +
          ` load helper ${connected.fdLimit}, test process ${openFileLimit("self")};` +
          ` ${open} connections open on the server at once; 1000/1000 verified replies in ${done.ms} ms`,
      );
    }, 60_000);

    test("fault storm: 10,000 resetting, vanishing, EPIPE and half-open peers", async () => {
      const storm = compileHelper("storm");
      const server = await startServer(["tcp-server", "--port", "0", "--quiet"], { adapter });
      const warm = await exchange(server.host, server.port, "warm up");
      expect(warm.reply.toString()).toBe("Receive: warm up");
      await sleep(200);
      const baseline = fdCount(server.pid);
      const rss = new RssSampler(server.pid);
      const ran = await run([storm, server.host, String(server.port), "10000", "16"], {
        timeoutMs: 60_000,
      });
      const right = fdCount(server.pid);
      expect(ran.code).toBe(0);
      const result = JSON.parse(ran.stdout) as {
        connected: number;
        connectErrors: number;
        firstError: string;
        ms: number;
      };
      expect(result.firstError).toBe("");
      expect(result.connected).toBe(10_000);
      // Still up and answering.
      const after = await exchange(server.host, server.port, "after the storm");
      expect(after.reply.toString()).toBe("Receive: after the storm");
      const stormEnded = performance.now();
      const settled = await waitUntil(
        () => fdCount(server.pid) <= baseline && fdCount(server.pid),
        5000,
        `the server's fds to return to ${baseline}`,
      );
      const settleMs = performance.now() - stormEnded;
      const peak = rss.stop();
      expect((await server.stop()).code).toBe(0);
      expect(server.stderr()).toBe("");
      expect(server.stdout()).toContain("summary: 10002 connections,");
      log(
        `${adapter}: storm of 10,000 connections in ${result.ms} ms (0 connect errors);` +
          ` server fds ${baseline} before, peak ${rss.peakFds} during, ${right} as the storm ended,` +
          ` ${settled} after ${settleMs.toFixed(0)} ms; RSS peak ${mb(peak)}`,
      );
    }, 90_000);

    test("resets, vanishing peers and EPIPE are reported as resets, half-open peers close normally", async () => {
      const storm = compileHelper("storm");
      const server = await startServer(["tcp-server", "--port", "0"], { adapter });
      // One thread: each of the ten roles twice, in order; the half-open peers stay 500 ms
      // after the last connection, so their close cannot overtake the server's reply.
      const ran = await run([storm, server.host, String(server.port), "20", "1", "500"], {
        timeoutMs: 30_000,
      });
      expect(JSON.parse(ran.stdout).connected).toBe(20);
      await waitUntil(
        () => (server.stdout().match(/ (?:reset by peer|closed normally)/g) ?? []).length >= 20,
        5000,
        "20 close lines",
      );
      expect((await server.stop()).code).toBe(0);
      const out = server.stdout();
      expect(out.match(/ reset by peer; /g)?.length).toBe(14);
      expect(out.match(/ closed normally: the peer sent FIN first/g)?.length).toBe(6);
      expect(out).not.toContain("closed by an error");
      expect(out).toContain("summary: 20 connections,");
      expect(server.stderr()).toBe("");
    }, 30_000);

    test("slowloris: --max-conns 3 refuses the fourth with a reset while the three still work", async () => {
      const server = await startServer(["tcp-server", "--port", "0", "--max-conns", "3"], {
        adapter,
      });
      const held = [];
      for (let i = 0; i < 3; i++) {
        const h = await hold(server.host, server.port);
        held.push(h);
        await server.waitFor(new RegExp(`connection from \\('127\\.0\\.0\\.1', ${h.localPort}\\)`));
      }
      // The kernel completes the handshake; then the server accepts and resets at once, which
      // can reach the client before or after its connect callback.
      const extra = await attempt(server.host, server.port);
      expect(["ECONNRESET", "eof"]).toContain(extra.end);
      expect(extra.data.length).toBe(0);
      const line = await server.waitFor(
        /refused \('127\.0\.0\.1', (\d+)\): --max-conns 3 connections are open/,
      );
      const refusedPort = Number(line[1]);
      expect(held.map((h) => h.localPort)).not.toContain(refusedPort);
      if (extra.localPort !== undefined) expect(refusedPort).toBe(extra.localPort);
      // The three held connections still work.
      for (const [i, h] of held.entries()) {
        h.socket.end(`held ${i}`);
        const closed = await within(h.closed, 3000, `held client ${i} to finish`);
        expect(closed.end).toBe("eof");
        expect(Buffer.concat(h.data).toString()).toBe(`Receive: held ${i}`);
      }
      // A slot is free again.
      const next = await exchange(server.host, server.port, "next");
      expect(next.reply.toString()).toBe("Receive: next");
      expect((await server.stop()).code).toBe(0);
      expect(server.stdout()).toContain("summary: 4 connections,");
      expect(server.stderr()).toBe("");
      log(
        `${adapter}: --max-conns 3: the 4th client was reset (${extra.end}${extra.connected ? "" : ", before its connect callback"}) ${extra.ms.toFixed(1)} ms after connecting; the 3 held ones still answered`,
      );
    }, 30_000);

    test("slowloris: --idle-timeout 0.5 closes a silent connection, not a slow but active one", async () => {
      const server = await startServer(["tcp-server", "--port", "0", "--idle-timeout", "0.5"], {
        adapter,
      });
      const silent = await hold(server.host, server.port);
      const openedAt = performance.now();
      const active = await hold(server.host, server.port);
      // The active client sends a byte every 150 ms for 1.2 s: never idle for 0.5 s.
      for (let i = 0; i < 8; i++) {
        active.socket.write("x");
        await sleep(150);
      }
      const closed = await within(silent.closed, 3000, "the silent connection to be closed");
      const idleMs = closed.at - openedAt;
      expect(idleMs).toBeGreaterThan(400);
      expect(idleMs).toBeLessThan(2500);
      expect(["ECONNRESET", "eof"]).toContain(closed.end);
      await server.waitFor(
        new RegExp(`\\('127\\.0\\.0\\.1', ${silent.localPort}\\) closed after idle timeout`),
      );
      active.socket.end();
      const activeEnd = await within(active.closed, 3000, "the active client to finish");
      expect(activeEnd.end).toBe("eof");
      expect(Buffer.concat(active.data).toString()).toBe("Receive: x".repeat(8));
      await server.waitFor(
        new RegExp(`${escapeRegExp(`('127.0.0.1', ${active.localPort})`)} closed normally`),
      );
      expect((await server.stop()).code).toBe(0);
      log(
        `${adapter}: --idle-timeout 0.5 closed the silent connection after ${idleMs.toFixed(0)} ms (${closed.end}); the active one lived 1.2 s`,
      );
    }, 30_000);

    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      test(`${signal} after traffic: tcp-server and udp-server print a summary and exit 0`, async () => {
        const tcp = await startServer(["tcp-server", "--port", "0"], { adapter });
        const a = await exchange(tcp.host, tcp.port, "one");
        const b = await exchange(tcp.host, tcp.port, "three");
        expect(a.reply.toString() + b.reply.toString()).toBe("Receive: oneReceive: three");
        await tcp.waitFor(/closed normally[^\n]*\n[\s\S]*closed normally/);
        const tcpStop = await tcp.stop(signal);
        expect(tcpStop.code).toBe(0);
        expect(tcp.stdout()).toMatch(
          /\nsummary: 2 connections, 8 bytes in, 26 bytes out, \d+(\.\d+)? (ms|s)\n$/,
        );
        expect(tcp.stderr()).toBe("");

        const udp = await startServer(["udp-server", "--port", "0", "--echo"], { adapter });
        const dgram = await import("node:dgram");
        const socket = dgram.createSocket("udp4");
        const replies: string[] = [];
        socket.on("message", (m) => replies.push(m.toString()));
        for (const m of ["ab", "cde"]) {
          await new Promise<void>((resolve, reject) =>
            socket.send(m, udp.port, udp.host, (e) => (e ? reject(e) : resolve())),
          );
          await waitUntil(() => replies.length > 0 && replies.at(-1)?.endsWith(m), 2000, "echo");
        }
        socket.close();
        const udpStop = await udp.stop(signal);
        expect(udpStop.code).toBe(0);
        expect(udp.stdout()).toMatch(
          /\nsummary: 2 datagrams, 5 bytes in, 23 bytes out, \d+(\.\d+)? (ms|s)\n$/,
        );
        expect(udp.stderr()).toBe("");
        log(
          `${adapter}: ${signal}: tcp-server exited 0 in ${tcpStop.ms.toFixed(0)} ms, udp-server in ${udpStop.ms.toFixed(0)} ms`,
        );
      }, 30_000);
    }

    test("a second SIGINT while stopping ends the server at once", async () => {
      const server = await startServer(["tcp-server", "--port", "0"], { adapter });
      // A client in the middle of a big upload that never reads its replies.
      const busy = await hold(server.host, server.port);
      busy.socket.on("error", () => {});
      busy.socket.write(Buffer.alloc(8 * MiB, 0x61));
      await server.waitFor(/data: {2}b'a/);
      const started = performance.now();
      server.proc.kill("SIGINT");
      server.proc.kill("SIGINT");
      const code = await within(server.proc.exited, 1000, "exit within 1 s of two SIGINTs");
      const ms = performance.now() - started;
      expect([0, 130]).toContain(code);
      busy.socket.destroy();
      log(`${adapter}: two SIGINTs: exit ${code} after ${ms.toFixed(0)} ms`);
    }, 30_000);
  });
}
