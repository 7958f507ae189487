/**
 * udp-server: the tutorial's udp_server.py. Prints every datagram with its
 * arrival time and sender; keeps serving (the tutorial's one-shot is
 * --count 1); --echo answers each datagram with prefix + data.
 */
import type { Reporter } from "../display/output.ts";
import {
  aborted,
  bindWarning,
  type CommandContext,
  concatBytes,
  hintFor,
  resolveAndReport,
  Tally,
  utf8,
} from "./_common.ts";
import { rangeOf } from "./ports.ts";
import type { RunningServer } from "./tcp-server.ts";

export interface UdpServerOptions {
  host: string;
  port: number;
  count?: number;
  echo: boolean;
  prefix: string;
}

export async function startUdpServer(
  options: UdpServerOptions,
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
  const socket = await ctx.runtime.bindUdp({
    host: address,
    port: options.port,
    message(udp, { bytes, from, truncated }) {
      if (options.count && tally.datagrams >= options.count) return;
      tally.datagrams++;
      tally.bytesIn += bytes.byteLength;
      report.emit({ event: "data", proto: "udp", peer: from, bytes, truncated });
      report.explain({ step: "recv", proto: "udp", bytes: bytes.byteLength, peer: from });
      if (options.echo) {
        const answer = concatBytes(prefix, bytes);
        tally.bytesOut += answer.byteLength;
        report.emit({ event: "reply", proto: "udp", peer: from, bytes: answer });
        report.explain({
          step: "send",
          proto: "udp",
          bytes: answer.byteLength,
          peer: from,
          queued: 0,
        });
        udp.send(answer, { host: from.address, port: from.port }).catch((error) => {
          report.error(error, hintFor(error, "udp"), false);
        });
      }
      if (options.count && tally.datagrams >= options.count) finished();
    },
    // An earlier reply hit a closed port (ICMP port unreachable): report it and keep serving.
    error(_udp, error) {
      const message = `${error.message}: an earlier reply could not be delivered; still serving`;
      report.error({ code: error.code, message }, undefined, false);
    },
  });
  report.explain({ step: "socket", proto: "udp", family: socket.local.family });
  report.explain({ step: "bind", local: socket.local, range: rangeOf(socket.local.port).name });
  report.emit({
    event: "listening",
    proto: "udp",
    local: socket.local,
    warning: bindWarning(socket.local),
  });
  let stopped = false;
  return {
    local: socket.local,
    done,
    async stop() {
      if (stopped) return;
      stopped = true;
      socket.close();
      report.emit(tally.summary());
    },
  };
}

export async function udpServer(options: UdpServerOptions, ctx: CommandContext): Promise<number> {
  const server = await startUdpServer(options, ctx, ctx.output.reporter("udp-server"));
  await Promise.race([server.done, aborted(ctx.signal)]);
  await server.stop();
  return 0;
}
