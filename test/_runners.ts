/**
 * The ways sockdemo runs, for suites that spawn the real CLI: from source on
 * Bun (both socket adapters) and on Deno, the compiled binary, the Node bundle.
 *
 * The built runners (`binary`, `node-bundle`) need `bun scripts/build.ts` first.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const ROOT = join(import.meta.dir, "..");
export const VERSION = (
  JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }
).version;
export const BINARY = join(ROOT, "dist", "sockdemo");
export const NODE_BUNDLE = join(ROOT, "dist", "sockdemo.mjs");
export const DENO = join(ROOT, "node_modules", ".bin", "deno");

/**
 * Known, named differences of a runtime. A suite that meets one asserts what
 * that runtime really does instead, so a fix upstream shows up as a failure.
 */
export type Gap =
  /** Deno's node:dgram never reports ICMP port unreachable: udp-client waits and says "no reply". */
  | "deno-udp-no-icmp"
  /** `deno run --allow-net` has no env permission: sockdemo sees an empty environment (no FORCE_COLOR). */
  | "deno-no-env";

export interface Runner {
  name: "bun-native" | "bun-node-adapter" | "binary" | "node-bundle" | "deno";
  /** argv before sockdemo's own arguments. */
  argv: string[];
  /** The complete environment the CLI runs with (not merged with the test's). */
  env: Record<string, string>;
  /** What --version and the `start` event name as the host runtime. */
  host: "bun" | "node" | "deno";
  /** The socket adapter it should pick. */
  adapter: "bun" | "node";
  /** Built artifacts print the release version; runs from source print `<version>-dev`. */
  fromSource: boolean;
  gaps: ReadonlySet<Gap>;
}

const RUNTIME_NAMES = new Set(["node", "nodejs", "bun", "bunx", "deno", "npm", "npx"]);

/**
 * /usr/bin:/bin without any JavaScript runtime: on this kind of machine
 * /usr/bin/node exists, so `PATH=/usr/bin:/bin` alone would not prove the
 * binary is self-contained. A directory of symlinks to everything else there.
 */
function barePath(): string {
  const dir = join(tmpdir(), `sockdemo-test-bare-path-${process.getuid?.() ?? 0}`);
  const marker = join(dir, ".complete");
  if (existsSync(marker)) return dir;
  mkdirSync(dir, { recursive: true });
  for (const from of ["/usr/bin", "/bin"]) {
    let names: string[];
    try {
      names = readdirSync(from);
    } catch {
      continue;
    }
    for (const name of names) {
      if (RUNTIME_NAMES.has(name) || existsSync(join(dir, name))) continue;
      try {
        symlinkSync(join(from, name), join(dir, name));
      } catch {
        // Raced with another test process making the same link: it is there either way.
      }
    }
  }
  try {
    symlinkSync("/dev/null", marker);
  } catch {
    // Another test process finished first.
  }
  return dir;
}

/** What every runner inherits: enough to find node, python3 and Deno's cache; nothing that colors. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    LANG: "C.UTF-8",
  };
  for (const key of ["HOME", "DENO_DIR", "TMPDIR"]) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

export const BARE_PATH = barePath();

export const RUNNERS: readonly Runner[] = [
  {
    name: "bun-native",
    argv: [process.execPath, join(ROOT, "src", "cli.ts")],
    env: baseEnv(),
    host: "bun",
    adapter: "bun",
    fromSource: true,
    gaps: new Set(),
  },
  {
    name: "bun-node-adapter",
    argv: [process.execPath, join(ROOT, "src", "cli.ts")],
    env: { ...baseEnv(), SOCKDEMO_RUNTIME: "node" },
    host: "bun",
    adapter: "node",
    fromSource: true,
    gaps: new Set(),
  },
  {
    name: "binary",
    argv: [BINARY],
    // env -i PATH=…: no HOME, no LANG, and no runtime to fall back on.
    env: { PATH: BARE_PATH },
    host: "bun",
    adapter: "bun",
    fromSource: false,
    gaps: new Set(),
  },
  {
    name: "node-bundle",
    argv: ["node", NODE_BUNDLE],
    env: baseEnv(),
    host: "node",
    adapter: "node",
    fromSource: false,
    gaps: new Set(),
  },
  {
    name: "deno",
    argv: [DENO, "run", "--allow-net", join(ROOT, "src", "cli.ts")],
    env: baseEnv(),
    host: "deno",
    adapter: "node",
    fromSource: true,
    gaps: new Set<Gap>(["deno-udp-no-icmp", "deno-no-env"]),
  },
];

export function runnersNamed(...names: Runner["name"][]): Runner[] {
  return RUNNERS.filter((r) => names.includes(r.name));
}

/** Fail early and clearly when the built artifacts are missing; warn when older than src/. */
export function checkBuilt(): void {
  const missing = [BINARY, NODE_BUNDLE].filter((file) => !existsSync(file));
  if (missing.length > 0) {
    throw new Error(`missing ${missing.join(", ")}: run ./node_modules/.bin/bun scripts/build.ts`);
  }
  const built = Math.min(statSync(BINARY).mtimeMs, statSync(NODE_BUNDLE).mtimeMs);
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((entry) => {
        const path = join(dir, entry.name);
        return entry.isDirectory() ? newest(path) : statSync(path).mtimeMs;
      }),
    );
  if (newest(join(ROOT, "src")) > built) {
    console.warn("warning: dist/ is older than src/: the binary and bundle tests run stale code");
  }
}
