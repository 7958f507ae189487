/**
 * localOffsetMs against its references. Each run is a child process with its
 * own TZ, since the module reads the zone once. Real zone files are checked
 * against ICU (Intl.DateTimeFormat's fields, exact to the second, unlike
 * getTimezoneOffset's whole minutes); POSIX TZ strings against glibc (Python's
 * time.localtime), because ICU ignores them and answers UTC; slim TZif files,
 * hand-built and from zic, against ICU for the zone whose rules they copy.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const MODULE = join(import.meta.dir, "../src/runtime/localtime.ts");
const ZONEINFO = "/usr/share/zoneinfo";
const TIMEOUT = 30_000;

/** Run fn with a fresh temporary directory, removed afterwards. */
async function inTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "localtime-test-"));
  try {
    await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Given {times?}, prints {times, ours, icu}. Without times it picks them: every
 * hour of 2024-2026, 3,000 seeded random instants 1900-2100, and around every
 * change of ICU's offset 1890-2100 (found day by day, bisected to the second).
 */
const PROBE = `
const { localOffsetMs } = await import(${JSON.stringify(MODULE)});
// Intl, not Date's getters: JavaScriptCore caches Date's offsets, and in
// Asia/Gaza whether it sees the week of DST after Ramadan 2040 (Oct 20-27)
// depends on which instants were asked before.
const format = new Intl.DateTimeFormat("en-US", { hourCycle: "h23", year: "numeric",
  month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" });
const icu = (t) => {
  const p = Object.fromEntries(format.formatToParts(t).map(({ type, value }) => [type, Number(value)]));
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(t / 1000) * 1000;
};
let { times } = JSON.parse(await Bun.stdin.text());
if (!times) {
  times = [];
  for (let t = Date.UTC(2024, 0, 1); t < Date.UTC(2027, 0, 1); t += 3_600_000) times.push(t);
  let x = 0x5eed;
  const span = Date.UTC(2100, 0, 1) - Date.UTC(1900, 0, 1);
  for (let i = 0; i < 3000; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    times.push(Date.UTC(1900, 0, 1) + Math.floor(((x >>> 0) / 2 ** 32) * span));
  }
  const step = 86_400_000;
  for (let t = Date.UTC(1890, 0, 1); t < Date.UTC(2100, 0, 1); t += step) {
    if (icu(t) === icu(t + step)) continue;
    let lo = t / 1000, hi = (t + step) / 1000;
    while (hi - lo > 1) { const mid = Math.floor((lo + hi) / 2); if (icu(mid * 1000) === icu(t)) lo = mid; else hi = mid; }
    times.push(hi * 1000 - 1000, hi * 1000 - 1, hi * 1000, hi * 1000 + 1);
  }
}
console.log(JSON.stringify({ times, ours: times.map((t) => localOffsetMs(t)), icu: times.map(icu) }));
`;

interface Probe {
  times: number[];
  ours: number[];
  icu: number[];
}

/** Run argv with TZ set (or removed, for undefined), give it stdin, bounded in time; its stdout. */
async function run(argv: string[], tz: string | undefined, stdin: string): Promise<string> {
  const env: Record<string, string | undefined> = { ...process.env, TZ: tz };
  if (tz === undefined) delete env.TZ;
  const child = Bun.spawn(argv, { env, stdin: new Blob([stdin]), stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => child.kill(), TIMEOUT - 5_000);
  const [out, err, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ]);
  clearTimeout(timer);
  expect({ argv: argv[0], tz, code, stderr: err }).toEqual({
    argv: argv[0],
    tz,
    code: 0,
    stderr: "",
  });
  return out;
}

async function probe(tz: string | undefined, times?: number[]): Promise<Probe> {
  return JSON.parse(await run([process.execPath, "-e", PROBE], tz, JSON.stringify({ times })));
}

const chosen = new Map<string, Promise<Probe>>();
/** The probe's own choice of instants under a zone, run once per zone. */
function choose(zone: string): Promise<Probe> {
  const probed = chosen.get(zone) ?? probe(zone);
  chosen.set(zone, probed);
  return probed;
}

/** glibc's offsets (ms) under TZ, through Python. */
async function glibc(tz: string, times: number[]): Promise<number[]> {
  const script =
    "import json, sys, time\n" +
    "print(json.dumps([time.localtime(t // 1000).tm_gmtoff * 1000 for t in json.load(sys.stdin)]))";
  return JSON.parse(await run(["python3", "-c", script], tz, JSON.stringify(times)));
}

/** The first few instants where the two answers differ, readable. */
function mismatches(times: number[], ours: number[], reference: number[]) {
  const found = [];
  for (let i = 0; i < times.length && found.length < 10; i++) {
    if (ours[i] !== reference[i]) {
      const at = new Date(times[i] ?? 0).toISOString();
      found.push({ at, ours: (ours[i] ?? 0) / 1000, reference: (reference[i] ?? 0) / 1000 });
    }
  }
  return found;
}

const ZONES = [
  "UTC",
  "Europe/Berlin",
  "America/New_York",
  "America/Sao_Paulo",
  "Australia/Sydney",
  "Australia/Lord_Howe", // 30-minute DST
  "Asia/Kolkata",
  "Asia/Kathmandu",
  "Pacific/Chatham", // +12:45, DST at 2:45 local
  "Pacific/Kiritimati", // +14
  "America/St_Johns",
  "Africa/Casablanca", // tabulated Ramadan changes until 2087
  "Europe/Dublin", // negative DST: winter is the "daylight" time
  "Antarctica/Troll", // +00/+02
  "America/Nuuk", // v3 footer: negative rule time (M3.5.0/-1)
  "Asia/Jerusalem", // v3 footer: rule time past 24 h (M3.4.4/26)
  "Asia/Gaza", // v3 footer: /50
];

describe("zone files against ICU", () => {
  for (const zone of ZONES) {
    const missing = !existsSync(join(ZONEINFO, zone));
    const name = missing ? `${zone} (skipped: no ${join(ZONEINFO, zone)} here)` : zone;
    test.skipIf(missing)(
      name,
      async () => {
        const { times, ours, icu } = await choose(zone);
        expect(times.length).toBeGreaterThan(28_000);
        expect(mismatches(times, ours, icu)).toEqual([]);
      },
      TIMEOUT,
    );
  }

  test.each([
    ["TZ unset (/etc/localtime)", undefined],
    ['TZ="" (UTC)', ""],
    ['TZ=":Europe/Berlin"', ":Europe/Berlin"],
  ])(
    "%s",
    async (_, tz) => {
      const { times, ours, icu } = await probe(tz);
      expect(mismatches(times, ours, icu)).toEqual([]);
    },
    TIMEOUT,
  );
});

describe("POSIX TZ strings against glibc", () => {
  // Each with a zone of like rules, whose changes pick the instants.
  const cases: [string, string][] = [
    ["EST5EDT,M3.2.0,M11.1.0", "America/New_York"],
    ["CET-1CEST,M3.5.0,M10.5.0/3", "Europe/Berlin"],
    ["<+0530>-5:30", "Asia/Kolkata"],
    ["JST-9", "Asia/Tokyo"],
    ["AEST-10AEDT,M10.1.0,M4.1.0/3", "Australia/Sydney"], // DST across the new year
    ["IST-1GMT0,M10.5.0,M3.5.0/1", "Europe/Dublin"], // negative DST
    ["<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45", "Pacific/Chatham"],
    ["<-02>2<-01>,M3.5.0/-1,M10.5.0/0", "America/Nuuk"], // negative rule time
    ["IST-2IDT,M3.4.4/26,M10.5.0", "Asia/Jerusalem"], // rule time past 24 h
    ["<-03>3<-02>,J60/1:30,300/-2", "America/Sao_Paulo"], // Jn and zero-based n, leap years
    ["NZST-12NZDT-13:00:30,M9.5.0,M4.1.0/3", "Pacific/Auckland"], // explicit DST offset with seconds
    ["EST5EDT,M3.2.0/2,M3.2.0/3", "America/New_York"], // DST of no length: never in force
  ];
  for (const [tz, like] of cases) {
    test(
      tz,
      async () => {
        // glibc computes POSIX rules for years before 1971 as if for 1970 (compute_change in tzset.c).
        const times = (await choose(like)).times.filter((t) => t >= Date.UTC(1971, 0, 1));
        const { ours } = await probe(tz, times);
        expect(mismatches(times, ours, await glibc(tz, times))).toEqual([]);
      },
      TIMEOUT,
    );
  }
});

test(
  "DST all year (RFC 8536 §3.3.1), where glibc gives each year's first hours to standard time",
  async () => {
    const times = (await choose("America/New_York")).times;
    const { ours } = await probe("EST5EDT,0/0,J365/25", times);
    const edt = times.map(() => -4 * 3_600_000);
    expect(mismatches(times, ours, edt)).toEqual([]);
  },
  TIMEOUT,
);

describe("zone files against glibc", () => {
  for (const zone of ["Europe/Berlin", "Australia/Lord_Howe", "America/St_Johns"]) {
    const missing = !existsSync(join(ZONEINFO, zone));
    test.skipIf(missing)(
      missing ? `${zone} (skipped: no ${join(ZONEINFO, zone)} here)` : zone,
      async () => {
        const { times, ours } = await choose(zone);
        expect(mismatches(times, ours, await glibc(zone, times))).toEqual([]);
      },
      TIMEOUT,
    );
  }
});

/** A version 2 TZif file as zic -b slim writes it: an empty 32-bit block, then the 64-bit data and footer. */
function tzif(types: [number, string][], transitions: [Date, number][], footer: string) {
  const chars = `${types.map(([, abbr]) => abbr).join("\0")}\0`;
  const header = (timecnt: number, typecnt: number, charcnt: number) => {
    const bytes = new Uint8Array(44);
    const view = new DataView(bytes.buffer);
    bytes.set([0x54, 0x5a, 0x69, 0x66, 0x32]); // "TZif2"
    for (const [i, n] of [0, 0, 0, timecnt, typecnt, charcnt].entries()) {
      view.setUint32(20 + 4 * i, n);
    }
    return bytes;
  };
  const data = new DataView(new ArrayBuffer(transitions.length * 9 + types.length * 6));
  transitions.forEach(([at, type], i) => {
    data.setBigInt64(i * 8, BigInt(at.getTime() / 1000));
    data.setUint8(transitions.length * 8 + i, type);
  });
  let abbr = 0;
  types.forEach(([utoff, name], i) => {
    const at = transitions.length * 9 + i * 6;
    data.setInt32(at, utoff);
    data.setUint8(at + 4, i > 0 && utoff > (types[0]?.[0] ?? 0) ? 1 : 0);
    data.setUint8(at + 5, abbr);
    abbr += name.length + 1;
  });
  return Buffer.concat([
    header(0, 1, 1),
    new Uint8Array(7),
    header(transitions.length, types.length, chars.length),
    new Uint8Array(data.buffer),
    Buffer.from(`${chars}\n${footer}\n`),
  ]);
}

/** Our answers under the file at path against ICU's for the zone it copies, from `since` on. */
async function compareFile(path: string, like: string, since: number, until = Infinity) {
  const chosen = await choose(like);
  const times = chosen.times.filter((t) => t >= since && t < until);
  const icu = chosen.icu.filter(
    (_, i) => (chosen.times[i] ?? 0) >= since && (chosen.times[i] ?? 0) < until,
  );
  const { ours } = await probe(path, times);
  expect(times.length).toBeGreaterThan(27_000);
  expect(mismatches(times, ours, icu)).toEqual([]);
}

describe("slim and old TZif files", () => {
  const berlin = "CET-1CEST,M3.5.0,M10.5.0/3";
  const cet: [number, string] = [3600, "CET"];
  const cest: [number, string] = [7200, "CEST"];

  test(
    "hand-built slim Berlin: two transitions, then the footer",
    () =>
      inTemp(async (dir) => {
        const path = join(dir, "slim-berlin");
        const march: [Date, number] = [new Date("1996-03-31T01:00:00Z"), 1];
        const october: [Date, number] = [new Date("1996-10-27T01:00:00Z"), 0];
        writeFileSync(path, tzif([cet, cest], [march, october], berlin));
        await compareFile(path, "Europe/Berlin", Date.UTC(1996, 0, 1));
      }),
    TIMEOUT,
  );

  test(
    "hand-built slim Sydney: DST across the new year",
    () =>
      inTemp(async (dir) => {
        const path = join(dir, "slim-sydney");
        const types: [number, string][] = [
          [39600, "AEDT"],
          [36000, "AEST"],
        ];
        const april: [Date, number] = [new Date("2008-04-05T16:00:00Z"), 1];
        writeFileSync(path, tzif(types, [april], "AEST-10AEDT,M10.1.0,M4.1.0/3"));
        await compareFile(path, "Australia/Sydney", Date.UTC(2008, 0, 1));
      }),
    TIMEOUT,
  );

  test(
    "hand-built footer-only file",
    () =>
      inTemp(async (dir) => {
        const path = join(dir, "footer-only");
        writeFileSync(path, tzif([cet], [], berlin));
        await compareFile(path, "Europe/Berlin", Date.UTC(1996, 0, 1));
      }),
    TIMEOUT,
  );

  const zic = Bun.which("zic");
  test.skipIf(!zic)(
    zic ? "zic -b slim output" : "zic -b slim output (skipped: no zic here)",
    () =>
      inTemp(async (dir) => {
        // Germany's rules since 1981, the EU's.
        const source = join(dir, "eu.zi");
        writeFileSync(
          source,
          [
            "Rule EU 1981 max - Mar lastSun 1:00u 1:00 S",
            "Rule EU 1979 1995 - Sep lastSun 1:00u 0 -",
            "Rule EU 1996 max - Oct lastSun 1:00u 0 -",
            "Zone Test/Berlin 1:00 EU CE%sT",
            "",
          ].join("\n"),
        );
        await run([zic ?? "zic", "-b", "slim", "-d", dir, source], undefined, "");
        await compareFile(join(dir, "Test/Berlin"), "Europe/Berlin", Date.UTC(1981, 0, 1));
      }),
    TIMEOUT,
  );

  const newYork = join(ZONEINFO, "America/New_York");
  test.skipIf(!existsSync(newYork))(
    "version 1: a real file relabelled, read through its 32-bit block",
    () =>
      inTemp(async (dir) => {
        const bytes = readFileSync(newYork);
        bytes[4] = 0;
        const path = join(dir, "v1-new-york");
        writeFileSync(path, bytes);
        // 32-bit times reach 1901-2038, and version 1 has no footer for after the last transition.
        await compareFile(path, "America/New_York", Date.UTC(1902, 0, 1), Date.UTC(2037, 0, 1));
      }),
    TIMEOUT,
  );
});

describe("falls back to Date, without throwing", () => {
  test(
    "unusable zones answer as ICU does",
    () =>
      inTemp(async (dir) => {
        const garbage = join(dir, "garbage");
        writeFileSync(garbage, "TZif2 but not really, just some bytes".repeat(10));
        const truncated = join(dir, "truncated");
        if (existsSync(join(ZONEINFO, "Europe/Berlin"))) {
          writeFileSync(truncated, readFileSync(join(ZONEINFO, "Europe/Berlin")).subarray(0, 300));
        }
        const empty = join(dir, "empty");
        writeFileSync(empty, "");
        const times = [
          Date.UTC(1950, 5, 1),
          Date.UTC(2025, 0, 1),
          Date.UTC(2025, 6, 1),
          Date.now(),
        ];
        for (const tz of [
          "Nowhere/Nope",
          garbage,
          truncated,
          empty,
          "../../../../etc/passwd",
          "Europe/../Europe/Berlin",
          "EST5EDT,M13.2.0,M11.1.0", // no month 13
          "X", // POSIX names have three letters or more
        ]) {
          // probe fails the test if the child throws (exit code, stderr).
          const { ours, icu } = await probe(tz, times);
          expect({ tz, ours }).toEqual({ tz, ours: icu });
        }
      }),
    TIMEOUT,
  );

  const deno = Bun.which("deno", {
    PATH: `${join(import.meta.dir, "../node_modules/.bin")}:${process.env.PATH}`,
  });
  test.skipIf(!deno)(
    deno ? "on Deno, without --allow-read" : "on Deno (skipped: no deno here)",
    () =>
      inTemp(async (dir) => {
        const script = join(dir, "deno-probe.ts");
        writeFileSync(
          script,
          `import { localOffsetMs } from ${JSON.stringify(`file://${MODULE}`)};\n` +
            "const t = Date.UTC(2025, 6, 1);\n" +
            "console.log(JSON.stringify([localOffsetMs(t), -new Date(t).getTimezoneOffset() * 60000]));\n",
        );
        const out = await run([deno ?? "deno", "run", "--no-prompt", script], "Europe/Berlin", "");
        expect(JSON.parse(out)).toEqual([7_200_000, 7_200_000]);
      }),
    TIMEOUT,
  );
});
