/**
 * ports: the three IANA port ranges (RFC 6335), and where a given port falls.
 */
import type { PortRange } from "../display/events.ts";
import { type CommandContext, parsePort } from "./_common.ts";

export const PORT_RANGES: PortRange[] = [
  {
    name: "well-known",
    first: 0,
    last: 1023,
    note: "assigned by IANA to standard services; binding one needs administrator rights on most systems",
  },
  {
    name: "registered",
    first: 1024,
    last: 49151,
    note: "registered with IANA by applications; anyone may bind them, but installed software may already use one",
  },
  {
    name: "dynamic/private",
    first: 49152,
    last: 65535,
    note: "never assigned: free for private use (the tutorial's 50000 is here); operating systems also pick clients' ephemeral ports from high ranges like this",
  },
];

/** A few services people meet first, so the numbers mean something. */
export const KNOWN_SERVICES: Record<number, string> = {
  20: "FTP data",
  21: "FTP control",
  22: "SSH",
  23: "Telnet",
  25: "SMTP (mail between servers)",
  53: "DNS",
  67: "DHCP server",
  68: "DHCP client",
  80: "HTTP",
  110: "POP3",
  123: "NTP (time)",
  143: "IMAP",
  443: "HTTPS",
  465: "SMTP over TLS",
  587: "mail submission",
  993: "IMAP over TLS",
  995: "POP3 over TLS",
  1433: "Microsoft SQL Server",
  1883: "MQTT",
  3306: "MySQL",
  3389: "Remote Desktop",
  5432: "PostgreSQL",
  6379: "Redis",
  8080: "HTTP (alternative)",
  27017: "MongoDB",
};

export function rangeOf(port: number): PortRange {
  return PORT_RANGES.find((r) => port >= r.first && port <= r.last) as PortRange;
}

export async function ports(options: { port?: string }, ctx: CommandContext): Promise<number> {
  const report = ctx.output.reporter("ports");
  if (options.port === undefined) {
    const examples = Object.entries(KNOWN_SERVICES).map(([port, service]) => ({
      port: Number(port),
      service,
    }));
    report.emit({ event: "port-ranges", ranges: PORT_RANGES, examples });
    return 0;
  }
  const port = parsePort(options.port, "the port");
  const range = rangeOf(port);
  report.emit({
    event: "port",
    port,
    range: range.name,
    first: range.first,
    last: range.last,
    note: range.note,
    service: KNOWN_SERVICES[port],
  });
  return 0;
}
