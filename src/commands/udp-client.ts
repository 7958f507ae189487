/**
 * udp-client: the tutorial's udp_client.py. Sends one datagram, then listens
 * briefly for either a reply or the ICMP "port unreachable" that tells us
 * nobody is listening — the only delivery feedback UDP ever gives.
 */
import type { Reporter } from "../display/output.ts";
import { type SocketError, type UdpMessage, wildcardFor } from "../runtime/index.ts";
import { type CommandContext, resolveAndReport, utf8 } from "./_common.ts";

export interface UdpClientOptions {
  host: string;
  port: number;
  message: string;
  /** How long to wait for a reply or an ICMP error; 0 sends and exits like the tutorial. */
  waitMs: number;
}

type Outcome = { reply: UdpMessage } | { error: SocketError } | { silence: true };

export async function runUdpClient(
  options: UdpClientOptions,
  ctx: CommandContext,
  report: Reporter,
): Promise<number> {
  report.emit({ event: "start", runtime: ctx.runtimeLabel, version: ctx.version });
  const target = await resolveAndReport(options.host, report);
  let settle: (outcome: Outcome) => void = () => {};
  const outcome = new Promise<Outcome>((resolve) => {
    settle = resolve;
  });
  // Connected, so the kernel filters replies to this peer and reports ICMP errors to us.
  const socket = await ctx.runtime.bindUdp({
    host: wildcardFor(target.family),
    port: 0,
    connect: { host: target.address, port: options.port },
    message: (_udp, reply) => settle({ reply }),
    error: (_udp, error) => settle({ error }),
  });
  try {
    const message = utf8(options.message);
    const peer = { address: target.address, port: options.port, family: target.family };
    await socket.send(message);
    report.emit({ event: "sent", proto: "udp", peer, bytes: message });
    if (options.waitMs === 0) return 0;
    const timer = setTimeout(() => settle({ silence: true }), options.waitMs);
    const result = await outcome;
    clearTimeout(timer);
    if ("error" in result) throw result.error;
    if ("reply" in result) {
      const { bytes, from, truncated } = result.reply;
      report.emit({ event: "reply", proto: "udp", peer: from, bytes });
      if (truncated) report.emit({ event: "notice", message: "the reply was truncated" });
      return 0;
    }
    report.emit({
      event: "notice",
      message: `no reply within ${options.waitMs} ms (normal for a server that only receives; UDP never confirms delivery)`,
    });
    return 0;
  } finally {
    socket.close();
  }
}

export function udpClient(options: UdpClientOptions, ctx: CommandContext): Promise<number> {
  return runUdpClient(options, ctx, ctx.output.reporter("udp-client"));
}
