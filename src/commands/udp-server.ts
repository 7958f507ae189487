/**
 * udp-server: the tutorial's udp_server.py. Prints every datagram with its
 * arrival time and sender; keeps serving (the tutorial's one-shot is
 * --count 1); --echo answers each datagram with prefix + data.
 */
import type { DataEvent, ReplyEvent } from "../display/events.ts";
import type { Reporter } from "../display/output.ts";
import type { Endpoint, SocketError } from "../runtime/index.ts";
import {
  announceListening,
  type CommandContext,
  concatBytes,
  hintFor,
  prepareServer,
  type RunningServer,
  runningServer,
  serveUntilStopped,
} from "./_common.ts";

/** Until the first datagram. */
const noBytes = new Uint8Array(0);
const noPeer: Endpoint = { address: "", port: 0, family: "IPv4" };

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
  const { address, prefix, tally, done, finished } = await prepareServer(options, ctx, report);
  const replyFailed = (error: SocketError) => report.error(error, hintFor(error, "udp"), false);
  // One event of each kind, refilled for every datagram (emit() is done with it when it returns).
  const received: DataEvent = {
    event: "data",
    proto: "udp",
    peer: noPeer,
    bytes: noBytes,
    truncated: false,
  };
  const replied: ReplyEvent = { event: "reply", proto: "udp", peer: noPeer, bytes: noBytes };
  const socket = await ctx.runtime.bindUdp({
    host: address,
    port: options.port,
    message(udp, { bytes, from, truncated }) {
      if (options.count && tally.datagrams >= options.count) return;
      tally.datagrams++;
      tally.bytesIn += bytes.byteLength;
      if (report.showsTraffic) {
        received.peer = from;
        received.bytes = bytes;
        received.truncated = truncated;
        report.emit(received);
      }
      if (report.explaining)
        report.explain({ step: "recv", proto: "udp", bytes: bytes.byteLength, peer: from });
      if (options.echo) {
        const answer = concatBytes(prefix, bytes);
        tally.bytesOut += answer.byteLength;
        if (report.showsTraffic) {
          replied.peer = from;
          replied.bytes = answer;
          report.emit(replied);
        }
        if (report.explaining)
          report.explain({
            step: "send",
            proto: "udp",
            bytes: answer.byteLength,
            peer: from,
            queued: 0,
          });
        udp.reply(answer, from, replyFailed);
      }
      if (options.count && tally.datagrams >= options.count) finished();
    },
    // An earlier reply hit a closed port (ICMP port unreachable): report it and keep serving.
    error(_udp, error) {
      const message = `${error.message}: an earlier reply could not be delivered; still serving`;
      report.error({ code: error.code, message }, undefined, false);
    },
  });
  announceListening(report, "udp", socket.local);
  // The adapter's close() lets replies already handed to send() leave first (--count 1 --echo).
  return runningServer(socket.local, done, () => socket.close(), report, tally);
}

export async function udpServer(options: UdpServerOptions, ctx: CommandContext): Promise<number> {
  return serveUntilStopped(
    await startUdpServer(options, ctx, ctx.output.reporter("udp-server")),
    ctx.signal,
  );
}
