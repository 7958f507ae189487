/**
 * Helpers both adapters share: error normalization and the bookkeeping every
 * TCP connection needs whatever runtime moves its bytes.
 */
import {
  type AddressFamily,
  type CloseInfo,
  type CloseReason,
  type Endpoint,
  SocketError,
  type SocketErrorCode,
  type SocketOperation,
  type TcpConnection,
  type TcpEvents,
} from "./types.ts";

/** Above this many queued bytes `write()` asks the producer to wait. */
export const _HIGH_WATER_MARK = 256 * 1024;

export function _familyOf(address: string): AddressFamily {
  return address.includes(":") ? "IPv6" : "IPv4";
}

export function _endpoint(address: string | undefined, port: number | undefined): Endpoint {
  const addr = address ?? "";
  return { address: addr, port: port ?? 0, family: _familyOf(addr) };
}

const KNOWN_CODES = new Set<string>([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EADDRINUSE",
  "EADDRNOTAVAIL",
  "EACCES",
  "EPERM",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EMSGSIZE",
  "EINVAL",
]);

function codeOf(error: unknown, operation: SocketOperation): SocketErrorCode {
  const e = error as { code?: unknown; name?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === "string" ? e.code : "";
  const name = typeof e?.name === "string" ? e.name : "";
  // Deno without --allow-net throws NotCapable (older Deno: PermissionDenied) and no code.
  if (name === "NotCapable" || name === "PermissionDenied") return "EPERM";
  if (code === "EAI_AGAIN" || code === "EAI_NONAME" || code === "EAI_NODATA" || code === "ENODATA")
    return "ENOTFOUND";
  // Deno reports binding an address this machine does not own as EINVAL.
  if (code === "EINVAL" && (operation === "listen" || operation === "bind")) return "EADDRNOTAVAIL";
  if (code === "ERR_SOCKET_CONNECTION_TIMEOUT") return "ETIMEDOUT";
  if (KNOWN_CODES.has(code)) return code as SocketErrorCode;
  // Some Bun errors only carry the code inside the message ("EMSGSIZE: message too long").
  const inMessage = typeof e?.message === "string" ? /\b(E[A-Z]{3,})\b/.exec(e.message)?.[1] : "";
  if (inMessage && KNOWN_CODES.has(inMessage)) return inMessage as SocketErrorCode;
  return "EUNKNOWN";
}

const PLAIN_WORDS: Record<SocketErrorCode, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset by peer",
  EPIPE: "broken pipe (the peer is gone)",
  ETIMEDOUT: "timed out",
  EADDRINUSE: "address already in use",
  EADDRNOTAVAIL: "address not available on this machine",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOTFOUND: "host name not found",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EMSGSIZE: "message too long for one datagram",
  EINVAL: "invalid argument",
  EUNKNOWN: "unexpected error",
};

/** Wrap any runtime error into a SocketError with a stable code and a uniform message. */
export function _toSocketError(
  error: unknown,
  operation: SocketOperation,
  target?: { host: string; port: number },
): SocketError {
  if (error instanceof SocketError) return error;
  const code = codeOf(error, operation);
  const where = target
    ? ` ${target.host.includes(":") ? `[${target.host}]` : target.host}:${target.port}`
    : "";
  const original = error instanceof Error ? error.message : String(error);
  const words = code === "EUNKNOWN" ? original : PLAIN_WORDS[code];
  return new SocketError(code, operation, `${operation}${where}: ${words} (${code})`, target, {
    cause: error,
  });
}

/** A datagram over the family's maximum payload, refused before it reaches the runtime (EMSGSIZE). */
export function _tooBig(target: { host: string; port: number } | undefined): SocketError {
  const error = Object.assign(new Error("message too long"), { code: "EMSGSIZE" });
  return _toSocketError(error, "send", target);
}

export function _reasonFor(error: SocketError | undefined): CloseReason {
  if (!error) return "eof";
  if (error.code === "ECONNRESET" || error.code === "EPIPE") return "reset";
  if (error.code === "ETIMEDOUT") return "timeout";
  return "error";
}

/**
 * State every adapter's connection keeps: byte counters, the one-shot close
 * notification and the `closed` promise. Adapters extend it with the
 * runtime-specific write, end and pause.
 */
export abstract class _BaseConnection implements TcpConnection {
  bytesIn = 0;
  bytesOut = 0;
  events: TcpEvents | undefined;
  readonly closed: Promise<CloseInfo>;
  protected closeReason: CloseReason | undefined;
  private resolveClosed!: (info: CloseInfo) => void;
  private finished = false;

  constructor(
    readonly local: Endpoint,
    readonly remote: Endpoint,
  ) {
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  abstract write(bytes: Uint8Array): boolean;
  abstract readonly queuedBytes: number;
  abstract end(): void;
  abstract destroy(): void;
  abstract pause(): void;
  abstract resume(): void;

  /** The collector frees them; an adapter that can do better overrides this. */
  release(_bytes: Uint8Array): void {}

  protected received(chunk: Uint8Array): void {
    this.bytesIn += chunk.byteLength;
    this.events?.data(this, chunk);
  }

  /** Deliver `close` once; a reason chosen earlier (timeout, local) wins over the generic one. */
  protected finish(error?: SocketError): void {
    if (this.finished) return;
    this.finished = true;
    const info: CloseInfo = {
      reason: this.closeReason ?? _reasonFor(error),
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
    };
    if (error) info.error = error;
    this.events?.close?.(this, info);
    this.resolveClosed(info);
  }
}

/**
 * Bun reports every failed TCP connect as ECONNREFUSED (errno 111), even
 * "network unreachable" (Bun 1.4.5, native and node:net alike), while Node
 * and Deno report the real code. Connecting a UDP socket sends nothing but
 * makes the kernel look up the route, so on Bun it tells a missing route
 * apart from a real refusal. (node:dgram's connect does not surface it.)
 */
export async function _connectError(
  error: unknown,
  target: { host: string; port: number },
): Promise<SocketError> {
  const normalized = _toSocketError(error, "connect", target);
  const bun = globalThis.Bun;
  if (normalized.code !== "ECONNREFUSED" || !bun) return normalized;
  try {
    const probe = await bun.udpSocket({
      connect: { hostname: target.host, port: target.port },
      socket: { data() {}, error() {} },
    });
    probe.close();
    return normalized;
  } catch (routeError) {
    const code = (routeError as { code?: string }).code;
    return code === "ENETUNREACH" || code === "EHOSTUNREACH"
      ? _toSocketError(routeError, "connect", target)
      : normalized;
  }
}
