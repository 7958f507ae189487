/**
 * Spawning sockdemo (and its Python peers) for end-to-end tests: stdout read
 * line by line as it comes, waits with deadlines, and cleanup that kills
 * whatever a test started even when the test fails.
 *
 *   await scoped(async (s) => {
 *     const server = s.cli(runner, ["tcp-server", "--port", "0"]);
 *     const { port } = await server.listening();
 *     const client = await s.run(runner, ["tcp-client", "--port", String(port)]);
 *   });
 */
import { expect } from "bun:test";
import { ROOT, type Runner } from "./_runners.ts";

type Subprocess = ReturnType<typeof Bun.spawn>;

export interface Finished {
  /** Exit code, or null when a signal ended the process. */
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** stdout split into lines (a trailing newline does not make an empty last line). */
  lines: string[];
  stderrLines: string[];
  /** Milliseconds from spawn to exit. */
  ms: number;
}

export interface SpawnOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Text for standard input (then closed); by default stdin is /dev/null. */
  stdin?: string;
}

export interface Listening {
  proto: "tcp" | "udp";
  address: string;
  port: number;
}

const splitLines = (text: string): string[] => {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
};

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Every process still running, whichever test started it: the last-resort cleanup. */
const live = new Set<Proc>();

export class Proc {
  readonly proc: Subprocess;
  readonly argv: string[];
  private out = "";
  private err = "";
  private wake: () => void = () => {};
  private changed: Promise<void>;
  private readonly spawnedAt = performance.now();
  private exitedAt = 0;
  private readonly reading: Promise<void>;
  private done = false;

  constructor(argv: string[], options: SpawnOptions = {}) {
    this.argv = argv;
    this.changed = this.nextChange();
    this.proc = Bun.spawn(argv, {
      cwd: options.cwd ?? ROOT,
      env: options.env ?? { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      stdin: options.stdin === undefined ? "ignore" : new Blob([options.stdin]),
      stdout: "pipe",
      stderr: "pipe",
    });
    live.add(this);
    const pump = async (stream: ReadableStream<Uint8Array>, add: (text: string) => void) => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        add(decoder.decode(chunk, { stream: true }));
        this.notify();
      }
      add(decoder.decode());
    };
    this.reading = Promise.all([
      pump(this.proc.stdout as ReadableStream<Uint8Array>, (t) => {
        this.out += t;
      }),
      pump(this.proc.stderr as ReadableStream<Uint8Array>, (t) => {
        this.err += t;
      }),
      this.proc.exited.then(() => {
        this.exitedAt = performance.now();
      }),
    ]).then(() => {
      this.done = true;
      live.delete(this);
      this.notify();
    });
  }

  private nextChange(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
    });
  }

  private notify(): void {
    const wake = this.wake;
    this.changed = this.nextChange();
    wake();
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** Everything written to stdout so far, exactly as written. */
  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  /** Complete stdout lines so far. */
  get lines(): string[] {
    const complete = this.out.slice(0, this.out.lastIndexOf("\n") + 1);
    return splitLines(complete);
  }

  /** Has the process exited and both pipes been read to the end? */
  get finished(): boolean {
    return this.done;
  }

  private describe(): string {
    const name = this.argv.map((a) => (a.startsWith(ROOT) ? a.slice(ROOT.length + 1) : a));
    return `${name.join(" ")}\n--- stdout:\n${this.out}\n--- stderr:\n${this.err}`;
  }

  /** The first complete stdout line matching `pattern`; throws after `timeoutMs` or if the process ends first. */
  async waitForLine(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpMatchArray> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      for (const line of this.lines) {
        const match = line.match(pattern);
        if (match) return match;
      }
      if (this.done) throw new Error(`exited before printing ${pattern}: ${this.describe()}`);
      const left = deadline - performance.now();
      if (left <= 0)
        throw new Error(`no line ${pattern} within ${timeoutMs} ms: ${this.describe()}`);
      await Promise.race([this.changed, sleep(left)]);
    }
  }

  /** Wait for a server's `listening on tcp 127.0.0.1:PORT` line (or --json `listening` event). */
  async listening(timeoutMs = 10_000): Promise<Listening> {
    const match = await this.waitForLine(
      /^(?:\[[\w-]+\] )?listening on (tcp|udp) (?:\[([^\]]+)\]|([^\s:]+)):(\d+)$|^\{"event":"listening"/,
      timeoutMs,
    );
    if (match[0].startsWith("{")) {
      const event = JSON.parse(match.input as string) as {
        proto: "tcp" | "udp";
        local: { address: string; port: number };
      };
      return { proto: event.proto, address: event.local.address, port: event.local.port };
    }
    return {
      proto: match[1] as "tcp" | "udp",
      address: (match[2] ?? match[3]) as string,
      port: Number(match[4]),
    };
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.done) this.proc.kill(signal);
  }

  /** Wait for exit (and the pipes to drain); after `timeoutMs` kill it and throw. */
  async wait(timeoutMs = 10_000): Promise<Finished> {
    const inTime = await Promise.race([this.reading.then(() => true), sleep(timeoutMs)]);
    if (!inTime) {
      const about = this.describe();
      await this.kill();
      throw new Error(`did not exit within ${timeoutMs} ms: ${about}`);
    }
    return {
      code: this.proc.exitCode,
      signal: this.proc.signalCode === null ? null : String(this.proc.signalCode),
      stdout: this.out,
      stderr: this.err,
      lines: splitLines(this.out),
      stderrLines: splitLines(this.err),
      ms: this.exitedAt - this.spawnedAt,
    };
  }

  /** SIGKILL (if still running) and wait until it is gone. */
  async kill(): Promise<void> {
    if (!this.done) this.proc.kill("SIGKILL");
    await Promise.race([this.reading, sleep(5000)]);
  }
}

/** The processes one test started; `close()` kills those still running. */
export class Scope {
  private readonly procs = new Set<Proc>();

  spawn(argv: string[], options?: SpawnOptions): Proc {
    const proc = new Proc(argv, options);
    this.procs.add(proc);
    return proc;
  }

  /** Start sockdemo on `runner`; `env` is added to the runner's own environment. */
  cli(runner: Runner, args: string[], options: SpawnOptions = {}): Proc {
    return this.spawn([...runner.argv, ...args], {
      ...options,
      env: { ...runner.env, ...options.env },
    });
  }

  /** Run sockdemo to completion. */
  run(
    runner: Runner,
    args: string[],
    options: SpawnOptions & { timeoutMs?: number } = {},
  ): Promise<Finished> {
    return this.cli(runner, args, options).wait(options.timeoutMs ?? 10_000);
  }

  /** Run a Python peer (unbuffered) to completion, or start it with `python3Start`. */
  python3(args: string[], options: SpawnOptions & { timeoutMs?: number } = {}): Promise<Finished> {
    return this.python3Start(args, options).wait(options.timeoutMs ?? 10_000);
  }

  python3Start(args: string[], options: SpawnOptions = {}): Proc {
    return this.spawn(["python3", "-u", ...args], {
      ...options,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", LANG: "C.UTF-8", ...options.env },
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.procs].map((p) => p.kill()));
    this.procs.clear();
  }
}

/** Run `body` with a fresh Scope; everything it spawned is killed afterwards, pass or fail. */
export async function scoped<T>(body: (scope: Scope) => Promise<T>): Promise<T> {
  const scope = new Scope();
  try {
    return await body(scope);
  } finally {
    await scope.close();
  }
}

/** Exit code 0 and nothing on stderr; a failure shows stdout too. */
export function expectOk(ran: Finished): void {
  expect({ code: ran.code, stderr: ran.stderr, stdout: ran.stdout }).toEqual({
    code: 0,
    stderr: "",
    stdout: ran.stdout,
  });
}

/** Kill every process any test left running (for afterAll). */
export async function killAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.kill()));
}

// Should the test runner itself be interrupted, take the children along.
process.on("exit", () => {
  for (const p of live) p.proc.kill("SIGKILL");
});
