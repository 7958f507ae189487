/**
 * Bytes and addresses written exactly as Python's repr() writes them, so any
 * line sockdemo prints can be pasted into Python to get the same value back,
 * and no received byte ever reaches the terminal raw.
 */
import { Buffer } from "node:buffer";
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

/**
 * Python's bytes repr: single quotes, unless the bytes hold `'` and no `"`;
 * then double quotes and `'` stays unescaped (CPython `bytes_repr`).
 * Written as ASCII into a byte buffer and decoded once: servers print every
 * chunk, so this runs at network speed.
 */
export function bytesLiteral(bytes: Uint8Array): string {
  const double = bytes.includes(0x27) && !bytes.includes(0x22);
  const quote = double ? 0x22 : 0x27;
  const needed = bytes.length * 4 + 3;
  if (scratch.length < needed) scratch = Buffer.alloc(Math.max(needed, scratch.length * 2));
  const out = scratch;
  out[0] = 0x62; // b
  out[1] = quote;
  let o = 2;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    const length = ESCAPE_LENGTH[byte] as number;
    if (length === 0 || (double && byte === 0x27)) {
      out[o++] = byte;
    } else {
      const at = byte * 4;
      out[o++] = ESCAPE_CODES[at] as number;
      out[o++] = ESCAPE_CODES[at + 1] as number;
      if (length === 4) {
        out[o++] = ESCAPE_CODES[at + 2] as number;
        out[o++] = ESCAPE_CODES[at + 3] as number;
      }
    }
  }
  out[o++] = quote;
  return out.toString("latin1", 0, o);
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

const two = (n: number) => String(n).padStart(2, "0");

/**
 * Local time as `str(datetime.now())` prints it: microseconds, omitted when
 * zero. JavaScript clocks give milliseconds, so the last three digits come
 * from the monotonic clock's fraction.
 */
export function pythonNow(epochMs = performance.timeOrigin + performance.now()): string {
  const whole = Math.floor(epochMs);
  const d = new Date(whole);
  const micros = (whole % 1000) * 1000 + Math.floor((epochMs - whole) * 1000);
  const date = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
  const time = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  return micros === 0 ? `${date} ${time}` : `${date} ${time}.${String(micros).padStart(6, "0")}`;
}
