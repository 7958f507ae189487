/**
 * Exposure and a real second host, against the compiled binary with each
 * socket adapter:
 * - servers bind 127.0.0.1 unless told otherwise, and say so; binding every
 *   interface (0.0.0.0, ::) prints a warning that other machines can connect;
 * - an unprivileged user asking for a port below ip_unprivileged_port_start
 *   gets EACCES, exit 1, and a hint about ports below 1024;
 * - two hosts: a pair of network namespaces joined by a veth cable, with
 *   10.250.0.1/30 and 10.250.0.2/30 only inside them (the host's own
 *   interfaces are never touched). A client in one reaches the server in the
 *   other; with the far end's link down the connect times out in ~1 s
 *   (ETIMEDOUT), with its own link down there is no route (ENETUNREACH).
 * Needs `bun scripts/build.ts` first; the namespace and privilege tests need
 * root and say why when they skip.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  ADAPTERS,
  BINARY,
  checkBinary,
  cliEnv,
  hasTool,
  mustRun,
  reapAll,
  removeDir,
  removeStaleNamespaces,
  run,
  runCli,
  startServer,
  tempDir,
} from "./_reliability.ts";

const log = (...parts: unknown[]) => console.log("[exposure]", ...parts);

let dir = "";
beforeAll(() => {
  checkBinary();
  dir = tempDir("exposure");
  chmodSync(dir, 0o755);
});
afterEach(reapAll);
afterAll(() => removeDir(dir));

const isRoot = process.getuid?.() === 0;
const ipv6 = existsSync("/proc/net/if_inet6");

/** An unprivileged way to run a command, when we are root; undefined if there is none. */
function asNobody(): string[] | undefined {
  if (!isRoot) return [];
  if (hasTool("setpriv")) return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
  if (hasTool("runuser")) return ["runuser", "-u", "nobody", "--"];
  return undefined;
}

for (const adapter of ADAPTERS) {
  describe(`${adapter} adapter`, () => {
    test("the binary runs the adapter under test", async () => {
      const server = await startServer(["tcp-server", "--port", "0", "--json"], { adapter });
      expect((await server.stop()).code).toBe(0);
      const start = JSON.parse(server.stdout().split("\n")[0] as string) as { runtime: string };
      expect(start.runtime).toMatch(new RegExp(`^bun \\S+, ${adapter} adapter$`));
    }, 30_000);

    test("servers bind 127.0.0.1 by default; every interface comes with a warning", async () => {
      for (const proto of ["tcp", "udp"]) {
        const local = await startServer([`${proto}-server`, "--port", "0"], { adapter });
        expect(local.stdout()).toMatch(
          new RegExp(`^listening on ${proto} 127\\.0\\.0\\.1:\\d+$`, "m"),
        );
        expect(local.stdout()).not.toContain("warning");
        expect((await local.stop()).code).toBe(0);
        for (const host of ipv6 ? ["0.0.0.0", "::"] : ["0.0.0.0"]) {
          const wide = await startServer([`${proto}-server`, "--host", host, "--port", "0"], {
            adapter,
          });
          await wide.waitFor(/^warning: .*$/m);
          expect(wide.stdout()).toContain(
            `warning: bound to ${host}: every network interface, so other machines can connect too`,
          );
          expect((await wide.stop()).code).toBe(0);
        }
      }
      if (!ipv6) log(`${adapter}: no IPv6 on this machine: binding :: not tried`);
    }, 30_000);

    test("an unprivileged user binding a port below ip_unprivileged_port_start gets EACCES", async () => {
      const start = Number(readFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8"));
      const prefix = asNobody();
      if (start <= 1 || prefix === undefined) {
        log(
          `SKIPPED EACCES (${adapter}): ${start <= 1 ? `net.ipv4.ip_unprivileged_port_start is ${start}: every port is open to everyone` : "root, but neither setpriv nor runuser is installed"}`,
        );
        return;
      }
      // The kernel checks the privilege before whether the port is in use, so any port below works.
      const port = Math.max(1, start - 1 - Math.floor(Math.random() * Math.min(100, start - 1)));
      // A copy every user can execute, wherever the checkout lives.
      const binary = join(dir, "sockdemo");
      if (!existsSync(binary)) {
        copyFileSync(BINARY, binary);
        chmodSync(binary, 0o755);
      }
      for (const command of ["tcp-server", "udp-server"]) {
        const ran = await run([...prefix, binary, command, "--port", String(port)], {
          env: cliEnv(adapter),
          timeoutMs: 10_000,
        });
        expect(ran.code).toBe(1);
        const lines = ran.stderr.split("\n").filter(Boolean);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toContain(`permission denied (EACCES)`);
        expect(lines[0]).toContain("ports below 1024 need administrator rights");
        expect(lines[0]).not.toContain("    at ");
      }
      log(
        `${adapter}: as ${isRoot ? `uid 65534 (${prefix[0]})` : "this user"}, port ${port} (unprivileged ports start at ${start}): EACCES, exit 1`,
      );
    }, 30_000);
  });
}

// --- two hosts in network namespaces ---

const netnsReason = !isRoot
  ? "not root: creating network namespaces needs CAP_SYS_ADMIN"
  : !hasTool("ip")
    ? "the ip command (iproute2) is not installed"
    : undefined;

const ip = (...args: string[]) => mustRun("ip", ...args);

interface Hosts {
  a: string;
  b: string;
  vethA: string;
  vethB: string;
}

let created: Hosts[] = [];

/** Two namespaces joined by a veth pair: 10.250.0.1/30 in A, 10.250.0.2/30 in B. */
function twoHosts(tag: number): Hosts {
  const id = `${process.pid}`;
  const hosts: Hosts = {
    a: `sdrel${id}a${tag}`,
    b: `sdrel${id}b${tag}`,
    vethA: `sdra${id.slice(-6)}${tag}`.slice(0, 15),
    vethB: `sdrb${id.slice(-6)}${tag}`.slice(0, 15),
  };
  created.push(hosts);
  ip("netns", "add", hosts.a);
  ip("netns", "add", hosts.b);
  // Both ends are created inside the namespaces: nothing appears in the host's own.
  ip(
    "-n",
    hosts.a,
    "link",
    "add",
    hosts.vethA,
    "type",
    "veth",
    "peer",
    "name",
    hosts.vethB,
    "netns",
    hosts.b,
  );
  ip("-n", hosts.a, "addr", "add", "10.250.0.1/30", "dev", hosts.vethA);
  ip("-n", hosts.b, "addr", "add", "10.250.0.2/30", "dev", hosts.vethB);
  for (const [ns, dev] of [
    [hosts.a, hosts.vethA],
    [hosts.b, hosts.vethB],
  ] as const) {
    ip("-n", ns, "link", "set", "lo", "up");
    ip("-n", ns, "link", "set", dev, "up");
  }
  return hosts;
}

function removeHosts(): void {
  for (const hosts of created) {
    spawnSync("ip", ["netns", "del", hosts.a]);
    spawnSync("ip", ["netns", "del", hosts.b]);
  }
  created = [];
}

describe("two hosts (network namespaces)", () => {
  beforeAll(() => {
    if (netnsReason) log(`SKIPPED two-host tests: ${netnsReason}`);
    else removeStaleNamespaces("sdrel");
  });
  // Processes first (they keep a namespace alive), then the namespaces.
  afterEach(async () => {
    await reapAll();
    removeHosts();
  });

  for (const [index, adapter] of ADAPTERS.entries()) {
    test.skipIf(netnsReason !== undefined)(
      `${adapter} adapter: a client in B reaches the server in A; with a link down it fails in time`,
      async () => {
        const hosts = twoHosts(index);
        const server = await startServer(["tcp-server", "--host", "10.250.0.1", "--port", "0"], {
          adapter,
          prefix: ["ip", "netns", "exec", hosts.a],
        });
        expect(server.host).toBe("10.250.0.1");
        const inB = ["ip", "netns", "exec", hosts.b];
        const target = ["--host", "10.250.0.1", "--port", String(server.port)];
        const ok = await runCli(["tcp-client", ...target], adapter, { prefix: inB });
        expect(ok.stderr).toBe("");
        expect(ok.code).toBe(0);
        expect(ok.stdout).toContain(
          `connected to ('10.250.0.1', ${server.port}) from ('10.250.0.2', `,
        );
        expect(ok.stdout).toContain("b'Receive: Hello TCP'");
        await server.waitFor(/connection from \('10\.250\.0\.2', \d+\)/);

        // The cable is pulled at the server's end: B still has its route, but nothing answers.
        ip("-n", hosts.a, "link", "set", hosts.vethA, "down");
        const silent = await runCli(["tcp-client", ...target, "--timeout", "1"], adapter, {
          prefix: inB,
          timeoutMs: 10_000,
        });
        expect(silent.code).toBe(1);
        const silentLines = silent.stderr.split("\n").filter(Boolean);
        expect(silentLines).toHaveLength(1);
        expect(silentLines[0]).toContain("ETIMEDOUT");
        expect(silent.ms).toBeGreaterThan(800);
        expect(silent.ms).toBeLessThan(3000);

        // B's own link down: the kernel drops B's route, so the connect fails at once.
        ip("-n", hosts.b, "link", "set", hosts.vethB, "down");
        const noRoute = await runCli(["tcp-client", ...target, "--timeout", "1"], adapter, {
          prefix: inB,
          timeoutMs: 10_000,
        });
        expect(noRoute.code).toBe(1);
        const noRouteLines = noRoute.stderr.split("\n").filter(Boolean);
        expect(noRouteLines).toHaveLength(1);
        expect(noRouteLines[0]).toContain("ENETUNREACH");
        expect(noRoute.ms).toBeLessThan(1000);

        expect((await server.stop()).code).toBe(0);
        log(
          `${adapter}: A (10.250.0.1) ⇄ B (10.250.0.2): reply in ${ok.ms.toFixed(0)} ms;` +
            ` far end down: ETIMEDOUT, exit 1 after ${silent.ms.toFixed(0)} ms (--timeout 1);` +
            ` own link down: ENETUNREACH, exit 1 after ${noRoute.ms.toFixed(0)} ms`,
        );
      },
      30_000,
    );
  }
});
