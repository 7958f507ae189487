#!/usr/bin/env -S deno run --allow-net
/**
 * Entry point for every runtime: `bun src/cli.ts`, `deno run --allow-net
 * src/cli.ts`, the compiled binary and the Node bundle.
 */
import { stderr, stdout } from "./runtime/stdio.ts";
import { isVersionRequest, versionLine } from "./version.ts";

const stop = new AbortController();
let signals = 0;
/** 128 + the signal's number, as a shell reports a process that a signal ended. */
const SIGNAL_EXIT: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };
function onSignal(name: "SIGINT" | "SIGTERM"): void {
  signals++;
  // First Ctrl+C: stop cleanly and print what there is; the reason says which signal it was.
  // Second: leave now.
  if (signals === 1) stop.abort(name);
  else process.exit(SIGNAL_EXIT[name]);
}
// A socket error no handler caught must still end in one line, not a stack trace.
function onUncaught(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  stderr.write(`sockdemo: unexpected error: ${message}\n`);
  process.exit(1);
}
process.on("uncaughtException", onUncaught);
process.on("unhandledRejection", onUncaught);
process.on("SIGINT", () => onSignal("SIGINT"));
process.on("SIGTERM", () => onSignal("SIGTERM"));

const argv = process.argv.slice(2);
if (isVersionRequest(argv)) {
  stdout.write(versionLine());
  process.exit(0);
}
// Loaded only now, so `--version` never evaluates the CLI. No top-level await: it keeps the
// entry loadable as CommonJS, which `bun build --bytecode` needs.
import("./main.ts")
  .then(({ main }) => main(argv, { signal: stop.signal }))
  .then((code) => process.exit(code), onUncaught);
