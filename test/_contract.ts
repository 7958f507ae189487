/**
 * The behaviour contract of src/runtime/types.ts, written once and run against
 * every adapter (test/contract.bun.test.ts, test/contract.node.test.ts).
 *
 * Rules every test here follows:
 * - real sockets on 127.0.0.1 and ::1 only, always port 0 (no fixed ports);
 * - every wait is bounded (`within`) and every test has an explicit timeout;
 * - everything opened is registered with `track` and closed in afterEach;
 * - socket callbacks only record what happened; assertions run afterwards in
 *   the test body (a throw inside a socket callback would be lost or crash).
 *
 * A known difference between an adapter and the contract is named in
 * `ContractGap` and passed by that adapter's test file. The affected test
 * still runs, inverted with `test.failingIf`: it must keep failing, so the
 * day the gap closes the suite says so and the gap can be removed.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { Buffer } from "node:buffer";
import { spawn } from "node:child_process";
import {
  type CloseInfo,
  type CloseReason,
  MAX_UDP_PAYLOAD,
  resolveHost,
  SocketError,
  type SocketErrorCode,
  type SocketOperation,
  type SocketRuntime,
  type TcpConnection,
  type TcpEvents,
  type TcpListener,
  type UdpMessage,
  type UdpSocket,
} from "../src/runtime/index.ts";

/**
 * Named, known gaps between an adapter and the contract.
 * - `udp-icmp`: a connected UDP socket never reports ICMP port unreachable
 *   (ECONNREFUSED) to its `error` handler.
 * Neither adapter declares a gap under Bun 1.4.5: both pass every test.
 */
export type ContractGap = "udp-icmp";

/**
 * destroy() (and the idle timeout) abort with RST on both adapters: Bun's
 * terminate() sets SO_LINGER 0, and the node adapter calls resetAndDestroy().
 * So the peer always sees "reset", whether or not data was left unread.
 */
const PEER_OF_DESTROY: CloseReason = "reset";

const KiB = 1024;
const MiB = 1024 * KiB;
const HOSTS = [
  { host: "127.0.0.1", family: "IPv4" },
  { host: "::1", family: "IPv6" },
] as const;

// --- small helpers (no sockets) ---

export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  settled: boolean;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const d: Deferred<T> = {
    promise: new Promise<T>((r) => {
      resolve = r;
    }),
    settled: false,
    resolve(value) {
      d.settled = true;
      resolve(value);
    },
  };
  return d;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

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

/** The rejection of `promise`, which must reject within `ms`. */
async function rejection(promise: Promise<unknown>, ms: number, what: string): Promise<unknown> {
  return within(
    promise.then(
      (value) => {
        throw new Error(`${what}: expected a rejection, got ${String(value)}`);
      },
      (error: unknown) => error,
    ),
    ms,
    what,
  );
}

/**
 * A deterministic pseudo-random byte stream (xorshift32). Two instances with
 * the same seed produce the same bytes however the reads are chunked, so one
 * generates what is sent and another checks what arrives, a chunk at a time,
 * without keeping a copy of the whole transfer.
 */
class PseudoRandomBytes {
  private static readonly BLOCK = 64 * KiB;
  private x: number;
  private block = new Uint8Array(0);
  private at = 0;

  constructor(seed: number) {
    this.x = seed >>> 0 || 1;
  }

  private refill(): void {
    const words = new Uint32Array(PseudoRandomBytes.BLOCK / 4);
    let x = this.x;
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      words[i] = x >>> 0;
    }
    this.x = x;
    this.block = new Uint8Array(words.buffer);
    this.at = 0;
  }

  /** The next `n` bytes, in a new array. */
  take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      if (this.at === this.block.byteLength) this.refill();
      const k = Math.min(n - filled, this.block.byteLength - this.at);
      out.set(this.block.subarray(this.at, this.at + k), filled);
      filled += k;
      this.at += k;
    }
    return out;
  }

  /** Whether `chunk` equals the next `chunk.byteLength` bytes (which it consumes). */
  matches(chunk: Uint8Array): boolean {
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (this.at === this.block.byteLength) this.refill();
      const k = Math.min(chunk.byteLength - offset, this.block.byteLength - this.at);
      const got = Buffer.from(chunk.buffer, chunk.byteOffset + offset, k);
      if (!got.equals(this.block.subarray(this.at, this.at + k))) return false;
      offset += k;
      this.at += k;
    }
    return true;
  }
}

interface SideHooks {
  /** Check every received byte against this stream, in order. */
  expect?: PseudoRandomBytes;
  /** Keep copies of the received chunks (small transfers only). */
  keep?: boolean;
  /** release() every chunk once the hooks are done with it, as tcp-server does. */
  release?: boolean;
  data?(conn: TcpConnection, chunk: Uint8Array): void;
  drain?(conn: TcpConnection): void;
  end?(conn: TcpConnection): void;
}

/**
 * One end of a TCP connection, as seen through its TcpEvents: records every
 * callback (counts, order, bytes) and lets the test wait for milestones.
 */
class Side implements TcpEvents {
  conn: TcpConnection | undefined;
  received = 0;
  dataEvents = 0;
  /** Offset of the first chunk that differed from `hooks.expect`, or -1. */
  mismatchAt = -1;
  dataAfterEnd = 0;
  dataAfterClose = 0;
  endCalls = 0;
  /** Bytes received when `end` (peer FIN) was delivered. */
  receivedAtEnd = -1;
  closeCalls = 0;
  /** The order callbacks arrived in, with consecutive `data` collapsed. */
  readonly order: string[] = [];
  readonly chunks: Uint8Array[] = [];
  readonly ended = deferred<void>();
  readonly closed = deferred<CloseInfo>();
  private drainWaiters: (() => void)[] = [];
  private byteWaiters: { n: number; wake: () => void }[] = [];

  constructor(private readonly hooks: SideHooks = {}) {}

  private note(event: string): void {
    if (this.order[this.order.length - 1] !== event) this.order.push(event);
  }

  data(conn: TcpConnection, chunk: Uint8Array): void {
    this.conn ??= conn;
    this.note("data");
    this.dataEvents++;
    if (this.endCalls > 0) this.dataAfterEnd++;
    if (this.closeCalls > 0) this.dataAfterClose++;
    const { expect: stream } = this.hooks;
    if (stream && this.mismatchAt < 0 && !stream.matches(chunk)) this.mismatchAt = this.received;
    if (this.hooks.keep) this.chunks.push(chunk.slice());
    this.received += chunk.byteLength;
    this.byteWaiters = this.byteWaiters.filter((w) => {
      if (w.n > this.received) return true;
      w.wake();
      return false;
    });
    this.hooks.data?.(conn, chunk);
    if (this.hooks.release) conn.release(chunk);
  }

  drain(conn: TcpConnection): void {
    this.note("drain");
    for (const wake of this.drainWaiters.splice(0)) wake();
    this.hooks.drain?.(conn);
  }

  end(conn: TcpConnection): void {
    this.note("end");
    this.endCalls++;
    if (this.receivedAtEnd < 0) this.receivedAtEnd = this.received;
    this.ended.resolve();
    this.hooks.end?.(conn);
  }

  close(_conn: TcpConnection, info: CloseInfo): void {
    this.note("close");
    this.closeCalls++;
    this.closed.resolve(info);
    // Nobody gets a drain after close: release writers so they notice.
    for (const wake of this.drainWaiters.splice(0)) wake();
  }

  /** Resolves once `n` bytes have arrived in total. */
  bytes(n: number): Promise<void> {
    if (this.received >= n) return Promise.resolve();
    return new Promise((wake) => this.byteWaiters.push({ n, wake }));
  }

  /** Resolves at the next `drain` (or `close`). */
  nextDrain(): Promise<void> {
    if (this.closed.settled) return Promise.resolve();
    return new Promise((wake) => this.drainWaiters.push(wake));
  }

  text(): string {
    return Buffer.concat(this.chunks).toString("latin1");
  }
}

/**
 * Write `total` bytes of `source` in `chunk`-sized writes, waiting for `drain` when asked to;
 * with `release`, each write is released right after it, queued or not.
 */
async function send(
  conn: TcpConnection,
  side: Side,
  source: PseudoRandomBytes,
  total: number,
  { chunk = 256 * KiB, release = false } = {},
): Promise<void> {
  for (let sent = 0; sent < total; ) {
    if (side.closed.settled) throw new Error(`connection closed after sending ${sent} bytes`);
    const n = Math.min(chunk, total - sent);
    sent += n;
    const bytes = source.take(n);
    const below = conn.write(bytes);
    if (release) conn.release(bytes);
    if (!below) await side.nextDrain();
  }
}

/** The echo server of the brief: it stops reading while its replies cannot leave. */
function echoSide(release = false): Side {
  return new Side({
    data(c, chunk) {
      if (!c.write(chunk)) c.pause();
    },
    drain: (c) => c.resume(),
    end: (c) => c.end(),
    release,
  });
}

/**
 * The bulk tests run as is and with every chunk released once done with, read
 * or written, while much of it is still queued: release() must never lose a byte.
 */
const RELEASING = [
  { release: false, how: "" },
  { release: true, how: ", releasing every chunk" },
] as const;

/** Both sides closed normally, and the client got back all `total` bytes it sent, in order. */
async function expectWholeEcho(client: Side, server: Side, total: number): Promise<void> {
  const [atClient, atServer] = await within(
    Promise.all([client.closed.promise, server.closed.promise]),
    20_000,
    "both sides closed",
  );
  expect(client.mismatchAt).toBe(-1);
  expect(client.received).toBe(total);
  expect(atClient).toEqual({ reason: "eof", bytesIn: total, bytesOut: total });
  expect(atServer).toEqual({ reason: "eof", bytesIn: total, bytesOut: total });
}

/** Expect a SocketError with this code and operation whose message names the target. */
function expectSocketError(
  error: unknown,
  code: SocketErrorCode,
  operation: SocketOperation,
  where?: string,
): asserts error is SocketError {
  expect(error).toBeInstanceOf(SocketError);
  const e = error as SocketError;
  expect(`${e.operation} ${e.code}`).toBe(`${operation} ${code}`);
  if (where !== undefined) expect(e.message).toContain(where);
}

function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

// --- the suite ---

export function contractSuite(
  runtime: SocketRuntime,
  knownGaps: readonly ContractGap[] = [],
): void {
  const gaps = new Set(knownGaps);
  /** A test that documents a named gap: it must fail on adapters that have it. */
  const testUnlessGap = (gap: ContractGap) => test.failingIf(gaps.has(gap));

  const cleanups: (() => unknown)[] = [];
  function track(cleanup: () => unknown): void {
    cleanups.push(cleanup);
  }

  interface Server {
    listener: TcpListener;
    port: number;
    sides: Side[];
    /** The first accepted connection's Side. */
    first: Promise<Side>;
  }

  async function serve(
    host: string,
    makeSide: (conn: TcpConnection) => Side,
    extra: { idleTimeoutMs?: number } = {},
  ): Promise<Server> {
    const sides: Side[] = [];
    const first = deferred<Side>();
    const listener = await runtime.listenTcp({
      host,
      port: 0,
      ...extra,
      accept(conn) {
        track(() => conn.destroy());
        const side = makeSide(conn);
        side.conn = conn;
        sides.push(side);
        first.resolve(side);
        return side;
      },
    });
    track(() => listener.close(true));
    return { listener, port: listener.local.port, sides, first: first.promise };
  }

  async function dial(
    host: string,
    port: number,
    side: Side,
    extra: { idleTimeoutMs?: number } = {},
  ): Promise<TcpConnection> {
    const conn = await runtime.connectTcp({ host, port, events: side, timeoutMs: 5000, ...extra });
    side.conn = conn;
    track(() => conn.destroy());
    return conn;
  }

  async function bind(
    host: string,
    handlers: {
      connect?: { host: string; port: number };
      message?(socket: UdpSocket, message: UdpMessage): void;
      error?(socket: UdpSocket, error: SocketError): void;
    } = {},
  ): Promise<UdpSocket> {
    const socket = await runtime.bindUdp({
      host,
      port: 0,
      ...(handlers.connect ? { connect: handlers.connect } : {}),
      message: (s, m) => handlers.message?.(s, m),
      error: (s, e) => handlers.error?.(s, e),
    });
    track(() => socket.close());
    return socket;
  }

  /** A UDP receiver that queues messages and hands them out one at a time. */
  async function udpInbox(host: string) {
    const messages: UdpMessage[] = [];
    let waiter: (() => void) | undefined;
    const socket = await bind(host, {
      message(_s, m) {
        // Copy: the runtime may reuse the buffer once the callback returns.
        messages.push({ ...m, bytes: m.bytes.slice() });
        waiter?.();
      },
    });
    const next = async (ms: number, what: string): Promise<UdpMessage> => {
      while (messages.length === 0) {
        await within(
          new Promise<void>((wake) => {
            waiter = wake;
          }),
          ms,
          what,
        );
      }
      return messages.shift() as UdpMessage;
    };
    return { socket, next, messages };
  }

  /** A TCP port nothing listens on: listen on 0, note the port, close. */
  async function closedTcpPort(host: string): Promise<number> {
    const listener = await runtime.listenTcp({ host, port: 0, accept: () => new Side() });
    const { port } = listener.local;
    await listener.close(true);
    return port;
  }

  async function closedUdpPort(host: string): Promise<number> {
    const socket = await runtime.bindUdp({ host, port: 0, message() {}, error() {} });
    const { port } = socket.local;
    socket.close();
    return port;
  }

  describe(`runtime contract: ${runtime.name} adapter`, () => {
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) {
        try {
          await within(Promise.resolve(cleanup()), 2000, "cleanup");
        } catch {
          // Best effort: the test itself reports what went wrong.
        }
      }
    });

    describe("endpoints", () => {
      for (const { host, family } of HOSTS) {
        test(`listen on ${host} port 0 reports the real port; both ends agree on endpoints (${family})`, async () => {
          const server = await serve(host, () => new Side());
          expect(server.listener.local).toEqual({ address: host, port: server.port, family });
          expect(server.port).toBeGreaterThan(0);

          const client = await dial(host, server.port, new Side());
          const accepted = await within(server.first, 2000, "accept");
          const conn = accepted.conn as TcpConnection;

          expect(client.remote).toEqual({ address: host, port: server.port, family });
          expect(client.local.address).toBe(host);
          expect(client.local.family).toBe(family);
          expect(client.local.port).toBeGreaterThan(0);
          expect(client.local.port).not.toBe(server.port);
          expect(conn.local).toEqual({ address: host, port: server.port, family });
          expect(conn.remote).toEqual(client.local);
        }, 5000);
      }
    });

    describe("TCP is a byte stream", () => {
      test("message boundaries are not preserved: accumulate until the expected count", async () => {
        const big = new PseudoRandomBytes(7).take(1 * MiB);
        const small = ["he", "llo", " ", "wor", "ld", "\n"].map((s) => Buffer.from(s, "latin1"));
        const smallBytes = small.reduce((n, b) => n + b.byteLength, 0);
        const server = await serve("127.0.0.1", (conn) => {
          // Six small writes, then one large one, then FIN.
          for (const piece of small) conn.write(piece);
          conn.write(big);
          conn.end();
          return new Side({ end: (c) => c.end() });
        });
        const client = new Side({ keep: true });
        await dial("127.0.0.1", server.port, client);
        await within(client.bytes(smallBytes + big.byteLength), 5000, "all bytes");
        const all = Buffer.concat(client.chunks);
        expect(all.subarray(0, smallBytes).toString("latin1")).toBe("hello world\n");
        expect(all.subarray(smallBytes).equals(big)).toBe(true);
        // One 1 MiB write is never one read: the runtime reads in smaller pieces.
        expect(client.dataEvents).toBeGreaterThan(1);
        await within(client.ended.promise, 2000, "FIN after the data");
        expect(client.receivedAtEnd).toBe(smallBytes + big.byteLength);
      }, 10_000);
    });

    describe("bulk transfer and backpressure", () => {
      test.each(RELEASING)(
        "100 MB echo: every byte back in order; eof on both sides$how",
        async ({ release }) => {
          const TOTAL = 100 * MiB;
          const server = await serve("127.0.0.1", () => echoSide(release));
          const client = new Side({ expect: new PseudoRandomBytes(42), release });
          const conn = await dial("127.0.0.1", server.port, client);
          await within(
            send(conn, client, new PseudoRandomBytes(42), TOTAL, { release }),
            20_000,
            "send 100 MB",
          );
          conn.end();
          const serverSide = await within(server.first, 1000, "accept");
          await expectWholeEcho(client, serverSide, TOTAL);
          expect(client.order.slice(-2)).toEqual(["end", "close"]);
          expect(client.dataAfterEnd).toBe(0);
        },
        45_000,
      );

      test.each(RELEASING)(
        "a peer that does not read: the echo server's queue stays bounded, then every byte arrives$how",
        async ({ release }) => {
          const TOTAL = 64 * MiB;
          // High-water mark (256 KiB) plus one read (Bun reads up to 512 KiB); observed ≤ 700 KB.
          const BOUND = 2 * MiB;
          const server = await serve("127.0.0.1", () => echoSide(release));
          const client = new Side({ expect: new PseudoRandomBytes(9), release });
          const conn = await dial("127.0.0.1", server.port, client);
          conn.pause();
          // Write everything at once, ignoring backpressure: the client's own queue holds it.
          const source = new PseudoRandomBytes(9);
          for (let sent = 0; sent < TOTAL; sent += MiB) {
            const bytes = source.take(MiB);
            conn.write(bytes);
            if (release) conn.release(bytes);
          }
          const serverSide = await within(server.first, 1000, "accept");
          const serverConn = serverSide.conn as TcpConnection;

          // Watch until the server stops receiving (the pipeline is full).
          let maxQueued = 0;
          let lastIn = -1;
          let stillSince = Date.now();
          const started = Date.now();
          while (Date.now() - stillSince < 300 && Date.now() - started < 8000) {
            maxQueued = Math.max(maxQueued, serverConn.queuedBytes);
            if (serverConn.bytesIn !== lastIn) {
              lastIn = serverConn.bytesIn;
              stillSince = Date.now();
            }
            await sleep(5);
          }
          const stalledAt = serverConn.bytesIn;
          expect(stalledAt).toBeLessThan(TOTAL); // it really stopped reading
          expect(stalledAt).toBeGreaterThan(0);
          expect(maxQueued).toBeLessThanOrEqual(BOUND);
          expect(serverConn.queuedBytes).toBeLessThanOrEqual(BOUND);

          conn.resume();
          conn.end();
          const sampler = setInterval(() => {
            maxQueued = Math.max(maxQueued, serverConn.queuedBytes);
          }, 5);
          try {
            await expectWholeEcho(client, serverSide, TOTAL);
          } finally {
            clearInterval(sampler);
          }
          expect(maxQueued).toBeLessThanOrEqual(BOUND);
        },
        40_000,
      );

      test("bytes queued on one connection survive release() through another", async () => {
        const TOTAL = 32 * MiB;
        const server = await serve(
          "127.0.0.1",
          () => new Side({ expect: new PseudoRandomBytes(77) }),
        );
        const other = await dial("127.0.0.1", server.port, new Side());
        await within(server.first, 1000, "accept the other connection");
        const conn = await dial("127.0.0.1", server.port, new Side());
        await within(
          (async () => {
            while (server.sides.length < 2) await sleep(5);
          })(),
          1000,
          "accept the writing connection",
        );
        const receiver = server.sides[1] as Side;
        (receiver.conn as TcpConnection).pause();
        // More than the kernel's buffers hold: most of it waits in conn's queue.
        const source = new PseudoRandomBytes(77);
        for (let sent = 0; sent < TOTAL; sent += MiB) {
          const bytes = source.take(MiB);
          conn.write(bytes);
          other.release(bytes);
        }
        expect(conn.queuedBytes).toBeGreaterThan(0);
        (receiver.conn as TcpConnection).resume();
        await within(receiver.bytes(TOTAL), 10_000, "every byte at the receiver");
        expect(receiver.mismatchAt).toBe(-1);
        expect(receiver.received).toBe(TOTAL);
      }, 20_000);
    });

    describe("half-close (FIN)", () => {
      test("client sends then end(); server sees all data, then end, then replies 8 MB and ends", async () => {
        const REQUEST = 1 * MiB;
        const REPLY = 8 * MiB;
        let queuedAtEnd = -1;
        const requestCheck = new PseudoRandomBytes(11);
        const server = await serve(
          "127.0.0.1",
          () =>
            new Side({
              expect: requestCheck,
              end(c) {
                // Only now reply, and request FIN right behind a large write.
                c.write(new PseudoRandomBytes(12).take(REPLY));
                c.end();
                queuedAtEnd = c.queuedBytes;
              },
            }),
        );
        const client = new Side({ expect: new PseudoRandomBytes(12) });
        const conn = await dial("127.0.0.1", server.port, client);
        await send(conn, client, new PseudoRandomBytes(11), REQUEST);
        conn.end();
        conn.end(); // idempotent
        const serverSide = await within(server.first, 1000, "accept");
        const [atClient, atServer] = await within(
          Promise.all([client.closed.promise, serverSide.closed.promise]),
          10_000,
          "both sides closed",
        );
        expect(serverSide.receivedAtEnd).toBe(REQUEST);
        expect(serverSide.mismatchAt).toBe(-1);
        expect(serverSide.order.filter((e) => e !== "drain")).toEqual(["data", "end", "close"]);
        expect(queuedAtEnd).toBeGreaterThan(0); // FIN really was requested with bytes queued
        expect(client.mismatchAt).toBe(-1);
        expect(client.received).toBe(REPLY);
        expect(client.receivedAtEnd).toBe(REPLY);
        expect(client.dataAfterEnd).toBe(0);
        expect(atClient).toEqual({ reason: "eof", bytesIn: REPLY, bytesOut: REQUEST });
        expect(atServer).toEqual({ reason: "eof", bytesIn: REQUEST, bytesOut: REPLY });
      }, 15_000);

      test("server writes and end()s at once while the client is still sending: nothing lost", async () => {
        const UP = 4 * MiB;
        const DOWN = 4 * MiB;
        const server = await serve("127.0.0.1", (conn) => {
          conn.write(new PseudoRandomBytes(21).take(DOWN));
          conn.end();
          return new Side({ expect: new PseudoRandomBytes(22) });
        });
        const client = new Side({ expect: new PseudoRandomBytes(21) });
        const conn = await dial("127.0.0.1", server.port, client);
        await within(send(conn, client, new PseudoRandomBytes(22), UP), 10_000, "send");
        conn.end();
        const serverSide = await within(server.first, 1000, "accept");
        const [atClient, atServer] = await within(
          Promise.all([client.closed.promise, serverSide.closed.promise]),
          10_000,
          "both sides closed",
        );
        expect(serverSide.mismatchAt).toBe(-1);
        expect(serverSide.receivedAtEnd).toBe(UP);
        expect(client.mismatchAt).toBe(-1);
        expect(client.receivedAtEnd).toBe(DOWN);
        expect(atClient).toEqual({ reason: "eof", bytesIn: DOWN, bytesOut: UP });
        expect(atServer).toEqual({ reason: "eof", bytesIn: UP, bytesOut: DOWN });
      }, 15_000);
    });

    describe("reset", () => {
      test("client destroy()s mid-reply: the server's close fires once, no crash", async () => {
        const server = await serve("127.0.0.1", () => {
          const side: Side = new Side({
            data(c) {
              // Any byte starts an endless reply (bounded at 256 MB).
              const pump = () => {
                while (!side.closed.settled && c.bytesOut < 256 * MiB) {
                  if (!c.write(new Uint8Array(MiB))) return;
                }
              };
              pump();
            },
            drain(c) {
              while (!side.closed.settled && c.bytesOut < 256 * MiB) {
                if (!c.write(new Uint8Array(MiB))) return;
              }
            },
          });
          return side;
        });
        const client = new Side();
        const conn = await dial("127.0.0.1", server.port, client);
        conn.write(Uint8Array.of(1));
        await within(client.bytes(2 * MiB), 5000, "the reply starts");
        conn.destroy();
        const atClient = await within(client.closed.promise, 2000, "client closed");
        expect(atClient.reason).toBe("local");
        const serverSide = await within(server.first, 1000, "accept");
        const atServer = await within(serverSide.closed.promise, 5000, "server closed");
        await sleep(100);
        expect(serverSide.closeCalls).toBe(1);
        expect(client.closeCalls).toBe(1);
        // Unread data in the client's receive buffer: its close sends RST on every runtime.
        expect(atServer.reason).toBe("reset");
        expect(atServer.error).toBeInstanceOf(SocketError);
        expect(["ECONNRESET", "EPIPE"]).toContain(atServer.error?.code as string);
        expect(await serverSide.conn?.closed).toBe(atServer);
      }, 10_000);

      test("server destroy()s with the client's data unread: the client's close fires once, no crash", async () => {
        const server = await serve("127.0.0.1", () => new Side());
        const client = new Side();
        const conn = await dial("127.0.0.1", server.port, client);
        const sending = send(conn, client, new PseudoRandomBytes(5), 256 * MiB).catch(() => {});
        const serverSide = await within(server.first, 1000, "accept");
        await within(serverSide.bytes(MiB), 5000, "server receives");
        serverSide.conn?.destroy();
        const atServer = await within(serverSide.closed.promise, 2000, "server closed");
        expect(atServer.reason).toBe("local");
        const atClient = await within(client.closed.promise, 5000, "client closed");
        await within(sending, 2000, "sender notices");
        await sleep(100);
        expect(client.closeCalls).toBe(1);
        expect(serverSide.closeCalls).toBe(1);
        expect(atClient.reason).toBe("reset");
        expect(atClient.error).toBeInstanceOf(SocketError);
        expect(["ECONNRESET", "EPIPE"]).toContain(atClient.error?.code as string);
        expect(await conn.closed).toBe(atClient);
      }, 10_000);
    });

    describe("end() and destroy() are idempotent", () => {
      test("end() twice, destroy() twice, end() after destroy(): one close, one closed", async () => {
        const server = await serve("127.0.0.1", () => new Side({ end: (c) => c.end() }));
        const client = new Side();
        const conn = await dial("127.0.0.1", server.port, client);
        conn.write(Buffer.from("bye"));
        conn.end();
        conn.end();
        const info = await within(conn.closed, 3000, "closed after both FINs");
        expect(info.reason).toBe("eof");
        conn.destroy();
        conn.destroy();
        conn.end();
        expect(conn.write(Buffer.from("late"))).toBeBoolean();
        expect(await conn.closed).toBe(info);

        const other = new Side();
        const second = await dial("127.0.0.1", server.port, other);
        second.destroy();
        second.destroy();
        second.end();
        const otherInfo = await within(second.closed, 2000, "closed after destroy");
        expect(otherInfo.reason).toBe("local");
        second.destroy();

        await sleep(100);
        expect(client.closeCalls).toBe(1);
        expect(other.closeCalls).toBe(1);
        expect(await client.closed.promise).toBe(info);
        expect(await other.closed.promise).toBe(otherInfo);
        for (const side of server.sides) {
          await within(side.closed.promise, 2000, "server side closed");
          expect(side.closeCalls).toBe(1);
        }
      }, 8000);
    });

    describe("idle timeout", () => {
      // 1000 ms must mean about 1000 ms: the close may come late by timer slack, never early.
      const IDLE = 1000;
      const LATEST = 2000;

      test("idleTimeoutMs on the listener closes a silent connection with reason timeout", async () => {
        const server = await serve("127.0.0.1", () => new Side(), { idleTimeoutMs: IDLE });
        const client = new Side({ end: (c) => c.end() });
        await dial("127.0.0.1", server.port, client);
        const serverSide = await within(server.first, 1000, "accept");
        const started = performance.now();
        const atServer = await within(serverSide.closed.promise, LATEST + 1000, "idle close");
        const elapsed = performance.now() - started;
        expect(atServer.reason).toBe("timeout");
        expect(elapsed).toBeGreaterThanOrEqual(IDLE - 50);
        expect(elapsed).toBeLessThanOrEqual(LATEST);
        const atClient = await within(client.closed.promise, 2000, "client notices");
        expect(atClient.reason).toBe(PEER_OF_DESTROY);
      }, 8000);

      test("idleTimeoutMs on connect closes a silent connection with reason timeout", async () => {
        const server = await serve("127.0.0.1", () => new Side());
        const client = new Side();
        const started = performance.now();
        await dial("127.0.0.1", server.port, client, { idleTimeoutMs: IDLE });
        const atClient = await within(client.closed.promise, LATEST + 1000, "idle close");
        const elapsed = performance.now() - started;
        expect(atClient.reason).toBe("timeout");
        expect(elapsed).toBeGreaterThanOrEqual(IDLE - 50);
        expect(elapsed).toBeLessThanOrEqual(LATEST);
      }, 8000);

      test("traffic keeps a connection alive past idleTimeoutMs; silence then closes it", async () => {
        const server = await serve("127.0.0.1", () => new Side(), { idleTimeoutMs: IDLE });
        const client = new Side({ end: (c) => c.end() });
        const conn = await dial("127.0.0.1", server.port, client);
        const serverSide = await within(server.first, 1000, "accept");
        // A byte every 300 ms for 1.8 s: never 1000 ms of silence.
        for (let i = 0; i < 6; i++) {
          conn.write(Uint8Array.of(i));
          await sleep(300);
        }
        expect(serverSide.closed.settled).toBe(false);
        const silentFrom = performance.now();
        const atServer = await within(serverSide.closed.promise, LATEST + 1000, "idle close");
        expect(atServer.reason).toBe("timeout");
        expect(atServer.bytesIn).toBe(6);
        // 300 ms of the silence had already passed at the last write.
        expect(performance.now() - silentFrom).toBeLessThanOrEqual(LATEST);
      }, 8000);
    });

    describe("listener close", () => {
      test("close() stops accepting but leaves open connections working", async () => {
        const server = await serve("127.0.0.1", () => echoSide());
        const client = new Side({ keep: true });
        const conn = await dial("127.0.0.1", server.port, client);
        await within(server.first, 1000, "accept");
        // Node's server.close() resolves only once its connections are gone; Bun's at once.
        const closing = server.listener.close();
        const refused = await rejection(
          runtime.connectTcp({ host: "127.0.0.1", port: server.port, events: new Side() }),
          2000,
          "connect after close",
        );
        expectSocketError(refused, "ECONNREFUSED", "connect");
        conn.write(Buffer.from("still open"));
        await within(client.bytes(10), 2000, "echo after listener close");
        expect(client.text()).toBe("still open");
        conn.end();
        const info = await within(client.closed.promise, 2000, "closed");
        expect(info.reason).toBe("eof");
        await within(closing, 2000, "listener closed");
      }, 8000);

      test("close(true) destroys open connections: reason local on our side", async () => {
        const server = await serve("127.0.0.1", () => new Side());
        const client = new Side({ end: (c) => c.end() });
        await dial("127.0.0.1", server.port, client);
        const serverSide = await within(server.first, 1000, "accept");
        await within(server.listener.close(true), 2000, "forced close");
        const atServer = await within(serverSide.closed.promise, 2000, "server side closed");
        expect(atServer.reason).toBe("local");
        const atClient = await within(client.closed.promise, 2000, "client notices");
        expect(atClient.reason).toBe(PEER_OF_DESTROY);
      }, 8000);
    });

    describe("errors are SocketError with stable codes", () => {
      for (const { host } of HOSTS) {
        test(`connect to a closed port on ${host}: ECONNREFUSED`, async () => {
          const port = await closedTcpPort(host);
          const error = await rejection(
            runtime.connectTcp({ host, port, timeoutMs: 3000, events: new Side() }),
            4000,
            "connect",
          );
          expectSocketError(error, "ECONNREFUSED", "connect", hostPort(host, port));
          expect(error.target).toEqual({ host, port });
        }, 6000);
      }

      test("listen on a port in use: EADDRINUSE", async () => {
        const server = await serve("127.0.0.1", () => new Side());
        const error = await rejection(
          runtime.listenTcp({ host: "127.0.0.1", port: server.port, accept: () => new Side() }),
          3000,
          "second listen",
        );
        expectSocketError(error, "EADDRINUSE", "listen", hostPort("127.0.0.1", server.port));
      }, 5000);

      test("listen on an address this machine does not have: EADDRNOTAVAIL", async () => {
        // TEST-NET-1: never assigned to a host; binding fails locally, nothing is sent.
        const error = await rejection(
          runtime.listenTcp({ host: "192.0.2.1", port: 0, accept: () => new Side() }),
          3000,
          "listen",
        );
        expectSocketError(error, "EADDRNOTAVAIL", "listen", "192.0.2.1:0");
      }, 5000);

      test("resolveHost on a name that cannot exist: ENOTFOUND", async () => {
        const error = await rejection(resolveHost("nonexistent.invalid"), 8000, "resolve");
        expectSocketError(error, "ENOTFOUND", "resolve", "nonexistent.invalid");
      }, 10_000);

      test("connect with timeoutMs to a listener whose accept queue is full: ETIMEDOUT", async () => {
        // A python3 listener with backlog 0 that never accepts; a few connections fill its
        // queue, after which the kernel drops new SYNs and the handshake never completes.
        const script = [
          "import signal, socket, sys, time",
          "signal.alarm(30)",
          "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0)",
          "port = s.getsockname()[1]; fill = []",
          "for _ in range(4):",
          "    c = socket.socket(); c.setblocking(False)",
          "    try: c.connect(('127.0.0.1', port))",
          "    except BlockingIOError: pass",
          "    fill.append(c)",
          "time.sleep(0.3)",
          "print(port, flush=True)",
          "sys.stdin.read()",
        ].join("\n");
        const python = spawn("python3", ["-c", script], { stdio: ["pipe", "pipe", "inherit"] });
        track(() => {
          python.stdin.end();
          python.kill();
        });
        const port = await within(
          new Promise<number>((resolve, reject) => {
            python.stdout.once("data", (line: Buffer) => resolve(Number(String(line).trim())));
            python.once("error", reject);
            python.once("exit", (code) => reject(new Error(`python3 exited with ${code}`)));
          }),
          5000,
          "python3 listener",
        );
        const started = Date.now();
        const error = await rejection(
          runtime.connectTcp({ host: "127.0.0.1", port, timeoutMs: 500, events: new Side() }),
          3000,
          "connect to a full accept queue",
        );
        const elapsed = Date.now() - started;
        expectSocketError(error, "ETIMEDOUT", "connect", hostPort("127.0.0.1", port));
        expect(elapsed).toBeGreaterThanOrEqual(450);
        expect(elapsed).toBeLessThan(1500);
      }, 10_000);
    });

    describe("UDP", () => {
      for (const { host, family } of HOSTS) {
        test(`send and receive on ${host}: correct from endpoint (${family})`, async () => {
          const inbox = await udpInbox(host);
          const sender = await bind(host);
          expect(inbox.socket.local).toMatchObject({ address: host, family });
          expect(inbox.socket.local.port).toBeGreaterThan(0);
          expect(sender.local).toMatchObject({ address: host, family });
          await sender.send(Buffer.from("ping"), { host, port: inbox.socket.local.port });
          const got = await inbox.next(2000, "datagram");
          expect(Buffer.from(got.bytes).toString()).toBe("ping");
          expect(got.from).toEqual(sender.local);
          expect(got.truncated).toBe(false);
        }, 5000);
      }

      test("a 65507-byte datagram round-trips exactly over IPv4", async () => {
        expect(MAX_UDP_PAYLOAD.IPv4).toBe(65507);
        const inbox = await udpInbox("127.0.0.1");
        const sender = await bind("127.0.0.1");
        const payload = new PseudoRandomBytes(3).take(65507);
        await sender.send(payload, { host: "127.0.0.1", port: inbox.socket.local.port });
        const got = await inbox.next(2000, "largest datagram");
        expect(got.truncated).toBe(false);
        expect(got.bytes.byteLength).toBe(65507);
        expect(Buffer.from(got.bytes).equals(payload)).toBe(true);
      }, 5000);

      test("65508 bytes rejects with EMSGSIZE and the socket stays usable", async () => {
        const inbox = await udpInbox("127.0.0.1");
        const sender = await bind("127.0.0.1");
        const to = { host: "127.0.0.1", port: inbox.socket.local.port };
        const error = await rejection(sender.send(new Uint8Array(65508), to), 2000, "oversize");
        expectSocketError(error, "EMSGSIZE", "send", hostPort(to.host, to.port));
        await sender.send(Buffer.from("still here"), to);
        const got = await inbox.next(2000, "datagram after EMSGSIZE");
        expect(Buffer.from(got.bytes).toString()).toBe("still here");
        expect(inbox.messages).toHaveLength(0);
      }, 5000);

      /** Send from a socket connected to a closed port; collect what its error handler gets. */
      async function sendToClosedPort(host: string) {
        const port = await closedUdpPort(host);
        const errors: unknown[] = [];
        const gotError = deferred<void>();
        const socket = await bind(host, {
          connect: { host, port },
          error(_s, e) {
            errors.push(e);
            gotError.resolve();
          },
        });
        // The ICMP reply arrives asynchronously; a few sends give it every chance.
        for (let i = 0; i < 3 && errors.length === 0; i++) {
          await socket.send(Buffer.from("anyone?")).catch((e: unknown) => errors.push(e));
          await Promise.race([gotError.promise, sleep(100)]);
        }
        return { socket, errors, gotError, port };
      }

      test("a connected socket sending to a closed port: no crash, the socket stays usable", async () => {
        const { socket, errors } = await sendToClosedPort("127.0.0.1");
        for (const error of errors) expect(error).toBeInstanceOf(SocketError);
        // Still usable: reconnecting is not part of the contract, but sending must not throw.
        await within(
          socket.send(Buffer.from("again")).catch((e: unknown) => {
            expect(e).toBeInstanceOf(SocketError);
          }),
          2000,
          "send after ICMP",
        );
      }, 5000);

      for (const { host } of HOSTS) {
        testUnlessGap("udp-icmp")(
          `ICMP port unreachable reaches a connected socket's error handler as ECONNREFUSED (${host})`,
          async () => {
            const { errors, gotError, port } = await sendToClosedPort(host);
            await within(gotError.promise, 1500, "error handler called");
            const error = errors[0];
            expectSocketError(error, "ECONNREFUSED", "read", hostPort(host, port));
          },
          5000,
        );
      }

      test("an unconnected socket replying to a closed port: no crash, keeps receiving", async () => {
        const errors: SocketError[] = [];
        const port = await closedUdpPort("127.0.0.1");
        const messages: UdpMessage[] = [];
        const server = await bind("127.0.0.1", {
          message(s, m) {
            messages.push(m);
            // Reply to a port where nobody listens.
            s.send(Buffer.from("reply"), { host: "127.0.0.1", port }).catch((e: unknown) =>
              errors.push(e as SocketError),
            );
          },
          error(_s, e) {
            errors.push(e);
          },
        });
        const client = await bind("127.0.0.1");
        for (let i = 0; i < 3; i++) {
          await client.send(Buffer.from(`hello ${i}`), {
            host: "127.0.0.1",
            port: server.local.port,
          });
          await sleep(50);
        }
        await within(
          (async () => {
            while (messages.length < 3) await sleep(10);
          })(),
          2000,
          "three datagrams",
        );
        // The error handler may or may not fire (Linux does not report ICMP to
        // unconnected sockets); if anything is reported, it is a SocketError.
        for (const error of errors) expect(error).toBeInstanceOf(SocketError);
        for (const m of messages) expect(m.truncated).toBeBoolean();
      }, 5000);

      for (const { host } of HOSTS) {
        test(`reply(): a burst of datagrams is answered byte for byte, and close() waits for the last reply (${host})`, async () => {
          const failures: SocketError[] = [];
          let closing: Promise<void> | undefined;
          const total = 300;
          let seen = 0;
          const echo = await bind(host, {
            message(s, m) {
              s.reply(Buffer.concat([Buffer.from("re:"), m.bytes]), m.from, (e) =>
                failures.push(e),
              );
              // Close straight after handing over the last reply: it must still leave.
              if (++seen === total) closing = s.close();
            },
          });
          const inbox = await udpInbox(host);
          const sent: Uint8Array[] = [];
          const random = new PseudoRandomBytes(11);
          for (let i = 0; i < total; i++) {
            const datagram = random.take((i * 97) % 1400);
            sent.push(datagram);
            await inbox.socket.send(datagram, { host, port: echo.local.port });
            // Do not outrun the receive buffers: this is about reply(), not loss.
            if (i % 50 === 49) await sleep(5);
          }
          for (let i = 0; i < total; i++) {
            const got = await inbox.next(2000, `reply ${i}`);
            expect(got.from.port).toBe(echo.local.port);
            const expected = Buffer.concat([Buffer.from("re:"), sent[i] as Uint8Array]);
            expect(Buffer.from(got.bytes).equals(expected)).toBe(true);
          }
          await within(closing ?? Promise.reject(new Error("never closed")), 2000, "close");
          expect(failures).toEqual([]);
        }, 10_000);
      }

      test("reply() of 65508 bytes reports EMSGSIZE to its callback, throws nothing, and the socket keeps answering", async () => {
        const failures: SocketError[] = [];
        const echo = await bind("127.0.0.1", {
          message(s, m) {
            s.reply(new Uint8Array(65508), m.from, (e) => failures.push(e));
            s.reply(m.bytes, m.from, (e) => failures.push(e));
          },
        });
        const inbox = await udpInbox("127.0.0.1");
        await inbox.socket.send(Buffer.from("hi"), { host: "127.0.0.1", port: echo.local.port });
        const got = await inbox.next(2000, "the reply after EMSGSIZE");
        expect(Buffer.from(got.bytes).toString()).toBe("hi");
        expect(failures).toHaveLength(1);
        expectSocketError(
          failures[0],
          "EMSGSIZE",
          "send",
          hostPort("127.0.0.1", inbox.socket.local.port),
        );
      }, 5000);

      test("truncated is a boolean on every message", async () => {
        const inbox = await udpInbox("::1");
        const sender = await bind("::1");
        const sizes = [0, 1, 1200, 9000, MAX_UDP_PAYLOAD.IPv6];
        for (const size of sizes) {
          await sender.send(new Uint8Array(size), { host: "::1", port: inbox.socket.local.port });
        }
        for (const size of sizes) {
          const m = await inbox.next(2000, `datagram of ${size} bytes`);
          expect(typeof m.truncated).toBe("boolean");
          expect(m.truncated).toBe(false);
          expect(m.bytes.byteLength).toBe(size);
        }
      }, 5000);
    });
  });
}
