/**
 * The version, and the `--version` line. Kept apart from main.ts so the entry
 * can answer `sockdemo --version` without evaluating the CLI and its
 * commands (medians of interleaved runs on the bench machine: 11.9 → 9.4 ms;
 * a compiled Bun binary that only prints: 8.0).
 */
import pkg from "../package.json" with { type: "json" };
import { hostVersion } from "./runtime/index.ts";

declare const SOCKDEMO_VERSION: string | undefined;
/** Injected by `bun build --define`; running from source falls back to package.json. */
export const VERSION: string =
  typeof SOCKDEMO_VERSION === "string" ? SOCKDEMO_VERSION : `${pkg.version}-dev`;

/** `sockdemo --version` or `-v` alone; with anything else the CLI parses the flags. */
export function isVersionRequest(argv: readonly string[]): boolean {
  return argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v");
}

export function versionLine(): string {
  return `sockdemo ${VERSION} (${hostVersion()})\n`;
}
