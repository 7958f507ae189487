/**
 * The human form of each event: the tutorial's own lines where it has one
 * (`The server started at …`, `data:  b'…' addr:  ('127.0.0.1', 54321)`),
 * plain sentences for what the tutorial left unsaid.
 */
import type { CloseReason, Endpoint } from "../runtime/types.ts";
import { addressTuple, bytesLiteral, hostPort, peerTuple, pythonNow } from "./bytes.ts";
import type { ProbeOutcome, SockEvent, Stamped } from "./events.ts";
import { hexDump } from "./hex.ts";
import type { Colors } from "./output.ts";

const CLOSE_WORDS: Record<CloseReason, string> = {
  eof: "closed normally (FIN both ways)",
  reset: "reset by peer",
  timeout: "closed after idle timeout",
  local: "closed by us",
  error: "closed by an error",
};

/** Who finished first on a normal close: the half-close the tutorial's `recv() == b''` is about. */
const FIN_ORDER_WORDS = {
  peer: "closed normally: the peer sent FIN first (done sending), then we did",
  local: "closed normally: we sent FIN first (done sending), then the peer did",
};

const PROBE_WORDS: Record<ProbeOutcome, string> = {
  open: "open",
  refused: "refused",
  timeout: "timed out",
  silent: "no answer",
  unreachable: "unreachable",
  permission: "not permitted",
  "dns-failure": "name not found",
  error: "failed",
};

function duration(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

export interface HumanOptions {
  quiet: boolean;
  /** Show payloads as a canonical hex dump instead of a bytes literal. */
  hex: boolean;
}

type Paint = (text: string) => string;

/**
 * Where the pieces of a traffic line go: a string here (terminals, demo's
 * labelled lines), or straight into output bytes (output.ts) for files and
 * pipes, where servers print one line per chunk at network speed.
 */
export interface LineWriter {
  text(text: string): void;
  /** `bytes` as Python's bytes literal, painted. */
  literal(bytes: Uint8Array, paint: Paint): void;
  /** The local time of `epochMs` as pythonNow() writes it. */
  time(epochMs: number): void;
}

class StringLineWriter implements LineWriter {
  line = "";
  text(text: string): void {
    this.line += text;
  }
  literal(bytes: Uint8Array, paint: Paint): void {
    this.line += paint(bytesLiteral(bytes));
  }
  time(epochMs: number): void {
    this.line += pythonNow(epochMs);
  }
}

/** Recent peers' ` addr:  (…)` endings, by port: a server prints one on every line, for a few peers at a time. */
const addrEndings = new Map<number, { address: string; text: string }>();

function addrEnding(peer: Endpoint): string {
  const cached = addrEndings.get(peer.port);
  if (cached !== undefined && cached.address === peer.address) return cached.text;
  const text = ` addr:  ${peerTuple(peer)}`;
  addrEndings.set(peer.port, { address: peer.address, text });
  return text;
}

/**
 * Whether the human line of `e` shows its time (the start line, UDP data lines).
 * Other events are stamped only for --json: servers emit two per request, and
 * reading the clock costs ~40 ns each.
 */
export const showsTime = (e: SockEvent): boolean =>
  e.event === "start" || (e.event === "data" && e.proto === "udp");

const isServerRole = (e: Stamped) => e.role.endsWith("server") || e.role === "demo";

export type TrafficEvent = Stamped & Extract<SockEvent, { event: "data" | "reply" }>;

/** The payload: a bytes literal inline, or with --hex a byte count here and the dump below. */
function writePayload(w: LineWriter, bytes: Uint8Array, hex: boolean, paint: Paint): void {
  if (hex) w.text(count(bytes.byteLength, "byte"));
  else w.literal(bytes, paint);
}

/**
 * A `data` or `reply` event, written piece by piece to `w` (without the
 * trailing newline). Returns false when the event shows nothing.
 */
export function writeTraffic(
  e: TrafficEvent,
  c: Colors,
  { quiet, hex }: HumanOptions,
  w: LineWriter,
): boolean {
  const isServer = isServerRole(e);
  // With --quiet a client still prints the reply: the tutorial's client prints only that.
  if (quiet && (isServer || e.event === "data")) return false;
  if (e.event === "data" && !isServer) return false;
  if (e.event === "data") {
    // The tutorial's UDP server prefixes each datagram with its arrival time.
    if (showsTime(e)) {
      w.text("at ");
      w.time(e.time);
      w.text(" ");
    }
    w.text("data:  ");
    writePayload(w, e.bytes, hex, c.green);
    w.text(addrEnding(e.peer));
    if (e.truncated) w.text(c.yellow(" (truncated: the datagram was larger)"));
  } else if (isServer) {
    w.text(c.dim("reply: "));
    writePayload(w, e.bytes, hex, c.dim);
    w.text(c.dim(addrEnding(e.peer)));
  } else {
    if (hex) w.text("reply: ");
    writePayload(w, e.bytes, hex, c.green);
  }
  if (hex && e.bytes.byteLength > 0) w.text(`\n${hexDump(e.bytes, e.offset ?? 0).join("\n")}`);
  return true;
}

/** Render one event as zero or more lines (without trailing newline), or undefined to print nothing. */
export function humanLine(e: Stamped, c: Colors, options: HumanOptions): string | undefined {
  const { quiet } = options;
  const isServer = isServerRole(e);
  switch (e.event) {
    case "start":
      if (quiet) return undefined;
      return `The ${isServer ? "server" : "client"} started at ${pythonNow(e.time)}`;
    case "resolved": {
      if (quiet) return undefined;
      if (e.role === "check") {
        if (e.all.length === 1 && e.all[0] === e.host)
          return `dns     ${e.host} is an address: no lookup needed`;
        const took = e.ms === undefined ? "" : ` in ${duration(e.ms)}`;
        return `dns     ${e.host} → ${e.all.join(", ")}${took}`;
      }
      return c.dim(`${e.host} resolved to ${e.all.join(", ")}; using ${e.address}`);
    }
    case "probe": {
      if (quiet) return undefined;
      const words = PROBE_WORDS[e.outcome];
      const paint = e.outcome === "open" ? c.green : e.outcome === "silent" ? c.yellow : c.red;
      const code = e.code ? ` (${e.code})` : "";
      return `${e.proto}     ${hostPort(e.address, e.port)}: ${paint(words)}${code} after ${duration(e.ms)}`;
    }
    case "verdict": {
      const paint = e.outcome === "open" ? c.green : e.outcome === "silent" ? c.yellow : c.red;
      return `${paint(`${e.outcome}:`)} ${e.hint}`;
    }
    case "listening": {
      // Kept with --quiet: with --port 0 it is the only way to learn the port.
      const listening = c.dim(`listening on ${e.proto} ${hostPort(e.local.address, e.local.port)}`);
      if (quiet) return listening;
      const lines = [listening];
      if (e.warning) lines.push(c.yellow(`warning: ${e.warning}`));
      lines.push("Waiting...");
      return lines.join("\n");
    }
    case "connection":
      if (quiet) return undefined;
      return c.dim(
        isServer
          ? `connection from ${peerTuple(e.peer)}`
          : `connected to ${addressTuple(e.peer)} from ${addressTuple(e.local)}`,
      );
    case "sent": {
      if (quiet) return undefined;
      const shown = options.hex
        ? `${count(e.bytes.byteLength, "byte")}${e.bytes.byteLength > 0 ? `\n${hexDump(e.bytes).join("\n")}` : ""}`
        : c.cyan(bytesLiteral(e.bytes));
      return `${c.dim("sent:  ")}${shown}`;
    }
    case "data":
    case "reply": {
      const w = new StringLineWriter();
      return writeTraffic(e, c, options, w) ? w.line : undefined;
    }
    case "port-ranges": {
      const ranges = e.ranges.map(
        (r) => `${c.bold(`${r.first}–${r.last}`.padEnd(12))} ${r.name}: ${r.note}`,
      );
      const examples = e.examples.map((x) => `${String(x.port).padStart(5)}  ${x.service}`);
      return [...ranges, "", "Some well-known and registered ports:", ...examples].join("\n");
    }
    case "port": {
      const service = e.service ? ` It is ${e.service}'s port.` : "";
      return `${e.port} is ${e.range} (${e.first}–${e.last}): ${e.note}.${service}`;
    }
    case "section":
      return quiet ? undefined : c.bold(`\n== ${e.title}`);
    case "bench": {
      const who = `${count(e.conns, e.proto === "udp" ? "flow" : "connection")}`;
      const head = `bench ${e.proto} ${e.mode} ${e.target}: ${who}, ${e.mode === "stream" ? "continuous writes" : `${e.size}-byte messages`}, ${e.seconds.toFixed(1)} s`;
      const lines = [c.bold(head)];
      if (e.mode === "pingpong") {
        lines.push(`  requests   ${e.requests} (${Math.round(e.requestsPerSecond)}/s)`);
        const us = (v: number) => `${v.toFixed(0)} µs`;
        lines.push(`  latency    p50 ${us(e.p50Us)}  p90 ${us(e.p90Us)}  p99 ${us(e.p99Us)}`);
      }
      const mb = (e.bytesVerified / 1e6).toFixed(1);
      const problems = `${count(e.errors, "error")}${e.proto === "udp" ? `, ${e.lost} lost` : ""}`;
      const paint = e.errors > 0 ? c.red : c.green;
      lines.push(
        `  verified   ${mb} MB (${e.megabytesPerSecond.toFixed(1)} MB/s), ${paint(problems)}`,
      );
      if (e.firstError) lines.push(c.red(`  first error: ${e.firstError}`));
      return lines.join("\n");
    }
    case "explain":
      return c.cyan(`# ${e.text}`);
    case "notice":
      return quiet ? undefined : c.yellow(e.message);
    case "close": {
      if (quiet) return undefined;
      const why =
        e.error && e.reason === "error"
          ? `${CLOSE_WORDS.error}: ${e.error.message}`
          : e.reason === "eof" && e.finFirst
            ? FIN_ORDER_WORDS[e.finFirst]
            : CLOSE_WORDS[e.reason];
      const totals = `${count(e.bytesIn, "byte")} in, ${count(e.bytesOut, "byte")} out, ${duration(e.durationMs)}`;
      return c.dim(`${peerTuple(e.peer)} ${why}; ${totals}`);
    }
    case "error":
      // Errors go to stderr separately (see Output); nothing on stdout.
      return undefined;
    case "summary": {
      if (!isServer) return undefined;
      const what =
        e.role === "udp-server"
          ? count(e.datagrams, "datagram")
          : count(e.connections, "connection");
      return c.dim(
        `summary: ${what}, ${count(e.bytesIn, "byte")} in, ${count(e.bytesOut, "byte")} out, ${duration(e.durationMs)}`,
      );
    }
  }
}
