/**
 * Build sockdemo's artifacts into dist/.
 *
 *   bun scripts/build.ts          host binary dist/sockdemo + Node bundle dist/sockdemo.mjs
 *   bun scripts/build.ts --all    also every release target and dist/SHA256SUMS
 *
 * The version comes from package.json and is injected with --define, so every
 * artifact prints the same `sockdemo --version`.
 */
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";

const root = join(import.meta.dir, "..");
const dist = join(root, "dist");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
const define = `SOCKDEMO_VERSION=${JSON.stringify(pkg.version)}`;

/** Release targets: bun's cross-compile name → our asset name. */
export const TARGETS: Record<string, string> = {
  "bun-linux-x64": "sockdemo-linux-x64",
  "bun-linux-arm64": "sockdemo-linux-arm64",
  "bun-darwin-x64": "sockdemo-darwin-x64",
  "bun-darwin-arm64": "sockdemo-darwin-arm64",
  "bun-windows-x64": "sockdemo-windows-x64.exe",
};

// --bytecode: JavaScriptCore bytecode compiled at build time halves startup
// (`--version` 17 → 9 ms on the reference machine, see bench/RESULTS.md) for
// ~2 MB more binary; --minify shrinks the embedded source.
const COMPILE_FLAGS = [
  "--compile",
  "--minify",
  "--bytecode",
  // JavaScriptCore's small-heap mode: garbage is collected sooner. 64-connection
  // ping-pong peak RSS 57-58 -> 54-55 MB, CPU per request unchanged. Under an
  // echo stream it no longer matters (48-51 MB either way): the servers free
  // each read chunk once echoed (release() in src/runtime/bun.ts).
  "--compile-exec-argv=--smol",
  // A downloaded binary must not pick up .env or bunfig.toml from whatever folder it runs in.
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
  `--define=${define}`,
];

function run(args: string[]): void {
  const result = Bun.spawnSync([process.execPath, ...args], {
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  });
  if (result.exitCode !== 0)
    throw new Error(`bun ${args.join(" ")} failed (exit ${result.exitCode})`);
}

function compile(outfile: string, target?: string): string {
  const path = join(dist, outfile);
  run([
    "build",
    "src/cli.ts",
    ...COMPILE_FLAGS,
    ...(target ? [`--target=${target}`] : []),
    `--outfile=${path}`,
  ]);
  return path;
}

function nodeBundle(): string {
  const path = join(dist, "sockdemo.mjs");
  run([
    "build",
    "src/cli.ts",
    "--target=node",
    "--format=esm",
    "--minify",
    `--define=${define}`,
    `--outfile=${path}`,
  ]);
  // The entry file's own shebang names deno; the npm `bin` runs on Node.
  const code = readFileSync(path, "utf8").replace(/^#!.*\n/, "");
  writeFileSync(path, `#!/usr/bin/env node\n${code}`);
  chmodSync(path, 0o755);
  return path;
}

function writeChecksums(files: string[]): void {
  const lines = files.map((file) => {
    const digest = createHash("sha256").update(readFileSync(file)).digest("hex");
    return `${digest}  ${basename(file)}\n`;
  });
  writeFileSync(join(dist, "SHA256SUMS"), lines.join(""));
}

mkdirSync(dist, { recursive: true });
const built = [compile("sockdemo"), nodeBundle()];
if (process.argv.includes("--all")) {
  const released = Object.entries(TARGETS).map(([target, name]) => compile(name, target));
  writeChecksums([...released, built[1] as string]);
}
console.log(`built sockdemo ${pkg.version} into ${dist}`);
