/**
 * sockdemo's behaviour over real sockets, the same expectations for every way
 * it runs (test/_runners.ts). A difference between runners is a bug, unless it
 * is a named Gap of that runtime; then the test asserts what really happens.
 *
 * Needs the built artifacts: ./node_modules/.bin/bun scripts/build.ts
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createSocket } from "node:dgram";
import { connect, createServer } from "node:net";
import { expectOk, type Finished, killAll, type Proc, Scope, scoped } from "./_cli.ts";
import { BARE_PATH, checkBuilt, RUNNERS, type Runner, VERSION } from "./_runners.ts";

checkBuilt();
afterAll(killAll);

const DATETIME = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{6})?`;
const started = (who: "server" | "client") => new RegExp(`^The ${who} started at ${DATETIME}$`);
const UDP_DATA =
  /^at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})? data: {2}b'Hello UDP' addr: {2}\('127\.0\.0\.1', \d+\)$/;
/** Python's address tuple of the client's end, from tcp-client's `connected to ... from (...)`. */
const CONNECTED = /^connected to (\(.+\)) from (\('(?:[\d.]+|[\da-f:]+)', (\d+)(?:, 0, 0)?\))$/;
const ESC = "\x1b";
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** A port nothing listens on right now (bound by us, then released). */
async function freePort(proto: "tcp" | "udp", host = "127.0.0.1"): Promise<number> {
  const held = await holdPort(proto, host);
  await held.close();
  return held.port;
}

/** Occupy a port from this process, as "another program" would. */
async function holdPort(
  proto: "tcp" | "udp",
  host = "127.0.0.1",
): Promise<{ port: number; close(): Promise<void> }> {
  if (proto === "tcp") {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, host, () => resolve());
    });
    const { port } = server.address() as { port: number };
    return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }
  const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(0, host, () => resolve());
  });
  const { port } = socket.address();
  return { port, close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
}

/**
 * `expect(received).toMatchObject(shape)` on a copy: Bun 1.4.5's toMatchObject
 * writes the asymmetric matchers (expect.any, expect.stringMatching) into the
 * object it checks, replacing the real values.
 */
function expectShape(received: unknown, shape: object): void {
  expect(structuredClone(received)).toMatchObject(shape as Record<string, unknown>);
}

/** The one line, exactly once. */
function expectLineOnce(lines: string[], line: string): void {
  expect(lines.filter((l) => l === line)).toEqual([line]);
}

/** One stderr line `sockdemo: ...`, no stack trace, with this exit code. */
function expectOneError(ran: Finished, code: number): string {
  expectShape(
    { code: ran.code, stderr: ran.stderrLines },
    {
      code,
      stderr: [expect.stringMatching(/^sockdemo: /)],
    },
  );
  expect(ran.stdout + ran.stderr).not.toMatch(/^\s+at /m);
  return ran.stderrLines[0] as string;
}

interface JsonEvent {
  event: string;
  role: string;
  time: string;
  base64?: string;
  bytes?: number;
  [key: string]: unknown;
}

/** Every stdout line as a JSON event with event, role and an ISO time. */
function jsonEvents(ran: { lines: string[] }): JsonEvent[] {
  expect(ran.lines.length).toBeGreaterThan(0);
  return ran.lines.map((line) => {
    const event = JSON.parse(line) as JsonEvent;
    expectShape(event, {
      event: expect.any(String),
      role: expect.any(String),
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    expect(Number.isNaN(Date.parse(event.time))).toBe(false);
    return event;
  });
}

const decoded = (e: JsonEvent | undefined) =>
  Buffer.from(e?.base64 ?? "", "base64").toString("latin1");

test("the binary's environment has no JavaScript runtime on its PATH", () => {
  const binary = RUNNERS.find((r) => r.name === "binary") as Runner;
  expect(Object.keys(binary.env)).toEqual(["PATH"]);
  expect(binary.env.PATH).toBe(BARE_PATH);
  for (const name of ["node", "bun", "deno", "nodejs"]) {
    expect(Bun.which(name, { PATH: BARE_PATH })).toBeNull();
  }
  // Still a usable PATH otherwise.
  expect(Bun.which("sh", { PATH: BARE_PATH })).not.toBeNull();
}, 5_000);

for (const runner of RUNNERS) {
  describe(runner.name, () => {
    /** Servers the read-only tests share: a default tcp-server and a udp-server --echo. */
    const shared = new Scope();
    let tcp: Proc;
    let tcpPort: number;
    let udp: Proc;
    let udpPort: number;
    beforeAll(async () => {
      tcp = shared.cli(runner, ["tcp-server", "--port", "0"]);
      udp = shared.cli(runner, ["udp-server", "--port", "0", "--echo"]);
      [tcpPort, udpPort] = (await Promise.all([tcp.listening(), udp.listening()])).map(
        (l) => l.port,
      ) as [number, number];
    }, 20_000);
    afterAll(() => shared.close());

    describe("tcp", () => {
      test("tcp-server + tcp-client: the tutorial's exchange", async () => {
        const client = await scoped((s) =>
          s.run(runner, ["tcp-client", "--port", String(tcpPort)]),
        );
        expectOk(client);
        expect(client.lines[0]).toMatch(started("client"));
        expectLineOnce(client.lines, "b'Receive: Hello TCP'");
        const [, serverTuple, clientTuple] = client.lines
          .map((l) => l.match(CONNECTED))
          .find(Boolean) as RegExpMatchArray;
        expect(serverTuple).toBe(`('127.0.0.1', ${tcpPort})`);

        await tcp.waitForLine(
          new RegExp(`^data: {2}b'Hello TCP' addr: {2}${escapeRegExp(clientTuple as string)}$`),
          5000,
        );
        expect(clientTuple).toMatch(/^\('127\.0\.0\.1', \d+\)$/);
        expect(tcp.lines[0]).toMatch(started("server"));
        expect(tcp.lines).toContain(`listening on tcp 127.0.0.1:${tcpPort}`);
        expect(tcp.lines).toContain("Waiting...");
        expect(tcp.lines.indexOf("Waiting...")).toBeLessThan(
          tcp.lines.findIndex((l) => l.startsWith("data:")),
        );
      }, 20_000);

      test("a custom message, --prefix '' and --prefix 007; --count 1 exits by itself", async () => {
        await scoped(async (s) => {
          const echo = s.cli(runner, ["tcp-server", "--port", "0", "--prefix", "", "--count", "1"]);
          const zeros = s.cli(runner, ["tcp-server", "--port=0", "--prefix", "007", "--count=1"]);
          const [echoAt, zerosAt] = await Promise.all([echo.listening(), zeros.listening()]);
          const [toEcho, toZeros] = await Promise.all([
            s.run(runner, ["tcp-client", "--port", String(echoAt.port), "it's", "two words"]),
            s.run(runner, ["tcp-client", "--port", String(zerosAt.port), "custom"]),
          ]);
          expectOk(toEcho);
          // Python's repr picks double quotes for bytes holding ' and no ".
          expectLineOnce(toEcho.lines, `b"it's two words"`);
          expectOk(toZeros);
          expectLineOnce(toZeros.lines, "b'007custom'");

          const [echoDone, zerosDone] = await Promise.all([echo.wait(5000), zeros.wait(5000)]);
          expectOk(echoDone);
          expect(echoDone.lines).toContainEqual(
            expect.stringMatching(/^data: {2}b"it's two words" addr: {2}\('127\.0\.0\.1', \d+\)$/),
          );
          expect(echoDone.lines.at(-1)).toMatch(
            /^summary: 1 connection, 14 bytes in, 14 bytes out, /,
          );
          expectOk(zerosDone);
          expect(zerosDone.lines).toContainEqual(
            expect.stringMatching(/^reply: b'007custom' addr: {2}\('127\.0\.0\.1', \d+\)$/),
          );
        });
      }, 20_000);

      test("--no-reply: the server only prints; the client gets an empty reply", async () => {
        await scoped(async (s) => {
          const server = s.cli(runner, ["tcp-server", "--port", "0", "--no-reply", "--count", "1"]);
          const { port } = await server.listening();
          const client = await s.run(runner, ["tcp-client", "--port", String(port)]);
          expectOk(client);
          expectLineOnce(client.lines, "b''");
          expect(client.stdout).not.toContain("Receive");
          const done = await server.wait(5000);
          expectOk(done);
          expect(done.lines).toContainEqual(
            expect.stringMatching(/^data: {2}b'Hello TCP' addr: {2}\('127\.0\.0\.1', \d+\)$/),
          );
          expect(done.stdout).not.toMatch(/^reply:/m);
          expect(done.lines.at(-1)).toMatch(/^summary: 1 connection, 9 bytes in, 0 bytes out, /);
        });
      }, 20_000);

      test("20 clients at once each get their own reply", async () => {
        const clients = await scoped((s) =>
          Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              s.run(runner, ["tcp-client", "--port", String(tcpPort), `client-${i}`], {
                timeoutMs: 30_000,
              }),
            ),
          ),
        );
        clients.forEach((client, i) => {
          expectOk(client);
          expectLineOnce(client.lines, `b'Receive: client-${i}'`);
          expect(client.lines.filter((l) => l.startsWith("b'"))).toHaveLength(1);
        });
        await Promise.all(
          clients.map((_, i) =>
            tcp.waitForLine(new RegExp(`^data: {2}b'client-${i}' addr: {2}\\(`), 5000),
          ),
        );
      }, 40_000);
    });

    describe("udp", () => {
      test("udp-server --count 1 + udp-client: the tutorial's datagram", async () => {
        await scoped(async (s) => {
          const server = s.cli(runner, ["udp-server", "--port", "0", "--count", "1"]);
          const { port } = await server.listening();
          const client = await s.run(runner, [
            "udp-client",
            "--port",
            String(port),
            "--wait",
            "200",
          ]);
          expectOk(client);
          expect(client.lines[0]).toMatch(started("client"));
          expect(client.lines).toContain("sent:  b'Hello UDP'");
          // The server does not answer: the client says so after --wait.
          expect(client.lines.at(-1)).toStartWith("no reply within 200 ms");
          const done = await server.wait(5000);
          expectOk(done);
          expect(done.lines[0]).toMatch(started("server"));
          expect(done.lines).toContain("Waiting...");
          expect(done.lines.filter((l) => l.startsWith("at "))).toEqual([
            expect.stringMatching(UDP_DATA),
          ]);
          expect(done.lines.at(-1)).toMatch(/^summary: 1 datagram, 9 bytes in, 0 bytes out, /);
        });
      }, 20_000);

      test("--echo: the client prints the reply", async () => {
        const client = await scoped((s) =>
          s.run(runner, ["udp-client", "--port", String(udpPort)]),
        );
        expectOk(client);
        expectLineOnce(client.lines, "b'Receive: Hello UDP'");
        await udp.waitForLine(UDP_DATA, 5000);
        await udp.waitForLine(
          /^reply: b'Receive: Hello UDP' addr: {2}\('127\.0\.0\.1', \d+\)$/,
          5000,
        );
      }, 20_000);

      test("udp-client to a closed port: exit 1, 'nothing is listening'; --wait 0 exits 0 at once", async () => {
        const port = await freePort("udp");
        const [waited, noWait] = await scoped((s) =>
          Promise.all([
            s.run(runner, ["udp-client", "--port", String(port)]),
            s.run(runner, ["udp-client", "--port", String(port), "--wait", "0"]),
          ]),
        );
        if (runner.gaps.has("deno-udp-no-icmp")) {
          // Gap deno-udp-no-icmp: the ICMP error never reaches node:dgram on Deno, so the
          // client cannot tell a closed port from a silent server.
          expectOk(waited);
          expect(waited.lines.at(-1)).toStartWith("no reply within 1000 ms");
        } else {
          const line = expectOneError(waited, 1);
          expect(line).toContain("nothing is listening");
          expect(line).toContain(`udp 127.0.0.1:${port}`);
        }
        // --wait 0: send and leave, like the tutorial's client; no waiting, so no verdict.
        expectOk(noWait);
        expect(noWait.lines).toContain("sent:  b'Hello UDP'");
        expect(noWait.stdout).not.toContain("no reply");
      }, 20_000);
    });

    test("IPv6: --host ::1 both ways, addresses printed as Python's 4-tuples", async () => {
      await scoped(async (s) => {
        const tcp6 = s.cli(runner, ["tcp-server", "--host", "::1", "--port", "0", "--count", "1"]);
        const udp6 = s.cli(runner, [
          "udp-server",
          "--host",
          "::1",
          "--port",
          "0",
          "--count",
          "1",
          "--echo",
        ]);
        const [t, u] = await Promise.all([tcp6.listening(), udp6.listening()]);
        expect(t.address).toBe("::1");
        expect(tcp6.lines).toContain(`listening on tcp [::1]:${t.port}`);
        expect(udp6.lines).toContain(`listening on udp [::1]:${u.port}`);
        const [tc, uc] = await Promise.all([
          s.run(runner, ["tcp-client", "--host", "::1", "--port", String(t.port)]),
          s.run(runner, ["udp-client", "--host", "::1", "--port", String(u.port)]),
        ]);
        expectOk(tc);
        expectLineOnce(tc.lines, "b'Receive: Hello TCP'");
        const [, serverTuple, clientTuple] = tc.lines
          .map((l) => l.match(CONNECTED))
          .find(Boolean) as RegExpMatchArray;
        expect(serverTuple).toBe(`('::1', ${t.port}, 0, 0)`);
        expect(clientTuple).toMatch(/^\('::1', \d+, 0, 0\)$/);
        expectOk(uc);
        expectLineOnce(uc.lines, "b'Receive: Hello UDP'");

        const [td, ud] = await Promise.all([tcp6.wait(5000), udp6.wait(5000)]);
        expectOk(td);
        expectLineOnce(td.lines, `data:  b'Hello TCP' addr:  ${clientTuple}`);
        expectOk(ud);
        expect(ud.lines).toContainEqual(
          expect.stringMatching(
            new RegExp(`^at ${DATETIME} data: {2}b'Hello UDP' addr: {2}\\('::1', \\d+, 0, 0\\)$`),
          ),
        );
      });
    }, 20_000);

    test("--json: one event per line, bytes as count + base64, no colors even when forced", async () => {
      const forced = { env: { FORCE_COLOR: "1" } };
      await scoped(async (s) => {
        const server = s.cli(
          runner,
          ["tcp-server", "--port", "0", "--count", "1", "--json"],
          forced,
        );
        const udpServer = s.cli(
          runner,
          ["udp-server", "--port", "0", "--count", "1", "--echo", "--json"],
          forced,
        );
        const [{ port }, udpAt] = await Promise.all([server.listening(), udpServer.listening()]);
        const [client, udpClient, human] = await Promise.all([
          s.run(runner, ["tcp-client", "--port", String(port), "--json"], forced),
          s.run(runner, ["udp-client", "--port", String(udpAt.port), "--json"], forced),
          s.run(runner, ["tcp-client", "--port", String(tcpPort)], forced),
        ]);
        const [done, udpDone] = await Promise.all([server.wait(5000), udpServer.wait(5000)]);
        for (const ran of [client, udpClient, done, udpDone]) {
          expectOk(ran);
          expect(ran.stdout).not.toContain(ESC);
        }

        const events = jsonEvents(done);
        expect(events.map((e) => e.event)).toEqual([
          "start",
          "listening",
          "connection",
          "data",
          "reply",
          "close",
          "summary",
        ]);
        expect(new Set(events.map((e) => e.role))).toEqual(new Set(["tcp-server"]));
        const [start, listening, , data, reply, close, summary] = events;
        const label = `^${runner.host} \\S+, ${runner.adapter} adapter$`;
        expectShape(start, { runtime: expect.stringMatching(new RegExp(label)) });
        expectShape(listening, {
          proto: "tcp",
          local: { address: "127.0.0.1", port, family: "IPv4" },
        });
        expectShape(data, { proto: "tcp", bytes: 9, offset: 0 });
        expect(decoded(data)).toBe("Hello TCP");
        expectShape(reply, { proto: "tcp", bytes: 18 });
        expect(decoded(reply)).toBe("Receive: Hello TCP");
        expectShape(close, { reason: "eof", bytesIn: 9, bytesOut: 18, finFirst: "peer" });
        expectShape(summary, { connections: 1, bytesIn: 9, bytesOut: 18 });

        const mine = jsonEvents(client);
        expect(mine.map((e) => e.event)).toEqual([
          "start",
          "connection",
          "sent",
          "data",
          "reply",
          "close",
        ]);
        expect(decoded(mine.find((e) => e.event === "sent"))).toBe("Hello TCP");
        expectShape(
          mine.find((e) => e.event === "reply"),
          { bytes: 18 },
        );
        expect(decoded(mine.find((e) => e.event === "reply"))).toBe("Receive: Hello TCP");

        const udpEvents = jsonEvents(udpDone);
        expect(udpEvents.map((e) => e.event)).toEqual([
          "start",
          "listening",
          "data",
          "reply",
          "summary",
        ]);
        expect(decoded(udpEvents[2])).toBe("Hello UDP");
        expectShape(udpEvents[2], { proto: "udp", bytes: 9 });
        const udpMine = jsonEvents(udpClient);
        expect(udpMine.map((e) => e.event)).toEqual(["start", "sent", "reply"]);
        expect(decoded(udpMine[2])).toBe("Receive: Hello UDP");

        // Control: the same FORCE_COLOR does color the human form.
        expectOk(human);
        if (runner.gaps.has("deno-no-env")) {
          // Gap deno-no-env: without --allow-env sockdemo cannot read FORCE_COLOR.
          expect(human.stdout).not.toContain(ESC);
        } else {
          expect(human.stdout).toContain(`${ESC}[32mb'Receive: Hello TCP'${ESC}[39m`);
        }
      });
    }, 20_000);

    describe("exit codes and error messages", () => {
      test("connection refused: exit 1, one line with ECONNREFUSED and a hint", async () => {
        const port = await freePort("tcp");
        const ran = await scoped((s) => s.run(runner, ["tcp-client", "--port", String(port)]));
        const line = expectOneError(ran, 1);
        expect(line).toContain("ECONNREFUSED");
        expect(line).toContain(`127.0.0.1:${port}`);
        expect(line).toMatch(/ — .*(tcp-server|listen)/);
      }, 20_000);

      test("with --json a failure is an error event on stdout and still one line on stderr", async () => {
        const port = await freePort("tcp");
        const [refused, usage] = await scoped((s) =>
          Promise.all([
            s.run(runner, ["tcp-client", "--port", String(port), "--json"]),
            s.run(runner, ["tcp-server", "--port", "abc", "--json"]),
          ]),
        );
        expectOneError(refused, 1);
        const events = jsonEvents(refused);
        expectShape(events.at(-1), { event: "error", code: "ECONNREFUSED", fatal: true });
        expectOneError(usage, 2);
        expectShape(jsonEvents(usage), [{ event: "error", code: "EUSAGE", fatal: true }]);
      }, 20_000);

      test("port in use: exit 1 with EADDRINUSE, for TCP and UDP", async () => {
        const [heldTcp, heldUdp] = await Promise.all([holdPort("tcp"), holdPort("udp")]);
        try {
          const [tcpRan, udpRan] = await scoped((s) =>
            Promise.all([
              s.run(runner, ["tcp-server", "--port", String(heldTcp.port)]),
              s.run(runner, ["udp-server", "--port", String(heldUdp.port)]),
            ]),
          );
          for (const [ran, port] of [
            [tcpRan, heldTcp.port],
            [udpRan, heldUdp.port],
          ] as const) {
            const line = expectOneError(ran, 1);
            expect(line).toContain("EADDRINUSE");
            expect(line).toContain(`port ${port}`);
          }
        } finally {
          await Promise.all([heldTcp.close(), heldUdp.close()]);
        }
      }, 20_000);

      test("usage errors: exit 2, one line, no stack trace", async () => {
        const cases = [
          ["tcp-server", "--port", "70000"],
          ["tcp-server", "--port", "abc"],
          ["tcp-server", "--port", "-1"],
          ["udp-server", "--port=-1"],
          ["tcp-client", "--port", "65536"],
          ["tcp-server", "--no-such-option"],
          ["no-such-command"],
          ["tcp-server", "--count", "0"],
          ["udp-server", "--count", "0"],
          ["udp-client", "--wait", "soon"],
        ];
        const results = await scoped((s) => Promise.all(cases.map((args) => s.run(runner, args))));
        results.forEach((ran, i) => {
          const args = (cases[i] as string[]).join(" ");
          expect({ args, stdout: ran.stdout }).toEqual({ args, stdout: "" });
          expectOneError(ran, 2);
        });
        expect(results[0]?.stderr).toContain(
          '--port must be a whole number from 0 to 65535, not "70000"',
        );
        expect(results[6]?.stderr).toContain('unknown command "no-such-command"');
      }, 30_000);

      test("--help and --version exit 0", async () => {
        const [help, commandHelp, version, short] = await scoped((s) =>
          Promise.all([
            s.run(runner, ["--help"]),
            s.run(runner, ["tcp-server", "--help"]),
            s.run(runner, ["--version"]),
            s.run(runner, ["-v"]),
          ]),
        );
        expectOk(help);
        expect(help.stdout).toContain("Usage:");
        expect(help.lines[0]).toStartWith(`sockdemo ${VERSION}`);
        expectOk(commandHelp);
        expect(commandHelp.stdout).toContain("--prefix <text>");
        const expected = new RegExp(
          `^sockdemo ${escapeRegExp(VERSION)}${runner.fromSource ? "(?:-dev)?" : ""} \\(${runner.host} [^)]+\\)$`,
        );
        for (const ran of [version, short]) {
          expectOk(ran);
          expect(ran.lines).toEqual([expect.stringMatching(expected)]);
        }
      }, 20_000);
    });

    test("SIGINT and SIGTERM: servers print a summary and exit 0 within 2 s", async () => {
      await scoped(async (s) => {
        const cases = (["SIGINT", "SIGTERM"] as const).flatMap((signal) =>
          (["tcp-server", "udp-server"] as const).map((command) => ({
            signal,
            command,
            proc: s.cli(runner, [command, "--port", "0"]),
          })),
        );
        await Promise.all(cases.map((c) => c.proc.listening()));
        await Promise.all(
          cases.map(async ({ signal, command, proc }) => {
            const sentAt = performance.now();
            proc.signal(signal);
            const done = await proc.wait(5000);
            const took = performance.now() - sentAt;
            expect({ command, signal, code: done.code, stderr: done.stderr }).toEqual({
              command,
              signal,
              code: 0,
              stderr: "",
            });
            const what = command === "tcp-server" ? "0 connections" : "0 datagrams";
            expect(done.lines.at(-1)).toStartWith(`summary: ${what}, 0 bytes in, 0 bytes out, `);
            expect(took).toBeLessThan(2000);
          }),
        );
      });
    }, 20_000);

    test("SIGINT with a client still connected: the server drops it, summarizes, exits 0", async () => {
      await scoped(async (s) => {
        const server = s.cli(runner, ["tcp-server", "--port", "0"]);
        const { port } = await server.listening();
        const idle = connect(port, "127.0.0.1");
        const closed = new Promise<void>((resolve) => idle.once("close", () => resolve()));
        idle.on("error", () => {}); // the server's RST is expected
        try {
          await new Promise<void>((resolve, reject) => {
            idle.once("connect", () => resolve());
            idle.once("error", reject);
          });
          idle.write("half a message");
          await server.waitForLine(/^data: {2}b'half a message' addr: {2}/, 5000);
          const sentAt = performance.now();
          server.signal("SIGINT");
          const done = await server.wait(5000);
          expect(performance.now() - sentAt).toBeLessThan(2000);
          expectOk(done);
          // The dropped connection's own close line comes first, then the totals.
          expect(done.lines.slice(-2)).toEqual([
            expect.stringMatching(
              /^\('127\.0\.0\.1', \d+\) closed by us; 14 bytes in, 23 bytes out, /,
            ),
            expect.stringMatching(/^summary: 1 connection, 14 bytes in, 23 bytes out, /),
          ]);
          await closed;
        } finally {
          idle.destroy();
        }
      });
    }, 20_000);

    test("demo: both halves of the tutorial, labelled", async () => {
      const ran = await scoped((s) => s.run(runner, ["demo"]));
      expectOk(ran);
      expect(ran.lines).toContainEqual(
        expect.stringMatching(
          new RegExp(
            `^\\[udp-server\\] at ${DATETIME} data: {2}b'Hello UDP' addr: {2}\\('127\\.0\\.0\\.1', \\d+\\)$`,
          ),
        ),
      );
      expectLineOnce(ran.lines, "[tcp-client] b'Receive: Hello TCP'");
      expect(ran.lines).toContainEqual(
        expect.stringMatching(
          /^\[tcp-server\] data: {2}b'Hello TCP' addr: {2}\('127\.0\.0\.1', \d+\)$/,
        ),
      );
    }, 20_000);
  });
}
