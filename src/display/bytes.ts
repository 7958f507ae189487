/**
 * Bytes and addresses written exactly as Python's repr() writes them, so any
 * line sockdemo prints can be pasted into Python to get the same value back,
 * and no received byte ever reaches the terminal raw.
 */
import { Buffer } from "node:buffer";
import { localOffsetMs } from "../runtime/localtime.ts";
import type { Endpoint } from "../runtime/types.ts";

/** The escape sequence for each byte when quoted with `'`: its length (0 = the byte itself) and up to 4 ASCII codes. */
const ESCAPE_LENGTH = new Uint8Array(256);
const ESCAPE_CODES = new Uint8Array(256 * 4);
for (let byte = 0; byte < 256; byte++) {
  let sequence = "";
  if (byte === 0x5c) sequence = "\\\\";
  else if (byte === 0x27) sequence = "\\'";
  else if (byte === 0x09) sequence = "\\t";
  else if (byte === 0x0a) sequence = "\\n";
  else if (byte === 0x0d) sequence = "\\r";
  else if (byte < 0x20 || byte >= 0x7f) sequence = `\\x${byte.toString(16).padStart(2, "0")}`;
  ESCAPE_LENGTH[byte] = sequence.length;
  for (let k = 0; k < sequence.length; k++) ESCAPE_CODES[byte * 4 + k] = sequence.charCodeAt(k);
}

/** Reused between calls: servers render every chunk, so allocating per call costs more than the loop. */
let scratch = Buffer.alloc(4096);

/** The most bytes `writeBytesLiteral` writes for `length` input bytes. */
export const literalLengthLimit = (length: number): number => length * 4 + 3;

/**
 * Python's bytes repr: single quotes, unless the bytes hold `'` and no `"`;
 * then double quotes and `'` stays unescaped (CPython `bytes_repr`).
 * Written as ASCII straight into `out` at `at` (which must have room for
 * `literalLengthLimit(bytes.length)`), returning the end: servers print every
 * chunk, so this runs at network speed and builds no string.
 */
export function writeBytesLiteral(out: Uint8Array, at: number, bytes: Uint8Array): number {
  const double = bytes.includes(0x27) && !bytes.includes(0x22);
  const quote = double ? 0x22 : 0x27;
  out[at] = 0x62; // b
  out[at + 1] = quote;
  let o = at + 2;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    const length = ESCAPE_LENGTH[byte] as number;
    if (length === 0 || (double && byte === 0x27)) {
      out[o++] = byte;
    } else {
      const code = byte * 4;
      out[o++] = ESCAPE_CODES[code] as number;
      out[o++] = ESCAPE_CODES[code + 1] as number;
      if (length === 4) {
        out[o++] = ESCAPE_CODES[code + 2] as number;
        out[o++] = ESCAPE_CODES[code + 3] as number;
      }
    }
  }
  out[o++] = quote;
  return o;
}

/** Python's repr() of `bytes` as a string (`b'Hello UDP'`). */
export function bytesLiteral(bytes: Uint8Array): string {
  const needed = literalLengthLimit(bytes.length);
  if (scratch.length < needed) scratch = Buffer.alloc(Math.max(needed, scratch.length * 2));
  return scratch.toString("latin1", 0, writeBytesLiteral(scratch, 0, bytes));
}

/** Python's repr() of a socket address tuple: `('127.0.0.1', 50000)`, `('::1', 50000, 0, 0)` for IPv6. */
export function addressTuple(endpoint: Endpoint): string {
  const host = `'${endpoint.address}'`;
  return endpoint.family === "IPv6"
    ? `(${host}, ${endpoint.port}, 0, 0)`
    : `(${host}, ${endpoint.port})`;
}

/** `host:port`, with brackets around IPv6 addresses as in URLs. */
export function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

const two = (n: number) => (n < 10 ? `0${n}` : `${n}`);

/** The last whole second rendered: a server stamps every datagram, mostly within the same second. */
let cachedSecond = Number.NaN;
let cachedText = "";
const cachedBytes = new Uint8Array(32);

/** `YYYY-MM-DD HH:MM:SS` of the local time in `second` (epoch seconds), cached. */
function secondText(second: number, epochMs: number): string {
  if (second !== cachedSecond) {
    // Zone offsets change only on whole seconds, so one offset holds for the whole second.
    const d = new Date(second * 1000 + localOffsetMs(epochMs));
    const date = `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())}`;
    cachedText = `${date} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
    for (let i = 0; i < cachedText.length; i++) cachedBytes[i] = cachedText.charCodeAt(i);
    cachedSecond = second;
  }
  return cachedText;
}

/** Microseconds within the second: JavaScript clocks give milliseconds, the monotonic clock's fraction the rest. */
function microsOf(epochMs: number, whole: number, second: number): number {
  return (whole - second * 1000) * 1000 + Math.floor((epochMs - whole) * 1000);
}

/**
 * Local time as `str(datetime.now())` prints it: microseconds, omitted when
 * zero. JavaScript clocks give milliseconds, so the last three digits come
 * from the monotonic clock's fraction. The UTC offset comes from the zone
 * file (localOffsetMs), not from Date's local-time methods, whose first call
 * costs a one-shot client ~4 ms of ICU set-up.
 */
export function pythonNow(epochMs = performance.timeOrigin + performance.now()): string {
  const whole = Math.floor(epochMs);
  const second = Math.floor(whole / 1000);
  const text = secondText(second, whole);
  const micros = microsOf(epochMs, whole, second);
  return micros === 0 ? text : `${text}.${String(micros).padStart(6, "0")}`;
}

/** The most bytes `writePythonNow` writes (a five-digit year would still fit). */
export const PYTHON_NOW_LIMIT = 32;

/**
 * pythonNow(epochMs) written as ASCII into `out` at `at` (room for
 * PYTHON_NOW_LIMIT bytes), returning the end: the UDP server stamps every
 * datagram, and this builds no string.
 */
export function writePythonNow(out: Uint8Array, at: number, epochMs: number): number {
  const whole = Math.floor(epochMs);
  const second = Math.floor(whole / 1000);
  const length = secondText(second, whole).length;
  let o = at;
  for (let i = 0; i < length; i++) out[o++] = cachedBytes[i] as number;
  let micros = microsOf(epochMs, whole, second);
  if (micros === 0) return o;
  out[o] = 0x2e; // .
  for (let i = 6; i >= 1; i--) {
    out[o + i] = 0x30 + (micros % 10);
    micros = Math.floor(micros / 10);
  }
  return o + 7;
}
