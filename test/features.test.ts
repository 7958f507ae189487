/**
 * The "see and diagnose" features, end to end over real sockets: --explain,
 * check, ports, --hex, interactive clients (pipes and a real terminal under
 * tmux), IPv6, bench, close reasons, error diagnosis, completions.
 * Runs the compiled binary (npm test builds it first).
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const BIN = join(root, "dist", "sockdemo");
const ENV = { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1", LANG: "C.UTF-8" };

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(
  args: string[],
  options: { env?: Record<string, string>; stdin?: string; timeoutMs?: number } = {},
): Promise<Ran> {
  const proc = Bun.spawn([BIN, ...args], {
    cwd: root,
    env: { ...ENV, ...options.env },
    stdin: options.stdin === undefined ? "ignore" : new Blob([options.stdin]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), options.timeoutMs ?? 15_000);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** A long-running sockdemo (or other) process whose stdout is read as it comes. */
class Running {
  private text = "";
  readonly proc: ReturnType<typeof Bun.spawn>;
  private readonly reading: Promise<void>;

  constructor(cmd: string[], env: Record<string, string> = ENV) {
    this.proc = Bun.spawn(cmd, { cwd: root, env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const stdout = this.proc.stdout as ReadableStream<Uint8Array>;
    this.reading = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stdout) this.text += decoder.decode(chunk, { stream: true });
    })();
    running.add(this);
  }

  get output(): string {
    return this.text;
  }

  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.text);
      if (match) return match;
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${pattern}; output so far:\n${this.text}`);
      await Bun.sleep(20);
    }
  }

  async stop(signal: NodeJS.Signals = "SIGINT"): Promise<number> {
    this.proc.kill(signal);
    const code = await Promise.race([this.proc.exited, Bun.sleep(5000).then(() => -1)]);
    if (code === -1) this.proc.kill("SIGKILL");
    await this.reading;
    running.delete(this);
    return code;
  }
}

// Each test spawns a few processes of ~20 ms startup; 20 s bounds a hung one.
setDefaultTimeout(20_000);

const running = new Set<Running>();
afterEach(async () => {
  for (const process of running) await process.stop("SIGKILL");
});

async function server(
  args: string[],
  env?: Record<string, string>,
): Promise<{ server: Running; port: string }> {
  const started = new Running([BIN, ...args, "--port", "0"], { ...ENV, ...env });
  const match = await started.waitFor(
    /listening on (?:tcp|udp) (?:\[[^\]]+\]|[\d.]+):(\d+)|"event":"listening".*?"port":(\d+)/,
  );
  return { server: started, port: (match[1] ?? match[2]) as string };
}

const lines = (text: string) => text.split("\n").filter(Boolean);

describe("--explain", () => {
  test("demo narrates every socket step in English", async () => {
    const ran = await run(["demo", "--explain"]);
    expect(ran.code).toBe(0);
    for (const call of [
      "socket(AF_INET, SOCK_STREAM)",
      "socket(AF_INET, SOCK_DGRAM)",
      "bind((",
      "listen(511)",
      "accept():",
      "connect((",
      "recv():",
      "recvfrom():",
      "sendto((",
      "send():",
      "recv() returned b''",
      "shutdown(SHUT_WR)",
      "close():",
    ]) {
      expect(ran.stdout).toContain(call);
    }
    // A narrated step comes after the line it explains: accept follows "connection from".
    const out = lines(ran.stdout);
    const accepted = out.findIndex((l) => l.includes("connection from"));
    expect(out[accepted + 1]).toContain("# accept():");
  });

  test("--lang ja and a Japanese LANG narrate in Japanese; --lang en wins over LANG", async () => {
    const ja = await run(["demo", "--explain", "--lang", "ja"]);
    expect(ja.stdout).toContain("ソケットを作ります");
    const byLocale = await run(["demo", "--explain"], { env: { LANG: "ja_JP.UTF-8" } });
    expect(byLocale.stdout).toContain("3ウェイハンドシェイク");
    const forced = await run(["demo", "--explain", "--lang", "en"], {
      env: { LANG: "ja_JP.UTF-8" },
    });
    expect(forced.stdout).toContain("three-way handshake");
    expect(forced.stdout).not.toContain("ソケット");
  });

  test("--json carries explain events; a bad --lang is a usage error", async () => {
    const json = await run(["demo", "--explain", "--json"]);
    const events = lines(json.stdout).map((l) => JSON.parse(l));
    const steps = new Set(events.filter((e) => e.event === "explain").map((e) => e.step));
    for (const step of [
      "socket",
      "bind",
      "listen",
      "accept",
      "connect",
      "recv",
      "send",
      "peer-fin",
      "shutdown",
      "close",
    ]) {
      expect(steps.has(step)).toBe(true);
    }
    const bad = await run(["demo", "--explain", "--lang", "fr"]);
    expect(bad.code).toBe(2);
    expect(lines(bad.stderr)).toHaveLength(1);
  });
});

describe("check", () => {
  test("open, refused and name-not-found, with exit codes", async () => {
    const { port } = await server(["tcp-server"]);
    const open = await run(["check", `127.0.0.1:${port}`]);
    expect(open.code).toBe(0);
    expect(open.stdout).toContain(`tcp     127.0.0.1:${port}: open after`);
    expect(lines(open.stdout).at(-1)).toStartWith("open:");

    const closed = await run(["check", "127.0.0.1:1"]);
    expect(closed.code).toBe(1);
    expect(closed.stdout).toContain("refused (ECONNREFUSED)");
    expect(lines(closed.stdout).at(-1)).toStartWith("refused: nothing is listening on 127.0.0.1:1");

    const dns = await run(["check", "nonexistent.invalid:80", "--json"]);
    expect(dns.code).toBe(1);
    const verdict = lines(dns.stdout)
      .map((l) => JSON.parse(l))
      .find((e) => e.event === "verdict");
    expect(verdict.outcome).toBe("dns-failure");
    expect(verdict.code).toBe("ENOTFOUND");
  });

  test("names resolve with a timing; every resolved address is tried; IPv6 in brackets", async () => {
    const { port } = await server(["tcp-server", "--host", "::1"]);
    const v6 = await run(["check", `[::1]:${port}`, "--json"]);
    expect(v6.code).toBe(0);
    const probe = lines(v6.stdout)
      .map((l) => JSON.parse(l))
      .find((e) => e.event === "probe");
    expect(probe).toMatchObject({ address: "::1", port: Number(port), outcome: "open" });
    const byName = await run(["check", `localhost:${port}`]);
    expect(byName.stdout).toMatch(/^dns {5}localhost → .+ in [\d.]+ ms$/m);
    const bare = await run(["check", "::1"]);
    expect(bare.code).toBe(2);
  });

  test("--udp: ICMP port unreachable is 'refused', an echo is 'open', silence is 'silent'", async () => {
    const refused = await run(["check", "127.0.0.1:1", "--udp", "--timeout", "1"]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain("refused: nothing is listening on udp 127.0.0.1:1");
    const echo = await server(["udp-server", "--echo"]);
    const open = await run(["check", `127.0.0.1:${echo.port}`, "--udp", "--timeout", "1"]);
    expect(open.code).toBe(0);
    const quiet = await server(["udp-server"]);
    const silent = await run(["check", `127.0.0.1:${quiet.port}`, "--udp", "--timeout", "0.5"]);
    expect(silent.code).toBe(1);
    expect(lines(silent.stdout).at(-1)).toStartWith("silent:");
  });
});

describe("ports", () => {
  test("lists the three ranges, classifies a port, rejects a bad one", async () => {
    const all = await run(["ports"]);
    expect(all.stdout).toContain("0–1023       well-known");
    expect(all.stdout).toContain("1024–49151   registered");
    expect(all.stdout).toContain("49152–65535  dynamic/private");
    expect(all.stdout).toMatch(/^ {3}22 {2}SSH$/m);
    expect((await run(["ports", "80"])).stdout).toStartWith("80 is well-known (0–1023)");
    expect((await run(["ports", "80"])).stdout).toContain("It is HTTP's port.");
    expect((await run(["ports", "50000"])).stdout).toStartWith(
      "50000 is dynamic/private (49152–65535)",
    );
    expect((await run(["ports", "8080", "--json"])).stdout).toContain('"range":"registered"');
    expect((await run(["ports", "70000"])).code).toBe(2);
  });

  test("servers warn on well-known ports and wildcard binds", async () => {
    const { server: wild } = await server(["tcp-server", "--host", "0.0.0.0"]);
    await wild.waitFor(
      /warning: bound to 0\.0\.0\.0: every network interface, so other machines can connect too/,
    );
    const low = new Running([BIN, "udp-server", "--port", "999"]);
    await low.waitFor(/warning: port 999 is a well-known port \(0–1023\)/);
  });
});

describe("--hex", () => {
  test("a canonical dump, numbered by offset in the TCP stream", async () => {
    const { server: srv, port } = await server(["tcp-server", "--hex"]);
    const sender = spawnSync("python3", [
      "-c",
      `import socket,time
s=socket.create_connection(('127.0.0.1',${port}))
s.sendall(bytes(range(20)) + b'\\x1b[31m')
time.sleep(0.2)
s.sendall(b'tail')
s.shutdown(socket.SHUT_WR)
while s.recv(4096): pass`,
    ]);
    expect(sender.status).toBe(0);
    await srv.waitFor(/closed normally/);
    expect(srv.output).toContain("data:  25 bytes addr:  ('127.0.0.1',");
    expect(srv.output).toContain(
      "00000000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  |................|",
    );
    expect(srv.output).toContain(
      "00000010  10 11 12 13 1b 5b 33 31  6d                       |.....[31m|",
    );
    // The second chunk continues the numbering at byte 25 (0x19).
    expect(srv.output).toContain(
      "00000019  74 61 69 6c                                       |tail|",
    );
    expect(srv.output).not.toContain("\x1b");
  });
});

describe("interactive clients", () => {
  test("tcp-client - streams a pipe and prints the replies; udp-client - sends a datagram per line", async () => {
    const { port } = await server(["tcp-server"]);
    const tcp = await run(["tcp-client", "-", "--port", port], { stdin: "hello\nworld\n" });
    expect(tcp.code).toBe(0);
    expect(tcp.stdout).toContain("sent:  b'hello\\nworld\\n'");
    expect(tcp.stdout).toContain("b'Receive: hello\\nworld\\n'");
    const echo = await server(["udp-server", "--echo"]);
    const udp = await run(["udp-client", "--stdin", "--port", echo.port, "--wait", "300"], {
      stdin: "one\ntwo\r\nthree",
    });
    expect(udp.code).toBe(0);
    for (const word of ["one", "two", "three"])
      expect(lines(udp.stdout)).toContain(`b'Receive: ${word}'`);
    await echo.server.waitFor(/data: {2}b'three'/);
  });

  const hasTmux = spawnSync("tmux", ["-V"]).status === 0;
  if (!hasTmux) console.log("skipping the terminal test: tmux is not installed");

  test.skipIf(!hasTmux)(
    "tcp-client - in a real terminal (tmux): type, see each reply, Ctrl+D to finish",
    async () => {
      const { server: srv, port } = await server(["tcp-server"]);
      const session = `sockdemo-test-${process.pid}`;
      const tmux = (...args: string[]) => spawnSync("tmux", args, { encoding: "utf8" });
      const screen = () => tmux("capture-pane", "-p", "-t", session).stdout;
      const until = async (pattern: RegExp) => {
        const deadline = Date.now() + 10_000;
        while (!pattern.test(screen())) {
          if (Date.now() > deadline)
            throw new Error(`tmux screen never showed ${pattern}:\n${screen()}`);
          await Bun.sleep(50);
        }
      };
      expect(
        tmux(
          "new-session",
          "-d",
          "-s",
          session,
          "-x",
          "160",
          "-y",
          "40",
          `NO_COLOR=1 ${BIN} tcp-client - --port ${port}; sleep 30`,
        ).status,
      ).toBe(0);
      try {
        await until(/connected to/);
        tmux("send-keys", "-t", session, "hello there", "Enter");
        await until(/b'Receive: hello there\\n'/);
        tmux("send-keys", "-t", session, "second line", "Enter");
        await until(/b'Receive: second line\\n'/);
        tmux("send-keys", "-t", session, "C-d");
        await until(/closed normally: we sent FIN first/);
        await srv.waitFor(/closed normally: the peer sent FIN first/);
      } finally {
        tmux("kill-session", "-t", session);
      }
    },
  );
});

describe("IPv6 and names", () => {
  test("demo over ::1 prints Python's IPv6 address tuples", async () => {
    const ran = await run(["demo", "--host", "::1"]);
    expect(ran.code).toBe(0);
    expect(ran.stdout).toMatch(
      /\[udp-server\] at .+ data: {2}b'Hello UDP' addr: {2}\('::1', \d+, 0, 0\)/,
    );
    expect(ran.stdout).toContain("[tcp-client] b'Receive: Hello TCP'");
  });

  test("localhost is resolved by sockdemo and the chosen address is shown", async () => {
    const { port } = await server(["tcp-server", "--host", "localhost"]);
    const ran = await run(["tcp-client", "--host", "localhost", "--port", port]);
    expect(ran.code).toBe(0);
    expect(ran.stdout).toMatch(/^localhost resolved to .+; using (127\.0\.0\.1|::1)$/m);
  });
});

describe("bench", () => {
  test("ping-pong, stream and UDP against sockdemo's own servers, all verified", async () => {
    const echo = await server(["tcp-server", "--prefix", "", "--quiet"]);
    const pingpong = await run([
      "bench",
      `127.0.0.1:${echo.port}`,
      "--conns",
      "4",
      "--duration",
      "1",
      "--json",
    ]);
    expect(pingpong.code).toBe(0);
    const result = JSON.parse(lines(pingpong.stdout).at(-1) as string);
    expect(result).toMatchObject({ event: "bench", mode: "pingpong", conns: 4, errors: 0 });
    expect(result.requests).toBeGreaterThan(100);
    expect(result.bytesVerified).toBe(result.requests * 64);
    expect(result.p50Us).toBeGreaterThan(0);
    expect(result.p99Us).toBeGreaterThanOrEqual(result.p50Us);

    const stream = await run([
      "bench",
      `127.0.0.1:${echo.port}`,
      "--mode",
      "stream",
      "--duration",
      "1",
      "--json",
    ]);
    expect(stream.code).toBe(0);
    expect(JSON.parse(lines(stream.stdout).at(-1) as string).bytesVerified).toBeGreaterThan(
      1_000_000,
    );

    const udp = await server(["udp-server", "--echo", "--quiet"]);
    const udpRun = await run([
      "bench",
      `127.0.0.1:${udp.port}`,
      "--udp",
      "--prefix",
      "Receive: ",
      "--duration",
      "1",
    ]);
    expect(udpRun.code).toBe(0);
    expect(udpRun.stdout).toMatch(/verified {3}[\d.]+ MB .*, 0 errors, 0 lost/);
  });

  test("a reply that is not prefix + message fails the run", async () => {
    const { port } = await server(["tcp-server", "--quiet"]);
    const wrong = await run(["bench", `127.0.0.1:${port}`, "--duration", "1"]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toContain("first error: a reply differed from prefix + message");
  });
});

describe("close reasons and summaries", () => {
  test("FIN order, reset and idle timeout are told apart; SIGINT prints the summary", async () => {
    const { server: srv, port } = await server(["tcp-server", "--idle-timeout", "1", "--json"]);
    await run(["tcp-client", "--port", port]);
    spawnSync("python3", [
      "-c",
      `import socket,struct
s=socket.create_connection(('127.0.0.1',${port}))
s.sendall(b'x'); s.recv(100)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0)); s.close()`,
    ]);
    const idle = spawnSync(
      "python3",
      ["-c", `import socket\ns=socket.create_connection(('127.0.0.1',${port}))\nprint(s.recv(10))`],
      {
        encoding: "utf8",
        timeout: 10_000,
      },
    );
    expect(idle.status).toBe(1); // the idle close is an RST: Python raises ConnectionResetError
    await srv.waitFor(/"reason":"timeout"/);
    expect(await srv.stop("SIGINT")).toBe(0);
    const closes = lines(srv.output)
      .map((l) => JSON.parse(l))
      .filter((e) => e.event === "close");
    expect(closes.map((e) => e.reason)).toEqual(["eof", "reset", "timeout"]);
    expect(closes[0].finFirst).toBe("peer");
    const summary = JSON.parse(lines(srv.output).at(-1) as string);
    expect(summary).toMatchObject({ event: "summary", connections: 3 });
  }, 20_000);
});

describe("diagnosis", () => {
  test("refused on one loopback family while the other listens says so", async () => {
    const { port } = await server(["tcp-server", "--host", "::1"]);
    const ran = await run(["tcp-client", "--port", port]);
    expect(ran.code).toBe(1);
    expect(ran.stderr.trim()).toEndWith(
      `nothing listens on 127.0.0.1:${port}, but something does on [::1]:${port}: try --host ::1`,
    );
  });

  test("address in use names the process that holds the port", async () => {
    const holder = new Running([
      "python3",
      "-u",
      "-c",
      "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen()\nprint('port', s.getsockname()[1])\ntime.sleep(20)",
    ]);
    const port = (await holder.waitFor(/port (\d+)/))[1] as string;
    const ran = await run(["tcp-server", "--port", port]);
    expect(ran.code).toBe(1);
    expect(ran.stderr).toContain(`port ${port} is held by pid ${holder.proc.pid} (python3)`);
  });
});

describe("completions", () => {
  test("bash completes commands and options", async () => {
    const script = (await run(["completions", "bash"])).stdout;
    const complete = (words: string[]) =>
      spawnSync(
        "bash",
        [
          "-c",
          `${script}\nCOMP_WORDS=(${words.join(" ")}); COMP_CWORD=${words.length - 1}; _sockdemo; echo "\${COMPREPLY[@]}"`,
        ],
        {
          encoding: "utf8",
        },
      ).stdout.trim();
    expect(complete(["sockdemo", "tcp-s"])).toBe("tcp-server");
    expect(complete(["sockdemo", "tcp-server", "--max"])).toBe("--max-conns");
    expect(complete(["sockdemo", "check", "--u"])).toBe("--udp");
    expect((await run(["completions", "tcsh"])).code).toBe(2);
  });

  for (const shell of ["zsh", "fish"] as const) {
    const installed = existsSync(`/usr/bin/${shell}`);
    if (!installed) console.log(`skipping the ${shell} syntax check: ${shell} is not installed`);
    test.skipIf(!installed)(`${shell} script parses`, async () => {
      const script = (await run(["completions", shell])).stdout;
      expect(script).toContain("tcp-server");
      const parsed = spawnSync(shell, ["-n"], { input: script, encoding: "utf8" });
      expect(parsed.stderr).toBe("");
      expect(parsed.status).toBe(0);
    });
  }
});
