/**
 * The one place that knows which JavaScript runtime is running.
 * Adapters are loaded on demand with literal import() paths: `bun build
 * --compile` still bundles both (it only drops non-literal dynamic imports),
 * and the Bun binary never pays for loading node:net when it does not use it.
 */
import { env } from "./env.ts";
import type { SocketRuntime } from "./types.ts";

function bunAvailable(): boolean {
  return typeof globalThis.Bun !== "undefined";
}

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
export async function selectRuntime(requested = env.SOCKDEMO_RUNTIME): Promise<SocketRuntime> {
  const wanted = requested?.trim().toLowerCase() || (bunAvailable() ? "bun" : "node");
  if (wanted === "node") return (await import("./node.ts")).nodeRuntime;
  if (wanted === "bun") {
    if (!bunAvailable())
      throw new Error("sockdemo: the bun adapter needs Bun (unset SOCKDEMO_RUNTIME)");
    return (await import("./bun.ts")).bunRuntime;
  }
  throw new Error(`sockdemo: SOCKDEMO_RUNTIME must be "bun" or "node", not "${requested}"`);
}

export { type Resolved, resolveHost, wildcardFor } from "./resolve.ts";
export * from "./types.ts";
