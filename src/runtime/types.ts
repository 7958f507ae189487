/**
 * The socket contract every runtime adapter implements.
 *
 * Commands and display code only ever see these types. Each adapter
 * (`bun.ts`, `node.ts`) maps one runtime's socket API onto them, and
 * `index.ts` picks the adapter. Per-runtime differences that leak through
 * are documented on the member they affect.
 */

export type AddressFamily = "IPv4" | "IPv6";

/** A concrete socket address: always a numeric IP, never a host name. */
export interface Endpoint {
  address: string;
  port: number;
  family: AddressFamily;
}

/**
 * Stable error codes. Every runtime reports failures differently (Bun native,
 * node:net on Bun, Node, Deno); adapters translate them to these.
 */
export type SocketErrorCode =
  | "ECONNREFUSED"
  | "ECONNRESET"
  | "EPIPE"
  | "ETIMEDOUT"
  | "EADDRINUSE"
  | "EADDRNOTAVAIL"
  | "EACCES"
  | "EPERM"
  | "ENOTFOUND"
  | "EHOSTUNREACH"
  | "ENETUNREACH"
  | "EMSGSIZE"
  | "EINVAL"
  | "EUNKNOWN";

export type SocketOperation = "listen" | "connect" | "bind" | "send" | "read" | "write" | "resolve";

/** The one error type adapters throw or report. `cause` keeps the runtime's original error. */
export class SocketError extends Error {
  override readonly name = "SocketError";
  constructor(
    readonly code: SocketErrorCode,
    readonly operation: SocketOperation,
    message: string,
    readonly target?: { host: string; port: number },
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Why a TCP connection ended, from this side's point of view.
 * - `eof`: both directions finished with FIN; the normal end.
 * - `reset`: the peer reset the connection (RST) or vanished mid-write (EPIPE).
 * - `timeout`: closed by us after `idleTimeoutMs` without traffic.
 * - `local`: closed by us with `destroy()`.
 * - `error`: any other socket error (see the `error` field).
 */
export type CloseReason = "eof" | "reset" | "timeout" | "local" | "error";

export interface CloseInfo {
  reason: CloseReason;
  error?: SocketError;
  bytesIn: number;
  bytesOut: number;
}

/** Callbacks for one TCP connection. Chunks arrive as the kernel hands them over: never assume message boundaries. */
export interface TcpEvents {
  data(conn: TcpConnection, chunk: Uint8Array): void;
  /** The write queue dropped below the high-water mark after `write()` returned false. */
  drain?(conn: TcpConnection): void;
  /** The peer half-closed (sent FIN). We may still write; call `end()` when done. */
  end?(conn: TcpConnection): void;
  /** Called exactly once, after which the connection is unusable. */
  close?(conn: TcpConnection, info: CloseInfo): void;
}

export interface TcpConnection {
  readonly local: Endpoint;
  readonly remote: Endpoint;
  /**
   * Queue `bytes` for sending. Every byte is always accepted and sent in order
   * (Bun's native write is partial, so the Bun adapter keeps its own queue).
   * Returns false when the queue is above the high-water mark: stop producing
   * (e.g. `pause()` the peer you are echoing) until `drain`.
   * Nothing is copied, as with node:net: do not modify `bytes` afterwards.
   */
  write(bytes: Uint8Array): boolean;
  /**
   * The caller is done with `bytes`: a chunk `data` gave it, or bytes it
   * passed to `write()`. The adapter may free their memory now instead of at
   * the next garbage collection; bytes still waiting to be written, on this
   * or any other socket, are kept.
   * Do not touch `bytes` (or another view of their buffer) afterwards. A hint:
   * the node adapter leaves them to the collector.
   */
  release(bytes: Uint8Array): void;
  /** Bytes accepted by `write()` but not yet handed to the kernel. */
  readonly queuedBytes: number;
  /** Half-close: send FIN once every queued byte has been written. Idempotent. */
  end(): void;
  /** Abort now: drop anything queued and reset the connection (the peer sees RST). Idempotent. */
  destroy(): void;
  /** Stop reading from the socket (the kernel window fills and the peer slows down). */
  pause(): void;
  resume(): void;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Resolves after `close` has been delivered. */
  readonly closed: Promise<CloseInfo>;
}

export interface TcpListenOptions {
  /** Numeric address to bind (resolve names first with `resolveHost`). */
  host: string;
  port: number;
  backlog?: number;
  /** Close a connection after this long without traffic in either direction. */
  idleTimeoutMs?: number;
  /** Called for each accepted connection; returns that connection's callbacks. */
  accept(conn: TcpConnection): TcpEvents;
}

export interface TcpListener {
  readonly local: Endpoint;
  /**
   * Stop accepting. Open connections are left alone unless `force` is set;
   * then each is destroyed, and close() resolves after their `close` callbacks.
   */
  close(force?: boolean): Promise<void>;
}

export interface TcpConnectOptions {
  host: string;
  port: number;
  /** Fail with ETIMEDOUT if the handshake takes longer than this. */
  timeoutMs?: number;
  idleTimeoutMs?: number;
  events: TcpEvents;
}

export interface UdpMessage {
  bytes: Uint8Array;
  from: Endpoint;
  /**
   * The kernel cut the datagram to fit the receive buffer (MSG_TRUNC). Bun
   * reports it; node:dgram reads into a 64 KiB buffer, which no IPv4 or
   * IPv6 datagram without jumbograms exceeds, so it is always false there.
   */
  truncated: boolean;
}

export interface UdpBindOptions {
  /** Numeric local address; use the wildcard of the peer's family for clients. */
  host: string;
  port: number;
  /**
   * Connect the socket to one peer. Only connected UDP sockets learn about
   * ICMP port-unreachable (reported to `error` as ECONNREFUSED).
   */
  connect?: { host: string; port: number };
  message(socket: UdpSocket, message: UdpMessage): void;
  /**
   * Asynchronous socket errors (ICMP unreachable, ...). The socket stays
   * usable. Without this handler Bun would exit the process on such errors.
   */
  error(socket: UdpSocket, error: SocketError): void;
}

export interface UdpSocket {
  readonly local: Endpoint;
  /**
   * Send one datagram. Rejects with EMSGSIZE above the family's maximum
   * payload (65507 bytes for IPv4, 65527 for IPv6). `to` is required
   * unless the socket was bound with `connect`. When the kernel has no room
   * for it yet, it waits in a queue: datagrams leave in the order send() and
   * reply() were called, and the promise resolves once this one has left.
   */
  send(bytes: Uint8Array, to?: { host: string; port: number }): Promise<void>;
  /**
   * send() for a server answering every datagram: no promise to allocate and
   * settle per reply. A failure, EMSGSIZE included, goes to `failed`, never
   * thrown. close() still waits for replies in flight.
   */
  reply(bytes: Uint8Array, to: Endpoint, failed: (error: SocketError) => void): void;
  /**
   * Close once every datagram already passed to send() has been handed to the
   * kernel; resolves when closed. Idempotent.
   */
  close(): Promise<void>;
}

export interface SocketRuntime {
  /** Which adapter this is; only for display and diagnostics. */
  readonly name: "bun" | "node";
  listenTcp(options: TcpListenOptions): Promise<TcpListener>;
  connectTcp(options: TcpConnectOptions): Promise<TcpConnection>;
  bindUdp(options: UdpBindOptions): Promise<UdpSocket>;
}

/** Largest UDP payload: 65535 minus the IP and UDP headers (IPv6's fixed header is not counted in its payload length). */
export const MAX_UDP_PAYLOAD: Record<AddressFamily, number> = { IPv4: 65507, IPv6: 65527 };
