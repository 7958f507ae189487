/**
 * bench: an echo load generator for any echo server (sockdemo's own with
 * --prefix '' or a known --prefix, nc/socat/ncat, your own). Every reply is
 * checked byte for byte; latency is measured per request.
 *
 * - pingpong: each connection (or UDP flow) sends one message of --size bytes
 *   and waits for prefix + message before sending the next.
 * - stream (TCP, pure echo only): each connection writes continuously and
 *   checks every byte that comes back.
 */
import { hostPort } from "../display/bytes.ts";
import type { Reporter } from "../display/output.ts";
import type { SocketRuntime, TcpConnection } from "../runtime/index.ts";
import { SocketError, wildcardFor } from "../runtime/index.ts";
import { type CommandContext, concatBytes, resolveAndReport, UsageError, utf8 } from "./_common.ts";
import { parseTarget } from "./check.ts";

export interface BenchOptions {
  target: string;
  udp: boolean;
  mode: "pingpong" | "stream";
  conns: number;
  size: number;
  durationMs: number;
  prefix: string;
  /** UDP: a datagram without reply after this long counts as lost. */
  udpTimeoutMs: number;
}

/** What every worker adds to. */
class Stats {
  requests = 0;
  bytesVerified = 0;
  errors = 0;
  lost = 0;
  mismatches = 0;
  readonly latenciesUs: number[] = [];
  firstError: string | undefined;

  /** One request answered correctly, `sentAt` being when it was sent. */
  answered(sentAt: number, bytes: number): void {
    this.latenciesUs.push((performance.now() - sentAt) * 1000);
    this.requests++;
    this.bytesVerified += bytes;
  }

  fail(message: string): void {
    this.errors++;
    this.firstError ??= message;
  }
}

/** Deterministic bytes, different per connection, so a crossed stream is caught. */
function pattern(seed: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

/** What connection `id` sends in ping-pong mode, and the reply it must get back. */
function exchange(id: number, o: BenchOptions): { message: Uint8Array; expected: Uint8Array } {
  const message = pattern(id + 1, o.size);
  return { message, expected: concatBytes(utf8(o.prefix), message) };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

const equalAt = (a: Uint8Array, b: Uint8Array, offset: number) => {
  for (let i = 0; i < b.length; i++) if (a[offset + i] !== b[i]) return false;
  return true;
};

async function tcpPingPong(
  runtime: SocketRuntime,
  host: string,
  port: number,
  id: number,
  o: BenchOptions,
  stats: Stats,
  until: number,
) {
  const { message, expected } = exchange(id, o);
  let received = 0;
  let sentAt = 0;
  let wake: () => void = () => {};
  const conn = await runtime.connectTcp({
    host,
    port,
    timeoutMs: 5000,
    events: {
      data(_c, chunk) {
        if (!equalAt(expected, chunk, received) || received + chunk.length > expected.length) {
          stats.mismatches++;
          stats.fail("a reply differed from prefix + message");
        }
        received += chunk.length;
        if (received >= expected.length) {
          stats.answered(sentAt, expected.length);
          received = 0;
          wake();
        }
      },
      close: () => wake(),
    },
  });
  let closed = false;
  conn.closed.then(() => {
    closed = true;
  });
  while (performance.now() < until && !closed && stats.mismatches === 0) {
    const answered = new Promise<void>((resolve) => (wake = resolve));
    sentAt = performance.now();
    conn.write(message);
    await answered;
  }
  if (closed && performance.now() < until) stats.fail("the server closed a connection mid-run");
  conn.destroy();
}

async function tcpStream(
  runtime: SocketRuntime,
  host: string,
  port: number,
  id: number,
  stats: Stats,
  until: number,
) {
  // A repeating block keeps memory flat; its length is odd so chunk edges drift across it.
  const block = pattern(id + 1, 65_521);
  let sent = 0;
  let checked = 0;
  let conn: TcpConnection | undefined;
  let resume: () => void = () => {};
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));
  conn = await runtime.connectTcp({
    host,
    port,
    timeoutMs: 5000,
    events: {
      data(_c, chunk) {
        for (let i = 0; i < chunk.length; i++) {
          if (chunk[i] !== block[(checked + i) % block.length]) {
            stats.mismatches++;
            stats.fail(`echoed byte ${checked + i} differs from what was sent`);
            conn?.destroy();
            return;
          }
        }
        checked += chunk.length;
        stats.bytesVerified += chunk.length;
      },
      drain: () => resume(),
      close: () => finish(),
    },
  });
  while (performance.now() < until && stats.mismatches === 0) {
    const start = sent % block.length;
    const more = conn.write(block.subarray(start));
    sent += block.length - start;
    if (!more) await new Promise<void>((resolve) => (resume = resolve));
  }
  conn.end();
  await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 5000))]);
  if (checked !== sent && stats.mismatches === 0)
    stats.fail(`sent ${sent} bytes but ${checked} came back`);
  conn.destroy();
}

async function udpPingPong(
  runtime: SocketRuntime,
  host: string,
  family: "IPv4" | "IPv6",
  port: number,
  id: number,
  o: BenchOptions,
  stats: Stats,
  until: number,
) {
  const { message, expected } = exchange(id, o);
  let wake: (ok: boolean) => void = () => {};
  const socket = await runtime.bindUdp({
    host: wildcardFor(family),
    port: 0,
    connect: { host, port },
    message(_s, { bytes }) {
      if (bytes.length !== expected.length || !equalAt(expected, bytes, 0)) {
        stats.mismatches++;
        stats.fail("a reply datagram differed from prefix + message");
      }
      wake(true);
    },
    error(_s, error) {
      stats.fail(error.message);
      wake(false);
    },
  });
  while (performance.now() < until && stats.mismatches === 0) {
    const sentAt = performance.now();
    const answered = new Promise<boolean>((resolve) => {
      wake = resolve;
      setTimeout(() => resolve(false), o.udpTimeoutMs);
    });
    await socket.send(message);
    if (await answered) stats.answered(sentAt, expected.length);
    else stats.lost++;
  }
  await socket.close();
}

/** A one-line progress bar on stderr, only when stderr is a terminal. */
function progress(startedAt: number, durationMs: number, stats: Stats): () => void {
  const stderr = process.stderr as { isTTY?: boolean; write(text: string): boolean };
  if (!stderr.isTTY) return () => {};
  const timer = setInterval(() => {
    const elapsed = performance.now() - startedAt;
    const fraction = Math.min(1, elapsed / durationMs);
    const bar = "#".repeat(Math.round(fraction * 30)).padEnd(30, ".");
    const rate = Math.round(stats.requests / (elapsed / 1000));
    const mb = (stats.bytesVerified / 1e6 / (elapsed / 1000)).toFixed(1);
    stderr.write(
      `\r[${bar}] ${(elapsed / 1000).toFixed(1)} s  ${rate} req/s  ${mb} MB/s verified  `,
    );
  }, 200);
  return () => {
    clearInterval(timer);
    stderr.write("\r\x1b[2K");
  };
}

export async function bench(options: BenchOptions, ctx: CommandContext): Promise<number> {
  const report: Reporter = ctx.output.reporter("bench");
  const { host, port } = parseTarget(options.target);
  if (options.mode === "stream" && (options.udp || options.prefix !== "")) {
    throw new UsageError("--mode stream needs a pure TCP echo server (no --udp, --prefix '')");
  }
  const resolved = await resolveAndReport(host, report);
  const stats = new Stats();
  const startedAt = performance.now();
  const until = startedAt + options.durationMs;
  const stopProgress = progress(startedAt, options.durationMs, stats);
  const workers = Array.from({ length: options.conns }, (_, id) => {
    if (options.udp)
      return udpPingPong(
        ctx.runtime,
        resolved.address,
        resolved.family,
        port,
        id,
        options,
        stats,
        until,
      );
    if (options.mode === "stream")
      return tcpStream(ctx.runtime, resolved.address, port, id, stats, until);
    return tcpPingPong(ctx.runtime, resolved.address, port, id, options, stats, until);
  });
  const results = await Promise.allSettled(workers);
  stopProgress();
  for (const result of results) {
    if (result.status === "rejected") {
      const error = result.reason;
      // Nobody answered at all: report it as the failure it is.
      if (error instanceof SocketError && stats.requests === 0 && stats.bytesVerified === 0)
        throw error;
      stats.fail(error instanceof Error ? error.message : String(error));
    }
  }
  const seconds = (performance.now() - startedAt) / 1000;
  const sorted = stats.latenciesUs.sort((a, b) => a - b);
  report.emit({
    event: "bench",
    target: hostPort(resolved.address, port),
    proto: options.udp ? "udp" : "tcp",
    mode: options.udp ? "pingpong" : options.mode,
    conns: options.conns,
    size: options.size,
    seconds,
    requests: stats.requests,
    requestsPerSecond: stats.requests / seconds,
    megabytesPerSecond: stats.bytesVerified / 1e6 / seconds,
    bytesVerified: stats.bytesVerified,
    p50Us: percentile(sorted, 50),
    p90Us: percentile(sorted, 90),
    p99Us: percentile(sorted, 99),
    errors: stats.errors,
    lost: stats.lost,
    firstError: stats.firstError,
  });
  return stats.errors > 0 || stats.mismatches > 0 ? 1 : 0;
}
