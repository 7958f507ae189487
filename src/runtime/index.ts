/**
 * The one place that knows which JavaScript runtime is running.
 * Both adapters are imported statically so `bun build --compile` bundles
 * both (it drops non-literal dynamic imports).
 */
import { bunAvailable, bunRuntime } from "./bun.ts";
import { env } from "./env.ts";
import { nodeRuntime } from "./node.ts";
import type { SocketRuntime } from "./types.ts";

export type HostRuntime = "bun" | "deno" | "node";

/** Deno and Bun are checked before Node because both also set process.versions.node. */
export function hostRuntime(): HostRuntime {
  if ("Deno" in globalThis) return "deno";
  if (bunAvailable()) return "bun";
  return "node";
}

/** Versions worth printing in --version and bug reports. */
export function hostVersion(): string {
  const versions = (globalThis as { process?: { versions?: Record<string, string | undefined> } })
    .process?.versions;
  const host = hostRuntime();
  return `${host} ${versions?.[host] ?? "unknown"}`;
}

/**
 * Bun → its native adapter unless SOCKDEMO_RUNTIME=node; Node and Deno → node.
 * Asking for the bun adapter elsewhere is an error, not a silent fallback.
 */
export function selectRuntime(requested = env.SOCKDEMO_RUNTIME): SocketRuntime {
  const wanted = requested?.trim().toLowerCase() || (bunAvailable() ? "bun" : "node");
  if (wanted === "node") return nodeRuntime;
  if (wanted === "bun") {
    if (!bunAvailable())
      throw new Error("sockdemo: the bun adapter needs Bun (unset SOCKDEMO_RUNTIME)");
    return bunRuntime;
  }
  throw new Error(`sockdemo: SOCKDEMO_RUNTIME must be "bun" or "node", not "${requested}"`);
}

export { type Resolved, resolveHost, wildcardFor } from "./resolve.ts";
export * from "./types.ts";
export { bunRuntime, nodeRuntime };
