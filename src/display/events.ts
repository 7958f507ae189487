/**
 * What sockdemo reports. Commands emit these; `human.ts` renders them as the
 * tutorial's lines and `toJsonLine` as one JSON object per line (--json).
 */
import { Buffer } from "node:buffer";
import type { CloseReason, Endpoint, SocketError } from "../runtime/types.ts";

export type Proto = "tcp" | "udp";
export type Role =
  | "tcp-server"
  | "tcp-client"
  | "udp-server"
  | "udp-client"
  | "demo"
  | "check"
  | "ports"
  | "bench";

/**
 * What one reachability probe found: `open`; `refused` (RST, or ICMP port
 * unreachable for UDP); `timeout` (no answer: filtered or host down); `silent`
 * (UDP only: no reply and no ICMP error); `unreachable` (no route);
 * `permission`; `dns-failure`; `error`.
 */
export type ProbeOutcome =
  | "open"
  | "refused"
  | "timeout"
  | "silent"
  | "unreachable"
  | "permission"
  | "dns-failure"
  | "error";

export interface PortRange {
  name: "well-known" | "registered" | "dynamic/private";
  first: number;
  last: number;
  note: string;
}

export type SockEvent =
  | { event: "start"; runtime: string; version: string }
  | { event: "resolved"; host: string; address: string; all: string[]; ms?: number }
  | {
      event: "probe";
      proto: Proto;
      address: string;
      port: number;
      outcome: ProbeOutcome;
      code?: string;
      ms: number;
    }
  | {
      event: "verdict";
      proto: Proto;
      host: string;
      port: number;
      outcome: ProbeOutcome;
      code?: string;
      hint: string;
    }
  | { event: "listening"; proto: Proto; local: Endpoint; warning?: string }
  | { event: "connection"; proto: "tcp"; conn: number; local: Endpoint; peer: Endpoint }
  | { event: "sent"; proto: Proto; peer: Endpoint; bytes: Uint8Array }
  | {
      event: "data";
      proto: Proto;
      conn?: number;
      peer: Endpoint;
      bytes: Uint8Array;
      /** TCP: where this chunk starts in the connection's byte stream. */
      offset?: number;
      truncated?: boolean;
    }
  | {
      event: "reply";
      proto: Proto;
      conn?: number;
      peer: Endpoint;
      bytes: Uint8Array;
      /** TCP servers: where this reply starts in the bytes sent on the connection. */
      offset?: number;
    }
  | { event: "notice"; message: string }
  | { event: "explain"; step: string; text: string }
  | {
      event: "bench";
      target: string;
      proto: Proto;
      mode: "pingpong" | "stream";
      conns: number;
      size: number;
      seconds: number;
      requests: number;
      requestsPerSecond: number;
      megabytesPerSecond: number;
      bytesVerified: number;
      p50Us: number;
      p90Us: number;
      p99Us: number;
      errors: number;
      lost: number;
      firstError?: string;
    }
  | { event: "port-ranges"; ranges: PortRange[]; examples: { port: number; service: string }[] }
  | {
      event: "port";
      port: number;
      range: PortRange["name"];
      first: number;
      last: number;
      note: string;
      service?: string;
    }
  | { event: "section"; title: string }
  | {
      event: "close";
      proto: "tcp";
      conn?: number;
      peer: Endpoint;
      reason: CloseReason;
      /** For `eof`: which side half-closed (sent FIN) first. */
      finFirst?: "peer" | "local";
      bytesIn: number;
      bytesOut: number;
      durationMs: number;
      error?: SocketError;
    }
  | { event: "error"; code: string; message: string; hint?: string; fatal: boolean }
  | {
      event: "summary";
      connections: number;
      datagrams: number;
      bytesIn: number;
      bytesOut: number;
      durationMs: number;
    };

/**
 * `time` is epoch milliseconds with a sub-millisecond fraction (for microsecond
 * timestamps); 0 for an event whose output shows no time (Reporter.emit).
 */
export type Stamped = SockEvent & { role: Role; time: number };

/** What a server emits for every chunk it receives and every reply it sends. */
export type DataEvent = Extract<SockEvent, { event: "data" }>;
export type ReplyEvent = Extract<SockEvent, { event: "reply" }>;

const round = (ms: number) => Math.round(ms * 1000) / 1000;

type WithBase64 = Uint8Array & { toBase64?: () => string };

/**
 * Base64 of exactly these bytes. Uint8Array#toBase64 (Bun, Deno) reads them in
 * place; a Buffer view needs `.buffer`, which JavaScriptCore first moves out of
 * its heap: a 64-byte chunk 700 -> 200 ns, 64 KiB 15 -> 9 µs on Bun. Node 20
 * has no toBase64 and takes the view.
 */
function base64(bytes: WithBase64): string {
  if (typeof bytes.toBase64 === "function") return bytes.toBase64();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/** The --json form: stable field names, bytes as length + base64, errors as code + message. */
export function toJsonLine(e: Stamped): string {
  const { time, ...rest } = e;
  const out: Record<string, unknown> = {
    event: e.event,
    role: e.role,
    time: new Date(Math.floor(time)).toISOString(),
  };
  for (const [key, value] of Object.entries(rest)) {
    if (key === "event" || key === "role" || value === undefined) continue;
    if (value instanceof Uint8Array) {
      out.bytes = value.byteLength;
      out.base64 = base64(value);
    } else if (key === "error" && value instanceof Error) {
      const error = value as SocketError;
      out.error = { code: error.code, message: error.message };
    } else if ((key === "durationMs" || key === "ms") && typeof value === "number") {
      out[key] = round(value);
    } else {
      out[key] = value;
    }
  }
  return JSON.stringify(out);
}
