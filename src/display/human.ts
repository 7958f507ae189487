/**
 * The human form of each event: the tutorial's own lines where it has one
 * (`The server started at …`, `data:  b'…' addr:  ('127.0.0.1', 54321)`),
 * plain sentences for what the tutorial left unsaid.
 */
import type { CloseReason } from "../runtime/types.ts";
import { addressTuple, bytesLiteral, hostPort, pythonNow } from "./bytes.ts";
import type { Stamped } from "./events.ts";
import type { Colors } from "./output.ts";

const CLOSE_WORDS: Record<CloseReason, string> = {
  eof: "closed normally (FIN both ways)",
  reset: "reset by peer",
  timeout: "closed after idle timeout",
  local: "closed by us",
  error: "closed by an error",
};

function duration(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** Render one event as zero or more lines (without trailing newline), or undefined to print nothing. */
export function humanLine(e: Stamped, c: Colors, quiet: boolean): string | undefined {
  const isServer = e.role.endsWith("server") || e.role === "demo";
  switch (e.event) {
    case "start":
      if (quiet) return undefined;
      return `The ${isServer ? "server" : "client"} started at ${pythonNow(e.time)}`;
    case "resolved":
      if (quiet) return undefined;
      return c.dim(`${e.host} resolved to ${e.all.join(", ")}; using ${e.address}`);
    case "listening": {
      if (quiet) return undefined;
      const lines = [c.dim(`listening on ${e.proto} ${hostPort(e.local.address, e.local.port)}`)];
      if (e.warning) lines.push(c.yellow(`warning: ${e.warning}`));
      lines.push("Waiting...");
      return lines.join("\n");
    }
    case "connection":
      if (quiet) return undefined;
      return c.dim(
        isServer
          ? `connection from ${addressTuple(e.peer)}`
          : `connected to ${addressTuple(e.peer)} from ${addressTuple(e.local)}`,
      );
    case "sent":
      if (quiet) return undefined;
      return `${c.dim("sent:  ")}${c.cyan(bytesLiteral(e.bytes))}`;
    case "data": {
      if (quiet || !isServer) return undefined;
      const literal = `data:  ${c.green(bytesLiteral(e.bytes))} addr:  ${addressTuple(e.peer)}`;
      const cut = e.truncated ? c.yellow(" (truncated: the datagram was larger)") : "";
      // The tutorial's UDP server prefixes each datagram with its arrival time.
      return e.proto === "udp" ? `at ${pythonNow(e.time)} ${literal}${cut}` : literal;
    }
    case "reply":
      if (isServer) {
        if (quiet) return undefined;
        return c.dim(`reply: ${bytesLiteral(e.bytes)} addr:  ${addressTuple(e.peer)}`);
      }
      return c.green(bytesLiteral(e.bytes));
    case "section":
      return quiet ? undefined : c.bold(`\n== ${e.title}`);
    case "notice":
      return quiet ? undefined : c.yellow(e.message);
    case "close": {
      if (quiet) return undefined;
      const why =
        e.error && e.reason === "error"
          ? `${CLOSE_WORDS.error}: ${e.error.message}`
          : CLOSE_WORDS[e.reason];
      const totals = `${count(e.bytesIn, "byte")} in, ${count(e.bytesOut, "byte")} out, ${duration(e.durationMs)}`;
      return c.dim(`${addressTuple(e.peer)} ${why}; ${totals}`);
    }
    case "error":
      // Errors go to stderr separately (see Output); nothing on stdout.
      return undefined;
    case "summary": {
      if (!isServer) return undefined;
      const what =
        e.role === "udp-server"
          ? count(e.datagrams, "datagram")
          : count(e.connections, "connection");
      return c.dim(
        `summary: ${what}, ${count(e.bytesIn, "byte")} in, ${count(e.bytesOut, "byte")} out, ${duration(e.durationMs)}`,
      );
    }
  }
}
