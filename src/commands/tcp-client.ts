/**
 * tcp-client: the tutorial's tcp_client.py. Connects, sends the message,
 * half-closes its sending side (so the server knows the message is complete),
 * then reads the whole reply until the server closes.
 */
import type { Reporter } from "../display/output.ts";
import { type CloseInfo, SocketError } from "../runtime/index.ts";
import { type CommandContext, resolveAndReport, utf8 } from "./_common.ts";

export interface TcpClientOptions {
  host: string;
  port: number;
  message: string;
  /** Bounds the connect and each wait for more reply bytes. */
  timeoutMs: number;
}

export async function runTcpClient(
  options: TcpClientOptions,
  ctx: CommandContext,
  report: Reporter,
): Promise<number> {
  report.emit({ event: "start", runtime: ctx.runtimeLabel, version: ctx.version });
  const { address } = await resolveAndReport(options.host, report);
  const chunks: Uint8Array[] = [];
  const startedAt = performance.now();
  const conn = await ctx.runtime.connectTcp({
    host: address,
    port: options.port,
    timeoutMs: options.timeoutMs || undefined,
    idleTimeoutMs: options.timeoutMs || undefined,
    events: {
      data(c, chunk) {
        chunks.push(chunk);
        report.emit({
          event: "data",
          proto: "tcp",
          peer: c.remote,
          bytes: chunk,
          offset: c.bytesIn - chunk.byteLength,
        });
      },
    },
  });
  report.emit({ event: "connection", proto: "tcp", conn: 1, local: conn.local, peer: conn.remote });
  const message = utf8(options.message);
  conn.write(message);
  report.emit({ event: "sent", proto: "tcp", peer: conn.remote, bytes: message });
  conn.end();
  const info: CloseInfo = await conn.closed;
  const reply = new Uint8Array(info.bytesIn);
  let offset = 0;
  for (const chunk of chunks) {
    reply.set(chunk, offset);
    offset += chunk.byteLength;
  }
  if (reply.byteLength > 0 || info.reason === "eof") {
    report.emit({ event: "reply", proto: "tcp", peer: conn.remote, bytes: reply });
  }
  report.emit({
    event: "close",
    proto: "tcp",
    peer: conn.remote,
    reason: info.reason,
    bytesIn: info.bytesIn,
    bytesOut: info.bytesOut,
    durationMs: performance.now() - startedAt,
    error: info.error,
  });
  if (info.reason === "timeout" && reply.byteLength === 0) {
    const seconds = options.timeoutMs / 1000;
    throw new SocketError(
      "ETIMEDOUT",
      "read",
      `read ${conn.remote.address}:${conn.remote.port}: no reply within ${seconds} s (ETIMEDOUT)`,
      { host: conn.remote.address, port: conn.remote.port },
    );
  }
  if (info.reason === "timeout") {
    report.emit({
      event: "notice",
      message: `the server sent nothing more for ${options.timeoutMs / 1000} s; stopped waiting`,
    });
  }
  if (info.error && info.reason !== "timeout") throw info.error;
  return 0;
}

export function tcpClient(options: TcpClientOptions, ctx: CommandContext): Promise<number> {
  return runTcpClient(options, ctx, ctx.output.reporter("tcp-client"));
}
