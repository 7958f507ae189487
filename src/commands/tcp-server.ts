/**
 * tcp-server: the tutorial's tcp_server.py, for many clients at once. Prints
 * every chunk it receives and answers with prefix + chunk.
 */
import type { Reporter } from "../display/output.ts";
import type { Endpoint } from "../runtime/index.ts";
import {
  aborted,
  type CommandContext,
  concatBytes,
  exposureWarning,
  resolveAndReport,
  Tally,
  utf8,
} from "./_common.ts";

export interface TcpServerOptions {
  host: string;
  port: number;
  prefix: string;
  reply: boolean;
  /** Exit after this many connections have been served. */
  count?: number;
  idleTimeoutMs?: number;
}

export interface RunningServer {
  local: Endpoint;
  /** Resolves when --count is reached. */
  done: Promise<void>;
  /** Stop accepting, drop open connections, report the summary. */
  stop(): Promise<void>;
}

export async function startTcpServer(
  options: TcpServerOptions,
  ctx: CommandContext,
  report: Reporter,
): Promise<RunningServer> {
  report.emit({ event: "start", runtime: ctx.runtimeLabel, version: ctx.version });
  const { address } = await resolveAndReport(options.host, report);
  const prefix = utf8(options.prefix);
  const tally = new Tally();
  let finished!: () => void;
  const done = new Promise<void>((resolve) => {
    finished = resolve;
  });
  let accepted = 0;
  let served = 0;
  let nextId = 1;
  const listener = await ctx.runtime.listenTcp({
    host: address,
    port: options.port,
    idleTimeoutMs: options.idleTimeoutMs,
    accept(conn) {
      const id = nextId++;
      const openedAt = performance.now();
      tally.connections++;
      accepted++;
      // With --count, stop accepting once enough clients came; those still finish.
      if (options.count && accepted >= options.count) void listener?.close();
      report.emit({
        event: "connection",
        proto: "tcp",
        conn: id,
        local: conn.local,
        peer: conn.remote,
      });
      return {
        data(c, chunk) {
          report.emit({
            event: "data",
            proto: "tcp",
            conn: id,
            peer: c.remote,
            bytes: chunk,
            offset: c.bytesIn - chunk.byteLength,
          });
          if (!options.reply) return;
          const answer = concatBytes(prefix, chunk);
          report.emit({
            event: "reply",
            proto: "tcp",
            conn: id,
            peer: c.remote,
            bytes: answer,
            offset: c.bytesOut,
          });
          // The peer reads slower than it writes: stop reading until our replies drain.
          if (!c.write(answer)) c.pause();
        },
        drain: (c) => c.resume(),
        // The client is done sending; finish our replies, then close our side too.
        end: (c) => c.end(),
        close(c, info) {
          tally.bytesIn += info.bytesIn;
          tally.bytesOut += info.bytesOut;
          report.emit({
            event: "close",
            proto: "tcp",
            conn: id,
            peer: c.remote,
            reason: info.reason,
            bytesIn: info.bytesIn,
            bytesOut: info.bytesOut,
            durationMs: performance.now() - openedAt,
            error: info.error,
          });
          served++;
          if (options.count && served >= options.count) finished();
        },
      };
    },
  });
  report.emit({
    event: "listening",
    proto: "tcp",
    local: listener.local,
    warning: exposureWarning(listener.local.address),
  });
  let stopped = false;
  return {
    local: listener.local,
    done,
    async stop() {
      if (stopped) return;
      stopped = true;
      await listener.close(true);
      report.emit(tally.summary());
    },
  };
}

export async function tcpServer(options: TcpServerOptions, ctx: CommandContext): Promise<number> {
  const server = await startTcpServer(options, ctx, ctx.output.reporter("tcp-server"));
  await Promise.race([server.done, aborted(ctx.signal)]);
  await server.stop();
  return 0;
}
