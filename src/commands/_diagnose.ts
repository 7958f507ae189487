/**
 * A closer look after a failure, to say what is actually going on:
 * - connection refused: does something listen on the target's other
 *   addresses (the other loopback family, the other addresses of a name)?
 * - address in use: which process holds the port (Linux /proc, when readable)?
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { hostPort } from "../display/bytes.ts";
import type { SocketError, SocketRuntime } from "../runtime/index.ts";
import { resolveHost } from "../runtime/index.ts";

/** Quick enough not to delay an error message noticeably on loopback. */
const PROBE_TIMEOUT_MS = 300;

const OTHER_LOOPBACK: Record<string, string> = { "127.0.0.1": "::1", "::1": "127.0.0.1" };

async function listensOn(runtime: SocketRuntime, host: string, port: number): Promise<boolean> {
  try {
    const conn = await runtime.connectTcp({
      host,
      port,
      timeoutMs: PROBE_TIMEOUT_MS,
      events: { data() {} },
    });
    conn.destroy();
    return true;
  } catch {
    return false;
  }
}

/** Where else `name` could have been reached: its other addresses, or the other loopback. */
async function alternatives(name: string, tried: string): Promise<string[]> {
  const found = new Set<string>();
  try {
    for (const address of (await resolveHost(name)).all) found.add(address);
  } catch {
    // The name resolved a moment ago; if it no longer does, there is nothing to compare.
  }
  const loopback = OTHER_LOOPBACK[tried];
  if (loopback) found.add(loopback);
  found.delete(tried);
  return [...found];
}

/** Linux: the process listening on a TCP port, from /proc/net/tcp* and /proc/<pid>/fd. */
export function listenerOf(port: number): string | undefined {
  try {
    const inodes = new Set<string>();
    const portHex = port.toString(16).toUpperCase().padStart(4, "0");
    for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
      for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
        const fields = line.trim().split(/\s+/);
        // local_address is ADDR:PORT in hex; state 0A is LISTEN; field 9 is the inode.
        if (fields[1]?.endsWith(`:${portHex}`) && fields[3] === "0A" && fields[9])
          inodes.add(fields[9]);
      }
    }
    if (inodes.size === 0) return undefined;
    for (const pid of readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))) {
      let fds: string[];
      try {
        fds = readdirSync(`/proc/${pid}/fd`);
      } catch {
        continue; // another user's process: not ours to look into
      }
      for (const fd of fds) {
        let link: string;
        try {
          link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          continue;
        }
        const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
        if (inode && inodes.has(inode)) {
          const command = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
          return `pid ${pid} (${command})`;
        }
      }
    }
  } catch {
    // Not Linux, or /proc not readable (Deno without --allow-read): say nothing.
  }
  return undefined;
}

/** An extra sentence for the error message, or undefined when there is nothing more to tell. */
export async function diagnose(
  error: SocketError,
  runtime: SocketRuntime,
  requestedHost: string | undefined,
): Promise<string | undefined> {
  const target = error.target;
  if (!target) return undefined;
  if (error.code === "ECONNREFUSED" && error.operation === "connect") {
    for (const other of await alternatives(requestedHost ?? target.host, target.host)) {
      if (await listensOn(runtime, other, target.port)) {
        const flag = other.includes(":") ? `--host ${other}` : `--host ${other}`;
        return `nothing listens on ${hostPort(target.host, target.port)}, but something does on ${hostPort(other, target.port)}: try ${flag}`;
      }
    }
  }
  if (error.code === "EADDRINUSE") {
    const owner = listenerOf(target.port);
    if (owner)
      return `port ${target.port} is held by ${owner} — stop it, pick another port, or --port 0 for any free port`;
  }
  return undefined;
}
