/**
 * Bytes and addresses written exactly as Python's repr() writes them, so any
 * line sockdemo prints can be pasted into Python to get the same value back,
 * and no received byte ever reaches the terminal raw.
 */
import { Buffer } from "node:buffer";
import { localOffsetMs } from "../runtime/localtime.ts";
import type { Endpoint } from "../runtime/types.ts";

/**
 * Each byte's escape as one little-endian word (up to 4 ASCII codes) and how
 * many of those bytes count, for single quotes [0] and for double quotes [1],
 * where `'` is itself. The bytes that are printed as themselves have a step
 * of 1 and their own value as the word. Built with integer arithmetic: every
 * command loads this module, and string-building here cost start-up 0.5-1 ms.
 */
const ESCAPE_WORDS = [new Uint32Array(256), new Uint32Array(256)] as const;
const ESCAPE_STEPS = [new Uint8Array(256), new Uint8Array(256)] as const;
const BACKSLASH = 0x5c;
/** The letter after the backslash for the bytes Python names (\t \n \r \\ \'), else 0. */
function namedEscape(byte: number): number {
  switch (byte) {
    case 0x09:
      return 0x74; // t
    case 0x0a:
      return 0x6e; // n
    case 0x0d:
      return 0x72; // r
    case 0x5c:
    case 0x27:
      return byte;
    default:
      return 0;
  }
}
const hexDigit = (nibble: number) => (nibble < 10 ? 0x30 + nibble : 0x57 + nibble);
for (let byte = 0; byte < 256; byte++) {
  const named = namedEscape(byte);
  let word = byte;
  let step = 1;
  if (named !== 0) {
    word = BACKSLASH | (named << 8);
    step = 2;
  } else if (byte < 0x20 || byte >= 0x7f) {
    // \xNN
    word = BACKSLASH | (0x78 << 8) | (hexDigit(byte >> 4) << 16) | (hexDigit(byte & 15) << 24);
    step = 4;
  }
  ESCAPE_WORDS[0][byte] = word >>> 0;
  ESCAPE_STEPS[0][byte] = step;
  const own = byte === 0x27;
  ESCAPE_WORDS[1][byte] = own ? byte : word >>> 0;
  ESCAPE_STEPS[1][byte] = own ? 1 : step;
}

/** The last output buffer's DataView: servers write every literal into the same one. */
let lastView: DataView | undefined;

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
  const length = bytes.length;
  // Text protocols send printable ASCII without quotes or backslashes: those bytes are their
  // own literal in either quoting (exactly the bytes single quoting leaves as they are), so
  // they are copied up to the first one that is not (a 64-byte text message: 110 -> 45 ns),
  // and only the rest goes through the table.
  const asThemselves = ESCAPE_STEPS[0];
  let i = 0;
  let o = at + 2;
  for (; i < length; i++) {
    const byte = bytes[i] as number;
    if (asThemselves[byte] !== 1) break;
    out[o++] = byte;
  }
  let quote = 0x27;
  if (i < length) {
    const double = bytes.includes(0x27, i) && !bytes.includes(0x22);
    if (double) quote = 0x22;
    const words = ESCAPE_WORDS[double ? 1 : 0];
    const steps = ESCAPE_STEPS[double ? 1 : 0];
    if (lastView?.buffer !== out.buffer) lastView = new DataView(out.buffer);
    const view = lastView;
    // Without a branch per byte: printable and escaped bytes alternate unpredictably in binary
    // data, and the mispredictions cost 4x. Every byte stores a whole word (the room for 4
    // bytes per input byte covers it); the step keeps only what belongs.
    o += out.byteOffset;
    for (; i < length; i++) {
      const byte = bytes[i] as number;
      view.setUint32(o, words[byte] as number, true);
      o += steps[byte] as number;
    }
    o -= out.byteOffset;
  }
  out[at] = 0x62; // b
  out[at + 1] = quote;
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

/**
 * A peer as lines show it: its address tuple, or `unknown` when the runtime
 * could not read the address. A client that resets before its connection is
 * accepted still had one (Python's accept() returns it), but the runtimes ask
 * getpeername() after accept, which then fails: they report "" and port 0, a
 * tuple nobody could connect to.
 */
export function peerTuple(
  endpoint: Endpoint,
  unknown = "an unknown peer (gone before its address could be read)",
): string {
  return endpoint.address === "" ? unknown : addressTuple(endpoint);
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
