/**
 * The Bun-native adapter: Bun.listen, Bun.connect, Bun.udpSocket.
 * https://bun.com/docs/api/tcp · https://bun.com/docs/api/udp
 *
 * Bun is reached through globalThis.Bun only, and only inside functions, so
 * that this file loads (and is bundled) on Node and Deno too.
 */
import {
  _BaseConnection,
  _connectError,
  _endpoint,
  _familyOf,
  _HIGH_WATER_MARK,
  _tooBig,
  _toSocketError,
} from "./_shared.ts";
import {
  MAX_UDP_PAYLOAD,
  type SocketError,
  type SocketRuntime,
  type TcpConnection,
  type TcpConnectOptions,
  type TcpListener,
  type TcpListenOptions,
  type UdpBindOptions,
  type UdpSocket,
} from "./types.ts";

function bun(): typeof globalThis.Bun {
  const api = globalThis.Bun;
  if (!api) throw new Error("sockdemo: the bun adapter needs Bun (set SOCKDEMO_RUNTIME=node)");
  return api;
}

// --- Garbage from reads ---

/**
 * Bun hands every chunk it reads to JS in a buffer of its own, allocated
 * outside JavaScriptCore's heap, and JSC lets the dead ones pile up before it
 * collects: 15-40 MB of them under a 64 KiB-write echo stream.
 *
 * A receiver that is done with a chunk release()s it, and a chunk of
 * RELEASE_FROM_BYTES or more is freed at once by detaching its buffer:
 * ArrayBuffer#transfer(0) moves nothing and drops the old contents. That costs
 * ~0.3 µs (a new empty ArrayBuffer), more than collecting a small chunk does.
 * (4-second 64 KiB-write stream, compiled tcp-server --quiet: peak RSS 67-69
 * MB without it, 49-51 MB with it, and no collections left to wait for.)
 *
 * For the rest, after every 4 MiB read and not released, collect now
 * (Bun.gc(true) also hands the freed pages back), unless that would spend more
 * than 5 % of the time in the collector: one collection takes 1-6 ms here, so
 * a fast stream waits longer between them.
 */
const RELEASE_FROM_BYTES = 16 * 1024;
const COLLECT_AFTER_BYTES = 4 * 1024 * 1024;
const MAX_COLLECTOR_SHARE = 0.05;
let bytesReadSinceCollection = 0;
let nextCollectionAt = 0;

function collectReadBuffers(bytes: number): void {
  bytesReadSinceCollection += bytes;
  if (bytesReadSinceCollection < COLLECT_AFTER_BYTES) return;
  const start = performance.now();
  if (start < nextCollectionAt) return;
  bytesReadSinceCollection = 0;
  bun().gc(true);
  nextCollectionAt = start + (performance.now() - start) / MAX_COLLECTOR_SHARE;
}

type Detachable = ArrayBufferLike & { transfer?: (length: number) => ArrayBuffer };

/**
 * Buffers with bytes still waiting to be written, on any socket of this
 * process, counted per queued view: release() never frees them, also when a
 * chunk read on one connection waits in another's queue.
 */
const waitingToBeWritten = new WeakMap<ArrayBufferLike, number>();

function holdUntilWritten(bytes: Uint8Array): void {
  waitingToBeWritten.set(bytes.buffer, (waitingToBeWritten.get(bytes.buffer) ?? 0) + 1);
}

function doneWriting(bytes: Uint8Array): void {
  const left = (waitingToBeWritten.get(bytes.buffer) ?? 1) - 1;
  if (left > 0) waitingToBeWritten.set(bytes.buffer, left);
  else waitingToBeWritten.delete(bytes.buffer);
}

// --- TCP ---

/**
 * Bun's socket.write() writes what the kernel takes right now and returns the
 * count; it never buffers the rest (oven-sh/bun#16076). This class keeps the
 * rest in a queue, flushes it from `drain`, and only sends FIN once the queue
 * is empty.
 */
class BunConnection extends _BaseConnection {
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private wantEnd = false;
  private peerEnded = false;
  private shutDown = false;
  private wasAboveMark = false;
  private lastActive = performance.now();
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private writeFailure: SocketError | undefined;

  constructor(
    private readonly socket: Bun.Socket<BunConnection | undefined>,
    private readonly idleMs: number,
  ) {
    super(
      _endpoint(socket.localAddress, socket.localPort),
      _endpoint(socket.remoteAddress, socket.remotePort),
    );
    socket.setNoDelay(true);
    if (idleMs > 0) this.armIdleTimer(idleMs);
  }

  get queuedBytes(): number {
    return this.queued;
  }

  write(bytes: Uint8Array): boolean {
    if (this.wantEnd || this.socket.readyState <= 0) return true;
    this.bytesOut += bytes.byteLength;
    this.touch();
    if (this.queued === 0) {
      const written = this.writeNow(bytes);
      if (written === bytes.byteLength) return true;
      // No copy: like node:net, the caller hands the bytes over (Bun gives each chunk its own buffer).
      this.enqueue(bytes.subarray(written));
    } else {
      this.enqueue(bytes);
    }
    if (this.queued >= _HIGH_WATER_MARK) this.wasAboveMark = true;
    return this.queued < _HIGH_WATER_MARK;
  }

  private enqueue(bytes: Uint8Array): void {
    holdUntilWritten(bytes);
    this.queue.push(bytes);
    this.queued += bytes.byteLength;
  }

  /**
   * socket.write(), remembering a failure. When the peer resets the
   * connection while we write, Bun usually reports it only as a write that
   * returns -1, followed by `end` and a `close` without an error (Bun 1.4:
   * ~3 times in 4); only otherwise does `close` carry ECONNRESET.
   */
  private writeNow(bytes: Uint8Array): number {
    const written = this.socket.write(bytes);
    if (written < 0 && !this.writeFailure && this.closeReason === undefined) {
      const broken = Object.assign(new Error("write failed"), { code: "EPIPE" });
      this.writeFailure = _toSocketError(broken, "write", {
        host: this.remote.address,
        port: this.remote.port,
      });
    }
    return Math.max(0, written);
  }

  /** Called from Bun's drain: write as much of the queue as the kernel takes. */
  flush(): void {
    while (this.queue.length > 0) {
      const head = this.queue[0] as Uint8Array;
      const written = this.writeNow(head);
      this.queued -= written;
      if (written > 0) this.touch();
      if (written < head.byteLength) {
        this.queue[0] = head.subarray(written);
        return;
      }
      this.queue.shift();
      doneWriting(head);
    }
    if (this.wasAboveMark) {
      this.wasAboveMark = false;
      this.events?.drain?.(this);
    }
    if (this.wantEnd) this.sendFin();
  }

  override release(bytes: Uint8Array): void {
    if (bytes.byteLength < RELEASE_FROM_BYTES) return;
    const buffer = bytes.buffer as Detachable;
    // Only a buffer of its own: a pooled Buffer shares one with unrelated bytes.
    if (bytes.byteOffset !== 0 || bytes.byteLength !== buffer.byteLength) return;
    if (!waitingToBeWritten.has(buffer)) buffer.transfer?.(0);
  }

  end(): void {
    if (this.wantEnd) return;
    this.wantEnd = true;
    if (this.queued === 0) this.sendFin();
  }

  private sendFin(): void {
    if (this.shutDown) return;
    this.shutDown = true;
    // Both directions done: a full end() lets Bun close the socket and report `close`.
    if (this.peerEnded) this.socket.end();
    else this.socket.shutdown();
  }

  peerFin(): void {
    // After a failed write this `end` is Bun's report of the reset, not a FIN.
    if (this.writeFailure) return;
    this.peerEnded = true;
    this.events?.end?.(this);
    if (this.shutDown) this.socket.end();
  }

  destroy(): void {
    this.closeReason ??= "local";
    for (const dropped of this.queue.splice(0)) doneWriting(dropped);
    this.queued = 0;
    this.socket.terminate();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  onData(chunk: Uint8Array): void {
    this.touch();
    this.received(chunk);
    // Counted after the receiver had it: a released chunk is freed already (detached, it reads 0).
    collectReadBuffers(chunk.byteLength);
  }

  onClose(error?: SocketError): void {
    clearTimeout(this.idleTimer);
    const failure = error ?? this.writeFailure;
    // uSockets does not call `end` for a FIN that arrives after our own
    // shutdown(): it closes the socket at once. The peer did half-close, and
    // `end` is how callers learn it finished sending, so report it first.
    if (!failure && this.shutDown && !this.peerEnded && this.closeReason === undefined) {
      this.peerEnded = true;
      this.events?.end?.(this);
    }
    this.finish(failure);
  }

  /** Only the idle timer reads the time: without one, no clock read per chunk (~40 ns each). */
  private touch(): void {
    if (this.idleMs > 0) this.lastActive = performance.now();
  }

  /**
   * Idle timeout on a JS timer, not Bun's socket.timeout(): that one only
   * fires on uSockets' 4-second sweep (timeout(1) closes after ~4 s), far from
   * idleTimeoutMs. Traffic only moves `lastActive`; the timer re-arms itself
   * for the remainder, so busy connections cost no timer churn.
   */
  private armIdleTimer(ms: number): void {
    this.idleTimer = setTimeout(() => {
      const idle = performance.now() - this.lastActive;
      if (idle < this.idleMs) return this.armIdleTimer(this.idleMs - idle);
      this.closeReason ??= "timeout";
      this.socket.terminate();
    }, ms);
  }
}

type ConnSocket = Bun.Socket<BunConnection | undefined>;

function handlers(
  onOpen: (socket: ConnSocket) => void,
  target: () => { host: string; port: number },
): Bun.SocketHandler<BunConnection | undefined> {
  let lastError: SocketError | undefined;
  return {
    binaryType: "uint8array",
    open: onOpen,
    data: (socket, chunk) => socket.data?.onData(chunk),
    drain: (socket) => socket.data?.flush(),
    end: (socket) => socket.data?.peerFin(),
    error(_socket, error) {
      lastError = _toSocketError(error, "read", target());
    },
    close(socket, error) {
      const reported = error ? _toSocketError(error, "read", target()) : lastError;
      socket.data?.onClose(reported);
    },
  };
}

async function listenTcp(options: TcpListenOptions): Promise<TcpListener> {
  const target = { host: options.host, port: options.port };
  const open = new Set<BunConnection>();
  const socketHandlers = handlers(
    (socket) => {
      const conn = new BunConnection(socket, options.idleTimeoutMs ?? 0);
      open.add(conn);
      socket.data = conn;
      conn.events = options.accept(conn);
      conn.closed.then(() => open.delete(conn));
    },
    () => target,
  );
  let listener: Bun.TCPSocketListener<BunConnection | undefined>;
  try {
    listener = bun().listen<BunConnection | undefined>({
      hostname: options.host,
      port: options.port,
      // Without this Bun closes our side as soon as the peer sends FIN and drops queued replies.
      allowHalfOpen: true,
      data: undefined,
      socket: socketHandlers,
    });
  } catch (error) {
    throw _toSocketError(error, "listen", target);
  }
  return {
    local: _endpoint(listener.hostname, listener.port),
    async close(force) {
      listener.stop(false);
      if (!force) return;
      // Through destroy(), so these connections close with reason "local", not "eof".
      const closing = [...open].map((conn) => conn.closed);
      for (const conn of open) conn.destroy();
      await Promise.all(closing);
    },
  };
}

async function connectTcp(options: TcpConnectOptions): Promise<TcpConnection> {
  const target = { host: options.host, port: options.port };
  let conn: BunConnection | undefined;
  let timedOut = false;
  const socketHandlers = handlers(
    (socket) => {
      // A late handshake after our timeout fired: nobody is waiting for it.
      if (timedOut) return socket.terminate();
      conn = new BunConnection(socket, options.idleTimeoutMs ?? 0);
      conn.events = options.events;
      socket.data = conn;
    },
    () => target,
  );
  const connecting = bun().connect<BunConnection | undefined>({
    hostname: options.host,
    port: options.port,
    allowHalfOpen: true,
    data: undefined,
    socket: { ...socketHandlers, connectError() {} },
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    if (!options.timeoutMs) return;
    timer = setTimeout(() => {
      timedOut = true;
      reject(Object.assign(new Error("connect timed out"), { code: "ETIMEDOUT" }));
    }, options.timeoutMs);
  });
  try {
    await Promise.race([connecting, deadline]);
  } catch (error) {
    throw await _connectError(error, target);
  } finally {
    clearTimeout(timer);
  }
  if (!conn) throw _toSocketError(new Error("socket closed during connect"), "connect", target);
  return conn;
}

// --- UDP ---

interface WaitingDatagram {
  bytes: Uint8Array;
  /** Undefined: the connected peer. */
  to: { host: string; port: number } | undefined;
  settle(failure?: SocketError): void;
}

const SENT: Promise<void> = Promise.resolve();

async function bindUdp(options: UdpBindOptions): Promise<UdpSocket> {
  const family = _familyOf(options.host);
  let udpSocket: UdpSocket | undefined;
  let native: Bun.udp.Socket<"uint8array"> | Bun.udp.ConnectedSocket<"uint8array">;
  /** One sendto(); false when the kernel buffer is full. No host: the socket is connected. */
  const sendNow = (bytes: Uint8Array, host?: string, port?: number): boolean =>
    host === undefined
      ? (native as Bun.udp.ConnectedSocket<"uint8array">).send(bytes)
      : (native as Bun.udp.Socket<"uint8array">).send(bytes, port as number, host);
  /**
   * Datagrams the kernel had no room for yet, in the order they were sent.
   * Bun's send() does not queue, so a later datagram must not be tried while
   * earlier ones wait (node:dgram keeps them in order too), and close() waits
   * for them, as the node adapter's does.
   * Retrying each datagram on its own after drain, as this adapter once did,
   * sent datagram 50 right after 4 on a rate-limited loopback, and close()
   * returned with 277 of 300 never sent (test/udp-pressure.test.ts).
   */
  const waiting: WaitingDatagram[] = [];
  let wakeCloser: (() => void) | undefined;
  const wait = (
    bytes: Uint8Array,
    to: WaitingDatagram["to"],
    settle: WaitingDatagram["settle"],
  ) => {
    holdUntilWritten(bytes);
    waiting.push({ bytes, to, settle });
  };
  /** Whether the datagram went at once; false: it must queue behind those waiting, or the kernel is full. */
  const sentAtOnce = (bytes: Uint8Array, host?: string, port?: number): boolean =>
    waiting.length === 0 && sendNow(bytes, host, port);
  /** From `drain`: send the waiting datagrams in order, until the kernel is full again. */
  const sendWaiting = (): void => {
    while (waiting.length > 0) {
      const head = waiting[0] as WaitingDatagram;
      let failure: SocketError | undefined;
      try {
        if (!sendNow(head.bytes, head.to?.host, head.to?.port)) return;
      } catch (error) {
        failure = _toSocketError(error, "send", head.to ?? options.connect);
      }
      waiting.shift();
      doneWriting(head.bytes);
      head.settle(failure);
    }
    wakeCloser?.();
  };
  /** The code of an error reported from the pending socket error, whose error-queue twin is due. */
  let twinOf: unknown;
  const socketHandlers = {
    data(
      _s: unknown,
      bytes: Uint8Array,
      port: number,
      address: string,
      flags?: Bun.udp.ReceiveFlags,
    ) {
      if (!udpSocket) return;
      collectReadBuffers(bytes.byteLength);
      const from = _endpoint(address, port);
      options.message(udpSocket, { bytes, from, truncated: flags?.truncated ?? false });
    },
    drain: () => sendWaiting(),
    // Bun 1.4 calls this with the error as the only argument (the socket is `this`),
    // unlike its typings; take whichever argument is the error.
    error(...args: unknown[]) {
      const error = args.find((a) => a instanceof Error) ?? args[args.length - 1];
      // On Linux Bun reports each ICMP error twice: from the socket's pending error (a
      // recv or send fails) and again from the error queue (IP_RECVERR; that error has
      // `errqueue: true`). One unreachable peer must make one report, not two lines.
      const { code, errqueue } = (error ?? {}) as { code?: unknown; errqueue?: unknown };
      if (errqueue === true && twinOf !== undefined && twinOf === code) {
        twinOf = undefined;
        return;
      }
      twinOf = errqueue === true ? undefined : code;
      if (udpSocket) options.error(udpSocket, _toSocketError(error, "read", options.connect));
    },
  };
  try {
    native = options.connect
      ? await bun().udpSocket({
          hostname: options.host,
          port: options.port,
          binaryType: "uint8array",
          connect: { hostname: options.connect.host, port: options.connect.port },
          socket: socketHandlers,
        })
      : await bun().udpSocket({
          hostname: options.host,
          port: options.port,
          binaryType: "uint8array",
          socket: socketHandlers,
        });
  } catch (error) {
    const operation = options.connect ? "connect" : "bind";
    throw _toSocketError(
      error,
      operation,
      options.connect ?? { host: options.host, port: options.port },
    );
  }
  const local = native.address;
  let closing: Promise<void> | undefined;
  udpSocket = {
    local: _endpoint(local.address, local.port),
    send(bytes, to) {
      const dest = to ?? options.connect;
      if (bytes.byteLength > MAX_UDP_PAYLOAD[family]) return Promise.reject(_tooBig(dest));
      try {
        if (sentAtOnce(bytes, to?.host, to?.port)) return SENT;
      } catch (error) {
        return Promise.reject(_toSocketError(error, "send", dest));
      }
      return new Promise((resolve, reject) =>
        wait(bytes, to, (failure) => (failure ? reject(failure) : resolve())),
      );
    },
    reply(bytes, to, failed) {
      // Built only on the rare paths: a server calls this for every datagram.
      const dest = () => ({ host: to.address, port: to.port });
      if (bytes.byteLength > MAX_UDP_PAYLOAD[family]) {
        failed(_tooBig(dest()));
        return;
      }
      try {
        if (sentAtOnce(bytes, to.address, to.port)) return;
      } catch (error) {
        failed(_toSocketError(error, "send", dest()));
        return;
      }
      wait(bytes, dest(), (failure) => failure && failed(failure));
    },
    // Bun's send() is a synchronous sendto(): only the waiting datagrams are left to send.
    close() {
      closing ??= (async () => {
        if (waiting.length > 0) await new Promise<void>((resolve) => (wakeCloser = resolve));
        if (!native.closed) native.close();
      })();
      return closing;
    },
  };
  return udpSocket;
}

export const bunRuntime: SocketRuntime = { name: "bun", listenTcp, connectTcp, bindUdp };
