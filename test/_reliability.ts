/**
 * Helpers for the reliability suites (reliability, hostile, fuzz, exposure):
 * the compiled binary as a server under each socket adapter, bounded waits,
 * /proc readings, byte-stream generators and verifiers.
 *
 * Rules the suites follow:
 * - servers are the real binary `dist/sockdemo` (run `bun scripts/build.ts`
 *   first), once with the default Bun-native adapter, once with
 *   SOCKDEMO_RUNTIME=node;
 * - real sockets on 127.0.0.1 and ::1, ephemeral ports only (`--port 0`);
 * - every process is started through `spawnTracked` and killed by `reapAll`
 *   in afterEach, so a failing test leaves nothing running;
 * - every wait is bounded (`within`, `waitUntil`), every test has a timeout.
 */
import { Buffer } from "node:buffer";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..");
export const BINARY = join(ROOT, "dist", "sockdemo");
export const HELPERS = join(import.meta.dir, "reliability");
export const ADAPTERS = ["bun", "node"] as const;
export type Adapter = (typeof ADAPTERS)[number];

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** Fail loudly, once, if the binary is missing: every server here is the binary. */
export function checkBinary(): void {
  if (!existsSync(BINARY)) {
    throw new Error(`${BINARY} is missing: run \`bun scripts/build.ts\` first`);
  }
}

/**
 * The environment a server or client runs with: this one, minus anything that
 * forces colors. The Bun-native adapter is the binary's default, so it gets no
 * SOCKDEMO_RUNTIME at all; the other one gets SOCKDEMO_RUNTIME=node.
 */
export function cliEnv(
  adapter: Adapter,
  extra: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && key !== "FORCE_COLOR" && key !== "SOCKDEMO_RUNTIME")
      env[key] = value;
  }
  return { ...env, ...(adapter === "node" ? { SOCKDEMO_RUNTIME: "node" } : {}), ...extra };
}

// --- time bounds ---

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `promise`, or a rejection naming `what` after `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Poll `check` every `everyMs` until it returns a value other than undefined/false. */
export async function waitUntil<T>(
  check: () => T | undefined | false,
  ms: number,
  what: string,
  everyMs = 20,
): Promise<T> {
  const until = performance.now() + ms;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > until) throw new Error(`timed out after ${ms} ms: ${what}`);
    await sleep(everyMs);
  }
}

// --- tools and network namespaces (root) ---

/** Whether `tool` is on PATH. */
export const hasTool = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;

/** Run a command to completion, throwing with its stderr on failure (ip, tc). */
export function mustRun(...argv: string[]): void {
  const result = spawnSync(argv[0] as string, argv.slice(1), { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`${argv.join(" ")}: ${result.stderr.trim()}`);
}

/**
 * Delete the namespaces a killed run left: named `<prefix><pid>...` after the
 * test process that made them, whose pid is gone.
 */
export function removeStaleNamespaces(prefix: string): void {
  const listed = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
  const stale = new RegExp(`^(${prefix}(\\d+)\\S*)`);
  for (const line of listed.split("\n")) {
    const match = stale.exec(line);
    if (match && !existsSync(`/proc/${match[2]}`)) {
      spawnSync("ip", ["netns", "del", match[1] as string]);
    }
  }
}

// --- processes ---

const live = new Set<Bun.Subprocess>();

/** Bun.spawn, remembered until it exits so `reapAll` can kill it. */
export function spawnTracked(
  cmd: string[],
  options: {
    env?: Record<string, string>;
    stdin?: "pipe" | "ignore";
    stdout?: "pipe" | "ignore" | number;
    stderr?: "pipe" | "ignore" | number;
    cwd?: string;
  } = {},
): Bun.Subprocess<"pipe" | "ignore", "pipe", "pipe"> {
  const proc = Bun.spawn(cmd, {
    cwd: options.cwd ?? ROOT,
    env: options.env ?? cliEnv("bun"),
    stdin: options.stdin ?? "ignore",
    stdout: options.stdout ?? "pipe",
    stderr: options.stderr ?? "pipe",
  }) as Bun.Subprocess<"pipe" | "ignore", "pipe", "pipe">;
  live.add(proc);
  proc.exited.finally(() => live.delete(proc));
  return proc;
}

/** Kill (SIGKILL) every process still running that a test started, and wait for them. */
export async function reapAll(): Promise<void> {
  const procs = [...live];
  for (const proc of procs) proc.kill("SIGKILL");
  await Promise.all(procs.map((proc) => within(proc.exited, 5000, `pid ${proc.pid} to die`)));
}

/** Collects a readable stream's text as it arrives. */
export function collect(stream: ReadableStream<Uint8Array> | undefined): { text: () => string } {
  let text = "";
  if (stream) {
    const decoder = new TextDecoder();
    void (async () => {
      for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
    })().catch(() => {});
  }
  return { text: () => text };
}

export interface Ran {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run a command to completion (killed after `timeoutMs`). */
export async function run(
  cmd: string[],
  options: { env?: Record<string, string>; stdin?: string | Uint8Array; timeoutMs?: number } = {},
): Promise<Ran> {
  const started = performance.now();
  const proc = spawnTracked(cmd, {
    env: options.env,
    stdin: options.stdin === undefined ? "ignore" : "pipe",
  });
  if (options.stdin !== undefined) {
    const sink = proc.stdin as Bun.FileSink;
    sink.write(options.stdin);
    await sink.end();
  }
  const timeoutMs = options.timeoutMs ?? 20_000;
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [stdout, stderr] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ]);
  const code = await proc.exited;
  clearTimeout(timer);
  return {
    code: proc.signalCode ? null : code,
    signal: proc.signalCode ? String(proc.signalCode) : null,
    stdout,
    stderr,
    ms: performance.now() - started,
  };
}

/** The sockdemo binary with the given adapter (`prefix` runs it through e.g. `ip netns exec`). */
export function runCli(
  args: string[],
  adapter: Adapter,
  options: { stdin?: string | Uint8Array; timeoutMs?: number; prefix?: string[] } = {},
): Promise<Ran> {
  return run([...(options.prefix ?? []), BINARY, ...args], { ...options, env: cliEnv(adapter) });
}

export interface Server {
  proc: Bun.Subprocess<"pipe" | "ignore", "pipe", "pipe">;
  pid: number;
  /** The address and port from the `listening on` line. */
  host: string;
  port: number;
  /** Everything printed so far (read from the file when stdout goes to one). */
  stdout(): string;
  stderr(): string;
  /** Wait until stdout (or stderr) matches. */
  waitFor(pattern: RegExp, ms?: number, stream?: "stdout" | "stderr"): Promise<RegExpMatchArray>;
  /** Send `signal` and wait (bounded) for the exit. */
  stop(signal?: "SIGINT" | "SIGTERM", ms?: number): Promise<{ code: number | null; ms: number }>;
}

export interface ServerOptions {
  adapter: Adapter;
  /** Send stdout to this file instead of a pipe (for large outputs). */
  stdoutFile?: string;
  /** Run through `sh -c 'ulimit -n N; exec …'`: the pid stays the server's. */
  fdLimit?: number;
  /** argv before the binary, e.g. ["ip", "netns", "exec", "ns"] (which execs: same pid). */
  prefix?: string[];
  /** How long to wait for the `listening on` line. */
  startMs?: number;
}

/** Start `sockdemo <args>` and wait for its `listening on` line. */
export async function startServer(args: string[], options: ServerOptions): Promise<Server> {
  let cmd = [...(options.prefix ?? []), BINARY, ...args];
  if (options.fdLimit !== undefined) {
    const quoted = cmd.map((arg) => `'${arg.replaceAll("'", "'\\''")}'`).join(" ");
    cmd = ["sh", "-c", `ulimit -n ${options.fdLimit} && exec ${quoted}`];
  }
  let fd: number | undefined;
  if (options.stdoutFile) fd = openSync(options.stdoutFile, "w");
  const proc = spawnTracked(cmd, {
    env: cliEnv(options.adapter),
    stdout: fd ?? "pipe",
    stderr: "pipe",
  });
  if (fd !== undefined) closeSync(fd);
  const file = options.stdoutFile;
  const out = file ? { text: () => readFileSync(file, "utf8") } : collect(proc.stdout);
  const err = collect(proc.stderr);
  const streams = { stdout: out, stderr: err };
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
  });
  const waitFor = async (pattern: RegExp, ms = 5000, stream: "stdout" | "stderr" = "stdout") => {
    const text = streams[stream].text;
    return waitUntil(
      () => {
        const match = text().match(pattern);
        if (match) return match;
        if (exited) {
          throw new Error(
            `server exited (code ${proc.exitCode}) before ${stream} matched ${pattern}\nstdout: ${out.text().slice(-2000)}\nstderr: ${err.text()}`,
          );
        }
        return undefined;
      },
      ms,
      `${stream} of \`sockdemo ${args.join(" ")}\` to match ${pattern}`,
      10,
    );
  };
  // The human line, or with --json the listening event.
  const listening = await waitFor(
    /listening on (?:tcp|udp) (\[[0-9a-f:.]+\]|[0-9.]+):(\d+)|"event":"listening".*"local":\{"address":"([0-9a-f:.]+)","port":(\d+)/,
    options.startMs ?? 10_000,
  );
  return {
    proc,
    pid: proc.pid,
    host: (listening[1] ?? (listening[3] as string)).replace(/^\[|\]$/g, ""),
    port: Number(listening[2] ?? listening[4]),
    stdout: out.text,
    stderr: err.text,
    waitFor,
    async stop(signal = "SIGINT", ms = 10_000) {
      const started = performance.now();
      proc.kill(signal);
      const code = await within(proc.exited, ms, `server to exit after ${signal}`);
      // Let the pipes deliver their last bytes.
      await sleep(20);
      return { code: proc.signalCode ? null : code, ms: performance.now() - started };
    },
  };
}

// --- /proc ---

/** Resident memory of a process in KiB (VmRSS). */
export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
}

/** Open file descriptors of a process. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** The soft "Max open files" limit of a process. */
export function openFileLimit(pid: number | "self"): number {
  const limits = readFileSync(`/proc/${pid}/limits`, "utf8");
  return Number(/Max open files\s+(\d+)/.exec(limits)?.[1] ?? Number.NaN);
}

/** Samples VmRSS (and the open fd count) every `everyMs` until stopped; keeps the peaks. */
export class RssSampler {
  peakKiB = 0;
  peakFds = 0;
  samples = 0;
  private readonly timer: ReturnType<typeof setInterval>;
  constructor(
    private readonly pid: number,
    everyMs = 25,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }
  sample(): number {
    try {
      const rss = rssKiB(this.pid);
      const fds = fdCount(this.pid);
      this.samples++;
      if (rss > this.peakKiB) this.peakKiB = rss;
      if (fds > this.peakFds) this.peakFds = fds;
      return rss;
    } catch {
      return Number.NaN; // the process is gone; the test will say so
    }
  }
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peakKiB;
  }
}

export const mb = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;

// --- temporary files ---

/** A fresh directory under the system temp dir; remove it with `rmSync(dir, {recursive})`. */
export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `sockdemo-${label}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Compile a C helper from test/reliability/ (once per version of its source:
 * the executable is named after the source's hash and kept); returns its path.
 */
export function compileHelper(name: string): string {
  const source = join(HELPERS, `${name}.c`);
  const hash = createHash("sha256").update(readFileSync(source)).digest("hex").slice(0, 16);
  const dir = join(tmpdir(), "sockdemo-test-helpers");
  const out = join(dir, `${name}-${hash}`);
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  // Built under a private name and renamed: a parallel run never sees half an executable.
  const building = `${out}.${process.pid}`;
  const cc = spawnSync("cc", ["-O2", "-pthread", "-Wall", "-o", building, source], {
    encoding: "utf8",
  });
  if (cc.status !== 0) throw new Error(`cc ${source} failed:\n${cc.stderr}`);
  renameSync(building, out);
  return out;
}

// --- byte streams ---

/**
 * A deterministic pseudo-random byte stream (xorshift32), so a sender and a
 * verifier with the same seed agree on every byte without storing them.
 */
export class PrngStream {
  private state: number;
  /** Bytes generated but not handed out yet (a partial word). */
  private spare = new Uint8Array(0);
  constructor(seed: number) {
    this.state = (seed * 2654435761) >>> 0 || 1;
  }
  /** The next `n` bytes of the stream. */
  next(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    const fromSpare = Math.min(this.spare.length, n);
    out.set(this.spare.subarray(0, fromSpare));
    this.spare = this.spare.subarray(fromSpare);
    at = fromSpare;
    const words = Math.ceil((n - at) / 4);
    if (words > 0) {
      const block = new Uint32Array(words);
      let s = this.state;
      for (let i = 0; i < words; i++) {
        s ^= s << 13;
        s >>>= 0;
        s ^= s >>> 17;
        s ^= s << 5;
        s >>>= 0;
        block[i] = s;
      }
      this.state = s;
      const bytes = new Uint8Array(block.buffer);
      out.set(bytes.subarray(0, n - at), at);
      this.spare = bytes.subarray(n - at);
    }
    return out;
  }
}

/** Checks that chunks, concatenated, equal a PrngStream; throws at the first wrong byte. */
export class StreamChecker {
  received = 0;
  private readonly expected: PrngStream;
  constructor(seed: number) {
    this.expected = new PrngStream(seed);
  }
  push(chunk: Uint8Array): void {
    const want = this.expected.next(chunk.byteLength);
    const got = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (!got.equals(want)) {
      let i = 0;
      while (got[i] === want[i]) i++;
      throw new Error(
        `byte ${this.received + i} differs: got 0x${got[i]?.toString(16)}, want 0x${want[i]?.toString(16)}`,
      );
    }
    this.received += chunk.byteLength;
  }
}

/**
 * Verifies a reply stream against what was sent when the server answers each
 * chunk it received with prefix + chunk, and the chunking is unknown: the
 * reply must equal the concatenation of (prefix + c) over SOME split of the
 * sent stream into non-empty chunks c.
 *
 * It is a nondeterministic automaton run over the reply bytes, one byte at a
 * time. A state is (position in the sent stream, how much of the prefix has
 * been matched, whether the current chunk has a byte yet, chunks so far).
 * Inside a chunk a byte can either continue the chunk (if it is the next sent
 * byte) or, once the chunk is non-empty, start the next prefix (if it is the
 * prefix's first byte): both are kept. Random data makes the set tiny (almost
 * always one state); it is capped so a pathological input fails instead of
 * exploding.
 */
export class PrefixedEchoVerifier {
  /** Flat states: [sentPos, prefixMatched, chunkStarted(0/1), chunks]. */
  private states: number[][] = [[0, 0, 0, 0]];
  received = 0;
  constructor(
    private readonly prefix: Uint8Array,
    private readonly sent: Uint8Array,
    private readonly maxStates = 64,
  ) {
    if (prefix.length === 0) throw new Error("use StreamChecker for an empty prefix");
  }

  push(chunk: Uint8Array): void {
    const { prefix, sent } = this;
    const P = prefix.length;
    let states = this.states;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i] as number;
      const next: number[][] = [];
      const seen = new Set<string>();
      const add = (s: number[]) => {
        const key = s.join(",");
        if (!seen.has(key)) {
          seen.add(key);
          next.push(s);
        }
      };
      for (const [j, k, started, n] of states as [number, number, number, number][]) {
        if (k < P) {
          // Inside a prefix.
          if (b === prefix[k]) add([j, k + 1, 0, n]);
        } else {
          // Inside a chunk: continue it, or (if non-empty) start the next prefix.
          if (j < sent.length && b === sent[j]) add([j + 1, P, 1, n]);
          if (started === 1 && b === prefix[0]) add([j, 1, 0, n + 1]);
        }
      }
      if (next.length === 0) {
        const j = states[0]?.[0] ?? 0;
        throw new Error(
          `reply byte ${this.received + i} (0x${b.toString(16)}) fits no split: ` +
            `${states.length} candidate(s), first at sent offset ${j} of ${sent.length}`,
        );
      }
      if (next.length > this.maxStates) {
        throw new Error(`verifier ambiguity: ${next.length} candidate splits`);
      }
      states = next;
    }
    this.received += chunk.length;
    this.states = states;
  }

  /** After the last reply byte: the whole sent stream must be covered. Returns the chunk count. */
  finish(): number {
    const P = this.prefix.length;
    const done = this.states.filter(
      ([j, k, started]) => j === this.sent.length && k === P && started === 1,
    );
    if (this.sent.length === 0 && this.received === 0) return 0;
    if (done.length === 0) {
      const best = Math.max(...this.states.map(([j]) => j as number));
      throw new Error(`reply ended early: covers ${best} of ${this.sent.length} sent bytes`);
    }
    return ((done[0] as number[])[3] as number) + 1;
  }
}

// --- TCP clients (in this process) ---

export interface EchoResult {
  sent: number;
  received: number;
  /** Prefixed echoes: how many chunks the server answered (prefixes seen). */
  chunks?: number;
  ms: number;
  localPort: number;
}

/**
 * Stream `size` pseudo-random bytes to a pure echo server (`--prefix ''`)
 * while reading, verifying every received byte as it arrives.
 */
export function streamEcho(
  host: string,
  port: number,
  size: number,
  seed: number,
  options: { paused?: Promise<void>; onProgress?: (sent: number) => void } = {},
): Promise<EchoResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect({ host, port });
    const source = new PrngStream(seed);
    const checker = new StreamChecker(seed);
    let sent = 0;
    let failed = false;
    const fail = (error: Error) => {
      if (failed) return;
      failed = true;
      socket.destroy();
      reject(error);
    };
    const pump = () => {
      while (sent < size) {
        const n = Math.min(64 * KiB, size - sent);
        sent += n;
        options.onProgress?.(sent);
        if (!socket.write(source.next(n))) return;
      }
      socket.end();
    };
    if (options.paused) {
      socket.pause();
      options.paused.then(() => socket.resume());
    }
    let localPort = 0;
    socket.on("connect", () => {
      localPort = socket.localPort ?? 0;
      pump();
    });
    socket.on("drain", pump);
    socket.on("data", (chunk: Buffer) => {
      try {
        checker.push(chunk);
      } catch (error) {
        fail(error as Error);
      }
    });
    socket.on("error", (error) => fail(error));
    socket.on("close", () => {
      if (failed) return;
      if (checker.received !== size) {
        fail(new Error(`received ${checker.received} of ${size} bytes`));
        return;
      }
      resolve({
        sent,
        received: checker.received,
        ms: performance.now() - started,
        localPort,
      });
    });
  });
}

/** Send `data` (in 64 KiB writes), half-close, and verify the prefixed echo as it arrives. */
export function prefixedEcho(
  host: string,
  port: number,
  data: Uint8Array,
  prefix: string,
): Promise<EchoResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect({ host, port });
    const verifier = new PrefixedEchoVerifier(Buffer.from(prefix), data);
    let sent = 0;
    let failed = false;
    const fail = (error: Error) => {
      if (failed) return;
      failed = true;
      socket.destroy();
      reject(error);
    };
    const pump = () => {
      while (sent < data.length) {
        const piece = data.subarray(sent, sent + 64 * KiB);
        sent += piece.length;
        if (!socket.write(piece)) return;
      }
      socket.end();
    };
    let localPort = 0;
    socket.on("connect", () => {
      localPort = socket.localPort ?? 0;
      pump();
    });
    socket.on("drain", pump);
    socket.on("data", (chunk: Buffer) => {
      try {
        verifier.push(chunk);
      } catch (error) {
        fail(error as Error);
      }
    });
    socket.on("error", (error) => fail(error));
    socket.on("close", () => {
      if (failed) return;
      try {
        const chunks = verifier.finish();
        resolve({
          sent,
          received: verifier.received,
          chunks,
          ms: performance.now() - started,
          localPort,
        });
      } catch (error) {
        fail(error as Error);
      }
    });
  });
}

export interface Exchange {
  reply: Buffer;
  /** How the connection ended: "eof" (FIN), or the error code (ECONNRESET, ...). */
  end: string;
  localPort: number;
}

/** Connect, send `message`, half-close, read until the server closes. */
export function exchange(
  host: string,
  port: number,
  message: string | Uint8Array,
  timeoutMs = 5000,
): Promise<Exchange> {
  return within(
    new Promise((resolve) => {
      const socket = net.connect({ host, port });
      const chunks: Buffer[] = [];
      let end = "eof";
      let localPort = 0;
      socket.on("connect", () => {
        localPort = socket.localPort ?? 0;
        socket.end(message);
      });
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      socket.on("error", (error: NodeJS.ErrnoException) => {
        end = error.code ?? error.message;
      });
      socket.on("close", () => resolve({ reply: Buffer.concat(chunks), end, localPort }));
    }),
    timeoutMs,
    `exchange with ${host}:${port}`,
  );
}

/** A connected socket that sends nothing until told; records how it ended. */
export interface Held {
  socket: net.Socket;
  localPort: number;
  data: Buffer[];
  /** Resolves when the connection closes: "eof" or an error code. */
  closed: Promise<{ end: string; at: number }>;
}

export function hold(host: string, port: number, timeoutMs = 5000): Promise<Held> {
  return within(
    new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      const data: Buffer[] = [];
      let end = "eof";
      const closed = new Promise<{ end: string; at: number }>((done) => {
        socket.on("close", () => done({ end, at: performance.now() }));
      });
      socket.on("data", (chunk: Buffer) => data.push(chunk));
      socket.on("error", (error: NodeJS.ErrnoException) => {
        end = error.code ?? error.message;
        reject(error);
      });
      socket.on("connect", () =>
        resolve({ socket, localPort: socket.localPort ?? 0, data, closed }),
      );
    }),
    timeoutMs,
    `connect to ${host}:${port}`,
  );
}

export interface Attempt {
  /** Whether `connect` fired before the end (a server may reset before the client hears of it). */
  connected: boolean;
  localPort: number | undefined;
  /** "eof" or the error code. */
  end: string;
  data: Buffer;
  ms: number;
}

/** Connect and wait for the server to end the connection, whatever way it does. */
export function attempt(host: string, port: number, timeoutMs = 5000): Promise<Attempt> {
  return within(
    new Promise((resolve) => {
      const started = performance.now();
      const socket = net.connect({ host, port });
      const data: Buffer[] = [];
      let connected = false;
      let localPort: number | undefined;
      let end = "eof";
      socket.on("connect", () => {
        connected = true;
        localPort = socket.localPort;
      });
      socket.on("data", (chunk: Buffer) => data.push(chunk));
      socket.on("error", (error: NodeJS.ErrnoException) => {
        end = error.code ?? error.message;
      });
      socket.on("close", () =>
        resolve({
          connected,
          localPort,
          end,
          data: Buffer.concat(data),
          ms: performance.now() - started,
        }),
      );
    }),
    timeoutMs,
    `the server to end a connection to ${host}:${port}`,
  );
}

/** A port nobody listens on right now: bound, read, released. */
export async function closedUdpPort(host = "127.0.0.1"): Promise<number> {
  const dgram = await import("node:dgram");
  const socket = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
  await new Promise<void>((resolve) => socket.bind(0, host, () => resolve()));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** Run a Python helper from test/reliability/ with a JSON spec; parses its JSON answer. */
export async function pythonHelper<T>(name: string, spec: unknown, timeoutMs = 30_000): Promise<T> {
  const ran = await run(["python3", join(HELPERS, name), JSON.stringify(spec)], { timeoutMs });
  if (ran.code !== 0) {
    throw new Error(`python3 ${name} failed (${ran.code ?? ran.signal}):\n${ran.stderr}`);
  }
  return JSON.parse(ran.stdout) as T;
}
