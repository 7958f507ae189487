/**
 * sockdemo against the tutorial's own programs, both directions: Python peers
 * (test/peers/, the four tutorial scripts with host and port from argv) talk
 * to sockdemo servers and clients on every runner, and every byte value
 * survives the trip into a `b'...'` line that Python reads back.
 *
 * Needs python3 and the built artifacts: ./node_modules/.bin/bun scripts/build.ts
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { expectOk, killAll, type Proc, type Scope, scoped } from "./_cli.ts";
import { checkBuilt, RUNNERS } from "./_runners.ts";

checkBuilt();
afterAll(killAll);

const PEERS = join(import.meta.dir, "peers");
const peer = (name: string) => join(PEERS, name);

const DATETIME = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{6})?`;
const STARTED = new RegExp(`^The (server|client) started at ${DATETIME}$`);
/** The tutorial's UDP server line; sockdemo's and Python's must both match it. */
const udpLine = (addr: string) =>
  new RegExp(`^at ${DATETIME} data: {2}b'Hello UDP' addr: {2}${addr}$`);
const V4_ADDR = String.raw`\('127\.0\.0\.1', (\d+)\)`;
const V6_ADDR = String.raw`\('::1', (\d+), 0, 0\)`;
const CONNECTED_FROM = /^connected to .+ from \('[^']+', (\d+)(?:, 0, 0)?\)$/;

/** A Python server peer: started, its `port: N` line read. */
async function pythonServer(
  s: Scope,
  script: string,
  args: string[],
): Promise<{ proc: Proc; port: number }> {
  const proc = s.python3Start([peer(script), ...args]);
  const [, port] = await proc.waitForLine(/^port: (\d+)$/, 10_000);
  await proc.waitForLine(/^Waiting\.\.\.$/, 10_000);
  return { proc, port: Number(port) };
}

/**
 * Python reads each line as a bytes literal (ast.literal_eval) and prints its
 * hex; anything that is not exactly a bytes literal fails.
 */
async function literalsToHex(s: Scope, literals: string[]): Promise<string[]> {
  if (literals.length === 0) return [];
  const script = [
    "import ast, sys",
    "for line in sys.stdin.read().splitlines():",
    "    value = ast.literal_eval(line)",
    "    assert type(value) is bytes, line",
    "    print(value.hex())",
  ].join("\n");
  const ran = await s.python3(["-c", script], { stdin: `${literals.join("\n")}\n` });
  expectOk(ran);
  return ran.lines;
}

const RANGE_HEX = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString("hex");
const PREFIX_HEX = Buffer.from("Receive: ").toString("hex");

for (const runner of RUNNERS) {
  describe(`${runner.name} with Python peers`, () => {
    test("sockdemo tcp-server ↔ python tcp_client.py", async () => {
      await scoped(async (s) => {
        const server = s.cli(runner, ["tcp-server", "--port", "0", "--count", "1"]);
        const { port } = await server.listening();
        const client = await s.python3([peer("tcp_client.py"), "127.0.0.1", String(port)]);
        expectOk(client);
        expect(client.lines).toEqual(["b'Receive: Hello TCP'"]);
        const done = await server.wait(5000);
        expectOk(done);
        expect(done.lines).toContainEqual(
          expect.stringMatching(new RegExp(`^data: {2}b'Hello TCP' addr: {2}${V4_ADDR}$`)),
        );
      });
    }, 20_000);

    test("python tcp_server.py ↔ sockdemo tcp-client (which half-closes and reads to the end)", async () => {
      await scoped(async (s) => {
        const server = await pythonServer(s, "tcp_server.py", ["127.0.0.1", "0", "--count", "1"]);
        const client = await s.run(runner, ["tcp-client", "--port", String(server.port)]);
        expectOk(client);
        expect(client.lines.filter((l) => l.startsWith("b"))).toEqual(["b'Receive: Hello TCP'"]);
        const localPort = client.lines.map((l) => l.match(CONNECTED_FROM)).find(Boolean)?.[1];
        const done = await server.proc.wait(5000);
        expectOk(done);
        expect(done.lines.slice(1)).toEqual([
          expect.stringMatching(STARTED),
          "Waiting...",
          `data:  b'Hello TCP' addr:  ('127.0.0.1', ${localPort})`,
        ]);
      });
    }, 20_000);

    test("python udp_server.py ↔ sockdemo udp-client", async () => {
      await scoped(async (s) => {
        const server = await pythonServer(s, "udp_server.py", ["127.0.0.1", "0"]);
        const client = await s.run(runner, [
          "udp-client",
          "--port",
          String(server.port),
          "--wait",
          "0",
        ]);
        expectOk(client);
        const done = await server.proc.wait(5000);
        expectOk(done);
        expect(done.lines.at(-1)).toMatch(udpLine(V4_ADDR));
      });
    }, 20_000);

    test("sockdemo udp-server ↔ python udp_client.py, plain and --echo", async () => {
      await scoped(async (s) => {
        const plain = s.cli(runner, ["udp-server", "--port", "0", "--count", "1"]);
        const echo = s.cli(runner, ["udp-server", "--port", "0", "--count", "1", "--echo"]);
        const [plainAt, echoAt] = await Promise.all([plain.listening(), echo.listening()]);
        const [toPlain, toEcho] = await Promise.all([
          s.python3([peer("udp_client.py"), "127.0.0.1", String(plainAt.port)]),
          s.python3([peer("udp_client.py"), "127.0.0.1", String(echoAt.port), "--reply"]),
        ]);
        expectOk(toPlain);
        expect(toPlain.lines).toEqual([expect.stringMatching(STARTED)]);
        expectOk(toEcho);
        expect(toEcho.lines.at(-1)).toBe("b'Receive: Hello UDP'");
        const [plainDone, echoDone] = await Promise.all([plain.wait(5000), echo.wait(5000)]);
        for (const done of [plainDone, echoDone]) {
          expectOk(done);
          expect(done.lines).toContainEqual(expect.stringMatching(udpLine(V4_ADDR)));
        }
      });
    }, 20_000);

    test("IPv6: sockdemo and Python print the same ('::1', port, 0, 0) tuples", async () => {
      await scoped(async (s) => {
        const [pyUdp, pyTcp] = await Promise.all([
          pythonServer(s, "udp_server.py", ["::1", "0"]),
          pythonServer(s, "tcp_server.py", ["::1", "0", "--count", "1"]),
        ]);
        const ourUdp = s.cli(runner, [
          "udp-server",
          "--host",
          "::1",
          "--port",
          "0",
          "--count",
          "1",
        ]);
        const ourTcp = s.cli(runner, [
          "tcp-server",
          "--host",
          "::1",
          "--port",
          "0",
          "--count",
          "1",
        ]);
        const [ourUdpAt, ourTcpAt] = await Promise.all([ourUdp.listening(), ourTcp.listening()]);
        const ran = await Promise.all([
          s.run(runner, [
            "udp-client",
            "--host",
            "::1",
            "--port",
            String(pyUdp.port),
            "--wait",
            "0",
          ]),
          s.run(runner, ["tcp-client", "--host", "::1", "--port", String(pyTcp.port)]),
          s.python3([peer("udp_client.py"), "::1", String(ourUdpAt.port)]),
          s.python3([peer("tcp_client.py"), "::1", String(ourTcpAt.port)]),
        ]);
        for (const r of ran) expectOk(r);
        expect(ran[1]?.lines).toContain("b'Receive: Hello TCP'");
        expect(ran[3]?.lines).toEqual(["b'Receive: Hello TCP'"]);
        const tcpData = new RegExp(`^data: {2}b'Hello TCP' addr: {2}${V6_ADDR}$`);
        const [pyUdpDone, pyTcpDone, ourUdpDone, ourTcpDone] = await Promise.all([
          pyUdp.proc.wait(5000),
          pyTcp.proc.wait(5000),
          ourUdp.wait(5000),
          ourTcp.wait(5000),
        ]);
        for (const d of [pyUdpDone, pyTcpDone, ourUdpDone, ourTcpDone]) expectOk(d);
        expect(pyUdpDone.lines.at(-1)).toMatch(udpLine(V6_ADDR));
        expect(ourUdpDone.lines).toContainEqual(expect.stringMatching(udpLine(V6_ADDR)));
        expect(pyTcpDone.lines).toContainEqual(expect.stringMatching(tcpData));
        expect(ourTcpDone.lines).toContainEqual(expect.stringMatching(tcpData));
      });
    }, 20_000);

    test("all 256 byte values: Python sends them, sockdemo's b'...' lines give them back exactly", async () => {
      // TCP: bytes(range(256)) in one sendall, then FIN; read the echo to the end.
      const tcpClient = [
        "import socket, sys",
        "with socket.create_connection(('127.0.0.1', int(sys.argv[1]))) as s:",
        "    s.sendall(bytes(range(256)))",
        "    s.shutdown(socket.SHUT_WR)",
        "    reply = b''",
        "    while chunk := s.recv(65536):",
        "        reply += chunk",
        "print(reply.hex())",
      ].join("\n");
      const udpClient = [
        "import socket, sys",
        "with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:",
        "    s.sendto(bytes(range(256)), ('127.0.0.1', int(sys.argv[1])))",
      ].join("\n");
      await scoped(async (s) => {
        const tcp = s.cli(runner, ["tcp-server", "--port", "0", "--count", "1"]);
        const udp = s.cli(runner, ["udp-server", "--port", "0", "--count", "1"]);
        const [tcpAt, udpAt] = await Promise.all([tcp.listening(), udp.listening()]);
        const [sentTcp, sentUdp] = await Promise.all([
          s.python3(["-c", tcpClient, String(tcpAt.port)]),
          s.python3(["-c", udpClient, String(udpAt.port)]),
        ]);
        expectOk(sentTcp);
        expect(sentTcp.stdout.trim()).toBe(PREFIX_HEX + RANGE_HEX);
        expectOk(sentUdp);
        const [tcpDone, udpDone] = await Promise.all([tcp.wait(5000), udp.wait(5000)]);
        expectOk(tcpDone);
        expectOk(udpDone);

        for (const done of [tcpDone, udpDone]) {
          // Nothing the peer sent reaches the terminal raw: no ESC, no CR, only printable ASCII.
          expect(done.stdout).not.toContain("\x1b");
          expect(done.stdout).not.toContain("\r");
          expect(done.stdout).toMatch(/^[\x20-\x7e\n]*$/);
        }
        // TCP may deliver the 256 bytes in more than one chunk: one data line each.
        const literal = /^(?:at \S+ \S+ )?(data|reply): +(b(['"]).*\3) addr: {2}\(.+\)$/;
        const pick = (lines: string[], kind: string) =>
          lines
            .map((l) => l.match(literal))
            .filter((m) => m?.[1] === kind)
            .map((m) => m?.[2] as string);
        const tcpData = pick(tcpDone.lines, "data");
        const udpData = pick(udpDone.lines, "data");
        expect(tcpData.length).toBeGreaterThan(0);
        expect(udpData).toHaveLength(1);
        const [tcpHex, replyHex, udpHex] = await Promise.all([
          literalsToHex(s, tcpData),
          literalsToHex(s, pick(tcpDone.lines, "reply")),
          literalsToHex(s, udpData),
        ]);
        expect(tcpHex.join("")).toBe(RANGE_HEX);
        // Each reply line is the prefix + its chunk.
        expect(replyHex).toEqual(tcpHex.map((chunk) => PREFIX_HEX + chunk));
        expect(udpHex).toEqual([RANGE_HEX]);
      });
    }, 20_000);
  });
}
