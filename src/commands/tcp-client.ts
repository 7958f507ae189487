/**
 * tcp-client: the tutorial's tcp_client.py. Connects, sends the message,
 * half-closes its sending side (so the server knows the message is complete),
 * then reads the whole reply until the server closes.
 *
 * With `-` (or --stdin) it streams standard input instead and prints each
 * reply chunk as it arrives; end of input half-closes, and the client keeps
 * reading until the server closes too.
 */
import type { Reporter } from "../display/output.ts";
import { type CloseInfo, SocketError, type TcpConnection } from "../runtime/index.ts";
import { type CommandContext, resolveAndReport, stdinChunks } from "./_common.ts";

export interface TcpClientOptions {
  host: string;
  port: number;
  /** The message, or undefined to stream standard input. */
  message: Uint8Array | undefined;
  /** Bounds the connect and, for a one-shot message, each wait for more reply bytes. */
  timeoutMs: number;
}

/** Stream stdin to the connection, pausing input whenever the socket is backed up. */
async function pumpStdin(conn: TcpConnection, report: Reporter, drained: () => Promise<void>) {
  for await (const chunk of stdinChunks()) {
    const more = conn.write(chunk);
    report.emit({ event: "sent", proto: "tcp", peer: conn.remote, bytes: chunk });
    if (report.explaining) {
      report.explain({
        step: "send",
        proto: "tcp",
        bytes: chunk.byteLength,
        peer: conn.remote,
        queued: conn.queuedBytes,
      });
    }
    if (!more) await drained();
  }
}

export async function runTcpClient(
  options: TcpClientOptions,
  ctx: CommandContext,
  report: Reporter,
): Promise<number> {
  report.emit({ event: "start", runtime: ctx.runtimeLabel, version: ctx.version });
  const { address, family } = await resolveAndReport(options.host, report);
  const interactive = options.message === undefined;
  const chunks: Uint8Array[] = [];
  let wakeWriter: (() => void) | undefined;
  let peerFinishedFirst: boolean | undefined;
  const startedAt = performance.now();
  report.explain({ step: "socket", proto: "tcp", family });
  const conn = await ctx.runtime.connectTcp({
    host: address,
    port: options.port,
    timeoutMs: options.timeoutMs || undefined,
    // Interactive sessions may sit idle while the person types.
    idleTimeoutMs: interactive ? undefined : options.timeoutMs || undefined,
    events: {
      data(c, chunk) {
        const offset = c.bytesIn - chunk.byteLength;
        // Interactive: each chunk is shown as it comes. One-shot: collected into one reply.
        if (interactive)
          report.emit({ event: "reply", proto: "tcp", peer: c.remote, bytes: chunk });
        else {
          chunks.push(chunk);
          report.emit({ event: "data", proto: "tcp", peer: c.remote, bytes: chunk, offset });
        }
        report.explain({ step: "recv", proto: "tcp", bytes: chunk.byteLength, peer: c.remote });
        // Shown and done with (a one-shot keeps its chunks for the whole reply).
        if (interactive) c.release(chunk);
      },
      drain: () => wakeWriter?.(),
      end() {
        peerFinishedFirst ??= true;
        report.explain({ step: "peer-fin" });
      },
    },
  });
  report.emit({ event: "connection", proto: "tcp", conn: 1, local: conn.local, peer: conn.remote });
  report.explain({ step: "connect", peer: conn.remote, local: conn.local });

  if (interactive) {
    const drained = () => new Promise<void>((resolve) => (wakeWriter = resolve));
    // If the server closes first, stop reading stdin rather than writing into a closed socket.
    await Promise.race([pumpStdin(conn, report, drained), conn.closed]);
  } else {
    const message = options.message as Uint8Array;
    conn.write(message);
    report.emit({ event: "sent", proto: "tcp", peer: conn.remote, bytes: message });
    report.explain({
      step: "send",
      proto: "tcp",
      bytes: message.byteLength,
      peer: conn.remote,
      queued: conn.queuedBytes,
    });
  }
  report.explain({ step: "shutdown" });
  peerFinishedFirst ??= false;
  conn.end();
  const info: CloseInfo = await conn.closed;
  if (!interactive && (info.bytesIn > 0 || info.reason === "eof")) {
    const reply = new Uint8Array(info.bytesIn);
    let at = 0;
    for (const chunk of chunks) {
      reply.set(chunk, at);
      at += chunk.byteLength;
    }
    report.emit({ event: "reply", proto: "tcp", peer: conn.remote, bytes: reply });
  }
  report.emit({
    event: "close",
    proto: "tcp",
    peer: conn.remote,
    reason: info.reason,
    finFirst: info.reason === "eof" ? (peerFinishedFirst ? "peer" : "local") : undefined,
    bytesIn: info.bytesIn,
    bytesOut: info.bytesOut,
    durationMs: performance.now() - startedAt,
    error: info.error,
  });
  report.explain({ step: "close", reason: info.reason });
  if (info.reason === "timeout") {
    const seconds = options.timeoutMs / 1000;
    if (info.bytesIn === 0) {
      const where = { host: conn.remote.address, port: conn.remote.port };
      throw new SocketError(
        "ETIMEDOUT",
        "read",
        `read ${where.host}:${where.port}: no reply within ${seconds} s (ETIMEDOUT)`,
        where,
      );
    }
    report.emit({
      event: "notice",
      message: `the server sent nothing more for ${seconds} s; stopped waiting`,
    });
    return 0;
  }
  if (info.error) throw info.error;
  return 0;
}

export function tcpClient(options: TcpClientOptions, ctx: CommandContext): Promise<number> {
  return runTcpClient(options, ctx, ctx.output.reporter("tcp-client"));
}
