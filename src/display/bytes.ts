/**
 * Bytes and addresses written exactly as Python's repr() writes them, so any
 * line sockdemo prints can be pasted into Python to get the same value back,
 * and no received byte ever reaches the terminal raw.
 */
import type { Endpoint } from "../runtime/types.ts";

/** repr() of every byte value when the literal is quoted with `'`; index 0x27 differs for `"`. */
const ESCAPED: string[] = Array.from({ length: 256 }, (_, byte) => {
  if (byte === 0x5c) return "\\\\";
  if (byte === 0x27) return "\\'";
  if (byte === 0x09) return "\\t";
  if (byte === 0x0a) return "\\n";
  if (byte === 0x0d) return "\\r";
  if (byte < 0x20 || byte >= 0x7f) return `\\x${byte.toString(16).padStart(2, "0")}`;
  return String.fromCharCode(byte);
});

/**
 * Python's bytes repr: single quotes, unless the bytes hold `'` and no `"`;
 * then double quotes and `'` stays unescaped (CPython `bytes_repr`).
 */
export function bytesLiteral(bytes: Uint8Array): string {
  const double = bytes.includes(0x27) && !bytes.includes(0x22);
  const quote = double ? '"' : "'";
  let body = "";
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    body += double && byte === 0x27 ? "'" : ESCAPED[byte];
  }
  return `b${quote}${body}${quote}`;
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
