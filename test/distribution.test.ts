/**
 * The downloadable artifacts: every platform's binary, the Node bundle, the
 * checksums, the npm package and install.sh. Needs `bun scripts/build.ts --all`
 * first (npm test does it).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const dist = join(root, "dist");
const version = (
  JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }
).version;
const deno = join(root, "node_modules", ".bin", "deno");
const QEMU = "/usr/bin/qemu-aarch64-static";
const ARM64_SYSROOT = "/usr/aarch64-linux-gnu";
/** No node, bun or deno reachable: what a fresh download sees. */
const BARE_ENV = { PATH: "/usr/bin:/bin" };

const ARTIFACTS = [
  "sockdemo",
  "sockdemo.mjs",
  "sockdemo-linux-x64",
  "sockdemo-linux-arm64",
  "sockdemo-darwin-x64",
  "sockdemo-darwin-arm64",
  "sockdemo-windows-x64.exe",
  "SHA256SUMS",
];

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(
  cmd: string[],
  options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<Ran> {
  const proc = Bun.spawn(cmd, {
    cwd: options.cwd ?? root,
    env: options.env ?? { ...process.env },
    stdout: "pipe",
    stderr: "pipe",
    stdin: "ignore",
  });
  const timer = setTimeout(() => proc.kill("SIGKILL"), options.timeoutMs ?? 20_000);
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Start a long-running process and wait until its stdout matches `pattern`. */
async function startUntil(
  cmd: string[],
  pattern: RegExp,
  env: Record<string, string>,
  timeoutMs = 20_000,
) {
  const proc = Bun.spawn(cmd, { cwd: root, env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(seen)) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    const next = await Promise.race([
      reader.read(),
      new Promise<{ done: true; value: undefined }>((resolve) =>
        setTimeout(() => resolve({ done: true, value: undefined }), remaining),
      ),
    ]);
    if (next.done) break;
    seen += decoder.decode(next.value, { stream: true });
  }
  reader.releaseLock();
  const match = pattern.exec(seen);
  if (!match) {
    proc.kill("SIGKILL");
    throw new Error(`${cmd.join(" ")} never printed ${pattern}; got:\n${seen}`);
  }
  return { proc, match, output: () => seen };
}

describe("artifacts", () => {
  test("npm run build produced every artifact and SHA256SUMS verifies them", async () => {
    for (const name of ARTIFACTS) expect(existsSync(join(dist, name))).toBe(true);
    const check = await run(["sha256sum", "-c", "SHA256SUMS"], { cwd: dist });
    expect(check.code).toBe(0);
    const listed = readFileSync(join(dist, "SHA256SUMS"), "utf8").trim().split("\n");
    expect(listed).toHaveLength(6);
    for (const line of listed) expect(line).toMatch(/^[0-9a-f]{64} {2}sockdemo[-.a-z0-9]+$/);
  });

  test.each([
    ["host binary, bare environment", ["./dist/sockdemo"], BARE_ENV],
    ["linux-x64 binary, bare environment", ["./dist/sockdemo-linux-x64"], BARE_ENV],
    ["node bundle", ["node", "dist/sockdemo.mjs"], undefined],
    ["node bundle run directly (shebang)", ["./dist/sockdemo.mjs"], undefined],
  ])("%s prints the package.json version", async (_name, cmd, env) => {
    const ran = await run([...cmd, "--version"], { env });
    expect(ran.stderr).toBe("");
    expect(ran.code).toBe(0);
    expect(ran.stdout).toStartWith(`sockdemo ${version} (`);
  });

  test("the binary talks TCP with no node, bun or deno on PATH", async () => {
    const server = await startUntil(
      ["./dist/sockdemo", "tcp-server", "--port", "0", "--count", "1"],
      /listening on tcp 127\.0\.0\.1:(\d+)/,
      BARE_ENV,
    );
    const port = server.match[1] as string;
    const client = await run(["./dist/sockdemo", "tcp-client", "--port", port], { env: BARE_ENV });
    expect(client.code).toBe(0);
    expect(client.stdout.split("\n")).toContain("b'Receive: Hello TCP'");
    expect(await server.proc.exited).toBe(0);
  });

  test("a .env file beside the binary is not loaded", async () => {
    const dir = mkdtempSync(join(tmpdir(), "sockdemo-dotenv-"));
    try {
      writeFileSync(join(dir, ".env"), "SOCKDEMO_RUNTIME=bogus\n");
      const ran = await run([join(dist, "sockdemo"), "--version"], { env: BARE_ENV, cwd: dir });
      expect(ran.code).toBe(0);
      // With .env loaded, SOCKDEMO_RUNTIME=bogus would make every command fail.
      const demo = await run([join(dist, "sockdemo"), "demo", "--quiet"], {
        env: BARE_ENV,
        cwd: dir,
      });
      expect(demo.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("headers of the binaries that cannot run here", () => {
  const readHead = (name: string) => readFileSync(join(dist, name));

  test.each([
    ["sockdemo-darwin-x64", 0x01000007],
    ["sockdemo-darwin-arm64", 0x0100000c],
  ])("%s is a 64-bit Mach-O for the right CPU", (name, cpuType) => {
    const bytes = readHead(name);
    expect(bytes.readUInt32LE(0)).toBe(0xfeedfacf); // MH_MAGIC_64
    expect(bytes.readUInt32LE(4)).toBe(cpuType); // CPU_TYPE_X86_64 / CPU_TYPE_ARM64
    expect(bytes.readUInt32LE(12)).toBe(2); // MH_EXECUTE
  });

  test("sockdemo-windows-x64.exe is a PE32+ for AMD64", () => {
    const bytes = readHead("sockdemo-windows-x64.exe");
    expect(bytes.toString("latin1", 0, 2)).toBe("MZ");
    const pe = bytes.readUInt32LE(0x3c);
    expect(bytes.toString("latin1", pe, pe + 4)).toBe("PE\0\0");
    expect(bytes.readUInt16LE(pe + 4)).toBe(0x8664); // IMAGE_FILE_MACHINE_AMD64
    expect(bytes.readUInt16LE(pe + 24)).toBe(0x20b); // PE32+ optional header
  });

  test.each([
    "sockdemo-darwin-x64",
    "sockdemo-darwin-arm64",
    "sockdemo-windows-x64.exe",
    "sockdemo-linux-arm64",
  ])("%s embeds sockdemo's code and version", (name) => {
    const bytes = readHead(name);
    expect(bytes.includes("nothing is listening on udp")).toBe(true);
    expect(bytes.includes(`"${version}"`)).toBe(true);
  });
});

const canEmulateArm64 = existsSync(QEMU) && existsSync(ARM64_SYSROOT);
if (!canEmulateArm64) {
  console.log(
    `skipping arm64 tests: ${QEMU} or ${ARM64_SYSROOT} missing (apt-get install qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross)`,
  );
}

describe.skipIf(!canEmulateArm64)("linux-arm64 binary under qemu", () => {
  const arm64 = [QEMU, "-L", ARM64_SYSROOT, join(dist, "sockdemo-linux-arm64")];

  test("prints its version", async () => {
    const ran = await run([...arm64, "--version"], { env: BARE_ENV, timeoutMs: 30_000 });
    expect(ran.code).toBe(0);
    expect(ran.stdout).toStartWith(`sockdemo ${version} (`);
  }, 40_000);

  test("arm64 server and x64 client complete a TCP exchange, and the other way round", async () => {
    const armServer = await startUntil(
      [...arm64, "tcp-server", "--port", "0", "--count", "1"],
      /listening on tcp 127\.0\.0\.1:(\d+)/,
      BARE_ENV,
      30_000,
    );
    const x64Client = await run(
      ["./dist/sockdemo", "tcp-client", "arm says hi", "--port", armServer.match[1] as string],
      {
        env: BARE_ENV,
      },
    );
    expect(x64Client.stdout.split("\n")).toContain("b'Receive: arm says hi'");
    expect(await armServer.proc.exited).toBe(0);

    const x64Server = await startUntil(
      ["./dist/sockdemo", "tcp-server", "--port", "0", "--count", "1"],
      /listening on tcp 127\.0\.0\.1:(\d+)/,
      BARE_ENV,
    );
    const armClient = await run([...arm64, "tcp-client", "--port", x64Server.match[1] as string], {
      env: BARE_ENV,
      timeoutMs: 30_000,
    });
    expect(armClient.code).toBe(0);
    expect(armClient.stdout.split("\n")).toContain("b'Receive: Hello TCP'");
    expect(await x64Server.proc.exited).toBe(0);
  }, 60_000);
});

describe("deno", () => {
  test("deno check src/cli.ts is clean", async () => {
    const ran = await run([deno, "check", "src/cli.ts"], { timeoutMs: 60_000 });
    expect(ran.stderr).not.toContain("ERROR");
    expect(ran.code).toBe(0);
  }, 70_000);

  test("without --allow-net: one line, exit 1, no uncaught NotCapable", async () => {
    const ran = await run([deno, "run", "src/cli.ts", "tcp-server", "--port", "0"], {
      env: { ...process.env, NO_COLOR: "1" },
    });
    expect(ran.code).toBe(1);
    const lines = ran.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toStartWith("sockdemo: listen 127.0.0.1:0:");
    expect(lines[0]).toContain("EPERM");
    expect(lines[0]).toContain("--allow-net");
    expect(ran.stderr).not.toContain("Uncaught");
  });
});

describe("npm package", () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "sockdemo-npm-"));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  test("npm pack installs into a fresh prefix and `sockdemo --version` runs", async () => {
    const pack = await run(["npm", "pack", "--silent", "--pack-destination", work], {
      timeoutMs: 60_000,
    });
    expect(pack.code).toBe(0);
    const tarball = join(work, pack.stdout.trim().split("\n").pop() as string);
    const prefix = join(work, "prefix");
    const install = await run(
      [
        "npm",
        "install",
        "--global",
        "--prefix",
        prefix,
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        tarball,
      ],
      { timeoutMs: 120_000 },
    );
    expect(install.code).toBe(0);
    const ran = await run([join(prefix, "bin", "sockdemo"), "--version"]);
    expect(ran.code).toBe(0);
    expect(ran.stdout).toStartWith(`sockdemo ${version} (node `);
  }, 150_000);
});

describe("install.sh against a local HTTP server", () => {
  let work: string;
  let server: ReturnType<typeof Bun.spawn> | undefined;

  /** Serve `dir` on 127.0.0.1 with Python's http.server on a free port. */
  async function serve(dir: string): Promise<string> {
    const started = await startUntil(
      ["python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", dir],
      /port (\d+)/,
      { ...process.env } as Record<string, string>,
    );
    server = started.proc;
    return `http://127.0.0.1:${started.match[1]}`;
  }

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), "sockdemo-install-"));
  });
  afterAll(async () => {
    server?.kill("SIGKILL");
    await server?.exited;
    rmSync(work, { recursive: true, force: true });
  });

  test("installs the binary for this machine, verified, and it runs", async () => {
    const base = await serve(dist);
    const prefix = join(work, "ok");
    const ran = await run(["sh", "install.sh", "--prefix", prefix], {
      env: { PATH: "/usr/bin:/bin", SOCKDEMO_BASE_URL: base, HOME: work },
    });
    expect(ran.stderr).toBe("");
    expect(ran.code).toBe(0);
    const installed = await run([join(prefix, "bin", "sockdemo"), "--version"], { env: BARE_ENV });
    expect(installed.stdout).toStartWith(`sockdemo ${version} (`);

    const armPrefix = join(work, "arm");
    const arm = await run(["sh", "install.sh", "--prefix", armPrefix], {
      env: { PATH: "/usr/bin:/bin", SOCKDEMO_BASE_URL: base, SOCKDEMO_ARCH: "aarch64", HOME: work },
    });
    expect(arm.code).toBe(0);
    const head = readFileSync(join(armPrefix, "bin", "sockdemo")).subarray(0, 20);
    expect(head.readUInt16LE(18)).toBe(183); // e_machine EM_AARCH64
    server?.kill("SIGKILL");
    await server?.exited;
  }, 60_000);

  test("a checksum mismatch aborts and installs nothing", async () => {
    const tampered = join(work, "tampered");
    mkdirSync(tampered);
    symlinkSync(join(dist, "sockdemo-linux-x64"), join(tampered, "sockdemo-linux-x64"));
    copyFileSync(join(dist, "SHA256SUMS"), join(tampered, "SHA256SUMS"));
    const sums = readFileSync(join(tampered, "SHA256SUMS"), "utf8").replace(
      /^[0-9a-f]{64}(?= {2}sockdemo-linux-x64$)/m,
      "0".repeat(64),
    );
    writeFileSync(join(tampered, "SHA256SUMS"), sums);
    const base = await serve(tampered);
    const prefix = join(work, "bad");
    const ran = await run(["sh", "install.sh", "--prefix", prefix], {
      env: {
        PATH: "/usr/bin:/bin",
        SOCKDEMO_BASE_URL: base,
        SOCKDEMO_ARCH: "x86_64",
        SOCKDEMO_OS: "Linux",
        HOME: work,
      },
    });
    expect(ran.code).toBe(1);
    expect(ran.stderr).toContain("checksum mismatch");
    expect(existsSync(join(prefix, "bin", "sockdemo"))).toBe(false);
    server?.kill("SIGKILL");
    await server?.exited;
  }, 60_000);
});
