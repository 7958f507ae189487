/**
 * The node:net / node:dgram adapter. Serves Node, Deno (through its Node
 * compatibility layer) and Bun when SOCKDEMO_RUNTIME=node.
 * https://nodejs.org/api/net.html · https://nodejs.org/api/dgram.html
 */
import dgram from "node:dgram";
import dns from "node:dns";
import net from "node:net";
import {
  _BaseConnection,
  _connectError,
  _endpoint,
  _familyOf,
  _tooBig,
  _toSocketError,
} from "./_shared.ts";
import {
  MAX_UDP_PAYLOAD,
  type SocketOperation,
  type SocketRuntime,
  type TcpConnection,
  type TcpConnectOptions,
  type TcpListener,
  type TcpListenOptions,
  type UdpBindOptions,
  type UdpSocket,
} from "./types.ts";

interface DenoNetPermissions {
  permissions?: { querySync?(descriptor: { name: "net"; host: string }): { state: string } };
}

/**
 * Deno without --allow-net throws NotCapable from inside node:net's deferred
 * listen/connect, where no error handler can catch it. Ask first instead.
 */
function checkNetPermission(host: string, port: number, operation: SocketOperation): void {
  const deno = (globalThis as { Deno?: DenoNetPermissions }).Deno;
  const where = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const state = deno?.permissions?.querySync?.({ name: "net", host: where }).state;
  if (state !== undefined && state !== "granted") {
    const denied = Object.assign(new Error(`Requires net access to "${where}"`), {
      name: "NotCapable",
    });
    throw _toSocketError(denied, operation, { host, port });
  }
}

// --- TCP ---

class NodeConnection extends _BaseConnection {
  private ending = false;

  constructor(
    private readonly socket: net.Socket,
    idleTimeoutMs: number | undefined,
  ) {
    super(
      _endpoint(socket.localAddress, socket.localPort),
      _endpoint(socket.remoteAddress, socket.remotePort),
    );
    socket.setNoDelay(true);
    let lastError: ReturnType<typeof _toSocketError> | undefined;
    socket.on("data", (chunk: Buffer) => this.received(chunk));
    socket.on("drain", () => this.events?.drain?.(this));
    socket.on("end", () => this.events?.end?.(this));
    socket.on("error", (error) => {
      lastError = _toSocketError(error, "read", {
        host: this.remote.address,
        port: this.remote.port,
      });
    });
    socket.on("close", () => this.finish(lastError));
    if (idleTimeoutMs) {
      socket.setTimeout(idleTimeoutMs, () => {
        this.closeReason ??= "timeout";
        socket.resetAndDestroy();
      });
    }
  }

  get queuedBytes(): number {
    return this.socket.writableLength;
  }

  // node:net buffers internally without limit; its return value is the backpressure signal.
  write(bytes: Uint8Array): boolean {
    if (this.ending || this.socket.destroyed) return true;
    this.bytesOut += bytes.byteLength;
    return this.socket.write(bytes);
  }

  end(): void {
    if (this.ending) return;
    this.ending = true;
    this.socket.end();
  }

  // RST, as Bun's terminate() sends: both adapters abort the same way (SO_LINGER 0).
  destroy(): void {
    this.closeReason ??= "local";
    if (this.socket.destroyed) return;
    this.socket.resetAndDestroy();
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }
}

async function listenTcp(options: TcpListenOptions): Promise<TcpListener> {
  const target = { host: options.host, port: options.port };
  checkNetPermission(options.host, options.port, "listen");
  // allowHalfOpen: the peer's FIN must not close our side before the reply is written.
  const open = new Set<NodeConnection>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const conn = new NodeConnection(socket, options.idleTimeoutMs);
    open.add(conn);
    conn.closed.then(() => open.delete(conn));
    conn.events = options.accept(conn);
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(
        { host: options.host, port: options.port, backlog: options.backlog ?? 511 },
        () => {
          server.off("error", reject);
          resolve();
        },
      );
    });
  } catch (error) {
    throw _toSocketError(error, "listen", target);
  }
  const address = server.address() as net.AddressInfo;
  return {
    local: _endpoint(address.address, address.port),
    async close(force) {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      if (!force) return stopped;
      // Through destroy(), so these connections close with reason "local", not "eof".
      const closing = [...open].map((conn) => conn.closed);
      for (const conn of open) conn.destroy();
      // Node and Bun call server.close's callback before the sockets' close events, Deno after:
      // wait for both, so every close report is out when close() resolves.
      await Promise.all([stopped, ...closing]);
    },
  };
}

async function connectTcp(options: TcpConnectOptions): Promise<TcpConnection> {
  const target = { host: options.host, port: options.port };
  checkNetPermission(options.host, options.port, "connect");
  const socket = net.connect({ host: options.host, port: options.port, allowHalfOpen: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = options.timeoutMs
        ? setTimeout(() => {
            socket.destroy();
            reject(Object.assign(new Error("connect timed out"), { code: "ETIMEDOUT" }));
          }, options.timeoutMs)
        : undefined;
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        resolve();
      });
    });
  } catch (error) {
    socket.destroy();
    throw await _connectError(error, target);
  }
  const conn = new NodeConnection(socket, options.idleTimeoutMs);
  conn.events = options.events;
  return conn;
}

// --- UDP ---

/**
 * node:dgram looks up the address of every datagram it sends (dns.lookup,
 * one more callback turn even for an IP literal). sockdemo resolves names
 * itself and hands the adapter numeric addresses only: answer those at once.
 */
function numericLookup(
  address: string,
  family: unknown,
  callback: (error: Error | null, address: string, family: number) => void,
): void {
  const version = net.isIP(address);
  if (version !== 0) callback(null, address, version);
  else dns.lookup(address, family as number, callback);
}

async function bindUdp(options: UdpBindOptions): Promise<UdpSocket> {
  const family = _familyOf(options.host);
  checkNetPermission(options.host, options.port, "bind");
  if (options.connect) checkNetPermission(options.connect.host, options.connect.port, "connect");
  const socket = dgram.createSocket({
    type: family === "IPv6" ? "udp6" : "udp4",
    lookup: numericLookup,
  });
  const bindTarget = { host: options.host, port: options.port };
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind({ address: options.host, port: options.port }, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    const peer = options.connect;
    if (peer) {
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.connect(peer.port, peer.host, () => {
          socket.off("error", reject);
          resolve();
        });
      });
    }
  } catch (error) {
    socket.close();
    throw _toSocketError(
      error,
      options.connect ? "connect" : "bind",
      options.connect ?? bindTarget,
    );
  }
  const address = socket.address();
  let inFlight = 0;
  let closing: Promise<void> | undefined;
  let wakeCloser: (() => void) | undefined;
  /** Every send() passes a callback: close() waits for them, as node:dgram would drop those sends. */
  const sent = () => {
    if (--inFlight === 0) wakeCloser?.();
  };
  const udp: UdpSocket = {
    local: _endpoint(address.address, address.port),
    send(bytes, to) {
      const dest = to ?? options.connect;
      if (bytes.byteLength > MAX_UDP_PAYLOAD[family]) return Promise.reject(_tooBig(dest));
      inFlight++;
      return new Promise((resolve, reject) => {
        const done = (error: Error | null) => {
          sent();
          if (error) reject(_toSocketError(error, "send", dest));
          else resolve();
        };
        if (to) socket.send(bytes, to.port, to.host, done);
        else socket.send(bytes, done);
      });
    },
    reply(bytes, to, failed) {
      // Built only on the rare paths: a server calls this for every datagram.
      const dest = () => ({ host: to.address, port: to.port });
      if (bytes.byteLength > MAX_UDP_PAYLOAD[family]) {
        failed(_tooBig(dest()));
        return;
      }
      inFlight++;
      socket.send(bytes, to.port, to.address, (error) => {
        sent();
        if (error) failed(_toSocketError(error, "send", dest()));
      });
    },
    // node:dgram drops datagrams still waiting in send() when closed (Node, Bun and Deno alike):
    // close once every datagram handed to send() has left.
    close() {
      closing ??= (async () => {
        if (inFlight > 0) await new Promise<void>((resolve) => (wakeCloser = resolve));
        await new Promise<void>((resolve) => {
          try {
            socket.close(() => resolve());
          } catch {
            resolve(); // already closed
          }
        });
      })();
      return closing;
    },
  };
  socket.on("message", (bytes, rinfo) =>
    options.message(udp, { bytes, from: _endpoint(rinfo.address, rinfo.port), truncated: false }),
  );
  socket.on("error", (error) => options.error(udp, _toSocketError(error, "read", options.connect)));
  return udp;
}

export const nodeRuntime: SocketRuntime = { name: "node", listenTcp, connectTcp, bindUdp };
