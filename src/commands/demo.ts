/**
 * demo: the whole tutorial in one process — the UDP pair, then the TCP pair —
 * on ephemeral ports, each side's lines labelled.
 */
import { SocketError } from "../runtime/index.ts";
import { type CommandContext, utf8 } from "./_common.ts";
import { runTcpClient } from "./tcp-client.ts";
import { startTcpServer } from "./tcp-server.ts";
import { runUdpClient } from "./udp-client.ts";
import { startUdpServer } from "./udp-server.ts";

export interface DemoOptions {
  host: string;
}

/** A datagram on loopback arrives within microseconds; this only bounds a broken setup. */
const UDP_ARRIVAL_LIMIT_MS = 5000;

export async function demo(options: DemoOptions, ctx: CommandContext): Promise<number> {
  const narrator = ctx.output.reporter("demo");
  const label = (role: "udp-server" | "udp-client" | "tcp-server" | "tcp-client") =>
    ctx.output.reporter(role, role);

  narrator.emit({
    event: "section",
    title: "UDP: one datagram, no connection (udp_server.py + udp_client.py)",
  });
  const udpServer = await startUdpServer(
    { host: options.host, port: 0, count: 1, echo: false, prefix: "" },
    ctx,
    label("udp-server"),
  );
  await runUdpClient(
    { host: options.host, port: udpServer.local.port, message: utf8("Hello UDP"), waitMs: 0 },
    ctx,
    label("udp-client"),
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arrived = await Promise.race([
    udpServer.done.then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), UDP_ARRIVAL_LIMIT_MS);
    }),
  ]);
  clearTimeout(timer);
  await udpServer.stop();
  if (!arrived) {
    const limit = UDP_ARRIVAL_LIMIT_MS / 1000;
    throw new SocketError(
      "ETIMEDOUT",
      "read",
      `demo: the UDP datagram did not arrive within ${limit} s`,
    );
  }

  narrator.emit({
    event: "section",
    title: "TCP: a connection, a message and its reply (tcp_server.py + tcp_client.py)",
  });
  const tcpServer = await startTcpServer(
    { host: options.host, port: 0, prefix: "Receive: ", reply: true, count: 1 },
    ctx,
    label("tcp-server"),
  );
  await runTcpClient(
    { host: options.host, port: tcpServer.local.port, message: utf8("Hello TCP"), timeoutMs: 5000 },
    ctx,
    label("tcp-client"),
  );
  await tcpServer.done;
  await tcpServer.stop();
  return 0;
}
