/**
 * The runtime contract (test/_contract.ts) against the Bun-native adapter,
 * and what only this adapter does: release() frees memory at once.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { bunRuntime } from "../src/runtime/bun.ts";
import type { TcpConnection, TcpListener } from "../src/runtime/types.ts";
import { contractSuite, deferred, within } from "./_contract.ts";

// Known gaps (ContractGap): none. Add one here by name, e.g. ["udp-icmp"], never delete a test.
contractSuite(bunRuntime, []);

describe("bun adapter: release() frees a large chunk of its own at once", () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  test("written bytes are detached; small or shared ones are left alone; read chunks too", async () => {
    const CHUNK = 64 * 1024;
    // What the server saw of each chunk it read, before and after releasing it.
    const lengths: { before: number; after: number }[] = [];
    let receivedTotal = 0;
    const arrived = deferred<void>();
    const listener: TcpListener = await bunRuntime.listenTcp({
      host: "127.0.0.1",
      port: 0,
      accept(conn) {
        cleanups.push(() => conn.destroy());
        return {
          data(c, chunk) {
            const before = chunk.byteLength;
            c.release(chunk);
            lengths.push({ before, after: chunk.byteLength });
            receivedTotal += before;
            if (receivedTotal === CHUNK + 100 + 200) arrived.resolve();
          },
        };
      },
    });
    cleanups.push(() => listener.close(true));
    const conn: TcpConnection = await bunRuntime.connectTcp({
      host: "127.0.0.1",
      port: listener.local.port,
      events: { data() {} },
    });
    cleanups.push(() => conn.destroy());

    const own = new Uint8Array(CHUNK).fill(7);
    const small = new Uint8Array(100).fill(8);
    const shared = new Uint8Array(2 * CHUNK).fill(9).subarray(CHUNK, CHUNK + 200);
    for (const bytes of [own, small, shared]) {
      conn.write(bytes);
      expect(conn.queuedBytes).toBe(0); // all taken by the kernel, so free to go
      conn.release(bytes);
    }
    expect(own.byteLength).toBe(0);
    expect(small.byteLength).toBe(100);
    expect(shared.byteLength).toBe(200);
    expect(shared.buffer.byteLength).toBe(2 * CHUNK);

    await within(arrived.promise, 5000, "the bytes at the server");
    // Each read chunk of 16 KiB or more was freed by release(); smaller ones were left.
    expect(lengths.length).toBeGreaterThan(0);
    for (const { before, after } of lengths) expect(after).toBe(before >= 16 * 1024 ? 0 : before);
    expect(lengths.some(({ after }) => after === 0)).toBe(true);
  }, 10_000);
});
