/**
 * What every command shares: the context it runs in, option validation,
 * and the plain-words hints attached to network errors.
 */

import { Buffer } from "node:buffer";
import { hostPort } from "../display/bytes.ts";
import type { SockEvent } from "../display/events.ts";
import type { Output, Reporter } from "../display/output.ts";
import {
  type Endpoint,
  type Resolved,
  resolveHost,
  type SocketError,
  type SocketRuntime,
} from "../runtime/index.ts";
import { rangeOf } from "./ports.ts";

export interface CommandContext {
  runtime: SocketRuntime;
  output: Output;
  /** Aborted on the first Ctrl+C / SIGTERM: servers stop, print their summary and exit 0. */
  signal: AbortSignal;
  version: string;
  runtimeLabel: string;
}

/** Bad input from the command line: exit code 2. */
export class UsageError extends Error {
  readonly code = "EUSAGE";
}

export const DEFAULT_HOST = "127.0.0.1";
/** The tutorial's port: in the dynamic/private range (49152–65535) nobody registers. */
export const DEFAULT_PORT = 50000;

export function parsePort(value: unknown, option = "--port"): number {
  const text = String(value).trim();
  const port = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(
      `${option} must be a whole number from 0 to 65535, not "${String(value)}"`,
    );
  }
  return port;
}

export function parseCount(value: unknown, option: string): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`${option} must be a whole number of at least 1, not "${String(value)}"`);
  }
  return n;
}

/** Seconds (fractions allowed) to milliseconds; 0 means "don't wait". */
export function parseSeconds(value: unknown, option: string): number {
  const text = String(value).trim();
  const seconds = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(seconds) || seconds > 86400) {
    throw new UsageError(
      `${option} must be a number of seconds from 0 to 86400, not "${String(value)}"`,
    );
  }
  return Math.round(seconds * 1000);
}

export function parseMilliseconds(value: unknown, option: string): number {
  const text = String(value).trim();
  const ms = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(ms) || ms > 86_400_000) {
    throw new UsageError(
      `${option} must be a whole number of milliseconds, not "${String(value)}"`,
    );
  }
  return ms;
}

export function parseHost(value: unknown): string {
  const host = String(value ?? "").trim();
  if (!host || host === "true" || /[\s/]/.test(host)) {
    throw new UsageError(`--host needs an address or host name, not "${String(value ?? "")}"`);
  }
  return host;
}

const encoder = new TextEncoder();
export const utf8 = (text: string): Uint8Array => encoder.encode(text);

export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.byteLength === 0) return b;
  // A Buffer: node:net and node:dgram turn any other Uint8Array into one through
  // its .buffer, which JavaScriptCore first has to move out of its heap (Bun: ~2 µs a reply).
  const out = Buffer.allocUnsafe(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}

/** Resolve `host`, reporting the choice when a name (not an address) was given. */
export async function resolveAndReport(host: string, report: Reporter): Promise<Resolved> {
  const resolved = await resolveHost(host);
  if (!resolved.literal) {
    report.emit({ event: "resolved", host, address: resolved.address, all: resolved.all });
  }
  return resolved;
}

/**
 * What a server should warn about once bound: reachable from other machines
 * (wildcard address), or sitting on a well-known port.
 */
export function bindWarning(local: Endpoint): string | undefined {
  const warnings: string[] = [];
  if (local.address === "0.0.0.0" || local.address === "::") {
    warnings.push(
      `bound to ${local.address}: every network interface, so other machines can connect too`,
    );
  }
  if (local.port > 0 && local.port < 1024) {
    warnings.push(
      `port ${local.port} is a well-known port (0–1023), reserved for standard services and needing administrator rights; ports 49152–65535 are free for private use`,
    );
  }
  return warnings.length > 0 ? warnings.join("; ") : undefined;
}

/** One short next step for a failed operation, in plain words. */
export function hintFor(error: SocketError, proto: "tcp" | "udp"): string | undefined {
  const target = error.target ? hostPort(error.target.host, error.target.port) : "that address";
  const port = error.target?.port;
  switch (error.code) {
    case "ECONNREFUSED":
      return proto === "udp"
        ? `nothing is listening on udp ${target} (the host answered "port unreachable")`
        : `is a server listening on ${target}? start one with: sockdemo tcp-server --port ${port}`;
    case "EADDRINUSE":
      return `port ${port} is in use by another program — pick another, or --port 0 for any free port`;
    case "EADDRNOTAVAIL":
      return `${error.target?.host} is not an address of this machine — try 127.0.0.1, or 0.0.0.0 for all interfaces`;
    case "EACCES":
      return `ports below 1024 need administrator rights — use a port from 1024 up, e.g. --port ${DEFAULT_PORT}`;
    case "EPERM":
      return "the runtime forbids network access (with Deno, run with --allow-net)";
    case "ENOTFOUND":
      return "check the host name's spelling, or use a numeric address like 127.0.0.1";
    case "ETIMEDOUT":
      return `no answer from ${target} — the host may be down, or a firewall drops the packets`;
    case "ECONNRESET":
      return "the peer aborted the connection (RST)";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "no route to that address from this machine";
    case "EMSGSIZE":
      return "one UDP datagram holds at most 65507 bytes over IPv4 (65527 over IPv6)";
    default:
      return undefined;
  }
}

/**
 * The exit code of a client or bench that the first Ctrl+C / SIGTERM ended:
 * 130 for SIGINT, 143 for SIGTERM (128 + the signal's number, as shells
 * report it). cli.ts aborts the signal with the signal's name as its reason;
 * an abort without one (in-process callers) counts as SIGINT.
 */
export function interruptedExitCode(signal: AbortSignal): number {
  return signal.reason === "SIGTERM" ? 143 : 130;
}

/** Resolves when `signal` aborts (or at once if it already has). */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** Totals a server reports as its last event. */
export class Tally {
  connections = 0;
  datagrams = 0;
  bytesIn = 0;
  bytesOut = 0;
  private readonly startedAt = performance.now();

  summary(): SockEvent {
    return {
      event: "summary",
      connections: this.connections,
      datagrams: this.datagrams,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      durationMs: performance.now() - this.startedAt,
    };
  }
}

/** Standard input as byte chunks, in whatever sizes the runtime reads them. */
export async function* stdinChunks(): AsyncGenerator<Uint8Array> {
  for await (const chunk of process.stdin as AsyncIterable<Uint8Array | string>) {
    yield typeof chunk === "string" ? utf8(chunk) : chunk;
  }
}

/** Standard input split into lines, without their line endings (\n or \r\n). */
export async function* stdinLines(): AsyncGenerator<Uint8Array> {
  let pending = new Uint8Array(0);
  for await (const chunk of stdinChunks()) {
    let data = concatBytes(pending, chunk);
    let newline = data.indexOf(0x0a);
    while (newline !== -1) {
      const end = newline > 0 && data[newline - 1] === 0x0d ? newline - 1 : newline;
      yield data.slice(0, end);
      data = data.subarray(newline + 1);
      newline = data.indexOf(0x0a);
    }
    pending = data.slice();
  }
  if (pending.byteLength > 0) yield pending;
}

/** A server once bound: what demo and the server commands drive. */
export interface RunningServer {
  local: Endpoint;
  /** Resolves when --count is reached. */
  done: Promise<void>;
  /** Stop (dropping open connections), then report the summary. Idempotent. */
  stop(): Promise<void>;
}

/**
 * What both servers do before binding: the start line, the address to bind,
 * the reply prefix as bytes, the totals, and the promise --count resolves.
 */
export async function prepareServer(
  options: { host: string; prefix: string },
  ctx: CommandContext,
  report: Reporter,
) {
  report.emit({ event: "start", runtime: ctx.runtimeLabel, version: ctx.version });
  const { address } = await resolveAndReport(options.host, report);
  let finished!: () => void;
  const done = new Promise<void>((resolve) => {
    finished = resolve;
  });
  return { address, prefix: utf8(options.prefix), tally: new Tally(), done, finished };
}

/** Narrate socket/bind (and listen, for TCP), then print the `listening on` line with any warning. */
export function announceListening(
  report: Reporter,
  proto: "tcp" | "udp",
  local: Endpoint,
  backlog?: number,
): void {
  report.explain({ step: "socket", proto, family: local.family });
  report.explain({ step: "bind", local, range: rangeOf(local.port).name });
  if (backlog !== undefined) report.explain({ step: "listen", backlog });
  report.emit({ event: "listening", proto, local, warning: bindWarning(local) });
}

export function runningServer(
  local: Endpoint,
  done: Promise<void>,
  close: () => Promise<void> | void,
  report: Reporter,
  tally: Tally,
): RunningServer {
  let stopped = false;
  return {
    local,
    done,
    async stop() {
      if (stopped) return;
      stopped = true;
      await close();
      report.emit(tally.summary());
    },
  };
}

/** Serve until --count is reached or the first Ctrl+C / SIGTERM; then stop cleanly with exit 0. */
export async function serveUntilStopped(
  server: RunningServer,
  signal: AbortSignal,
): Promise<number> {
  await Promise.race([server.done, aborted(signal)]);
  await server.stop();
  return 0;
}
