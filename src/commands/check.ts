/**
 * check: is anything reachable at host:port? Resolves the name (timed), then
 * tries every address it resolved to — a TCP connect, or a UDP probe that
 * listens for a reply or an ICMP "port unreachable" — and names the outcome.
 */
import { hostPort } from "../display/bytes.ts";
import type { ProbeOutcome } from "../display/events.ts";
import {
  type Resolved,
  resolveHost,
  SocketError,
  type SocketRuntime,
  wildcardFor,
} from "../runtime/index.ts";
import { type CommandContext, parsePort, UsageError, utf8 } from "./_common.ts";

export interface CheckOptions {
  target: string;
  udp: boolean;
  timeoutMs: number;
}

/** `host:port`, `[v6]:port`; a bare IPv6 address is ambiguous without brackets. */
export function parseTarget(target: string): { host: string; port: number } {
  const bracketed = /^\[([^\]]+)\]:(.+)$/.exec(target);
  if (bracketed) return { host: bracketed[1] as string, port: parsePort(bracketed[2], "the port") };
  const colon = target.lastIndexOf(":");
  if (colon <= 0 || target.indexOf(":") !== colon) {
    throw new UsageError(`expected host:port (IPv6 as [::1]:port), not "${target}"`);
  }
  return { host: target.slice(0, colon), port: parsePort(target.slice(colon + 1), "the port") };
}

const OUTCOME_OF: Partial<Record<SocketError["code"], ProbeOutcome>> = {
  ECONNREFUSED: "refused",
  ETIMEDOUT: "timeout",
  EHOSTUNREACH: "unreachable",
  ENETUNREACH: "unreachable",
  EADDRNOTAVAIL: "unreachable",
  EACCES: "permission",
  EPERM: "permission",
};

function outcomeOf(error: unknown): { outcome: ProbeOutcome; code: string } {
  const code = error instanceof SocketError ? error.code : "EUNKNOWN";
  return { outcome: OUTCOME_OF[code as SocketError["code"]] ?? "error", code };
}

interface ProbeResult {
  outcome: ProbeOutcome;
  code?: string;
  ms: number;
}

async function probeTcp(
  runtime: SocketRuntime,
  address: string,
  port: number,
  timeoutMs: number,
): Promise<ProbeResult> {
  const started = performance.now();
  try {
    const conn = await runtime.connectTcp({
      host: address,
      port,
      timeoutMs,
      events: { data() {} },
    });
    const ms = performance.now() - started;
    conn.destroy();
    return { outcome: "open", ms };
  } catch (error) {
    return { ...outcomeOf(error), ms: performance.now() - started };
  }
}

/**
 * UDP has no handshake: send one datagram on a connected socket and wait.
 * A reply means open; ICMP port-unreachable (ECONNREFUSED) means closed;
 * silence means open-and-quiet or filtered, and nothing can tell which.
 */
async function probeUdp(
  runtime: SocketRuntime,
  resolved: Resolved,
  address: string,
  port: number,
  timeoutMs: number,
): Promise<ProbeResult> {
  const started = performance.now();
  let settle: (result: { outcome: ProbeOutcome; code?: string }) => void = () => {};
  const result = new Promise<{ outcome: ProbeOutcome; code?: string }>((resolve) => {
    settle = resolve;
  });
  const family = address.includes(":") ? "IPv6" : resolved.family === "IPv6" ? "IPv6" : "IPv4";
  let socket: Awaited<ReturnType<SocketRuntime["bindUdp"]>> | undefined;
  const timer = setTimeout(() => settle({ outcome: "silent" }), timeoutMs);
  try {
    socket = await runtime.bindUdp({
      host: wildcardFor(family),
      port: 0,
      connect: { host: address, port },
      message: () => settle({ outcome: "open" }),
      error: (_udp, error) => settle(outcomeOf(error)),
    });
    await socket.send(utf8("sockdemo check\n"));
  } catch (error) {
    settle(outcomeOf(error));
  }
  const settled = await result;
  clearTimeout(timer);
  await socket?.close();
  return { ...settled, ms: performance.now() - started };
}

const VERDICT_HINT: Record<ProbeOutcome, (where: string, proto: string) => string> = {
  open: (where, proto) =>
    proto === "udp" ? `${where} answered: something is listening` : `${where} accepts connections`,
  refused: (where, proto) =>
    proto === "udp"
      ? `nothing is listening on udp ${where} (ICMP port unreachable)`
      : `nothing is listening on ${where}: the host answered with a reset`,
  timeout: (where) => `no answer from ${where}: a firewall drops the packets, or the host is down`,
  silent: (where) =>
    `no answer from ${where}: either a server received it and stays quiet (normal for UDP), or a firewall dropped it`,
  unreachable: (where) => `no route to ${where} from this machine`,
  permission: () => "not permitted here (a firewall rule, or Deno without --allow-net)",
  "dns-failure": () => "the name does not resolve: check its spelling, or use a numeric address",
  error: (where) => `an unexpected error while reaching ${where}`,
};

/** Which result to report when addresses disagree: the most informative one first. */
const PRECEDENCE: ProbeOutcome[] = [
  "open",
  "silent",
  "refused",
  "timeout",
  "unreachable",
  "permission",
  "error",
];

export async function check(options: CheckOptions, ctx: CommandContext): Promise<number> {
  const report = ctx.output.reporter("check");
  const { host, port } = parseTarget(options.target);
  const proto = options.udp ? "udp" : "tcp";
  const resolveStarted = performance.now();
  let resolved: Resolved;
  try {
    resolved = await resolveHost(host);
  } catch (error) {
    const code = error instanceof SocketError ? error.code : "EUNKNOWN";
    const hint = VERDICT_HINT["dns-failure"](host, proto);
    report.emit({ event: "verdict", proto, host, port, outcome: "dns-failure", code, hint });
    return 1;
  }
  report.emit({
    event: "resolved",
    host,
    address: resolved.address,
    all: resolved.all,
    ms: performance.now() - resolveStarted,
  });
  const outcomes: ProbeOutcome[] = [];
  for (const address of resolved.all) {
    const probe = options.udp
      ? await probeUdp(ctx.runtime, resolved, address, port, options.timeoutMs)
      : await probeTcp(ctx.runtime, address, port, options.timeoutMs);
    outcomes.push(probe.outcome);
    report.emit({
      event: "probe",
      proto,
      address,
      port,
      outcome: probe.outcome,
      code: probe.code,
      ms: probe.ms,
    });
  }
  const outcome = PRECEDENCE.find((o) => outcomes.includes(o)) ?? "error";
  const winner = resolved.all[outcomes.indexOf(outcome)] ?? resolved.address;
  let hint = VERDICT_HINT[outcome](hostPort(winner, port), proto);
  const other = resolved.all.find((_, i) => outcomes[i] !== outcome);
  if (outcome === "open" && other) {
    hint += `; ${hostPort(other, port)} does not — clients that try only that address will fail`;
  }
  report.emit({ event: "verdict", proto, host, port, outcome, hint });
  return outcome === "open" ? 0 : 1;
}
