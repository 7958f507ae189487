/**
 * udp-client: the tutorial's udp_client.py. Sends one datagram, then listens
 * briefly for either a reply or the ICMP "port unreachable" that tells us
 * nobody is listening — the only delivery feedback UDP ever gives.
 *
 * With `-` (or --stdin) every line of standard input is one datagram, and
 * replies are printed as they arrive.
 */
import type { Reporter } from "../display/output.ts";
import { type Endpoint, type SocketError, wildcardFor } from "../runtime/index.ts";
import { type CommandContext, resolveAndReport, stdinLines } from "./_common.ts";

export interface UdpClientOptions {
  host: string;
  port: number;
  /** The message, or undefined to send one datagram per line of standard input. */
  message: Uint8Array | undefined;
  /** How long to wait for a reply or an ICMP error; 0 sends and exits like the tutorial. */
  waitMs: number;
}

export async function runUdpClient(
  options: UdpClientOptions,
  ctx: CommandContext,
  report: Reporter,
): Promise<number> {
  report.emit({ event: "start", runtime: ctx.runtimeLabel, version: ctx.version });
  const target = await resolveAndReport(options.host, report);
  const peer: Endpoint = { address: target.address, port: options.port, family: target.family };
  let replies = 0;
  let refused: SocketError | undefined;
  let wake: () => void = () => {};
  const settled = () =>
    new Promise<void>((resolve) => {
      wake = resolve;
    });

  report.explain({ step: "socket", proto: "udp", family: target.family });
  // Connected, so the kernel filters replies to this peer and reports ICMP errors to us.
  const socket = await ctx.runtime.bindUdp({
    host: wildcardFor(target.family),
    port: 0,
    connect: { host: target.address, port: options.port },
    message(_udp, { bytes, from, truncated }) {
      replies++;
      report.emit({ event: "reply", proto: "udp", peer: from, bytes });
      report.explain({ step: "recv", proto: "udp", bytes: bytes.byteLength, peer: from });
      if (truncated) report.emit({ event: "notice", message: "the reply was truncated" });
      wake();
    },
    error(_udp, error) {
      refused = error;
      if (error.code === "ECONNREFUSED") report.explain({ step: "icmp-unreachable", peer });
      wake();
    },
  });

  const send = async (message: Uint8Array) => {
    await socket.send(message);
    report.emit({ event: "sent", proto: "udp", peer, bytes: message });
    report.explain({ step: "send", proto: "udp", bytes: message.byteLength, peer, queued: 0 });
  };
  /** Wait up to --wait for a reply or an error; true if one came. */
  const waitForAnswer = async () => {
    if (options.waitMs === 0) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const before = replies;
    await Promise.race([
      settled(),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, options.waitMs))),
    ]);
    clearTimeout(timer);
    return replies > before || refused !== undefined;
  };

  try {
    if (options.message !== undefined) {
      await send(options.message);
      if (!(await waitForAnswer())) {
        report.explain({ step: "no-reply", waitMs: options.waitMs });
        report.emit({
          event: "notice",
          message: `no reply within ${options.waitMs} ms (normal for a server that only receives; UDP never confirms delivery)`,
        });
      }
    } else {
      for await (const line of stdinLines()) {
        await send(line);
        if (refused) break;
      }
      // Replies still on their way: keep listening until --wait passes in silence.
      while (!refused && options.waitMs > 0 && (await waitForAnswer())) {}
    }
    if (refused) throw refused;
    return 0;
  } finally {
    await socket.close();
  }
}

export function udpClient(options: UdpClientOptions, ctx: CommandContext): Promise<number> {
  return runUdpClient(options, ctx, ctx.output.reporter("udp-client"));
}
