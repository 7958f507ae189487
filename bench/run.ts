/**
 * The benchmark harness: sockdemo's servers next to a C reference server and
 * the usual peers, driven by one C load generator, on this machine.
 *
 *   bun bench/run.ts            full run (< 10 min): writes bench/RESULTS.md and bench/out/results.json
 *   bun bench/run.ts --quick    smoke run of the harness (< 60 s): bench/out/results-quick.{md,json}
 *
 * Options: --duration <s> (measured seconds per row), --rounds <n>, --only <scenario,...>,
 * --servers <id,...>, --no-build (use dist/ as it is), --no-install (no apt-get for missing
 * peers), --skip-startup, --skip-idle.
 *
 * Every row starts its server on 127.0.0.1 port 0 (the port is read from the
 * kernel's socket table for that process), runs bench/out/loadgen against it
 * `rounds` times (the median round is reported), samples the server's CPU time
 * (/proc/<pid>/stat utime+stime, children included) and peak RSS
 * (/proc/<pid>/status VmHWM; summed over the process tree for servers that
 * fork), then stops it. Exit status 1 if the harness broke: C build failure, a
 * reference or sockdemo row that failed, or any byte that came back wrong.
 */
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { cpus, totalmem } from "node:os";
import { join, relative } from "node:path";

const ROOT = join(import.meta.dir, "..");

/** Every release artifact `npm run build` left in dist/, with its size (built with --minify --bytecode). */
function artifactSizes(): string[] {
  const names = [
    "sockdemo-linux-x64",
    "sockdemo-linux-arm64",
    "sockdemo-darwin-x64",
    "sockdemo-darwin-arm64",
    "sockdemo-windows-x64.exe",
    "sockdemo.mjs",
  ].filter((name) => existsSync(join(ROOT, "dist", name)));
  if (names.length === 0) return [];
  return [
    "| release artifact (`npm run build`) | bytes | MB |",
    "|---|--:|--:|",
    ...names.map((name) => {
      const bytes = statSync(join(ROOT, "dist", name)).size;
      return `| \`${name}\` | ${bytes.toLocaleString("en-US")} | ${(bytes / 1e6).toFixed(1)} |`;
    }),
    "",
  ];
}
const BENCH = join(ROOT, "bench");
const OUT = join(BENCH, "out");
const LOGS = join(OUT, "logs");
const LOADGEN = join(OUT, "loadgen");
const REFSERVER = join(OUT, "refserver");
const DIST_BIN = join(ROOT, "dist", "sockdemo");
const DIST_MJS = join(ROOT, "dist", "sockdemo.mjs");
/**
 * What is measured: copies of dist/ taken when the run starts, so that a
 * rebuild of dist/ during the run (tests build it too) cannot swap the binary
 * between rows.
 */
const BIN = join(OUT, "sockdemo");
const MJS = join(OUT, "sockdemo.mjs");
const CLI_TS = join(ROOT, "src", "cli.ts");
const DENO = join(ROOT, "node_modules", "deno", "deno");
const CLK_TCK = 100;
/** Servers run in their own session and process group, so stopping one stops all it forked. */
const SETSID = Bun.which("setsid") ?? undefined;

// ---------------------------------------------------------------- options

const argv = process.argv.slice(2);
function flag(name: string): boolean {
  return argv.includes(`--${name}`);
}
function value(name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}
const QUICK = flag("quick");
/** Only a full run with default settings writes bench/RESULTS.md. */
const CUSTOM =
  ["duration", "rounds", "only", "servers"].some((name) => value(name) !== undefined) ||
  flag("skip-startup") ||
  flag("skip-idle");
const RUN_NAME = QUICK ? "results-quick" : CUSTOM ? "results-custom" : "results";
const CFG = {
  /** Measured seconds per row, split over `rounds` loadgen runs. */
  duration: Number(value("duration") ?? (QUICK ? 1 : 5)),
  rounds: Number(value("rounds") ?? (QUICK ? 1 : 5)),
  warmup: QUICK ? 0.2 : 0.4,
  idleConns: QUICK ? 1000 : 10000,
  startupRuns: QUICK ? 5 : 30,
  startupWarmup: QUICK ? 1 : 3,
};

// ---------------------------------------------------------------- small helpers

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function sh(cmd: string[], opts: { cwd?: string } = {}): { code: number; out: string } {
  try {
    const r = Bun.spawnSync(cmd, { cwd: opts.cwd ?? ROOT, stdout: "pipe", stderr: "pipe" });
    return {
      code: r.exitCode ?? 1,
      out: `${r.stdout.toString()}${r.stderr.toString()}`.trim(),
    };
  } catch (error) {
    return { code: 127, out: String(error) };
  }
}

function which(cmd: string): string | undefined {
  const r = sh(["sh", "-c", `command -v ${cmd}`]);
  return r.code === 0 && r.out ? r.out.split("\n")[0] : undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let pythonCache: string | null | undefined;
/**
 * The Python interpreter itself, never a wrapper: a pyenv shim is a bash
 * script that adds tens of milliseconds to every start and hides the real pid.
 * The distribution's /usr/bin/python3 is preferred when there is one.
 */
function python(): string | undefined {
  if (pythonCache === undefined) {
    if (existsSync("/usr/bin/python3")) pythonCache = "/usr/bin/python3";
    else {
      const r = sh(["python3", "-c", "import sys; print(sys.executable)"]);
      pythonCache = r.code === 0 && r.out ? r.out : null;
    }
  }
  return pythonCache ?? undefined;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor((s.length - 1) / 2)] as number) : Number.NaN;
}

function fmt(n: number | undefined, digits = 0): string {
  if (n === undefined || !Number.isFinite(n)) return "–";
  return n.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

// ---------------------------------------------------------------- /proc

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** The machine's CPU ticks so far, all and stolen: the `cpu` line of /proc/stat. */
function cpuTicks(): { total: number; steal: number } | undefined {
  const fields = /^cpu\s+(.*)$/m
    .exec(readProc("/proc/stat") ?? "")?.[1]
    ?.split(/\s+/)
    .map(Number);
  if (!fields || fields.length < 8) return undefined;
  // user nice system idle iowait irq softirq steal (guest time is already counted in user)
  const counted = fields.slice(0, 8);
  return { total: counted.reduce((a, b) => a + b, 0), steal: counted[7] ?? 0 };
}

/**
 * Per scenario, the share of this machine's CPU time that went to the host
 * and other guests while a vCPU wanted to run (steal). It is highest where
 * every request wakes a sleeping vCPU (one connection or flow), and it slows
 * every server of the scenario alike.
 */
const STEAL_SHARE = new Map<string, number>();

/** CPU seconds: all of it, and the kernel's part (system calls). */
interface CpuTime {
  total: number;
  system: number;
}

/** CPU time of a process and the children it waited for (utime+stime+cutime+cstime). */
function cpuTime(pid: number): CpuTime {
  const stat = readProc(`/proc/${pid}/stat`);
  if (!stat) return { total: 0, system: 0 };
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): utime, stime, cutime, cstime are fields 14-17 → index 11-14
  const [utime = 0, stime = 0, cutime = 0, cstime = 0] = fields.slice(11, 15).map(Number);
  return {
    total: (utime + stime + cutime + cstime) / CLK_TCK,
    system: (stime + cstime) / CLK_TCK,
  };
}

function statusKb(pid: number, key: "VmHWM" | "VmRSS" | "RssAnon"): number {
  const status = readProc(`/proc/${pid}/status`) ?? "";
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status);
  return m ? Number(m[1]) : 0;
}

/**
 * The server and every process it started: its process group (servers run
 * under setsid, so the group is theirs alone and keeps orphaned children),
 * plus descendants by parent pid. Scans /proc: no children files on this kernel.
 */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  const group: number[] = [];
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const stat = readProc(`/proc/${pid}/stat`);
    if (!stat) continue;
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ppid = Number(fields[1]);
    if (SETSID && Number(fields[2]) === root && pid !== root) group.push(pid);
    if (ppid > 0) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  const tree = new Set<number>([root, ...group]);
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop() as number;
    for (const child of children.get(pid) ?? []) {
      if (!tree.has(child)) stack.push(child);
      tree.add(child);
    }
  }
  return [...tree];
}

function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
}

/** The port of a bound socket the process holds (TCP: listening; UDP: bound), via its fd inodes. */
function boundPort(pid: number, proto: "tcp" | "udp"): number | undefined {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1] as string);
      } catch {
        // fd closed meanwhile
      }
    }
  } catch {
    return undefined;
  }
  const table = readProc(`/proc/net/${proto}`) ?? "";
  for (const line of table.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const state = f[3];
    if (proto === "tcp" && state !== "0A") continue;
    if (!inodes.has(f[9] as string)) continue;
    const local = f[1] as string;
    if (!local.startsWith("0100007F:")) continue;
    return Number.parseInt(local.split(":")[1] as string, 16);
  }
  return undefined;
}

// ---------------------------------------------------------------- build

interface BuildInfo {
  sockdemo: string;
  commit: string;
  srcDirty: boolean;
}

function buildC(): void {
  mkdirSync(OUT, { recursive: true });
  for (const name of ["loadgen", "refserver"]) {
    const r = sh(["cc", "-O2", "-Wall", "-o", join(OUT, name), join(BENCH, `${name}.c`)]);
    if (r.code !== 0) throw new Error(`cc ${name}.c failed:\n${r.out}`);
  }
}

/** The peers and tools a full run compares against; each Debian package is named as its command. */
const APT_PEERS = ["socat", "ncat", "hyperfine"];

/**
 * A full run installs missing peers with apt-get, as root or through
 * password-less sudo; otherwise (or with --no-install) their rows say skipped
 * and why. Quick runs never install: they only exercise the harness.
 */
function installPeers(): void {
  const packages = APT_PEERS.filter((cmd) => !which(cmd));
  if (packages.length === 0 || QUICK || flag("no-install")) return;
  const root = process.getuid?.() === 0;
  const sudo = !root && sh(["sudo", "-n", "true"]).code === 0;
  if (!which("apt-get") || (!root && !sudo)) {
    log(
      `== not installing ${packages.join(" ")}: needs apt-get and root (their rows will say skipped)`,
    );
    return;
  }
  const prefix = root ? [] : ["sudo", "-n"];
  const install = [
    ...prefix,
    "env",
    "DEBIAN_FRONTEND=noninteractive",
    "apt-get",
    "install",
    "-y",
    "-qq",
    "--no-install-recommends",
    ...packages,
  ];
  log(`== apt-get install ${packages.join(" ")}`);
  // A fresh machine's package lists may be missing or stale: update once and retry.
  if (sh(install).code !== 0) {
    sh([...prefix, "apt-get", "update", "-qq"]);
    const retry = sh(install);
    if (retry.code !== 0) log(`!! apt-get install failed: ${retry.out.slice(-300)}`);
  }
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function buildSockdemo(): BuildInfo {
  const commit = sh(["git", "rev-parse", "--short", "HEAD"]).out || "unknown";
  const srcDirty = sh(["git", "status", "--porcelain", "src"]).out.length > 0;
  const missing = !existsSync(DIST_BIN) || !existsSync(DIST_MJS);
  const stale =
    !missing &&
    newestMtime(join(ROOT, "src")) >
      Math.min(statSync(DIST_BIN).mtimeMs, statSync(DIST_MJS).mtimeMs);
  let sockdemo = "dist/ as found";
  if (flag("no-build")) {
    if (missing) throw new Error("dist/sockdemo or dist/sockdemo.mjs is missing (and --no-build)");
    sockdemo = "dist/ as found (--no-build)";
  } else if (missing || stale) {
    log(`== building sockdemo (${missing ? "dist/ missing" : "src/ newer than dist/"})`);
    const r = sh([process.execPath, "scripts/build.ts"]);
    if (r.code !== 0) {
      if (missing) throw new Error(`sockdemo build failed:\n${r.out}`);
      log(`!! sockdemo build failed, measuring the existing dist/:\n${r.out}`);
      sockdemo = "existing dist/ (rebuild from current src/ FAILED)";
    } else sockdemo = "built from the working tree by the bench";
  }
  copyFileSync(DIST_BIN, BIN);
  copyFileSync(DIST_MJS, MJS);
  chmodSync(BIN, 0o755);
  return { sockdemo, commit, srcDirty };
}

// ---------------------------------------------------------------- servers

type Proto = "tcp" | "udp";

interface Launch {
  argv: string[];
  env?: Record<string, string>;
  /** The prefix this server actually puts before each echo. */
  prefix: string;
  note?: string;
  /** Forks a process per connection/datagram: measure the whole tree. */
  tree?: boolean;
  /**
   * The server needs a fixed port: "%PORT%" in argv is replaced by a free one.
   * (ncat --udp --keep-open re-listens on the port it was given after each new
   * peer; given 0, that is a new random port, and the second peer goes unheard.)
   */
  fixedPort?: boolean;
}

interface ServerDef {
  id: string;
  label: string;
  /**
   * ref: the C reference; sockdemo: what is measured; peer: tools sockdemo
   * must beat; ceiling: the bare runtime, the best any program on it can do.
   */
  kind: "ref" | "sockdemo" | "peer" | "ceiling";
  /** undefined when available, else why not. */
  missing(): string | undefined;
  /** The scenario modes it runs in; all when unset. */
  modes?: Scenario["mode"][];
  /** What is known to go wrong for this server in a scenario, added to a failure. */
  knownIssue?(scenario: string): string | undefined;
  launch(proto: Proto, prefix: string): Launch | { skip: string };
}

/** A launcher for one of bench/peers/'s echo scripts: `<runtime> <script> tcp|udp --prefix P ...options`. */
function echoScript(
  runtime: () => string,
  script: string,
  note: string,
  options: string[] = [],
): ServerDef["launch"] {
  return (proto, prefix) => ({
    argv: [runtime(), join(BENCH, "peers", script), proto, "--prefix", prefix, ...options],
    prefix,
    note,
  });
}

/** socat's SYSTEM: command that adds the prefix (in hex: socat splits its address at commas and colons). */
const PERL_PREFIX = (prefix: string) =>
  `exec perl ${join(BENCH, "peers", "prefix.pl")} ${Buffer.from(prefix).toString("hex")}`;

function sockdemoArgs(proto: Proto, prefix: string): string[] {
  return proto === "tcp"
    ? ["tcp-server", "--host", "127.0.0.1", "--port", "0", "--prefix", prefix]
    : ["udp-server", "--host", "127.0.0.1", "--port", "0", "--echo", "--prefix", prefix];
}

const SERVERS: ServerDef[] = [
  {
    id: "ref",
    label: "C reference (epoll)",
    kind: "ref",
    missing: () => (existsSync(REFSERVER) ? undefined : "bench/out/refserver not built"),
    launch: (proto, prefix) => ({ argv: [REFSERVER, proto, "--prefix", prefix], prefix }),
  },
  {
    id: "bin",
    label: "sockdemo binary (bun adapter)",
    kind: "sockdemo",
    missing: () => (existsSync(BIN) ? undefined : "dist/sockdemo missing"),
    launch: (proto, prefix) => ({ argv: [BIN, ...sockdemoArgs(proto, prefix)], prefix }),
  },
  {
    id: "bin-quiet",
    label: "sockdemo binary --quiet",
    kind: "sockdemo",
    missing: () => (existsSync(BIN) ? undefined : "dist/sockdemo missing"),
    launch: (proto, prefix) => ({
      argv: [BIN, ...sockdemoArgs(proto, prefix), "--quiet"],
      prefix,
    }),
  },
  {
    id: "bin-node",
    label: "sockdemo binary, SOCKDEMO_RUNTIME=node",
    kind: "sockdemo",
    missing: () => (existsSync(BIN) ? undefined : "dist/sockdemo missing"),
    launch: (proto, prefix) => ({
      argv: [BIN, ...sockdemoArgs(proto, prefix)],
      env: { SOCKDEMO_RUNTIME: "node" },
      prefix,
    }),
  },
  {
    id: "node",
    label: "node dist/sockdemo.mjs",
    kind: "sockdemo",
    missing: () =>
      !existsSync(MJS) ? "dist/sockdemo.mjs missing" : which("node") ? undefined : "no node",
    launch: (proto, prefix) => ({
      argv: [which("node") as string, MJS, ...sockdemoArgs(proto, prefix)],
      prefix,
    }),
  },
  {
    id: "deno",
    label: "deno run src/cli.ts",
    kind: "sockdemo",
    missing: () => (existsSync(DENO) ? undefined : "node_modules/deno/deno missing (npm install)"),
    launch: (proto, prefix) => ({
      argv: [DENO, "run", "--allow-net", CLI_TS, ...sockdemoArgs(proto, prefix)],
      prefix,
    }),
  },
  {
    id: "socat",
    label: "socat",
    kind: "peer",
    missing: () => (which("socat") ? undefined : "socat not installed (apt-get install socat)"),
    launch: (proto, prefix) => {
      if (proto === "udp")
        return {
          argv: ["socat", "UDP4-RECVFROM:0,bind=127.0.0.1,fork", "EXEC:cat"],
          prefix: "",
          note: "UDP4-RECVFROM,fork EXEC:cat (a process per datagram); prefix ''",
          tree: true,
        };
      const listen = "TCP4-LISTEN:0,bind=127.0.0.1,fork,reuseaddr,backlog=511";
      if (prefix === "")
        return { argv: ["socat", listen, "EXEC:cat"], prefix, note: "fork + EXEC:cat", tree: true };
      if (!which("perl")) return { skip: "perl not installed (needed for socat SYSTEM: prefix)" };
      return {
        argv: ["socat", listen, `SYSTEM:${PERL_PREFIX(prefix)}`],
        prefix,
        note: "fork + SYSTEM: perl (bench/peers/prefix.pl) adds the prefix per chunk",
        tree: true,
      };
    },
  },
  {
    id: "ncat",
    label: "ncat --keep-open --exec cat",
    kind: "peer",
    knownIssue: (scenario) =>
      scenario === "tcp-stream"
        ? "ncat relays to cat with blocking pipe writes: with more than a pipe's worth in flight both block writing to each other (seen in /proc/<pid>/wchan: anon_pipe_write)"
        : scenario === "udp-pp-32"
          ? "ncat --udp --keep-open hands its socket to a forked cat for each new peer, then listens again: datagrams from other flows that arrive in between are refused (ICMP port unreachable) or reach the wrong cat"
          : undefined,
    missing: () => (which("ncat") ? undefined : "ncat not installed (apt-get install ncat)"),
    launch: (proto) => ({
      argv: [
        "ncat",
        ...(proto === "udp" ? ["--udp"] : []),
        "--keep-open",
        "--listen",
        "127.0.0.1",
        proto === "udp" ? "%PORT%" : "0",
        "--exec",
        which("cat") ?? "/bin/cat",
      ],
      prefix: "",
      note:
        proto === "udp"
          ? "no prefix option: pure echo, prefix ''; a fork + cat per peer"
          : "no prefix option: pure echo, prefix ''",
      tree: true,
      fixedPort: proto === "udp",
    }),
  },
  {
    id: "node-echo",
    label: "node:net / node:dgram echo",
    kind: "peer",
    missing: () => (which("node") ? undefined : "node not installed"),
    launch: echoScript(() => which("node") as string, "node-echo.mjs", "bench/peers/node-echo.mjs"),
  },
  {
    id: "bun-echo",
    label: "bare Bun echo (ceiling for Bun)",
    kind: "ceiling",
    missing: () => undefined,
    launch: echoScript(
      () => process.execPath,
      "bun-echo.ts",
      "bench/peers/bun-echo.ts: Bun.listen / Bun.udpSocket echo and nothing else; not a target, the most a Bun program can do",
    ),
  },
  {
    id: "bun-echo-print",
    label: "bare Bun echo printing the lines (ceiling for Bun with output)",
    kind: "ceiling",
    // The stream's bytes would need rendering to be the same lines: its bound is the kernel time.
    modes: ["tcp-pingpong", "udp-pingpong"],
    missing: () => undefined,
    launch: echoScript(
      () => process.execPath,
      "bun-echo.ts",
      "bench/peers/bun-echo.ts --print: the bare Bun echo writing sockdemo's two lines per request to a file, one write per event-loop turn, with each payload copied raw instead of rendered; the most human output can reach on Bun",
      ["--print"],
    ),
  },
  {
    id: "node-echo-bun",
    label: "node:net / node:dgram echo on Bun (ceiling for the node adapter)",
    kind: "ceiling",
    missing: () => undefined,
    launch: echoScript(
      () => process.execPath,
      "node-echo.mjs",
      "bench/peers/node-echo.mjs run by Bun: the most any program on Bun's node:net / node:dgram can do, as the bare Bun echo is for Bun.listen",
    ),
  },
  {
    id: "python",
    label: "Python (tutorial's server)",
    kind: "peer",
    missing: () => (python() ? undefined : "python3 not installed"),
    launch: (proto, prefix) => ({
      argv: [
        python() as string,
        join(BENCH, "peers", proto === "tcp" ? "tcp_server.py" : "udp_server.py"),
        "--prefix",
        prefix,
      ],
      prefix,
      note:
        proto === "tcp"
          ? "tcp_server.py loop, a thread per connection, recv(1024)"
          : "udp_server.py loop + sendto",
    }),
  },
];

interface Running {
  pid: number;
  port: number;
  startMs: number;
  proc: ReturnType<typeof Bun.spawn>;
  logFile: string;
  errFile: string;
  tree: boolean;
  peakTreeRssKb: number;
  /** Largest anonymous memory seen (heap, buffers): RSS without the mapped executable and libraries. */
  peakAnonKb: number;
  sampler: ReturnType<typeof setInterval> | undefined;
}

/** A port that is free right now (bound to 0 and released). */
async function freePort(proto: Proto): Promise<number> {
  if (proto === "tcp") {
    const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = listener.port;
    listener.stop(true);
    return port;
  }
  const socket = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
  const port = socket.port;
  socket.close();
  return port;
}

/** Servers started and not yet stopped: an interrupted run must not leave them listening. */
const LIVE = new Set<Running>();

function stopAllAndExit(signal: NodeJS.Signals): void {
  for (const s of LIVE) signalAll(s, "SIGKILL");
  log(`== interrupted (${signal}): stopped ${LIVE.size} server(s)`);
  process.exit(130);
}
process.on("SIGINT", () => stopAllAndExit("SIGINT"));
process.on("SIGTERM", () => stopAllAndExit("SIGTERM"));
process.on("SIGHUP", () => stopAllAndExit("SIGHUP"));

async function startServer(
  def: ServerDef,
  launch: Launch,
  proto: Proto,
  tag: string,
  opts: { nofile?: number } = {},
): Promise<Running> {
  mkdirSync(LOGS, { recursive: true });
  const logFile = join(LOGS, `${tag}.${def.id}.out`);
  const errFile = join(LOGS, `${tag}.${def.id}.err`);
  const env: Record<string, string | undefined> = { ...process.env, ...launch.env };
  delete env.FORCE_COLOR;
  let cmd = launch.argv;
  if (launch.fixedPort) {
    const port = String(await freePort(proto));
    cmd = cmd.map((a) => (a === "%PORT%" ? port : a));
  }
  if (opts.nofile) {
    // Raise the soft fd limit for this server only; `exec` keeps the pid the server's.
    cmd = [
      "sh",
      "-c",
      `ulimit -n ${opts.nofile} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`,
      "sh",
      ...cmd,
    ];
  }
  // setsid execs in place (a spawned child is no group leader): the pid stays the server's.
  if (SETSID) cmd = [SETSID, ...cmd];
  const t0 = performance.now();
  const proc = Bun.spawn(cmd, {
    cwd: ROOT,
    env,
    stdin: "ignore",
    stdout: Bun.file(logFile),
    stderr: Bun.file(errFile),
  });
  const deadline = t0 + 15000;
  let port: number | undefined;
  while (performance.now() < deadline) {
    if (proc.exitCode !== null) break;
    port = boundPort(proc.pid, proto);
    if (port) break;
    await sleep(10);
  }
  if (!port) {
    proc.kill("SIGKILL");
    await proc.exited;
    const err = (readProc(errFile) ?? "").trim().split("\n").slice(-3).join(" / ");
    throw new Error(`did not start (exit ${proc.exitCode ?? "?"}): ${err || "no bound port"}`);
  }
  const running: Running = {
    pid: proc.pid,
    port,
    startMs: performance.now() - t0,
    proc,
    logFile,
    errFile,
    tree: launch.tree ?? false,
    peakTreeRssKb: 0,
    peakAnonKb: 0,
    sampler: undefined,
  };
  const sample = () => {
    const pids = running.tree ? processTree(running.pid) : [running.pid];
    const sum = (key: "VmRSS" | "RssAnon") => pids.reduce((kb, pid) => kb + statusKb(pid, key), 0);
    if (running.tree) running.peakTreeRssKb = Math.max(running.peakTreeRssKb, sum("VmRSS"));
    running.peakAnonKb = Math.max(running.peakAnonKb, sum("RssAnon"));
  };
  sample();
  running.sampler = setInterval(sample, 250);
  LIVE.add(running);
  return running;
}

function serverCpu(s: Running): CpuTime {
  return (s.tree ? processTree(s.pid) : [s.pid])
    .map(cpuTime)
    .reduce((sum, t) => ({ total: sum.total + t.total, system: sum.system + t.system }), {
      total: 0,
      system: 0,
    });
}

function serverPeakRssMb(s: Running): number {
  return (
    (s.tree ? Math.max(s.peakTreeRssKb, statusKb(s.pid, "VmHWM")) : statusKb(s.pid, "VmHWM")) / 1024
  );
}

function signalAll(s: Running, signal: NodeJS.Signals): void {
  const targets = SETSID ? [-s.pid, ...processTree(s.pid)] : processTree(s.pid);
  for (const target of targets) {
    try {
      process.kill(target, signal);
    } catch {
      // already gone
    }
  }
}

async function stopServer(s: Running): Promise<{ exit: number | null; logBytes: number }> {
  if (s.sampler) clearInterval(s.sampler);
  signalAll(s, "SIGTERM");
  const timer = setTimeout(() => signalAll(s, "SIGKILL"), 4000);
  const exit = await s.proc.exited;
  clearTimeout(timer);
  LIVE.delete(s);
  // Whatever it forked and left behind (socat/ncat children) goes too: by
  // process group only, since the server's pid is free for reuse once reaped.
  if (SETSID) {
    await sleep(20);
    try {
      process.kill(-s.pid, "SIGKILL");
    } catch {
      // the group is empty
    }
  }
  let logBytes = 0;
  try {
    logBytes = statSync(s.logFile).size;
  } catch {
    // no log
  }
  // The human output can be gigabytes (stream): keep its size, not the file.
  rmSync(s.logFile, { force: true });
  if (!(readProc(s.errFile) ?? "").trim()) rmSync(s.errFile, { force: true });
  return { exit, logBytes };
}

// ---------------------------------------------------------------- loadgen

interface LoadResult {
  mode: string;
  conns: number;
  size: number;
  prefix: string;
  seconds: number;
  requests: number;
  rps: number;
  p50_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
  mean_us: number;
  bytes_verified: number;
  mbps: number;
  total_requests: number;
  verified_total: number;
  lost: number;
  late: number;
  dropped: number;
  errors: number;
  error: string | null;
  exit: number;
  stderr: string;
}

async function loadgen(args: string[]): Promise<LoadResult> {
  const proc = Bun.spawn([LOADGEN, ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, exit] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  const line = out.trim().split("\n").pop() ?? "";
  let parsed: Partial<LoadResult> = {};
  try {
    parsed = JSON.parse(line);
  } catch {
    parsed = { errors: 1, error: `loadgen printed no result (exit ${exit}): ${err.trim()}` };
  }
  return { ...(parsed as LoadResult), exit, stderr: err.trim() };
}

/**
 * The verifier must catch wrong bytes, or every "0 errors" below means
 * nothing: a reply with a different prefix, and a stream that is not a pure
 * echo, must both fail.
 */
async function selfTest(): Promise<string[]> {
  const problems: string[] = [];
  const ref = SERVERS[0] as ServerDef;
  const cases = [
    {
      what: "ping-pong reply with a wrong prefix",
      proto: "tcp" as Proto,
      serverPrefix: "Receive: ",
      args: ["tcp-pingpong", "--prefix", "Receivx: "],
    },
    {
      what: "stream echo with an extra byte per chunk",
      proto: "tcp" as Proto,
      serverPrefix: "x",
      args: ["tcp-stream"],
    },
    {
      what: "UDP reply with a wrong prefix",
      proto: "udp" as Proto,
      serverPrefix: "Receive: ",
      args: ["udp-pingpong", "--prefix", "Receivx: "],
    },
  ];
  for (const c of cases) {
    const server = await startServer(
      ref,
      { argv: [REFSERVER, c.proto, "--prefix", c.serverPrefix], prefix: c.serverPrefix },
      c.proto,
      "selftest",
    );
    const r = await loadgen([
      ...c.args,
      "--port",
      String(server.port),
      "--duration",
      "0.2",
      "--warmup",
      "0",
      "--prime-timeout",
      "2",
      "--timeout-ms",
      "50",
    ]);
    await stopServer(server);
    if (r.exit === 0 || !(r.errors > 0))
      problems.push(`self-test: the load generator accepted a ${c.what}`);
  }
  return problems;
}

// ---------------------------------------------------------------- scenarios

interface Scenario {
  id: string;
  title: string;
  proto: Proto;
  mode: "tcp-pingpong" | "tcp-stream" | "udp-pingpong";
  conns: number;
  size: number;
  prefix: string;
  /** Throughput target vs the C reference. */
  target: number;
}

const ALL_SCENARIOS: Scenario[] = [
  {
    id: "tcp-pp-1",
    title: "TCP ping-pong, 64 B, 1 connection",
    proto: "tcp",
    mode: "tcp-pingpong",
    conns: 1,
    size: 64,
    prefix: "Receive: ",
    target: 0.9,
  },
  {
    id: "tcp-pp-64",
    title: "TCP ping-pong, 64 B, 64 connections",
    proto: "tcp",
    mode: "tcp-pingpong",
    conns: 64,
    size: 64,
    prefix: "Receive: ",
    target: 0.85,
  },
  {
    id: "tcp-stream",
    title: "TCP stream echo, 64 KiB writes, every byte verified, 1 connection",
    proto: "tcp",
    mode: "tcp-stream",
    conns: 1,
    size: 65536,
    prefix: "",
    target: 0.95,
  },
  {
    id: "udp-pp-1",
    title: "UDP ping-pong, 64 B, 1 flow",
    proto: "udp",
    mode: "udp-pingpong",
    conns: 1,
    size: 64,
    prefix: "Receive: ",
    target: 0.85,
  },
  {
    id: "udp-pp-32",
    title: "UDP ping-pong, 64 B, 32 flows",
    proto: "udp",
    mode: "udp-pingpong",
    conns: 32,
    size: 64,
    prefix: "Receive: ",
    target: 0.75,
  },
];

const QUICK_SCENARIOS = ["tcp-pp-1", "tcp-stream", "udp-pp-1"];
const QUICK_SERVERS = [
  "ref",
  "bin",
  "bin-quiet",
  "bin-node",
  "node-echo",
  "bun-echo",
  "bun-echo-print",
  "node-echo-bun",
];

interface Round {
  rps: number;
  mbps: number;
  p50_us: number;
  p99_us: number;
}

interface Row {
  scenario: string;
  server: string;
  label: string;
  kind: ServerDef["kind"];
  status: "ok" | "skipped" | "failed";
  reason?: string;
  note?: string;
  prefix?: string;
  /** The median round (by throughput). */
  result?: LoadResult;
  rounds?: Round[];
  requests?: number;
  totalRequests?: number;
  verifiedTotal?: number;
  bytesVerified?: number;
  lost?: number;
  late?: number;
  errors?: number;
  throughput?: number;
  ratio?: number;
  cpuSeconds?: number;
  /** The part of cpuSeconds spent in the kernel (system calls: the socket, the output file). */
  systemCpuSeconds?: number;
  cpuUsPerRequest?: number;
  cpuSecondsPerGB?: number;
  peakRssMb?: number;
  peakAnonMb?: number;
  startupMs?: number;
  logBytes?: number;
  serverExit?: number | null;
  /** This failure means the harness (or sockdemo) broke: the run exits 1. */
  fatal?: boolean;
}

function throughputOf(s: Scenario, r: { rps: number; mbps: number }): number {
  return s.mode === "tcp-stream" ? r.mbps : r.rps;
}

/**
 * Row a's throughput relative to row b's: the median over rounds of a's round
 * divided by b's round. Every round measures all servers of a scenario within
 * seconds of each other, so a dip in background load that hits both rows of a
 * round cancels, where a ratio of the two median rounds could pair a
 * disturbed round with a quiet one.
 */
function relativeThroughput(s: Scenario, a: Row | undefined, b: Row | undefined) {
  const base = b?.rounds;
  if (!a?.rounds || !base || a.rounds.length !== base.length) return undefined;
  return median(a.rounds.map((r, i) => throughputOf(s, r) / throughputOf(s, base[i] as Round)));
}

interface Contender {
  def: ServerDef;
  row: Row;
  launch: Launch;
  server: Running;
  cpu0: CpuTime;
  results: LoadResult[];
  done: boolean;
  /** Size of its output file when it was last synced to disk. */
  syncedBytes: number;
}

/**
 * A server printing every echoed byte leaves hundreds of MB of dirty page
 * cache per round; written back during the next server's round, that would
 * take its CPU on a 2-core machine. Sync it between rounds instead.
 */
function syncLargeOutput(c: Contender): void {
  let size = 0;
  try {
    size = statSync(c.server.logFile).size;
  } catch {
    return;
  }
  if (size - c.syncedBytes < 16 * 1024 * 1024) return;
  sh(["sync"]);
  c.syncedBytes = size;
}

/** Stop a server and fill in its row from the rounds it ran. */
async function finishRow(s: Scenario, c: Contender): Promise<void> {
  const { row, results, server, def } = c;
  c.done = true;
  const cpu1 = serverCpu(server);
  row.peakRssMb = serverPeakRssMb(server);
  row.peakAnonMb = server.peakAnonKb / 1024;
  const stopped = await stopServer(server);
  row.serverExit = stopped.exit;
  row.logBytes = stopped.logBytes;
  row.cpuSeconds = cpu1.total - c.cpu0.total;
  row.systemCpuSeconds = cpu1.system - c.cpu0.system;
  row.errors = results.reduce((sum, r) => sum + (r.errors ?? 0), 0);
  const failed = results.find((r) => r.exit !== 0 || r.errors > 0);
  if (failed) {
    row.status = "failed";
    row.result = failed;
    const reason = failed.stderr || failed.error || `loadgen exit ${failed.exit}`;
    const known = def.knownIssue?.(s.id);
    row.reason = `${reason.split("\n").slice(-2).join(" / ")}${known ? ` — ${known}` : ""}`;
    // The reference row vouches for the harness and sockdemo's rows for sockdemo:
    // a failure there fails the run. A peer that cannot serve a scenario, or
    // sends wrong bytes, is that peer's result, reported in its row.
    row.fatal = def.kind === "ref" || def.kind === "sockdemo";
    if (def.kind === "peer" && failed.exit === 1 && failed.error)
      row.reason = `${row.reason} (the peer's result: the C reference passed the same checks)`;
    return;
  }
  const sorted = [...results].sort((a, b) => throughputOf(s, a) - throughputOf(s, b));
  const mid = sorted[Math.floor((sorted.length - 1) / 2)] as LoadResult;
  row.result = mid;
  row.rounds = results.map((r) => ({
    rps: r.rps,
    mbps: r.mbps,
    p50_us: r.p50_us,
    p99_us: r.p99_us,
  }));
  row.throughput = throughputOf(s, mid);
  row.requests = results.reduce((sum, r) => sum + r.requests, 0);
  row.totalRequests = results.reduce((sum, r) => sum + r.total_requests, 0);
  row.verifiedTotal = results.reduce((sum, r) => sum + r.verified_total, 0);
  row.bytesVerified = results.reduce((sum, r) => sum + r.bytes_verified, 0);
  row.lost = results.reduce((sum, r) => sum + r.lost, 0);
  row.late = results.reduce((sum, r) => sum + r.late, 0);
  if (s.mode === "tcp-stream") row.cpuSecondsPerGB = row.cpuSeconds / (row.verifiedTotal / 1e9);
  else row.cpuUsPerRequest = (row.cpuSeconds / row.totalRequests) * 1e6;
}

/**
 * One scenario, every server: all are started first, then measured round by
 * round in turn (ref, sockdemo rows, peers, then ref again, ...), so that a
 * change in the machine's background load during the scenario hits every row
 * alike. A server idles while the others are measured; its CPU time counts.
 */
async function measureScenario(s: Scenario, defs: ServerDef[]): Promise<Row[]> {
  const rows: Row[] = [];
  const contenders: Contender[] = [];
  for (const def of defs.filter((d) => !d.modes || d.modes.includes(s.mode))) {
    const row: Row = {
      scenario: s.id,
      server: def.id,
      label: def.label,
      kind: def.kind,
      status: "ok",
    };
    rows.push(row);
    const missing = def.missing();
    const launch = missing ? undefined : def.launch(s.proto, s.prefix);
    if (missing || !launch || "skip" in launch) {
      row.status = "skipped";
      row.reason = missing ?? (launch && "skip" in launch ? launch.skip : "n/a");
      continue;
    }
    row.prefix = launch.prefix;
    row.note = launch.note;
    try {
      const server = await startServer(def, launch, s.proto, s.id);
      row.startupMs = server.startMs;
      contenders.push({
        def,
        row,
        launch,
        server,
        cpu0: { total: 0, system: 0 },
        results: [],
        done: false,
        syncedBytes: 0,
      });
    } catch (error) {
      row.status = "failed";
      row.reason = (error as Error).message;
      row.fatal = def.kind === "ref" || def.kind === "sockdemo";
    }
  }
  for (const c of contenders) c.cpu0 = serverCpu(c.server);
  const perRound = CFG.duration / CFG.rounds;
  for (let i = 0; i < CFG.rounds; i++) {
    for (const c of contenders) {
      if (c.done) continue;
      const r = await loadgen([
        s.mode,
        "--port",
        String(c.server.port),
        "--conns",
        String(s.conns),
        "--prefix",
        c.launch.prefix,
        "--duration",
        String(perRound),
        "--warmup",
        String(i === 0 ? CFG.warmup : CFG.warmup / 2),
        "--seed",
        String(i + 1),
        ...(s.mode === "tcp-stream" ? ["--chunk", String(s.size)] : ["--size", String(s.size)]),
        ...(s.mode === "udp-pingpong" ? ["--timeout-ms", "200"] : []),
        // A server that cannot answer every connection/flow fails the row in 8 s, not 30.
        "--prime-timeout",
        "8",
      ]);
      c.results.push(r);
      syncLargeOutput(c);
      // A failed server stops at once: it must not weigh on the rows still running.
      if (r.exit !== 0 || r.errors > 0) await finishRow(s, c);
    }
  }
  for (const c of contenders) if (!c.done) await finishRow(s, c);
  return rows;
}

// ---------------------------------------------------------------- startup, size, idle

interface StartupRow {
  bench: "version" | "tcp-client";
  id: string;
  label: string;
  status: "ok" | "skipped" | "failed";
  reason?: string;
  medianMs?: number;
  minMs?: number;
  meanMs?: number;
  runs?: number;
}

interface StartupCmd {
  id: string;
  label: string;
  argv: string[] | undefined;
  missing?: string;
}

async function hyperfine(bench: StartupRow["bench"], cmds: StartupCmd[]): Promise<StartupRow[]> {
  const rows: StartupRow[] = [];
  const runnable = cmds.filter((c) => {
    if (c.argv && !c.missing) return true;
    rows.push({ bench, id: c.id, label: c.label, status: "skipped", reason: c.missing ?? "n/a" });
    return false;
  });
  if (which("hyperfine")) {
    for (const c of runnable) {
      const file = join(OUT, `hyperfine-${bench}-${c.id}.json`);
      const r = sh([
        "hyperfine",
        "-N",
        "--style",
        "none",
        "--warmup",
        String(CFG.startupWarmup),
        "--runs",
        String(CFG.startupRuns),
        "--export-json",
        file,
        (c.argv as string[]).map((a) => (/[\s'"]/.test(a) ? `'${a}'` : a)).join(" "),
      ]);
      if (r.code !== 0) {
        rows.push({ bench, id: c.id, label: c.label, status: "failed", reason: r.out.slice(-300) });
        continue;
      }
      const data = JSON.parse(readFileSync(file, "utf8")) as {
        results: { median: number; min: number; mean: number; times: number[] }[];
      };
      const res = data.results[0];
      if (!res) continue;
      rows.push({
        bench,
        id: c.id,
        label: c.label,
        status: "ok",
        medianMs: res.median * 1000,
        minMs: res.min * 1000,
        meanMs: res.mean * 1000,
        runs: res.times.length,
      });
    }
  } else {
    // No hyperfine: time repeated runs ourselves (spawn overhead included).
    for (const c of runnable) {
      const times: number[] = [];
      let failure: string | undefined;
      for (let i = 0; i < CFG.startupWarmup + CFG.startupRuns; i++) {
        const t0 = performance.now();
        const r = Bun.spawnSync(c.argv as string[], { stdout: "ignore", stderr: "pipe" });
        const ms = performance.now() - t0;
        if (r.exitCode !== 0) failure = r.stderr.toString();
        if (i >= CFG.startupWarmup) times.push(ms);
      }
      if (failure)
        rows.push({ bench, id: c.id, label: c.label, status: "failed", reason: failure });
      else
        rows.push({
          bench,
          id: c.id,
          label: c.label,
          status: "ok",
          medianMs: median(times),
          minMs: Math.min(...times),
          meanMs: times.reduce((a, b) => a + b, 0) / times.length,
          runs: times.length,
        });
    }
  }
  return rows;
}

async function measureStartup(): Promise<StartupRow[]> {
  const node = which("node");
  const py = python();
  const version: StartupCmd[] = [
    { id: "bin", label: "sockdemo binary", argv: [BIN, "--version"] },
    {
      id: "node",
      label: "node dist/sockdemo.mjs",
      argv: node ? [node, MJS, "--version"] : undefined,
      missing: node ? undefined : "no node",
    },
    {
      id: "deno",
      label: "deno run src/cli.ts",
      argv: [DENO, "run", "--allow-net", CLI_TS, "--version"],
      missing: existsSync(DENO) ? undefined : "no deno",
    },
  ];
  // The floors: Bun executables that do the least, built with the same compile flags.
  const compileFloor = (src: string, outfile: string): string | undefined => {
    const built = sh([
      process.execPath,
      "build",
      src,
      "--compile",
      "--minify",
      "--no-compile-autoload-dotenv",
      "--no-compile-autoload-bunfig",
      `--outfile=${outfile}`,
    ]);
    return built.code === 0 ? undefined : `build failed: ${built.out.slice(-200)}`;
  };
  const floorSrc = join(OUT, "floor.ts");
  const floorBin = join(OUT, "bun-floor");
  writeFileSync(floorSrc, 'console.log("0.0.0");\n');
  version.push({
    id: "floor",
    label: "floor: `bun build --compile` of one console.log",
    argv: [floorBin],
    missing: compileFloor(floorSrc, floorBin),
  });
  const clientFloorBin = join(OUT, "bun-client");
  const clientFloorMissing = compileFloor(join(BENCH, "peers", "bun-client.ts"), clientFloorBin);
  log("== startup: --version");
  const rows = await hyperfine("version", version);
  // One-shot tcp-client against the C reference with the tutorial's prefix.
  const ref = SERVERS[0] as ServerDef;
  const server = await startServer(
    ref,
    { argv: [REFSERVER, "tcp", "--prefix", "Receive: "], prefix: "Receive: " },
    "tcp",
    "startup",
  );
  const port = String(server.port);
  const client: StartupCmd[] = [
    { id: "bin", label: "sockdemo binary", argv: [BIN, "tcp-client", "--port", port] },
    {
      id: "node",
      label: "node dist/sockdemo.mjs",
      argv: node ? [node, MJS, "tcp-client", "--port", port] : undefined,
      missing: node ? undefined : "no node",
    },
    {
      id: "deno",
      label: "deno run src/cli.ts",
      argv: [DENO, "run", "--allow-net", CLI_TS, "tcp-client", "--port", port],
      missing: existsSync(DENO) ? undefined : "no deno",
    },
    {
      id: "python",
      label: "python3 tcp_client.py (tutorial)",
      argv: py ? [py, join(BENCH, "peers", "tcp_client.py"), port] : undefined,
      missing: py ? undefined : "python3 not installed",
    },
    {
      id: "client-floor",
      label: "floor: `bun build --compile` of the tutorial's client on Bun.connect",
      argv: [clientFloorBin, port],
      missing: clientFloorMissing,
    },
  ];
  log("== startup: one-shot tcp-client");
  // Check the output once: the client must print the tutorial's reply.
  const check = sh([BIN, "tcp-client", "--port", port]);
  if (!check.out.includes("b'Receive: Hello TCP'")) {
    await stopServer(server);
    throw new Error(`sockdemo tcp-client did not print the reply:\n${check.out}`);
  }
  rows.push(...(await hyperfine("tcp-client", client)));
  await stopServer(server);
  return rows;
}

interface IdleRow {
  server: string;
  label: string;
  status: "ok" | "skipped" | "failed";
  reason?: string;
  idleRssMb?: number;
  conns?: number;
  connectMs?: number;
  connRssMb?: number;
  connPeakMb?: number;
  perConnKb?: number;
}

async function measureIdle(serverIds: string[]): Promise<IdleRow[]> {
  const rows: IdleRow[] = [];
  const nofile = CFG.idleConns + 1024;
  for (const id of serverIds) {
    const def = SERVERS.find((d) => d.id === id) as ServerDef;
    const row: IdleRow = { server: id, label: def.label, status: "ok" };
    const missing = def.missing();
    const launch = def.launch("tcp", "Receive: ");
    if (missing || "skip" in launch) {
      rows.push({
        ...row,
        status: "skipped",
        reason: missing ?? (launch as { skip: string }).skip,
      });
      continue;
    }
    log(`== idle: ${def.label}`);
    let server: Running;
    try {
      server = await startServer(def, launch, "tcp", "idle", { nofile });
    } catch (error) {
      rows.push({ ...row, status: "failed", reason: (error as Error).message });
      continue;
    }
    await sleep(1000);
    row.idleRssMb = statusKb(server.pid, "VmRSS") / 1024;
    const fds0 = fdCount(server.pid);
    const gen = Bun.spawn(
      [
        LOADGEN,
        "tcp-idle",
        "--port",
        String(server.port),
        "--conns",
        String(CFG.idleConns),
        "--hold",
        "120",
      ],
      { stdin: "pipe", stdout: "pipe", stderr: "pipe" },
    );
    const reader = gen.stdout.getReader();
    let text = "";
    const deadline = performance.now() + 60000;
    while (!text.includes("\n") && performance.now() < deadline) {
      const { value: chunk, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(chunk);
    }
    let connected: { conns?: number; connect_ms?: number } = {};
    try {
      connected = JSON.parse(text.split("\n")[0] ?? "");
    } catch {
      // reported below
    }
    if (connected.conns === CFG.idleConns) {
      // Wait until the server holds them all (accepted, not just in the kernel's queue).
      const until = performance.now() + 30000;
      while (fdCount(server.pid) < fds0 + CFG.idleConns && performance.now() < until)
        await sleep(100);
      await sleep(1000);
      const accepted = fdCount(server.pid) - fds0;
      row.conns = accepted;
      row.connectMs = connected.connect_ms;
      row.connRssMb = statusKb(server.pid, "VmRSS") / 1024;
      row.connPeakMb = statusKb(server.pid, "VmHWM") / 1024;
      row.perConnKb = ((row.connRssMb - row.idleRssMb) * 1024) / Math.max(1, accepted);
      if (accepted < CFG.idleConns) {
        row.status = "failed";
        row.reason = `the server accepted only ${accepted} of ${CFG.idleConns} connections`;
      }
    }
    gen.stdin.end();
    let rest = "";
    for (;;) {
      const { value: chunk, done } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(chunk);
    }
    const exit = await gen.exited;
    const err = await new Response(gen.stderr).text();
    if (connected.conns !== CFG.idleConns) {
      row.status = "failed";
      row.reason = `loadgen could not open ${CFG.idleConns} connections: ${err.trim() || rest.trim()}`;
    } else if (exit !== 0 && row.status === "ok") {
      row.status = "failed";
      row.reason = `connections were dropped while idle: ${rest.trim()}`;
    }
    await stopServer(server);
    rows.push(row);
  }
  return rows;
}

// ---------------------------------------------------------------- machine

function machine(): Record<string, string> {
  const cpuinfo = readProc("/proc/cpuinfo") ?? "";
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? "unknown";
  const first = (cmd: string[]) => sh(cmd).out.split("\n")[0] ?? "";
  const socatV = sh(["socat", "-V"]).out;
  return {
    date: new Date()
      .toISOString()
      .replace("T", " ")
      .replace(/\.\d+Z$/, " UTC"),
    loadavg: (readProc("/proc/loadavg") ?? "").split(" ").slice(0, 3).join(" "),
    nproc: sh(["nproc"]).out,
    cpu: model,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    kernel: sh(["uname", "-sr"]).out,
    bun: sh([process.execPath, "--version"]).out,
    node: which("node") ? first(["node", "--version"]) : "not installed",
    deno: existsSync(DENO) ? first([DENO, "--version"]) : "not installed",
    socat: which("socat") ? (/socat version (\S+)/.exec(socatV)?.[1] ?? "?") : "not installed",
    ncat: which("ncat")
      ? (/Version (\S+)/.exec(first(["ncat", "--version"]))?.[1] ?? "?")
      : "not installed",
    python: python()
      ? `${first([python() as string, "--version"])} (${python()})`
      : "not installed",
    perl: which("perl")
      ? (/\(v([\d.]+)\)/.exec(sh(["perl", "-v"]).out)?.[1] ?? "?")
      : "not installed",
    cc: first(["cc", "--version"]),
    hyperfine: which("hyperfine") ? first(["hyperfine", "--version"]) : "not installed",
  };
}

// ---------------------------------------------------------------- targets

interface Target {
  what: string;
  goal: string;
  measured: string;
  met: boolean | undefined;
  /**
   * The ceiling measured in the same run (a bare Bun program doing less than
   * sockdemo must, or the kernel time alone) misses the goal too: no Bun
   * program reaches it here. The numbers are in `measured`.
   */
  outOfReach?: boolean;
}

/** Kernel CPU seconds of the server per GB it echoed. */
const kernelPerGB = (r: Row | undefined) =>
  r?.systemCpuSeconds !== undefined && r.verifiedTotal
    ? r.systemCpuSeconds / (r.verifiedTotal / 1e9)
    : undefined;

/**
 * The most the stream can reach with this row's output in MB/s: the thread that
 * echoes spends at least its kernel time per GB, even if rendering were free.
 */
function kernelBoundMbps(s: Scenario, row: Row | undefined): number | undefined {
  if (s.mode !== "tcp-stream") return undefined;
  const kernel = kernelPerGB(row);
  return kernel ? 1000 / kernel : undefined;
}

/**
 * For the stream with human output: text written per byte echoed (data and
 * reply lines), and the most the row could reach if rendering were free. The
 * bound is the row's own kernel time per GB echoed (system calls: writing
 * that text, and the socket): the one thread doing the echo spends at least
 * that. A dd of zeros was used before, but sustained file writes here ran at
 * 0.36 to 3.7 GB/s from one dd to the next, so one sample told little.
 */
function textPerByte(s: Scenario, row: Row, ref: Row | undefined, quiet: Row | undefined): string {
  if (s.mode !== "tcp-stream" || !row.logBytes || !row.verifiedTotal) return "";
  const perByte = row.logBytes / row.verifiedTotal;
  const kernel = kernelPerGB(row);
  const bound = kernelBoundMbps(s, row);
  const text =
    kernel && bound && ref?.throughput
      ? `; the kernel alone took ${fmt(kernel, 1)} s of the server's CPU per GB echoed (writing the text and the socket; --quiet: ${fmt(kernelPerGB(quiet), 1)} s), so even free rendering would stop at ${fmt(bound, 0)} MB/s = ${fmt(bound / ref.throughput, 2)}× C`
      : "";
  return `; human output writes ${fmt(perByte, 1)} bytes of text per byte echoed${text}`;
}

function evaluate(
  scenarios: Scenario[],
  rows: Row[],
  startup: StartupRow[],
  idle: IdleRow[],
): Target[] {
  const targets: Target[] = [];
  /**
   * Whether a ceiling can rule a target out: only where throughput measures work. With one
   * connection or flow it measures wake-up latency, which swings every row 2-3x alike.
   */
  const workBound = (s: Scenario) => s.mode === "tcp-stream" || s.conns >= 2;
  const get = (sc: string, server: string) =>
    rows.find((r) => r.scenario === sc && r.server === server && r.status === "ok");
  const x = (n: number | undefined) => (n === undefined ? "–" : `${n.toFixed(2)}×`);
  /** How far apart the C reference's own rounds were: other load on the host shows here first. */
  const disturbance = (s: Scenario) => {
    const ref = get(s.id, "ref");
    const values = (ref?.rounds ?? []).map((r) => throughputOf(s, r));
    const spread = values.length > 1 ? Math.max(...values) / Math.min(...values) : 1;
    const steal = STEAL_SHARE.get(s.id) ?? 0;
    const signs = [
      spread > 1.5 ? `the C reference's own rounds varied ${spread.toFixed(1)}×` : "",
      steal > 0.05 ? `steal time was ${(steal * 100).toFixed(0)} % of the CPU time` : "",
    ].filter(Boolean);
    return signs.length
      ? `; ${signs.join(" and ")} (other load on the host), so this ratio is uncertain`
      : "";
  };
  /**
   * Why a missed ping-pong target stays missed, said only then. Measured: the
   * bare Bun echo writing the same lines without rendering them, the most any
   * Bun program printing them reaches. Derived, with many connections (CPU-bound):
   * the bare Bun echo's CPU per request plus what printing adds to --quiet's.
   */
  const humanBound = (s: Scenario, bin: Row): string => {
    if (s.mode === "tcp-stream" || (bin.ratio ?? 0) >= s.target) return "";
    const floor = get(s.id, "bun-echo-print")?.ratio;
    const measured =
      floor === undefined
        ? ""
        : `; the bare Bun echo writing the same lines, each payload copied instead of rendered, reached ${x(floor)}`;
    const quiet = get(s.id, "bin-quiet");
    const bare = get(s.id, "bun-echo");
    if (s.conns < 2 || !bin.cpuUsPerRequest || !quiet?.cpuUsPerRequest || !bare?.cpuUsPerRequest)
      return measured;
    if (bare.ratio === undefined) return measured;
    const printing = bin.cpuUsPerRequest - quiet.cpuUsPerRequest;
    const bound = (bare.ratio * bare.cpuUsPerRequest) / (bare.cpuUsPerRequest + printing);
    return `${measured}; printing adds ${fmt(printing, 1)} µs of CPU per request to --quiet's ${fmt(quiet.cpuUsPerRequest, 1)}, so even on the bare Bun echo it would reach ${x(bound)}`;
  };
  /**
   * The most sockdemo's human output could reach in this run, measured beside it: for
   * the stream its own kernel time per GB, for ping-pong the printing bare Bun echo.
   */
  const ceilingOf = (s: Scenario): { throughput?: number; ratio?: number } => {
    if (s.mode !== "tcp-stream") {
      const echo = get(s.id, "bun-echo-print");
      return { throughput: echo?.throughput, ratio: echo?.ratio };
    }
    const mbps = kernelBoundMbps(s, get(s.id, "bin"));
    const ref = get(s.id, "ref")?.throughput;
    return { throughput: mbps, ratio: mbps && ref ? mbps / ref : undefined };
  };
  for (const s of scenarios) {
    const bin = get(s.id, "bin");
    const ceiling = ceilingOf(s).ratio;
    targets.push({
      what: `${s.title}: sockdemo binary vs C reference`,
      goal: `≥ ${s.target.toFixed(2)}×`,
      measured: bin
        ? `${x(bin.ratio)} (--quiet: ${x(get(s.id, "bin-quiet")?.ratio)}; bare Bun echo: ${x(get(s.id, "bun-echo")?.ratio)}${textPerByte(s, bin, get(s.id, "ref"), get(s.id, "bin-quiet"))}${humanBound(s, bin)}${disturbance(s)})`
        : "not measured",
      met: bin?.ratio === undefined ? undefined : bin.ratio >= s.target,
      outOfReach: workBound(s) && ceiling !== undefined && ceiling < s.target,
    });
  }
  for (const s of scenarios) {
    const bin = get(s.id, "bin");
    const peers = rows.filter((r) => r.scenario === s.id && r.kind === "peer");
    const measured = peers.filter((p) => p.status === "ok");
    const faster = measured.filter((p) => bin && (relativeThroughput(s, p, bin) ?? 0) >= 1);
    const notMeasured = peers
      .filter((p) => p.status !== "ok")
      .map((p) => `${p.server}: ${p.status}`);
    // The peers print nothing: beside them, what a Bun program printing the same lines reached.
    const unit = s.mode === "tcp-stream" ? "MB/s" : "req/s";
    const digits = s.mode === "tcp-stream" ? 1 : 0;
    const ceiling = ceilingOf(s).throughput;
    const ceilingText =
      ceiling === undefined
        ? ""
        : s.mode === "tcp-stream"
          ? `; free rendering would stop at ${fmt(ceiling, digits)} (the kernel time per GB above)`
          : `; the bare Bun echo writing the same lines: ${fmt(ceiling, digits)}`;
    const fastest = Math.max(0, ...faster.map((p) => p.throughput ?? 0));
    // With one connection every server sits at the same wake-up latency: how the C reference
    // itself fared against those peers in the same rounds.
    const refAgainst = workBound(s)
      ? ""
      : `; the C reference against ${faster.length > 1 ? "them" : "it"}: ${faster.map((p) => x(relativeThroughput(s, get(s.id, "ref"), p))).join(", ")}`;
    const slower = faster.length
      ? `slower than ${faster.map((p) => p.server).join(", ")} (${faster.map((p) => x(relativeThroughput(s, bin, p))).join(", ")} round by round; ${faster.map((p) => fmt(p.throughput, digits)).join(", ")} vs ${fmt(bin?.throughput, digits)} ${unit}${ceilingText}${refAgainst})`
      : "";
    targets.push({
      what: `${s.title}: sockdemo binary faster than every peer`,
      goal: "faster than socat, ncat, node:net, Python",
      measured: !bin
        ? "not measured"
        : `${slower || `faster than all ${measured.length} measured`}${notMeasured.length ? ` (${notMeasured.join("; ")})` : ""}`,
      met: bin && measured.length ? faster.length === 0 : undefined,
      outOfReach: workBound(s) && faster.length > 0 && ceiling !== undefined && ceiling <= fastest,
    });
  }
  for (const s of scenarios) {
    const bin = get(s.id, "bin");
    const viaNode = get(s.id, "bin-node");
    const ratio = relativeThroughput(s, viaNode, bin);
    // The same ratio between the two bare echoes: what Bun's node:net itself allows.
    const bareRatio = relativeThroughput(s, get(s.id, "node-echo-bun"), get(s.id, "bun-echo"));
    targets.push({
      what: `${s.title}: node adapter vs bun adapter (same binary)`,
      goal: "≥ 0.85×",
      measured:
        bareRatio === undefined
          ? x(ratio)
          : `${x(ratio)} (bare node:net echo on Bun vs bare Bun echo: ${x(bareRatio)})`,
      met: ratio === undefined ? undefined : ratio >= 0.85,
      outOfReach: workBound(s) && bareRatio !== undefined && bareRatio < 0.85,
    });
  }
  for (const s of scenarios.filter((sc) => sc.mode !== "tcp-stream")) {
    const human = get(s.id, "bin");
    const quiet = get(s.id, "bin-quiet");
    const ratio =
      human?.cpuUsPerRequest && quiet?.cpuUsPerRequest
        ? human.cpuUsPerRequest / quiet.cpuUsPerRequest
        : undefined;
    targets.push({
      what: `${s.title}: human output to a file vs --quiet (server CPU per request)`,
      goal: "≤ 2×",
      measured:
        ratio === undefined
          ? "not measured"
          : `${x(ratio)} (${fmt(human?.cpuUsPerRequest, 1)} vs ${fmt(quiet?.cpuUsPerRequest, 1)} µs; throughput ${x(relativeThroughput(s, human, quiet))})`,
      met: ratio === undefined ? undefined : ratio <= 2,
    });
  }
  // Both rows: human output holds the stream to a few tens of MB/s, so only --quiet shows
  // the memory of an echo at full speed.
  const streamRows = [
    { row: get("tcp-stream", "bin"), what: "human output" },
    { row: get("tcp-stream", "bin-quiet"), what: "--quiet" },
  ].filter((r): r is { row: Row; what: string } => r.row !== undefined);
  targets.push({
    what: "sockdemo binary peak RSS under stream load (human output and --quiet)",
    goal: "≤ 60 MB",
    measured: streamRows.length
      ? `${streamRows.map(({ row, what }) => `${fmt(row.peakRssMb, 1)} MB with ${what} at ${fmt(row.throughput, 0)} MB/s (anonymous memory at most ${fmt(row.peakAnonMb, 1)} MB)`).join("; ")}; sampled every 250 ms, the rest is the executable's own pages`
      : "not measured",
    met: streamRows.length
      ? streamRows.every(({ row }) => (row.peakRssMb ?? Number.POSITIVE_INFINITY) <= 60)
      : undefined,
  });
  const idleBin = idle.find((r) => r.server === "bin" && r.status === "ok");
  targets.push({
    what: `sockdemo binary RSS with ${fmt(CFG.idleConns)} idle connections`,
    goal: CFG.idleConns === 10000 ? "≤ 150 MB" : "≤ 150 MB (at 10,000; quick run uses fewer)",
    measured: idleBin ? `${fmt(idleBin.connRssMb, 1)} MB` : "not measured",
    met: idleBin ? (idleBin.connRssMb ?? 0) <= 150 : undefined,
  });
  const su = (bench: StartupRow["bench"], id: string) =>
    startup.find((r) => r.bench === bench && r.id === id && r.status === "ok");
  const client = su("tcp-client", "bin");
  const py = su("tcp-client", "python");
  targets.push({
    what: "one-shot tcp-client, sockdemo binary, median",
    goal: "≤ 15 ms",
    measured: client ? `${fmt(client.medianMs, 1)} ms` : "not measured",
    met: client ? (client.medianMs ?? 0) <= 15 : undefined,
  });
  /** A row's median as a share of the Python client's. */
  const toPython = (row: StartupRow | undefined) =>
    row && py ? (row.medianMs ?? 0) / (py.medianMs ?? 1) : undefined;
  const vsPython = (row: StartupRow | undefined) =>
    row && py ? `${fmt(row.medianMs, 1)} ms = ${x(toPython(row))}` : "–";
  const vsPy = toPython(client);
  const floor = su("version", "floor");
  const clientFloor = su("tcp-client", "client-floor");
  const clientFloorVsPy = toPython(clientFloor);
  targets.push({
    what: "one-shot tcp-client, sockdemo binary vs Python client (median)",
    goal: "≤ 0.15×",
    measured:
      vsPy === undefined
        ? "not measured"
        : `${x(vsPy)} (${fmt(client?.medianMs, 1)} vs ${fmt(py?.medianMs, 1)} ms; a compiled Bun binary that only does the tutorial's exchange on Bun.connect: ${vsPython(clientFloor)}; one that only prints: ${vsPython(floor)})`,
    met: vsPy === undefined ? undefined : vsPy <= 0.15,
    outOfReach: clientFloorVsPy === undefined ? undefined : clientFloorVsPy > 0.15,
  });
  const version = su("version", "bin");
  targets.push({
    what: "sockdemo --version, binary, median",
    goal: "≤ 12 ms",
    measured: version ? `${fmt(version.medianMs, 1)} ms` : "not measured",
    met: version ? (version.medianMs ?? 0) <= 12 : undefined,
  });
  return targets;
}

// ---------------------------------------------------------------- report

function renderTables(
  scenarios: Scenario[],
  rows: Row[],
  startup: StartupRow[],
  idle: IdleRow[],
  sizes: { bin: number; mjs: number },
): string {
  const out: string[] = [];
  for (const s of scenarios) {
    out.push(`### ${s.title}`, "");
    const steal = STEAL_SHARE.get(s.id);
    if (steal !== undefined)
      out.push(
        `Steal time (/proc/stat): ${(steal * 100).toFixed(1)} % of this machine's CPU time went to the host and other guests during this scenario.`,
        "",
      );
    const stream = s.mode === "tcp-stream";
    const udp = s.proto === "udp";
    out.push(
      stream
        ? "| server | MB/s | × C ref | verified | server CPU s | CPU s/GB | peak RSS MB | notes |"
        : `| server | prefix | req/s | × C ref | p50 µs | p99 µs |${udp ? " lost |" : ""} server CPU s | CPU µs/req | peak RSS MB | notes |`,
      stream
        ? "|---|--:|--:|--:|--:|--:|--:|---|"
        : `|---|---|--:|--:|--:|--:|${udp ? "--:|" : ""}--:|--:|--:|---|`,
    );
    for (const r of rows.filter((row) => row.scenario === s.id)) {
      const name = r.kind === "sockdemo" || r.kind === "ref" ? `**${r.label}**` : r.label;
      if (r.status !== "ok") {
        // The status where the numbers would be, the reason in the notes column.
        const empty = stream ? 5 : udp ? 8 : 7;
        out.push(
          `| ${name} | ${r.status} |${" |".repeat(empty)} ${(r.reason ?? "").replaceAll("|", "/")} |`,
        );
        continue;
      }
      const res = r.result as LoadResult;
      const notes = [
        r.note,
        r.rounds && r.rounds.length > 1
          ? `rounds ${r.rounds.map((x) => fmt(stream ? x.mbps : x.rps)).join(" / ")}`
          : undefined,
        r.logBytes ? `output ${fmt(r.logBytes / 1e6, 1)} MB` : undefined,
      ]
        .filter(Boolean)
        .join("; ");
      if (stream)
        out.push(
          `| ${name} | ${fmt(res.mbps, 1)} | ${fmt(r.ratio, 2)} | ${fmt((r.bytesVerified ?? 0) / 1e9, 2)} GB | ${fmt(r.cpuSeconds, 2)} | ${fmt(r.cpuSecondsPerGB, 2)} | ${fmt(r.peakRssMb, 1)} | ${notes} |`,
        );
      else
        out.push(
          `| ${name} | ${r.prefix === "" ? "''" : `'${r.prefix}'`} | ${fmt(res.rps)} | ${fmt(r.ratio, 2)} | ${fmt(res.p50_us, 1)} | ${fmt(res.p99_us, 1)} |${udp ? ` ${fmt(r.lost)} |` : ""} ${fmt(r.cpuSeconds, 2)} | ${fmt(r.cpuUsPerRequest, 1)} | ${fmt(r.peakRssMb, 1)} | ${notes} |`,
        );
    }
    out.push("");
  }
  if (startup.length) {
    out.push(
      "### Start-up (hyperfine, no shell)",
      "",
      "| command | `--version` median ms | min ms | one-shot `tcp-client` median ms | min ms |",
      "|---|--:|--:|--:|--:|",
    );
    const ids = [...new Set(startup.map((r) => r.id))];
    for (const id of ids) {
      const v = startup.find((r) => r.bench === "version" && r.id === id);
      const c = startup.find((r) => r.bench === "tcp-client" && r.id === id);
      const label = (c ?? v)?.label ?? id;
      const cell = (r: StartupRow | undefined) =>
        !r
          ? "– | –"
          : r.status === "ok"
            ? `${fmt(r.medianMs, 1)} | ${fmt(r.minMs, 1)}`
            : `${r.status}: ${r.reason ?? ""} | `;
      out.push(`| ${label} | ${cell(v)} | ${cell(c)} |`);
    }
    out.push("");
  }
  out.push(
    "### Size and memory",
    "",
    `Binary \`dist/sockdemo\`: ${fmt(sizes.bin / 1e6, 1)} MB (${fmt(sizes.bin)} bytes); Node bundle \`dist/sockdemo.mjs\`: ${fmt(sizes.mjs / 1e3, 1)} kB.`,
    "",
    ...artifactSizes(),
  );
  if (idle.length) {
    out.push(
      `| tcp-server | idle RSS MB | RSS with ${fmt(CFG.idleConns)} idle connections MB | peak MB | per connection kB | connect time ms |`,
      "|---|--:|--:|--:|--:|--:|",
    );
    for (const r of idle) {
      if (r.status !== "ok") {
        out.push(`| ${r.label} | ${r.status} | | | | ${(r.reason ?? "").replaceAll("|", "/")} |`);
        continue;
      }
      out.push(
        `| ${r.label} | ${fmt(r.idleRssMb, 1)} | ${fmt(r.connRssMb, 1)} | ${fmt(r.connPeakMb, 1)} | ${fmt(r.perConnKb, 1)} | ${fmt(r.connectMs)} |`,
      );
    }
    out.push("");
  }
  return out.join("\n");
}

function renderTargets(targets: Target[]): string {
  const out = ["| target | goal | measured | |", "|---|---|---|---|"];
  const status = (t: Target) =>
    t.met === undefined
      ? "not measured"
      : t.met
        ? "met"
        : t.outOfReach
          ? "**missed**: out of reach (its ceiling missed too)"
          : "**missed**";
  for (const t of targets) out.push(`| ${t.what} | ${t.goal} | ${t.measured} | ${status(t)} |`);
  const met = targets.filter((t) => t.met === true).length;
  const missed = targets.filter((t) => t.met === false);
  const outOfReach = missed.filter((t) => t.outOfReach).length;
  out.push(
    "",
    `${met} met, ${missed.length} missed (${outOfReach} of them out of reach for any Bun program in this run), ${targets.length - met - missed.length} not measured.`,
  );
  return out.join("\n");
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  const t0 = performance.now();
  log(
    `== sockdemo bench${QUICK ? " (quick)" : ""}: ${CFG.duration} s per row in ${CFG.rounds} round(s)`,
  );
  installPeers();
  buildC();
  const build = buildSockdemo();
  const only = value("only")?.split(",");
  const scenarios = ALL_SCENARIOS.filter((s) =>
    only ? only.includes(s.id) : QUICK ? QUICK_SCENARIOS.includes(s.id) : true,
  );
  const serverIds =
    value("servers")?.split(",") ?? (QUICK ? QUICK_SERVERS : SERVERS.map((d) => d.id));
  if (!serverIds.includes("ref")) serverIds.unshift("ref");
  const servers = SERVERS.filter((d) => serverIds.includes(d.id));
  const info = machine();
  rmSync(LOGS, { recursive: true, force: true });

  log("== self-test: the verifier rejects wrong bytes");
  const selfTestProblems = await selfTest();
  for (const p of selfTestProblems) log(`!! ${p}`);

  const rows: Row[] = [];
  for (const s of scenarios) {
    log(`== ${s.title}`);
    const ticksBefore = cpuTicks();
    const scenarioRows = await measureScenario(s, servers);
    const ticksAfter = cpuTicks();
    if (ticksBefore && ticksAfter && ticksAfter.total > ticksBefore.total) {
      const share = (ticksAfter.steal - ticksBefore.steal) / (ticksAfter.total - ticksBefore.total);
      STEAL_SHARE.set(s.id, share);
      log(`   host steal: ${(share * 100).toFixed(1)} % of the CPU time`);
    }
    const ref = scenarioRows.find((r) => r.server === "ref");
    for (const row of scenarioRows) {
      if (row.status === "ok" && ref?.status === "ok") row.ratio = relativeThroughput(s, row, ref);
      rows.push(row);
      log(
        row.status === "ok"
          ? `   ${row.server.padEnd(10)} ${fmt(row.throughput, s.mode === "tcp-stream" ? 1 : 0).padStart(10)} ${s.mode === "tcp-stream" ? "MB/s" : "req/s"}  ${fmt(row.ratio, 2)}×  cpu ${fmt(row.cpuSeconds, 2)} s  rss ${fmt(row.peakRssMb, 1)} MB`
          : `   ${row.server.padEnd(10)} ${row.status}: ${row.reason}`,
      );
    }
  }

  let startup: StartupRow[] = [];
  if (!flag("skip-startup")) {
    sh(["sync"]);
    await sleep(1000);
    startup = await measureStartup();
  }
  let idle: IdleRow[] = [];
  if (!flag("skip-idle"))
    idle = await measureIdle(QUICK ? ["ref", "bin"] : ["ref", "bin", "bin-node", "node", "deno"]);
  const sizes = {
    bin: existsSync(BIN) ? statSync(BIN).size : 0,
    mjs: existsSync(MJS) ? statSync(MJS).size : 0,
  };

  const targets = evaluate(scenarios, rows, startup, idle);
  const tables = renderTables(scenarios, rows, startup, idle, sizes);
  const elapsed = (performance.now() - t0) / 1000;
  const loadEnd = (readProc("/proc/loadavg") ?? "").split(" ").slice(0, 3).join(" ");
  const fatal = [
    ...selfTestProblems,
    ...rows.filter((r) => r.fatal).map((r) => `${r.scenario} ${r.server}: ${r.reason}`),
    ...rows
      .filter((r) => r.server === "ref" && r.status !== "ok")
      .map((r) => `${r.scenario} C reference: ${r.reason}`),
    ...startup
      .filter((r) => r.status === "failed" && r.id !== "python")
      .map((r) => `${r.bench} ${r.id}: ${r.reason}`),
    ...idle.filter((r) => r.status === "failed").map((r) => `idle ${r.server}: ${r.reason}`),
  ];
  const md = [
    `# Benchmark results${QUICK ? " (quick smoke run)" : ""}`,
    "",
    `Written by \`${QUICK ? "npm run bench:quick" : CUSTOM ? `bun bench/run.ts ${argv.join(" ")}` : "npm run bench"}\` (bench/run.ts) on ${info.date}, in ${elapsed.toFixed(0)} s. Raw numbers: \`bench/out/${RUN_NAME}.json\`.`,
    "",
    "## Machine",
    "",
    `- ${info.nproc} CPUs: ${info.cpu}; ${info.memory} RAM; ${info.kernel}; load average ${info.loadavg} at the start, ${loadEnd} at the end (other work on the machine shows here)`,
    `- bun ${info.bun}, node ${info.node}, ${info.deno}, socat ${info.socat}, ncat ${info.ncat}, ${info.python}, perl ${info.perl}, ${info.hyperfine}; ${info.cc}`,
    `- sockdemo: ${build.sockdemo}, commit ${build.commit}${build.srcDirty ? " plus uncommitted changes in src/" : ""}`,
    "",
    "## How it was measured",
    "",
    `- Every row: its own server on 127.0.0.1 port 0 (the port is read from the kernel's socket table for that pid), driven by \`bench/out/loadgen\` (C, one thread, epoll) in ${CFG.rounds} round(s) of ${fmt(CFG.duration / CFG.rounds, 2)} s, each after a warm-up (${CFG.warmup} s in the first round, then ${CFG.warmup / 2} s) and after every connection completed one verified exchange. All servers of a scenario are started first and measured in turn, round after round, so a change in background load hits every row alike. Throughput and latency are the median round's (the rounds are in the notes); CPU is the server's utime+stime (children included) over all rounds; peak RSS is VmHWM (for servers that fork, the largest sum of VmRSS over their processes, sampled every 250 ms).`,
    "- `× C ref` is the row's throughput relative to the C reference server's (`bench/refserver.c`) in the same scenario of the same run: the median over rounds of the row's round divided by the reference's round, as each round measures every server within seconds of the others (a dip in background load that hits both cancels), so it need not equal the quotient of the two throughput columns. Every other comparison of throughputs (node adapter vs Bun adapter, faster than a peer, human output vs --quiet) is taken the same way. Every reply is checked byte for byte: ping-pong replies must equal prefix + message, the stream must echo the PRNG byte sequence exactly; any mismatch fails the run.",
    "- A missed target is *out of reach* when its ceiling, measured in the same run, misses it too: for the ping-pong ratios and peers, the bare Bun echo writing the same lines without rendering them; for the stream, the human-output row's own kernel time per GB; for the node adapter, the bare node:net / node:dgram echo on Bun against the bare Bun echo; for the one-shot client against Python, a compiled Bun client that only does the tutorial's exchange. Not said for one connection or flow, where throughput follows wake-up latency rather than work.",
    "- sockdemo runs as a user runs it: human output (the tutorial's lines for every chunk) to a file; the `--quiet` row prints nothing per chunk. Messages are printable text (64 B); the stream is random bytes 0–255, the worst case for the `b'...'` rendering.",
    `- ${info.nproc} CPUs are shared by the load generator and the server, and nothing is pinned. With one connection (or flow) a row is bound by wake-up latency, not by work: each request wakes the other process, and whether the scheduler runs both on one CPU (~17 µs round trip for the C reference) or on two (~55 µs on this VM) swings a round by 2–3× for every server alike (see the rounds in the notes). For those rows the server's CPU µs per request is the steadier measure of cost.`,
    "- A server's output file is synced to disk between rounds once it grew by 16 MB, and everything is synced before the start-up timings: the page cache written back during another row would take that row's CPU.",
    "- Peers that cannot add a prefix run with prefix `''` (said in the row): they send 9 bytes less per reply. socat adds the prefix through SYSTEM: perl; the Python servers are the tutorial's loops (TCP: a thread per connection via socketserver.ThreadingTCPServer).",
    "",
    "## Targets",
    "",
    renderTargets(targets),
    "",
    "## Results",
    "",
    tables,
    fatal.length ? `\n## Harness failures\n\n${fatal.map((f) => `- ${f}`).join("\n")}\n` : "",
  ].join("\n");
  mkdirSync(OUT, { recursive: true });
  const jsonFile = join(OUT, `${RUN_NAME}.json`);
  writeFileSync(
    jsonFile,
    `${JSON.stringify({ machine: info, build, config: CFG, quick: QUICK, elapsedSeconds: elapsed, stealShare: Object.fromEntries(STEAL_SHARE), targets, rows, startup, idle, sizes }, null, 2)}\n`,
  );
  const mdFile = RUN_NAME === "results" ? join(BENCH, "RESULTS.md") : join(OUT, `${RUN_NAME}.md`);
  writeFileSync(mdFile, md);
  // bench/RESULTS.md is checked by `npm run lint` (biome formats Markdown tables): write it as biome would.
  const biome = join(ROOT, "node_modules", ".bin", "biome");
  if (mdFile.startsWith(BENCH) && !mdFile.startsWith(OUT) && existsSync(biome))
    sh([biome, "format", "--write", mdFile]);
  console.log(readFileSync(mdFile, "utf8"));
  log(
    `== wrote ${relative(ROOT, mdFile)} and ${relative(ROOT, jsonFile)} in ${elapsed.toFixed(0)} s`,
  );
  if (fatal.length) {
    log(`!! the harness failed:\n${fatal.map((f) => `   ${f}`).join("\n")}`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    log(`!! bench failed: ${(error as Error).stack ?? error}`);
    process.exit(1);
  },
);
