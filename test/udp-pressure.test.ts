/**
 * UDP when the kernel has no room for another datagram, against each socket
 * adapter. On plain loopback that never happens (a datagram the receiver has
 * no room for is dropped, not queued), so these tests make a network
 * namespace whose loopback sends through a rate limit (tc tbf, 200 Mbit/s):
 * datagrams queue there, they count against the sender's buffer, and the
 * runtime's send reports "try again" until the queue drains.
 *
 * The contract (src/runtime/types.ts) still holds: every datagram leaves, in
 * the order send() and reply() were called, with its bytes intact, and
 * close() resolves only once all of them have left. Needs root, `ip` and `tc`;
 * the test says why when it skips.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import {
  ADAPTERS,
  collect,
  HELPERS,
  hasTool,
  mustRun,
  reapAll,
  removeStaleNamespaces,
  run,
  spawnTracked,
  waitUntil,
} from "./_reliability.ts";

const log = (...parts: unknown[]) => console.log("[udp-pressure]", ...parts);

const COUNT = 300;
const SIZE = 60_000;
const RATE_BITS = 200e6;

const skipReason =
  process.getuid?.() !== 0
    ? "not root: creating a network namespace needs CAP_SYS_ADMIN"
    : !hasTool("ip") || !hasTool("tc")
      ? "ip or tc (iproute2) is not installed"
      : undefined;

const namespace = `sdudp${process.pid}`;

describe("UDP with the kernel's send buffer full (rate-limited loopback in a network namespace)", () => {
  beforeAll(() => {
    if (skipReason) return log(`SKIPPED: ${skipReason}`);
    removeStaleNamespaces("sdudp");
    mustRun("ip", "netns", "add", namespace);
    mustRun("ip", "-n", namespace, "link", "set", "lo", "up");
    // The queue (limit) holds far more than a socket's send buffer: datagrams wait, none is dropped.
    mustRun(
      "tc",
      ...["-n", namespace, "qdisc", "add", "dev", "lo", "root"],
      ...["tbf", "rate", "200mbit", "burst", "64kb", "limit", "20mb"],
    );
  });
  afterAll(async () => {
    await reapAll();
    if (!skipReason) spawnSync("ip", ["netns", "del", namespace]);
  });

  for (const adapter of ADAPTERS) {
    test.skipIf(skipReason !== undefined)(
      `${adapter} adapter: ${COUNT} datagrams of ${SIZE} bytes sent at once all arrive, in order and intact; close() waits for them`,
      async () => {
        const inNamespace = ["ip", "netns", "exec", namespace];
        const sink = spawnTracked(
          [...inNamespace, "python3", join(HELPERS, "udp_sink.py"), String(COUNT), "3"],
          {
            env: { ...process.env } as Record<string, string>,
          },
        );
        const sinkOut = collect(sink.stdout);
        /** The sink's line `n` (from 0), once complete. */
        const sinkLine = (n: number, what: string) =>
          waitUntil(
            () => {
              const lines = sinkOut.text().split("\n");
              return lines.length > n + 1 ? (lines[n] as string) : undefined;
            },
            10_000,
            what,
          );
        const first = await sinkLine(0, "the sink's port");
        const { port } = JSON.parse(first) as { port: number };

        const burst = await run(
          [
            ...inNamespace,
            process.execPath,
            join(HELPERS, "udp_burst.ts"),
            adapter,
            String(port),
            String(COUNT),
            String(SIZE),
          ],
          { env: { ...process.env } as Record<string, string>, timeoutMs: 20_000 },
        );
        expect(burst.stderr).toBe("");
        expect(burst.code).toBe(0);
        const sent = JSON.parse(burst.stdout) as {
          sendsResolved: number;
          failures: string[];
          closeMs: number;
        };
        const received = JSON.parse(await sinkLine(1, "the sink's report")) as {
          sequence: number[];
          exact: boolean[];
        };

        expect(sent.failures).toEqual([]);
        // Every send() had resolved by the time close() did.
        expect(sent.sendsResolved).toBe(COUNT / 2);
        // At 200 Mbit/s the datagrams need this long to leave: close() really waited for them.
        const leaveMs = ((COUNT * SIZE * 8) / RATE_BITS) * 1000;
        expect(sent.closeMs).toBeGreaterThan(leaveMs / 2);
        expect(received.sequence).toEqual(Array.from({ length: COUNT }, (_, n) => n));
        expect(received.exact.every(Boolean)).toBe(true);
        log(
          `${adapter}: ${COUNT} × ${SIZE} B through a 200 Mbit/s loopback; close() after ${sent.closeMs.toFixed(0)} ms ` +
            `(${leaveMs.toFixed(0)} ms at the rate limit); ${received.sequence.length} received in order, all intact`,
        );
      },
      40_000,
    );
  }
});
