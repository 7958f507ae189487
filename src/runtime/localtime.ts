/**
 * The local UTC offset without ICU.
 *
 * In a compiled Bun binary the first local-time call on a Date costs about
 * 4 ms of ICU time-zone set-up, a quarter of the one-shot client's start-up
 * budget. The offset is all we need, so we read the zone the way glibc does:
 * the TZif file (RFC 8536) named by TZ or /etc/localtime, or a POSIX TZ
 * string. Whatever we cannot read or parse falls back to Date, which is
 * correct, only slower to start.
 */
import { readFileSync } from "node:fs";
import { env } from "./env.ts";

/** A POSIX TZ rule's date: the local calendar day of a year, as days since 1970-01-01. */
type DayOfYear = (year: number) => number;

interface Change {
  day: DayOfYear;
  /** Local time of day, in seconds; may be negative or beyond 24 h (RFC 8536 §3.3.1). */
  time: number;
}

/** A POSIX TZ string; offsets in seconds east of UTC. */
interface Posix {
  std: number;
  dst?: { offset: number; start: Change; end: Change };
}

interface Zone {
  /** Transition instants in ms, ascending; offsets[i] (ms) holds from times[i]. */
  times: number[];
  offsets: number[];
  /** Before the first transition: time type 0 (RFC 8536 §3.2). */
  initial: number;
  /** After the last transition. */
  footer?: Posix;
}

interface Span {
  offset: number;
  start: number;
  end: number;
}

const DAY_MS = 86_400_000;
/** The largest |time value| a Date holds; beyond it Date answers NaN, and so do we. */
const MAX_DATE_MS = 8.64e15;

const utcDay = (year: number, month: number, day: number) =>
  new Date(0).setUTCFullYear(year, month, day) / DAY_MS;

// POSIX TZ: std offset [dst [offset] [,start[/time],end[/time]]], as in a TZif footer.
const NAME = "(?:[A-Za-z]{3,}|<[A-Za-z0-9+-]{3,}>)";
const CLOCK = "([+-]?\\d{1,3}(?::\\d{1,2}){0,2})";
const DATE = `(J\\d{1,3}|\\d{1,3}|M\\d{1,2}\\.\\d\\.\\d)(?:/${CLOCK})?`;
const POSIX = new RegExp(`^${NAME}${CLOCK}(?:(${NAME})${CLOCK}?(?:,${DATE},${DATE})?)?$`);

/** "[+-]hh[:mm[:ss]]" in seconds, or NaN when a field is out of range. */
function clock(text: string, maxHours: number): number {
  const sign = text.startsWith("-") ? -1 : 1;
  const [h = 0, m = 0, s = 0] = text.replace(/^[+-]/, "").split(":").map(Number);
  return h > maxHours || m > 59 || s > 59 ? Number.NaN : sign * (h * 3600 + m * 60 + s);
}

function dayRule(text: string): DayOfYear | undefined {
  if (text.startsWith("M")) {
    const [month = 0, week = 0, weekday = 0] = text.slice(1).split(".").map(Number);
    if (month < 1 || month > 12 || week < 1 || week > 5 || weekday > 6) return undefined;
    return (year) => {
      const first = utcDay(year, month - 1, 1);
      // 1970-01-01 was a Thursday (weekday 4).
      const day = first + ((((weekday - first - 4) % 7) + 7) % 7) + (week - 1) * 7;
      // Week 5 means the last such weekday, which may be in week 4.
      return day < utcDay(year, month, 1) ? day : day - 7;
    };
  }
  if (text.startsWith("J")) {
    const n = Number(text.slice(1));
    if (n < 1 || n > 365) return undefined;
    // Jn never counts February 29, so it is the same month and day every year: a common year's.
    const date = new Date(Date.UTC(2001, 0, n));
    return (year) => utcDay(year, date.getUTCMonth(), date.getUTCDate());
  }
  const n = Number(text);
  return n > 365 ? undefined : (year) => utcDay(year, 0, 1 + n);
}

function change(date: string, time: string | undefined): Change | undefined {
  const day = dayRule(date);
  const seconds = time === undefined ? 7200 : clock(time, 167);
  return day && !Number.isNaN(seconds) ? { day, time: seconds } : undefined;
}

function parsePosix(text: string): Posix | undefined {
  const m = POSIX.exec(text);
  if (!m) return undefined;
  const [, stdClock = "", dstName, dstClock, startDate, startTime, endDate, endTime] = m;
  // POSIX counts hours west of UTC; "0 -" rather than "-" keeps UTC at +0, not -0.
  const std = 0 - clock(stdClock, 24);
  if (Number.isNaN(std)) return undefined;
  if (dstName === undefined) return { std };
  const offset = dstClock === undefined ? std + 3600 : 0 - clock(dstClock, 24);
  // A DST name without rules gets glibc's default rules, the US ones.
  const start = change(startDate ?? "M3.2.0", startTime);
  const end = change(endDate ?? "M11.1.0", endTime);
  if (!start || !end || Number.isNaN(offset)) return undefined;
  return { std, dst: { offset, start, end } };
}

/** The offset at t (ms) under a POSIX TZ, and the span it holds for. */
function posixSpan(tz: Posix, t: number): Span {
  const { std, dst } = tz;
  if (!dst) return { offset: std * 1000, start: -Infinity, end: Infinity };
  const at = (c: Change, year: number, before: number) =>
    (c.day(year) * 86_400 + c.time - before) * 1000;
  // Rule times can push a change days away from its year, so take the years around t too.
  // The stable sort settles ties by this order: a start and end at the same instant
  // leave standard time (as glibc does), while an end that meets the next year's
  // start leaves DST all year (RFC 8536 §3.3.1).
  const year = new Date(t).getUTCFullYear();
  const changes: [number, number][] = [];
  for (let y = year - 2; y <= year + 2; y++) {
    changes.push([at(dst.start, y, std), dst.offset], [at(dst.end, y, dst.offset), std]);
  }
  changes.sort((a, b) => a[0] - b[0]);
  const span: Span = { offset: std * 1000, start: -Infinity, end: Infinity };
  for (const [instant, offset] of changes) {
    if (instant > t) {
      span.end = instant;
      break;
    }
    span.start = instant;
    span.offset = offset * 1000;
  }
  return span;
}

function parseTzif(bytes: Uint8Array): Zone | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header = (at: number) =>
    view.getUint32(at) !== 0x545a6966 // "TZif"
      ? undefined
      : {
          isut: view.getUint32(at + 20),
          isstd: view.getUint32(at + 24),
          leap: view.getUint32(at + 28),
          timecnt: view.getUint32(at + 32),
          typecnt: view.getUint32(at + 36),
          chars: view.getUint32(at + 40),
        };
  let counts = header(0);
  let at = 44;
  const v2 = (bytes[4] ?? 0) >= 0x32;
  if (counts && v2) {
    // Skip the 32-bit block for the 64-bit one after it.
    const { isut, isstd, leap, timecnt, typecnt, chars } = counts;
    at += timecnt * 5 + typecnt * 6 + chars + leap * 8 + isstd + isut;
    counts = header(at);
    at += 44;
  }
  // Leap-second ("right/") zones count seconds that JavaScript time does not: leave them to Date.
  if (!counts || counts.leap > 0 || counts.typecnt === 0) return undefined;
  const { isut, isstd, timecnt, typecnt, chars } = counts;
  const indices = at + timecnt * (v2 ? 8 : 4);
  const types = indices + timecnt;
  const end = types + typecnt * 6 + chars + isstd + isut;
  if (end > bytes.length) return undefined;
  const utoff = (type: number) => {
    const seconds = view.getInt32(types + type * 6);
    // RFC 8536 §3.2's range; anything else means a damaged file (see the catch in localOffsetMs).
    if (type >= typecnt || seconds < -89_999 || seconds > 93_599) throw new RangeError("utoff");
    return seconds * 1000;
  };
  const zone: Zone = { times: [], offsets: [], initial: utoff(0) };
  for (let i = 0; i < timecnt; i++) {
    // Two 32-bit halves rather than a BigInt: exact for every time a Date can hold.
    const seconds = v2
      ? view.getInt32(at + i * 8) * 2 ** 32 + view.getUint32(at + i * 8 + 4)
      : view.getInt32(at + i * 4);
    if (seconds * 1000 <= (zone.times[i - 1] ?? -Infinity)) return undefined;
    zone.times.push(seconds * 1000);
    zone.offsets.push(utoff(bytes[indices + i] ?? typecnt));
  }
  if (v2) {
    // The footer: a POSIX TZ string between newlines, empty when there is none.
    const newline = bytes.indexOf(0x0a, end + 1);
    if (bytes[end] !== 0x0a || newline < 0) return undefined;
    if (newline > end + 1) {
      zone.footer = parsePosix(new TextDecoder().decode(bytes.subarray(end + 1, newline)));
      if (!zone.footer) return undefined;
    }
  }
  return zone;
}

function zoneSpan(zone: Zone, t: number): Span {
  const { times, offsets } = zone;
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((times[mid] ?? 0) <= t) lo = mid + 1;
    else hi = mid;
  }
  // times[lo - 1] <= t < times[lo]
  const start = times[lo - 1] ?? -Infinity;
  if (lo === times.length && zone.footer) {
    const span = posixSpan(zone.footer, t);
    span.start = Math.max(span.start, start);
    return span;
  }
  return { offset: offsets[lo - 1] ?? zone.initial, start, end: times[lo] ?? Infinity };
}

const UTC: Zone = { times: [], offsets: [], initial: 0 };

/** The zone as glibc would find it; null where only Date can tell. */
function loadZone(): Zone | null {
  // Deno reads files only with --allow-read, which sockdemo does not ask for.
  if ("Deno" in globalThis) return null;
  // Bun reads an empty TZ as undefined but still lists it.
  const tz = env.TZ ?? (Object.prototype.propertyIsEnumerable.call(env, "TZ") ? "" : undefined);
  if (tz === "") return UTC;
  const name = tz?.replace(/^:/, "") || "/etc/localtime";
  const absolute = name.startsWith("/");
  if (!absolute && name.split("/").includes("..")) return null;
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(absolute ? name : `${env.TZDIR || "/usr/share/zoneinfo"}/${name}`);
  } catch {
    // No such zone file: TZ may be a POSIX TZ string instead.
    const footer = tz === undefined ? undefined : parsePosix(name);
    return footer ? { ...UTC, footer } : null;
  }
  return parseTzif(bytes) ?? null;
}

/** undefined until the first call; null: ask Date. */
let zone: Zone | null | undefined;
// The last answer and the span [from, until) it holds for: most calls fall inside it.
let from = 0;
let until = 0;
let offset = 0;

/** Offset of local time from UTC, in milliseconds (east positive, e.g. +3_600_000 for CET), at the instant `epochMs`. */
export function localOffsetMs(epochMs: number): number {
  if (epochMs >= from && epochMs < until) return offset;
  if (zone === undefined) {
    try {
      zone = loadZone();
    } catch {
      // A truncated or damaged file reads out of bounds (DataView throws RangeError).
      zone = null;
    }
  }
  if (zone === null || !(Math.abs(epochMs) <= MAX_DATE_MS)) {
    // "0 -" rather than "-" keeps UTC at +0, not -0.
    return 0 - new Date(epochMs).getTimezoneOffset() * 60_000;
  }
  const span = zoneSpan(zone, epochMs);
  from = span.start;
  until = span.end;
  offset = span.offset;
  return offset;
}
