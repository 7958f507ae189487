/**
 * Command-line fuzzing (fast-check): thousands of argument lists, each built
 * from a command, valid-looking options (repeated, shuffled, with odd unicode
 * and ~1 MB messages) and at least one element that is certainly wrong: a
 * port outside 0–65535 or not a number, an empty host, an unknown flag or
 * command, a missing value, a bad count, timeout, mode, shell or language,
 * an extra argument. Every one must exit 2 with exactly one stderr line
 * starting `sockdemo:`, no stack trace, and never start anything.
 *
 * In process through `main(argv)` for speed (each call bounded in time, and
 * aborted if it ever got as far as serving); then a sample through the real
 * binary, with both adapters, must behave the same.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { main } from "../src/main.ts";
import {
  type Adapter,
  BINARY,
  checkBinary,
  closedUdpPort,
  reapAll,
  runCli,
} from "./_reliability.ts";

const log = (...parts: unknown[]) => console.log("[fuzz]", ...parts);

// --- the generators ---

type Arb = fc.Arbitrary<string>;
/** An argv piece that stays together: a flag, or a flag and its value. */
type Fragment = string[];

const COMMANDS = [
  "tcp-server",
  "tcp-client",
  "udp-server",
  "udp-client",
  "demo",
  "check",
  "ports",
  "bench",
  "completions",
] as const;
type Command = (typeof COMMANDS)[number];

/** Text that cac will not read as a flag or as the end of options. */
const word = (arb: Arb): Arb => arb.filter((w) => w.length > 0 && !w.startsWith("-"));
/** Strings of every kind: ASCII, printable unicode graphemes, any code point (controls too). */
const anyText = (maxLength = 12): Arb =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: "grapheme", maxLength }),
    fc.string({ unit: "binary", maxLength }),
  );
const digits = (n: string) => /^\s*\d+\s*$/.test(n);
const huge: Arb = fc
  .tuple(fc.integer({ min: 900_000, max: 1_100_000 }), fc.constantFrom("A", "é", "🙂", "\u202e"))
  .map(([n, ch]) => ch.repeat(Math.ceil(n / ch.length)));

const VALID_VALUES: Record<string, Arb | null> = {
  json: null,
  quiet: null,
  hex: null,
  explain: null,
  lang: fc.constantFrom("en", "ja"),
  host: fc.constantFrom("127.0.0.1", "::1", "localhost", "0.0.0.0", "::"),
  port: fc.integer({ min: 0, max: 65_535 }).map(String),
  prefix: word(anyText()),
  "no-reply": null,
  echo: null,
  stdin: null,
  udp: null,
  count: fc.integer({ min: 1, max: 1_000_000 }).map(String),
  "max-conns": fc.integer({ min: 1, max: 100_000 }).map(String),
  conns: fc.integer({ min: 1, max: 1000 }).map(String),
  size: fc.integer({ min: 1, max: 65_507 }).map(String),
  "idle-timeout": fc.oneof(fc.integer({ min: 0, max: 86_400 }).map(String), fc.constant("0.25")),
  timeout: fc.oneof(fc.integer({ min: 0, max: 86_400 }).map(String), fc.constant("1.5")),
  duration: fc.integer({ min: 1, max: 60 }).map(String),
  wait: fc.integer({ min: 0, max: 86_400_000 }).map(String),
  mode: fc.constantFrom("pingpong", "stream"),
};
const GLOBAL = ["json", "quiet", "hex", "explain", "lang"];
const OPTIONS: Record<Command, string[]> = {
  "tcp-server": ["host", "port", "prefix", "no-reply", "count", "idle-timeout", "max-conns"],
  "tcp-client": ["stdin", "host", "port", "timeout"],
  "udp-server": ["host", "port", "count", "echo", "prefix"],
  "udp-client": ["stdin", "host", "port", "wait"],
  demo: ["host"],
  check: ["udp", "timeout"],
  ports: [],
  bench: ["udp", "mode", "conns", "size", "duration", "prefix"],
  completions: [],
};
const camel = (name: string) => name.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
/** Every name cac accepts: as written and camelCased (`--maxConns` is `--max-conns` to cac). */
const KNOWN = new Set(
  [...GLOBAL, ...Object.values(OPTIONS).flat(), "help", "h", "version", "v"].flatMap((n) => [
    n,
    camel(n),
  ]),
);
const VALUED = (command: Command) =>
  [...GLOBAL, ...OPTIONS[command]].filter((name) => VALID_VALUES[name] !== null);

/** Valid positional arguments per command (message words, target, port, shell). */
const POSITIONAL: Record<Command, fc.Arbitrary<string[]>> = {
  "tcp-client": fc.oneof(
    fc.array(word(anyText(20)), { maxLength: 3 }),
    huge.map((h) => [h]),
  ),
  "udp-client": fc.oneof(
    fc.array(word(anyText(20)), { maxLength: 3 }),
    huge.map((h) => [h]),
  ),
  "tcp-server": fc.constant([]),
  "udp-server": fc.constant([]),
  demo: fc.constant([]),
  check: fc.constantFrom(["127.0.0.1:50000"], ["[::1]:80"], ["localhost:1"]),
  bench: fc.constantFrom(["127.0.0.1:50000"], ["[::1]:7000"]),
  ports: fc.constantFrom([], ["80"], ["50000"]),
  completions: fc.constantFrom(["bash"], ["zsh"], ["fish"]),
};

/** What makes a case wrong; `targets` are option names the noise must not repeat (the last value wins). */
interface Wrong {
  why: string;
  fragment: Fragment;
  targets: string[];
  /** Must be the last element of argv (a missing value, or `--` and what follows). */
  last?: boolean;
  /** Replaces the command name. */
  command?: string;
  /** Replaces the valid positional arguments. */
  positional?: string[];
}

const outOfRange: Arb = fc.oneof(
  fc.integer({ min: 65_536, max: 2 ** 40 }).map(String),
  fc.integer({ min: -(2 ** 40), max: -1 }).map(String),
);
const notANumber: Arb = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "0x10",
    "1e3",
    "1.5",
    "٣",
    "５０",
    "+1",
    "0b1",
    "Infinity",
    "NaN",
    "1_000",
  ),
  anyText().filter((v) => !digits(v)),
);
const badPort = fc.oneof(outOfRange, notANumber, fc.constantFrom("65536", "99999999999999999999"));
const badCount = fc.oneof(
  notANumber,
  fc.constantFrom("0", "-1", "00", "99999999999999999999"),
  fc.integer({ max: 0 }).map(String),
);
const badSeconds = fc.oneof(
  fc.constantFrom("-1", "86401", "1e3", ".5", "5.", "Infinity", "NaN", "0x1", "", " "),
  anyText().filter((v) => !/^\s*\d+(\.\d+)?\s*$/.test(v)),
  fc.integer({ min: 86_401, max: 2 ** 40 }).map(String),
);
const badMs = fc.oneof(
  fc.constantFrom("1.5", "-1", "86400001", "", "1e3"),
  anyText().filter((v) => !digits(v)),
);
const badHost = fc.oneof(
  fc.constantFrom("", " ", "\t", "a b", "a/b", "true", "host/", " 127.0.0.1 x"),
  anyText().map((v) => `${v}/${v}`),
);
const unknownName: Arb = fc
  .oneof(
    fc.stringMatching(/^[a-z][a-z0-9-]{0,14}$/),
    anyText(10),
    fc.constantFrom(
      "__proto__",
      "constructor",
      "prototype",
      "_",
      "-",
      "-port",
      "toString",
      "hasOwnProperty",
      "json.x",
      "port.0",
      "Port",
      "JSON",
      "helpme",
      "versions",
    ),
  )
  .filter(
    (name) =>
      name.length > 0 &&
      !name.includes("=") &&
      !KNOWN.has(name) &&
      !(name.startsWith("no-") && KNOWN.has(name.slice(3))) &&
      !(name.startsWith("no") && KNOWN.has(name.slice(2, 3).toLowerCase() + name.slice(3))),
  );

/** Every way to be wrong that applies to `command`. */
function wrongFor(command: Command): fc.Arbitrary<Wrong> {
  const options = [...GLOBAL, ...OPTIONS[command]];
  const has = (name: string) => options.includes(name);
  const value = (name: string, arb: Arb, why: string): fc.Arbitrary<Wrong> =>
    fc.tuple(arb, fc.boolean()).map(([v, glued]) => ({
      why: `${why}: --${name} ${JSON.stringify(v)}`,
      fragment: glued ? [`--${name}=${v}`] : [`--${name}`, v],
      targets: [name],
    }));
  const kinds: fc.Arbitrary<Wrong>[] = [
    unknownName.map((name) => ({
      why: `unknown flag: --${name}`,
      fragment: [`--${name}`],
      targets: [],
    })),
    // Any single letter but h and v (the two short options), or a group, which may hide an h or v.
    fc
      .oneof(fc.stringMatching(/^[a-gi-uw-z]$/), fc.stringMatching(/^[a-z]{2,4}$/))
      .map((letters) => ({
        why: `unknown short flag: -${letters}`,
        fragment: [`-${letters}`],
        targets: [],
      })),
    fc.constantFrom(...VALUED(command)).map((name) => ({
      why: `missing value: --${name}`,
      fragment: [`--${name}`],
      targets: [name],
      last: true,
    })),
    word(anyText())
      .filter((name) => !(COMMANDS as readonly string[]).includes(name))
      .map((name) => ({
        why: `unknown command: ${name}`,
        fragment: [],
        targets: [],
        command: name,
      })),
    word(anyText())
      .filter((lang) => lang !== "en" && lang !== "ja")
      .map((lang) => ({
        why: `bad --lang: ${JSON.stringify(lang)}`,
        fragment: ["--explain", "--lang", lang],
        targets: ["lang", "explain"],
      })),
  ];
  // mri passed such a value on as an argument: `udp-client --json=yes` sent "yes".
  const flags = options.filter((name) => VALID_VALUES[name] === null);
  if (flags.length > 0) {
    kinds.push(
      fc
        .tuple(
          fc.constantFrom(...flags),
          fc.oneof(fc.constantFrom("", "yes", "0", "1", "TRUE"), anyText()),
        )
        .filter(([, v]) => v !== "true" && v !== "false")
        .map(([name, v]) => ({
          why: `value on a flag: --${name}=${JSON.stringify(v)}`,
          fragment: [`--${name}=${v}`],
          targets: [name],
        })),
    );
  }
  if (has("port")) kinds.push(value("port", badPort, "bad --port"));
  if (has("host")) kinds.push(value("host", badHost, "bad --host"));
  for (const name of ["count", "max-conns", "conns"]) {
    if (has(name)) kinds.push(value(name, badCount, `bad --${name}`));
  }
  for (const name of ["idle-timeout", "timeout", "duration"]) {
    if (has(name)) kinds.push(value(name, badSeconds, `bad --${name}`));
  }
  if (has("wait")) kinds.push(value("wait", badMs, "bad --wait"));
  if (has("size")) {
    kinds.push(
      value(
        "size",
        fc.oneof(badCount, fc.integer({ min: 65_508, max: 10_000_000 }).map(String)),
        "bad --size",
      ),
    );
  }
  if (has("mode")) {
    kinds.push(
      value(
        "mode",
        anyText().filter((m) => m !== "pingpong" && m !== "stream"),
        "bad --mode",
      ),
    );
  }
  const extra = word(anyText());
  if (["tcp-server", "udp-server", "demo"].includes(command)) {
    kinds.push(extra.map((w) => ({ why: `extra argument: ${w}`, fragment: [w], targets: [] })));
    kinds.push(
      extra.map((w) => ({
        why: `argument after --: ${w}`,
        fragment: ["--", w],
        targets: [],
        last: true,
      })),
    );
  }
  if (command === "ports") {
    kinds.push(
      fc
        .oneof(
          badPort.map((p) => [p]),
          fc.tuple(extra, extra),
        )
        .map((args) => ({
          why: `bad ports arguments: ${JSON.stringify(args)}`,
          fragment: [],
          targets: [],
          positional: args,
        })),
    );
  }
  if (command === "check" || command === "bench") {
    kinds.push(
      word(anyText())
        .filter((t) => !t.includes(":"))
        .map((t) => ({
          why: `bad target: ${JSON.stringify(t)}`,
          fragment: [],
          targets: [],
          positional: [t],
        })),
      fc.constant({ why: "missing target: -", fragment: [], targets: [], positional: [] }),
    );
  }
  if (command === "completions") {
    kinds.push(
      word(anyText())
        .filter((s) => !["bash", "zsh", "fish"].includes(s))
        .map((s) => ({
          why: `bad shell: ${JSON.stringify(s)}`,
          fragment: [],
          targets: [],
          positional: [s],
        })),
    );
  }
  return fc.oneof(...kinds);
}

export interface Case {
  argv: string[];
  why: string[];
}

/** One valid option of `command` (or a global one), with a valid value if it takes one. */
const validFragment = (command: Command): fc.Arbitrary<Fragment> =>
  fc.oneof(
    ...[...GLOBAL, ...OPTIONS[command]].map((name) => {
      const arb = VALID_VALUES[name];
      return arb
        ? arb.map((v): Fragment => [`--${name}`, v])
        : fc.constant<Fragment>([`--${name}`]);
    }),
  );

const caseFor = (command: Command): fc.Arbitrary<Case> =>
  fc
    .tuple(
      fc.array(wrongFor(command), { minLength: 1, maxLength: 3 }),
      // Valid options, possibly repeated.
      fc.array(validFragment(command), { maxLength: 6 }),
      POSITIONAL[command],
      fc.array(fc.nat(), { minLength: 32, maxLength: 32 }),
    )
    .map(([wrongs, valid, positional, keys]) => {
      // At most one element may insist on being last.
      const lastOne = wrongs.find((w) => w.last);
      const kept = wrongs.filter((w) => !w.last || w === lastOne);
      // The last value of a repeated text option wins: never give a targeted option a valid value too.
      const targets = new Set(kept.flatMap((w) => w.targets));
      const fragments: Fragment[] = valid.filter((f) => !targets.has((f[0] as string).slice(2)));
      const replaced = kept.find((w) => w.positional)?.positional;
      for (const p of replaced ?? positional) fragments.push([p]);
      for (const w of kept) if (!w.last && w.fragment.length > 0) fragments.push(w.fragment);
      // Shuffle the fragments (each keeps its flag and value together).
      const shuffled = fragments
        .map((f, i) => ({ f, key: (keys[i % keys.length] as number) * 64 + i }))
        .sort((a, b) => a.key - b.key)
        .map(({ f }) => f);
      const name = kept.find((w) => w.command !== undefined)?.command ?? command;
      const argv = [name, ...shuffled.flat(), ...(lastOne ? lastOne.fragment : [])];
      return { argv, why: kept.map((w) => w.why) };
    });

export const anyCase: fc.Arbitrary<Case> = fc.oneof(
  ...COMMANDS.map((command) => caseFor(command)),
  // No command at all, only flags, one of them unknown.
  fc.tuple(unknownName, fc.subarray(["--json", "--quiet", "--hex"])).map(([name, flags]) => ({
    argv: [...flags, `--${name}`],
    why: [`unknown flag without a command: --${name}`],
  })),
);

// --- running main() in this process ---

interface Outcome {
  code: number | "timeout" | "threw";
  stdout: string;
  stderr: string;
  ms: number;
}

const CALL_LIMIT_MS = 3000;

async function inProcess(argv: string[]): Promise<Outcome> {
  let stdout = "";
  let stderr = "";
  const stop = new AbortController();
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const code = await Promise.race([
      main(argv, {
        signal: stop.signal,
        stdout: {
          isTTY: false,
          write: (text) => {
            stdout += text;
          },
        },
        stderr: {
          isTTY: false,
          write: (text) => {
            stderr += text;
          },
        },
      }),
      new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), CALL_LIMIT_MS);
      }),
    ]);
    return { code, stdout, stderr, ms: performance.now() - started };
  } catch (error) {
    return { code: "threw", stdout, stderr: `${stderr}${error}`, ms: performance.now() - started };
  } finally {
    clearTimeout(timer);
    // Whatever it was doing (it should never have started anything), stop it.
    stop.abort();
  }
}

/** Whether `text` holds a C0 or C1 control character or DEL (ESC, CR, NUL, a newline, ...). */
function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true;
  }
  return false;
}

/** The contract for a wrong argv; returns a reason it was broken, or undefined. */
function broken(outcome: Outcome): string | undefined {
  if (outcome.code !== 2) return `exit ${outcome.code}, not 2`;
  if (!outcome.stderr.endsWith("\n")) return "stderr does not end with a newline";
  const lines = outcome.stderr.slice(0, -1).split("\n");
  if (lines.length !== 1) return `${lines.length} stderr lines, not 1`;
  const line = lines[0] as string;
  if (!line.startsWith("sockdemo: ")) return "stderr line does not start with sockdemo:";
  if (/\bat .*:\d+:\d+\)?$|EINTERNAL|unexpected error/.test(line))
    return "stack trace or internal error";
  if (hasControl(outcome.stderr.slice(0, -1))) return "raw control character on stderr";
  for (const out of outcome.stdout.split("\n").filter(Boolean)) {
    let event: { event?: string } | undefined;
    try {
      event = JSON.parse(out);
    } catch {
      return `stdout has a non-JSON line: ${out.slice(0, 80)}`;
    }
    if (event?.event !== "error") return `stdout has a ${event?.event} event`;
  }
  return undefined;
}

const show = (argv: string[]) =>
  JSON.stringify(argv.map((a) => (a.length > 60 ? `${a.slice(0, 20)}…(${a.length} chars)` : a)));

// --- the tests ---

const savedEnv: Record<string, string | undefined> = {};
beforeAll(() => {
  checkBinary();
  // Colors would be forced by FORCE_COLOR even into captured text; the contract is for plain output.
  for (const key of ["FORCE_COLOR", "NO_COLOR"]) {
    savedEnv[key] = process.env[key];
    delete process.env[key];
  }
});
afterAll(() => {
  for (const [key, value] of Object.entries(savedEnv)) {
    if (value !== undefined) process.env[key] = value;
  }
});
afterEach(reapAll);

describe("fuzzed command lines", () => {
  test("2,000 wrong argv in process: exit 2, one `sockdemo:` line, nothing started", async () => {
    const seen = new Set<string>();
    let runs = 0;
    let slowest = 0;
    const stats = { huge: 0, unicode: 0, control: 0, repeated: 0 };
    const started = performance.now();
    await fc.assert(
      fc.asyncProperty(anyCase, async ({ argv, why }) => {
        runs++;
        const outcome = await inProcess(argv);
        slowest = Math.max(slowest, outcome.ms);
        for (const w of why) seen.add(w.slice(0, w.indexOf(": ")));
        if (argv.some((a) => a.length > 500_000)) stats.huge++;
        if (argv.some((a) => [...a].some((ch) => (ch.codePointAt(0) as number) > 0x7f)))
          stats.unicode++;
        if (argv.some(hasControl)) stats.control++;
        const flags = argv.filter((a) => a.startsWith("--"));
        if (new Set(flags).size < flags.length) stats.repeated++;
        const reason = broken(outcome);
        if (reason) {
          throw new Error(
            `${reason}\nargv: ${show(argv)}\nwrong because: ${why.join("; ")}\nexit: ${outcome.code}\nstderr: ${JSON.stringify(outcome.stderr.slice(0, 500))}\nstdout: ${JSON.stringify(outcome.stdout.slice(0, 300))}`,
          );
        }
      }),
      { numRuns: 2000, endOnFailure: true },
    );
    expect(runs).toBeGreaterThanOrEqual(2000);
    log(
      `${runs} wrong argv in process in ${((performance.now() - started) / 1000).toFixed(1)} s` +
        ` (slowest ${slowest.toFixed(0)} ms): ${stats.huge} with a ~1 MB argument, ${stats.unicode} with` +
        ` non-ASCII, ${stats.control} with control characters, ${stats.repeated} with a repeated flag;` +
        ` wrong by: ${[...seen].sort().join(", ")}`,
    );
  }, 120_000);

  test("messages reach the wire as typed: no number conversion, `--` ends the options", async () => {
    const port = String(await closedUdpPort());
    const sent = async (argv: string[]) => {
      const outcome = await inProcess(argv);
      expect(outcome.stderr).toBe("");
      expect(outcome.code).toBe(0);
      const event = outcome.stdout
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { event: string; base64?: string })
        .find((e) => e.event === "sent");
      return Buffer.from(event?.base64 ?? "", "base64").toString();
    };
    const base = ["udp-client", "--wait", "0", "--port", port];
    // mri read a word after a flag as a number: "007" went out as "7", "1e3" as "1000".
    for (const word of ["007", "1e3", "0x10", "+1", "1.50"]) {
      expect(await sent([...base, "--json", word])).toBe(word);
      expect(await sent(["udp-client", "--json", word, "--wait", "0", "--port", port])).toBe(word);
    }
    expect(await sent([...base, "--json", "--", "-x", "--y"])).toBe("-x --y");
    expect((await inProcess(["ports", "--json", "0x10"])).code).toBe(2);
  });

  test("a sample of 50 through the real binary (both adapters) behaves the same", async () => {
    // exec() refuses one argument over 128 KiB, and NUL cannot be passed at all.
    const spawnable = (c: Case) =>
      c.argv.every((a) => !a.includes("\u0000") && Buffer.byteLength(a) < 100_000) &&
      c.argv.reduce((n, a) => n + Buffer.byteLength(a), 0) < 1_000_000;
    const sample = fc
      .sample(anyCase, { numRuns: 400, seed: 20261125 })
      .filter(spawnable)
      .slice(0, 50);
    expect(sample).toHaveLength(50);
    const started = performance.now();
    const adapters: Adapter[] = ["bun", "node"];
    for (let i = 0; i < sample.length; i += 5) {
      await Promise.all(
        sample.slice(i, i + 5).map(async (c, k) => {
          const adapter = adapters[(i + k) % 2] as Adapter;
          const [outside, inside] = [
            await runCli(c.argv, adapter, { timeoutMs: 10_000 }),
            await inProcess(c.argv),
          ];
          const context = `argv ${show(c.argv)} (${adapter}): stderr ${JSON.stringify(outside.stderr)}`;
          expect(broken({ ...outside, code: outside.code ?? "timeout" }), context).toBeUndefined();
          // Same words in and out of process (the binary's version string differs only in --version).
          expect(outside.stderr, context).toBe(inside.stderr);
        }),
      );
    }
    log(
      `${sample.length} of them through ${BINARY.replace(/.*\//, "dist/")} in ${((performance.now() - started) / 1000).toFixed(1)} s: same exit 2 and stderr line`,
    );
  }, 120_000);
});
