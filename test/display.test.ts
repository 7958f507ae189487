/**
 * The display layer against its reference, Python itself: bytesLiteral is
 * repr(bytes) and ast.literal_eval reads it back; pythonNow is
 * str(datetime.fromtimestamp(...)) in any time zone; toJsonLine's base64
 * round-trips; addressTuple is the repr of Python's socket address tuples.
 */
import { afterAll, describe, expect, test } from "bun:test";
import {
  addressTuple,
  bytesLiteral,
  PYTHON_NOW_LIMIT,
  peerTuple,
  pythonNow,
  writePythonNow,
} from "../src/display/bytes.ts";
import { type Stamped, toJsonLine } from "../src/display/events.ts";
import { Output, type OutputOptions } from "../src/display/output.ts";
import { killAll, scoped } from "./_cli.ts";

afterAll(killAll);

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

/** Run a Python script over stdin lines; its stdout lines. */
async function python(script: string, input: string[]): Promise<string[]> {
  return scoped(async (s) => {
    const ran = await s.python3(["-c", script], {
      stdin: input.map((line) => `${line}\n`).join(""),
      timeoutMs: 15_000,
    });
    expect({ code: ran.code, stderr: ran.stderr }).toEqual({ code: 0, stderr: "" });
    return ran.lines;
  });
}

/** Human output (no colors) captured as text; `written()` is what reached stdout so far. */
async function capturedOutput(options: Partial<OutputOptions> = {}) {
  let text = "";
  const sink = {
    write(chunk: string) {
      text += chunk;
    },
    isTTY: false,
  };
  const output = await Output.create({
    json: false,
    quiet: false,
    stdout: sink,
    stderr: sink,
    env: {},
    ...options,
  });
  return { output, written: () => text };
}

/** Deterministic "random" buffers (xorshift32): reproducible failures. */
function randomBuffers(count: number, seed = 0x5eed): Uint8Array[] {
  let x = seed;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  // Quotes, backslash and the named escapes often, so the quoting rules get exercised.
  const favourites = [0x27, 0x22, 0x5c, 0x09, 0x0a, 0x0d, 0x00, 0x7f, 0x80, 0xff, 0x20];
  return Array.from({ length: count }, (_, i) => {
    const length = i < 8 ? i : next() % 80;
    return Uint8Array.from({ length }, () => {
      const r = next();
      if (r % 4 === 0) return favourites[(r >>> 8) % favourites.length] as number;
      if (r % 4 === 1) return 0x20 + ((r >>> 8) % 95);
      return (r >>> 8) & 0xff;
    });
  });
}

const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);
const SINGLES = Array.from(ALL_BYTES, (b) => Uint8Array.of(b));
const RANDOM = randomBuffers(400);
/**
 * Text is copied as is up to its first byte that needs escaping or decides the
 * quotes: printable text with each such byte at every position, with and without `"`.
 */
const TEXTS = ["hello world, this is sockdemo", 'say "hi" to the server'].map(ascii);
const TEXT_THEN_SPECIAL = TEXTS.flatMap((text) => [
  text,
  ...[0x27, 0x22, 0x5c, 0x0a, 0x00, 0x7f, 0xff].flatMap((special) =>
    Array.from({ length: text.length + 1 }, (_, at) => {
      const bytes = new Uint8Array(text.length + 1);
      bytes.set(text.subarray(0, at));
      bytes[at] = special;
      bytes.set(text.subarray(at), at + 1);
      return bytes;
    }),
  ),
]);
const SAMPLES = [
  ...SINGLES,
  ALL_BYTES,
  ALL_BYTES.slice().reverse(),
  ...RANDOM,
  ...TEXT_THEN_SPECIAL,
];

describe("bytesLiteral is Python's repr(bytes)", () => {
  test("for each of the 256 byte values, all of them at once, 400 random buffers and text with one special byte anywhere", async () => {
    const expected = await python(
      "import sys\nfor line in sys.stdin.read().splitlines():\n    print(repr(bytes.fromhex(line)))",
      SAMPLES.map(hex),
    );
    expect(expected).toHaveLength(SAMPLES.length);
    const ours = SAMPLES.map(bytesLiteral);
    const differing = ours
      .map((literal, i) => ({
        bytes: hex(SAMPLES[i] as Uint8Array),
        ours: literal,
        python: expected[i],
      }))
      .filter((row) => row.ours !== row.python);
    expect(differing).toEqual([]);
  }, 20_000);

  test("ast.literal_eval gives back the exact bytes", async () => {
    const literals = SAMPLES.map(bytesLiteral);
    const back = await python(
      [
        "import ast, sys",
        "for line in sys.stdin.read().splitlines():",
        "    value = ast.literal_eval(line)",
        "    assert type(value) is bytes, line",
        "    print(value.hex())",
      ].join("\n"),
      literals,
    );
    expect(back).toEqual(SAMPLES.map(hex));
  }, 20_000);

  test("never writes a character outside printable ASCII", () => {
    for (const bytes of SAMPLES) expect(bytesLiteral(bytes)).toMatch(/^[\x20-\x7e]*$/);
  }, 5_000);

  test("quoting: ' alone switches to double quotes; ' with \" stays single and escapes '", () => {
    expect(bytesLiteral(ascii("Hello UDP"))).toBe("b'Hello UDP'");
    expect(bytesLiteral(ascii("it's"))).toBe(`b"it's"`);
    expect(bytesLiteral(ascii(`say "hi"`))).toBe(`b'say "hi"'`);
    expect(bytesLiteral(ascii(`it's "hi"`))).toBe(`b'it\\'s "hi"'`);
    expect(bytesLiteral(ascii("\\"))).toBe("b'\\\\'");
    expect(bytesLiteral(ascii("'\\"))).toBe(`b"'\\\\"`);
    expect(bytesLiteral(new Uint8Array(0))).toBe("b''");
    expect(bytesLiteral(Uint8Array.of(0, 9, 10, 13, 0x1b, 0x7f, 0x80, 0xff))).toBe(
      "b'\\x00\\t\\n\\r\\x1b\\x7f\\x80\\xff'",
    );
  }, 5_000);

  test("a view into a larger buffer shows only the view", () => {
    const backing = ascii(`xx'yy"zz`);
    // The view holds ' but not ": double quotes, although the whole buffer has both.
    expect(bytesLiteral(backing.subarray(2, 5))).toBe(`b"'yy"`);
  }, 5_000);
});

describe("addressTuple is the repr of Python's socket address", () => {
  test("IPv4 is (host, port); IPv6 is (host, port, flowinfo, scope_id)", () => {
    expect(addressTuple({ address: "127.0.0.1", port: 50000, family: "IPv4" })).toBe(
      "('127.0.0.1', 50000)",
    );
    expect(addressTuple({ address: "::1", port: 54321, family: "IPv6" })).toBe(
      "('::1', 54321, 0, 0)",
    );
    expect(addressTuple({ address: "fe80::1", port: 0, family: "IPv6" })).toBe(
      "('fe80::1', 0, 0, 0)",
    );
  }, 5_000);

  test("matches what Python's own sockets report", async () => {
    const lines = await python(
      [
        "import socket",
        "for family, host in ((socket.AF_INET, '127.0.0.1'), (socket.AF_INET6, '::1')):",
        "    with socket.socket(family, socket.SOCK_DGRAM) as s:",
        "        s.bind((host, 0))",
        "        print(s.getsockname()[1], repr(s.getsockname()))",
      ].join("\n"),
      [],
    );
    const [v4, v6] = lines.map((line) => line.split(/ (.*)/)) as [string[], string[]];
    expect(addressTuple({ address: "127.0.0.1", port: Number(v4[0]), family: "IPv4" })).toBe(
      v4[1] as string,
    );
    expect(addressTuple({ address: "::1", port: Number(v6[0]), family: "IPv6" })).toBe(
      v6[1] as string,
    );
  }, 20_000);
});

describe("pythonNow is str(datetime.fromtimestamp(t))", () => {
  // Milliseconds with fractions a double holds exactly, so the expected microsecond is unambiguous.
  const EPOCHS_MS = [
    0, // 1970-01-01, a different calendar day in half the zones
    1_700_000_000_000, // whole second: Python leaves out the fraction
    1_700_000_000_123, // .123000: the fraction is kept, zero-padded
    1_700_000_000_000.5, // .000500
    1_700_000_000_999.875, // .999875
    1_700_000_000_000.125, // .000125
    951_782_400_000.25, // 2000-02-29
    1_711_846_799_999.75, // a moment before Europe's 2024 spring-forward
    1_730_595_600_001, // around the 2024 US fall-back
    2_147_483_647_000, // 2038-01-19, past 32-bit time_t
    4_102_444_800_000.5, // 2100-01-01
  ];
  const ZONES = [
    "UTC",
    "Asia/Tokyo",
    "America/New_York",
    "Europe/London",
    "America/St_Johns", // -03:30
    "Asia/Kathmandu", // +05:45
    "Pacific/Chatham", // +12:45 / +13:45
    "Pacific/Kiritimati", // +14
  ];

  test("for fixed instants in eight time zones", async () => {
    const cases = ZONES.flatMap((zone) => EPOCHS_MS.map((ms) => ({ zone, ms })));
    const expected = await python(
      [
        "import os, sys, time",
        "from datetime import datetime",
        "for line in sys.stdin.read().splitlines():",
        "    zone, micros = line.split()",
        "    os.environ['TZ'] = zone",
        "    time.tzset()",
        "    micros = int(micros)",
        "    print(datetime.fromtimestamp(micros // 10**6).replace(microsecond=micros % 10**6))",
      ].join("\n"),
      cases.map(({ zone, ms }) => `${zone} ${ms * 1000}`),
    );
    // A process reads its time zone once (as sockdemo does), so each zone gets its own child.
    const module = new URL("../src/display/bytes.ts", import.meta.url).pathname;
    const ours: string[] = [];
    for (const zone of ZONES) {
      const child = Bun.spawn(
        [
          process.execPath,
          "-e",
          `const { pythonNow } = await import(${JSON.stringify(module)});
           for (const ms of ${JSON.stringify(EPOCHS_MS)}) console.log(pythonNow(ms));`,
        ],
        { env: { ...process.env, TZ: zone }, stdout: "pipe", stderr: "inherit" },
      );
      const lines = (await new Response(child.stdout).text()).trimEnd().split("\n");
      expect(await child.exited).toBe(0);
      ours.push(...lines);
    }
    const rows = cases.map((c, i) => ({ ...c, ours: ours[i], python: expected[i] }));
    expect(rows.filter((r) => r.ours !== r.python)).toEqual([]);
    // Sanity: the zones really differ, so the comparison was not in one zone throughout.
    expect(new Set(rows.filter((r) => r.ms === 0).map((r) => r.ours)).size).toBeGreaterThan(4);
  }, 20_000);

  test("fraction: six digits, or none at all when the microseconds are zero", () => {
    const format = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$/;
    expect(pythonNow(1_700_000_000_000)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    // Below a microsecond is cut off, as datetime.now() does (CPython rounds the clock down).
    expect(pythonNow(1_700_000_000_000 + 1 / 64)).toMatch(/:20\.000015$/);
    expect(pythonNow(1_700_000_000_000 + 1 / 1024)).toMatch(/:20$/);
    expect(pythonNow(1_700_000_000_010)).toMatch(/\.010000$/);
    expect(pythonNow()).toMatch(format);
    const now = Date.now();
    const shown = pythonNow(now);
    const parsed = new Date(shown.replace(" ", "T")).getTime(); // read back as local time
    expect(Math.abs(parsed - now)).toBeLessThan(1);
  }, 5_000);
});

describe("the UDP server's line, written straight into the output buffer", () => {
  test("writePythonNow writes exactly pythonNow's text, cache or no cache", () => {
    const out = new Uint8Array(PYTHON_NOW_LIMIT + 8).fill(0x21);
    const epochs = [0, 1_700_000_000_000, 1_700_000_000_000 + 1 / 64, 1_700_000_000_999.5];
    let x = 0x2545f491;
    for (let i = 0; i < 2000; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      // Runs inside one second (the cached case) and jumps across years (the uncached one).
      const base = i % 3 === 0 ? 1_600_000_000_000 + (x >>> 0) * 1000 : 1_764_000_000_000;
      epochs.push(base + ((x >>> 0) % 1_000_000) / 1000);
    }
    for (const ms of epochs) {
      const end = writePythonNow(out, 4, ms);
      expect(Buffer.from(out.subarray(4, end)).toString("latin1")).toBe(pythonNow(ms));
      expect(end - 4).toBeLessThanOrEqual(PYTHON_NOW_LIMIT);
      expect(out[end]).toBe(0x21); // nothing written past the end it reports
      out.fill(0x21);
    }
  });

  test("data and reply lines: each peer's own address, also when two peers share a port", async () => {
    const { output, written } = await capturedOutput();
    const report = output.reporter("udp-server");
    const peers = [
      { address: "127.0.0.1", port: 40000, family: "IPv4" as const },
      { address: "127.0.0.2", port: 40000, family: "IPv4" as const },
      { address: "::1", port: 40000, family: "IPv6" as const },
      { address: "127.0.0.1", port: 40000, family: "IPv4" as const },
    ];
    for (const peer of peers) {
      report.emit({ event: "data", proto: "udp", peer, bytes: ascii("it's"), truncated: false });
      report.emit({ event: "reply", proto: "udp", peer, bytes: ascii("Receive: it's") });
    }
    await output.flush();
    const lines = written().trimEnd().split("\n");
    expect(lines).toHaveLength(8);
    peers.forEach((peer, i) => {
      const tuple = addressTuple(peer);
      expect(lines[2 * i]).toMatch(
        /^at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})? data: {2}b"it's" addr: {2}/,
      );
      expect(lines[2 * i]?.endsWith(` addr:  ${tuple}`)).toBe(true);
      expect(lines[2 * i + 1]).toBe(`reply: b"Receive: it's" addr:  ${tuple}`);
    });
  });
});

describe("a peer whose address the runtime could not read", () => {
  // A client that resets before its connection is accepted: the runtimes report "" and port 0.
  const gone = { address: "", port: 0, family: "IPv4" as const };
  const local = { address: "127.0.0.1", port: 50000, family: "IPv4" as const };

  test("is named as unknown, never shown as the tuple ('', 0)", async () => {
    const { output, written } = await capturedOutput({ explain: "en" });
    const report = output.reporter("tcp-server");
    report.emit({ event: "connection", proto: "tcp", conn: 1, local, peer: gone });
    report.explain({ step: "accept", peer: gone, local });
    report.emit({
      event: "close",
      proto: "tcp",
      conn: 1,
      peer: gone,
      reason: "reset",
      bytesIn: 0,
      bytesOut: 0,
      durationMs: 0.1,
    });
    await output.flush();
    const lines = written().trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(
      "connection from an unknown peer (gone before its address could be read)",
    );
    expect(lines[1]).toContain("accept(): an unknown peer (gone before its address could be read)");
    expect(lines[2]).toStartWith(
      "an unknown peer (gone before its address could be read) reset by peer;",
    );
    expect(written()).not.toContain("('', 0)");
  });

  test("a known address still reads as Python's tuple", () => {
    expect(peerTuple(local)).toBe("('127.0.0.1', 50000)");
    expect(peerTuple(gone)).toBe("an unknown peer (gone before its address could be read)");
  });
});

describe("toJsonLine", () => {
  const peer = { address: "127.0.0.1", port: 54321, family: "IPv4" as const };

  test("bytes become their count and base64 that decodes to exactly them", () => {
    for (const bytes of [...SAMPLES.slice(0, 260), ...RANDOM.slice(0, 100)]) {
      const event: Stamped = {
        event: "data",
        proto: "tcp",
        peer,
        bytes,
        offset: 7,
        role: "tcp-server",
        time: 1_700_000_000_123.456,
      };
      const line = toJsonLine(event);
      expect(line).not.toContain("\n");
      const parsed = JSON.parse(line);
      expect(Object.keys(parsed).slice(0, 3)).toEqual(["event", "role", "time"]);
      expect(parsed).toEqual({
        event: "data",
        role: "tcp-server",
        time: "2023-11-14T22:13:20.123Z",
        proto: "tcp",
        peer,
        bytes: bytes.byteLength,
        base64: Buffer.from(bytes).toString("base64"),
        offset: 7,
      });
      expect(hex(Buffer.from(parsed.base64, "base64"))).toBe(hex(bytes));
    }
  }, 5_000);

  test("a view into a larger buffer encodes only the view", () => {
    const backing = Uint8Array.from({ length: 64 }, (_, i) => i);
    const view = backing.subarray(10, 13);
    const parsed = JSON.parse(
      toJsonLine({ event: "reply", proto: "udp", peer, bytes: view, role: "udp-server", time: 0 }),
    );
    expect(parsed.bytes).toBe(3);
    expect([...Buffer.from(parsed.base64, "base64")]).toEqual([10, 11, 12]);
  }, 5_000);

  test("durations are rounded to the microsecond; undefined fields are left out", () => {
    const parsed = JSON.parse(
      toJsonLine({
        event: "close",
        proto: "tcp",
        peer,
        reason: "eof",
        finFirst: undefined,
        bytesIn: 1,
        bytesOut: 2,
        durationMs: 1.23456789,
        role: "tcp-client",
        time: 0,
      }),
    );
    expect(parsed.durationMs).toBe(1.235);
    expect("finFirst" in parsed).toBe(false);
    expect(parsed.time).toBe("1970-01-01T00:00:00.000Z");
  }, 5_000);
});
